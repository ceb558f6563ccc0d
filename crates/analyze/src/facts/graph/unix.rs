//! Unix-domain sockets in the wait graph (sock_diag AF_UNIX, what `ss -xp`
//! reads): listeners with their queue against their backlog and the
//! processes that accept on them; a process's connections joined to the
//! process at the other end through the peer inode (an accepted
//! connection's server end names its client's inode as its peer, and
//! carries its listener's path), or to the listener whose queue they still
//! wait in (a listener names its queued clients' inodes).
//!
//! Unix sockets have no byte counters or timestamps: a connection waits on
//! its other end when it is still queued unaccepted, when the other end
//! leaves its bytes unread across the interval, when a thread of this
//! process is blocked reading it, or when the process at the other end did
//! not run during the interval while a thread of it sat in a wait that is
//! not idling (a lock, a sleep, a read of its own upstream) — a worker
//! busy with the request. A bus or an API whose clients idle on their
//! connections (D-Bus, docker.sock's long polls) shows none of these.

use super::path::{Next, ToPeers, Via};
use super::peers::Across;
use crate::facts::index::{FastMap, FastSet};
use crate::facts::syscalls::{Call, Class};
use crate::facts::waits::{self, Wait};
use crate::Ctx;
use std::cell::OnceCell;
use unwedge_model::{Process, UnixSocket, UnixState};

/// Lookups over the snapshot's unix sockets, built on first use.
#[derive(Default)]
pub struct Unix {
    tables: OnceCell<Tables>,
    /// The first snapshot's unix sockets by inode.
    before: OnceCell<FastMap<u64, u32>>,
}

#[derive(Default)]
struct Tables {
    /// A client's inode -> the listener (index) it waits in, unaccepted.
    queued_in: FastMap<u64, u32>,
    /// A client's inode -> the server end (index) that accepted it.
    served_by: FastMap<u64, u32>,
    /// (netns, path) -> the listener (index).
    listeners: FastMap<(u64, String), u32>,
}

impl Unix {
    fn tables(&self, ctx: &Ctx) -> &Tables {
        self.tables.get_or_init(|| {
            let mut t = Tables::default();
            for (i, s) in ctx.snap().unix_sockets.iter().enumerate() {
                let Ok(i) = u32::try_from(i) else { continue };
                if s.state == UnixState::Listen {
                    for &c in s.pending.iter().filter(|&&c| c != 0) {
                        t.queued_in.insert(c, i);
                    }
                    if let Some(p) = &s.path {
                        t.listeners.insert((s.netns, p.to_string()), i);
                    }
                } else if let (Some(peer), Some(_)) = (s.peer.filter(|&p| p != 0), &s.path) {
                    t.served_by.insert(peer, i);
                }
            }
            t
        })
    }

    fn at<'a>(ctx: &Ctx<'a>, i: u32) -> Option<&'a UnixSocket> {
        ctx.last.snap.unix_sockets.get(i as usize)
    }

    /// Unix socket `inode` as the first snapshot saw it.
    pub fn before<'a>(&self, ctx: &Ctx<'a>, inode: u64) -> Option<&'a UnixSocket> {
        let first = ctx.first.as_ref()?;
        let map = self.before.get_or_init(|| {
            let all = &first.snap.unix_sockets;
            all.iter().enumerate().filter_map(|(i, s)| Some((s.inode, u32::try_from(i).ok()?))).collect()
        });
        first.snap.unix_sockets.get(*map.get(&inode)? as usize)
    }

    /// The listener whose queue holds client `inode`, if it waits in one.
    pub fn queued_in<'a>(&self, ctx: &Ctx<'a>, inode: u64) -> Option<&'a UnixSocket> {
        Self::at(ctx, *self.tables(ctx).queued_in.get(&inode)?)
    }

    /// The server end that accepted client `inode`.
    pub fn served_by<'a>(&self, ctx: &Ctx<'a>, inode: u64) -> Option<&'a UnixSocket> {
        Self::at(ctx, *self.tables(ctx).served_by.get(&inode)?)
    }

    /// The listener an accepted connection's server end came from (same namespace and path).
    pub fn listener_of<'a>(&self, ctx: &Ctx<'a>, end: &UnixSocket) -> Option<&'a UnixSocket> {
        let path = end.path.as_deref()?;
        Self::at(ctx, *self.tables(ctx).listeners.get(&(end.netns, path.to_string()))?)
    }
}

