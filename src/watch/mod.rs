//! `unwedge watch`'s memory: a pure state machine fed one report (and the
//! scan it came from) per cycle. It tells which findings appeared, changed
//! or resolved since the previous cycle, keeps resolved ones for a while,
//! and keeps a short history of the counts that say "is it getting worse"
//! for every process and listener a finding names.
//!
//! A finding's identity across scans is its key (kind, pid, tid, port,
//! netns), never its `id`: ids are numbered afresh in every report.
//!
//! Everything here is bounded however long watch runs: live findings mirror
//! the latest report, resolved ones leave after `keep_resolved` (and at most
//! [`MAX_RESOLVED`] stay), trend series are ring buffers of [`TREND_POINTS`]
//! samples for at most [`MAX_SERIES_ENTITIES`] processes and listeners.

pub mod trends;

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use unwedge_model::{Finding, Kind, Report, Scan, Severity};

pub use trends::{Metric, Series, Trends};

/// Resolved findings kept visible at most (the oldest go first).
pub const MAX_RESOLVED: usize = 64;
/// Samples per trend series.
pub const TREND_POINTS: usize = 240;
/// Processes and listeners followed at once.
pub const MAX_SERIES_ENTITIES: usize = 32;

/// A finding's identity across scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Key {
    pub kind: Kind,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub port: Option<u16>,
    pub netns: Option<u64>,
}

impl Key {
    pub fn of(f: &Finding) -> Key {
        Key { kind: f.kind(), pid: f.pid, tid: f.tid, port: f.port, netns: f.netns }
    }
}

/// The one number per kind that says "worse" or "better" (CLOSE-WAIT
/// sockets, queued connections, open fds…), with its evidence field name:
/// each evidence type says it (`unwedge_model::evidence::Measure`).
pub fn measure(f: &Finding) -> Option<(&'static str, u64)> {
    f.evidence.measure()
}

/// Whether a measure moved enough to tell someone: by at least 10% of the
/// value last told (and at least 1), so that a queue that jitters by one
/// does not print a line every cycle while a leak that grows does.
fn moved(told: u64, now: u64) -> bool {
    let step = (told / 10).max(1);
    now.abs_diff(told) >= step
}

/// One finding as watch follows it.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub key: Key,
    /// The latest version seen (the last one, once resolved).
    pub finding: Finding,
    /// Unix ms of the scan that first showed it.
    pub first_seen_ms: u64,
    /// Unix ms of the last `appeared` or `changed` event.
    pub changed_ms: u64,
    /// Unix ms of the scan that no longer showed it.
    pub resolved_ms: Option<u64>,
    /// Severity and measure as last told in an event.
    told_severity: Severity,
    told_measure: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Appeared,
    Changed,
    Resolved,
}

/// What a `changed` event changed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Was {
    pub severity: Severity,
    /// The measure's name and its value as last told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<(&'static str, u64)>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub at_ms: u64,
    pub scan: u64,
    pub key: Key,
    pub first_seen_ms: u64,
    pub finding: Finding,
    pub was: Option<Was>,
}

/// One line of the story: an item of the report's story, by key (ids do
/// not last from one report to the next).
#[derive(Debug, Clone, PartialEq)]
pub struct Told {
    /// 0 for a cause, 1 for what it causes, …
    pub depth: usize,
    /// The finding shown.
    pub key: Key,
    /// A group's title and how many processes it has.
    pub group: Option<(String, usize)>,
    /// How many findings the line tells (a group's, or a process's stuck threads).
    pub members: usize,
    /// Ids (in the latest report) of the findings that explain it.
    pub caused_by: Vec<String>,
}

impl Told {
    fn story(report: &Report) -> Vec<Told> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (depth, item) in report.story().walk() {
            let key = Key::of(item.finding);
            // Two findings with one key are one line (as in `observe`).
            if seen.insert(key) {
                out.push(Told {
                    depth,
                    key,
                    group: item.group.map(|g| (g.title.clone(), g.pids.len())),
                    members: item.members.len(),
                    caused_by: item.caused_by.iter().map(|c| c.to_string()).collect(),
                });
            }
        }
        out
    }
}

