//! `accept_stalled` — a listener whose owner stopped calling accept():
//! connections wait in its queue and are never served, and no log line
//! appears because no handler ever sees them (story 3 of FIELD-NOTES).
//!
//! Kernel facts: a completed but unaccepted connection is listed by
//! sock_diag as ESTABLISHED (or CLOSE-WAIT once the client gives up) with
//! inode 0, on the listener's port. The accept queue is FIFO, so if every
//! connection that was queued in the first snapshot is still queued in the
//! second, the owner accepted nothing in between. False alarms avoided: a
//! busy server with a queue that is never empty still drains its oldest
//! entries, and a busy loop that accepts one connection per round drains
//! some, so neither matches.
//!
//! The finding names the process that accepts (`Index::accepting`), not a
//! pre-fork master that only holds the socket, and says what this host
//! shows about it (its threads' states and syscalls, an fd limit reached,
//! a stop, requests it read and never answered) rather than typical causes.

use crate::facts::index::endpoint;
use crate::facts::queues::{accept_facts, stalled, waiting_evidence, Stalled};
use crate::Ctx;
use unwedge_model::evidence::AcceptStalled;
use unwedge_model::{Finding, Severity};

/// Every stalled listener; where its slots idle in keep-alive, the second
/// pass keeps the more specific `keepalive_starvation` instead.
pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for st in stalled(ctx) {
        out.push(finding(ctx, &st));
    }
}

fn finding(ctx: &Ctx, st: &Stalled) -> Finding {
    let l = st.listener;
    let addr = endpoint(l.local, l.local_port);
    let who = st.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "an unknown process".into());
    let n = st.waiting.len();
    let facts = accept_facts(ctx, l, &st.owners, &st.accepting);
    let ev = AcceptStalled {
        listen: addr.clone(),
        queued: l.recv_q,
        backlog: l.send_q,
        waiting_whole_interval: n,
        waiting: waiting_evidence(st),
        accepted_during_interval: 0,
        established_connections_held: ctx.last.accepted_by(l, &st.owners).len(),
        owners: st.owners.clone(),
        accepting: st.accepting.clone(),
        accepting_threads: facts.threads.clone(),
    };
    let mut f = ctx.finding(Severity::Critical, st.pid, Some(l.local_port), l.netns, ev);
    f.title =
        format!("{who} accepted none of the {n} connections waiting on {addr} for {}", crate::secs(ctx.interval_ms));
    f.explanation = format!(
        "{n} clients completed the TCP handshake with {addr} (the kernel does that alone) and wait in the accept queue, but {who} accepted none of them during the {} between the two snapshots. To those clients the server looks up yet never answers: they time out, and the application logs nothing because no handler ever saw them.{}",
        crate::secs(ctx.interval_ms),
        facts.because(ctx, &who)
    );
    f.fix = facts.fix(ctx, &who, st.pid);
    f
}
