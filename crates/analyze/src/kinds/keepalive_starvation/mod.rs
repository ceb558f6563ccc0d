//! `keepalive_starvation` — story 3 of docs/stories.md: a server with a
//! concurrency cap (Go's netutil.LimitListener(l, 1)) whose slots are held
//! by idle HTTP keep-alive connections, while new clients wait unaccepted.
//!
//! Kernel facts: `accept_stalled` (queued connections survive the interval)
//! plus the owner's accepted connections on that port, every one of them
//! answered (tcp_info bytes_acked / bytes_sent > 0), its answer no older
//! than the client's last request (last_data_sent <= last_data_recv),
//! nothing unread, and no data either way for >= idle_ms.
//! False alarms avoided: a server busy serving its connections (data moving)
//! is merely slow; a server with no accepted connections is plain
//! `accept_stalled`; so is one whose connections hold requests it read and
//! never answered — a worker at its fd limit (fd_exhaustion), a one-worker
//! server busy with a slow request. On loopback those tie on timestamps
//! (handshake and request in the same jiffy), so only the byte counters
//! tell them from keep-alive.

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
