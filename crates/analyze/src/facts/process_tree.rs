//! Parentage and process groups, shared by the `orphan_port_holder`
//! detector and `unwedge stop --port` (which must find the same orphans),
//! and whether a process is stopped (`process_stopped`, and the accept
//! queue facts of the listener kinds).

use crate::facts::index::Index;
use unwedge_model::{Process, Snapshot};

/// A leftover worker: its process-group leader no longer exists (or is a
/// zombie: dead, waiting for an init that reaps slowly or never) and its
/// own parent is gone too (it was re-parented to init or a subreaper, so its
/// parent is no longer in its group). A normal daemon leads its own group
/// (setsid), so it never matches.
pub fn is_orphaned_worker(idx: &Index, p: &Process) -> bool {
    if p.pgid == 0 || p.pgid == p.pid || is_alive(idx, p.pgid) {
        return false;
    }
    match idx.process(p.ppid) {
        None => true,
        Some(parent) => p.ppid == 1 || parent.pgid != p.pgid,
    }
}

/// `pid` exists and is not a zombie.
pub fn is_alive(idx: &Index, pid: u32) -> bool {
    idx.process(pid).is_some_and(|q| q.state != 'Z')
}

/// Every process in group `pgid`, by pid.
pub fn group_members(snap: &Snapshot, pgid: u32) -> Vec<&Process> {
    snap.processes.iter().filter(|p| p.pgid == pgid && pgid != 0).collect()
}

/// Stopped by a signal or a tracer, or frozen, as one snapshot shows it.
pub fn looks_stopped(p: &Process) -> bool {
    if p.state == 'Z' {
        return false;
    }
    if p.frozen.is_some() {
        return true;
    }
    let live: Vec<char> = p.threads.iter().map(|t| t.state).filter(|&s| s != 'Z' && s != 'X').collect();
    if live.is_empty() {
        matches!(p.state, 'T' | 't')
    } else {
        live.iter().all(|s| matches!(s, 'T' | 't'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_(pid: u32, ppid: u32, pgid: u32) -> Process {
        Process { pid, ppid, pgid, sid: pgid, comm: "x".into(), state: 'S', ..Default::default() }
    }

    #[test]
    fn orphans_and_daemons() {
        let snap = Snapshot {
            processes: vec![
                proc_(1, 0, 1),
                proc_(100, 1, 100), // a daemon: leads its group
                proc_(201, 1, 200), // worker whose master (200) died
                proc_(300, 1, 300),
                proc_(301, 300, 300),                         // worker of a live master
                Process { state: 'Z', ..proc_(400, 1, 400) }, // a master killed, not yet reaped
                proc_(401, 1, 400),
            ],
            ..Default::default()
        };
        let idx = Index::new(&snap);
        let orphan = |pid| is_orphaned_worker(&idx, idx.process(pid).unwrap());
        assert!(!orphan(100));
        assert!(orphan(201));
        assert!(!orphan(301));
        assert!(orphan(401));
        assert_eq!(group_members(&snap, 300).len(), 2);
    }
}
