//! Lookups over a snapshot's cgroups, shared by the limit detectors
//! (`pid_limit`, `cpu_throttled`, `memory_pressure`), the `container`
//! object of every finding:
//! which cgroup a process is in for a controller, which directories above
//! it carry a limit, which processes sit under a directory, and what work
//! those processes have waiting.

use crate::facts::index::{endpoint, FastMap};
use crate::Ctx;
use unwedge_model::{CgroupDir, CgroupSet, Container, Process, Snapshot, TcpState};

/// Built once per snapshot, on demand.
pub struct Cgroups<'a> {
    pub snap: &'a Snapshot,
    sets: FastMap<u32, &'a CgroupSet>,
    dirs: std::collections::HashMap<(&'a str, &'a str), &'a CgroupDir>,
}

impl<'a> Cgroups<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        let sets = snap.cgroups.sets.iter().map(|s| (s.id, s)).collect();
        let dirs = snap.cgroups.dirs.iter().map(|d| ((d.controllers.as_str(), d.path.as_str()), d)).collect();
        Cgroups { snap, sets, dirs }
    }

    pub fn set_of(&self, p: &Process) -> Option<&'a CgroupSet> {
        p.cgroup.and_then(|id| self.sets.get(&id).copied())
    }

    pub fn dir(&self, controllers: &str, path: &str) -> Option<&'a CgroupDir> {
        self.dirs.get(&(controllers, path)).copied()
    }

    /// Every directory read, the deepest first (a container's before its pod's).
    pub fn innermost_first(&self) -> Vec<&'a CgroupDir> {
        let mut v: Vec<&CgroupDir> = self.snap.cgroups.dirs.iter().collect();
        v.sort_by_key(|d| std::cmp::Reverse(d.path.matches('/').count()));
        v
    }

    /// The directories of the process's `controller` hierarchy from its own
    /// cgroup up to the root, those that were read (a limit or a state).
    pub fn chain(&self, p: &Process, controller: &str) -> Vec<&'a CgroupDir> {
        let Some(e) = self.set_of(p).and_then(|s| s.entry_for(controller)) else { return Vec::new() };
        std::iter::successors(Some(e.path.as_str()), |p| unwedge_model::parent_path(p))
            .filter_map(|path| self.dir(&e.controllers, path))
            .collect()
    }

    /// Processes whose cgroup of `dir`'s hierarchy is `dir` or below it.
    pub fn members(&self, dir: &CgroupDir) -> Vec<&'a Process> {
        let under = |path: &str| {
            path == dir.path
                || (path.starts_with(dir.path.as_str())
                    && (dir.path == "/" || path.as_bytes().get(dir.path.len()) == Some(&b'/')))
        };
        self.snap
            .processes
            .iter()
            .filter(|p| {
                self.set_of(p)
                    .is_some_and(|s| s.entries.iter().any(|e| e.controllers == dir.controllers && under(&e.path)))
            })
            .collect()
    }

    /// The container (or unit, or plain cgroup) of a process.
    pub fn container(&self, p: &Process) -> Option<Container> {
        let path = self.set_of(p)?.main_path()?;
        Some(Container::from_cgroup_or_bare(path)?.with_name(&self.snap.cgroups.names))
    }
}

/// The process to name for a cgroup's finding: among its members, one that
/// holds a listener, else the top of their process tree (its parent is not
/// a member), oldest first.
pub fn main_member(ctx: &Ctx, members: &[&Process]) -> Option<u32> {
    let pids: Vec<u32> = members.iter().map(|p| p.pid).collect();
    let listens = |p: &Process| p.sockets.iter().any(|fd| ctx.last.state_of(fd.inode) == Some(TcpState::Listen));
    let top = |p: &Process| !pids.contains(&p.ppid);
    let mut sorted: Vec<&Process> = members.to_vec();
    sorted.sort_by_key(|p| (p.start_ticks, p.pid));
    sorted
        .iter()
        .find(|p| top(p) && listens(p))
        .or_else(|| sorted.iter().find(|p| listens(p)))
        .or_else(|| sorted.iter().find(|p| top(p)))
        .or_else(|| sorted.first())
        .map(|p| p.pid)
}

