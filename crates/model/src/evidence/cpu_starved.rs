use super::{CpuThread, CpuWaitingWork};
use serde::{Deserialize, Serialize};

/// Threads of a process that were runnable much of the interval but
/// waited for a CPU more than they ran, while the work it serves waited:
/// other processes held its CPUs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuStarved {
    /// The starved threads, longest wait first (at most `MAX_CPU_THREADS`).
    pub threads: Vec<CpuThread>,
    /// Starved threads in the process, all of them.
    pub starved_threads: usize,
    /// What waited on the process meanwhile.
    pub waiting: CpuWaitingWork,
    /// Where the CPUs ran short: the host's CPUs, or the few it may use.
    pub scope: CpuScope,
    /// The CPUs it may run on, when fewer than those online ("1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_allowed: Option<String>,
    /// How many CPUs it may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// The other processes that ran on those CPUs during the interval,
    /// most CPU first, each over 5 % of a CPU (at most 16).
    pub took_cpus: Vec<CpuTaker>,
    /// CPUs all other processes allowed on them used (1.0: one CPU all along).
    pub taken_cpus: f64,
    /// Percent of the interval in which some runnable task of the host
    /// waited for a CPU (/proc/pressure/cpu, "some").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_pressure_pct: Option<f64>,
    /// Its cgroup (v2) where cpu.pressure was read, and the percent of the
    /// interval in which some task in it waited for a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_pressure_pct: Option<f64>,
    pub cmdline: String,
}

/// Which CPUs were too few.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CpuScope {
    /// Every CPU online: the host is too small for its load.
    #[default]
    Host,
    /// The few CPUs it may use (a cpuset, taskset, a container's --cpuset-cpus).
    AllowedCpus,
}

/// A process that used CPU time where a starved one waited.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuTaker {
    pub pid: u32,
    pub comm: String,
    /// CPUs it used during the interval (1.0: one CPU all along).
    pub cpus: f64,
    /// Its cgroup (the path a person names it by), when not the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
}

impl super::Measure for CpuStarved {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("starved_threads", self.starved_threads as u64))
    }
}
