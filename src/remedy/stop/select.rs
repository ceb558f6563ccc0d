//! Which processes `unwedge stop` would signal, and why: a pure function of
//! one snapshot and of who is running unwedge. No I/O, so every choice is
//! tested from recorded snapshots (tests/fixtures/stop/).
//!
//! By pid: that process, unless it is init, unwedge itself, one of its
//! ancestors or a kernel thread. By port: every holder of a LISTEN socket on
//! it, the orphaned workers of the holders' process groups (they are what
//! blocked story 1's restart, and one may hold no listener at all), and the
//! workers of a live master, which its exit would orphan.

use super::error::{Refusal, StopError, Via};
use super::{Outcome, Target, TargetReport};
use std::collections::{BTreeSet, HashSet};
use unwedge_analyze::index::{endpoint, Index};
use unwedge_analyze::process_tree::{group_members, is_orphaned_worker};
use unwedge_model::{Process, Snapshot};

const SIGTERM_BIT: u64 = 1 << (libc::SIGTERM - 1);

/// Who runs this unwedge, read at the edge: never to be signalled.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub pid: u32,
    /// Its ancestors up to init, nearest first, with their comm.
    pub ancestors: Vec<(u32, String)>,
    /// Root sees every process's fds; others may miss a port's holder.
    pub is_root: bool,
}

/// One target and the start time that pins it to this very process.
#[derive(Debug)]
pub struct Pick {
    pub target: TargetReport,
    pub start_ticks: u64,
}

#[derive(Debug)]
pub struct Selection {
    pub picks: Vec<Pick>,
    /// Ports to re-check afterwards: the one given, or those the pid listened on.
    pub ports: Vec<u16>,
    /// The host's namespace when every listener on `ports` lives there:
    /// one sock_diag dump then re-checks them.
    pub recheck_netns: Option<u64>,
}

/// The targets for `target` in `snap`, or why there are none to stop.
pub fn select(snap: &Snapshot, target: Target, caller: &Caller) -> Result<Selection, StopError> {
    let idx = Index::new(snap);
    let (found, ports) = match target {
        Target::Pid(pid) => by_pid(&idx, pid)?,
        Target::Port(port) => by_port(&idx, port, caller.is_root)?,
    };
    // Where the listeners live decides how cheaply the port can be re-checked.
    let host_only = idx.listeners().filter(|l| ports.contains(&l.local_port)).all(|l| l.netns == snap.host_netns);
    for (p, reason) in &found {
        let via = match target {
            Target::Port(port) => Some(Via { port, reason: reason.clone() }),
            Target::Pid(_) => None,
        };
        refuse(p.pid, caller, via)?;
    }
    let picks = found
        .iter()
        .map(|(p, reason)| Pick { target: describe_target(&idx, p, reason), start_ticks: p.start_ticks })
        .collect();
    Ok(Selection { picks, ports, recheck_netns: host_only.then_some(snap.host_netns) })
}

/// Refuses init, this unwedge and its ancestors; `via` says how a process
/// picked by port came to be a target.
pub fn refuse(pid: u32, caller: &Caller, via: Option<Via>) -> Result<(), StopError> {
    let why = if pid == 1 {
        Refusal::Init
    } else if pid == caller.pid {
        Refusal::Myself
    } else if let Some((_, comm)) = caller.ancestors.iter().find(|(a, _)| *a == pid) {
        Refusal::Ancestor { comm: comm.clone() }
    } else {
        return Ok(());
    };
    Err(StopError::Refused { pid, why, via })
}

/// One target found in the snapshot, with the reason it was picked.
type Found<'a> = (&'a Process, String);

fn by_pid<'a>(idx: &Index<'a>, pid: u32) -> Result<(Vec<Found<'a>>, Vec<u16>), StopError> {
    // A thread id is not listed in /proc: the caller tells that case apart.
    let p = idx.process(pid).ok_or(StopError::NotFound { pid })?;
    if p.pid == 2 || p.ppid == 2 {
        return Err(StopError::KernelThread { pid, comm: p.comm.clone() });
    }
    let ports: BTreeSet<u16> = idx
        .listeners()
        .filter(|l| l.inode != 0 && idx.owners_of(l.inode).contains(&pid))
        .map(|l| l.local_port)
        .collect();
    Ok((vec![(p, "named on the command line".into())], ports.into_iter().collect()))
}

