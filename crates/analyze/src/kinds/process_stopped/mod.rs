//! `process_stopped` — a server that runs no code at all: stopped by a
//! signal (SIGSTOP, Ctrl-Z's SIGTSTP, SIGTTIN/SIGTTOU), held in a tracing
//! stop by a debugger that was never detached, or frozen with its cgroup.
//! The kernel still completes TCP handshakes for its listeners, so clients
//! connect and then wait forever; everything else reported about it (a
//! stalled accept queue, stuck threads, CLOSE-WAIT piling up) is a
//! consequence, and the second pass links those to this finding.
//!
//! Kernel facts: the state letter of /proc/PID/stat and of every thread —
//! `T` (stopped by a signal), `t` (ptrace stop; /proc/PID/status TracerPid
//! names the tracer) —, and for a process whose threads look stopped or
//! frozen, its freezer cgroup (/proc/PID/cgroup; v1 freezer.state FROZEN or
//! FREEZING, where tasks show `D`; v2 cgroup.events `frozen 1`, where tasks
//! sleep in the signal path). It must be so in both snapshots, with no CPU
//! time and no context switch in between. Raised only while it holds
//! something others wait on: a listening socket, a connection it accepted
//! (its client waits for an answer), or a child blocked writing to it.
//!
//! False alarms avoided: a process stopped by job control and continued
//! before the second snapshot (not stopped in both); a process under strace,
//! which passes through tracing stops at every syscall but runs (its context
//! switches move); a stopped shell job that holds no socket and no child
//! waiting on it (`vim` after Ctrl-Z), or only its own outbound connections
//! (`ssh`, `psql` after Ctrl-Z); zombies.

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
