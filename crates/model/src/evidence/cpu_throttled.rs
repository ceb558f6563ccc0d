use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuThrottled {
    /// The cgroup whose CFS quota throttles.
    pub cgroup: String,
    /// cpu.cfs_quota_us / cpu.cfs_period_us (v1), cpu.max (v2).
    pub quota_us: u64,
    pub period_us: u64,
    /// quota / period: the CPUs the cgroup may use.
    pub cpus: f64,
    /// cpu.stat rises during the interval.
    pub nr_periods_rise: u64,
    pub nr_throttled_rise: u64,
    pub throttled_ms: u64,
    /// Share of the enforcement periods in which it was throttled.
    pub throttled_periods_pct: f64,
    /// Share of the interval its tasks spent throttled (wall clock; can pass
    /// 100 with several threads).
    pub throttled_share_pct: f64,
    /// The work waiting meanwhile (queued connections, unread requests);
    /// empty for a batch job nobody waits on.
    pub waiting: Vec<String>,
    pub processes: Vec<u32>,
}

impl super::Measure for CpuThrottled {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("nr_throttled_rise", self.nr_throttled_rise))
    }
}
