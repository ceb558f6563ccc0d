//! `peer_not_reading` — a thread blocked sending to a peer that stopped
//! reading. A client that stops reading (a stuck browser tab, a paused
//! consumer, a slowloris) or an upstream that does not drain its socket
//! fills its receive buffer; its window closes; our send buffer fills; a
//! blocking send then waits for window space forever when the program set
//! no send timeout — one handler thread held per such peer.
//!
//! Kernel facts, in both snapshots: the thread is asleep in send, sendto,
//! sendmsg, write, writev or sendfile (/proc/PID/task/TID/syscall) on a TCP
//! socket (its fd argument, resolved), without a context switch or CPU time
//! in between; that socket has bytes queued (sock_diag's send queue) and the
//! peer advertises a zero window (tcp_info `snd_wnd` 0, Linux 5.4+; on older
//! kernels, unanswered zero-window probes `tcpi_probes`) and acknowledged
//! nothing in between (`bytes_acked` unchanged). `tcpi_probes` and
//! `tcpi_backoff` say how far the kernel's zero-window probing has backed
//! off; `last_data_sent` how long no data could go out.
//!
//! Healthy twin: a fast bulk transfer fills the send buffer and blocks in
//! send for a moment, even sees a zero window for a moment, but its window
//! opens again between the snapshots (bytes_acked grows, the thread wakes
//! up): silent. An event loop writing with non-blocking sockets never sleeps
//! in send (it waits in epoll and applies its own send_timeout): silent.

use crate::facts::index::endpoint;
use crate::facts::syscalls::{Call, Class};
use crate::facts::{threads, waits};
use crate::{secs, Ctx};
use unwedge_model::evidence::{PeerNotReading, ZeroWindow};
use unwedge_model::{Finding, Severity, Socket};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(first) = &ctx.first else { return };
    // Only processes owning a zero-window socket: a handful on any host.
    let mut pids: Vec<u32> = ctx
        .snap()
        .sockets
        .iter()
        .filter(|s| s.inode != 0 && waits::zero_window(s))
        .flat_map(|s| ctx.last.owners_of(s.inode).iter().copied())
        .collect();
    pids.sort();
    pids.dedup();
    let arch = ctx.snap().arch.as_str();
    for pid in pids {
        let Some(p) = ctx.last.process(pid) else { continue };
        let mut hits: Vec<(ZeroWindow, &unwedge_model::Thread, u16)> = Vec::new();
        for t in &p.threads {
            let Some(call) = Call::of(arch, t) else { continue };
            if call.class != Class::Send || !waits::unchanged(ctx, p, t) {
                continue;
            }
            let Ok(fd) = u32::try_from(call.arg(0)) else { continue };
            let Some(s) = ctx.last.socket_of_fd(p, fd) else {
                continue;
            };
            let Some(b) = first.socket(s.inode) else { continue };
            if !still_shut(s, b) {
                continue;
            }
            let i = s.info.unwrap_or_default();
            hits.push((
                ZeroWindow {
                    local: endpoint(s.local, s.local_port),
                    peer: endpoint(s.remote, s.remote_port),
                    bytes_queued: s.send_q,
                    peer_window: i.snd_wnd,
                    no_data_sent_ms: i.last_data_sent_ms as u64,
                    probes: i.probes,
                    backoff: i.backoff,
                    tid: t.tid,
                    syscall: call.name,
                },
                t,
                s.local_port,
            ));
        }
        if hits.is_empty() {
            continue;
        }
        hits.sort_by_key(|(z, _, _)| std::cmp::Reverse(z.no_data_sent_ms));
        let (z, t, port) = (&hits[0].0, hits[0].1, Some(hits[0].2));
        let who = crate::describe(p);
        let n = hits.len();
        let others = if n > 1 { format!(" ({n} threads held this way)") } else { String::new() };
        let title = format!(
            "{who}: thread {} ({}) is blocked in {} to {}, which stopped reading (window zero, {} bytes queued){others}",
            t.tid, t.comm, z.syscall, z.peer, z.bytes_queued
        );
        let explanation = format!(
            "Thread {} ({}) of {who} sleeps in {} on the connection {} -> {} and did not wake during the {} between the snapshots. The peer advertises a zero receive window: its buffer is full because it does not read, so {} bytes sit in the send queue and no data has gone out for {}; the kernel probes the window ({} probes so far, timer backoff {}) and the send returns only when the peer reads or the connection dies. Without a send timeout that is never: each peer that stops reading holds one thread. A fast transfer that only fills the buffer for a moment wakes up between snapshots and is not reported.",
            t.tid,
            t.comm,
            z.syscall,
            z.local,
            z.peer,
            secs(ctx.interval_ms),
            z.bytes_queued,
            secs(z.no_data_sent_ms),
            z.probes,
            z.backoff
        );
        let ev = PeerNotReading {
            connections: hits.iter().map(|(z, _, _)| z.clone()).collect(),
            blocked_threads: n,
            thread: threads::evidence(&ctx.last, p, t),
            cmdline: p.cmdline.clone(),
        };
        let mut f = ctx.legacy_finding(Severity::Warning, Some(pid), port, p.netns, ev);
        f.tid = Some(t.tid);
        f.title = title;
        f.explanation = explanation;
        f.fix = format!(
            "Put a timeout on sends: SO_SNDTIMEO on blocking sockets (Python: sock.settimeout), write deadlines (Go: conn.SetWriteDeadline, http.Server WriteTimeout; Java: a write timeout on the channel), nginx `send_timeout`; or write non-blocking from an event loop and drop peers that do not drain. Then the thread is freed when a peer stops reading; `ss -tnoi dst {}` shows the zero window (snd_wnd) and the probe timer.",
            z.peer
        );
        out.push(f);
    }
}

/// Zero window in both snapshots and nothing acknowledged in between.
fn still_shut(now: &Socket, before: &Socket) -> bool {
    waits::zero_window(now)
        && waits::zero_window(before)
        && now.info.and_then(|i| i.bytes_acked) == before.info.and_then(|i| i.bytes_acked)
}
