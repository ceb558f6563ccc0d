//! A path of the wait graph as the contract's `waits_on` (model `chain`):
//! each step's processes, what they wait on, and the processes it leads to.

use super::path::{Next, Path, Step, ToPeers, Via};
use crate::facts::index::endpoint;
use crate::Ctx;
use unwedge_model::chain::{Hop, Queue, Target, TargetKind};

fn comm(ctx: &Ctx, pids: &[u32]) -> String {
    pids.iter().find_map(|&p| ctx.last.process(p)).map(|p| p.comm.clone()).unwrap_or_default()
}

/// Whether a listener holding `queued` of `backlog` is full: a TCP one
/// drops SYNs at `backlog` (as the kernel's own check reads it with the
/// one-more it admits), a unix one refuses connect()s past `backlog` + 1.
pub fn full(via: &Via, queued: u32, backlog: u32) -> bool {
    match via {
        Via::Unix(_) => queued > backlog,
        _ => queued > 0 && queued >= backlog,
    }
}

fn target(ctx: &Ctx, next: &Next, cycle: bool) -> Target {
    let counted = |kind, threads: usize, of: Option<usize>| Target { threads: Some(threads), of, ..Target::new(kind) };
    match next {
        Next::Peers(t) => leads_on(ctx, t, cycle),
        Next::Remote { peer, connections, .. } => Target {
            peer: Some(endpoint(peer.ip(), peer.port())),
            connections: Some(*connections),
            ..Target::new(TargetKind::Remote)
        },
        Next::Lock { threads, of } => counted(TargetKind::Lock, *threads, Some(*of)),
        Next::Sleep { threads, of, syscall } => {
            Target { syscall: Some(syscall.clone()), ..counted(TargetKind::Sleep, *threads, Some(*of)) }
        }
        Next::Dns { server } => Target { server: Some(server.clone()), ..Target::new(TargetKind::Dns) },
        Next::Cpu { threads, of } => counted(TargetKind::Cpu, *threads, Some(*of)),
        Next::Stopped { state } => Target { state: Some(state.to_string()), ..Target::new(TargetKind::Stopped) },
        Next::PeersNotReading { threads } => counted(TargetKind::PeersNotReading, *threads, None),
        Next::FdLimit { open, limit } => {
            Target { open_fds: Some(*open), soft_limit: Some(*limit), ..Target::new(TargetKind::FdLimit) }
        }
        Next::IdleUpstream { peer, threads } => {
            Target { peer: Some(endpoint(peer.ip(), peer.port())), ..counted(TargetKind::IdleUpstream, *threads, None) }
        }
        Next::Connecting { peer, connections } => Target {
            peer: Some(endpoint(peer.ip(), peer.port())),
            connections: Some(*connections),
            ..Target::new(TargetKind::Connecting)
        },
        Next::Mount { threads, of, point, fs_type } => Target {
            path: Some(point.clone()),
            fs_type: Some(fs_type.clone()),
            ..counted(TargetKind::Mount, *threads, Some(*of))
        },
        Next::Unknown { lines } => Target { waits: lines.clone(), ..Target::new(TargetKind::Unknown) },
    }
}

/// A wait on other processes of this host.
fn leads_on(ctx: &Ctx, t: &ToPeers, cycle: bool) -> Target {
    let a = &t.across;
    let base = Target {
        pids: a.pids.clone(),
        comm: Some(comm(ctx, &a.pids)),
        connections: Some(a.connections),
        cycle,
        ..Default::default()
    };
    let queue = |base: Target| Target {
        queued: Some(a.queued),
        queue: a.listener.map(|(queued, backlog)| Queue { queued, backlog, full: full(&t.via, queued, backlog) }),
        ..base
    };
    match &t.via {
        Via::Tcp(addr) => Target { kind: TargetKind::Tcp, peer: Some(endpoint(addr.ip(), addr.port())), ..queue(base) },
        Via::Unix(path) => Target { kind: TargetKind::Unix, path: Some(path.clone()), ..queue(base) },
        Via::Pipe(inode) => Target { kind: TargetKind::Pipe, inode: Some(*inode), ..base },
    }
}

fn since(next: &Next) -> Option<u64> {
    match next {
        Next::Peers(t) => t.since_ms,
        Next::Remote { since_ms, .. } => *since_ms,
        _ => None,
    }
}

pub fn hop(ctx: &Ctx, step: &Step, cycle: bool) -> Hop {
    Hop {
        pids: step.pids.clone(),
        comm: comm(ctx, &step.pids),
        waiting: step.waiting,
        on: target(ctx, &step.next, cycle),
        since_ms: since(&step.next),
    }
}

/// The path as hops; empty when it stays within the processes it started
/// from (their finding's own evidence says that wait).
pub fn of(ctx: &Ctx, path: &Path) -> Vec<Hop> {
    if !path.crosses() {
        return Vec::new();
    }
    let last = path.steps.len().saturating_sub(1);
    path.steps.iter().enumerate().map(|(i, s)| hop(ctx, s, path.cycle && i == last)).collect()
}