fn by_port<'a>(idx: &Index<'a>, port: u16, is_root: bool) -> Result<(Vec<Found<'a>>, Vec<u16>), StopError> {
    let listeners: Vec<_> = idx.listeners().filter(|l| l.local_port == port).collect();
    if listeners.is_empty() {
        return Err(StopError::NotListening { port });
    }
    let mut found: Vec<Found<'a>> = Vec::new();
    let mut seen = HashSet::new();
    for l in &listeners {
        for &pid in idx.owners_of(l.inode) {
            if let Some(p) = idx.process(pid) {
                if seen.insert(pid) {
                    found.push((p, format!("holds LISTEN {}", endpoint(l.local, l.local_port))));
                }
            }
        }
    }
    if found.is_empty() {
        return Err(StopError::NoVisibleHolder { port, is_root });
    }
    // Orphaned workers of the holders' groups: they may hold connections or
    // re-open the port, and they are exactly what blocked story 1's restart.
    let holders: Vec<u32> = found.iter().map(|(p, _)| p.pid).collect();
    for pid in holders {
        let p = idx.process(pid).expect("found in the index");
        for m in group_members(idx.snap, p.pgid) {
            // A zombie member holds nothing and cannot be signalled away.
            if m.state != 'Z' && is_orphaned_worker(idx, m) && seen.insert(m.pid) {
                found.push((
                    m,
                    format!("orphaned worker of process group {} (its leader is gone), like pid {pid}", m.pgid),
                ));
            }
        }
    }
    // Workers of a master being stopped (its descendants in its group) would
    // be orphaned the moment it exits: the very leftovers this command is for.
    let mut i = 0;
    while i < found.len() {
        let (parent, pgid) = (found[i].0.pid, found[i].0.pgid);
        for c in &idx.snap.processes {
            if c.ppid == parent && c.pgid == pgid && c.state != 'Z' && seen.insert(c.pid) {
                found.push((
                    c,
                    format!("worker of pid {parent} in its process group (orphaned once pid {parent} exits)"),
                ));
            }
        }
        i += 1;
    }
    Ok((found, vec![port]))
}

fn describe_target(idx: &Index, p: &Process, reason: &str) -> TargetReport {
    let parent = idx.process(p.ppid).map(|pp| format!("{} (pid {})", pp.comm, pp.pid));
    let mut notes = Vec::new();
    let mut outcome = Outcome::WouldStop;
    match p.state {
        'Z' | 'X' => {
            outcome = Outcome::Zombie;
            let who = parent.clone().unwrap_or_else(|| format!("pid {}", p.ppid));
            notes.push(format!(
                "already dead (zombie): it holds no port or fd; only its parent {who} can remove it, by reaping it (wait); stop or fix the parent if it never does"
            ));
        }
        'D' => {
            // /proc/PID/wchan is the main thread's, whose tid is the pid.
            let wchan = p.threads.iter().find(|t| t.tid == p.pid).and_then(|t| t.wchan.as_deref());
            notes.push(d_state(wchan))
        }
        'T' | 't' => notes.push("stopped (T): it gets SIGCONT after SIGTERM so that it can act on it".into()),
        _ => {}
    }
    if outcome != Outcome::Zombie {
        let masks: Vec<_> = p.threads.iter().filter_map(|t| t.signals).collect();
        if masks.first().is_some_and(|m| m.ignored & SIGTERM_BIT != 0) {
            notes.push("ignores SIGTERM: expect SIGKILL after the grace period".into());
        } else if !masks.is_empty() && masks.iter().all(|m| m.blocked & SIGTERM_BIT != 0) {
            notes.push("blocks SIGTERM in every thread: only a signalfd or sigwait reader would see it".into());
        }
    }
    TargetReport {
        pid: p.pid,
        ppid: p.ppid,
        pgid: p.pgid,
        uid: p.uid,
        comm: p.comm.clone(),
        cmdline: p.cmdline.clone(),
        state: p.state.to_string(),
        reason: reason.to_string(),
        parent,
        notes,
        outcome,
        gone_ms: None,
    }
}

