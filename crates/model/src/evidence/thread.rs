//! One thread as evidence: what the human report shows as a thread block;
//! and what a process's threads wait on, typed.

use crate::fmt::{endpoint, measured_ms};
use crate::jvm::JavaThread;
use crate::stack::{PyFrame, PyThreads};
use crate::{Frame, GoroutineGroup, ResolvConf};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::SocketAddr;

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
    /// A Python thread's own frames, innermost first, read from its
    /// interpreter without stopping it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub python: Vec<PyFrame>,
    /// Why `python` is missing or cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_note: Option<String>,
    /// Whether the thread held the GIL when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_gil: Option<bool>,
    /// A Python process's threads grouped by stack, with the GIL's holder
    /// (on one thread of the process only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_threads: Option<PyThreads>,
    /// The JVM's own view of this thread, from its thread dump (`--stacks
    /// attach`): its Java state, frames and the monitors it holds and waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub java: Option<JavaThread>,
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
    /// Its Python frames, as in [`ThreadEvidence::python`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub python: Vec<PyFrame>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_gil: Option<bool>,
    /// The process's Python threads, as in [`ThreadEvidence::python_threads`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_threads: Option<PyThreads>,
    /// The JVM's own view of it, as in [`ThreadEvidence::java`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub java: Option<JavaThread>,
}

/// A peer or process that threads wait on, so the analysis' second pass
/// can link a finding to the finding about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitsOn {
    /// A TCP peer (netns inode, address, port): an upstream that does not answer.
    Endpoint(u64, std::net::IpAddr, u16),
    /// A process: the reader of a full pipe.
    Process(u32),
}

/// The one thing most of a process's threads wait on, when they show one.
/// In the JSON it is the line the report prints ("7 of 8 worker threads
/// wait on 127.0.0.1:5432 (idle 30.0 s)"), which is its `Display`; read
/// back from a report it is that line only (`Reported`).
#[derive(Debug, Clone, PartialEq)]
pub enum ThreadsWait {
    /// Most threads read one outbound connection, idle that long.
    Upstream {
        /// Threads reading it, of `of` (the worker threads when the main
        /// thread does not read it: it accepts).
        threads: usize,
        of: usize,
        worker_threads: bool,
        netns: u64,
        peer: SocketAddr,
        idle_ms: u32,
    },
    /// Threads cannot be tied to an fd (Go, a poll loop), but most of the
    /// process's outbound connections sent a request that was acknowledged
    /// and got no answer.
    UnansweredUpstream { connections: usize, outbound: usize, netns: u64, peer: SocketAddr, oldest_ms: u32 },
    /// A thread waited the whole interval for a DNS answer.
    Resolver { tid: u32, comm: String, waited_ms: u64, server: String, conf: Option<ResolvConf> },
    /// Threads blocked writing a full pipe the whole interval, and who reads it.
    Pipe { threads: usize, inode: u64, readers: Vec<PipeReader> },
    /// Every busy thread waited on a lock the whole interval while the
    /// process's only connections to an upstream sat idle both ways, none
    /// carrying a request: connections checked out of a pool and never
    /// returned look like this from outside. `confirmed`: the threads'
    /// own frames pass through a pool's get (`frames` names them).
    IdlePool {
        threads: usize,
        of: usize,
        netns: u64,
        peer: SocketAddr,
        connections: usize,
        idle_ms: u32,
        confirmed: bool,
    },
    /// Read back from a report: the words only.
    Reported(String),
}

/// A process holding the read end of a pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeReader {
    pub pid: u32,
    pub comm: String,
    /// Its state letter (/proc/PID/stat).
    pub state: char,
}

impl ThreadsWait {
    /// The peers and processes named, for the second pass.
    pub fn targets(&self) -> Vec<WaitsOn> {
        match self {
            ThreadsWait::Upstream { netns, peer, .. } | ThreadsWait::UnansweredUpstream { netns, peer, .. } => {
                vec![WaitsOn::Endpoint(*netns, peer.ip(), peer.port())]
            }
            ThreadsWait::Pipe { readers, .. } => readers.iter().map(|r| WaitsOn::Process(r.pid)).collect(),
            ThreadsWait::Resolver { .. } | ThreadsWait::IdlePool { .. } | ThreadsWait::Reported(_) => Vec::new(),
        }
    }
}

