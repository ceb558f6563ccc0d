use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AcceptStalled {
    pub listen: String,
    pub queued: u32,
    pub backlog: u32,
    pub waiting_whole_interval: usize,
    pub waiting: Vec<QueuedConnection>,
    pub accepted_during_interval: usize,
    pub established_connections_held: usize,
    /// Every process holding the listening socket.
    pub owners: Vec<u32>,
    /// Those of them that accept on it (hold its accepted connections, or
    /// wait in accept on it); the finding's pid is the first. A pre-fork
    /// master that only holds the socket for its workers is not among them.
    #[serde(default)]
    pub accepting: Vec<u32>,
    /// What the accepting processes' threads are doing now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepting_threads: Vec<super::ThreadSummary>,
    /// The accepting process is an event loop blocked in a synchronous
    /// call: nothing accepts until that call returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_loop_blocked: Option<super::EventLoopBlocked>,
    /// What the accepting processes' threads wait on instead (a destination
    /// their connects get no answer from, a mount that does not answer),
    /// for the second pass's links; not in the JSON.
    #[serde(skip)]
    pub waits_on: Vec<super::WaitsOn>,
}

/// A connection waiting in an accept queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedConnection {
    pub peer: String,
    pub state: String,
    pub unread_bytes: u32,
    pub since_last_packet_ms: Option<u32>,
}

impl super::Measure for AcceptStalled {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("queued", u64::from(self.queued)))
    }
}