/// "in uninterruptible sleep (D) in WCHAN: SIGKILL acts only when that kernel call returns".
pub fn d_state(wchan: Option<&str>) -> String {
    let at = wchan.map(|w| format!(" in {w}")).unwrap_or_default();
    format!("in uninterruptible sleep (D){at}: SIGKILL acts only when that kernel call returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::Thread;

    /// `python3 tests/scenarios/remedy_orphans.py 3` run from a shell, then
    /// `unwedge scan --interval 0 --save-snapshot`: master 11048 (group 11042,
    /// the shell's job) and its workers 11089-11091, which ignore SIGTERM;
    /// 11091 closed its copy of the listener on 53471. Port 9000's listener
    /// belongs to init, whose fds were not readable. See the README there.
    const MASTER: &str = include_str!("../../../tests/fixtures/stop/master-and-workers.json");
    /// The same after `kill -9 11048`: the workers were re-parented to init,
    /// and the shell 11044 that ran the master is a zombie in group 11042.
    const ORPHANS: &str = include_str!("../../../tests/fixtures/stop/orphans-of-a-dead-master.json");
    const PORT: u16 = 53471;

    fn load(json: &str) -> Snapshot {
        let v: serde_json::Value = serde_json::from_str(json).expect("fixture is JSON");
        serde_json::from_value(v["snapshots"][0].clone()).expect("fixture is a snapshot")
    }

    /// The unwedge of the recording (pid 11093 in MASTER), with its real ancestors.
    fn recorded_caller(snap: &Snapshot, pid: u32) -> Caller {
        let idx = Index::new(snap);
        let mut ancestors = Vec::new();
        let mut p = idx.process(pid).expect("caller in the fixture");
        while let Some(pp) = idx.process(p.ppid) {
            ancestors.push((pp.pid, pp.comm.clone()));
            p = pp;
        }
        Caller { pid, ancestors, is_root: true }
    }

    fn elsewhere() -> Caller {
        Caller { pid: 99_999, ancestors: vec![(99_998, "sh".into()), (1, "init".into())], is_root: true }
    }

    fn picked(sel: &Selection) -> Vec<(u32, &str)> {
        sel.picks.iter().map(|p| (p.target.pid, p.target.reason.as_str())).collect()
    }

    #[test]
    fn port_of_a_live_master_takes_its_workers() {
        let snap = load(MASTER);
        let sel = select(&snap, Target::Port(PORT), &elsewhere()).unwrap();
        let by_fork = "worker of pid 11048 in its process group (orphaned once pid 11048 exits)";
        assert_eq!(
            picked(&sel),
            [
                (11048, "holds LISTEN 127.0.0.1:53471"),
                (11089, "holds LISTEN 127.0.0.1:53471"),
                (11090, "holds LISTEN 127.0.0.1:53471"),
                (11091, by_fork),
            ]
        );
        assert_eq!(sel.ports, [PORT]);
        assert_eq!(sel.recheck_netns, Some(snap.host_netns));
        let master = &sel.picks[0];
        assert_eq!(master.start_ticks, load(MASTER).processes.iter().find(|p| p.pid == 11048).unwrap().start_ticks);
        assert_eq!(master.target.parent.as_deref(), Some("bash (pid 11044)"));
        assert!(master.target.notes.is_empty(), "{:?}", master.target.notes);
        for w in &sel.picks[1..] {
            assert_eq!(w.target.notes, ["ignores SIGTERM: expect SIGKILL after the grace period"]);
            assert_eq!(w.target.outcome, Outcome::WouldStop);
        }
    }

    #[test]
    fn orphans_of_a_dead_master_are_found_by_group_and_its_zombie_is_not() {
        let snap = load(ORPHANS);
        let sel = select(&snap, Target::Port(PORT), &elsewhere()).unwrap();
        assert_eq!(
            picked(&sel),
            [
                (11089, "holds LISTEN 127.0.0.1:53471"),
                (11090, "holds LISTEN 127.0.0.1:53471"),
                (11091, "orphaned worker of process group 11042 (its leader is gone), like pid 11089"),
            ]
        );
        assert!(sel.picks.iter().all(|p| p.target.parent.as_deref() == Some("init (pid 1)")));
        // The zombie shell of that group, named by pid: already dead, and who must reap it.
        let sel = select(&snap, Target::Pid(11044), &elsewhere()).unwrap();
        let t = &sel.picks[0].target;
        assert_eq!(t.outcome, Outcome::Zombie);
        assert!(t.notes[0].starts_with("already dead (zombie)") && t.notes[0].contains("init (pid 1)"), "{t:?}");
        assert!(sel.ports.is_empty());
    }

    #[test]
    fn a_pid_brings_the_ports_it_listens_on() {
        let snap = load(MASTER);
        let sel = select(&snap, Target::Pid(11089), &elsewhere()).unwrap();
        assert_eq!(picked(&sel), [(11089, "named on the command line")]);
        assert_eq!(sel.ports, [PORT]);
        let sel = select(&snap, Target::Pid(11091), &elsewhere()).unwrap();
        assert!(sel.ports.is_empty(), "11091 closed its listener");
    }

    #[test]
    fn refuses_init_itself_and_its_ancestors() {
        let snap = load(MASTER);
        let me = recorded_caller(&snap, 11093);
        assert_eq!(me.ancestors.iter().map(|a| a.0).collect::<Vec<_>>(), [11042, 11041, 6287, 6279, 1]);
        let msg = |t| select(&snap, t, &me).unwrap_err().to_string();
        assert_eq!(
            msg(Target::Pid(1)),
            "refusing to stop pid 1 (init): stopping it would take the whole system or container down"
        );
        assert_eq!(msg(Target::Pid(11093)), "refusing to stop pid 11093: that is this unwedge itself");
        assert_eq!(
            msg(Target::Pid(11042)),
            "refusing to stop pid 11042 (bash): it is an ancestor of this unwedge (stopping it would end this session)"
        );
        assert!(matches!(
            select(&snap, Target::Pid(6279), &me),
            Err(StopError::Refused { pid: 6279, why: Refusal::Ancestor { .. }, via: None })
        ));
        // Its group's master is not its ancestor: stopping it is allowed.
        assert!(select(&snap, Target::Port(PORT), &me).is_ok());
        // An unwedge started from that master would be refused through the port.
        let child = Caller { pid: 4242, ancestors: vec![(11048, "python3".into()), (1, "init".into())], is_root: true };
        assert_eq!(
            select(&snap, Target::Port(PORT), &child).unwrap_err().to_string(),
            "refusing to stop pid 11048 (python3): it is an ancestor of this unwedge (stopping it would end this session) (it holds LISTEN 127.0.0.1:53471, port 53471)"
        );
    }

    #[test]
    fn init_holding_the_port_is_refused_through_it() {
        let mut snap = load(MASTER);
        let init = snap.processes.iter_mut().find(|p| p.pid == 1).unwrap();
        let inode = snap.sockets.iter().find(|s| s.local_port == 9000).unwrap().inode;
        init.sockets.push(unwedge_model::SocketFd { fd: 7, inode });
        assert_eq!(
            select(&snap, Target::Port(9000), &elsewhere()).unwrap_err().to_string(),
            "refusing to stop pid 1 (init): stopping it would take the whole system or container down (it holds LISTEN 0.0.0.0:9000, port 9000)"
        );
    }

    #[test]
    fn missing_targets() {
        let snap = load(MASTER);
        let msg = |t, is_root| select(&snap, t, &Caller { is_root, ..elsewhere() }).unwrap_err().to_string();
        assert!(matches!(select(&snap, Target::Pid(4242), &elsewhere()), Err(StopError::NotFound { pid: 4242 })));
        assert_eq!(msg(Target::Pid(4242), true), "no process with pid 4242");
        assert_eq!(msg(Target::Pid(2), true), "pid 2 (kthreadd) is a kernel thread: signals cannot stop it");
        assert_eq!(
            msg(Target::Pid(3), true),
            "pid 3 (pool_workqueue_release) is a kernel thread: signals cannot stop it"
        );
        assert_eq!(
            msg(Target::Port(1), true),
            "nothing listens on TCP port 1 (no LISTEN socket in any network namespace)"
        );
        assert_eq!(msg(Target::Port(9000), true), "port 9000 has a LISTEN socket, but no visible process holds it");
        assert_eq!(
            msg(Target::Port(9000), false),
            "port 9000 has a LISTEN socket, but no visible process holds it (run as root to see other users' fds)"
        );
    }

    #[test]
    fn a_listener_in_another_namespace_needs_the_full_recheck() {
        let mut snap = load(MASTER);
        let mut other = snap.sockets.iter().find(|s| s.local_port == PORT).unwrap().clone();
        other.netns = snap.host_netns + 1;
        other.inode += 1;
        snap.sockets.push(other);
        assert_eq!(select(&snap, Target::Port(PORT), &elsewhere()).unwrap().recheck_netns, None);
    }

    #[test]
    fn notes_for_zombie_stopped_and_d_state() {
        let thread =
            |tid, wchan: Option<&str>| Thread { tid, state: 'D', wchan: wchan.map(Into::into), ..Default::default() };
        let snap = Snapshot {
            processes: vec![
                Process { pid: 10, ppid: 1, pgid: 10, comm: "master".into(), state: 'S', ..Default::default() },
                Process { pid: 11, ppid: 10, pgid: 10, comm: "worker".into(), state: 'Z', ..Default::default() },
                Process { pid: 12, ppid: 10, pgid: 10, state: 'T', ..Default::default() },
                Process {
                    pid: 13,
                    ppid: 10,
                    pgid: 10,
                    state: 'D',
                    threads: vec![thread(13, Some("fuse_wait_answer")), thread(14, None)],
                    ..Default::default()
                },
                Process { pid: 15, ppid: 99, pgid: 10, state: 'Z', ..Default::default() },
            ],
            ..Default::default()
        };
        let idx = Index::new(&snap);
        let notes = |pid| describe_target(&idx, idx.process(pid).unwrap(), "named").notes;
        let t = describe_target(&idx, idx.process(11).unwrap(), "named");
        assert_eq!(t.outcome, Outcome::Zombie);
        assert!(t.notes[0].contains("master (pid 10)"), "{:?}", t.notes);
        assert!(notes(15)[0].contains("only its parent pid 99 can"), "{:?}", notes(15));
        assert!(notes(12)[0].starts_with("stopped (T)"));
        assert_eq!(
            notes(13),
            ["in uninterruptible sleep (D) in fuse_wait_answer: SIGKILL acts only when that kernel call returns"]
        );
        assert_eq!(d_state(None), "in uninterruptible sleep (D): SIGKILL acts only when that kernel call returns");
    }
}
