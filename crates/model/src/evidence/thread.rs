//! One thread as evidence: what the human report shows as a thread block.

use crate::{Frame, GoroutineGroup};
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
    /// The user-space stack, innermost first, read without stopping the
    /// thread (absent with `--stacks=off`, from recorded snapshots without
    /// stacks, and for threads the reader did not reach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_stack: Option<Vec<Frame>>,
    /// Why `user_stack` is missing or ends early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_stack_note: Option<String>,
    /// The interpreter-level tool to run for this process's own frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter_hint: Option<String>,
    /// A Go process's goroutines grouped by stack, most numerous first
    /// (on one thread of the process only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines: Option<Vec<GoroutineGroup>>,
    /// Why `goroutines` is missing or incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines_note: Option<String>,
}

/// Another stuck thread of the same process, named in a `stuck_thread` finding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ThreadSummary {
    pub tid: u32,
    pub name: String,
    /// Its state letter (S, D, T, t, R), where the finding shows it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
    pub syscall: String,
    pub fds: Vec<String>,
    /// Its user-space stack, as in [`ThreadEvidence::user_stack`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_stack: Option<Vec<Frame>>,
    /// The process's goroutines, as in [`ThreadEvidence::goroutines`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines: Option<Vec<GoroutineGroup>>,
    /// Why `goroutines` is missing or incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines_note: Option<String>,
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
