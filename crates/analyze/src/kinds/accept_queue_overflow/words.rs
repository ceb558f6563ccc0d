//! Says that a full accept queue drops new connections, why the process
//! behind it does not accept, and whether raising the backlog would help.

use super::judge::Judged;
use crate::kinds::shared::{accept_because, accept_fix};
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::AcceptQueueOverflow;

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let (listen, queued, backlog, full_now, full_first, own_rise, somaxconn, capped) = match &j.verdict.evidence {
        AcceptQueueOverflow::Listener {
            listen,
            queued,
            backlog,
            full_now,
            full_in_first_snapshot,
            listener_drops_rise,
            somaxconn,
            backlog_is_somaxconn,
            ..
        } => (
            listen,
            *queued,
            *backlog,
            *full_now,
            *full_in_first_snapshot,
            listener_drops_rise.unwrap_or(0),
            *somaxconn,
            *backlog_is_somaxconn,
        ),
        AcceptQueueOverflow::Burst { listen_overflows_rise, listen_drops_rise, .. } => {
            return burst(ctx, *listen_overflows_rise, *listen_drops_rise)
        }
    };
    let Some(facts) = &j.facts else { return Words::default() };
    let pid = j.verdict.pid;
    let who = pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "an unknown process".into());
    let full_at_all = full_now || full_first == Some(true);
    let cap_text = match (capped, somaxconn) {
        (Some(true), Some(m)) => format!(
            " The backlog of {m} is net.core.somaxconn's cap: asking listen() for more changes nothing until somaxconn is raised too."
        ),
        _ => String::new(),
    };
    let (title, explanation) = if j.verdict.path.is_some() {
        (
            format!("accept queue of {listen} is full ({queued}/{backlog}): new connections are refused (EAGAIN)"),
            format!(
                "{who} listens on {listen} with a backlog of {backlog}, and {queued} connections wait for accept(). A unix listener takes one connection more than its backlog, then the kernel refuses every new connect(): at once with EAGAIN for a non-blocking client (nginx logs `connect() to unix:… failed (11: Resource temporarily unavailable)` and answers 502), or blocking a blocking one until there is room. {who} is not calling accept() fast enough, or at all.{}{cap_text}",
                accept_because(ctx, facts, &who),
            ),
        )
    } else if full_at_all {
        (
            format!("accept queue of {listen} is full ({queued}/{backlog}): new connections are dropped"),
            format!(
                "{who} listens on {listen} with a backlog of {backlog}, and {queued} completed connections wait for accept(). While the queue is full the kernel drops every new SYN (or answers RST if net.ipv4.tcp_abort_on_overflow=1), so clients retransmit their SYN after 1 s, 3 s, 7 s… and finally connect() times out. {who} is not calling accept() fast enough, or at all.{}{cap_text}",
                accept_because(ctx, facts, &who),
            ),
        )
    } else {
        (
            format!("{listen} dropped {own_rise} connections on a full accept queue during the interval (backlog {backlog})"),
            format!(
                "The listener's own drop counter (SK_MEMINFO_DROPS) rose by {own_rise} between the snapshots while the namespace's ListenOverflows rose: its accept queue of {backlog} overflowed in a burst, though neither snapshot caught it full. Those clients retransmitted their SYN and waited at least a second.{cap_text}"
            ),
        )
    };
    let fix = if capped == Some(true) && !full_at_all {
        format!("If the bursts are real, raise net.core.somaxconn (now {}) together with the program's listen() backlog; if {who} accepts too slowly, find why (a saturated accept loop, a concurrency cap, fd exhaustion).", somaxconn.unwrap_or(0))
    } else {
        format!(
            "{} Raise the backlog (listen(fd, N) and net.core.somaxconn) only if bursts are real; a bigger queue hides a stalled server rather than fixing it.",
            accept_fix(ctx, facts, &who, pid)
        )
    };
    Words { title, explanation, fix }
}

fn burst(ctx: &Ctx, overflows: u64, drops: u64) -> Words {
    Words {
        title: format!(
            "{overflows} SYNs dropped on full accept queues during the {} interval ({drops} listen drops)",
            secs(ctx.interval_ms)
        ),
        explanation: "The kernel's TcpExt ListenOverflows / ListenDrops counters rose between the two snapshots: some listener's accept queue overflowed (or SYNs were dropped at a listener for another reason), so those clients had to retransmit their SYN and waited at least a second. No listener was full at the moment of either snapshot, so this was a burst.".into(),
        fix: "Run `unwedge scan` again during the burst, or watch `unwedge serve`'s unwedge_listen_queue metric, to find the listener; then see why its owner accepts too slowly.".into(),
    }
}
