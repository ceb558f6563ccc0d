//! Pure detectors over snapshots: `fn(&Scan, &Thresholds) -> Analysis`.
//! Nothing here touches the OS, and nothing here can fail: missing data
//! means no finding. One module per finding kind, named as its JSON `kind`.
//!
//! Two passes. First every detector of `registry` runs on the snapshots and
//! the shared indexes alone (no detector sees another's findings, so their
//! order does not matter). Then `links` — suppression of findings another
//! one already explains, ids, causes and groups — works on the typed
//! findings.

pub mod cgroups;
pub mod container;
pub mod index;
pub mod keep;
pub mod process_tree;
pub mod signals;
pub mod syscalls;
pub mod threads;

pub mod links;
pub mod queues;
pub mod registry;

mod accept_queue_overflow;
mod accept_stalled;
mod blocked_signal;
mod close_wait_leak;
mod conntrack_full;
mod cpu_throttled;
mod ephemeral_ports_exhausted;
mod fd_exhaustion;
mod keepalive_starvation;
mod memory_pressure;
mod orphan_port_holder;
mod peer_not_reading;
mod pid_limit;
pub(crate) mod process_stopped;
mod sigterm_blocked;
mod stuck_thread;
mod syn_queue_overflow;
mod unanswered_requests;
pub mod waits;
mod zombie;

use index::Index;
pub use keep::keep_for_comparison;
use unwedge_model::{Evidence, Finding, Process, Scan, Severity, Snapshot};

/// Every threshold a detector uses; each is a flag of `unwedge scan` named
/// as its field (`idle_ms` is `--idle`, `answer_timeout_ms` `--answer-timeout`),
/// whose default is read from here.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// CLOSE-WAIT sockets a process must hold to raise `close_wait_leak`.
    pub close_wait_min: usize,
    /// ... and to make it critical.
    pub close_wait_critical: usize,
    /// A keep-alive connection idle (no data either way) this long holds a slot.
    pub idle_ms: u32,
    /// Percent of the soft RLIMIT_NOFILE in use for a warning / critical.
    pub fd_warning: f64,
    pub fd_critical: f64,
    /// Unreaped children one parent must leave for a `zombie` warning / critical.
    pub zombie_min: usize,
    pub zombie_critical: usize,
    /// A request read and not answered for this long counts as unanswered.
    pub answer_timeout_ms: u32,
    /// Percent of the usable ephemeral ports one (source, destination) pair
    /// must hold for `ephemeral_ports_exhausted`.
    pub ports_warning: f64,
    /// Percent of nf_conntrack_max in use for `conntrack_full`.
    pub conntrack_warning: f64,
    /// Percent of a cgroup's CFS periods throttled during the interval for `cpu_throttled`.
    pub throttle_pct: f64,
    /// Percent of the interval all tasks stalled on memory (PSI `full`) that
    /// counts as a stall for `memory_pressure`.
    pub psi_full: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            close_wait_min: 8,
            close_wait_critical: 100,
            idle_ms: 1000,
            fd_warning: 80.0,
            fd_critical: 95.0,
            zombie_min: 5,
            zombie_critical: 50,
            answer_timeout_ms: 10_000,
            ports_warning: 80.0,
            conntrack_warning: 90.0,
            throttle_pct: 10.0,
            psi_full: 10.0,
        }
    }
}

pub struct Analysis {
    pub findings: Vec<Finding>,
    pub groups: Vec<unwedge_model::Group>,
    /// Detectors skipped and why (e.g. one snapshot only).
    pub notes: Vec<String>,
}

/// What every detector sees: the newest snapshot, and the oldest one when
/// the scan took two.
pub struct Ctx<'a> {
    pub last: Index<'a>,
    pub first: Option<Index<'a>>,
    pub t: &'a Thresholds,
    pub interval_ms: u64,
}

impl Ctx<'_> {
    /// A finding about process `pid` (or the host, for `None`), with its comm
    /// and, when not the host's, the network namespace filled in.
    pub fn finding(
        &self,
        severity: Severity,
        pid: Option<u32>,
        port: Option<u16>,
        netns: u64,
        evidence: impl Into<Evidence>,
    ) -> Finding {
        let mut f = Finding::new(severity, evidence);
        f.comm = pid.and_then(|p| self.last.process(p)).map(|p| p.comm.clone());
        f.pid = pid;
        f.port = port;
        f.netns = (netns != 0 && netns != self.last.snap.host_netns).then_some(netns);
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

pub fn analyze(scan: &Scan, t: &Thresholds) -> Analysis {
    let mut notes = Vec::new();
    let Some(last_snap) = scan.snapshots.last() else {
        return Analysis { findings: Vec::new(), groups: Vec::new(), notes: vec!["no snapshot to analyse".into()] };
    };
    let first = (scan.snapshots.len() > 1).then(|| Index::new(&scan.snapshots[0]));
    let interval_ms =
        if scan.snapshots.len() > 1 { last_snap.taken_at_ms.saturating_sub(scan.snapshots[0].taken_at_ms) } else { 0 };
    if first.is_none() {
        notes.push("one snapshot only (--interval 0): accept_stalled, keepalive_starvation, stuck_thread, process_stopped, unanswered_requests, peer_not_reading and cpu_throttled need two and were skipped; host overflow, SYN-queue, conntrack and cgroup event counters were not compared".into());
    }
    let ctx = Ctx { last: Index::new(last_snap), first, t, interval_ms };
    let mut findings = Vec::new();
    for kind in unwedge_model::Kind::scan_kinds() {
        if let Some(detect) = registry::detector(kind) {
            detect(&ctx, &mut findings);
        }
    }
    let mut linked = links::second_pass(&ctx, findings);
    container::annotate(&ctx, &mut linked.findings);
    Analysis { findings: linked.findings, groups: linked.groups, notes }
}

/// A count of milliseconds for titles and explanations (one spelling for
/// all of unwedge: `unwedge_model::fmt`).
pub(crate) fn secs(ms: u64) -> String {
    unwedge_model::fmt::measured_ms(ms)
}
