//! A connection pool that lent its connections out and never got them
//! back, seen from outside: every thread at work waits on a lock for the
//! whole interval, while the process's only connections to an upstream
//! sit idle both ways, none carrying a request. Nobody uses them: whoever
//! checked them out kept them. Shared by `unanswered_requests` and
//! `stuck_thread` through the process's wait summary (`waits.rs`).
//!
//! Kernel facts: each thread's syscall in both snapshots (futex, with no
//! CPU time and no wake-up between: `waits::unchanged`); the process's
//! outbound connections (`Index::is_outbound`) with tcp_info's idle timers
//! (no data sent nor received for at least the interval, nothing queued
//! either way) and which side spoke last (the upstream answered every
//! request: a connection whose request waits for its answer is busy).
//!
//! False alarms avoided: a slow upstream (its connections each carry a
//! request still unanswered: told as the upstream, not a leak); a pool in
//! use (any connection to that peer carried data during the interval);
//! threads that run, read or poll (not every worker waits on a lock); a
//! lock held elsewhere while the pool idles (the same kernel facts): the
//! words hedge, and where the threads' own frames were read (Python,
//! goroutines, a JVM's dump) the claim stands only when they pass through
//! a pool, and is dropped when they show something else.

use crate::facts::runtime;
use crate::facts::waits::{ThreadWait, Wait};
use crate::Ctx;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use unwedge_model::evidence::ThreadsWait;
use unwedge_model::{Process, TcpState};

/// Idle at least this long, and at least the interval.
const IDLE_MIN_MS: u32 = 1000;

/// The idle pool of `p`, given what its threads wait in (`waits`, the
/// JVM's own threads already left out).
pub fn idle_pool(ctx: &Ctx, p: &Process, waits: &[ThreadWait], go: bool) -> Option<ThreadsWait> {
    // Every thread at work waits on a lock through the interval; threads
    // idling in accept, an event loop or a sleep, and handlers still
    // reading their client's request, are not at work.
    let at_work: Vec<&ThreadWait> =
        waits.iter().filter(|w| !matches!(w.wait, Wait::Poll | Wait::Accept | Wait::Idle | Wait::Client)).collect();
    let locked = at_work.iter().filter(|w| w.wait == Wait::Lock && w.whole_interval).count();
    if locked == 0 || locked < at_work.len() {
        return None;
    }
    let (netns, peer, connections, idle_ms) = idle_upstream(ctx, p)?;
    let waiting: Vec<u32> = at_work.iter().map(|w| w.thread.tid).collect();
    let confirmed = match frames_say_pool(p, &waiting) {
        Some(false) => return None,
        Some(true) => true,
        // Go parks every OS thread in futex whatever its goroutines do:
        // without them, the threads say nothing.
        None if go => return None,
        None => false,
    };
    Some(ThreadsWait::IdlePool { threads: locked, of: waits.len(), netns, peer, connections, idle_ms, confirmed })
}

/// The upstream all of whose connections from `p` sat idle both ways for
/// at least the interval with nothing in flight, the most connections
/// first: (netns, peer, connections, idle for).
fn idle_upstream(ctx: &Ctx, p: &Process) -> Option<(u64, SocketAddr, usize, u32)> {
    let min = IDLE_MIN_MS.max(u32::try_from(ctx.interval_ms).unwrap_or(u32::MAX));
    // Per peer: connections, idle ones, the shortest idle time.
    let mut peers: BTreeMap<(u64, IpAddr, u16), (usize, usize, u32)> = BTreeMap::new();
    for fd in &p.sockets {
        let Some(s) = ctx.last.socket(fd.inode) else { continue };
        if s.state != TcpState::Established || !ctx.last.is_outbound(s) {
            continue;
        }
        let e = peers.entry((s.netns, s.remote, s.remote_port)).or_insert((0, 0, u32::MAX));
        e.0 += 1;
        let Some(i) = s.info else { continue };
        // The upstream spoke last or in the same jiffy: nothing awaits its answer.
        let answered = i.last_data_recv_ms <= i.last_data_sent_ms;
        let idle = i.last_data_sent_ms.min(i.last_data_recv_ms);
        if answered && idle >= min && s.send_q == 0 && s.recv_q == 0 {
            e.1 += 1;
            e.2 = e.2.min(idle);
        }
    }
    let ((netns, ip, port), (n, _, idle)) =
        peers.into_iter().filter(|(_, (n, idle, _))| *n > 0 && idle == n).max_by_key(|(_, (n, _, _))| *n)?;
    Some((netns, SocketAddr::new(ip, port), n, idle))
}

/// What the threads' own frames say, where they were read: whether the
/// handlers' largest group passes through a pool's checkout (`None`: no
/// frames of a runtime were read).
fn frames_say_pool(p: &Process, waiting: &[u32]) -> Option<bool> {
    if let Some(py) = runtime::python_threads(p).filter(|t| !t.groups.is_empty()) {
        let g = runtime::busiest_group(py, |tid| waiting.contains(&tid)).or(py.groups.first())?;
        return Some(runtime::through_a_pool(g.frames.iter().map(|f| (f.function.as_str(), f.file.as_str()))));
    }
    if let Some((_, t)) = runtime::java_group(p) {
        let names = t.frames.iter().map(|f| (f.method.as_str(), f.source.as_deref().unwrap_or("")));
        return Some(runtime::through_a_pool(names));
    }
    let goroutines = p.threads.iter().find_map(|t| t.user_stack.as_ref()?.goroutines.as_ref())?;
    let g = goroutines.first()?;
    let names = g.frames.iter().filter_map(|f| Some((f.function.as_deref()?, f.file.as_deref().unwrap_or(""))));
    Some(
        runtime::through_a_pool(names)
            || g.frames.iter().any(|f| f.function.as_deref() == Some("database/sql.(*DB).conn")),
    )
}
