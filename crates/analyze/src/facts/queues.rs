//! Facts about accept queues shared by the listener detectors
//! (`accept_stalled`, `keepalive_starvation`, and the stuck-thread work
//! list): which listeners accepted none of the connections waiting for
//! them, and whether their accepted connections sit idle in keep-alive.
//!
//! Kernel facts: a completed but unaccepted connection is listed by
//! sock_diag as ESTABLISHED (or CLOSE-WAIT once the client gives up) with
//! inode 0, on the listener's port. The accept queue is FIFO, so if every
//! connection queued in the first snapshot is still queued in the second,
//! the owner accepted nothing in between.

use crate::facts::index::endpoint;
use crate::facts::requests::never_answered;
use crate::facts::syscalls::Call;
use crate::Ctx;
use std::collections::HashSet;
use std::net::IpAddr;
use unwedge_model::evidence::{QueuedConnection, ThreadSummary};
use unwedge_model::Socket;

/// A listener that accepted none of the connections waiting for it.
pub struct Stalled<'a> {
    pub listener: &'a Socket,
    pub owners: Vec<u32>,
    /// The owners that accept on it (`Index::accepting`); `pid` is the first.
    pub accepting: Vec<u32>,
    pub pid: Option<u32>,
    /// Queued in both snapshots: they waited the whole interval.
    pub waiting: Vec<&'a Socket>,
}

type Tuple = (u64, IpAddr, u16, IpAddr, u16);

fn tuple(s: &Socket) -> Tuple {
    (s.netns, s.local, s.local_port, s.remote, s.remote_port)
}

/// Listeners none of whose earlier-queued connections was accepted.
pub fn stalled<'a>(ctx: &Ctx<'a>) -> Vec<Stalled<'a>> {
    let Some(first) = ctx.first.as_ref() else { return Vec::new() };
    let mut out = Vec::new();
    for l in ctx.last.listeners() {
        if l.recv_q == 0 {
            continue;
        }
        let Some(before) = first.socket(l.inode) else { continue };
        if before.recv_q == 0 {
            continue;
        }
        let earlier: HashSet<Tuple> = first.queued_for(before).into_iter().map(tuple).collect();
        let waiting: Vec<&Socket> =
            ctx.last.queued_for(l).into_iter().filter(|c| earlier.contains(&tuple(c))).collect();
        // FIFO: one accept would have taken the oldest of them, so all must
        // still wait. A loop that accepts slowly (one per busy round) drains
        // some and is merely slow.
        if waiting.is_empty() || waiting.len() < earlier.len() {
            continue;
        }
        let owners = ctx.last.owners_of(l.inode).to_vec();
        let accepting = ctx.last.accepting(l, &owners);
        let pid = accepting.first().copied();
        out.push(Stalled { listener: l, owners, accepting, pid, waiting });
    }
    out
}

/// The first few waiting connections, as evidence.
pub fn waiting_evidence(st: &Stalled) -> Vec<QueuedConnection> {
    st.waiting
        .iter()
        .take(5)
        .map(|c| QueuedConnection {
            peer: endpoint(c.remote, c.remote_port),
            state: c.state.name().into(),
            unread_bytes: c.recv_q,
            since_last_packet_ms: c.info.map(|i| i.last_ack_recv_ms),
        })
        .collect()
}

/// The stalled listener's accepted connections, when every one of them
/// idles in keep-alive: the server answered (tcp_info bytes_acked or
/// bytes_sent > 0), its answer came after the client's last request
/// (last_data_sent <= last_data_recv), nothing is left unread, and no data
/// moved either way for >= `--idle`.
///
/// The byte counters are what tell "answered" from "never answered": on
/// loopback the handshake and the request land in the same jiffy, and a
/// server that never sent a byte has its send clock at the handshake, so
/// the timestamps tie. A worker at its fd limit holding requests it never
/// answered, or a handler busy with a slow request, is not keep-alive. A
/// kernel without the counters (< 4.1) gets no keep-alive verdict.
pub fn idle_keepalive<'a>(ctx: &Ctx<'a>, st: &Stalled) -> Option<Vec<&'a Socket>> {
    let held = ctx.last.accepted_by(st.listener, &st.owners);
    let idle = |s: &&Socket| {
        s.recv_q == 0
            && s.info.is_some_and(|i| {
                i.has_sent() == Some(true)
                    && i.last_data_recv_ms >= ctx.t.idle_ms
                    && i.last_data_sent_ms >= ctx.t.idle_ms
                    && i.last_data_sent_ms <= i.last_data_recv_ms
            })
    };
    (!held.is_empty() && held.iter().all(idle)).then_some(held)
}

/// The threads of the accepting processes, as they are now: what the
/// report says instead of guessing at causes. At most `max`.
pub fn accepting_threads(ctx: &Ctx, pids: &[u32], max: usize) -> Vec<ThreadSummary> {
    let arch = ctx.snap().arch.as_str();
    let mut out = Vec::new();
    for &pid in pids {
        let Some(p) = ctx.last.process(pid) else { continue };
        for t in &p.threads {
            if out.len() >= max {
                return out;
            }
            let (syscall, fds) = match Call::of(arch, t) {
                Some(call) => {
                    let fds = crate::facts::threads::fd_meanings(&ctx.last, p, t, &call);
                    (call.name, fds)
                }
                None if t.state == 'R' => ("running".to_string(), Vec::new()),
                None => ("no syscall".to_string(), Vec::new()),
            };
            out.push(crate::facts::threads::summary(p, t, syscall, fds));
        }
    }
    out
}

/// What this host shows about the processes that should accept on a
/// listener, read from the snapshot: the facts the explanation and the fix
/// of a stalled or full queue rest on, instead of a list of guesses.
pub struct AcceptFacts {
    pub threads: Vec<ThreadSummary>,
    /// (pid, open fds, soft limit) of an accepting process at its limit.
    pub at_fd_limit: Option<(u32, u32, u64)>,
    /// (pid, state letter) of an accepting process that is stopped or frozen.
    pub stopped: Option<(u32, char)>,
    /// Accepted connections whose request was read and never answered
    /// (bytes received, none sent), and the longest such wait.
    pub unanswered: usize,
    pub unanswered_for_ms: u32,
    /// The master that holds the socket only for its workers.
    pub masters: Vec<u32>,
}

pub fn accept_facts(ctx: &Ctx, l: &Socket, owners: &[u32], accepting: &[u32]) -> AcceptFacts {
    let threads = accepting_threads(ctx, accepting, 6);
    let at_fd_limit = accepting.iter().find_map(|&pid| {
        let p = ctx.last.process(pid)?;
        let soft = p.nofile_soft.filter(|&s| s > 0)?;
        (p.fd_count as u64 >= soft.saturating_sub(1)).then_some((pid, p.fd_count, soft))
    });
    let stopped = accepting.iter().find_map(|&pid| {
        let p = ctx.last.process(pid)?;
        crate::facts::process_tree::looks_stopped(p).then_some((pid, p.state))
    });
    let mut unanswered = 0;
    let mut unanswered_for_ms = 0;
    for s in ctx.last.accepted_by(l, accepting) {
        if let Some(i) = s.info {
            if never_answered(&i) {
                unanswered += 1;
                unanswered_for_ms = unanswered_for_ms.max(i.last_data_recv_ms);
            }
        }
    }
    let masters = owners.iter().copied().filter(|o| !accepting.contains(o)).collect();
    AcceptFacts { threads, at_fd_limit, stopped, unanswered, unanswered_for_ms, masters }
}
