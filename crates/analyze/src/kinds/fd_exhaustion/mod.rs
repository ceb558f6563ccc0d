//! `fd_exhaustion` — the end state of every leak: at RLIMIT_NOFILE accept()
//! fails with EMFILE, the accept queue fills and new clients time out.
//!
//! Kernel facts: the count of /proc/PID/fd entries against the soft limit
//! from /proc/PID/limits; what holds them: CLOSE-WAIT sockets, and accepted
//! connections whose request was received and never answered (tcp_info
//! bytes_received > 0, bytes_acked 0) — slow clients pinning fds. False alarm avoided: unlimited or unreadable
//! limits, and processes whose fds we could not list, never trigger.

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
