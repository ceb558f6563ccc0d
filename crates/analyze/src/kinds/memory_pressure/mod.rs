//! `memory_pressure` — a memory limit stalls a service in reclaim (or the
//! OOM killer takes its workers): requests slow to a crawl with the CPU
//! mostly idle, or connections reset when a worker dies.
//!
//! Kernel facts: at its limit a cgroup's allocations reclaim its own page
//! cache synchronously, in the allocating thread; v1 counts every charge
//! that hit the limit in memory.failcnt and OOM kills in
//! memory.oom_control (`under_oom 1`: the OOM killer is disabled and the
//! tasks sleep until memory frees up — a hang), v2 counts memory.events
//! `max`, `high` (throttled above memory.high) and `oom_kill`. PSI
//! (memory.pressure of a v2 cgroup, present on hybrid hosts too;
//! /proc/pressure/memory host-wide) measures the time all non-idle tasks
//! stalled on memory (`full`). memory.stat's anon (total_rss) is what
//! reclaim cannot evict without swap.
//!
//! False alarms avoided: hitting the limit is how a cgroup with a file-heavy
//! job normally uses its page cache (failcnt rises on every cache refill),
//! so that alone is `info`; it is an alarm only when an OOM kill or
//! under_oom says tasks died or sleep, or when work waits on the cgroup's
//! processes while they stall (PSI full >= `--psi-full`) or while anonymous
//! memory leaves reclaim almost nothing to evict (anon >= 90% of the
//! limit). Its healthy twin, a limited process reading files with nobody
//! waiting, is info or silent.

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
