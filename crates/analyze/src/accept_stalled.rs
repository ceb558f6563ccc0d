//! `accept_stalled` — a listener whose owner stopped calling accept():
//! connections wait in its queue and are never served, and no log line
//! appears because no handler ever sees them (story 3 of FIELD-NOTES).
//!
//! Kernel facts: a completed but unaccepted connection is listed by
//! sock_diag as ESTABLISHED (or CLOSE-WAIT once the client gives up) with
//! inode 0, on the listener's port. The accept queue is FIFO, so if every
//! connection that was queued in the first snapshot is still queued in the
//! second, the owner accepted nothing in between. False alarms avoided: a
//! busy server with a queue that is never empty still drains its oldest
//! entries, and a busy loop that accepts one connection per round drains
//! some, so neither matches.

use crate::{index::endpoint, keepalive_starvation, Ctx};
use serde_json::json;
use std::collections::HashSet;
use std::net::IpAddr;
use unwedge_model::{Finding, Severity, Socket};

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

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for st in stalled(ctx) {
        // The more specific diagnosis replaces this one.
        if keepalive_starvation::applies(ctx, &st) {
            continue;
        }
        out.push(finding(ctx, &st));
    }
}

pub(crate) fn waiting_evidence(st: &Stalled) -> Vec<serde_json::Value> {
    st.waiting
        .iter()
        .take(5)
        .map(|c| {
            json!({
                "peer": endpoint(c.remote, c.remote_port),
                "state": c.state.name(),
                "unread_bytes": c.recv_q,
                "since_last_packet_ms": c.info.map(|i| i.last_ack_recv_ms),
            })
        })
        .collect()
}

fn finding(ctx: &Ctx, st: &Stalled) -> Finding {
    let l = st.listener;
    let addr = endpoint(l.local, l.local_port);
    let who = st.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "an unknown process".into());
    let mut f = ctx.finding("accept_stalled", Severity::Critical, st.pid, Some(l.local_port), l.netns);
    let n = st.waiting.len();
    f.title =
        format!("{who} accepted none of the {n} connections waiting on {addr} for {}", crate::secs(ctx.interval_ms));
    f.explanation = format!(
        "{n} clients completed the TCP handshake with {addr} (the kernel does that alone) and wait in the accept queue, but {who} did not call accept() once during the {} between the two snapshots. To those clients the server looks up yet never answers: they time out, and the application logs nothing because no handler ever saw them. Typical causes: the accepting thread is blocked (a lock, a slow call, a full worker pool), a concurrency cap is reached, or accept() fails (EMFILE).",
        crate::secs(ctx.interval_ms)
    );
    f.evidence = json!({
        "listen": addr,
        "queued": l.recv_q,
        "backlog": l.send_q,
        "waiting_whole_interval": n,
        "waiting": waiting_evidence(st),
        "accepted_during_interval": 0,
        "established_connections_held": ctx.last.accepted_by(l, &st.owners).len(),
        "owners": st.owners,
    });
    f.fix = format!(
        "See what the accepting thread of {who} does (its stack, `unwedge scan --pid {}`); make sure a cap on concurrent connections does not stop accept() while slots are held by idle or stuck connections, and that fd limits are not hit.",
        st.pid.map(|p| p.to_string()).unwrap_or_else(|| "PID".into())
    );
    f
}
