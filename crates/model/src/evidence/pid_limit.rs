use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PidLimit {
    /// Which limit: "pids.max" (a cgroup), "kernel.pid_max",
    /// "kernel.threads-max" (the host), "RLIMIT_NPROC" (a user).
    pub limit: String,
    /// The cgroup whose pids.max it is.
    pub cgroup: Option<String>,
    /// Tasks (processes and threads) counted against the limit, and the limit.
    pub current: u64,
    pub max: u64,
    pub percent: f64,
    /// pids.events `max` rise during the interval: forks and clones refused.
    pub fork_failures: Option<u64>,
    /// For RLIMIT_NPROC: the user whose tasks count.
    pub uid: Option<u32>,
    /// Processes seen in the cgroup (or of the user), at most 20.
    pub processes: Vec<u32>,
}

impl super::Measure for PidLimit {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("current", self.current))
    }
}
