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

mod judge;
mod words;

use crate::Ctx;
use unwedge_model::Finding;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for j in judge::judge(ctx) {
        let words = words::words(ctx, &j);
        out.push(ctx.finding(j.verdict, words));
    }
}
