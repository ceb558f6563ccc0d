use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemoryPressure {
    /// The cgroup whose limit is hit.
    pub cgroup: String,
    /// Bytes: the limit (v1 memory.limit_in_bytes, v2 memory.max), memory.high, usage.
    pub limit: Option<u64>,
    pub high: Option<u64>,
    pub usage: u64,
    pub percent: Option<f64>,
    /// Anonymous memory and page cache (memory.stat).
    pub anon: Option<u64>,
    pub file: Option<u64>,
    /// Rises during the interval: v1 memory.failcnt; v2 memory.events max / high / oom_kill.
    pub failcnt_rise: Option<u64>,
    pub events_max_rise: Option<u64>,
    pub events_high_rise: Option<u64>,
    pub oom_kill_rise: Option<u64>,
    /// v1 memory.oom_control under_oom: tasks sleep until memory frees.
    pub under_oom: Option<bool>,
    /// PSI memory `full` (all non-idle tasks stalled): avg10 and the share
    /// of the interval, from the cgroup's memory.pressure or, where the
    /// cgroup has none (v1), the host's /proc/pressure/memory.
    pub psi_full_avg10: Option<f64>,
    pub psi_full_share_pct: Option<f64>,
    pub psi_source: Option<String>,
    pub waiting: Vec<String>,
    pub processes: Vec<u32>,
}

impl super::Measure for MemoryPressure {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("usage", self.usage))
    }
}
