//! `close_wait_leak` — story 2 of docs/stories.md: a listener that never
//! close()s sockets whose peer already sent FIN.
//!
//! Kernel facts: sock_diag state CLOSE-WAIT on sockets the process holds an
//! fd on; recv-q tells whether the app read to EOF (a received FIN counts as
//! one unread byte until read). False alarm avoided: a busy server passes
//! through CLOSE-WAIT for microseconds on every connection, so with two
//! snapshots only sockets in CLOSE-WAIT in both count; with one, only those
//! whose peer's last packet (the FIN at the latest) is older than `--idle`.

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
