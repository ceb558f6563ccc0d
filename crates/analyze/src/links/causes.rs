//! Links each finding to the findings that caused it (`caused_by`), only
//! where the evidence shows the link, in the order of the module header
//! (links/mod.rs) so that they form no cycle; and links unanswered requests
//! and stuck threads to the finding about what their threads wait on, and
//! every finding a root explains (connects nothing answers, a mount that
//! does not answer, an event loop blocked by a stuck thread) to that root.

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
                    // Mounts and this process's own connects: `link_roots`.
                    WaitsOn::Mount(_) => false,
                });
                same_process || named
            })
            .map(|g| g.id.clone())
            .collect();
        if !ids.is_empty() {
            causes.push((i, ids));
        }
    }
    add_causes(findings, causes);
}

/// Whether finding `g` is the root a wait names for a finding about `pid`:
/// the connects of that process to that endpoint, or the mount its threads
/// block on.
/// Adds each finding's causes (by index) that it does not have yet.
fn add_causes(findings: &mut [Finding], causes: Vec<(usize, Vec<String>)>) {
    for (i, ids) in causes {
        for id in ids {
            if !findings[i].caused_by.contains(&id) {
                findings[i].caused_by.push(id);
            }
        }
    }
}

fn names_root(g: &Finding, pid: u32, w: &WaitsOn) -> bool {
    if g.pid != Some(pid) {
        return false;
    }
    match (&g.evidence, *w) {
        (Evidence::ConnectUnanswered(e), WaitsOn::Endpoint(_, ip, port)) => {
            e.remote == unwedge_model::fmt::endpoint(ip, port)
        }
        (Evidence::MountUnresponsive(e), WaitsOn::Mount(id)) => e.mount_id == id,
        _ => false,
    }
}

/// Links to the roots this analysis names: a process's unanswered
/// requests, stuck threads and stalled accept queue to its connects that
/// nothing answers or the mount its threads block on; a stalled queue to
/// the stuck thread that is its blocked event loop; a mount that does not
/// answer to its stopped daemon.
pub fn link_roots(findings: &mut [Finding]) {
    let mut causes: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let Some(pid) = f.pid else { continue };
        let (pids, waits, loop_tid): (Vec<u32>, Vec<WaitsOn>, Option<u32>) = match &f.evidence {
            Evidence::UnansweredRequests(e) => (vec![pid], e.waits_on(), None),
            Evidence::StuckThread(e) => (vec![pid], e.waits_on.iter().flat_map(ThreadsWait::targets).collect(), None),
            Evidence::AcceptStalled(e) => {
                (accepting(f), e.waits_on.clone(), e.event_loop_blocked.as_ref().map(|b| b.tid))
            }
            Evidence::MountUnresponsive(e) => (e.daemon.iter().map(|d| d.pid).collect(), Vec::new(), None),
            _ => continue,
        };
        let ids: Vec<String> = findings
            .iter()
            .filter(|g| g.id != f.id)
            .filter(|g| {
                let root = pids.iter().any(|&p| waits.iter().any(|w| names_root(g, p, w)));
                let blocked_loop = loop_tid.is_some()
                    && g.kind() == Kind::StuckThread
                    && g.tid == loop_tid
                    && pids.contains(&g.pid.unwrap_or(0));
                let stopped_daemon = matches!(f.evidence, Evidence::MountUnresponsive(_))
                    && g.kind() == Kind::ProcessStopped
                    && g.pid.is_some_and(|p| pids.contains(&p));
                root || blocked_loop || stopped_daemon
            })
            .map(|g| g.id.clone())
            .collect();
        if !ids.is_empty() {
            causes.push((i, ids));
        }
    }
    add_causes(findings, causes);
}

/// A listener, as findings name it: a TCP port or a unix path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Listener {
    Port(u16),
    Path(String),
}

fn listener(f: &Finding) -> Option<Listener> {
    f.port.map(Listener::Port).or_else(|| f.path.clone().map(Listener::Path))
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
    // Stalled queues: (netns, listener) -> the stall's id.
    let mut stalls: FastMap<(u64, Listener), String> = FastMap::default();
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
            if let Some(l) = listener(f) {
                stalls.insert((f.netns.unwrap_or(0), l), f.id.clone());
            }
            if let Some(port) = f.port {
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
                    if let Some(l) = listener(f) {
                        causes.extend(stalls.get(&(f.netns.unwrap_or(0), l)).cloned());
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
                owes_since_ms: Some(30_000),
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

    #[test]
    fn roots_explain_their_process_findings() {
        use unwedge_model::evidence::{AcceptStalled, ConnectUnanswered, EventLoopBlocked, MountUnresponsive};
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let nginx = UnansweredRequests {
            connecting: Some(Box::new(ThreadsWait::Connecting {
                connections: 4,
                netns: 0,
                peer: std::net::SocketAddr::new(lo, 9090),
                syn_retransmits: 6,
                oldest_first_syn_ms: 10_000,
                lower_bound: false,
                local_queue: None,
            })),
            ..Default::default()
        };
        let connects = |remote: &str| ConnectUnanswered { remote: remote.into(), ..Default::default() };
        let loop_stall = AcceptStalled {
            listen: "127.0.0.1:8000".into(),
            queued: 3,
            backlog: 100,
            waiting_whole_interval: 3,
            waiting: Vec::new(),
            accepted_during_interval: 0,
            established_connections_held: 1,
            owners: vec![50],
            accepting: vec![50],
            accepting_threads: Vec::new(),
            event_loop_blocked: Some(EventLoopBlocked { tid: 50, ..Default::default() }),
            waits_on: Vec::new(),
        };
        let mut stuck = with_id(Finding::new(Severity::Warning, StuckThread::default()), "f6", 50, None);
        stuck.tid = Some(50);
        let mut other_thread = with_id(Finding::new(Severity::Warning, StuckThread::default()), "f7", 50, None);
        other_thread.tid = Some(51);
        let mut findings = vec![
            with_id(Finding::new(Severity::Warning, nginx), "f1", 10, Some(8080)),
            with_id(Finding::new(Severity::Warning, connects("127.0.0.1:9090")), "f2", 10, None),
            // Another destination of the same process, and the same one of another process: not the cause.
            with_id(Finding::new(Severity::Warning, connects("127.0.0.1:9091")), "f3", 10, None),
            with_id(Finding::new(Severity::Warning, connects("127.0.0.1:9090")), "f4", 11, None),
            with_id(Finding::new(Severity::Critical, loop_stall), "f5", 50, Some(8000)),
            stuck,
            other_thread,
            with_id(Finding::new(Severity::Warning, MountUnresponsive::default()), "f8", 60, None),
        ];
        link_roots(&mut findings);
        assert_eq!(findings[0].caused_by, ["f2"]);
        assert_eq!(findings[4].caused_by, ["f6"], "the stuck thread that is the blocked loop, not its sibling");
        assert!(findings[7].caused_by.is_empty(), "a mount with no stopped daemon has no cause here");
    }
}
