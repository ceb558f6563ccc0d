//! The second look of a continuous scan: a short while after a snapshot,
//! the few processes and sockets its comparison with the previous one
//! could not judge (`LookPlan`, decided by the analysis) are read again,
//! and the snapshot is brought up to date with them: the rest of the host
//! is not read twice. The processes go through the cache (one that did
//! not run in between costs its stat and status), the sockets through one
//! filtered dump per namespace (listeners, and the CLOSE-WAIT, half-open
//! and ESTABLISHED connections on the ports the plan names).

use crate::walk::{self, Budget, ProcCache};
use crate::{netns, read_uptime, CollectError};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};
use unwedge_model::{CgroupSet, LookPlan, Snapshot, Socket, TcpState};

type Tuple = (u64, IpAddr, u16, IpAddr, u16);

fn tuple(s: &Socket) -> Tuple {
    (s.netns, s.local, s.local_port, s.remote, s.remote_port)
}

/// `snap`, brought up to date with a second look at what `plan` names.
pub(crate) fn look(
    mut snap: Snapshot,
    plan: &LookPlan,
    budget: Budget,
    cache: &mut ProcCache,
) -> Result<Snapshot, CollectError> {
    snap.taken_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    snap.uptime_s = read_uptime().unwrap_or(snap.uptime_s);
    // The namespaces the plan's processes live in (the host's at least).
    let mut spaces: BTreeMap<u64, u32> = BTreeMap::new();
    for p in snap.processes.iter().filter(|p| plan.pids.binary_search(&p.pid).is_ok()) {
        if p.netns != 0 {
            spaces.entry(p.netns).or_insert(p.pid);
        }
    }
    for (ns, pid) in spaces {
        let ports: Vec<u16> = plan.ports.iter().filter(|(n, _)| *n == ns).map(|(_, p)| *p).collect();
        let looked = if ns == snap.host_netns {
            let mut notes = Vec::new();
            let (n, s) = netns::look_here(ns, &ports, &mut notes);
            Ok((n, s, notes))
        } else {
            netns::look_in(pid, ns, ports.clone(), budget.until)
        };
        match looked {
            Ok((counters, Some(fresh), notes)) => {
                replace_sockets(&mut snap.sockets, ns, &ports, fresh);
                if let Some(n) = snap.netns.iter_mut().find(|n| n.inode == ns) {
                    let source = std::mem::take(&mut n.source);
                    *n = counters;
                    n.source = source;
                }
                add_notes(&mut snap.notes, notes);
            }
            Ok((_, None, notes)) => add_notes(&mut snap.notes, notes),
            Err(e) => snap.notes.push(format!("netns {ns}: the second look could not enter it: {e}")),
        }
    }
    reread_processes(&mut snap, plan, budget, cache)?;
    // The cgroups' counters (forks refused, throttling, stalls), read once per cgroup as a snapshot does.
    let sets = std::mem::take(&mut snap.cgroups.sets);
    let mut notes = Vec::new();
    snap.cgroups = crate::cgroups::read_all(sets, &snap.processes, &mut notes);
    add_notes(&mut snap.notes, notes);
    snap.memory_pressure = std::fs::read("/proc/pressure/memory").ok().and_then(|b| crate::parse::cgroup::psi(&b));
    Ok(snap)
}

fn add_notes(notes: &mut Vec<String>, new: Vec<String>) {
    for n in new {
        if !notes.contains(&n) {
            notes.push(n);
        }
    }
}

/// Replaces in `sockets` what the look dumped again in namespace `ns`
/// (`sock_diag::dump_look`): every listener there, and the CLOSE-WAIT,
/// half-open and ESTABLISHED ones on `ports`; a socket that changed state
/// since (an idle connection now in CLOSE-WAIT) is dropped from what stays.
fn replace_sockets(sockets: &mut Vec<Socket>, ns: u64, ports: &[u16], fresh: Vec<Socket>) {
    let every_port = ports.len() > crate::sock_diag::MAX_LOOK_PORTS;
    let inodes: HashSet<u64> = fresh.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
    let tuples: HashSet<Tuple> = fresh.iter().map(tuple).collect();
    sockets.retain(|s| {
        if s.netns != ns {
            return true;
        }
        let covered = match s.state {
            TcpState::Listen => true,
            TcpState::CloseWait | TcpState::SynRecv | TcpState::NewSynRecv | TcpState::Established => {
                every_port || ports.binary_search(&s.local_port).is_ok()
            }
            _ => false,
        };
        // A listener's 4-tuple is shared under SO_REUSEPORT: listeners are all covered.
        let known = s.inode != 0 && inodes.contains(&s.inode);
        !(covered || known || tuples.contains(&tuple(s)))
    });
    sockets.extend(fresh);
}

