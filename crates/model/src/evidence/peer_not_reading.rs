use super::ThreadEvidence;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PeerNotReading {
    /// The connections whose peer advertises a zero window, each with the thread blocked sending on it.
    pub connections: Vec<ZeroWindow>,
    /// Threads of the process blocked sending on such a connection.
    pub blocked_threads: usize,
    /// The first of them.
    pub thread: ThreadEvidence,
    pub cmdline: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ZeroWindow {
    pub local: String,
    pub peer: String,
    /// Bytes written and not yet acknowledged by the peer (the send queue).
    pub bytes_queued: u32,
    /// The peer's advertised window (0), where the kernel reports it.
    pub peer_window: Option<u32>,
    /// Since this end last sent data: how long the window has been shut.
    pub no_data_sent_ms: u64,
    /// Zero-window probes sent unanswered, and the probe timer's backoff.
    pub probes: u8,
    pub backoff: u8,
    pub tid: u32,
    pub syscall: String,
}

impl super::Measure for PeerNotReading {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("blocked_threads", self.blocked_threads as u64))
    }
}
