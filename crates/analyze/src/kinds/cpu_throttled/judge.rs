//! Decides which cgroups a CPU quota throttled in enough of the interval's
//! periods, and whether work waited on them meanwhile.

use crate::facts::cgroups::{main_member, pct, rise, waiting_work, Cgroups};
use crate::facts::index::FastSet;
use crate::{Ctx, Verdict};
use unwedge_model::evidence::CpuThrottled;
use unwedge_model::Severity;

pub struct Judged {
    pub verdict: Verdict<CpuThrottled>,
    /// quota / period, unrounded.
    pub cpus: f64,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let Some(first) = ctx.first.as_ref() else { return Vec::new() };
    let cg = Cgroups::new(ctx.snap());
    let before = Cgroups::new(first.snap);
    let mut named = FastSet::default();
    let mut out = Vec::new();
    for d in cg.innermost_first() {
        let Some(c) = d.cpu else { continue };
        let Some(quota) = c.quota_us else { continue };
        let Some(b) = before.dir(&d.controllers, &d.path).and_then(|b| b.cpu) else { continue };
        let (Some(periods), Some(throttled)) =
            (rise(Some(b.nr_periods), Some(c.nr_periods)), rise(Some(b.nr_throttled), Some(c.nr_throttled)))
        else {
            continue;
        };
        if periods == 0 || throttled == 0 {
            continue;
        }
        let periods_pct = pct(throttled as f64, periods as f64);
        if periods_pct < ctx.t.throttle_pct {
            continue;
        }
        let members = cg.members(d);
        let Some(pid) = main_member(ctx, &members) else { continue };
        // A limit on a parent too (a Kubernetes pod's): the innermost cgroup that hit one is named.
        if !named.insert(pid) {
            continue;
        }
        let waiting = waiting_work(ctx, &members);
        let throttled_us = c.throttled_us.saturating_sub(b.throttled_us);
        let interval_us = ctx.interval_ms.max(1) * 1000;
        let cpus = quota as f64 / c.period_us.max(1) as f64;
        let severity = if waiting.is_empty() { Severity::Info } else { Severity::Warning };
        let ev = CpuThrottled {
            cgroup: d.path.clone(),
            quota_us: quota,
            period_us: c.period_us,
            cpus: (cpus * 1000.0).round() / 1000.0,
            nr_periods_rise: periods,
            nr_throttled_rise: throttled,
            throttled_ms: throttled_us / 1000,
            throttled_periods_pct: periods_pct,
            throttled_share_pct: pct(throttled_us as f64, interval_us as f64),
            waiting,
            processes: members.iter().take(20).map(|p| p.pid).collect(),
        };
        let netns = ctx.last.process(pid).map_or(0, |p| p.netns);
        out.push(Judged { verdict: Verdict::new(severity, Some(pid), None, netns, ev), cpus });
    }
    out
}