/// Reads the plan's processes again (through the cache) and puts them in
/// place of what the snapshot held; one gone since is dropped.
fn reread_processes(
    snap: &mut Snapshot,
    plan: &LookPlan,
    budget: Budget,
    cache: &mut ProcCache,
) -> Result<(), CollectError> {
    let mut w = walk::walk_pids(plan.pids.clone(), std::process::id(), budget, Some(&mut *cache))?;
    let pids: Vec<u32> = w.processes.iter().filter(|p| p.brief).map(|p| p.pid).collect();
    walk::add_detail_cached(&mut w, &pids, budget, walk::read_full, Some(&mut cache.stats))?;
    cache.update(&plan.pids, &w.processes, &w.info);
    // Their cgroup ids, as the snapshot numbers its sets.
    let ids: BTreeMap<u32, u32> =
        w.cgroup_sets.iter().map(|set| (set.id, cgroup_id(&mut snap.cgroups.sets, set))).collect();
    let mut fresh = w.processes.into_iter().peekable();
    let mut out = Vec::with_capacity(snap.processes.len());
    for p in std::mem::take(&mut snap.processes) {
        if plan.pids.binary_search(&p.pid).is_err() {
            out.push(p);
            continue;
        }
        while fresh.peek().is_some_and(|f| f.pid < p.pid) {
            fresh.next();
        }
        if let Some(mut f) = fresh.next_if(|f| f.pid == p.pid && f.start_ticks == p.start_ticks) {
            f.cgroup = f.cgroup.and_then(|id| ids.get(&id).copied());
            // What pass one does not read again (the resolver seen through its root).
            f.resolv_conf = p.resolv_conf;
            out.push(f);
        }
    }
    snap.processes = out;
    snap.skipped.retain(|s| plan.pids.binary_search(&s.pid).is_err());
    snap.skipped.extend(w.skipped);
    snap.skipped.sort_by_key(|s| s.pid);
    Ok(())
}

/// The id of the set with `set`'s entries in `sets`, added if new (its
/// cgroup directories are not read: the look compares processes, not
/// limits).
fn cgroup_id(sets: &mut Vec<CgroupSet>, set: &CgroupSet) -> u32 {
    if let Some(s) = sets.iter().find(|s| s.entries == set.entries) {
        return s.id;
    }
    let id = sets.iter().map(|s| s.id + 1).max().unwrap_or(0);
    sets.push(CgroupSet { id, entries: set.entries.clone() });
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(state: TcpState, port: u16, rport: u16, inode: u64) -> Socket {
        Socket {
            netns: 1,
            state,
            local: "127.0.0.1".parse().unwrap(),
            local_port: port,
            remote: "127.0.0.1".parse().unwrap(),
            remote_port: rport,
            recv_q: 0,
            send_q: 0,
            inode,
            uid: 0,
            info: None,
            drops: None,
        }
    }

    #[test]
    fn what_a_look_dumped_replaces_what_the_snapshot_held() {
        let mut s = vec![
            sock(TcpState::Listen, 80, 0, 1),
            sock(TcpState::CloseWait, 80, 5000, 2), // closed since: not in the look
            sock(TcpState::Established, 80, 5001, 3), // on a looked-at port
            sock(TcpState::Established, 9000, 5002, 4), // elsewhere: kept
            sock(TcpState::Established, 9000, 5003, 5), // now CLOSE-WAIT
            sock(TcpState::TimeWait, 9000, 5004, 0), // kept
        ];
        let mut other_ns = sock(TcpState::CloseWait, 80, 6000, 9);
        other_ns.netns = 2;
        s.push(other_ns);
        let fresh = vec![
            sock(TcpState::Listen, 80, 0, 1),
            sock(TcpState::Established, 80, 5001, 3),
            sock(TcpState::CloseWait, 9000, 5003, 5),
        ];
        replace_sockets(&mut s, 1, &[80], fresh);
        let mut got: Vec<(u64, TcpState)> = s.iter().map(|s| (s.inode, s.state)).collect();
        got.sort_by_key(|g| g.0);
        assert_eq!(
            got,
            vec![
                (0, TcpState::TimeWait),
                (1, TcpState::Listen),
                (3, TcpState::Established),
                (4, TcpState::Established),
                (5, TcpState::CloseWait),
                (9, TcpState::CloseWait),
            ]
        );
    }
}