/// The header facts of the latest scan.
#[derive(Debug, Clone, Default)]
pub struct Latest {
    pub host: String,
    pub at_ms: u64,
    pub interval_ms: u64,
    pub duration_ms: u64,
    pub processes: usize,
    pub threads: usize,
    pub sockets: usize,
}

pub struct Tracker {
    keep_resolved_ms: u64,
    live: BTreeMap<Key, Tracked>,
    /// Most recently resolved last.
    resolved: VecDeque<Tracked>,
    /// The latest report's story (unwedge_model::story), one line per item.
    story: Vec<Told>,
    /// Keys in the latest report's order (most severe first).
    order: Vec<Key>,
    pub trends: Trends,
    pub scans: u64,
    pub scan_errors: u64,
    pub last_error: Option<String>,
    pub latest: Option<Latest>,
}

impl Tracker {
    pub fn new(keep_resolved_ms: u64) -> Tracker {
        Tracker {
            keep_resolved_ms,
            live: BTreeMap::new(),
            resolved: VecDeque::new(),
            story: Vec::new(),
            order: Vec::new(),
            trends: Trends::new(keep_resolved_ms),
            scans: 0,
            scan_errors: 0,
            last_error: None,
            latest: None,
        }
    }

    /// Takes the next cycle's report (the scan it came from, for the trend
    /// counts) at unix time `at_ms`, and says what happened since the last.
    pub fn observe(&mut self, at_ms: u64, scan: Option<&Scan>, report: &Report) -> Vec<Event> {
        self.scans += 1;
        self.last_error = None;
        let mut events = Vec::new();
        let mut seen: BTreeMap<Key, &Finding> = BTreeMap::new();
        let mut order = Vec::with_capacity(report.findings.len());
        for f in &report.findings {
            let key = Key::of(f);
            // Two findings with one key would be one line: keep the first (most severe).
            if let std::collections::btree_map::Entry::Vacant(v) = seen.entry(key) {
                v.insert(f);
                order.push(key);
            }
        }
        // Gone since the last scan: resolved.
        let gone: Vec<Key> = self.live.keys().filter(|k| !seen.contains_key(k)).copied().collect();
        for key in gone {
            if let Some(mut t) = self.live.remove(&key) {
                t.resolved_ms = Some(at_ms);
                events.push(self.event(EventKind::Resolved, at_ms, &t, None));
                self.resolved.push_back(t);
            }
        }
        for key in &order {
            let f = seen[key];
            let m = measure(f).map(|(_, v)| v);
            match self.live.get_mut(key) {
                Some(t) => {
                    let sev_changed = f.severity != t.told_severity;
                    let m_changed = match (t.told_measure, m) {
                        (Some(a), Some(b)) => moved(a, b),
                        (a, b) => a.is_some() != b.is_some(),
                    };
                    let was = Was {
                        severity: t.told_severity,
                        measure: measure(&t.finding).map(|(n, _)| n).zip(t.told_measure),
                    };
                    t.finding = f.clone();
                    if sev_changed || m_changed {
                        t.told_severity = f.severity;
                        t.told_measure = m;
                        t.changed_ms = at_ms;
                        let t = t.clone();
                        events.push(self.event(EventKind::Changed, at_ms, &t, Some(was)));
                    }
                }
                None => {
                    // Back while still shown as resolved: one line again, not two.
                    self.resolved.retain(|r| r.key != *key);
                    let t = Tracked {
                        key: *key,
                        finding: f.clone(),
                        first_seen_ms: at_ms,
                        changed_ms: at_ms,
                        resolved_ms: None,
                        told_severity: f.severity,
                        told_measure: m,
                    };
                    events.push(self.event(EventKind::Appeared, at_ms, &t, None));
                    self.live.insert(*key, t);
                }
            }
        }
        self.order = order;
        self.story = Told::story(report);
        self.expire(at_ms);
        self.trends.observe(at_ms, scan, report);
        let c = &report.coverage;
        self.latest = Some(Latest {
            host: report.host.clone(),
            at_ms,
            interval_ms: report.interval_ms,
            duration_ms: report.duration_ms,
            processes: c.processes,
            threads: c.threads,
            sockets: c.sockets,
        });
        events
    }

