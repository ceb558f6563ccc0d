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
}
