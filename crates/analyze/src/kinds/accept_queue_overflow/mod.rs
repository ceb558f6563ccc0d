//! `accept_queue_overflow` — a listener whose accept queue is at its
//! backlog: the kernel drops further SYNs (or resets them with
//! tcp_abort_on_overflow), and clients see SYN retransmits at 1 s, 3 s, 7 s…
//!
//! Kernel facts: for a LISTEN socket sock_diag's recv-q is the number of
//! queued connections and send-q the backlog; TcpExt ListenOverflows and
//! ListenDrops count the drops per network namespace, and the listener's
//! own SK_MEMINFO_DROPS (sock_diag INET_DIAG_SKMEMINFO) counts those at
//! this listener, so a burst between the snapshots is attributed to the
//! listener that dropped. The backlog is min(listen()'s argument,
//! net.core.somaxconn): when it equals somaxconn, raising the program's
//! backlog alone changes nothing. False alarm avoided: the counters are
//! cumulative since boot, so only a rise during the interval counts, never
//! their value; a listener's drops that are SYN-queue drops (no
//! ListenOverflows rise) are `syn_queue_overflow`'s.

use crate::facts::queues::accept_facts;
use crate::facts::index::endpoint;
use crate::Ctx;
use unwedge_model::evidence::AcceptQueueOverflow;
use unwedge_model::{Finding, Severity, Socket};

fn full(s: &Socket) -> bool {
    s.recv_q > 0 && s.recv_q >= s.send_q
}

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let snap = ctx.snap();
    // Per namespace: how much the drop counters rose during the interval.
    let rise = |netns: u64| -> (Option<u64>, Option<u64>) {
        let Some(first) = ctx.first.as_ref() else { return (None, None) };
        let a = first.snap.netns.iter().find(|n| n.inode == netns);
        let b = snap.netns.iter().find(|n| n.inode == netns);
        match (a, b) {
            (Some(a), Some(b)) => (
                a.listen_overflows.zip(b.listen_overflows).map(|(x, y)| y.saturating_sub(x)),
                a.listen_drops.zip(b.listen_drops).map(|(x, y)| y.saturating_sub(x)),
            ),
            _ => (None, None),
        }
    };
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
    let mut blamed_ns = Vec::new();
    for l in ctx.last.listeners() {
        let (overflows, drops) = rise(l.netns);
        let dropped_here = own_rise(l).unwrap_or(0) > 0 && overflows.unwrap_or(0) > 0;
        if !(full(l) || was_full(l) || dropped_here) {
            continue;
        }
        blamed_ns.push(l.netns);
        let somaxconn = snap.netns.iter().find(|n| n.inode == l.netns).and_then(|n| n.somaxconn);
        let capped = somaxconn.map(|m| l.send_q == m);
        let owners = ctx.last.owners_of(l.inode).to_vec();
        let accepting = ctx.last.accepting(l, &owners);
        let pid = accepting.first().copied();
        let facts = accept_facts(ctx, l, &owners, &accepting);
        let who = pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "an unknown process".into());
        let addr = endpoint(l.local, l.local_port);
        let ev = AcceptQueueOverflow::Listener {
            listen: addr.clone(),
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
            backlog_is_somaxconn: capped,
        };
        let full_at_all = full(l) || was_full(l);
        let severity = if full_at_all { Severity::Critical } else { Severity::Warning };
        let mut f = ctx.finding(severity, pid, Some(l.local_port), l.netns, ev);
        let cap_text = match (capped, somaxconn) {
            (Some(true), Some(m)) => format!(
                " The backlog of {m} is net.core.somaxconn's cap: asking listen() for more changes nothing until somaxconn is raised too."
            ),
            _ => String::new(),
        };
        if full_at_all {
            f.title =
                format!("accept queue of {addr} is full ({}/{}): new connections are dropped", l.recv_q, l.send_q);
            f.explanation = format!(
                "{who} listens on {addr} with a backlog of {backlog}, and {q} completed connections wait for accept(). While the queue is full the kernel drops every new SYN (or answers RST if net.ipv4.tcp_abort_on_overflow=1), so clients retransmit their SYN after 1 s, 3 s, 7 s… and finally connect() times out. {who} is not calling accept() fast enough, or at all.{}{cap_text}",
                facts.because(ctx, &who),
                backlog = l.send_q,
                q = l.recv_q
            );
        } else {
            let n = own_rise(l).unwrap_or(0);
            f.title = format!(
                "{addr} dropped {n} connections on a full accept queue during the interval (backlog {})",
                l.send_q
            );
            f.explanation = format!(
                "The listener's own drop counter (SK_MEMINFO_DROPS) rose by {n} between the snapshots while the namespace's ListenOverflows rose: its accept queue of {backlog} overflowed in a burst, though neither snapshot caught it full. Those clients retransmitted their SYN and waited at least a second.{cap_text}",
                backlog = l.send_q
            );
        }
        f.fix = if capped == Some(true) && !full_at_all {
            format!("If the bursts are real, raise net.core.somaxconn (now {}) together with the program's listen() backlog; if {who} accepts too slowly, find why (a saturated accept loop, a concurrency cap, fd exhaustion).", somaxconn.unwrap_or(0))
        } else {
            format!(
                "{} Raise the backlog (listen(fd, N) and net.core.somaxconn) only if bursts are real; a bigger queue hides a stalled server rather than fixing it.",
                facts.fix(ctx, &who, pid)
            )
        };
        out.push(f);
    }
    // Drops with no listener full now: a burst between the snapshots.
    for ns in &snap.netns {
        if blamed_ns.contains(&ns.inode) {
            continue;
        }
        let (overflows, drops) = rise(ns.inode);
        let (o, d) = (overflows.unwrap_or(0), drops.unwrap_or(0));
        // ListenDrops alone (no ListenOverflows) are SYNs dropped for other
        // reasons: a full SYN queue (syn_queue_overflow), no route back.
        if o == 0 {
            continue;
        }
        let ev =
            AcceptQueueOverflow::Burst { listen_overflows_rise: o, listen_drops_rise: d, interval_ms: ctx.interval_ms };
        let mut f = ctx.finding(Severity::Warning, None, None, ns.inode, ev);
        f.title = format!(
            "{o} SYNs dropped on full accept queues during the {} interval ({d} listen drops)",
            crate::secs(ctx.interval_ms)
        );
        f.explanation = "The kernel's TcpExt ListenOverflows / ListenDrops counters rose between the two snapshots: some listener's accept queue overflowed (or SYNs were dropped at a listener for another reason), so those clients had to retransmit their SYN and waited at least a second. No listener was full at the moment of either snapshot, so this was a burst.".into();
        f.fix = "Run `unwedge scan` again during the burst, or watch `unwedge serve`'s unwedge_listen_queue metric, to find the listener; then see why its owner accepts too slowly.".into();
        out.push(f);
    }
}
