//! Decides which processes have a signal they need pending, or handled,
//! but blocked in every thread, in both snapshots; and where the mask came from.

use crate::facts::signals::{self, bit, SIGCHLD, SIGPIPE};
use crate::facts::syscalls::Call;
use crate::facts::threads;
use crate::{Ctx, Verdict};
use unwedge_model::evidence::{BlockedSignal, InheritedFrom, SignalMaskSet, ThreadEvidence};
use unwedge_model::{Process, Severity, SignalMasks, Snapshot};

/// Every thread's masks, by tid.
type Masks = Vec<(u32, SignalMasks)>;

pub struct Judged {
    pub verdict: Verdict<BlockedSignal>,
    /// Signals pending and undeliverable, and handled but blocked everywhere.
    pub pending: u64,
    pub handled: u64,
    /// Signals every thread blocks.
    pub blocked_everywhere: u64,
    /// What the main thread is doing.
    pub main_call: Option<Call>,
}

/// The signals at fault in one snapshot: (pending and undeliverable, handled but blocked everywhere).
fn at_fault(p: &Process, snap: &Snapshot) -> Option<(u64, u64, Masks)> {
    let masks = signals::thread_masks(p)?;
    let blocked_all = signals::blocked_everywhere(&masks);
    let first = masks[0].1;
    let mut stuck = first.shared_pending & blocked_all;
    for (_, m) in &masks {
        stuck |= m.pending & m.blocked;
    }
    // SIGCHLD: shells block it around wait4 for as long as a foreground job runs, and
    // a late SIGCHLD harms no one (wait() returns anyway).
    let skip = first.ignored | signals::consumed(p, snap)? | bit(SIGPIPE) | bit(SIGCHLD);
    let pending = stuck & !skip & (first.caught | !signals::DEFAULT_IGNORED);
    let handled = first.caught & blocked_all & !skip & !pending;
    Some((pending, handled, masks))
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = Vec::new();
    for p in &ctx.snap().processes {
        let Some((mut pending, mut handled, masks)) = at_fault(p, ctx.snap()) else { continue };
        if pending == 0 && handled == 0 {
            continue;
        }
        let inherited = inherited_from(ctx, p, &masks);
        // With two snapshots, only what held in both: a mask set around a fork lasts
        // microseconds. A handler blocked without a pending signal counts only when
        // inherited (a shell blocks SIGCHLD around its waits by design).
        if let Some(first) = &ctx.first {
            let Some(before) = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks) else { continue };
            let Some((pb, hb, _)) = at_fault(before, first.snap) else { continue };
            if inherited.is_some() {
                pending &= pb | hb;
                handled &= pb | hb;
            } else {
                pending &= pb;
            }
        }
        if inherited.is_none() {
            handled = 0;
        }
        if pending == 0 && handled == 0 {
            continue;
        }
        out.push(judged(ctx, p, pending, handled, &masks, inherited));
    }
    out
}

/// The parent thread whose blocked mask equals this process's main thread
/// mask: where the mask came from.
fn inherited_from(ctx: &Ctx, p: &Process, masks: &[(u32, SignalMasks)]) -> Option<InheritedFrom> {
    let mine = masks.iter().find(|(tid, _)| *tid == p.pid).unwrap_or(&masks[0]).1.blocked;
    if mine == 0 {
        return None;
    }
    let parent = ctx.last.process(p.ppid)?;
    let t = parent.threads.iter().find(|t| t.signals.is_some_and(|m| m.blocked == mine))?;
    Some(InheritedFrom {
        pid: parent.pid,
        comm: parent.comm.clone(),
        tid: t.tid,
        thread: t.comm.clone(),
        blocked: signals::hex(mine),
        other_threads_blocking_nothing: parent
            .threads
            .iter()
            .filter(|t| t.signals.is_some_and(|m| m.blocked == 0))
            .count(),
    })
}

fn judged(
    ctx: &Ctx,
    p: &Process,
    pending: u64,
    handled: u64,
    masks: &[(u32, SignalMasks)],
    inherited: Option<InheritedFrom>,
) -> Judged {
    let first = masks[0].1;
    let severity = if pending & first.caught != 0 { Severity::Critical } else { Severity::Warning };
    let main = p.threads.iter().find(|t| t.tid == p.pid).or(p.threads.first());
    let blocked_everywhere = signals::blocked_everywhere(masks);
    let thread_ev: Vec<ThreadEvidence> =
        p.threads.iter().take(16).map(|t| threads::evidence(&ctx.last, p, t)).collect();
    let ev = BlockedSignal {
        signals: signals::names(pending | handled),
        pending_blocked: signals::names(pending),
        handler_blocked: signals::names(handled),
        blocked_in_every_thread: signals::describe(blocked_everywhere),
        caught: signals::names(first.caught),
        masks: SignalMaskSet {
            shared_pending: signals::hex(first.shared_pending),
            ignored: signals::hex(first.ignored),
            caught: signals::hex(first.caught),
            per_thread_blocked: masks.iter().map(|(tid, m)| (*tid, signals::hex(m.blocked))).collect(),
            per_thread_pending: masks.iter().map(|(tid, m)| (*tid, signals::hex(m.pending))).collect(),
        },
        inherited_from: inherited,
        persisted_across_interval: ctx.first.is_some(),
        cmdline: p.cmdline.clone(),
        threads: thread_ev,
    };
    Judged {
        verdict: Verdict::new(severity, Some(p.pid), None, p.netns, ev),
        pending,
        handled,
        blocked_everywhere,
        main_call: main.and_then(|t| Call::of(&ctx.snap().arch, t)),
    }
}
