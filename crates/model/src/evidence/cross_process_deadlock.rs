use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CrossProcessDeadlock {
    /// The sides of the cycle in order: each waits on the next, the last on
    /// the first.
    pub cycle: Vec<DeadlockSide>,
    /// Every process of the cycle, in pid order.
    pub pids: Vec<u32>,
}

/// One side of a cross-process deadlock: processes (one, or a pool of
/// sibling workers) and how they wait on the next side.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeadlockSide {
    pub pids: Vec<u32>,
    pub comm: String,
    /// How they reach the next side: `TCP 127.0.0.1:8002`, `unix:/run/app.sock`.
    pub waits_on: String,
    /// Their connections to the next side that wait.
    pub connections: usize,
    /// Of those, connections the next side never accepted (in its queue).
    pub queued: usize,
    /// Since the oldest of their requests was sent, when the connection shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_ms: Option<u64>,
}

impl super::Measure for CrossProcessDeadlock {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("processes", self.pids.len() as u64))
    }
}
