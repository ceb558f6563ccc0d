use crate::CpuProfile;
use serde::{Deserialize, Serialize};

/// Threads of a process that were on a CPU (nearly) the whole interval
/// while the work it serves waited.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BusyThread {
    /// The busy threads, busiest first (at most [`MAX_CPU_THREADS`]).
    pub threads: Vec<CpuThread>,
    /// Busy threads in the process, all of them.
    pub busy_threads: usize,
    /// What waited on the process meanwhile.
    pub waiting: CpuWaitingWork,
    /// CPUs the whole process used during the interval (1.0: one CPU all along).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_cpus: Option<f64>,
    /// The CPUs it may run on, when fewer than those online ("0-1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_allowed: Option<String>,
    /// How many CPUs it may use (its allowed list, or those online).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    pub cmdline: String,
}

/// Threads an evidence lists at most.
pub const MAX_CPU_THREADS: usize = 16;

/// One thread's CPU over the interval: on a CPU, and runnable but waiting
/// for one; and where it burnt, when it was sampled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuThread {
    pub tid: u32,
    pub name: String,
    /// What a language runtime's thread is ("the event loop", "a JVM
    /// garbage collector thread"), by its name and place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Its state letter in the last snapshot.
    pub state: String,
    /// Percent of the interval it ran on a CPU.
    pub running_pct: f64,
    /// Percent of the interval it was runnable but waited for a CPU (its
    /// schedstat run delay); absent without schedstat (the share on a CPU
    /// then comes from stat's clock ticks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_pct: Option<f64>,
    /// Where it burnt its CPU: sampled after the last snapshot (perf
    /// events, without stopping it); absent when it was not sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_profile: Option<CpuProfile>,
}

/// Work that waited on a process across the whole interval.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CpuWaitingWork {
    /// Listeners it accepts on that accepted none of the connections queued
    /// in both snapshots ("127.0.0.1:8080").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stalled_listeners: Vec<String>,
    /// Connections waiting in those queues the whole interval.
    pub queued: usize,
    /// Accepted connections holding a request it read and did not answer
    /// across the interval, for at least the answer timeout.
    pub unanswered: usize,
    /// How long the oldest of them has waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_unanswered_ms: Option<u32>,
}

impl CpuWaitingWork {
    pub fn is_empty(&self) -> bool {
        self.queued == 0 && self.unanswered == 0
    }
}

impl super::Measure for BusyThread {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("busy_threads", self.busy_threads as u64))
    }
}
