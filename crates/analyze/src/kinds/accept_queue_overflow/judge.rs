//! Decides which listeners' accept queues are (or were) full or dropped
//! connections during the interval, and which namespaces saw a burst of
//! drops no listener explains.

use crate::facts::graph::{hops, path, unix};
use crate::facts::index::endpoint;
use crate::facts::queues::{accept_facts, accept_facts_unix, AcceptFacts};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::AcceptQueueOverflow;
use unwedge_model::{Severity, Socket, UnixState};

pub struct Judged {
    pub verdict: Verdict<AcceptQueueOverflow>,
    /// What the accepting processes show (for a listener; `None` for a burst).
    pub facts: Option<AcceptFacts>,
}

fn full(s: &Socket) -> bool {
    s.recv_q > 0 && s.recv_q >= s.send_q
}

/// Per namespace: how much ListenOverflows and ListenDrops rose during the interval.
fn rise(ctx: &Ctx, netns: u64) -> (Option<u64>, Option<u64>) {
    let Some(first) = ctx.first.as_ref() else { return (None, None) };
    let a = first.snap.netns.iter().find(|n| n.inode == netns);
    let b = ctx.snap().netns.iter().find(|n| n.inode == netns);
    match (a, b) {
        (Some(a), Some(b)) => (
            a.listen_overflows.zip(b.listen_overflows).map(|(x, y)| y.saturating_sub(x)),
            a.listen_drops.zip(b.listen_drops).map(|(x, y)| y.saturating_sub(x)),
        ),
        _ => (None, None),
    }
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let snap = ctx.snap();
    let was_full = |l: &Socket| ctx.first.as_ref().and_then(|f| f.socket(l.inode)).is_some_and(full);
    // The listener's own drops during the interval.
    let own_rise = |l: &Socket| {
        ctx.first
            .as_ref()
            .and_then(|f| f.socket(l.inode))
            .and_then(|b| b.drops.zip(l.drops))
            .and_then(|(a, b)| b.checked_sub(a))
            .map(u64::from)
    };
    let mut out = Vec::new();
    let mut blamed_ns = Vec::new();
    for l in ctx.last.listeners() {
        let (overflows, drops) = rise(ctx, l.netns);
        let dropped_here = own_rise(l).unwrap_or(0) > 0 && overflows.unwrap_or(0) > 0;
        if !(full(l) || was_full(l) || dropped_here) {
            continue;
        }
        blamed_ns.push(l.netns);
        let somaxconn = snap.netns.iter().find(|n| n.inode == l.netns).and_then(|n| n.somaxconn);
        let owners = ctx.last.owners_of(l.inode).to_vec();
        let accepting = ctx.last.accepting(l, &owners);
        let pid = accepting.first().copied();
        let facts = accept_facts(ctx, l, &owners, &accepting);
        let accepting_pids = accepting.clone();
        let ev = AcceptQueueOverflow::Listener {
            listen: endpoint(l.local, l.local_port),
            queued: l.recv_q,
            backlog: l.send_q,
            full_now: full(l),
            full_in_first_snapshot: ctx.first.as_ref().map(|_| was_full(l)),
            listen_overflows_rise: overflows,
            listen_drops_rise: drops,
            owners,
            accepting,
            listener_drops: l.drops.map(u64::from),
            listener_drops_rise: own_rise(l),
            somaxconn,
            backlog_is_somaxconn: somaxconn.map(|m| l.send_q == m),
        };
        let severity = if full(l) || was_full(l) { Severity::Critical } else { Severity::Warning };
        let mut verdict = Verdict::new(severity, pid, Some(l.local_port), l.netns, ev);
        let into = path::into_listener(ctx, l, &accepting_pids);
        verdict.waits_on = hops::of(ctx, &path::through_listener(ctx, into, &accepting_pids));
        out.push(Judged { verdict, facts: Some(facts) });
    }
    unix_listeners(ctx, &mut out);
    // Drops with no listener full now: a burst between the snapshots.
    for ns in &snap.netns {
        if blamed_ns.contains(&ns.inode) {
            continue;
        }
        let (overflows, drops) = rise(ctx, ns.inode);
        let (o, d) = (overflows.unwrap_or(0), drops.unwrap_or(0));
        // ListenDrops alone (no ListenOverflows) are SYNs dropped for other
        // reasons: a full SYN queue (syn_queue_overflow), no route back.
        if o == 0 {
            continue;
        }
        let ev =
            AcceptQueueOverflow::Burst { listen_overflows_rise: o, listen_drops_rise: d, interval_ms: ctx.interval_ms };
        out.push(Judged { verdict: Verdict::new(Severity::Warning, None, None, ns.inode, ev), facts: None });
    }
    out
}

/// Unix listeners whose queue is (or was, in the first snapshot) past its
/// backlog: the kernel admits backlog + 1, then refuses connect().
fn unix_listeners(ctx: &Ctx, out: &mut Vec<Judged>) {
    for l in ctx.snap().unix_sockets.iter().filter(|s| s.state == UnixState::Listen) {
        let before = ctx.graph.unix.before(ctx, l.inode);
        let was_full = before.is_some_and(unix::full);
        if !(unix::full(l) || was_full) {
            continue;
        }
        let somaxconn = ctx.snap().netns.iter().find(|n| n.inode == l.netns).and_then(|n| n.somaxconn);
        let owners = ctx.last.owners_of(l.inode).to_vec();
        let accepting = unix::accepting(ctx, l, &owners);
        let pid = accepting.first().copied();
        let facts = accept_facts_unix(ctx, l, &owners, &accepting);
        let into = path::into_unix_listener(ctx, l, &accepting);
        let waits_on = hops::of(ctx, &path::through_listener(ctx, into, &accepting));
        let ev = AcceptQueueOverflow::Listener {
            listen: format!("unix:{}", unix::name(l)),
            queued: l.recv_q,
            backlog: l.send_q,
            full_now: unix::full(l),
            full_in_first_snapshot: ctx.first.as_ref().map(|_| was_full),
            listen_overflows_rise: None,
            listen_drops_rise: None,
            owners,
            accepting,
            listener_drops: None,
            listener_drops_rise: None,
            somaxconn,
            backlog_is_somaxconn: somaxconn.map(|m| l.send_q == m),
        };
        let mut verdict = Verdict::new(Severity::Critical, pid, None, l.netns, ev);
        verdict.path = Some(unix::name(l));
        verdict.waits_on = waits_on;
        out.push(Judged { verdict, facts: Some(facts) });
    }
}
