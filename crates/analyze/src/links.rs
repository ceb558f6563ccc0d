//! The second analysis pass, over the typed findings of every detector:
//! drop findings that another one already explains better, then give each
//! finding its id. Detectors never see each other's findings; everything
//! that relates one finding to another lives here.
//!
//! - `accept_stalled` gives way to `keepalive_starvation` on the same
//!   listener: the more specific diagnosis of the same stalled queue.
//! - `stuck_thread` findings whose waiting work is all named by another
//!   finding about the process (its CLOSE-WAIT sockets by `close_wait_leak`,
//!   its queue by `accept_stalled` / `keepalive_starvation`) are kept only
//!   for threads blocked on a TCP connection: those say which connection
//!   holds things up; a Go runtime thread parked in futex says nothing.
//! - `unanswered_requests` and `stuck_thread` are `caused_by` the finding
//!   about what their threads wait on: the listener finding on the upstream
//!   port they wait on, the reader of their full pipe, and (for unanswered
//!   requests) their own process's stuck threads, peers not reading, or its
//!   being stopped.

use crate::index::FastSet;
use crate::Ctx;
use unwedge_model::evidence::Work;
use unwedge_model::{sort_findings, Evidence, Finding, Group};

pub struct Linked {
    pub findings: Vec<Finding>,
    pub groups: Vec<Group>,
}

pub fn second_pass(_ctx: &Ctx, mut findings: Vec<Finding>) -> Linked {
    suppress_explained(&mut findings);
    sort_findings(&mut findings);
    for (i, f) in findings.iter_mut().enumerate() {
        f.id = format!("f{}", i + 1);
    }
    link_waits(&mut findings);
    Linked { findings, groups: Vec::new() }
}

/// `unanswered_requests` and `stuck_thread` are caused by what their threads
/// wait on, where another finding names it: the upstream's own finding (a
/// listener finding on the port they wait on), the reader of the full pipe,
/// and — for unanswered requests — the process's own stuck threads, peers
/// that stopped reading, or the process being stopped.
fn link_waits(findings: &mut [Finding]) {
    use unwedge_model::evidence::WaitsOn;
    let mut causes: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let (waits, own): (&[WaitsOn], &[&str]) = match &f.evidence {
            Evidence::UnansweredRequests(e) => (&e.waits_on, &["stuck_thread", "peer_not_reading", "process_stopped"]),
            Evidence::StuckThread(e) => (&e.waits_on_typed, &["process_stopped"]),
            _ => continue,
        };
        let netns = f.netns.unwrap_or(0);
        let ids: Vec<String> = findings
            .iter()
            .filter(|g| g.id != f.id)
            .filter(|g| {
                let same_process = g.pid.is_some() && g.pid == f.pid && own.contains(&g.kind().name());
                let named = waits.iter().any(|w| match *w {
                    // The netns of a host-namespace finding is None; a socket's is the inode.
                    WaitsOn::Endpoint(ns, _, port) => {
                        g.port == Some(port)
                            && g.pid != f.pid
                            && g.kind().about() == unwedge_model::About::Listener
                            && (g.netns.unwrap_or(0) == netns || g.netns == Some(ns))
                    }
                    WaitsOn::Process(pid) => g.pid == Some(pid),
                });
                same_process || named
            })
            .map(|g| g.id.clone())
            .collect();
        if !ids.is_empty() {
            causes.push((i, ids));
        }
    }
    for (i, ids) in causes {
        for id in ids {
            if !findings[i].caused_by.contains(&id) {
                findings[i].caused_by.push(id);
            }
        }
    }
}

/// What the findings name: pids whose CLOSE-WAIT sockets are a leak, and
/// (pid, port) of listeners whose queue is stalled.
#[derive(Default)]
struct Named {
    close_wait: FastSet<u32>,
    queue: FastSet<(u32, u16)>,
    /// (netns, port, pid) of listeners starved by keep-alive.
    starved: FastSet<(u64, u16, u32)>,
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
            _ => {}
        }
    }
    n
}

fn suppress_explained(findings: &mut Vec<Finding>) {
    let n = named(findings);
    findings.retain(|f| match &f.evidence {
        Evidence::AcceptStalled(_) => {
            !matches!((f.port, f.pid), (Some(port), Some(pid)) if n.starved.contains(&(f.netns.unwrap_or(0), port, pid)))
        }
        Evidence::StuckThread(e) => {
            let Some(pid) = f.pid else { return true };
            let explained = |w: &Work| match w {
                Work::AcceptQueue { port } => n.queue.contains(&(pid, *port)),
                Work::CloseWait => n.close_wait.contains(&pid),
                Work::UnreadBytes | Work::PendingSignal => false,
            };
            e.on_connection || !e.work.iter().all(explained)
        }
        _ => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::evidence::{StuckThread, UnansweredRequests, WaitsOn};
    use unwedge_model::Severity;

    fn with_id(mut f: Finding, id: &str, pid: u32, port: Option<u16>) -> Finding {
        f.id = id.into();
        f.pid = Some(pid);
        f.port = port;
        f
    }

    #[test]
    fn unanswered_requests_are_caused_by_what_their_threads_wait_on() {
        let lo = "127.0.0.1".parse().unwrap();
        let app = UnansweredRequests {
            waits_on: vec![WaitsOn::Endpoint(0, lo, 5432), WaitsOn::Process(30)],
            ..Default::default()
        };
        let mut findings = vec![
            with_id(Finding::new(Severity::Critical, app), "f1", 10, Some(8080)),
            // The upstream listener's own finding.
            with_id(Finding::new(Severity::Warning, UnansweredRequests::default()), "f2", 20, Some(5432)),
            // The pipe reader's finding.
            with_id(Finding::new(Severity::Warning, StuckThread::default()), "f3", 30, None),
            // The app's own stuck thread.
            with_id(Finding::new(Severity::Warning, StuckThread::default()), "f4", 10, None),
            // Unrelated: another process on another port.
            with_id(Finding::new(Severity::Warning, UnansweredRequests::default()), "f5", 40, Some(9999)),
        ];
        link_waits(&mut findings);
        assert_eq!(findings[0].caused_by, ["f2", "f3", "f4"]);
        assert!(findings[1].caused_by.is_empty() && findings[4].caused_by.is_empty());
    }
}
