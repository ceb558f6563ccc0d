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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdleConnection {
    pub peer: String,
    pub idle_recv_ms: Option<u32>,
    pub idle_sent_ms: Option<u32>,
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
