//! Facts about accept queues shared by the listener detectors
//! (`accept_stalled`, `keepalive_starvation`, and the stuck-thread work
//! list): which listeners accepted none of the connections waiting for
//! them, and whether their accepted connections sit idle in keep-alive.
//!
//! Kernel facts: a completed but unaccepted connection is listed by
//! sock_diag as ESTABLISHED (or CLOSE-WAIT once the client gives up) with
//! inode 0, on the listener's port. The accept queue is FIFO, so if every
//! connection queued in the first snapshot is still queued in the second,
//! the owner accepted nothing in between.

use crate::index::endpoint;
use crate::Ctx;
use std::collections::HashSet;
use std::net::IpAddr;
use unwedge_model::evidence::QueuedConnection;
use unwedge_model::Socket;

/// A listener that accepted none of the connections waiting for it.
pub struct Stalled<'a> {
    pub listener: &'a Socket,
    pub owners: Vec<u32>,
    pub pid: Option<u32>,
    /// Queued in both snapshots: they waited the whole interval.
    pub waiting: Vec<&'a Socket>,
}

type Tuple = (u64, IpAddr, u16, IpAddr, u16);

fn tuple(s: &Socket) -> Tuple {
    (s.netns, s.local, s.local_port, s.remote, s.remote_port)
}

/// Listeners none of whose earlier-queued connections was accepted.
pub fn stalled<'a>(ctx: &Ctx<'a>) -> Vec<Stalled<'a>> {
    let Some(first) = ctx.first.as_ref() else { return Vec::new() };
    let mut out = Vec::new();
    for l in ctx.last.listeners() {
        if l.recv_q == 0 {
            continue;
        }
        let Some(before) = first.socket(l.inode) else { continue };
        if before.recv_q == 0 {
            continue;
        }
        let earlier: HashSet<Tuple> = first.queued_for(before).into_iter().map(tuple).collect();
        let waiting: Vec<&Socket> =
            ctx.last.queued_for(l).into_iter().filter(|c| earlier.contains(&tuple(c))).collect();
        // FIFO: one accept would have taken the oldest of them, so all must
        // still wait. A loop that accepts slowly (one per busy round) drains
        // some and is merely slow.
        if waiting.is_empty() || waiting.len() < earlier.len() {
            continue;
        }
        let owners = ctx.last.owners_of(l.inode).to_vec();
        let pid = ctx.last.main_owner(&owners);
        out.push(Stalled { listener: l, owners, pid, waiting });
    }
    out
}

/// The first few waiting connections, as evidence.
pub fn waiting_evidence(st: &Stalled) -> Vec<QueuedConnection> {
    st.waiting
        .iter()
        .take(5)
        .map(|c| QueuedConnection {
            peer: endpoint(c.remote, c.remote_port),
            state: c.state.name().into(),
            unread_bytes: c.recv_q,
            since_last_packet_ms: c.info.map(|i| i.last_ack_recv_ms),
        })
        .collect()
}

/// The stalled listener's accepted connections, when every one of them
/// idles in keep-alive: idle both ways for >= `--idle`, the server having
/// spoken last (its response came after the client's last request). A
/// handler still working on a request it read (client spoke last) is a
/// stuck or slow handler, not keep-alive.
pub fn idle_keepalive<'a>(ctx: &Ctx<'a>, st: &Stalled) -> Option<Vec<&'a Socket>> {
    let held = ctx.last.accepted_by(st.listener, &st.owners);
    let idle = |s: &&Socket| {
        s.info.is_some_and(|i| {
            i.last_data_recv_ms >= ctx.t.idle_ms
                && i.last_data_sent_ms >= ctx.t.idle_ms
                && i.last_data_sent_ms <= i.last_data_recv_ms
        })
    };
    (!held.is_empty() && held.iter().all(idle)).then_some(held)
}
