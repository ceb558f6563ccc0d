//! Decides which waits, followed across processes, come back to a process
//! already on their path with every edge shown by the kernel for the whole
//! interval and at least one side unable to take work.

use crate::facts::graph::path::{Next, Path, Step, Via};
use crate::facts::graph::{hops, unix};
use crate::facts::index::endpoint;
use crate::facts::requests::owes_us;
use crate::facts::syscalls::Class;
use crate::facts::waits::{self, Wait};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::{CrossProcessDeadlock, DeadlockSide};
use unwedge_model::Severity;

pub struct Judged {
    pub verdict: Verdict<CrossProcessDeadlock>,
}

/// Processes holding a connection that owes them an answer (TCP), or
/// queued in another process's unix listener: where a cycle can start.
fn candidates(ctx: &Ctx) -> Vec<u32> {
    let mut pids: Vec<u32> = Vec::new();
    for s in &ctx.snap().sockets {
        if s.inode != 0 && owes_us(s).is_some() && ctx.last.is_outbound(s) {
            pids.extend(ctx.last.owners_of(s.inode));
        }
    }
    pids.extend(unix::queued_clients(ctx));
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The steps of the cycle a path ends in, the side with the lowest pid first.
fn cycle_of(path: &Path) -> Option<Vec<Step>> {
    let back = path.steps.last()?.next.peer_pids()?;
    let start = path.steps.iter().position(|s| s.pids.iter().any(|p| back.contains(p)))?;
    let mut steps = path.steps[start..].to_vec();
    let first = (0..steps.len()).min_by_key(|&i| steps[i].pids.iter().min().copied().unwrap_or(u32::MAX))?;
    steps.rotate_left(first);
    Some(steps)
}

fn via_words(via: &Via) -> String {
    match via {
        Via::Tcp(a) => format!("TCP {}", endpoint(a.ip(), a.port())),
        Via::Unix(p) => format!("unix:{p}"),
        Via::Pipe(i) => format!("pipe:[{i}]"),
    }
}

/// Whether a thread of `pids` sat the whole interval waiting for an answer:
/// reading an upstream that owes it one, or, over a unix socket, in a read;
/// or in its event loop (epoll, poll: the fds it waits on are not shown)
/// while it reads what its clients send (a loop that leaves a request
/// unread is not waiting on it, whatever else it polls).
fn waits_on_its_edge(ctx: &Ctx, pids: &[u32], via: &Via) -> bool {
    pids.iter().filter_map(|&pid| ctx.last.process(pid)).any(|p| {
        let leaves_unread = p.sockets.iter().filter_map(|fd| ctx.last.socket(fd.inode)).any(|s| {
            s.state == unwedge_model::TcpState::Established && s.recv_q > 0 && !ctx.last.is_outbound(s)
        });
        waits::classify(ctx, p).iter().any(|w| {
            w.whole_interval
                && match &w.wait {
                    Wait::Upstream { owes_ms, .. } => owes_ms.is_some(),
                    Wait::Poll => !leaves_unread,
                    Wait::Other => {
                        matches!(via, Via::Unix(_))
                            && w.syscall.as_deref().is_some_and(|s| Class::of(s).reads())
                    }
                    _ => false,
                }
        })
    })
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    if ctx.first.is_none() {
        return Vec::new();
    }
    let mut seen: Vec<Vec<u32>> = Vec::new();
    let mut out = Vec::new();
    for pid in candidates(ctx) {
        let path = ctx.graph.follow(ctx, &[pid]);
        if !path.cycle {
            continue;
        }
        let Some(steps) = cycle_of(&path) else { continue };
        let edges: Vec<_> = steps
            .iter()
            .filter_map(|s| match &s.next {
                Next::Peers(t) => Some(t),
                _ => None,
            })
            .collect();
        // Every edge shown for the whole interval, and one side that takes no work.
        let stuck_side = edges.iter().any(|t| t.across.queued_whole_interval || t.across.unread_whole_interval);
        if edges.len() != steps.len() || !edges.iter().all(|t| t.definite) || !stuck_side {
            continue;
        }
        // Every side waits itself: a process that only holds connections
        // (owed answers, requests it never reads) while its threads do
        // other things is the end of a chain, not half of a deadlock.
        if !steps.iter().zip(&edges).all(|(s, t)| waits_on_its_edge(ctx, &s.pids, &t.via)) {
            continue;
        }
        let mut pids: Vec<u32> = steps.iter().flat_map(|s| s.pids.iter().copied()).collect();
        pids.sort_unstable();
        pids.dedup();
        if seen.contains(&pids) {
            continue;
        }
        seen.push(pids.clone());
        let cycle: Vec<DeadlockSide> = steps
            .iter()
            .zip(&edges)
            .map(|(s, t)| DeadlockSide {
                pids: s.pids.clone(),
                comm: s.pids.iter().find_map(|&p| ctx.last.process(p)).map(|p| p.comm.clone()).unwrap_or_default(),
                waits_on: via_words(&t.via),
                connections: t.across.connections,
                queued: t.across.queued,
                waiting_ms: t.since_ms,
            })
            .collect();
        let first = steps[0].pids.iter().min().copied();
        // The way into the first side: the port (or path) its own waiters use.
        let into = edges.last().map(|t| t.via.clone());
        let netns = first.and_then(|p| ctx.last.process(p)).map(|p| p.netns).unwrap_or(0);
        let port = match &into {
            Some(Via::Tcp(a)) => Some(a.port()),
            _ => None,
        };
        let mut verdict =
            Verdict::new(Severity::Critical, first, port, netns, CrossProcessDeadlock { cycle, pids });
        if let Some(Via::Unix(p)) = into {
            verdict.path = Some(p);
        }
        let last = steps.len() - 1;
        verdict.waits_on = steps.iter().enumerate().map(|(i, s)| hops::hop(ctx, s, i == last)).collect();
        out.push(Judged { verdict });
    }
    out
}
