//! Decides which processes SIGTERM cannot stop (ignored, or blocked in every
//! thread and read by nothing) in both snapshots, and whether a live master
//! stops them some other way.

use crate::facts::signals::{self, bit, SIGTERM};
use crate::facts::threads;
use crate::{Ctx, Verdict};
use unwedge_model::evidence::{SignalFd, SigtermBlocked, ThreadEvidence};
use unwedge_model::{Process, Severity, Snapshot};

pub struct Judged {
    pub verdict: Verdict<SigtermBlocked>,
}

/// (ignored, blocked in every thread) when SIGTERM cannot stop `p` and nothing consumes it.
fn refuses(p: &Process, snap: &Snapshot) -> Option<(bool, bool)> {
    if p.pid == 1 {
        return None;
    }
    let masks = signals::thread_masks(p)?;
    let ignored = masks[0].1.ignored & bit(SIGTERM) != 0;
    let blocked = signals::blocked_everywhere(&masks) & bit(SIGTERM) != 0;
    // Unknown consumers (fds or syscalls unreadable): only the certain case, SIG_IGN, counts.
    let consumed = signals::consumed(p, snap).is_none_or(|c| c & bit(SIGTERM) != 0);
    (ignored || (blocked && !consumed)).then_some((ignored, blocked))
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = Vec::new();
    for p in &ctx.snap().processes {
        let Some((ignored, blocked)) = refuses(p, ctx.snap()) else { continue };
        if let Some(first) = &ctx.first {
            let before = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks);
            if before.and_then(|q| refuses(q, first.snap)).is_none() {
                continue;
            }
        }
        out.push(judged(ctx, p, ignored, blocked));
    }
    out
}

fn judged(ctx: &Ctx, p: &Process, ignored: bool, blocked: bool) -> Judged {
    let first = p.threads.iter().find_map(|t| t.signals).unwrap_or_default();
    let pending = (first.shared_pending | p.threads.iter().filter_map(|t| t.signals).fold(0, |a, m| a | m.pending))
        & bit(SIGTERM)
        != 0;
    // A worker of a live master that ignores SIGTERM by design (PostgreSQL's
    // logger and checkpointer do: they must outlive the others) is stopped
    // by its master, not by kill. The master: its live parent, in the same
    // process group or running the same program (PostgreSQL's children
    // call setsid(), so only the program name ties them).
    let managed = ignored
        && !blocked
        && ctx
            .last
            .process(p.ppid)
            .is_some_and(|parent| parent.pid != 1 && (parent.pgid == p.pgid || parent.comm == p.comm));
    let severity = if managed { Severity::Info } else { Severity::Warning };
    let thread_ev: Vec<ThreadEvidence> =
        p.threads.iter().take(16).map(|t| threads::evidence(&ctx.last, p, t)).collect();
    let ev = SigtermBlocked {
        ignored,
        blocked_in_every_thread: blocked,
        handler_installed: first.caught & bit(SIGTERM) != 0,
        sigterm_pending: pending,
        sig_ign: signals::hex(first.ignored),
        signalfds: p
            .anon_fds
            .iter()
            .filter(|a| a.kind == "[signalfd]")
            .map(|a| SignalFd { fd: a.fd, sigmask: a.sigmask.map(signals::hex) })
            .collect(),
        persisted_across_interval: ctx.first.is_some(),
        managed_by_live_parent: managed,
        cmdline: p.cmdline.clone(),
        threads: thread_ev,
    };
    Judged { verdict: Verdict::new(severity, Some(p.pid), None, p.netns, ev) }
}
