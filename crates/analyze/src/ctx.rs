//! What every judge sees: the newest snapshot's index, the oldest one's
//! when the scan took two, the thresholds and the interval; and how a
//! judged result becomes a finding.

use crate::facts::graph::Graph;
use crate::facts::index::Index;
use crate::Thresholds;
use unwedge_model::chain::Hop;
use unwedge_model::{Evidence, Finding, Process, Severity, Snapshot};

/// What every judge sees: the newest snapshot, and the oldest one when
/// the scan took two; and the wait graph over them, worked out as asked.
pub struct Ctx<'a> {
    pub last: Index<'a>,
    pub first: Option<Index<'a>>,
    pub t: &'a Thresholds,
    pub interval_ms: u64,
    pub graph: Graph,
}

impl<'a> Ctx<'a> {
    pub fn new(last: Index<'a>, first: Option<Index<'a>>, t: &'a Thresholds, interval_ms: u64) -> Self {
        Ctx { last, first, t, interval_ms, graph: Graph::default() }
    }
}

/// What a kind's judge decided about one finding: everything but its words.
#[derive(Debug, Clone)]
pub struct Verdict<E> {
    pub severity: Severity,
    /// The process it is about; `None` for the host or a network namespace.
    pub pid: Option<u32>,
    pub port: Option<u16>,
    /// A unix listener's path, for a finding about one (where a TCP one has `port`).
    pub path: Option<String>,
    /// The network namespace of its sockets or process (0 or the host's: none named).
    pub netns: u64,
    /// The thread it is about, for thread findings.
    pub tid: Option<u32>,
    pub evidence: E,
    /// What its processes wait on, across processes (the wait graph's path).
    pub waits_on: Vec<Hop>,
}

impl<E> Verdict<E> {
    pub fn new(severity: Severity, pid: Option<u32>, port: Option<u16>, netns: u64, evidence: E) -> Self {
        Verdict { severity, pid, port, path: None, netns, tid: None, evidence, waits_on: Vec::new() }
    }
}

/// What a finding says, as a kind's words.rs puts it.
#[derive(Debug, Clone, Default)]
pub struct Words {
    pub title: String,
    pub explanation: String,
    pub fix: String,
}

impl Ctx<'_> {
    /// The finding of a verdict and its words, with the process's comm and,
    /// when not the host's, the network namespace filled in.
    pub fn finding<E: Into<Evidence>>(&self, v: Verdict<E>, words: Words) -> Finding {
        let mut f = Finding::new(v.severity, v.evidence);
        f.comm = v.pid.and_then(|p| self.last.process(p)).map(|p| p.comm.clone());
        f.pid = v.pid;
        f.port = v.port;
        f.path = v.path;
        f.waits_on = v.waits_on;
        f.tid = v.tid;
        f.netns = (v.netns != 0 && v.netns != self.last.snap.host_netns).then_some(v.netns);
        f.title = words.title;
        f.explanation = words.explanation;
        f.fix = words.fix;
        f
    }

    pub fn snap(&self) -> &Snapshot {
        self.last.snap
    }

    pub fn proc_label(&self, pid: u32) -> String {
        match self.last.process(pid) {
            Some(p) => describe(p),
            None => format!("pid {pid}"),
        }
    }
}

pub fn describe(p: &Process) -> String {
    format!("{} (pid {})", p.comm, p.pid)
}

/// A count of milliseconds for titles and explanations (one spelling for
/// all of unwedge: `unwedge_model::fmt`).
pub fn secs(ms: u64) -> String {
    unwedge_model::fmt::measured_ms(ms)
}
