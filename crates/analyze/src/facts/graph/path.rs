//! What a process — or a pool of sibling workers — waits on (`Next`), and
//! that wait followed from process to process until it ends (`Path`): at a
//! lock, a sleep, a DNS server, the CPU, a stopped process, a peer on
//! another host, or back at a process already on the path (a cycle).
//!
//! A process's wait is read from its threads (`waits::summarize`, the
//! graph's thread edges): most of them on one upstream, a full pipe, a DNS
//! query, a lock; for an event loop, whose threads say nothing, the
//! connections that owe it an answer (`requests::owes_us`) or wait in
//! another process's queue stand in. An upstream on this host is followed
//! to the processes at the other end (`peers`).

use super::peers::{self, Across};
use super::unix;
use crate::facts::process_tree::looks_stopped;
use crate::facts::requests::{last_sender, owes_us, unchanged, Side};
use crate::facts::syscalls::Class;
use crate::facts::waits::{self, Dominant, Wait};
use crate::Ctx;
use std::net::SocketAddr;
use unwedge_model::evidence::ThreadsWait;
use unwedge_model::{Socket, TcpState, UnixSocket};

/// A chain longer than this is cut (a loop the cycle test missed cannot run on).
const MAX_HOPS: usize = 8;

/// How the waiters reach the processes they wait on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// TCP to this address (a listener on this host).
    Tcp(SocketAddr),
    /// A unix-socket listener: its path, or `@name`.
    Unix(String),
    /// A pipe they write and others read.
    Pipe(u64),
}

/// Waiting on other processes of this host.
#[derive(Debug, Clone)]
pub struct ToPeers {
    pub via: Via,
    pub across: Across,
    /// The oldest request waiting on them, when the connection shows it.
    pub since_ms: Option<u64>,
    /// Shown by the kernel for the whole interval, not inferred: a request
    /// owed on a TCP connection whose byte counters did not move, a
    /// connection queued unaccepted in both snapshots, a pipe full both times.
    pub definite: bool,
}

/// What a process waits on.
#[derive(Debug, Clone)]
pub enum Next {
    Peers(ToPeers),
    Remote {
        peer: SocketAddr,
        connections: usize,
        since_ms: Option<u64>,
    },
    Lock {
        threads: usize,
        of: usize,
    },
    Sleep {
        threads: usize,
        of: usize,
        syscall: String,
    },
    Dns {
        server: String,
    },
    Cpu {
        threads: usize,
        of: usize,
    },
    Stopped {
        state: char,
    },
    /// At its file-descriptor limit: accept() and every new fd fail (EMFILE).
    FdLimit {
        open: u32,
        limit: u64,
    },
    /// Threads reading an upstream that answered and has been silent since:
    /// nothing is owed there, the wait is this process's own (it reads an
    /// idle keep-alive connection for an end that never comes).
    IdleUpstream {
        peer: SocketAddr,
        threads: usize,
    },
    PeersNotReading {
        threads: usize,
    },
    /// Connects that get no answer (SYN-SENT through the interval).
    Connecting {
        peer: SocketAddr,
        connections: usize,
    },
    /// Threads blocked on files of a mount that does not answer.
    Mount {
        threads: usize,
        of: usize,
        point: String,
        fs_type: String,
    },
    /// Nothing the kernel shows (an event loop that holds nothing owed).
    Unknown {
        lines: Vec<String>,
    },
}

impl Next {
    /// The processes it leads to.
    pub fn peer_pids(&self) -> Option<&[u32]> {
        match self {
            Next::Peers(t) => Some(&t.across.pids),
            _ => None,
        }
    }

