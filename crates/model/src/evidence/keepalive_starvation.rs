use super::QueuedConnection;
use serde::{Deserialize, Serialize};

/// Seen from inside (scan): the listener's slots are held by idle connections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeepaliveStarvation {
    pub listen: String,
    pub queued: u32,
    pub backlog: u32,
    pub slots_held_by_idle: usize,
    pub idle_connections: Vec<IdleConnection>,
    pub waiting_whole_interval: usize,
    pub waiting: Vec<QueuedConnection>,
    pub owners: Vec<u32>,
    /// The owners that accept on the listener (see accept_stalled).
    #[serde(default)]
    pub accepting: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdleConnection {
    pub peer: String,
    pub idle_recv_ms: Option<u32>,
    pub idle_sent_ms: Option<u32>,
    /// tcp_info bytes_acked / bytes_received: the server answered (bytes
    /// acked > 0) and now waits for the next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_acked: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<u64>,
}

/// Seen from outside (probe http): a second connection is served only once the first closes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProbedKeepaliveStarvation {
    pub first_ttfb_us: Option<u64>,
    pub second_waited_us: u64,
    pub second_answered_after_first_closed_us: u64,
    pub starvation_wait_ms: u64,
}

impl super::Measure for KeepaliveStarvation {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("queued", u64::from(self.queued)))
    }
}

impl super::Measure for ProbedKeepaliveStarvation {
    fn measure(&self) -> Option<(&'static str, u64)> {
        None
    }
}
