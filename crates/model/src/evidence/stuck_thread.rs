use super::{ThreadEvidence, ThreadSummary};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StuckThread {
    pub thread: ThreadEvidence,
    pub unchanged_for_ms: u64,
    /// The work waiting, in words.
    pub work_waiting: Vec<String>,
    pub stuck_threads_in_process: usize,
    pub other_stuck_threads: Vec<ThreadSummary>,
    pub cmdline: String,
    /// The same work, typed, for the second analysis pass (which findings
    /// already explain it); not part of the JSON contract.
    #[serde(skip)]
    pub work: Vec<Work>,
    /// The thread waits on a TCP connection (one of its fd arguments is one).
    #[serde(skip)]
    pub on_connection: bool,
    /// "7 of 8 worker threads wait on 127.0.0.1:5432 (idle 30.0 s)", a DNS
    /// lookup in flight or a full pipe, where the process's threads show one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_on: Option<String>,
    /// The same, typed, for the second pass.
    #[serde(skip)]
    pub waits_on_typed: Vec<super::WaitsOn>,
}

/// A piece of work a stuck thread keeps from being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Connections queued in both snapshots on this local port.
    AcceptQueue { port: u16 },
    /// Served sockets in CLOSE-WAIT in both snapshots.
    CloseWait,
    /// Bytes unread on a served connection, unchanged.
    UnreadBytes,
    /// A signal pending in both snapshots.
    PendingSignal,
}