    /// Two waits that are the same wait (to tell a pool's members apart).
    fn same(&self, other: &Next) -> bool {
        match (self, other) {
            (Next::Peers(a), Next::Peers(b)) => a.via == b.via,
            (Next::Remote { peer: a, .. }, Next::Remote { peer: b, .. }) => a == b,
            (Next::Sleep { syscall: a, .. }, Next::Sleep { syscall: b, .. }) => a == b,
            (Next::Dns { server: a }, Next::Dns { server: b }) => a == b,
            (Next::IdleUpstream { peer: a, .. }, Next::IdleUpstream { peer: b, .. }) => a == b,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// The same wait of two members of a pool, as one.
    fn merge(&mut self, other: &Next) {
        match (self, other) {
            (Next::Peers(a), Next::Peers(b)) => {
                let x = &mut a.across;
                x.pids.extend(&b.across.pids);
                x.pids.sort_unstable();
                x.pids.dedup();
                x.connections += b.across.connections;
                x.queued += b.across.queued;
                x.listener = x.listener.or(b.across.listener);
                x.queued_whole_interval |= b.across.queued_whole_interval;
                x.unread_whole_interval |= b.across.unread_whole_interval;
                a.since_ms = a.since_ms.max(b.since_ms);
                a.definite &= b.definite;
            }
            (Next::Remote { connections, since_ms, .. }, Next::Remote { connections: c, since_ms: s, .. }) => {
                *connections += c;
                *since_ms = (*since_ms).max(*s);
            }
            (Next::Lock { threads, of }, Next::Lock { threads: t, of: o })
            | (Next::Sleep { threads, of, .. }, Next::Sleep { threads: t, of: o, .. })
            | (Next::Cpu { threads, of }, Next::Cpu { threads: t, of: o }) => {
                *threads += t;
                *of += o;
            }
            (Next::PeersNotReading { threads }, Next::PeersNotReading { threads: t })
            | (Next::IdleUpstream { threads, .. }, Next::IdleUpstream { threads: t, .. }) => *threads += t,
            _ => {}
        }
    }
}

/// The outbound connections of `pid` to `peer` (in `netns`, or any).
fn conns_to<'a>(ctx: &Ctx<'a>, pid: u32, netns: u64, peer: SocketAddr) -> Vec<&'a Socket> {
    let Some(p) = ctx.last.process(pid) else { return Vec::new() };
    p.sockets
        .iter()
        .filter_map(|fd| ctx.last.socket(fd.inode))
        .filter(|s| s.state == TcpState::Established && ctx.last.is_outbound(s))
        .filter(|s| (netns == 0 || s.netns == netns) && peers::remote(s) == peer)
        .collect()
}

/// Owed an answer over the whole interval: the same connection owed it in
/// the first snapshot and no byte moved since.
fn owed_whole_interval(ctx: &Ctx, s: &Socket) -> bool {
    let Some(first) = &ctx.first else { return false };
    owes_us(s).is_some() && first.socket(s.inode).is_some_and(|b| owes_us(b).is_some() && unchanged(b, s))
}

/// An upstream the threads wait on: the local processes at the other end,
/// or a remote peer.
fn upstream(ctx: &Ctx, pid: u32, w: &ThreadsWait) -> Option<Next> {
    let (netns, peer) = match w {
        ThreadsWait::Upstream { netns, peer, .. } | ThreadsWait::UnansweredUpstream { netns, peer, .. } => {
            (*netns, *peer)
        }
        _ => return None,
    };
    let peer = SocketAddr::new(
        match peer.ip() {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(peer.ip()),
            v4 => v4,
        },
        peer.port(),
    );
    let conns = conns_to(ctx, pid, netns, peer);
    let owed: Vec<&Socket> = conns.iter().copied().filter(|s| owes_us(s).is_some()).collect();
    // Threads reading connections that owe them nothing: the peer answered
    // (it spoke last, or in a tie on loopback sent bytes back), and the
    // wait is for an end that never comes (an idle keep-alive connection).
    if let ThreadsWait::Upstream { threads, .. } = w {
        let answered = |s: &&Socket| {
            s.info.is_some_and(|i| last_sender(&i, Side::Us) != Some(Side::Us) && i.bytes_received.unwrap_or(0) > 0)
        };
        if owed.is_empty() && !conns.is_empty() && conns.iter().all(answered) {
            return Some(Next::IdleUpstream { peer, threads: *threads });
        }
    }
    let since_ms = owed.iter().filter_map(|s| s.info).map(|i| i.last_data_sent_ms as u64).max().or(match w {
        ThreadsWait::Upstream { idle_ms, .. } => Some(*idle_ms as u64),
        _ => None,
    });
    let definite = owed.iter().any(|s| owed_whole_interval(ctx, s));
    match peers::across(ctx, pid, &conns) {
        Some(across) => {
            let definite = definite || across.queued_whole_interval;
            Some(Next::Peers(ToPeers { via: Via::Tcp(peer), across, since_ms, definite }))
        }
        None => Some(Next::Remote { peer, connections: conns.len().max(1), since_ms }),
    }
}

