//! The second analysis pass, over the typed findings of every detector:
//! drop findings that another one already explains better, give each
//! finding its id, link consequences to their cause (`caused_by`) and fold
//! sibling processes that fail the same way into one group. Detectors never
//! see each other's findings; everything that relates one finding to
//! another lives here.
//!
//! Suppression:
//! - `accept_stalled` gives way to `keepalive_starvation` on the same
//!   listener: the more specific diagnosis of the same stalled queue.
//! - `stuck_thread` findings whose waiting work is all named by another
//!   finding about the process (its CLOSE-WAIT sockets by `close_wait_leak`,
//!   its queue by `accept_stalled` / `keepalive_starvation`) are kept only
//!   for threads blocked on a TCP connection: those say which connection
//!   holds things up; a Go runtime thread parked in futex says nothing.
//!
//! Causes, only where the evidence shows the link (contract: "Links and
//! groups"); each link runs from a kind to one below it in this order, so
//! the links can form no cycle:
//! `process_stopped` > `keepalive_starvation` > `stuck_thread` >
//! `close_wait_leak` > `fd_exhaustion` > `accept_stalled` >
//! `accept_queue_overflow`.
//! - everything about a stopped process (its stuck threads, CLOSE-WAIT
//!   sockets, unreaped children), and a listener whose accepting processes
//!   are all stopped, is caused by its `process_stopped`;
//! - CLOSE-WAIT sockets pile up because the threads of that process that
//!   would close them are stuck (`stuck_thread` with CLOSE-WAIT work);
//! - a process at its fd limit whose fds are mostly CLOSE-WAIT sockets is
//!   there because of its `close_wait_leak`;
//! - a stalled (or full) queue whose accepting processes are all at their
//!   fd limit (critical `fd_exhaustion`: accept() fails with EMFILE);
//! - a full queue on a listener whose stall is named is its consequence;
//! - a thread stuck reading a connection of a listener starved by keep-alive
//!   is the slot that connection holds (story 3 seen from the thread).
//!
//! Groups: findings of one kind about sibling processes — the same parent,
//! the same program, and (for stuck threads) the same wait — share a group
//! when there are at least two such processes: N forked workers stuck the
//! same way are one story, not N.
//! - `unanswered_requests` and `stuck_thread` are `caused_by` the finding
//!   about what their threads wait on: the listener finding on the upstream
//!   port they wait on, the reader of their full pipe, and (for unanswered
//!   requests) their own process's stuck threads, peers not reading, or its
//!   being stopped.

use crate::facts::index::{endpoint, FastMap, FastSet};
use crate::facts::syscalls::Call;
use crate::Ctx;
use std::collections::BTreeMap;
use unwedge_model::evidence::Work;
use unwedge_model::{sort_findings, Evidence, Finding, Group, Kind, Process, Severity, Snapshot, TcpState};

pub struct Linked {
    pub findings: Vec<Finding>,
    pub groups: Vec<Group>,
}

