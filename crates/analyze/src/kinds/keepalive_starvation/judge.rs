//! Decides which stalled listeners have every accepted connection idling
//! in keep-alive.

use crate::facts::index::endpoint;
use crate::facts::queues::{idle_keepalive, stalled, waiting_evidence};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::{IdleConnection, KeepaliveStarvation};
use unwedge_model::Severity;

pub struct Judged {
    pub verdict: Verdict<KeepaliveStarvation>,
    /// The shortest idle time among the held connections.
    pub min_idle_ms: u32,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = Vec::new();
    for st in stalled(ctx) {
        let Some(held) = idle_keepalive(ctx, &st) else { continue };
        let l = st.listener;
        let ev = KeepaliveStarvation {
            listen: endpoint(l.local, l.local_port),
            queued: l.recv_q,
            backlog: l.send_q,
            slots_held_by_idle: held.len(),
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
            waiting_whole_interval: st.waiting.len(),
            waiting: waiting_evidence(&st),
            owners: st.owners.clone(),
            accepting: st.accepting.clone(),
        };
        let min_idle_ms =
            held.iter().filter_map(|s| s.info.map(|i| i.last_data_recv_ms.min(i.last_data_sent_ms))).min().unwrap_or(0);
        let verdict = Verdict::new(Severity::Critical, st.pid, Some(l.local_port), l.netns, ev);
        out.push(Judged { verdict, min_idle_ms });
    }
    out
}
