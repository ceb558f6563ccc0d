use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FdExhaustion {
    pub open_fds: u32,
    pub soft_limit: u64,
    pub hard_limit: Option<u64>,
    pub percent: f64,
    pub sockets: usize,
    pub close_wait_sockets: usize,
    pub listening_sockets: usize,
    /// Accepted connections holding a request it received and never
    /// answered (tcp_info: bytes received, none sent): slow or stalled
    /// clients that each hold an fd.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unanswered_connections: usize,
    /// What holds most of those: connections whose client sent a partial
    /// request and nothing since, which the process keeps waiting for the
    /// rest (slowloris-like clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_requests: Option<PartialRequests>,
}

/// Accepted connections whose client sent a few bytes once and has been
/// silent since, never answered, while the server waits to read more from
/// them: its event loop runs and keeps them (or a thread blocks reading
/// one). The kernel does not show the bytes: "partial" is what the server's
/// wait says, not a parse of the request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PartialRequests {
    pub connections: usize,
    /// Every one of them has been silent at least this long (tcp_info
    /// `last_data_recv` of the youngest).
    pub idle_since_ms: u64,
    /// The oldest has been silent this long.
    pub oldest_ms: u64,
    /// The most bytes one of them sent (tcp_info `bytes_received`).
    pub bytes_max: u64,
    /// The most data segments one of them sent (`data_segs_in`, Linux 4.6+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments_max: Option<u32>,
    /// How the server waits for them: "event loop" (it ran during the
    /// interval and answered none) or "thread reading".
    pub server_waits_in: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl super::Measure for FdExhaustion {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("open_fds", u64::from(self.open_fds)))
    }
}
