use super::ThreadEvidence;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SigtermBlocked {
    pub ignored: bool,
    pub blocked_in_every_thread: bool,
    pub handler_installed: bool,
    pub sigterm_pending: bool,
    #[serde(rename = "SigIgn")]
    pub sig_ign: String,
    pub signalfds: Vec<SignalFd>,
    pub persisted_across_interval: bool,
    pub managed_by_live_parent: bool,
    pub cmdline: String,
    pub threads: Vec<ThreadEvidence>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SignalFd {
    pub fd: u32,
    pub sigmask: Option<String>,
}

impl super::Measure for SigtermBlocked {
    fn measure(&self) -> Option<(&'static str, u64)> {
        None
    }
}
