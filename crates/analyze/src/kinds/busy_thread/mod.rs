//! `busy_thread` — a thread that ran on a CPU (nearly) the whole interval
//! while the clients of its process waited: a regular expression
//! backtracking on one request, an infinite loop, a spin on a lock, a
//! garbage collector running back to back. A Node.js service whose event
//! loop was pinned by such a regular expression was first reported as
//! `accept_stalled` ("busy with that request", "run more workers"): the
//! kernel showed the main thread on a CPU the whole time, which is the
//! story (docs/stories.md, "A busy event loop").
//!
//! Kernel facts: each thread's /proc/PID/task/TID/schedstat in both
//! snapshots (time on a CPU, and runnable but waiting for one: the run
//! delay), or stat's clock ticks without it; the work that waited the
//! whole interval (sock_diag: a listener it accepts on that accepted none
//! of its queued connections, or requests it read and left unanswered for
//! `--answer-timeout` with no byte moving); where the thread burns, from
//! perf events sampled after the last snapshot without stopping it (its
//! hottest stacks, unwound; JIT code named from /tmp/perf-PID.map). The
//! thread's role comes from its runtime: Node's event loop (the main
//! thread of `node`), the JVM's garbage collector threads.
//!
//! False alarms avoided: a CPU-heavy service that still answers (its queue
//! drains, its requests are answered within the answer timeout) is silent
//! however busy, and so is a busy batch job nobody waits on; a thread
//! runnable but waiting for a CPU more than it ran is starved, not busy
//! (`cpu_starved`), unless its own process's threads took the CPUs it may
//! use (then they are busy together).

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
