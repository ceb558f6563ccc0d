use super::ThreadEvidence;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BlockedSignal {
    pub signals: Vec<String>,
    pub pending_blocked: Vec<String>,
    pub handler_blocked: Vec<String>,
    pub blocked_in_every_thread: String,
    pub caught: Vec<String>,
    pub masks: SignalMaskSet,
    pub inherited_from: Option<InheritedFrom>,
    pub persisted_across_interval: bool,
    pub cmdline: String,
    pub threads: Vec<ThreadEvidence>,
}

/// The masks as /proc/PID/status prints them (hex, bit N-1 = signal N), per thread where they differ.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SignalMaskSet {
    #[serde(rename = "ShdPnd")]
    pub shared_pending: String,
    #[serde(rename = "SigIgn")]
    pub ignored: String,
    #[serde(rename = "SigCgt")]
    pub caught: String,
    #[serde(rename = "per_thread_SigBlk")]
    pub per_thread_blocked: BTreeMap<u32, String>,
    #[serde(rename = "per_thread_SigPnd")]
    pub per_thread_pending: BTreeMap<u32, String>,
}

/// The parent thread whose blocked mask equals the process's: where the mask came from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InheritedFrom {
    pub pid: u32,
    pub comm: String,
    pub tid: u32,
    pub thread: String,
    pub blocked: String,
    pub other_threads_blocking_nothing: usize,
}

impl super::Measure for BlockedSignal {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("pending_blocked", self.pending_blocked.len() as u64))
    }
}