/// What process `pid` waits on, from its threads and its connections.
pub fn wait_of(ctx: &Ctx, pid: u32) -> Option<Next> {
    let p = ctx.last.process(pid)?;
    if looks_stopped(p) {
        return Some(Next::Stopped { state: p.state });
    }
    if let Some(limit) = p.nofile_soft.filter(|&l| l > 0 && p.fd_count as u64 + 1 >= l) {
        return Some(Next::FdLimit { open: p.fd_count, limit });
    }
    if p.brief || p.threads.is_empty() {
        return None;
    }
    let threads = waits::classify(ctx, p);
    let sum = waits::summarize_waits(ctx, p, &threads);
    let of = threads.len();
    let count = |f: &dyn Fn(&waits::ThreadWait) -> bool| threads.iter().filter(|w| f(w)).count();
    match sum.dominant {
        Dominant::Pipe => {
            if let Some(ThreadsWait::Pipe { inode, readers, .. }) = &sum.pipe {
                let pids: Vec<u32> = readers.iter().map(|r| r.pid).collect();
                if !pids.is_empty() {
                    let across = Across { pids, connections: 1, ..Default::default() };
                    return Some(Next::Peers(ToPeers {
                        via: Via::Pipe(*inode),
                        across,
                        since_ms: None,
                        definite: true,
                    }));
                }
            }
            Some(Next::Unknown { lines: sum.lines })
        }
        Dominant::Dns => match &sum.resolver {
            Some(ThreadsWait::Resolver { server, .. }) => Some(Next::Dns { server: server.clone() }),
            _ => None,
        },
        Dominant::Upstream => sum.upstream.as_ref().and_then(|w| upstream(ctx, pid, w)),
        Dominant::ZeroWindow => Some(Next::PeersNotReading { threads: sum.zero_window_senders }),
        Dominant::Connect => match &sum.connecting {
            Some(ThreadsWait::Connecting { peer, connections, .. }) => {
                Some(Next::Connecting { peer: *peer, connections: *connections })
            }
            _ => None,
        },
        Dominant::Mount => match &sum.mount {
            Some(ThreadsWait::Mount { threads, mount_point, fs_type, .. }) => {
                Some(Next::Mount { threads: *threads, of, point: mount_point.clone(), fs_type: fs_type.clone() })
            }
            _ => None,
        },
        // A pool that lent its connections out: its handlers wait on its lock.
        Dominant::Lock | Dominant::Pool => Some(Next::Lock { threads: count(&|w| w.wait == Wait::Lock), of }),
        Dominant::Mixed => {
            if let Some(n) = unix::waits_on(ctx, p) {
                return Some(n);
            }
            let busy: Vec<&waits::ThreadWait> =
                threads.iter().filter(|w| !matches!(w.wait, Wait::Poll | Wait::Accept | Wait::Idle)).collect();
            let asleep = |w: &&waits::ThreadWait| {
                w.syscall.as_deref().is_some_and(|s| crate::facts::syscalls::Class::of(s) == Class::Sleep)
            };
            if !busy.is_empty() && busy.iter().all(|w| w.wait == Wait::Running) {
                return Some(Next::Cpu { threads: busy.len(), of });
            }
            // Reached as the peer that owes answers: its working threads all
            // sit in futex across the interval while an event loop or
            // acceptor idles beside them (gunicorn's gthread workers).
            if !busy.is_empty() && busy.iter().all(|w| w.wait == Wait::Lock && w.whole_interval) {
                return Some(Next::Lock { threads: busy.len(), of });
            }
            let sleeping: Vec<&waits::ThreadWait> = threads.iter().filter(asleep).collect();
            if busy.is_empty() && !sleeping.is_empty() {
                let syscall = sleeping[0].syscall.clone().unwrap_or_default();
                return Some(Next::Sleep { threads: sleeping.len(), of, syscall });
            }
            Some(Next::Unknown { lines: sum.lines })
        }
    }
}

/// What most processes of a pool wait on, and how many of them do.
pub fn pool_wait(ctx: &Ctx, pids: &[u32]) -> Option<(Next, usize)> {
    let mut kinds: Vec<(Next, usize)> = Vec::new();
    for &pid in pids {
        let Some(n) = ctx.graph.wait_of(ctx, pid) else { continue };
        match kinds.iter_mut().find(|(k, _)| k.same(&n)) {
            Some((k, c)) => {
                k.merge(&n);
                *c += 1;
            }
            None => kinds.push((n, 1)),
        }
    }
    // Most members first; among equals, a wait on other processes (it says more).
    kinds.into_iter().max_by_key(|(k, c)| (*c, matches!(k, Next::Peers(_))))
}

/// One step of a path: the processes that wait, how many of them wait on
/// `next`, and what.
#[derive(Debug, Clone)]
pub struct Step {
    pub pids: Vec<u32>,
    pub waiting: usize,
    pub next: Next,
}

/// A wait followed from `start` to its end.
#[derive(Debug, Clone, Default)]
pub struct Path {
    pub steps: Vec<Step>,
    /// The last step leads back to processes already on the path.
    pub cycle: bool,
}

impl Path {
    /// Whether it leaves the processes it started from (to other processes
    /// of this host, or another host).
    pub fn crosses(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.next, Next::Peers(_) | Next::Remote { .. }))
    }
}

pub fn follow(ctx: &Ctx, start: &[u32]) -> Path {
    follow_seen(ctx, start, &[])
}

