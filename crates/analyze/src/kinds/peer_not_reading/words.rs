//! Says which thread is held sending to a peer that stopped reading, and
//! which timeout frees it.

use super::judge::Judged;
use crate::{secs, Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let who = ctx.proc_label(j.verdict.pid.unwrap_or(0));
    let (z, t) = (&e.connections[0], &e.thread);
    let n = e.blocked_threads;
    let others = if n > 1 { format!(" ({n} threads held this way)") } else { String::new() };
    Words {
        title: format!(
            "{who}: thread {} ({}) is blocked in {} to {}, which stopped reading (window zero, {} bytes queued){others}",
            t.tid, t.name, z.syscall, z.peer, z.bytes_queued
        ),
        explanation: format!(
            "Thread {} ({}) of {who} sleeps in {} on the connection {} -> {} and did not wake during the {} between the snapshots. The peer advertises a zero receive window: its buffer is full because it does not read, so {} bytes sit in the send queue and no data has gone out for {}; the kernel probes the window ({} probes so far, timer backoff {}) and the send returns only when the peer reads or the connection dies. Without a send timeout that is never: each peer that stops reading holds one thread. A fast transfer that only fills the buffer for a moment wakes up between snapshots and is not reported.",
            t.tid,
            t.name,
            z.syscall,
            z.local,
            z.peer,
            secs(ctx.interval_ms),
            z.bytes_queued,
            secs(z.no_data_sent_ms),
            z.probes,
            z.backoff
        ),
        fix: format!(
            "Put a timeout on sends: SO_SNDTIMEO on blocking sockets (Python: sock.settimeout), write deadlines (Go: conn.SetWriteDeadline, http.Server WriteTimeout; Java: a write timeout on the channel), nginx `send_timeout`; or write non-blocking from an event loop and drop peers that do not drain. Then the thread is freed when a peer stops reading; `ss -tnoi dst {}` shows the zero window (snd_wnd) and the probe timer.",
            z.peer
        ),
    }
}
