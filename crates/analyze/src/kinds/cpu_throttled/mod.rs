//! `cpu_throttled` — a CPU quota throttles a service into timeouts while
//! the host is idle: every period the cgroup uses up its quota, its threads
//! are stopped until the next period, and requests wait in its queues.
//!
//! Kernel facts: with a CFS quota (v1 cpu.cfs_quota_us / cpu.cfs_period_us,
//! v2 cpu.max) the cgroup's cpu.stat counts enforcement periods
//! (nr_periods), periods in which it ran out of quota and was throttled
//! (nr_throttled), and the time its tasks spent throttled (v1
//! throttled_time in ns, v2 throttled_usec). All cumulative: the rise over
//! the interval is what happened. A quota on a parent (a Kubernetes pod)
//! throttles its children: every directory up to the root is read.
//!
//! False alarms avoided: a throttled batch job with nobody waiting on it
//! (its healthy twin: a CPU burner with no sockets) is `info`, not an
//! alarm — the quota does its job; a service throttled in fewer than
//! `--throttle-pct` of the periods is silent; without two snapshots
//! nothing is said (the counters are cumulative).

use crate::facts::cgroups::{main_member, pct, rise, waiting_work, Cgroups};
use crate::Ctx;
use unwedge_model::evidence::CpuThrottled;
use unwedge_model::{Finding, Severity};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(first) = ctx.first.as_ref() else { return };
    let snap = ctx.snap();
    let cg = Cgroups::new(snap);
    let before = Cgroups::new(first.snap);
    let mut named = crate::facts::index::FastSet::default();
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
            waiting: waiting.clone(),
            processes: members.iter().take(20).map(|p| p.pid).collect(),
        };
        let severity = if waiting.is_empty() { Severity::Info } else { Severity::Warning };
        let who = ctx.proc_label(pid);
        let netns = ctx.last.process(pid).map_or(0, |p| p.netns);
        let mut f = ctx.finding(severity, Some(pid), None, netns, ev);
        let share = format!("{:.0}%", cpus * 100.0);
        f.title = if waiting.is_empty() {
            format!(
                "{who} is held to its CPU quota ({share} of one CPU in cgroup {}): throttled in {throttled} of {periods} periods, nothing waits on it",
                d.path
            )
        } else {
            format!(
                "{who} is throttled by its CPU quota ({share} of one CPU in cgroup {}) in {throttled} of {periods} periods while work waits",
                d.path
            )
        };
        f.explanation = format!(
            "Cgroup {} may use {quota} µs of CPU every {} µs ({share} of one CPU). During the {} interval it ran out of quota in {throttled} of {periods} periods ({periods_pct:.0}%) and its threads sat throttled for {} ms in all: whenever that happens nothing in the cgroup runs until the next period, however idle the host is. {}",
            d.path,
            c.period_us,
            crate::secs(ctx.interval_ms),
            throttled_us / 1000,
            if waiting.is_empty() {
                "Nothing is waiting on it (no queued connections, no unread requests): a batch job held to its share, which is what a quota is for.".to_string()
            } else {
                format!(
                    "Meanwhile work waits: {}. Each throttled stretch adds up to {} ms to the requests in flight, and a server that needs more than its quota falls further behind until clients time out.",
                    waiting.join("; "),
                    c.period_us.saturating_sub(quota) / 1000
                )
            }
        );
        f.fix = if waiting.is_empty() {
            "Nothing to do if the job may take longer. To give it more: raise the quota (systemd CPUQuota=, docker --cpus, the Kubernetes CPU limit).".into()
        } else {
            format!(
                "Raise or remove the quota (systemd CPUQuota=, docker run --cpus, the container's Kubernetes CPU limit; or {}'s cpu.max / cpu.cfs_quota_us), or make the service do less per request; a multi-threaded service burns a quota in a fraction of the period (4 busy threads use 100 ms of quota in 25 ms): match its thread count (GOMAXPROCS, worker count) to the quota.",
                d.path
            )
        };
        out.push(f);
    }
}
