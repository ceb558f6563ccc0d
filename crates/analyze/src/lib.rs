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
pub use facts::keep::{keep_for_comparison, kept_copy};
pub use facts::look::look_plan;
use facts::{container, index::Index};
/// What `unwedge stop` shares with the analysis: the socket owners and
/// the orphan test, so that it finds the processes a finding names.
pub use facts::{index, process_tree};
use unwedge_model::{About, Finding, Scan, Snapshot};

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
    let Some(last) = scan.snapshots.last() else {
        return Analysis { findings: Vec::new(), groups: Vec::new(), notes: vec!["no snapshot to analyse".into()] };
    };
    analyze_pair((scan.snapshots.len() > 1).then(|| &scan.snapshots[0]), last, t)
}

/// [`analyze`] of one snapshot, or of two: `first` earlier, `last` now.
pub fn analyze_pair(first: Option<&Snapshot>, last: &Snapshot, t: &Thresholds) -> Analysis {
    let mut notes = Vec::new();
    if first.is_none() {
        notes.push(ONE_SNAPSHOT.into());
    }
    let ctx = ctx(first, last, t);
    let findings = judge_all(&ctx);
    link(&ctx, findings, notes)
}

const ONE_SNAPSHOT: &str = "one snapshot only (--interval 0): accept_stalled, keepalive_starvation, stuck_thread, process_stopped, unanswered_requests, peer_not_reading and cpu_throttled need two and were skipped; host overflow, SYN-queue, conntrack and cgroup event counters were not compared";

fn ctx<'a>(first: Option<&'a Snapshot>, last: &'a Snapshot, t: &'a Thresholds) -> Ctx<'a> {
    let interval_ms = first.map_or(0, |f| last.taken_at_ms.saturating_sub(f.taken_at_ms));
    Ctx { last: Index::new(last), first: first.map(Index::new), t, interval_ms }
}

/// The first pass: every scan kind's judge.
fn judge_all(ctx: &Ctx) -> Vec<Finding> {
    let mut findings = Vec::new();
    for kind in unwedge_model::Kind::scan_kinds() {
        if let Some(detect) = kinds::detector(kind) {
            detect(ctx, &mut findings);
        }
    }
    findings
}

/// The second pass, and the containers.
fn link(ctx: &Ctx, findings: Vec<Finding>, notes: Vec<String>) -> Analysis {
    let mut linked = links::second_pass(ctx, findings);
    container::annotate(ctx, &mut linked.findings);
    Analysis { findings: linked.findings, groups: linked.groups, notes }
}

/// The first pass alone (every kind's judge) on one snapshot or two: what
/// a continuous scan runs on each of its comparisons before
/// [`merge_look`] and [`link_findings`] (docs/architecture.md,
/// "Continuous mode").
pub fn judge_pair(first: Option<&Snapshot>, last: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    judge_all(&ctx(first, last, t))
}

/// The second pass (suppression, ids, causes, groups) and the containers,
/// over findings judged on `first` and `last` (or on comparisons ending
/// there).
pub fn link_findings(first: Option<&Snapshot>, last: &Snapshot, findings: Vec<Finding>, t: &Thresholds) -> Analysis {
    link(&ctx(first, last, t), findings, Vec::new())
}

/// A continuous scan's findings: those of the comparison with the
/// previous snapshot (`long`), and those a second look's short comparison
/// (`short`) shows about the processes it read again (`pids`, sorted).
/// For those, the short comparison is the one that saw them twice since
/// they changed (a state newer than the previous snapshot, a process that
/// ran earlier in the interval), so its finding replaces the long one's
/// about the same subject. Another process's state in the look is the
/// snapshot's, not a second reading, so its findings are the long
/// comparison's. Each finding keeps the words of its own comparison.
pub fn merge_look(mut long: Vec<Finding>, short: Vec<Finding>, pids: &[u32]) -> Vec<Finding> {
    // One finding per subject: what the kind is about decides what that is.
    let same = |a: &Finding, b: &Finding| {
        a.kind() == b.kind()
            && match a.kind().about() {
                About::Process => a.pid == b.pid,
                About::Thread => a.pid == b.pid && a.tid == b.tid,
                About::Listener => a.port == b.port && a.netns == b.netns,
                About::Host | About::Target => a.netns == b.netns,
            }
    };
    for f in short {
        if f.pid.is_none_or(|p| pids.binary_search(&p).is_err()) {
            continue;
        }
        match long.iter_mut().find(|g| same(g, &f)) {
            Some(g) => *g = f,
            None => long.push(f),
        }
    }
    long
}
