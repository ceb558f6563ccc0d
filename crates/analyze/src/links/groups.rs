//! Folds findings of one kind about sibling processes — the same parent,
//! the same program and, for stuck threads, the same wait — into one group
//! when there are at least two such processes: N forked workers stuck the
//! same way are one story, not N.

use crate::facts::index::{endpoint, FastMap};
use crate::facts::syscalls::Call;
use crate::Ctx;
use std::collections::BTreeMap;
use std::time::Duration;
use unwedge_model::{Evidence, Finding, Group, Kind, Process, Snapshot, TcpState};

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
        Kind::BusyThread => "each computes on a CPU the whole interval while its clients wait".into(),
        Kind::CpuStarved => "each waits for a CPU while its clients wait".into(),
        k => format!("each has the same {k} finding"),
    }
}

pub fn group_siblings(ctx: &Ctx, findings: &mut [Finding]) -> Vec<Group> {
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
                unwedge_model::fmt::age(Duration::from_secs(ages.iter().copied().max().unwrap_or(0))),
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
    groups
}
