use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum AcceptQueueOverflow {
    /// A listener whose queue is at its backlog.
    Listener {
        listen: String,
        queued: u32,
        backlog: u32,
        full_now: bool,
        full_in_first_snapshot: Option<bool>,
        listen_overflows_rise: Option<u64>,
        listen_drops_rise: Option<u64>,
        owners: Vec<u32>,
        /// The owners that accept on the listener (see accept_stalled).
        #[serde(default)]
        accepting: Vec<u32>,
        /// The listener's own drop counter (SK_MEMINFO_DROPS) and its rise
        /// during the interval: drops attributed to this listener, not only
        /// to the namespace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        listener_drops: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        listener_drops_rise: Option<u64>,
        /// net.core.somaxconn of the namespace, and whether the backlog is
        /// capped by it (raising the program's backlog alone would not help).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        somaxconn: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backlog_is_somaxconn: Option<bool>,
    },
    /// Namespace counters rose while no listener was full: a burst.
    Burst { listen_overflows_rise: u64, listen_drops_rise: u64, interval_ms: u64 },
}

impl super::Measure for AcceptQueueOverflow {
    fn measure(&self) -> Option<(&'static str, u64)> {
        match self {
            AcceptQueueOverflow::Listener { queued, .. } => Some(("queued", u64::from(*queued))),
            AcceptQueueOverflow::Burst { .. } => None,
        }
    }
}
