//! `syn_queue_overflow` — a listener's SYN queue (half-open connections,
//! SYN-RECV) is full: new SYNs are dropped, or answered with syncookies,
//! and clients see connect() take 1 s, 3 s, 7 s or time out, while the
//! server looks idle.
//!
//! Kernel facts: sock_diag lists each half-open connection (a request
//! socket) as SYN-RECV on the listener's port, and the listener's backlog
//! (min of listen()'s argument and net.core.somaxconn) as its send-q. The
//! kernel calls the SYN queue full when it holds as many request sockets as
//! the backlog (tcp_conn_request: inet_csk_reqsk_queue_is_full); then with
//! net.ipv4.tcp_syncookies=1 it answers with a cookie (TcpExt
//! TCPReqQFullDoCookies, SyncookiesSent) and otherwise drops the SYN
//! (TCPReqQFullDrop). Without syncookies it also keeps the last quarter of
//! tcp_max_syn_backlog for peers it has seen before. Every drop at a
//! listener counts in its own SK_MEMINFO_DROPS. A flood (spoofed or dead
//! sources) leaves half-open connections from many peers that never
//! complete; a burst of real clients completes them.
//!
//! False alarms avoided: the TcpExt counters are cumulative since boot, so
//! only their rise during the interval counts; a listener with a few
//! half-open connections below its limit (its healthy twin: a busy server
//! whose handshakes complete) is silent; a full accept queue that drops
//! SYNs is `accept_queue_overflow`'s, not this one's.

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
