//! `cpu_starved` — the threads that serve waiting work were runnable but
//! waited for a CPU most of the interval: the host (or the few CPUs the
//! service may use) was too small for its load, and the service was not
//! the cause. Tried as a new user would, a one-request-at-a-time worker on
//! a host where six other processes spun on its CPU was reported as
//! `accept_stalled` ("accepted none of the connections waiting") while its
//! clients timed out; the worker was runnable most of the interval and got
//! a fraction of a core (docs/stories.md, "Starved of CPU").
//!
//! Kernel facts: each thread's /proc/PID/task/TID/schedstat in both
//! snapshots (nanoseconds on a CPU, and runnable but waiting for one: the
//! run delay); its Cpus_allowed_list (a cpuset, taskset); every process's
//! utime+stime in both snapshots (who used those CPUs meanwhile, and their
//! cgroups); /proc/pressure/cpu and its v2 cgroup's cpu.pressure (the
//! share of the interval some runnable task waited); the work that waited
//! the whole interval (sock_diag, as `busy_thread` reads it), and whether
//! the process sent any client data during it (tcp_info's `bytes_sent` and
//! `last_data_sent` on the connections it serves).
//!
//! False alarms avoided: a starved thread with no work waiting on it (a
//! batch job on a busy host) is silent, and so is a service that still
//! drains its queue and answers within the answer timeout; a thread that
//! ran more than it waited is busy, not starved (`busy_thread`), and
//! threads starved by their own process's other threads are busy
//! together; a run delay caused by a CPU quota is `cpu_throttled`'s, not
//! this kind's (the cgroup's nr_throttled rose). Requests a starved
//! process read and holds while it answers others (Redis clients in
//! `BLPOP` on an empty list under redis-benchmark, a long poll) wait by
//! design, not for a CPU: it had a CPU for the answers it sent, so they
//! are not its waiting work (a stalled accept queue still is).

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
