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

use crate::facts::graph::unix;
use crate::facts::index::endpoint;
use crate::facts::requests::never_answered;
use crate::facts::syscalls::Call;
use crate::facts::waits::{self, Dominant};
use crate::Ctx;
use std::collections::HashSet;
use std::net::IpAddr;
use unwedge_model::evidence::{EventLoopBlocked, QueuedConnection, ThreadSummary, ThreadsWait, WaitsOn};
use unwedge_model::{Socket, UnixSocket, UnixState};

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
    /// Unix listeners (no byte counters): connections accepted on it that
    /// the accepting processes hold while none of their threads ran during
    /// the interval — every one of them busy with what it accepted.
    pub held_busy: usize,
    /// The master that holds the socket only for its workers.
    pub masters: Vec<u32>,
    /// An accepting process whose event loop a synchronous call blocks.
    pub blocked_loop: Option<EventLoopBlocked>,
    /// What an accepting process's threads wait on instead, where it is a
    /// destination whose connects get no answer or a mount that does not
    /// answer (the line the report prints).
    pub waits: Option<ThreadsWait>,
}

pub fn accept_facts(ctx: &Ctx, l: &Socket, owners: &[u32], accepting: &[u32]) -> AcceptFacts {
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
    AcceptFacts { unanswered, unanswered_for_ms, ..facts_of(ctx, owners, accepting) }
}

/// [`accept_facts`] of a unix listener: a unix connection has no byte
/// counters, so whether its request was answered is not known; what is
/// known is whether every accepting process holds connections it accepted
/// and sat still through the interval (`held_busy`).
pub fn accept_facts_unix(ctx: &Ctx, l: &UnixSocket, owners: &[u32], accepting: &[u32]) -> AcceptFacts {
    let mut held = vec![0usize; accepting.len()];
    for end in unix::accepted(ctx, l) {
        for o in ctx.last.owners_of(end.inode) {
            if let Some(i) = accepting.iter().position(|a| a == o) {
                held[i] += 1;
            }
        }
    }
    let still = |pid: u32| {
        ctx.last.process(pid).is_some_and(|p| {
            !p.brief && !p.threads.is_empty() && p.threads.iter().all(|t| crate::facts::waits::unchanged(ctx, p, t))
        })
    };
    let busy = !accepting.is_empty() && held.iter().all(|&n| n > 0) && accepting.iter().all(|&p| still(p));
    AcceptFacts { held_busy: if busy { held.iter().sum() } else { 0 }, ..facts_of(ctx, owners, accepting) }
}

fn facts_of(ctx: &Ctx, owners: &[u32], accepting: &[u32]) -> AcceptFacts {
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
    let masters = owners.iter().copied().filter(|o| !accepting.contains(o)).collect();
    let blocked_loop =
        accepting.iter().find_map(|&pid| ctx.last.process(pid).and_then(|p| crate::facts::event_loop::blocked(ctx, p)));
    // A stopped process's stall is its stop, whatever its threads were in.
    let waits = accepting.iter().filter(|_| stopped.is_none()).find_map(|&pid| {
        let p = ctx.last.process(pid)?;
        let sum = waits::summarize(ctx, p);
        match sum.dominant {
            Dominant::Connect => sum.connecting,
            Dominant::Mount => sum.mount,
            _ => None,
        }
    });
    AcceptFacts {
        threads,
        at_fd_limit,
        stopped,
        unanswered: 0,
        unanswered_for_ms: 0,
        held_busy: 0,
        masters,
        blocked_loop,
        waits,
    }
}

/// A unix listener that accepted none of the connections waiting for it:
/// every client queued in the first snapshot (its `pending` inodes, oldest
/// first, FIFO) still waits in the second.
pub struct StalledUnix<'a> {
    pub listener: &'a UnixSocket,
    pub owners: Vec<u32>,
    pub accepting: Vec<u32>,
    /// The clients' inodes queued in both snapshots.
    pub waiting: Vec<u64>,
}

pub fn stalled_unix<'a>(ctx: &Ctx<'a>) -> Vec<StalledUnix<'a>> {
    let mut out = Vec::new();
    for l in ctx.last.snap.unix_sockets.iter().filter(|s| s.state == UnixState::Listen && s.recv_q > 0) {
        let Some(before) = ctx.graph.unix.before(ctx, l.inode).filter(|b| b.recv_q > 0) else { continue };
        let earlier: Vec<u64> = before.pending.iter().copied().filter(|&c| c != 0).collect();
        let waiting: Vec<u64> = l.pending.iter().copied().filter(|c| earlier.contains(c)).collect();
        if waiting.is_empty() || waiting.len() < earlier.len() {
            continue;
        }
        let owners = ctx.last.owners_of(l.inode).to_vec();
        let accepting = unix::accepting(ctx, l, &owners);
        out.push(StalledUnix { listener: l, owners, accepting, waiting });
    }
    out
}

/// The first few clients waiting in a unix listener's queue, as evidence:
/// the process holding each (a unix connection has no address).
pub fn waiting_unix(ctx: &Ctx, clients: &[u64]) -> Vec<QueuedConnection> {
    clients
        .iter()
        .take(5)
        .map(|&c| {
            let s = ctx.last.snap.unix_sockets.iter().find(|s| s.inode == c);
            QueuedConnection {
                peer: match ctx.last.owners_of(c).first() {
                    Some(&pid) => ctx.proc_label(pid),
                    None => format!("socket:[{c}]"),
                },
                state: "queued".into(),
                unread_bytes: s.map(|s| s.send_q).unwrap_or(0),
                since_last_packet_ms: None,
            }
        })
        .collect()
}

impl AcceptFacts {
    /// The peers and mounts the accepting processes wait on, for the links.
    pub fn waits_on(&self) -> Vec<WaitsOn> {
        self.waits.iter().flat_map(ThreadsWait::targets).collect()
    }
}