    /// A scan failed: nothing is known to have changed.
    pub fn failed(&mut self, at_ms: u64, err: String) {
        self.scan_errors += 1;
        self.last_error = Some(err);
        self.expire(at_ms);
    }

    fn expire(&mut self, now_ms: u64) {
        let keep = self.keep_resolved_ms;
        self.resolved.retain(|t| t.resolved_ms.is_some_and(|r| now_ms.saturating_sub(r) <= keep));
        while self.resolved.len() > MAX_RESOLVED {
            self.resolved.pop_front();
        }
    }

    fn event(&self, kind: EventKind, at_ms: u64, t: &Tracked, was: Option<Was>) -> Event {
        Event {
            kind,
            at_ms,
            scan: self.scans,
            key: t.key,
            first_seen_ms: t.first_seen_ms,
            finding: t.finding.clone(),
            was,
        }
    }

    /// The current findings, in the latest report's order.
    pub fn current(&self) -> Vec<&Tracked> {
        self.order.iter().filter_map(|k| self.live.get(k)).collect()
    }

    /// Resolved findings still shown, most recently resolved first.
    pub fn resolved(&self) -> impl Iterator<Item = &Tracked> {
        self.resolved.iter().rev()
    }

    /// The current findings in the latest report's story order (causes
    /// first, consequences beneath, a group as one line), as the human
    /// report tells them.
    pub fn story(&self) -> Vec<(&Told, &Tracked)> {
        self.story.iter().filter_map(|t| Some((t, self.live.get(&t.key)?))).collect()
    }

    /// Sizes of everything the tracker keeps (for the bounded-memory tests).
    #[cfg(test)]
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.live.len(), self.resolved.len(), self.trends.points())
    }
}

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}

/// An event as one JSON line: `{"event", "at", "scan", "first_seen", "key", "finding", "was"?}`.
pub fn event_json(e: &Event) -> serde_json::Value {
    let mut v = serde_json::json!({
        "event": e.kind,
        "at": rfc3339_ms(e.at_ms),
        "scan": e.scan,
        "first_seen": rfc3339_ms(e.first_seen_ms),
        "key": e.key,
        "finding": e.finding,
    });
    if let Some(was) = &e.was {
        let mut w = serde_json::json!({ "severity": was.severity });
        if let Some((name, value)) = was.measure {
            w[name] = value.into();
        }
        v["was"] = w;
    }
    if e.kind == EventKind::Resolved {
        v["lasted_ms"] = e.at_ms.saturating_sub(e.first_seen_ms).into();
    }
    v
}

#[cfg(test)]
pub mod fake {
    //! Fake findings and reports for the state machine and TUI tests.
    use unwedge_model::evidence::{AcceptStalled, CloseWaitLeak, StuckThread, ThreadEvidence};
    use unwedge_model::{Coverage, Finding, Report, Severity};

    pub fn close_wait(pid: u32, port: u16, n: usize) -> Finding {
        let sev = if n >= 100 { Severity::Critical } else { Severity::Warning };
        let mut f = Finding::new(sev, CloseWaitLeak { close_wait: n, ..Default::default() });
        f.pid = Some(pid);
        f.comm = Some("leaky".into());
        f.port = Some(port);
        f.title = format!("leaky holds {n} sockets in CLOSE-WAIT it never closed");
        f
    }

