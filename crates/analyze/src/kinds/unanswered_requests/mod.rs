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

use crate::facts::index::{endpoint, FastMap, FastSet};
use crate::facts::requests::{awaits_answer, sent, MIN_UNANSWERED};
use crate::facts::waits::{self, Dominant};
use crate::{secs, Ctx};
use std::net::IpAddr;
use unwedge_model::evidence::{UnansweredRequests, WaitingRequest};
use unwedge_model::{Finding, Severity, Socket, TcpState};

/// A send this much newer than the oldest waiting request is progress
/// (timestamps are in jiffies: a tie is no proof either way).
const PROGRESS_SLACK_MS: u32 = 1000;
const SHOWN: usize = 5;

fn candidate(s: &Socket, timeout_ms: u32) -> bool {
    s.inode != 0 && awaits_answer(s) && s.info.is_some_and(|i| i.last_data_recv_ms >= timeout_ms)
}

type Key = (u64, u16);
type Tuple = (IpAddr, u16, IpAddr, u16);

fn tuple(s: &Socket) -> Tuple {
    (s.local, s.local_port, s.remote, s.remote_port)
}

/// Server-side sockets the application closed (TIME-WAIT and the FIN states).
fn closed_by_server(s: &Socket) -> bool {
    matches!(
        s.state,
        TcpState::TimeWait | TcpState::FinWait1 | TcpState::FinWait2 | TcpState::LastAck | TcpState::Closing
    )
}

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(first) = &ctx.first else { return };
    let timeout = ctx.t.answer_timeout_ms;
    // First pass: listeners with at least two candidates. Nearly every
    // socket of a busy host fails `candidate` on its first test.
    let mut count: FastMap<Key, usize> = FastMap::default();
    for s in &ctx.snap().sockets {
        if matches!(s.state, TcpState::Established | TcpState::CloseWait)
            && candidate(s, timeout)
            && ctx.last.is_served(s)
        {
            *count.entry((s.netns, s.local_port)).or_default() += 1;
        }
    }
    count.retain(|_, n| *n >= MIN_UNANSWERED);
    if count.is_empty() {
        return;
    }
    let mut conns: FastMap<Key, Vec<&Socket>> = FastMap::default();
    let mut closed_now: FastMap<Key, Vec<Tuple>> = FastMap::default();
    for s in &ctx.snap().sockets {
        let key = (s.netns, s.local_port);
        if !count.contains_key(&key) {
            continue;
        }
        if s.inode != 0 && matches!(s.state, TcpState::Established | TcpState::CloseWait) {
            conns.entry(key).or_default().push(s);
        } else if s.inode == 0 && closed_by_server(s) {
            closed_now.entry(key).or_default().push(tuple(s));
        }
    }
    let mut closed_before: FastSet<(Key, Tuple)> = FastSet::default();
    for s in &first.snap.sockets {
        let key = (s.netns, s.local_port);
        if s.inode == 0 && closed_by_server(s) && count.contains_key(&key) {
            closed_before.insert((key, tuple(s)));
        }
    }
    let mut keys: Vec<Key> = count.keys().copied().collect();
    keys.sort();
    for key in keys {
        let list = conns.remove(&key).unwrap_or_default();
        let closed =
            closed_now.get(&key).map_or(0, |v| v.iter().filter(|t| !closed_before.contains(&(key, **t))).count());
        if let Some(f) = judge(ctx, key, &list, closed) {
            out.push(f);
        }
    }
}