/// "stopped" for state T, as `ps` would say it.
fn state_words(state: char) -> &'static str {
    match state {
        'T' => "stopped (SIGSTOP/SIGTSTP or a frozen cgroup)",
        't' => "stopped by a tracer",
        'D' => "in uninterruptible sleep",
        'S' => "sleeping",
        'R' => "running",
        'Z' => "a zombie",
        _ => "in an unknown state",
    }
}

impl fmt::Display for ThreadsWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadsWait::Upstream { threads, of, worker_threads, peer, idle_ms, .. } => {
                let who = match (threads, of, worker_threads) {
                    (1, 1, false) => "its only thread waits".to_string(),
                    (1, 1, true) => "its only worker thread waits".to_string(),
                    (n, of, false) => format!("{n} of {of} threads wait"),
                    (n, of, true) => format!("{n} of {of} worker threads wait"),
                };
                write!(f, "{who} on {} (idle {})", endpoint(peer.ip(), peer.port()), measured_ms(*idle_ms as u64))
            }
            ThreadsWait::UnansweredUpstream { connections, outbound, peer, oldest_ms, .. } => write!(
                f,
                "{connections} of its {outbound} outbound connections wait on {}: each sent a request that was acknowledged and got no answer (the oldest for {})",
                endpoint(peer.ip(), peer.port()),
                measured_ms(*oldest_ms as u64)
            ),
            ThreadsWait::Resolver { tid, comm, waited_ms, server, conf } => {
                write!(
                    f,
                    "thread {tid} ({comm}) has waited over {} for a DNS answer from {server} (a resolver stall)",
                    measured_ms(*waited_ms)
                )?;
                match conf {
                    Some(rc) if !rc.nameservers.is_empty() => {
                        let worst = rc.timeout_s as u64 * rc.attempts as u64 * rc.nameservers.len() as u64;
                        write!(
                            f,
                            "; /etc/resolv.conf: nameserver {}, timeout {} s, attempts {}: one lookup can take up to {worst} s",
                            rc.nameservers.join(", "),
                            rc.timeout_s,
                            rc.attempts
                        )
                    }
                    _ => f.write_str("; /etc/resolv.conf names no nameserver"),
                }
            }
            ThreadsWait::Pipe { threads, inode, readers } => {
                let who: Vec<String> = readers
                    .iter()
                    .take(3)
                    .map(|r| format!("{} (pid {}), {}", r.comm, r.pid, state_words(r.state)))
                    .collect();
                let read_by = if who.is_empty() {
                    "nobody else reads it".to_string()
                } else {
                    format!("read by {}", who.join("; "))
                };
                write!(
                    f,
                    "{threads} thread{} blocked writing pipe:[{inode}] for the whole interval (the pipe is full): {read_by}",
                    if *threads == 1 { "" } else { "s" }
                )
            }
            ThreadsWait::IdlePool { threads, of, peer, connections, idle_ms, confirmed, .. } => {
                let conns = if *connections == 1 {
                    "its only connection".to_string()
                } else {
                    format!("its only {connections} connections")
                };
                write!(
                    f,
                    "{threads} of its {of} threads waited on a lock the whole interval while {conns} to {} sat idle both ways for {}, none carrying a request: ",
                    endpoint(peer.ip(), peer.port()),
                    measured_ms(*idle_ms as u64)
                )?;
                if *confirmed {
                    f.write_str("a pool whose connections were checked out and never returned (the threads' frames wait in its get)")
                } else {
                    f.write_str("connections checked out of a pool and never returned look like this (or a lock held elsewhere)")
                }
            }
            ThreadsWait::Reported(line) => f.write_str(line),
        }
    }
}

impl Serialize for ThreadsWait {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ThreadsWait {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ThreadsWait::Reported)
    }
}