/// A unix listener's name as reports write it: its path, `@name`, or the
/// socket's inode for an unnamed one.
pub fn name(l: &UnixSocket) -> String {
    l.path.as_deref().map(str::to_string).unwrap_or_else(|| format!("socket:[{}]", l.inode))
}

/// Full: the kernel refuses connect() (EAGAIN, or blocks a blocking
/// caller) once the queue holds more than the backlog.
pub fn full(l: &UnixSocket) -> bool {
    l.recv_q > l.send_q
}

/// The server ends of connections accepted on `l` (same namespace and path).
pub fn accepted<'a>(ctx: &Ctx<'a>, l: &UnixSocket) -> impl Iterator<Item = &'a UnixSocket> {
    let (netns, path) = (l.netns, l.path.clone());
    ctx.last
        .snap
        .unix_sockets
        .iter()
        .filter(move |s| s.state != UnixState::Listen && s.netns == netns && path.is_some() && s.path == path)
}

/// The owners of unix listener `l` that accept on it, as `Index::accepting`
/// decides it for TCP: those with a thread in accept() on it, else those
/// holding connections accepted on it, else those no other owner descends
/// from (a pre-fork master holds it only for its workers), else all.
pub fn accepting(ctx: &Ctx, l: &UnixSocket, owners: &[u32]) -> Vec<u32> {
    if owners.len() <= 1 {
        return owners.to_vec();
    }
    let arch = ctx.snap().arch.as_str();
    let in_accept: Vec<u32> = owners
        .iter()
        .copied()
        .filter(|&pid| {
            let Some(p) = ctx.last.process(pid) else { return false };
            let fds: Vec<u64> = p.sockets.iter().filter(|s| s.inode == l.inode).map(|s| s.fd as u64).collect();
            p.threads
                .iter()
                .any(|t| Call::of(arch, t).is_some_and(|c| c.class == Class::Accept && fds.contains(&c.arg(0))))
        })
        .collect();
    if !in_accept.is_empty() {
        return in_accept;
    }
    let holding: FastSet<u32> = accepted(ctx, l).flat_map(|s| ctx.last.owners_of(s.inode).iter().copied()).collect();
    let held: Vec<u32> = owners.iter().copied().filter(|o| holding.contains(o)).collect();
    if !held.is_empty() {
        return held;
    }
    let leaves: Vec<u32> = owners
        .iter()
        .copied()
        .filter(|&pid| !owners.iter().any(|&o| ctx.last.process(o).is_some_and(|p| p.ppid == pid)))
        .collect();
    if leaves.is_empty() {
        owners.to_vec()
    } else {
        leaves
    }
}

/// The processes that accept on unix listener `l`.
pub fn accepting_of(ctx: &Ctx, l: &UnixSocket) -> Vec<u32> {
    accepting(ctx, l, ctx.last.owners_of(l.inode))
}

/// Process `pid` did not run during the interval, and a thread of it sat
/// the whole time in a wait that is not idling in an event loop, accept()
/// or a signal wait: a worker busy with what it holds (a lock, a sleep, a
/// read of its own upstream), not one ready for more.
fn busy_elsewhere(ctx: &Ctx, pid: u32) -> bool {
    let Some(p) = ctx.last.process(pid) else { return false };
    if p.brief || p.threads.is_empty() {
        return false;
    }
    let threads = waits::classify(ctx, p);
    let ran = threads.iter().any(|w| !w.whole_interval);
    let busy = |w: &waits::ThreadWait| {
        w.whole_interval
            && match w.wait {
                Wait::Poll | Wait::Accept | Wait::Running => false,
                // A sleep is a handler's (PHP's sleep(), a retry's back-off);
                // sigwait and pause are a main thread parked on purpose.
                Wait::Idle => w.syscall.as_deref().is_some_and(|s| Class::of(s) == Class::Sleep),
                _ => true,
            }
    };
    !ran && threads.iter().any(busy)
}

