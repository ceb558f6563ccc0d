//! `unanswered_requests` — the hang past the door: the server accepts, reads
//! the request and never answers (a deadlocked handler, a lock-order
//! inversion, an exhausted pool, a handler waiting on an upstream, a channel
//! nobody feeds). The accept queue drains and nothing is unread, so the
//! door-side detectors see a healthy server.
//!
//! Kernel facts, per accepted connection of a listener (sock_diag tcp_info
//! in both snapshots): the client sent bytes (`bytes_received` > 0), the
//! server consumed them (receive queue empty, or only the FIN of a client
//! that gave up), and the server has sent nothing since they arrived —
//! nothing ever (`bytes_sent` 0), or, on a connection it answered before,
//! its last send is older than the client's last data (on loopback a
//! request and the handshake, or an answer and the next request, tie to the
//! jiffy: byte counters, not timestamps, tell answered from never answered,
//! and in a tie the side that sent more data segments spoke last) — with
//! neither counter
//! moving across the interval and `last_data_recv` at least
//! `--answer-timeout` (10 s) old. That must hold for two connections or
//! more: one slow request is not a finding.
//!
//! Healthy twins, and the rule that keeps each silent:
//! - Long polling (a request held until an event), Redis clients blocked in
//!   `BLPOP`, a database backend waiting on a lock while others query: the
//!   waiting connections look exactly like unanswered ones, so the finding
//!   needs *no progress*: no connection of the listener got a byte of answer
//!   during the interval (bytes_acked / bytes_sent grew), none accepted
//!   during the interval was answered, none was sent anything after the
//!   newest waiting request arrived (its `last_data_sent`: while all of
//!   them waited), and the server closed none (no new server-side
//!   TIME-WAIT / FIN-WAIT on the port). A service that serves anyone is
//!   silent.
//! - A process-per-connection database running long queries (analytics):
//!   a connection whose only holder holds no other connection and ran
//!   during the interval (CPU time grew, or running / in disk wait now) is
//!   being worked on, not stuck. A backend waiting on a lock sleeps
//!   without running; its title (PostgreSQL: "… SELECT waiting") is shown,
//!   and those of the listener's other connections (the lock holder's
//!   "… idle in transaction").
//! - Server-sent events and websockets that stream: the server spoke last;
//!   not waiting, and their sends are progress.
//! - Database clients idle between queries and idle keep-alive connections:
//!   the server answered the last request (its last send is newer than the
//!   client's last data): not waiting.
//! - One-way streams (syslog over TCP, metrics, log shippers): the server
//!   never answers by design. Such a connection received data on several
//!   occasions (`data_segs_in` >= 2) spread over more than 2 s of its life
//!   (for a connection never sent to, `last_data_sent` counts from its
//!   handshake): a stream, not a request waiting for its answer.
//! - An idle long-poll or BLPOP server with only waiting clients is
//!   silent when other connections idle after being answered outnumber the
//!   waiting ones, and never critical without new requests going unanswered.
//!
//! Severity: critical when nothing progressed and connections accepted
//! during the interval carry unanswered requests too (the service as a
//! whole makes no progress and still takes work in); warning when nothing
//! progressed and the unanswered connections are most of the listener's
//! connections. The evidence says what the accepting process's threads wait
//! in (`waits.rs`): a lock, an upstream (which one), a DNS lookup, a full
//! pipe (whose reader), a peer that stopped reading.

mod judge;
mod words;

use crate::Ctx;
use unwedge_model::Finding;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for j in judge::judge(ctx) {
        let words = words::words(ctx, &j);
        out.push(ctx.finding(j.verdict, words));
    }
}
