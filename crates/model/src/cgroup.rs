//! Control groups as a snapshot records them: which cgroups each process is
//! in (one `CgroupSet` per distinct /proc/PID/cgroup text, shared by every
//! process with that text) and, read once per cgroup directory, the limits
//! and counters of the controllers that bound a service: pids, cpu, memory. cgroup v1, v2 and hybrid hosts all fit: a v1 entry names its
//! controllers ("cpu,cpuacct"), the v2 entry has none ("").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Cgroups {
    /// Distinct cgroup memberships; `Process::cgroup` names one by `id`.
    pub sets: Vec<CgroupSet>,
    /// Every directory a set names, and their ancestors up to (not
    /// including) the root, each read once.
    pub dirs: Vec<CgroupDir>,
    /// Names of containers the runtimes' state files gave (no network calls).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<ContainerName>,
}

impl Cgroups {
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.dirs.is_empty()
    }
}

/// One /proc/PID/cgroup text, parsed.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct CgroupSet {
    pub id: u32,
    pub entries: Vec<CgroupEntry>,
}

/// One line of /proc/PID/cgroup: "4:memory:/docker/3f…" (v1), "0::/…" (v2).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CgroupEntry {
    /// "" for the v2 (unified) hierarchy; for v1 the hierarchy's
    /// controllers as the kernel lists them ("cpu,cpuacct", "name=systemd").
    pub controllers: String,
    pub path: String,
}

impl CgroupEntry {
    pub fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }

    /// Whether this hierarchy carries `controller` ("pids", "cpu", "memory",
    /// "freezer"). A v2 entry may: which controllers are enabled shows in
    /// the directory's files, not here.
    pub fn has(&self, controller: &str) -> bool {
        self.is_v2() || self.controllers.split(',').any(|c| c == controller)
    }
}

impl CgroupSet {
    /// The path a person would name the process's cgroup by: the v2 path
    /// when it is not the root, then name=systemd's, then the first
    /// controller's that is not the root. None when all are "/".
    pub fn main_path(&self) -> Option<&str> {
        let pick = |f: &dyn Fn(&CgroupEntry) -> bool| {
            self.entries.iter().find(|e| f(e) && e.path != "/" && !e.path.is_empty()).map(|e| e.path.as_str())
        };
        pick(&|e| e.is_v2())
            .or_else(|| pick(&|e| e.controllers == "name=systemd"))
            .or_else(|| {
                ["pids", "cpu", "memory", "freezer"]
                    .iter()
                    .find_map(|c| pick(&|e: &CgroupEntry| !e.is_v2() && e.has(c)))
            })
            .or_else(|| pick(&|_| true))
    }

    /// The entry of the hierarchy that carries `controller`: a v1 one when
    /// the controller is mounted as v1, else the v2 entry.
    pub fn entry_for(&self, controller: &str) -> Option<&CgroupEntry> {
        self.entries
            .iter()
            .find(|e| !e.is_v2() && e.has(controller))
            .or_else(|| self.entries.iter().find(|e| e.is_v2()))
    }
}

/// One cgroup directory and what was read in it. Only the files of a
/// controller whose limit is set are read past the limit itself.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct CgroupDir {
    /// As in `CgroupEntry`: "" for v2, the v1 hierarchy's controllers otherwise.
    pub controllers: String,
    /// From the hierarchy's root, as /proc/PID/cgroup writes it.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<PidsStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStat>,
    /// memory.pressure of a v2 directory (present on hybrid hosts too, where
    /// the memory controller itself is v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_pressure: Option<Psi>,
    /// cpu.pressure of a v2 directory: its tasks' wait for a CPU (a cpuset
    /// or quota too small for its load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_pressure: Option<Psi>,
}

/// pids controller: pids.current, pids.max, pids.events.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct PidsStat {
    pub current: u64,
    /// None: "max" (no limit).
    pub max: Option<u64>,
    /// pids.events `max`: forks refused because this cgroup was at its limit.
    pub events_max: Option<u64>,
}