    pub fn stalled(pid: u32, port: u16, queued: u32) -> Finding {
        let mut f = Finding::new(
            Severity::Critical,
            AcceptStalled {
                listen: format!("127.0.0.1:{port}"),
                queued,
                backlog: 128,
                waiting_whole_interval: queued as usize,
                waiting: Vec::new(),
                accepted_during_interval: 0,
                established_connections_held: 0,
                owners: vec![pid],
                accepting: vec![pid],
                accepting_threads: Vec::new(),
                event_loop_blocked: None,
                waits_on: Vec::new(),
            },
        );
        f.pid = Some(pid);
        f.comm = Some("server".into());
        f.port = Some(port);
        f.title = format!("{queued} connections wait on port {port}; server accepted none");
        f
    }

    pub fn stuck(pid: u32, tid: u32) -> Finding {
        let mut f = Finding::new(
            Severity::Warning,
            StuckThread {
                thread: ThreadEvidence { tid, name: "worker".into(), state: "S".into(), ..Default::default() },
                stuck_threads_in_process: 1,
                ..Default::default()
            },
        );
        f.pid = Some(pid);
        f.tid = Some(tid);
        f.comm = Some("server".into());
        f.title = format!("thread {tid} of server has been stuck in futex");
        f
    }

    pub fn report(mut findings: Vec<Finding>) -> Report {
        unwedge_model::sort_findings(&mut findings);
        for (i, f) in findings.iter_mut().enumerate() {
            f.id = format!("f{}", i + 1);
        }
        Report {
            unwedge_version: "0.1.0".into(),
            host: "testhost".into(),
            taken_at: "2026-01-01T00:00:00Z".into(),
            interval_ms: 1000,
            duration_ms: 1040,
            coverage: Coverage { processes: 212, threads: 830, sockets: 4210, netns: 1, ..Coverage::default() },
            findings,
            groups: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;

    fn kinds(ev: &[Event]) -> Vec<(EventKind, Option<u32>)> {
        ev.iter().map(|e| (e.kind, e.finding.pid)).collect()
    }

    #[test]
    fn appeared_changed_resolved() {
        let mut t = Tracker::new(60_000);
        assert!(t.observe(1_000, None, &report(vec![])).is_empty());
        let ev = t.observe(2_000, None, &report(vec![close_wait(10, 5000, 20)]));
        assert_eq!(kinds(&ev), vec![(EventKind::Appeared, Some(10))]);
        assert_eq!(ev[0].first_seen_ms, 2_000);
        // 20 -> 21: under 10%, not worth a line.
        assert!(t.observe(3_000, None, &report(vec![close_wait(10, 5000, 21)])).is_empty());
        let ev = t.observe(4_000, None, &report(vec![close_wait(10, 5000, 60)]));
        assert_eq!(kinds(&ev), vec![(EventKind::Changed, Some(10))]);
        assert_eq!(ev[0].was, Some(Was { severity: Severity::Warning, measure: Some(("close_wait", 20)) }));
        assert_eq!(ev[0].first_seen_ms, 2_000, "first seen stays");
        let j = event_json(&ev[0]);
        assert_eq!(j["event"], "changed");
        assert_eq!(j["was"]["close_wait"], 20);
        assert_eq!(j["finding"]["evidence"]["close_wait"], 60);
        // Severity alone is a change too.
        let ev = t.observe(5_000, None, &report(vec![close_wait(10, 5000, 100)]));
        assert_eq!(ev[0].was.as_ref().unwrap().severity, Severity::Warning);
        assert_eq!(ev[0].finding.severity, Severity::Critical);
        let ev = t.observe(6_000, None, &report(vec![]));
        assert_eq!(kinds(&ev), vec![(EventKind::Resolved, Some(10))]);
        assert_eq!(event_json(&ev[0])["lasted_ms"], 4_000);
        assert_eq!(t.current().len(), 0);
        assert_eq!(t.resolved().count(), 1, "resolved stays visible");
        // ... for keep_resolved only.
        t.observe(60_000 + 6_000, None, &report(vec![]));
        assert_eq!(t.resolved().count(), 1);
        t.observe(60_000 + 6_001, None, &report(vec![]));
        assert_eq!(t.resolved().count(), 0);
    }

    #[test]
    fn identity_is_the_key_not_the_id() {
        let mut t = Tracker::new(60_000);
        t.observe(1, None, &report(vec![close_wait(10, 5000, 20), stuck(11, 12)]));
        // Same findings, reordered ids (a new critical one sorts first).
        let ev = t.observe(2, None, &report(vec![stalled(30, 80, 5), close_wait(10, 5000, 20), stuck(11, 12)]));
        assert_eq!(kinds(&ev), vec![(EventKind::Appeared, Some(30))]);
        // Another thread of the same process is another finding.
        let ev = t.observe(3, None, &report(vec![stalled(30, 80, 5), close_wait(10, 5000, 20), stuck(11, 13)]));
        let mut k = kinds(&ev);
        k.sort_by_key(|x| x.0 as u8);
        assert_eq!(k, vec![(EventKind::Appeared, Some(11)), (EventKind::Resolved, Some(11))]);
    }

    #[test]
    fn a_finding_back_while_shown_resolved_is_one_line() {
        let mut t = Tracker::new(60_000);
        t.observe(1, None, &report(vec![close_wait(10, 5000, 20)]));
        t.observe(2, None, &report(vec![]));
        let ev = t.observe(3, None, &report(vec![close_wait(10, 5000, 20)]));
        assert_eq!(kinds(&ev), vec![(EventKind::Appeared, Some(10))]);
        assert_eq!(t.resolved().count(), 0);
        assert_eq!(t.current().len(), 1);
    }

    #[test]
    fn the_view_tells_the_story_of_the_latest_report() {
        let mut t = Tracker::new(60_000);
        // A critical stall caused by a stuck thread of its process; that
        // process's second stuck thread is told with the first.
        let mut r = report(vec![stalled(7, 80, 5), stuck(7, 8), stuck(7, 9), close_wait(3, 81, 20)]);
        let cause = r.findings.iter().find(|f| f.tid == Some(8)).unwrap().id.clone();
        r.findings.iter_mut().find(|f| f.port == Some(80)).unwrap().caused_by = vec![cause.clone()];
        t.observe(1, None, &r);
        let lines: Vec<(usize, Option<u32>, usize, Vec<String>)> =
            t.story().iter().map(|(l, x)| (l.depth, x.finding.tid, l.members, l.caused_by.clone())).collect();
        assert_eq!(
            lines,
            vec![(0, Some(8), 2, vec![]), (1, None, 1, vec![cause]), (0, None, 1, vec![])],
            "the cause first though less severe, the stall beneath, then the leak"
        );
        assert_eq!(t.current().len(), 4, "every finding is still followed on its own");
    }

    #[test]
    fn memory_stays_bounded_over_many_cycles() {
        // 20,000 cycles, each with findings about pids never seen before:
        // live mirrors the report, resolved and trends stay capped.
        let mut t = Tracker::new(3_600_000);
        let mut max = (0, 0, 0);
        for i in 0..20_000u32 {
            let r = report(vec![close_wait(1000 + i, 5000, 20 + (i as usize % 7)), stalled(90_000 + i, 8080, 3)]);
            t.observe(u64::from(i) * 100, None, &r);
            let s = t.sizes();
            max = (max.0.max(s.0), max.1.max(s.1), max.2.max(s.2));
        }
        assert_eq!(max.0, 2);
        assert!(max.1 <= MAX_RESOLVED, "{max:?}");
        assert!(max.2 <= MAX_SERIES_ENTITIES * Metric::ALL.len() * TREND_POINTS, "{max:?}");
    }
}
