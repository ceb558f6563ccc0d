//! Links each finding to the findings that caused it (`caused_by`), only
//! where the evidence shows the link, in the order of the module header
//! (links/mod.rs) so that they form no cycle; and links unanswered requests
//! and stuck threads to the finding about what their threads wait on.

use crate::facts::index::FastMap;
use unwedge_model::evidence::{ThreadsWait, WaitsOn, Work};
use unwedge_model::{About, Evidence, Finding, Kind, Severity};

/// `unanswered_requests` and `stuck_thread` are caused by what their threads
/// wait on, where another finding names it: the upstream's own finding (a
/// listener finding on the port they wait on), the reader of the full pipe,
/// and — for unanswered requests — the process's own stuck threads, peers
/// that stopped reading, or the process being stopped.
pub fn link_waits(findings: &mut [Finding]) {
    let mut causes: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let (waits, own): (Vec<WaitsOn>, &[Kind]) = match &f.evidence {
            Evidence::UnansweredRequests(e) => (
                e.waits_on(),
                &[Kind::StuckThread, Kind::PeerNotReading, Kind::ProcessStopped, Kind::BusyThread, Kind::CpuStarved],
            ),
            Evidence::StuckThread(e) => {
                (e.waits_on.iter().flat_map(ThreadsWait::targets).collect(), &[Kind::ProcessStopped])
            }
            _ => continue,
        };
        let netns = f.netns.unwrap_or(0);
        let ids: Vec<String> = findings
            .iter()
            .filter(|g| g.id != f.id)
            .filter(|g| {
                let same_process = g.pid.is_some() && g.pid == f.pid && own.contains(&g.kind());
                let named = waits.iter().any(|w| match *w {
                    // The netns of a host-namespace finding is None; a socket's is the inode.
                    WaitsOn::Endpoint(ns, _, port) => {
                        g.port == Some(port)
                            && g.pid != f.pid
                            && g.kind().about() == About::Listener
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

/// The processes that accept on a listener finding's socket.
fn accepting(f: &Finding) -> Vec<u32> {
    let listed: &[u32] = match &f.evidence {
        Evidence::AcceptStalled(e) => &e.accepting,
        Evidence::KeepaliveStarvation(e) => &e.accepting,
        Evidence::AcceptQueueOverflow(unwedge_model::evidence::AcceptQueueOverflow::Listener { accepting, .. }) => {
            accepting
        }
        _ => &[],
    };
    if listed.is_empty() {
        f.pid.into_iter().collect()
    } else {
        listed.to_vec()
    }
}

/// Ids of the findings of `kind` about each of `pids`, when every one of
/// them has one (the link holds for all accepting processes, or not at all).
fn all_have(by_pid: &FastMap<(Kind, u32), Vec<String>>, kind: Kind, pids: &[u32]) -> Vec<String> {
    let mut out = Vec::new();
    for pid in pids {
        match by_pid.get(&(kind, *pid)) {
            Some(ids) => out.extend(ids.iter().cloned()),
            None => return Vec::new(),
        }
    }
    out
}

pub fn link_causes(findings: &mut [Finding]) {
    let mut by_pid: FastMap<(Kind, u32), Vec<String>> = FastMap::default();
    // Stuck threads that hold CLOSE-WAIT sockets they would close, per pid.
    let mut closing_stuck: FastMap<u32, Vec<String>> = FastMap::default();
    // Stalled queues: (netns, port) -> the stall's id.
    let mut stalls: FastMap<(u64, u16), String> = FastMap::default();
    // Listeners starved by keep-alive: (netns, port) -> (id, accepting pids).
    let mut starved: FastMap<(u64, u16), (String, Vec<u32>)> = FastMap::default();
    for f in findings.iter() {
        let Some(pid) = f.pid else { continue };
        let at_limit = match &f.evidence {
            Evidence::FdExhaustion(e) => f.severity == Severity::Critical || e.open_fds as u64 + 1 >= e.soft_limit,
            _ => true,
        };
        if at_limit {
            by_pid.entry((f.kind(), pid)).or_default().push(f.id.clone());
        }
        // Descendants stopped with it are told in the same finding.
        if let Evidence::ProcessStopped(e) = &f.evidence {
            for &c in &e.also_stopped {
                by_pid.entry((Kind::ProcessStopped, c)).or_default().push(f.id.clone());
            }
        }
        if let Evidence::StuckThread(e) = &f.evidence {
            if e.work.iter().any(|w| matches!(w, Work::CloseWait { .. })) {
                closing_stuck.entry(pid).or_default().push(f.id.clone());
            }
        }
        if matches!(f.kind(), Kind::AcceptStalled | Kind::KeepaliveStarvation) {
            if let Some(port) = f.port {
                stalls.insert((f.netns.unwrap_or(0), port), f.id.clone());
                if f.kind() == Kind::KeepaliveStarvation {
                    starved.insert((f.netns.unwrap_or(0), port), (f.id.clone(), accepting(f)));
                }
            }
        }
    }
    let stopped = |pid: u32| by_pid.get(&(Kind::ProcessStopped, pid)).cloned().unwrap_or_default();
    for f in findings.iter_mut() {
        let Some(pid) = f.pid else { continue };
        let mut causes: Vec<String> = Vec::new();
        match f.kind() {
            Kind::StuckThread => {
                causes = stopped(pid);
                let on_connection = matches!(&f.evidence, Evidence::StuckThread(e) if e.on_connection);
                if causes.is_empty() && on_connection {
                    if let Some((id, acc)) = f.port.and_then(|port| starved.get(&(f.netns.unwrap_or(0), port))) {
                        if acc.contains(&pid) {
                            causes.push(id.clone());
                        }
                    }
                }
            }
            Kind::Zombie => causes = stopped(pid),
            Kind::CloseWaitLeak => {
                causes = stopped(pid);
                if causes.is_empty() {
                    causes = closing_stuck.get(&pid).cloned().unwrap_or_default();
                }
            }
            Kind::FdExhaustion => {
                if let Evidence::FdExhaustion(e) = &f.evidence {
                    if e.close_wait_sockets * 2 >= e.open_fds as usize {
                        causes = by_pid.get(&(Kind::CloseWaitLeak, pid)).cloned().unwrap_or_default();
                    }
                }
            }
            Kind::AcceptStalled | Kind::KeepaliveStarvation | Kind::AcceptQueueOverflow => {
                let acc = accepting(f);
                causes = all_have(&by_pid, Kind::ProcessStopped, &acc);
                if causes.is_empty() && f.kind() != Kind::KeepaliveStarvation {
                    causes = all_have(&by_pid, Kind::FdExhaustion, &acc);
                }
                // Every accepting process computing, or waiting for a CPU, the whole interval.
                if causes.is_empty() && f.kind() != Kind::KeepaliveStarvation {
                    causes = all_have(&by_pid, Kind::BusyThread, &acc);
                }
                if causes.is_empty() && f.kind() != Kind::KeepaliveStarvation {
                    causes = all_have(&by_pid, Kind::CpuStarved, &acc);
                }
                if causes.is_empty() && f.kind() == Kind::AcceptQueueOverflow {
                    if let Some(port) = f.port {
                        causes.extend(stalls.get(&(f.netns.unwrap_or(0), port)).cloned());
                    }
                }
            }
            _ => {}
        }
        causes.retain(|c| *c != f.id);
        causes.dedup();
        f.caused_by = causes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::evidence::{PipeReader, StuckThread, ThreadsWait, UnansweredRequests};
    use unwedge_model::Severity;

    fn with_id(mut f: Finding, id: &str, pid: u32, port: Option<u16>) -> Finding {
        f.id = id.into();
        f.pid = Some(pid);
        f.port = port;
        f
    }

    #[test]
    fn unanswered_requests_are_caused_by_what_their_threads_wait_on() {
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let app = UnansweredRequests {
            upstream: Some(ThreadsWait::Upstream {
                threads: 2,
                of: 2,
                worker_threads: false,
                netns: 0,
                peer: std::net::SocketAddr::new(lo, 5432),
                idle_ms: 30_000,
            }),
            pipe: Some(ThreadsWait::Pipe {
                threads: 1,
                inode: 7,
                readers: vec![PipeReader { pid: 30, comm: "logger".into(), state: 'T' }],
            }),
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
