use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CloseWaitLeak {
    pub close_wait: usize,
    pub persisted_across_interval: bool,
    pub never_read_to_eof: usize,
    pub read_eof_not_closed: usize,
    pub with_unread_data: usize,
    pub peer_ports_in_ephemeral_range: Option<usize>,
    pub ephemeral_port_range: Option<[u16; 2]>,
    pub tcp_fin_timeout_s: Option<u32>,
    pub syn_challenges_during_interval: Option<u64>,
    pub challenge_acks_during_interval: Option<u64>,
    pub local_ports: BTreeMap<u16, usize>,
    pub peers: BTreeMap<String, usize>,
    pub oldest_idle_ms: Option<u32>,
    /// Other processes holding the same sockets (after fork).
    pub shared_with: Option<Vec<u32>>,
    pub open_fds: Option<u32>,
    pub fd_soft_limit: Option<u64>,
    pub examples: Vec<String>,
}

impl super::Measure for CloseWaitLeak {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("close_wait", self.close_wait as u64))
    }
}