/// cpu controller with a CFS quota: v1 cpu.cfs_quota_us / cpu.cfs_period_us
/// and cpu.stat; v2 cpu.max and cpu.stat.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct CpuStat {
    /// None: no quota ("max", -1).
    pub quota_us: Option<u64>,
    pub period_us: u64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    /// Time the cgroup's tasks were throttled (v1 throttled_time is in ns;
    /// stored here in microseconds as v2's throttled_usec).
    pub throttled_us: u64,
}

/// memory controller: the limit, usage, and the counters that rise when the
/// limit is hit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct MemoryStat {
    /// Bytes; None: unlimited. v1 memory.limit_in_bytes, v2 memory.max.
    pub limit: Option<u64>,
    /// v2 memory.high (throttling threshold), bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<u64>,
    /// v1 memory.usage_in_bytes, v2 memory.current.
    pub usage: u64,
    /// Anonymous memory (v1 memory.stat total_rss, v2 anon): what reclaim
    /// cannot free without swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon: Option<u64>,
    /// Page cache (v1 total_cache, v2 file): what reclaim evicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<u64>,
    /// v1 memory.failcnt: charges that hit the limit (each one reclaimed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failcnt: Option<u64>,
    /// v2 memory.events: high, max, oom, oom_kill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_high: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_oom: Option<u64>,
    /// v2 memory.events oom_kill, v1 memory.oom_control oom_kill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kill: Option<u64>,
    /// v1 memory.oom_control under_oom: the OOM killer is disabled and the
    /// cgroup's tasks sleep until memory frees up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under_oom: Option<bool>,
}

/// One line pair of a PSI file (/proc/pressure/memory, memory.pressure).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq)]
pub struct Psi {
    pub some_avg10: f64,
    pub full_avg10: f64,
    /// Microseconds, since the cgroup (or boot) began.
    pub some_total_us: u64,
    pub full_total_us: u64,
}

/// What a container runtime's state files say about one container.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct ContainerName {
    pub id: String,
    /// The runtime whose state files know the id (a cgroupfs kubepods path
    /// does not say whether containerd or docker runs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Host-wide task limits (kernel.pid_max, kernel.threads-max) and the tasks
/// (threads included) that exist, from /proc/loadavg.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct HostTasks {
    pub tasks: u64,
    pub pid_max: Option<u64>,
    pub threads_max: Option<u64>,
}

/// The parent of a cgroup path ("/a/b" -> "/a"); None for the root.
pub fn parent_path(path: &str) -> Option<&str> {
    if path == "/" || path.is_empty() {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(lines: &[(&str, &str)]) -> CgroupSet {
        CgroupSet {
            id: 0,
            entries: lines
                .iter()
                .map(|(c, p)| CgroupEntry { controllers: c.to_string(), path: p.to_string() })
                .collect(),
        }
    }

    #[test]
    fn main_path_prefers_v2_then_systemd_then_controllers() {
        let s = set(&[("name=systemd", "/system.slice/nginx.service"), ("pids", "/x"), ("", "/")]);
        assert_eq!(s.main_path(), Some("/system.slice/nginx.service"));
        let s = set(&[("memory", "/m"), ("pids", "/p"), ("", "/")]);
        assert_eq!(s.main_path(), Some("/p"));
        let s = set(&[("", "/user.slice/x.scope"), ("pids", "/p")]);
        assert_eq!(s.main_path(), Some("/user.slice/x.scope"));
        assert_eq!(set(&[("", "/"), ("cpu,cpuacct", "/")]).main_path(), None);
    }

    #[test]
    fn entry_for_a_controller() {
        let s = set(&[("cpu,cpuacct", "/c"), ("", "/u")]);
        assert_eq!(s.entry_for("cpu").unwrap().path, "/c");
        assert_eq!(s.entry_for("pids").unwrap().path, "/u", "not mounted as v1: the v2 hierarchy");
    }

    #[test]
    fn parents() {
        assert_eq!(parent_path("/a/b"), Some("/a"));
        assert_eq!(parent_path("/a"), Some("/"));
        assert_eq!(parent_path("/"), None);
    }
}