fn judge(ctx: &Ctx, key: Key, list: &[&Socket], closed_during: usize) -> Option<Finding> {
    let first = ctx.first.as_ref()?;
    let timeout = ctx.t.answer_timeout_ms;
    let before = |s: &Socket| first.socket(s.inode).filter(|b| tuple(b) == tuple(s));
    // Unanswered across the whole interval: no counter moved.
    let stuck: Vec<&Socket> = list
        .iter()
        .copied()
        .filter(|s| candidate(s, timeout))
        .filter(|s| {
            let (Some(b), Some(i)) = (before(s), s.info) else { return false };
            let Some(bi) = b.info else { return false };
            awaits_answer(b)
                && bi.bytes_received == i.bytes_received
                && sent(&bi) == sent(&i)
                && bi.bytes_acked == i.bytes_acked
        })
        .collect();
    // A process-per-connection server's backend that ran during the
    // interval works on its request (a long query burns CPU or waits on
    // disk); one that sleeps without running (a lock wait) does not.
    let stuck: Vec<&Socket> = stuck.into_iter().filter(|s| !own_process_works(ctx, s.inode)).collect();
    if stuck.len() < MIN_UNANSWERED {
        return None;
    }
    let oldest = stuck.iter().filter_map(|s| s.info).map(|i| i.last_data_recv_ms).max().unwrap_or(0);
    let youngest = stuck.iter().filter_map(|s| s.info).map(|i| i.last_data_recv_ms).min().unwrap_or(0);
    // Progress: anything answered during the interval, or sent after the
    // youngest waiting request arrived (while every one of them already
    // waited). Sends between the oldest and the youngest are no proof: a
    // database answers a client's login, then the client's query waits on
    // the same lock as the oldest.
    let answered = list
        .iter()
        .filter(|s| {
            let Some(i) = s.info else { return false };
            let now = sent(&i).unwrap_or(0);
            let grew = match before(s).and_then(|b| b.info) {
                Some(bi) => now > sent(&bi).unwrap_or(0) || i.bytes_acked > bi.bytes_acked,
                // Accepted during the interval and already answered.
                None => now > 0,
            };
            grew || (now > 0 && i.last_data_sent_ms.saturating_add(PROGRESS_SLACK_MS) < youngest)
        })
        .count();
    if answered > 0 || closed_during > 0 {
        return None;
    }
    let fresh: Vec<&Socket> = list.iter().copied().filter(|s| before(s).is_none()).collect();
    // New requests the server got nothing out for: read and set aside, or
    // not even read (every worker busy with an older one).
    let new_unanswered = fresh
        .iter()
        .filter(|s| {
            s.info.is_some_and(|i| i.bytes_received.unwrap_or(0) > 0 && sent(&i) == Some(0))
                && (s.recv_q > 0 || awaits_answer(s))
        })
        .count();
    let severity = if new_unanswered > 0 {
        Severity::Critical
    } else if stuck.len() * 2 > list.len() {
        Severity::Warning
    } else {
        return None;
    };

    // The process the finding is about: the one holding most unanswered connections.
    let mut holders: Vec<(u32, usize)> = Vec::new();
    for s in &stuck {
        for &pid in ctx.last.owners_of(s.inode) {
            match holders.iter_mut().find(|h| h.0 == pid) {
                Some(h) => h.1 += 1,
                None => holders.push((pid, 1)),
            }
        }
    }
    holders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let pid = holders.first()?.0;
    let p = ctx.last.process(pid)?;
    let (netns, port) = key;
    let listeners: Vec<&Socket> = ctx.last.listeners().filter(|l| l.netns == netns && l.local_port == port).collect();
    let listen = listeners.first().map(|l| endpoint(l.local, l.local_port)).unwrap_or_else(|| format!("port {port}"));
    let mut owners: Vec<u32> = listeners.iter().flat_map(|l| ctx.last.owners_of(l.inode).iter().copied()).collect();
    owners.sort();
    owners.dedup();

    let mut shown = stuck.clone();
    shown.sort_by_key(|s| std::cmp::Reverse(s.info.map_or(0, |i| i.last_data_recv_ms)));
    let waiting: Vec<WaitingRequest> = shown
        .iter()
        .take(SHOWN)
        .map(|s| {
            let i = s.info.unwrap_or_default();
            WaitingRequest {
                peer: endpoint(s.remote, s.remote_port),
                state: s.state.name().into(),
                waiting_ms: i.last_data_recv_ms as u64,
                bytes_received: i.bytes_received.unwrap_or(0),
                bytes_sent: sent(&i).unwrap_or(0),
                pid: ctx.last.owners_of(s.inode).first().copied().unwrap_or(0),
            }
        })
        .collect();
    let gave_up = stuck.iter().filter(|s| s.state == TcpState::CloseWait).count();
    let sum = waits::summarize(ctx, p);
    let who = crate::describe(p);
    let n = stuck.len();
    // An event loop that runs and keeps these connections in its poll set
    // parks them on purpose (BLPOP, long polling) or awaits what never comes:
    // the kernel cannot tell which, so it is said without an alarm. Not for
    // Go, whose netpoller holds every connection whatever the goroutines do.
    let held_by_pid = holders.first().map_or(0, |h| h.1);
    let parked = !sum.go_runtime && waits::live_event_loop(ctx, p, held_by_pid);
    let severity = if parked { Severity::Info } else { severity };
    let cause = sum.headline().map(|h| format!(": {h}")).unwrap_or_default();
    let title = format!(
        "{who} accepts and reads requests on {listen}, answers none for {}: {n} connections wait{cause}",
        secs(oldest as u64)
    );
    let interval = secs(ctx.interval_ms);
    let progress = if new_unanswered > 0 {
        format!(
            " During the {interval} between the snapshots no connection of this listener got a byte of answer, and {new_unanswered} of the {} connections accepted meanwhile carry requests that are unanswered too: it still accepts work and finishes none.",
            fresh.len()
        )
    } else {
        format!(
            " During the {interval} between the snapshots no connection of this listener got a byte of answer, none was sent a byte after the newest of these requests arrived, and the server closed none{}.",
            if fresh.is_empty() { "; no new connection arrived to test it further".to_string() } else { String::new() }
        )
    };
    let gave_up_txt = if gave_up > 0 {
        format!(" {gave_up} of the clients already gave up and closed their end (CLOSE-WAIT).")
    } else {
        String::new()
    };
    let story = match sum.dominant {
        Dominant::Upstream => format!(
            " {}: the handlers wait on that upstream, which took their requests and does not answer.",
            sum.upstream.clone().unwrap_or_default()
        ),
        Dominant::Pipe => format!(" {}: the handlers block writing to a pipe nobody drains.", sum.pipe.clone().unwrap_or_default()),
        Dominant::Dns => format!(" {}.", sum.resolver.clone().unwrap_or_default()),
        Dominant::ZeroWindow => format!(
            " {} thread(s) block sending to peers whose receive window is zero: a client that stopped reading holds each of them (see peer_not_reading).",
            sum.zero_window_senders
        ),
        _ if sum.go_runtime && goroutines(&sum).is_some() => format!(
            " It is a Go program: its OS threads sit in the scheduler, but its goroutines (read without stopping it) show where the handlers wait: {}.",
            goroutines(&sum).unwrap_or_default()
        ),
        _ if sum.go_runtime => " It is a Go program (its runtime catches every signal, SIGURG included): Go parks its OS threads in futex and epoll whatever the goroutines do, so the kernel cannot show which lock or channel the handlers wait on, only that none of them answers.".to_string(),
        Dominant::Lock => " Every thread that is not idling in accept or an event loop waits on a lock (futex) — a deadlock or a lock held across a blocking call.".to_string(),
        Dominant::Mixed if sum.idle_only => format!(
            " None of its threads is busy with them ({}): its handlers wait for something the kernel does not show — an event, a lock in shared memory, a queue or channel nobody serves.",
            sum.lines.join("; ")
        ),
        Dominant::Mixed => format!(" Its threads: {}.", sum.lines.join("; ")),
    };
    let parked_txt = if parked {
        " Its event loop ran during the interval and keeps these connections in its poll set: it is alive and chose not to answer them — requests parked on purpose (BLPOP, long polling, a subscription) or handlers awaiting an event that never comes. Hence info, not an alarm."
    } else {
        ""
    };
    let spread = if holders.len() > 1 {
        // The listener's other connections, each its own process: on a
        // database, the session holding the lock the others wait on
        // ("… idle in transaction") is among them.
        let stuck_inodes: FastSet<u64> = stuck.iter().map(|w| w.inode).collect();
        let mut others: Vec<u32> = list
            .iter()
            .filter(|s| !stuck_inodes.contains(&s.inode))
            .filter_map(|s| match ctx.last.owners_of(s.inode) {
                [pid] if !holders.iter().any(|h| h.0 == *pid) => Some(*pid),
                _ => None,
            })
            .collect();
        others.sort_unstable();
        others.dedup();
        let waiting =
            titles(ctx, holders.iter().map(|h| h.0)).map(|t| format!(", whose titles read {t}")).unwrap_or_default();
        let rest = titles(ctx, others.iter().copied())
            .map(|t| format!(" (the listener's other connections: {t})"))
            .unwrap_or_default();
        format!(
            " The connections belong to {} processes (one per connection, as in a process-per-connection server){waiting}{rest}; the threads below are those of {who}, which holds {}.",
            holders.len(),
            holders[0].1
        )
    } else {
        String::new()
    };
    let explanation = format!(
        "{who} accepted these connections and read their requests (their receive queues are empty) but has sent nothing back since they arrived, the oldest {} ago; clients wait until they time out.{progress}{gave_up_txt}{spread}{story}{parked_txt} Legitimate long waits (long polling, BLPOP, a backend waiting on a lock) look the same per connection; this is raised only because nothing else on this listener is being answered.",
        secs(oldest as u64)
    );
    let fix = fix_text(p.pid, &sum);
    let ev = UnansweredRequests {
        listen,
        unanswered: n,
        oldest_wait_ms: oldest as u64,
        answer_timeout_ms: ctx.t.answer_timeout_ms as u64,
        connections: list.len(),
        answered_since_oldest: 0,
        accepted_during_interval: fresh.len(),
        new_unanswered,
        clients_gave_up: gave_up,
        waiting,
        holders: holders.iter().map(|h| h.0).collect(),
        owners,
        thread_waits: sum.lines.clone(),
        upstream: sum.upstream.clone(),
        resolver: sum.resolver.clone(),
        pipe: sum.pipe.clone(),
        threads_total: sum.total,
        threads: sum.samples.clone(),
        go_runtime: sum.go_runtime,
        cmdline: p.cmdline.clone(),
        waits_on: sum.waits_on.clone(),
    };
    let mut f = ctx.legacy_finding(severity, Some(pid), Some(port), netns, ev);
    f.title = title;
    f.explanation = explanation;
    f.fix = fix;
    Some(f)
}

