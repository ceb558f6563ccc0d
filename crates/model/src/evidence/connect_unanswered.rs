use serde::{Deserialize, Serialize};

/// A process's connects to one destination that get no answer: each sat in
/// SYN-SENT through the interval, its SYN retransmitted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConnectUnanswered {
    /// The destination ("10.0.0.9:5432").
    pub remote: String,
    /// Its connections in SYN-SENT now.
    pub connecting: usize,
    /// Of those, in SYN-SENT in both snapshots: unanswered the whole interval.
    pub unanswered_whole_interval: usize,
    /// The most SYN retransmits of one of them (tcp_info `retransmits`).
    pub syn_retransmits: u8,
    /// How long ago the oldest one's first SYN left: tcp_info's
    /// `total_rto_time` (time in retransmission timeouts since the first
    /// fired) plus the initial RTO of 1 s (Linux 6.7+); on older kernels a
    /// lower bound, one second per retransmit (a SYN's retransmit timer
    /// starts at 1 s and never shrinks) or the interval plus the
    /// retransmits of the first snapshot.
    pub oldest_first_syn_ms: u64,
    /// `oldest_first_syn_ms` is only a lower bound (no `total_rto_time`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oldest_is_lower_bound: bool,
    /// net.ipv4.tcp_syn_retries of its network namespace: the retransmits
    /// after which connect() gives up with ETIMEDOUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syn_retries: Option<u8>,
    /// Its threads blocked in connect() on one of them (a blocking
    /// connect); empty for an event loop, whose connects do not block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads_in_connect: Vec<u32>,
    /// The destination is a listener on this host that neither has a full
    /// queue nor drops: the processes holding it. The SYNs are lost before
    /// they reach it (a netfilter rule of that network namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_listener: Option<Vec<u32>>,
    pub cmdline: String,
}

impl super::Measure for ConnectUnanswered {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("connecting", self.connecting as u64))
    }
}
