//! Pure detectors over snapshots: `fn(&Scan, &Thresholds) -> Analysis`.
//! Nothing here touches the OS, and nothing here can fail: missing data
//! means no finding. Laid out as it works: `facts` (what every kind reads:
//! indexes, threads, waits, syscall classes, queues, signals, cgroups) →
//! `kinds` (one folder per finding kind, named as its JSON `kind`: its
//! judge decides, its words say it) → `links`.
//!
//! Two passes. First the detector of every scan kind (`kinds::detector`,
//! generated from the kind table) runs on the snapshots and the facts
//! alone (no detector sees another's findings, so their order does not
//! matter). Then `links` — suppression of findings another one already
//! explains, ids, causes and groups — works on the typed findings.

mod ctx;
pub mod facts;
pub mod kinds;
pub mod links;

pub use ctx::{describe, secs, Ctx, Verdict, Words};
pub use facts::keep::keep_for_comparison;
use facts::{container, index::Index};
/// What `unwedge stop` shares with the analysis: the socket owners and
/// the orphan test, so that it finds the processes a finding names.
pub use facts::{index, process_tree};
use unwedge_model::{Finding, Scan};

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
    let ctx = Ctx::new(Index::new(last_snap), first, t, interval_ms);
    let mut findings = Vec::new();
    for kind in unwedge_model::Kind::scan_kinds() {
        if let Some(detect) = kinds::detector(kind) {
            detect(&ctx, &mut findings);
        }
    }
    let mut linked = links::second_pass(&ctx, findings);
    container::annotate(&ctx, &mut linked.findings);
    Analysis { findings: linked.findings, groups: linked.groups, notes }
}