pub fn second_pass(ctx: &Ctx, mut findings: Vec<Finding>) -> Linked {
    suppress_explained(&mut findings);
    sort_findings(&mut findings);
    for (i, f) in findings.iter_mut().enumerate() {
        f.id = format!("f{}", i + 1);
    }
    link_causes(&mut findings);
    link_waits(&mut findings);
    let groups = group_siblings(ctx, &mut findings);
    Linked { findings, groups }
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

fn link_causes(findings: &mut [Finding]) {
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
            if e.work.contains(&Work::CloseWait) {
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

/// The program a process runs, as a person names it: the script for an
/// interpreter ("forking_proxy.py" rather than "python3"), else its comm.
pub fn program(p: &Process) -> String {
    let interpreter = ["python", "perl", "ruby", "node", "php", "bash", "sh", "dash"].iter().any(|i| {
        p.comm == *i || p.comm.strip_prefix(i).is_some_and(|r| r.chars().all(|c| c.is_ascii_digit() || c == '.'))
    });
    if interpreter {
        let mut args = p.cmdline.split_whitespace().skip(1);
        while let Some(a) = args.next() {
            if a == "-m" {
                if let Some(m) = args.next() {
                    return m.to_string();
                }
            }
            if a.starts_with('-') {
                continue;
            }
            return a.rsplit('/').next().unwrap_or(a).to_string();
        }
    }
    p.comm.clone()
}

/// What one process's stuck threads wait on, to tell "stuck the same way"
/// and to say it in a headline: the syscalls of its stuck threads, and the
/// connection an on-connection thread reads.
struct Wait {
    syscalls: Vec<String>,
    peer: Option<String>,
    /// The phrase after "each": "waits on an idle keep-alive upstream to …".
    phrase: String,
}

fn stuck_wait(ctx: &Ctx, p: &Process, members: &[&Finding]) -> Wait {
    let mut syscalls: Vec<String> = Vec::new();
    let mut peer = None;
    let mut phrase = None;
    for f in members {
        let Evidence::StuckThread(e) = &f.evidence else { continue };
        syscalls.extend(e.thread.syscall.clone());
        syscalls.extend(e.other_stuck_threads.iter().map(|t| t.syscall.clone()));
        if !e.on_connection || phrase.is_some() {
            continue;
        }
        let Some(t) = p.threads.iter().find(|t| Some(t.tid) == f.tid) else { continue };
        let Some(call) = Call::of(ctx.snap().arch.as_str(), t) else { continue };
        let Some(s) = crate::facts::threads::waited_connection(&ctx.last, p, &call) else { continue };
        let name = &call.name;
        let remote = endpoint(s.remote, s.remote_port);
        // An upstream is a connection this process opened: its local port
        // is not one something here listens on.
        let upstream = ctx.last.is_outbound(s);
        let idle = s.info.is_some_and(|i| i.last_data_recv_ms >= ctx.t.idle_ms && i.last_data_sent_ms >= ctx.t.idle_ms);
        let answered = s.info.and_then(|i| i.bytes_received).map(|b| b > 0);
        let what = match (upstream, idle, answered) {
            (true, true, Some(true)) => format!("waits on an idle keep-alive upstream to {remote}"),
            (true, _, Some(false)) => format!("waits for an answer from upstream {remote} that never came"),
            (true, _, _) => format!("waits in {name} on upstream {remote}"),
            (false, _, _) => format!("waits in {name} on its client {remote}"),
        };
        peer = Some(remote);
        phrase = Some(what);
    }
    // Served sockets in CLOSE-WAIT: the client hung up and nobody closed.
    let client_left = p
        .sockets
        .iter()
        .filter_map(|fd| ctx.last.socket(fd.inode))
        .any(|s| s.state == TcpState::CloseWait && ctx.last.is_served(s));
    syscalls.sort();
    syscalls.dedup();
    let phrase = match phrase {
        Some(w) if client_left => format!("{w} after its client left"),
        Some(w) => w,
        None => format!("has threads stuck in {} while work waits", syscalls.join(", ")),
    };
    Wait { syscalls, peer, phrase }
}

fn age(s: u64) -> String {
    if s >= 120 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

fn group_phrase(kind: Kind, members: &[&Finding]) -> String {
    match kind {
        Kind::FdExhaustion => {
            let top = members
                .iter()
                .filter_map(|f| match &f.evidence {
                    Evidence::FdExhaustion(e) => Some(e.percent),
                    _ => None,
                })
                .fold(0.0f64, f64::max);
            format!("each is near its file-descriptor limit (up to {top:.0}%)")
        }
        Kind::CloseWaitLeak => {
            let sum: usize = members
                .iter()
                .filter_map(|f| match &f.evidence {
                    Evidence::CloseWaitLeak(e) => Some(e.close_wait),
                    _ => None,
                })
                .sum();
            format!("each holds sockets in CLOSE-WAIT it never closed ({sum} in all)")
        }
        Kind::BlockedSignal => "each has a signal blocked in every thread".into(),
        Kind::SigtermBlocked => "plain kill (SIGTERM) stops none of them".into(),
        Kind::OrphanPortHolder => "their master is gone and they still hold its listening port".into(),
        Kind::Zombie => "each leaves children unreaped".into(),
        Kind::ProcessStopped => "all are stopped".into(),
        k => format!("each has the same {k} finding"),
    }
}

fn group_siblings(ctx: &Ctx, findings: &mut [Finding]) -> Vec<Group> {
    let snap: &Snapshot = ctx.snap();
    // (kind, parent, program, wait) -> member finding indexes.
    let mut keys: BTreeMap<(Kind, u32, String, String), Vec<usize>> = BTreeMap::new();
    let mut per_pid: FastMap<(Kind, u32), Vec<usize>> = FastMap::default();
    for (i, f) in findings.iter().enumerate() {
        if let (Some(pid), unwedge_model::About::Process | unwedge_model::About::Thread) = (f.pid, f.kind().about()) {
            per_pid.entry((f.kind(), pid)).or_default().push(i);
        }
    }
    let mut waits: FastMap<u32, Wait> = FastMap::default();
    for (&(kind, pid), idx) in &per_pid {
        let Some(p) = ctx.last.process(pid) else { continue };
        let sig = if kind == Kind::StuckThread {
            let members: Vec<&Finding> = idx.iter().map(|&i| &findings[i]).collect();
            let w = stuck_wait(ctx, p, &members);
            let sig = format!("{}|{}", w.syscalls.join(","), w.peer.clone().unwrap_or_default());
            waits.insert(pid, w);
            sig
        } else {
            String::new()
        };
        keys.entry((kind, p.ppid, program(p), sig)).or_default().extend(idx.iter().copied());
    }
    let mut groups = Vec::new();
    for ((kind, ppid, prog, _), mut idx) in keys {
        let mut pids: Vec<u32> = idx.iter().filter_map(|&i| findings[i].pid).collect();
        pids.sort_by_key(|&p| (ctx.last.process(p).map(|p| p.start_ticks), p));
        pids.dedup();
        if pids.len() < 2 {
            continue;
        }
        let ages: Vec<u64> =
            pids.iter().map(|&p| ctx.last.process(p).map(|p| p.age_s(snap).round() as u64).unwrap_or(0)).collect();
        let oldest = pids[0];
        // The oldest process's finding stands for all; for stuck threads,
        // the one on a connection (it names what everything waits for).
        idx.sort_by_key(|&i| {
            let f = &findings[i];
            let on_conn = matches!(&f.evidence, Evidence::StuckThread(e) if e.on_connection);
            (f.pid != Some(oldest), !on_conn, f.tid)
        });
        let representative = findings[idx[0]].id.clone();
        let parent = ctx.last.process(ppid);
        let workers = parent.is_some_and(|pp| program(pp) == prog);
        let noun = match (ppid, workers) {
            (1, _) => "orphaned processes",
            (_, true) => "worker processes",
            _ => "processes",
        };
        let members: Vec<&Finding> = idx.iter().map(|&i| &findings[i]).collect();
        let title = match kind {
            Kind::StuckThread => format!(
                "{} {noun} of {prog} (parent {ppid}) piled up over the last {}: each {}",
                pids.len(),
                age(ages.iter().copied().max().unwrap_or(0)),
                waits.get(&oldest).map(|w| w.phrase.as_str()).unwrap_or("is stuck the same way")
            ),
            k => format!("{} {noun} of {prog} (parent {ppid}): {}", pids.len(), group_phrase(k, &members)),
        };
        // A provisional id; the final ones follow report order (below).
        let id = format!("#{}", groups.len());
        for &i in &idx {
            findings[i].group = Some(id.clone());
        }
        groups.push(Group { id, kind, pids, title, parent: Some(ppid), program: prog, ages_s: ages, representative });
    }
    // In report order: the group whose representative comes first, first.
    let pos: FastMap<&str, usize> = findings.iter().enumerate().map(|(i, f)| (f.id.as_str(), i)).collect();
    groups.sort_by_key(|g| pos.get(g.representative.as_str()).copied().unwrap_or(usize::MAX));
    let renamed: FastMap<String, String> =
        groups.iter().enumerate().map(|(i, g)| (g.id.clone(), format!("g{}", i + 1))).collect();
    for g in groups.iter_mut() {
        g.id = renamed[&g.id].clone();
    }
    for f in findings.iter_mut() {
        if let Some(new) = f.group.as_ref().and_then(|g| renamed.get(g)) {
            f.group = Some(new.clone());
        }
    }
    groups
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
