use super::{ThreadEvidence, ThreadSummary, ThreadsWait};
use crate::fmt::endpoint;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::SocketAddr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StuckThread {
    pub thread: ThreadEvidence,
    pub unchanged_for_ms: u64,
    /// The work waiting (in the JSON, each as a line: `work_waiting`); the
    /// second analysis pass reads which findings already explain it.
    #[serde(rename = "work_waiting")]
    pub work: Vec<Work>,
    pub stuck_threads_in_process: usize,
    pub other_stuck_threads: Vec<ThreadSummary>,
    pub cmdline: String,
    /// The thread waits on a TCP connection (one of its fd arguments is one);
    /// not part of the JSON contract.
    #[serde(skip)]
    pub on_connection: bool,
    /// What most threads of the process wait on (an upstream, a DNS lookup
    /// in flight, a full pipe), where they show one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_on: Option<ThreadsWait>,
    /// A JVM's own facts, as in `unanswered_requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jvm: Option<crate::jvm::JvmEvidence>,
}

/// A piece of work a stuck thread keeps from being done, waiting untouched
/// in both snapshots. In the JSON, the line its `Display` prints; read back
/// from a report, that line only (`Reported`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Connections queued in both snapshots in the accept queue of `listen`.
    AcceptQueue { waiting: usize, listen: SocketAddr },
    /// Served sockets in CLOSE-WAIT in both snapshots.
    CloseWait { sockets: usize },
    /// Bytes unread on a served connection, unchanged.
    UnreadBytes { bytes: u32, fd: u32, local: SocketAddr, remote: SocketAddr },
    /// Signals pending in both snapshots, by name.
    PendingSignal { signals: Vec<String> },
    /// Read back from a report: the words only.
    Reported(String),
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ep = |a: &SocketAddr| endpoint(a.ip(), a.port());
        match self {
            Work::AcceptQueue { waiting, listen } => {
                write!(f, "{waiting} connections wait in the accept queue of {}", ep(listen))
            }
            Work::CloseWait { sockets } => {
                write!(f, "{sockets} sockets in CLOSE-WAIT (the peer closed; nobody closed this end)")
            }
            Work::UnreadBytes { bytes, fd, local, remote } => {
                write!(f, "{bytes} bytes wait unread on fd {fd}: TCP {} -> {}", ep(local), ep(remote))
            }
            Work::PendingSignal { signals } => write!(f, "signal {} pending", signals.join(", ")),
            Work::Reported(line) => f.write_str(line),
        }
    }
}

impl Serialize for Work {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Work {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Work::Reported)
    }
}

impl super::Measure for StuckThread {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("stuck_threads_in_process", self.stuck_threads_in_process as u64))
    }
}
