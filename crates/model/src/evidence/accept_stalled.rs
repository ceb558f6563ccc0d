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
}

/// A connection waiting in an accept queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedConnection {
    pub peer: String,
    pub state: String,
    pub unread_bytes: u32,
    pub since_last_packet_ms: Option<u32>,
}
