//! `accept_queue_overflow` — a listener whose accept queue is at its
//! backlog: the kernel drops further SYNs (or resets them with
//! tcp_abort_on_overflow), and clients see SYN retransmits at 1 s, 3 s, 7 s…
//!
//! Kernel facts: for a LISTEN socket sock_diag's recv-q is the number of
//! queued connections and send-q the backlog; TcpExt ListenOverflows and
//! ListenDrops count the drops per network namespace, and the listener's
//! own SK_MEMINFO_DROPS (sock_diag INET_DIAG_SKMEMINFO) counts those at
//! this listener, so a burst between the snapshots is attributed to the
//! listener that dropped. The backlog is min(listen()'s argument,
//! net.core.somaxconn): when it equals somaxconn, raising the program's
//! backlog alone changes nothing. False alarm avoided: the counters are
//! cumulative since boot, so only a rise during the interval counts, never
//! their value; a listener's drops that are SYN-queue drops (no
//! ListenOverflows rise) are `syn_queue_overflow`'s.

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
