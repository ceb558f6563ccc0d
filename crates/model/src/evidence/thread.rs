//! One thread as evidence: what the human report shows as a thread block.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ThreadEvidence {
    pub tid: u32,
    pub name: String,
    pub state: String,
    pub syscall: Option<String>,
    pub syscall_meaning: Option<String>,
    pub args: Option<Vec<String>>,
    /// The syscall's fd arguments resolved ("fd 5: TCP 127.0.0.1:41234 -> 127.0.0.1:8081 ESTAB, idle 12.0 s").
    pub fds: Vec<String>,
    pub wchan: Option<String>,
    pub stack: Option<Vec<String>>,
    pub cpu_ticks: u64,
    pub blocked: Option<String>,
    pub pending: Option<String>,
}

/// Another stuck thread of the same process, named in a `stuck_thread` finding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ThreadSummary {
    pub tid: u32,
    pub name: String,
    pub syscall: String,
    pub fds: Vec<String>,
}

/// What a process's threads wait on, typed, so the analysis' second pass
/// can link a finding to the finding about that peer or process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitsOn {
    /// A TCP peer (netns inode, address, port): an upstream that does not answer.
    Endpoint(u64, std::net::IpAddr, u16),
    /// A process: the reader of a full pipe.
    Process(u32),
}
