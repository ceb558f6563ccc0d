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
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl super::Measure for FdExhaustion {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("open_fds", u64::from(self.open_fds)))
    }
}