/// [`follow`], with `seen` already on the path before `start`.
fn follow_seen(ctx: &Ctx, start: &[u32], seen: &[u32]) -> Path {
    let mut path = Path::default();
    let mut visited: Vec<u32> = start.iter().chain(seen).copied().collect();
    let mut pids = start.to_vec();
    for _ in 0..MAX_HOPS {
        let Some((next, waiting)) = pool_wait(ctx, &pids) else { break };
        let to = next.peer_pids().map(<[u32]>::to_vec);
        path.steps.push(Step { pids, waiting, next });
        let Some(to) = to else { break };
        if to.iter().any(|p| visited.contains(p)) {
            path.cycle = true;
            break;
        }
        visited.extend(&to);
        pids = to;
    }
    path
}

/// The local processes whose connections wait in TCP listener `l`'s queue,
/// as the step before the processes that accept there (`accepting`): the
/// clients of a full or stalled queue, when they are on this host.
pub fn into_listener(ctx: &Ctx, l: &Socket, accepting: &[u32]) -> Option<Step> {
    let queued = ctx.last.queued_for(l);
    let mut clients: Vec<u32> = Vec::new();
    let mut since_ms = None;
    let mut local = None;
    for q in &queued {
        let Some(peers::End::Held(c)) = ctx.graph.peers.end_of(ctx, q) else { continue };
        clients.extend(ctx.last.owners_of(c.inode).iter().copied().filter(|p| !accepting.contains(p)));
        since_ms = since_ms.max(q.info.map(|i| i.last_ack_recv_ms as u64));
        local.get_or_insert(SocketAddr::new(q.local, q.local_port));
    }
    clients.sort_unstable();
    clients.dedup();
    if clients.is_empty() || accepting.is_empty() {
        return None;
    }
    let whole = ctx.first.as_ref().is_some_and(|f| f.socket(l.inode).is_some_and(|b| !f.queued_for(b).is_empty()));
    let across = Across {
        pids: accepting.to_vec(),
        connections: queued.len(),
        queued: queued.len(),
        listener: Some((l.recv_q, l.send_q)),
        queued_whole_interval: whole,
        unread_whole_interval: false,
    };
    let via = Via::Tcp(local.unwrap_or(SocketAddr::new(l.local, l.local_port)));
    let waiting = clients.len();
    Some(Step { pids: clients, waiting, next: Next::Peers(ToPeers { via, across, since_ms, definite: whole }) })
}

/// A listener finding's path: its local clients' step, then the wait of
/// the processes that accept on it, followed to its end.
pub fn through_listener(ctx: &Ctx, into: Option<Step>, accepting: &[u32]) -> Path {
    let clients: Vec<u32> = into.as_ref().map(|s| s.pids.clone()).unwrap_or_default();
    // A wait that comes back to the clients is a cycle through this listener.
    let mut path = follow_seen(ctx, accepting, &clients);
    if let Some(step) = into {
        path.steps.insert(0, step);
    }
    path
}

/// The local processes whose connections wait in unix listener `l`'s
/// queue or were accepted on it, as the step before the processes that
/// accept there (`accepting`).
pub fn into_unix_listener(ctx: &Ctx, l: &UnixSocket, accepting: &[u32]) -> Option<Step> {
    let mut clients: Vec<u32> = Vec::new();
    let mut connections = 0;
    let queued: Vec<u64> = l.pending.iter().copied().filter(|&c| c != 0).collect();
    for &c in &queued {
        clients.extend(ctx.last.owners_of(c).iter().copied().filter(|p| !accepting.contains(p)));
        connections += 1;
    }
    for end in unix::accepted(ctx, l) {
        let Some(c) = end.peer.filter(|&c| c != 0) else { continue };
        let owners: Vec<u32> = ctx.last.owners_of(c).iter().copied().filter(|p| !accepting.contains(p)).collect();
        connections += usize::from(!owners.is_empty());
        clients.extend(owners);
    }
    clients.sort_unstable();
    clients.dedup();
    if clients.is_empty() || accepting.is_empty() {
        return None;
    }
    let before = ctx.graph.unix.before(ctx, l.inode);
    let whole = before.is_some_and(|b| queued.iter().any(|c| b.pending.contains(c)));
    let across = Across {
        pids: accepting.to_vec(),
        connections,
        queued: l.recv_q as usize,
        listener: Some((l.recv_q, l.send_q)),
        queued_whole_interval: whole,
        unread_whole_interval: false,
    };
    let next = Next::Peers(ToPeers { via: Via::Unix(unix::name(l)), across, since_ms: None, definite: whole });
    let waiting = clients.len();
    Some(Step { pids: clients, waiting, next })
}
