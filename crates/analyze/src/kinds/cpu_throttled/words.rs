//! Says how often the quota stopped the cgroup, what waited meanwhile, and
//! how to give it room.

use super::judge::Judged;
use crate::{secs, Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let who = ctx.proc_label(j.verdict.pid.unwrap_or(0));
    let (quota, periods, throttled, path) = (e.quota_us, e.nr_periods_rise, e.nr_throttled_rise, &e.cgroup);
    let share = format!("{:.0}%", j.cpus * 100.0);
    let idle = e.waiting.is_empty();
    let title = if idle {
        format!(
            "{who} is held to its CPU quota ({share} of one CPU in cgroup {path}): throttled in {throttled} of {periods} periods, nothing waits on it"
        )
    } else {
        format!(
            "{who} is throttled by its CPU quota ({share} of one CPU in cgroup {path}) in {throttled} of {periods} periods while work waits"
        )
    };
    let explanation = format!(
        "Cgroup {path} may use {quota} µs of CPU every {} µs ({share} of one CPU). During the {} interval it ran out of quota in {throttled} of {periods} periods ({:.0}%) and its threads sat throttled for {} ms in all: whenever that happens nothing in the cgroup runs until the next period, however idle the host is. {}",
        e.period_us,
        secs(ctx.interval_ms),
        e.throttled_periods_pct,
        e.throttled_ms,
        if idle {
            "Nothing is waiting on it (no queued connections, no unread requests): a batch job held to its share, which is what a quota is for.".to_string()
        } else {
            format!(
                "Meanwhile work waits: {}. Each throttled stretch adds up to {} ms to the requests in flight, and a server that needs more than its quota falls further behind until clients time out.",
                e.waiting.join("; "),
                e.period_us.saturating_sub(quota) / 1000
            )
        }
    );
    let fix = if idle {
        "Nothing to do if the job may take longer. To give it more: raise the quota (systemd CPUQuota=, docker --cpus, the Kubernetes CPU limit).".into()
    } else {
        format!(
            "Raise or remove the quota (systemd CPUQuota=, docker run --cpus, the container's Kubernetes CPU limit; or {path}'s cpu.max / cpu.cfs_quota_us), or make the service do less per request; a multi-threaded service burns a quota in a fraction of the period (4 busy threads use 100 ms of quota in 25 ms): match its thread count (GOMAXPROCS, worker count) to the quota."
        )
    };
    Words { title, explanation, fix }
}
