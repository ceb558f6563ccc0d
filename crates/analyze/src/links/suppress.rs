//! Drops findings another finding already explains better: a stalled
//! queue that keep-alive starvation names more precisely, stuck threads
//! whose waiting work other findings name (unless the thread waits on a
//! connection: that says which one holds things up), and the info-level
//! unanswered requests of a server at its fd limit whose partial requests
//! its `fd_exhaustion` already tells as what holds its fds.

use crate::facts::index::FastSet;
use unwedge_model::evidence::Work;
use unwedge_model::{Evidence, Finding};

/// What the findings name: pids whose CLOSE-WAIT sockets are a leak, and
/// (pid, port) of listeners whose queue is stalled.
#[derive(Default)]
struct Named {
    close_wait: FastSet<u32>,
    queue: FastSet<(u32, u16)>,
    /// (netns, port, pid) of listeners starved by keep-alive.
    starved: FastSet<(u64, u16, u32)>,
    /// pid -> connections holding partial requests that its fd_exhaustion tells.
    partial: Vec<(u32, usize)>,
}

fn named(findings: &[Finding]) -> Named {
    let mut n = Named::default();
    for f in findings {
        match &f.evidence {
            Evidence::CloseWaitLeak(e) => {
                n.close_wait.extend(f.pid);
                n.close_wait.extend(e.shared_with.iter().flatten().copied());
            }
            Evidence::AcceptStalled(_) | Evidence::KeepaliveStarvation(_) => {
                let Some(port) = f.port else { continue };
                for &pid in f.pid.iter().chain(f.evidence.owners()) {
                    n.queue.insert((pid, port));
                }
                if let (Evidence::KeepaliveStarvation(_), Some(pid)) = (&f.evidence, f.pid) {
                    n.starved.insert((f.netns.unwrap_or(0), port, pid));
                }
            }
            Evidence::FdExhaustion(e) => {
                if let (Some(pid), Some(pr)) = (f.pid, &e.partial_requests) {
                    n.partial.push((pid, pr.connections));
                }
            }
            _ => {}
        }
    }
    n
}

pub fn suppress_explained(findings: &mut Vec<Finding>) {
    let n = named(findings);
    findings.retain(|f| match &f.evidence {
        Evidence::AcceptStalled(_) => {
            !matches!((f.port, f.pid), (Some(port), Some(pid)) if n.starved.contains(&(f.netns.unwrap_or(0), port, pid)))
        }
        Evidence::StuckThread(e) => {
            let Some(pid) = f.pid else { return true };
            let explained = |w: &Work| match w {
                Work::AcceptQueue { listen, .. } => n.queue.contains(&(pid, listen.port())),
                Work::CloseWait { .. } => n.close_wait.contains(&pid),
                Work::UnreadBytes { .. } | Work::PendingSignal { .. } | Work::Reported(_) => false,
            };
            e.on_connection || !e.work.iter().all(explained)
        }
        // Info only (its server's event loop keeps the connections): told
        // beneath fd_exhaustion as the partial requests that hold its fds.
        Evidence::UnansweredRequests(e) => {
            f.severity != unwedge_model::Severity::Info
                || !n.partial.iter().any(|&(pid, held)| f.pid == Some(pid) && held >= e.unanswered)
        }
        _ => true,
    });
}
