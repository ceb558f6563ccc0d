//! `connect_unanswered` — nginx proxying to an upstream whose SYNs a
//! firewall drops (issue 22): its connects sit in SYN-SENT, the kernel
//! retransmitting each SYN, while the clients whose requests need that
//! upstream wait; nginx's event loop idles in epoll, so its threads show
//! nothing — the sockets do.
//!
//! Kernel facts (`facts/connects.rs`): sock_diag's SYN-SENT state and
//! tcp_info's `retransmits`, for the same socket (inode and 4-tuple) in
//! both snapshots, grouped by destination; each retransmit means at least
//! one more second since the first SYN (a SYN's retransmit timer starts at
//! the initial RTO of 1 s and never shrinks); net.ipv4.tcp_syn_retries of
//! the namespace (when connect() gives up); threads blocked in connect() on
//! one of them.
//!
//! False alarm avoided: a burst of connects to an upstream that answers
//! slowly (a SYN-ACK held a few hundred ms) — each leaves SYN-SENT within
//! its first RTO, never retransmits, and is gone or established by the
//! second snapshot. Only a connection still in SYN-SENT after the interval,
//! its SYN sent again, counts.
//!
//! Severity: warning; it is the cause (`caused_by`) of the process's
//! unanswered requests, stuck threads and stalled accept queue that wait
//! on the destination.

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
