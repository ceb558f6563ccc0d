use serde::{Deserialize, Serialize};

/// A listener whose SYN queue is at its limit, or (no `listen`) the
/// namespace's counters that rose with no listener found at its limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SynQueueOverflow {
    pub listen: Option<String>,
    /// Half-open connections (SYN-RECV) waiting on the listener now.
    pub syn_recv: Option<u32>,
    /// The SYN queue's limit: the listener's backlog (min of listen()'s
    /// argument and net.core.somaxconn).
    pub limit: Option<u32>,
    /// Distinct peer addresses among the SYN-RECV.
    pub peers: Option<u32>,
    /// Of the half-open connections of the first snapshot, how many the
    /// second shows completed (established or queued for accept).
    pub completed: Option<u32>,
    pub half_open_in_first_snapshot: Option<u32>,
    /// Whether the half-open connections complete; none with one snapshot.
    pub pattern: Option<SynPattern>,
    /// net.ipv4.tcp_syncookies and net.ipv4.tcp_max_syn_backlog.
    pub syncookies: Option<u8>,
    pub max_syn_backlog: Option<u32>,
    /// Rises during the interval of TcpExt TCPReqQFullDrop,
    /// TCPReqQFullDoCookies, SyncookiesSent (namespace counters).
    pub reqq_full_drop_rise: Option<u64>,
    pub reqq_full_do_cookies_rise: Option<u64>,
    pub syncookies_sent_rise: Option<u64>,
    /// Rise of the listener's own drop counter (SK_MEMINFO_DROPS).
    pub listener_drops_rise: Option<u64>,
    pub interval_ms: u64,
    pub owners: Vec<u32>,
}

/// What the half-open connections of a full SYN queue look like.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SynPattern {
    /// Many peers, few complete: spoofed or dead sources.
    Flood,
    /// Real clients faster than the queue: their handshakes complete.
    Burst,
}

impl super::Measure for SynQueueOverflow {
    fn measure(&self) -> Option<(&'static str, u64)> {
        self.syn_recv.map(|n| ("syn_recv", u64::from(n)))
    }
}