/// What `p`'s unix connections wait on: the listener (by path) most of
/// its waiting connections go to, and the processes accepting there or
/// holding their other ends.
pub fn waits_on(ctx: &Ctx, p: &Process) -> Option<Next> {
    let unix = &ctx.graph.unix;
    if ctx.snap().unix_sockets.is_empty() {
        return None;
    }
    let arch = ctx.snap().arch.as_str();
    // fds of p that a thread of p is blocked reading, across the interval.
    let read: Vec<u64> = waits::classify(ctx, p)
        .iter()
        .filter(|w| w.whole_interval)
        .filter_map(|w| Call::of(arch, w.thread).filter(|c| c.class.reads()).map(|c| c.arg(0)))
        .collect();
    let mut by_listener: Vec<(u64, ToPeers)> = Vec::new();
    for fd in &p.sockets {
        let (listener, peer_pids, queued, unread, reading) = if let Some(l) = unix.queued_in(ctx, fd.inode) {
            let whole = unix.before(ctx, l.inode).is_some_and(|b| b.pending.contains(&fd.inode));
            (l, accepting_of(ctx, l), Some(whole), false, false)
        } else if let Some(end) = unix.served_by(ctx, fd.inode) {
            let Some(l) = unix.listener_of(ctx, end) else { continue };
            let holders: Vec<u32> = ctx.last.owners_of(end.inode).iter().copied().filter(|&o| o != p.pid).collect();
            let unread = end.recv_q > 0 && unix.before(ctx, end.inode).is_some_and(|b| b.recv_q == end.recv_q);
            let reading = read.contains(&(fd.fd as u64));
            if !(unread || reading || holders.iter().any(|&h| busy_elsewhere(ctx, h))) {
                continue;
            }
            (l, holders, None, unread, reading)
        } else {
            continue;
        };
        if peer_pids.is_empty() {
            continue;
        }
        let entry = match by_listener.iter_mut().find(|(i, _)| *i == listener.inode) {
            Some((_, t)) => t,
            None => {
                let across = Across { listener: Some((listener.recv_q, listener.send_q)), ..Default::default() };
                let t = ToPeers { via: Via::Unix(name(listener)), across, since_ms: None, definite: true };
                by_listener.push((listener.inode, t));
                &mut by_listener.last_mut().expect("pushed").1
            }
        };
        let a = &mut entry.across;
        a.pids.extend(peer_pids);
        a.connections += 1;
        a.queued += usize::from(queued.is_some());
        a.queued_whole_interval |= queued == Some(true);
        a.unread_whole_interval |= unread;
        // Every connection shown waiting by the kernel across the interval:
        // queued both times, unread both times, or read by a blocked thread.
        entry.definite &= queued == Some(true) || unread || reading;
    }
    let (_, mut t) = by_listener.into_iter().max_by_key(|(_, t)| t.across.connections)?;
    t.across.pids.sort_unstable();
    t.across.pids.dedup();
    if t.across.queued == 0 {
        t.across.listener = None;
    }
    Some(Next::Peers(t))
}

/// Processes whose unix connections wait unaccepted in another process's
/// listener queue since the first snapshot: where a cycle can start.
pub fn queued_clients(ctx: &Ctx) -> Vec<u32> {
    let mut out = Vec::new();
    for l in ctx.snap().unix_sockets.iter().filter(|s| s.state == UnixState::Listen && s.recv_q > 0) {
        let Some(before) = ctx.graph.unix.before(ctx, l.inode) else { continue };
        for c in l.pending.iter().filter(|c| **c != 0 && before.pending.contains(c)) {
            out.extend(ctx.last.owners_of(*c).iter().copied());
        }
    }
    out
}
