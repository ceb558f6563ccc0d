use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConntrackFull {
    /// net.netfilter.nf_conntrack_count of the namespace.
    pub count: u64,
    /// net.netfilter.nf_conntrack_max.
    pub max: u64,
    pub percent: f64,
    /// Rises during the interval of /proc/net/stat/nf_conntrack's drop,
    /// early_drop and insert_failed (summed over CPUs).
    pub drop_rise: Option<u64>,
    pub early_drop_rise: Option<u64>,
    pub insert_failed_rise: Option<u64>,
    pub interval_ms: u64,
}

impl super::Measure for ConntrackFull {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("count", self.count))
    }
}
