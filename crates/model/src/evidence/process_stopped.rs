use crate::Frozen;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessStopped {
    /// The state letter of /proc/PID/stat and what it means ("T (stopped)").
    pub state: String,
    pub stopped_by: StoppedBy,
    /// The ptrace tracer holding it (TracerPid), when one does.
    pub tracer: Option<Tracer>,
    /// Its frozen cgroup, when a freezer holds it.
    pub freezer: Option<Frozen>,
    pub threads: usize,
    /// Its descendants stopped with it (a whole process group after Ctrl-Z,
    /// a frozen cgroup): one incident, told in this one finding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_stopped: Vec<u32>,
    /// Stopped in both snapshots and did not run in between: at least this long.
    pub stopped_for_at_least_ms: u64,
    /// Its listening sockets ("127.0.0.1:8080, 5 waiting").
    pub listeners: Vec<String>,
    /// Connections waiting in the accept queues of its listeners.
    pub queued: u32,
    /// Connections it accepted and holds open: their clients wait on it.
    pub connections: usize,
    /// Children blocked writing a pipe it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children_waiting: Vec<u32>,
    pub cmdline: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StoppedBy {
    /// SIGSTOP, SIGTSTP (Ctrl-Z), SIGTTIN or SIGTTOU.
    Signal,
    /// A ptrace tracer (a debugger) holds it in a tracing stop.
    Tracer,
    /// A cgroup freezer (v1 freezer.state FROZEN, v2 cgroup.freeze).
    CgroupFreezer,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tracer {
    pub pid: u32,
    pub comm: Option<String>,
    pub cmdline: Option<String>,
}

impl super::Measure for ProcessStopped {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("queued", u64::from(self.queued)))
    }
}
