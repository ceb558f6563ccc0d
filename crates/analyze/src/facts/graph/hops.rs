//! A path of the wait graph as the contract's `waits_on` (model `chain`):
//! each step's processes, what they wait on, and the processes it leads to.

use super::path::{Next, Path, Step, ToPeers, Via};
use crate::facts::index::endpoint;
use crate::Ctx;
use unwedge_model::chain::{Hop, Peers, Queue, Target};

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

fn peers(ctx: &Ctx, t: &ToPeers, cycle: bool) -> Peers {
    let a = &t.across;
    Peers {
        pids: a.pids.clone(),
        comm: comm(ctx, &a.pids),
        connections: a.connections,
        queued: a.queued,
        queue: a.listener.map(|(queued, backlog)| Queue { queued, backlog, full: full(&t.via, queued, backlog) }),
        cycle,
    }
}

fn target(ctx: &Ctx, next: &Next, cycle: bool) -> Target {
    match next {
        Next::Peers(t) => {
            let peers = peers(ctx, t, cycle);
            match &t.via {
                Via::Tcp(addr) => Target::Tcp { peer: endpoint(addr.ip(), addr.port()), peers },
                Via::Unix(path) => Target::Unix { path: path.clone(), peers },
                Via::Pipe(inode) => Target::Pipe { inode: *inode, peers },
            }
        }
        Next::Remote { peer, connections, .. } => {
            Target::Remote { peer: endpoint(peer.ip(), peer.port()), connections: *connections }
        }
        Next::Lock { threads, of } => Target::Lock { threads: *threads, of: *of },
        Next::Sleep { threads, of, syscall } => Target::Sleep { threads: *threads, of: *of, syscall: syscall.clone() },
        Next::Dns { server } => Target::Dns { server: server.clone() },
        Next::Cpu { threads, of } => Target::Cpu { threads: *threads, of: *of },
        Next::Stopped { state } => Target::Stopped { state: state.to_string() },
        Next::PeersNotReading { threads } => Target::PeersNotReading { threads: *threads },
        Next::FdLimit { open, limit } => Target::FdLimit { open_fds: *open, soft_limit: *limit },
        Next::IdleUpstream { peer, threads } => {
            Target::IdleUpstream { peer: endpoint(peer.ip(), peer.port()), threads: *threads }
        }
        Next::Unknown { lines } => Target::Unknown { threads: lines.clone() },
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
