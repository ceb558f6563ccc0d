//! `keepalive_starvation` — story 3 of FIELD-NOTES: a server with a
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

use crate::facts::index::endpoint;
use crate::facts::queues::{idle_keepalive, stalled, waiting_evidence};
use crate::Ctx;
use unwedge_model::evidence::{IdleConnection, KeepaliveStarvation};
use unwedge_model::{Finding, Severity};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for st in stalled(ctx) {
        let Some(held) = idle_keepalive(ctx, &st) else { continue };
        let l = st.listener;
        let addr = endpoint(l.local, l.local_port);
        let who = st.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "an unknown process".into());
        let (n_idle, n_wait) = (held.len(), st.waiting.len());
        let ev = KeepaliveStarvation {
            listen: addr.clone(),
            queued: l.recv_q,
            backlog: l.send_q,
            slots_held_by_idle: n_idle,
            idle_connections: held
                .iter()
                .take(5)
                .map(|s| IdleConnection {
                    peer: endpoint(s.remote, s.remote_port),
                    idle_recv_ms: s.info.map(|i| i.last_data_recv_ms),
                    idle_sent_ms: s.info.map(|i| i.last_data_sent_ms),
                    bytes_acked: s.info.and_then(|i| i.bytes_acked),
                    bytes_received: s.info.and_then(|i| i.bytes_received),
                })
                .collect(),
            waiting_whole_interval: n_wait,
            waiting: waiting_evidence(&st),
            owners: st.owners.clone(),
            accepting: st.accepting.clone(),
        };
        let mut f = ctx.finding(Severity::Critical, st.pid, Some(l.local_port), l.netns, ev);
        let min_idle =
            held.iter().filter_map(|s| s.info.map(|i| i.last_data_recv_ms.min(i.last_data_sent_ms))).min().unwrap_or(0);
        f.title = format!(
            "{who} serves only {n_idle} idle keep-alive connection{} on {addr} while {}",
            if n_idle == 1 { "" } else { "s" },
            if n_wait == 1 {
                "1 new client waits unaccepted".to_string()
            } else {
                format!("{n_wait} new clients wait unaccepted")
            }
        );
        f.explanation = format!(
            "Every connection {who} has accepted on {addr} is idle (no data either way for at least {}), yet during the {} between snapshots it accepted none of the connections waiting in its queue ({n_wait}). \
This is the signature of a concurrency cap (e.g. Go's netutil.LimitListener, a fixed worker pool, a single-threaded server) whose slots are held by HTTP keep-alive connections that a client or load balancer keeps open between requests: new clients get a TCP handshake from the kernel but never an answer, and time out; nothing is logged because no handler sees them. It looks random because it depends on which client holds the slot.",
            crate::secs(min_idle as u64),
            crate::secs(ctx.interval_ms)
        );
        f.fix = "Do not count idle keep-alive connections against a concurrency cap, or close idle ones when others wait: set an idle timeout (Go: http.Server{IdleTimeout}, nginx keepalive_timeout), disable keep-alive where the cap is tiny (Go: srv.SetKeepAlivesEnabled(false); or answer with `Connection: close`), or raise the cap / use a server that multiplexes idle connections cheaply.".into();
        out.push(f);
    }
}