/// Whether the one process holding this connection alone ran during the
/// interval (CPU time grew, or a thread is running or in disk wait now):
/// a process-per-connection backend working on its request.
fn own_process_works(ctx: &Ctx, inode: u64) -> bool {
    let Some(first) = &ctx.first else { return false };
    let [pid] = ctx.last.owners_of(inode) else { return false };
    let Some(p) = ctx.last.process(*pid) else { return false };
    let alone =
        p.sockets.iter().filter(|f| ctx.last.state_of(f.inode).is_some_and(|st| st == TcpState::Established)).count()
            == 1;
    let Some(before) = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks) else { return false };
    let ticks = |q: &unwedge_model::Process| q.threads.iter().map(|t| t.utime + t.stime).sum::<u64>();
    alone && (ticks(p) > ticks(before) || p.threads.iter().any(|t| matches!(t.state, 'R' | 'D')))
}

/// What processes of a process-per-connection server call themselves,
/// when they set a title (PostgreSQL shows "… SELECT waiting" for a
/// backend waiting on a lock, "… idle in transaction" for a session that
/// holds locks and does nothing): the most common three, with counts.
fn titles(ctx: &Ctx, pids: impl Iterator<Item = u32>) -> Option<String> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for pid in pids {
        let Some(p) = ctx.last.process(pid) else { continue };
        // PostgreSQL writes the client's address and port into the title:
        // "postgres: user db 127.0.0.1(53940) SELECT waiting"; drop it to group.
        let t = p
            .cmdline
            .split_whitespace()
            .filter(|w| !(w.ends_with(')') && w.contains('(')))
            .collect::<Vec<_>>()
            .join(" ");
        if t.is_empty() {
            continue;
        }
        match seen.iter_mut().find(|x| x.0 == t) {
            Some(x) => x.1 += 1,
            None => seen.push((t, 1)),
        }
    }
    seen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let list: Vec<String> = seen.iter().take(3).map(|(t, n)| format!("{n} × \"{t}\"")).collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// The largest goroutine group in words ("3 goroutines in
