//! Continuous mode, what `serve` and `watch` run (docs/architecture.md,
//! "Continuous mode"; docs/serve.md for what it means for a report).
//!
//! Each interval takes one snapshot, through a collector that reads again
//! only what can have changed (`unwedge_collect::Collector`), and compares
//! it with the previous one: what lasted the whole interval unchanged is
//! judged on that comparison, a stronger "did not run for 15 s" than a
//! one-shot scan's 1 s. What that comparison cannot judge — a state newer
//! than the previous snapshot, a process that ran earlier in the interval
//! — gets a second look `--interval` later, at those few processes and
//! sockets only (`unwedge_analyze::look_plan`), and a short comparison
//! like a one-shot scan's adds what it finds about them. The first scan
//! has no previous snapshot: it is a one-shot scan's pair (its second
//! snapshot through the collector's cache).

use crate::stacks::{self, Stacks};
use crate::{build_report, Filter, PipelineError, Thresholds};
use std::time::{Duration, Instant};
use unwedge_analyze::{judge_pair, kept_copy, link_findings, look_plan, merge_look};
use unwedge_collect::walk::Budget;
use unwedge_collect::{CacheStats, Collector};
use unwedge_model::{Finding, Report, Scan, Snapshot};

/// The state a continuous scan keeps from one interval to the next.
pub struct Continuous {
    collector: Collector,
    /// The last snapshot, as the comparison needs it (`kept_copy`).
    prev: Option<Snapshot>,
    /// How long after a snapshot started the second look (and the first
    /// scan's second snapshot) is taken; zero: none.
    look_after: Duration,
    /// Scans run, and those that took a second look.
    pub scans: u64,
    pub looks: u64,
    keep_secrets: bool,
}

impl Continuous {
    pub fn new(look_after: Duration) -> Continuous {
        Continuous { collector: Collector::new(), prev: None, look_after, scans: 0, looks: 0, keep_secrets: false }
    }

    /// Keep command lines verbatim (`--no-redact`) instead of redacting
    /// what looks like a credential.
    pub fn keeping_secrets(mut self, keep: bool) -> Continuous {
        self.keep_secrets = keep;
        self
    }

    /// What the collector's cache did so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.collector.stats()
    }

    /// One interval: a snapshot compared with the previous one, a second
    /// look if the comparison leaves something to it, the stacks its
    /// findings show (from the cache for threads that did not run), the
    /// report. The returned scan is (the previous snapshot as compared,
    /// the last one), for metrics and trends. `until`: finish by then.
    pub fn step(
        &mut self,
        t: &Thresholds,
        stacks: &mut Stacks,
        until: Option<Instant>,
    ) -> Result<(Scan, Report), PipelineError> {
        let started = Instant::now();
        let budget = Budget { until, keep_secrets: self.keep_secrets, ..Default::default() };
        let mut snap = self.collector.snapshot(budget)?;
        self.scans += 1;
        let Some(prev) = self.prev.take() else { return self.first(snap, started, t, stacks, budget) };
        let plan = look_plan(Some(&prev), &snap);
        let kept = kept_copy(&mut snap);
        let long = judged(Some(&prev), &mut snap, t, stacks, None);
        let long_ms = snap.taken_at_ms.saturating_sub(prev.taken_at_ms);
        let look_at = started + self.look_after;
        let in_time = !self.look_after.is_zero() && until.is_none_or(|u| look_at < u);
        let (last, analysis) = if plan.is_empty() || !in_time {
            let a = link_findings(Some(&prev), &snap, long, t);
            (snap, a)
        } else {
            std::thread::sleep(look_at.saturating_duration_since(Instant::now()));
            let mut look = self.collector.look(snap, &plan, budget)?;
            self.looks += 1;
            let short = judged(Some(&kept), &mut look, t, stacks, Some(&plan.pids));
            let a = link_findings(Some(&kept), &look, merge_look(long, short, &plan.pids), t);
            (look, a)
        };
        stacks.end_scan();
        self.prev = Some(kept);
        let report = build_report(analysis, &[&prev, &last], long_ms, started.elapsed());
        Ok((Scan { snapshots: vec![prev, last] }, report))
    }

    /// The first scan: a one-shot scan's pair, the second snapshot through
    /// the cache the first filled.
    fn first(
        &mut self,
        mut snap: Snapshot,
        started: Instant,
        t: &Thresholds,
        stacks: &mut Stacks,
        budget: Budget,
    ) -> Result<(Scan, Report), PipelineError> {
        let second_at = started + self.look_after;
        let in_time = !self.look_after.is_zero() && budget.until.is_none_or(|u| second_at < u);
        let mut scan = if in_time {
            unwedge_analyze::keep_for_comparison(&mut snap);
            std::thread::sleep(second_at.saturating_duration_since(Instant::now()));
            let mut second = self.collector.snapshot(budget)?;
            self.prev = Some(kept_copy(&mut second));
            Scan { snapshots: vec![snap, second] }
        } else {
            self.prev = Some(kept_copy(&mut snap));
            Scan { snapshots: vec![snap] }
        };
        stacks::read_stacks(&mut scan, t, stacks, &Filter::default());
        let report = crate::report(&scan, t, started.elapsed());
        Ok((scan, report))
    }
}

/// The first pass on (`first`, `last`), with the stacks its findings show
/// read into `last` (and the findings judged again with them). `only`:
/// the processes whose findings count (a look's), whose stacks alone are read.
fn judged(
    first: Option<&Snapshot>,
    last: &mut Snapshot,
    t: &Thresholds,
    stacks: &mut Stacks,
    only: Option<&[u32]>,
) -> Vec<Finding> {
    let keep = |f: &Finding| only.is_none_or(|pids| f.pid.is_some_and(|p| pids.binary_search(&p).is_ok()));
    let found: Vec<Finding> = judge_pair(first, last, t).into_iter().filter(keep).collect();
    let targets = stacks::targets(&found.iter().collect::<Vec<_>>(), last);
    if stacks.fill(last, targets) {
        return judge_pair(first, last, t).into_iter().filter(keep).collect();
    }
    found
}
