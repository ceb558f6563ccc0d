//! Connections held by clients that sent part of a request and nothing
//! since (slowloris-like): what pins a server's fds when it waits for the
//! rest. Read by `fd_exhaustion` (what holds its fds) and by
//! `unanswered_requests` (which must not say a server "chose not to answer"
//! requests it is still waiting to receive).
//!
//! What the kernel shows, and its limit: it does not show the bytes a
//! server read, so "partial" is never a parse of the request. It rests on
//! the server's own wait. Per connection (tcp_info): the client sent bytes
//! (`bytes_received` > 0), the server read them all (receive queue empty)
//! and never sent a byte (`bytes_sent`/`bytes_acked` 0), and the client has
//! been silent for at least `--idle`. Per process: the server waits to read
//! more from them — a thread of it blocks reading that very connection, or
//! it is an event loop that ran during the interval while every thread
//! idles (none busy, none waiting on an upstream, a lock or a file), so no
//! work on these requests is under way. A server that parks complete
//! requests on purpose (long polling, BLPOP) with no other work looks the
//! same; the words say "waits for more from them", which holds for both.

use crate::facts::requests::never_answered;
use crate::facts::syscalls::Call;
use crate::facts::waits;
use crate::Ctx;
use unwedge_model::evidence::PartialRequests;
use unwedge_model::{Process, Socket, TcpState};

/// The client sent bytes once the server read, got nothing back, and has
/// been silent for `idle_ms`.
pub fn silent_after_sending(s: &Socket, idle_ms: u32) -> bool {
    s.state == TcpState::Established
        && s.recv_q == 0
        && s.info.is_some_and(|i| never_answered(&i) && i.last_data_recv_ms >= idle_ms)
}

/// Every thread idles, and the process waits on no upstream, connect or
/// mount: nothing is under way for the requests it holds.
fn not_busy(sum: &waits::Summary) -> bool {
    sum.idle_only && sum.upstream.is_none() && sum.connecting.is_none() && sum.mount.is_none()
}

/// The connections of `p` (served ones) whose clients sent part of a request
/// and nothing since, while `p` waits to read more from them.
pub fn held(ctx: &Ctx, p: &Process) -> Option<PartialRequests> {
    let conns: Vec<&Socket> = p
        .sockets
        .iter()
        .filter_map(|fd| ctx.last.socket(fd.inode))
        .filter(|s| ctx.last.is_served(s) && silent_after_sending(s, ctx.t.idle_ms))
        .collect();
    if conns.is_empty() {
        return None;
    }
    let arch = ctx.snap().arch.as_str();
    // Thread-per-connection: a thread blocked reading one of them asks for more.
    let read_by_thread: Vec<&Socket> = conns
        .iter()
        .copied()
        .filter(|s| {
            p.threads.iter().any(|t| {
                Call::of(arch, t).is_some_and(|c| {
                    c.class.reads()
                        && c.fd_numbers().any(|fd| ctx.last.socket_of_fd(p, fd).is_some_and(|x| x.inode == s.inode))
                })
            })
        })
        .collect();
    let (held, waits_in) = if !read_by_thread.is_empty() {
        (read_by_thread, "thread reading")
    } else if waits::live_event_loop(ctx, p, 1) && not_busy(&waits::summarize(ctx, p)) {
        (conns, "event loop")
    } else {
        return None;
    };
    let infos: Vec<_> = held.iter().filter_map(|s| s.info).collect();
    Some(PartialRequests {
        connections: held.len(),
        idle_since_ms: infos.iter().map(|i| u64::from(i.last_data_recv_ms)).min().unwrap_or(0),
        oldest_ms: infos.iter().map(|i| u64::from(i.last_data_recv_ms)).max().unwrap_or(0),
        bytes_max: infos.iter().filter_map(|i| i.bytes_received).max().unwrap_or(0),
        segments_max: infos.iter().filter_map(|i| i.data_segs_in).max(),
        server_waits_in: waits_in.into(),
    })
}