/// Work the processes have waiting now: connections queued on their
/// listeners, and bytes unread on connections they serve (on a port
/// something listens on). A client's pooled connection holding unread bytes
/// is not server work, and a batch job has none.
pub fn waiting_work(ctx: &Ctx, members: &[&Process]) -> Vec<String> {
    let mut out = Vec::new();
    let mut unread = 0usize;
    for p in members {
        for fd in &p.sockets {
            let Some(s) = ctx.last.socket(fd.inode) else { continue };
            match s.state {
                TcpState::Listen if s.recv_q > 0 => out.push(format!(
                    "{} connections wait in the accept queue of {} ({})",
                    s.recv_q,
                    endpoint(s.local, s.local_port),
                    crate::describe(p)
                )),
                TcpState::Established | TcpState::CloseWait if s.recv_q > 0 && ctx.last.is_served(s) => unread += 1,
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    if unread > 0 {
        out.push(format!("{unread} served connections hold request bytes not yet read"));
    }
    out
}

/// `b - a` for counters of the same object in two snapshots; None when
/// either is missing, or the counter went down (the object was recreated).
pub fn rise(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    let (a, b) = (a?, b?);
    b.checked_sub(a)
}

/// Bytes for a person: "64.0 MiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

pub fn pct(part: f64, whole: f64) -> f64 {
    if whole <= 0.0 {
        return 0.0;
    }
    (part * 1000.0 / whole).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::{CgroupEntry, Cgroups as Cg, PidsStat};

    fn snap() -> Snapshot {
        let set = |id, path: &str| CgroupSet {
            id,
            entries: vec![
                CgroupEntry { controllers: "pids".into(), path: path.into() },
                CgroupEntry { controllers: String::new(), path: "/".into() },
            ],
        };
        let dir = |path: &str, max| CgroupDir {
            controllers: "pids".into(),
            path: path.into(),
            pids: Some(PidsStat { current: 1, max: Some(max), events_max: Some(0) }),
            ..Default::default()
        };
        Snapshot {
            processes: vec![
                Process { pid: 10, cgroup: Some(0), ..Default::default() },
                Process { pid: 11, cgroup: Some(1), ..Default::default() },
                Process { pid: 12, cgroup: Some(2), ..Default::default() },
            ],
            cgroups: Cg {
                sets: vec![set(0, "/pod/a"), set(1, "/pod/ab"), set(2, "/pod")],
                dirs: vec![dir("/pod", 100), dir("/pod/a", 10)],
                names: Vec::new(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn chains_and_members() {
        let s = snap();
        let cg = Cgroups::new(&s);
        let p10 = &s.processes[0];
        let chain: Vec<&str> = cg.chain(p10, "pids").iter().map(|d| d.path.as_str()).collect();
        assert_eq!(chain, vec!["/pod/a", "/pod"]);
        let pod = cg.dir("pids", "/pod").unwrap();
        let m: Vec<u32> = cg.members(pod).iter().map(|p| p.pid).collect();
        assert_eq!(m, vec![10, 11, 12]);
        let a = cg.dir("pids", "/pod/a").unwrap();
        let m: Vec<u32> = cg.members(a).iter().map(|p| p.pid).collect();
        assert_eq!(m, vec![10], "/pod/ab is not under /pod/a");
        assert_eq!(cg.container(p10).unwrap().cgroup, "/pod/a");
    }

    #[test]
    fn helpers() {
        assert_eq!(rise(Some(3), Some(5)), Some(2));
        assert_eq!(rise(Some(5), Some(3)), None);
        assert_eq!(rise(None, Some(3)), None);
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(bytes(12), "12 B");
        assert_eq!(pct(1.0, 3.0), 33.3);
    }
}