/// sync.(*Mutex).Lock ← main.lockedHandler ← … (semacquire)"), when the
/// process's goroutines were read.
fn goroutines(sum: &waits::Summary) -> Option<String> {
    let g = sum.samples.iter().find_map(|t| t.goroutines.as_ref()?.first())?;
    let folded = unwedge_model::stack::fold(&g.frames);
    let mut text =
        format!("{} goroutine(s) in {}", g.count, folded.iter().take(3).cloned().collect::<Vec<_>>().join(" ← "));
    if folded.len() > 3 {
        text.push_str(" ← …");
    }
    if let Some(r) = &g.wait_reason {
        text.push_str(&format!(" ({r})"));
    }
    Some(text)
}

fn fix_text(pid: u32, sum: &waits::Summary) -> String {
    let deadline = "and give every request a deadline, so a stuck one fails instead of holding its client forever";
    let cause = match sum.dominant {
        Dominant::Upstream => format!(
            "Give calls to the upstream a timeout (a socket read timeout, statement_timeout, a context deadline) and bound how long a request waits for a pool slot; then find out why the upstream does not answer ({}).",
            sum.upstream.as_deref().unwrap_or("")
        ),
        Dominant::Pipe => "Resume or restart the reader of the pipe (`kill -CONT PID` if it was stopped) and never block the request path on a log pipe: write logs through a non-blocking writer that drops or buffers when the reader lags.".to_string(),
        Dominant::Dns => "Fix or replace the nameserver, lower `options timeout:` / `attempts:` in /etc/resolv.conf, cache lookups (nscd, systemd-resolved), or resolve upstream names once at start.".to_string(),
        Dominant::ZeroWindow => "Set send timeouts (SO_SNDTIMEO, write deadlines, nginx send_timeout) so a client that stopped reading cannot hold a handler forever.".to_string(),
        _ => String::new(),
    };
    let stacks = if sum.go_runtime {
        let seen = match goroutines(sum) {
            Some(g) => format!("Its goroutines, read without stopping it, show {g}: fix what that code waits for. "),
            None => String::new(),
        };
        format!(
            "{seen}Dump the goroutines to see what each handler waits on: where the service exposes net/http/pprof, `curl 'http://HOST:PORT/debug/pprof/goroutine?debug=2'`; else `dlv attach {pid}` then `goroutines -t`. SIGQUIT prints every goroutine's stack but kills the process (GOTRACEBACK=all or crash decides how much it prints): use it only when restarting anyway. A mutex deadlock shows as goroutines in sync.(*Mutex).Lock, a channel nobody feeds as chan receive. Fix the lock order or the missing sender, {deadline} (http.Server WriteTimeout, http.TimeoutHandler, context.WithTimeout)."
        )
    } else {
        format!(
            "Read the user-space stacks to see which lock or call each handler waits in and who holds it: `gdb -p {pid} -batch -ex 'thread apply all bt'`, `py-spy dump --pid {pid}`, `jstack {pid}` (each pauses the process briefly). Fix the lock order, never hold a lock across I/O, {deadline}."
        )
    };
    let restart = format!(" To restart it now: `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period).");
    if cause.is_empty() {
        format!("{stacks}{restart}")
    } else {
        format!("{cause} {stacks}{restart}")
    }
}
