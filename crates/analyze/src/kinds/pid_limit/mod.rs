//! `pid_limit` — fork() and pthread_create() fail with EAGAIN: a forking
//! server stops taking connections (or a thread pool stops growing) while
//! the host has plenty of room, because a limit around the program is hit.
//!
//! Kernel facts: a cgroup's pids.max bounds the tasks (processes and
//! threads) in it and below it; pids.current counts them, and pids.events
//! `max` counts the forks refused because this cgroup was at its limit (a
//! Kubernetes pod's limit sits on the pod's cgroup, above its containers':
//! every directory up to the root is read). Host-wide, every task takes a
//! pid below kernel.pid_max and counts against kernel.threads-max
//! (/proc/loadavg's total); RLIMIT_NPROC ("Max processes" in
//! /proc/PID/limits) bounds the tasks of one real user (root is exempt).
//!
//! False alarms avoided: a cgroup well below its limit (its healthy twin:
//! one at 50% of pids.max) is silent; pids.events counts only its rise
//! during the interval; a limit of "max" is no limit; processes of root
//! are not checked against RLIMIT_NPROC (the kernel does not apply it).

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
