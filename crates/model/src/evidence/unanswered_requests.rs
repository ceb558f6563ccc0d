use super::{ThreadSummary, ThreadsWait, WaitsOn};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UnansweredRequests {
    /// The listening address ("127.0.0.1:8080").
    pub listen: String,
    /// Connections whose request has not been answered for >=
    /// answer_timeout_ms: read and set aside, or (`unread` of them) never read.
    pub unanswered: usize,
    /// Of those, connections accepted whose request was never even read
    /// (its bytes in the receive queue, as many as were received, unchanged
    /// across the interval): the stronger sign.
    #[serde(default)]
    pub unread: usize,
    /// How long the oldest of them has waited since its request arrived.
    pub oldest_wait_ms: u64,
    pub answer_timeout_ms: u64,
    /// Accepted connections on the listener (any state with a file).
    pub connections: usize,
    /// Connections that got any byte from the server during the interval or
    /// after the oldest unanswered request arrived (0: no progress at all).
    pub answered_since_oldest: usize,
    /// Connections accepted during the interval, and how many of those carry a
    /// request with no answer yet.
    pub accepted_during_interval: usize,
    pub new_unanswered: usize,
    /// Unanswered connections the client already closed (CLOSE-WAIT): it gave up.
    pub clients_gave_up: usize,
    /// The oldest unanswered connections.
    pub waiting: Vec<WaitingRequest>,
    /// Processes holding unanswered connections, most first.
    pub holders: Vec<u32>,
    /// Every process holding the listening socket.
    pub owners: Vec<u32>,
    /// What the threads of `pid` wait in, one line per kind of wait
    /// ("6 in futex: a lock, condition variable or thread join").
    pub thread_waits: Vec<String>,
    /// The upstream most threads wait on (`ThreadsWait::Upstream` or
    /// `UnansweredUpstream`): "7 of 8 worker threads wait on 127.0.0.1:5432
    /// (idle 30.0 s)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<ThreadsWait>,
    /// A DNS lookup in flight for over a second, and the resolver configured
    /// (`ThreadsWait::Resolver`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<ThreadsWait>,
    /// Threads blocked writing a full pipe, and who reads it (`ThreadsWait::Pipe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipe: Option<ThreadsWait>,
    /// Every busy thread on a lock while the process's connections to an
    /// upstream sit idle: a pool that lent them out for good (`ThreadsWait::IdlePool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<ThreadsWait>,
    /// A JVM's own facts: its housekeeping threads left out, its counters
    /// over the interval, its deadlock verdict (`--stacks attach`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jvm: Option<crate::jvm::JvmEvidence>,
    pub threads_total: usize,
    /// A few threads, the most telling first.
    pub threads: Vec<ThreadSummary>,
    /// The Go runtime's signal set (every signal caught, SIGURG included):
    /// its OS threads say nothing about what the goroutines wait on.
    pub go_runtime: bool,
    pub cmdline: String,
}

impl UnansweredRequests {
    /// The upstream and the pipe readers its threads wait on, for the second pass.
    pub fn waits_on(&self) -> Vec<WaitsOn> {
        self.upstream.iter().chain(&self.pipe).flat_map(ThreadsWait::targets).collect()
    }
}

/// One unanswered connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WaitingRequest {
    pub peer: String,
    pub state: String,
    /// Since the client's last byte arrived.
    pub waiting_ms: u64,
    /// Bytes the client sent on this connection, and the server (0: never answered anything).
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub pid: u32,
    /// Bytes waiting unread in its receive queue: the request was never read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread_bytes: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl super::Measure for UnansweredRequests {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("unanswered", self.unanswered as u64))
    }
}
