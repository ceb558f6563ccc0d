//! `accept_stalled` — a listener whose owner stopped calling accept():
//! connections wait in its queue and are never served, and no log line
//! appears because no handler ever sees them (story 3 of docs/stories.md).
//!
//! Kernel facts: a completed but unaccepted connection is listed by
//! sock_diag as ESTABLISHED (or CLOSE-WAIT once the client gives up) with
//! inode 0, on the listener's port. The accept queue is FIFO, so if every
//! connection that was queued in the first snapshot is still queued in the
//! second, the owner accepted nothing in between. False alarms avoided: a
//! busy server with a queue that is never empty still drains its oldest
//! entries, and a busy loop that accepts one connection per round drains
//! some, so neither matches.
//!
//! The finding names the process that accepts (`Index::accepting`), not a
//! pre-fork master that only holds the socket, and says what this host
//! shows about it (its threads' states and syscalls, an fd limit reached,
//! a stop, requests it read and never answered) rather than typical causes.

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
