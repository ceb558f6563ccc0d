//! `blocked_signal` — story 4 of FIELD-NOTES: hping3, started from a uWSGI
//! worker thread that blocks every signal, inherits that mask (fork copies
//! the calling thread's mask, execve keeps it), installs a SIGALRM handler,
//! arms alarm() and waits in poll() for the handler that can never run.
//!
//! Kernel facts: SigPnd, ShdPnd, SigBlk and SigCgt of every thread
//! (/proc/PID/task/TID/status) and the parent's thread masks. False alarms
//! avoided: signals consumed by a signalfd or a sigwait thread (blocking is
//! how those work); pending-blocked signals whose default is to do nothing
//! or SIGPIPE (blocked on purpose to get EPIPE) and SIGCHLD (bash blocks it
//! while a foreground job runs); a handler blocked without a pending signal
//! counts only when the parent's thread carries the same mask; states that did not last
//! across both snapshots (sigprocmask around fork or a critical section).

use crate::facts::signals::{self, bit, SIGCHLD, SIGPIPE};
use crate::facts::syscalls::Call;
use crate::facts::threads;
use crate::Ctx;
use unwedge_model::evidence::{BlockedSignal, InheritedFrom, SignalMaskSet, ThreadEvidence};
use unwedge_model::{Finding, Process, Severity, SignalMasks, Snapshot};

/// Every thread's masks, by tid.
type Masks = Vec<(u32, SignalMasks)>;

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

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
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
        out.push(finding(ctx, p, pending, handled, &masks, inherited));
    }
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

fn finding(
    ctx: &Ctx,
    p: &Process,
    pending: u64,
    handled: u64,
    masks: &[(u32, SignalMasks)],
    inherited: Option<InheritedFrom>,
) -> Finding {
    let who = crate::describe(p);
    let sigs = pending | handled;
    let names = signals::names(sigs).join(", ");
    let caught = masks[0].1.caught;
    let severity = if pending & caught != 0 { Severity::Critical } else { Severity::Warning };
    let title = if pending != 0 {
        format!("{who} never receives {}: pending, but blocked in every thread", signals::names(pending).join(", "))
    } else {
        format!("{who} has a handler for {names} but every thread blocks it: the handler can never run")
    };
    let main = p.threads.iter().find(|t| t.tid == p.pid).or(p.threads.first());
    let doing = main
        .and_then(|t| Call::of(&ctx.snap().arch, t))
        .map(|c| format!(" Its main thread waits in {}: {}.", c.name, c.class.meaning()))
        .unwrap_or_default();
    let origin = match &inherited {
        Some(i) => format!(
            " The mask came from its parent: {} (pid {}) thread {} ({}) blocks exactly the same set, so this process was started from that thread.",
            i.comm, i.pid, i.tid, i.thread
        ),
        None => String::new(),
    };
    let term = if signals::blocked_everywhere(masks) & bit(signals::SIGTERM) != 0 {
        " SIGTERM is blocked as well, so a plain kill does nothing either."
    } else {
        ""
    };
    let explanation = format!(
        "A blocked signal stays pending until some thread unblocks it; a handler for it never runs. {who} installed handlers it relies on (for SIGALRM: alarm() or setitimer() timeouts that end a wait), \
but every one of its threads blocks {names}.{doing} The signal mask is per thread and is inherited: fork() copies the mask of the thread that called it, and execve() keeps it (POSIX), \
so a program started from a thread that blocks signals — uWSGI blocks all of them in every worker thread but the first, many thread pools do the same — starts with them blocked and never notices.{origin}{term} \
With N such threads only about 1 in N launches works, which makes the hang look random."
    );
    let thread_ev: Vec<ThreadEvidence> =
        p.threads.iter().take(16).map(|t| threads::evidence(&ctx.last, p, t)).collect();
    let first = masks[0].1;
    let ev = BlockedSignal {
        signals: signals::names(sigs),
        pending_blocked: signals::names(pending),
        handler_blocked: signals::names(handled),
        blocked_in_every_thread: signals::describe(signals::blocked_everywhere(masks)),
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
    let mut f = ctx.legacy_finding(severity, Some(p.pid), None, p.netns, ev);
    f.title = title;
    f.explanation = explanation;
    f.fix = format!(
        "Now: this process will not recover; stop it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period) or kill -9 {pid}, and start the command with `unwedge exec -- CMD ARGS…`, which runs it with an empty signal mask and default dispositions. \
For good, reset the mask in the launcher between fork and exec: C: posix_spawnattr_setsigmask() with an empty set plus POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF; \
Python: os.posix_spawn(..., setsigmask=()) or subprocess.Popen(..., preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, [])), or launch from a thread that blocks nothing; \
Rust: std::process::Command already empties the mask in the child; Go: os/exec restores the mask the Go program itself started with, so start the Go service with an empty mask. \
Where the launcher cannot be changed, the child can clear its own mask at start (sigprocmask(SIG_SETMASK, empty)), or measure what it needs another way (a plain connect() instead of hping3).",
        pid = p.pid
    );
    f
}

#[cfg(test)]
mod tests {
    use crate::{analyze, Thresholds};
    use unwedge_model::Evidence;
    use unwedge_model::{Process, Scan, SignalMasks, Snapshot, Thread};

    fn thread(tid: u32, m: SignalMasks) -> Thread {
        Thread {
            tid,
            comm: "t".into(),
            state: 'S',
            signals: Some(m),
            syscall: Some("7 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0".into()),
            ..Default::default()
        }
    }

    fn proc_(pid: u32, ppid: u32, threads: Vec<Thread>) -> Process {
        Process { pid, ppid, pgid: ppid, sid: ppid, comm: "p".into(), state: 'S', threads, ..Default::default() }
    }

    fn flagged(processes: Vec<Process>) -> Vec<u32> {
        let snap = Snapshot { arch: "x86_64".into(), processes, ..Default::default() };
        let a = analyze(&Scan { snapshots: vec![snap.clone(), snap] }, &Thresholds::default());
        a.findings.iter().filter(|f| f.kind() == "blocked_signal").filter_map(|f| f.pid).collect()
    }

    const ALRM: u64 = 1 << 13;
    const CHLD: u64 = 1 << 16;

    #[test]
    fn silent_twins() {
        // bash while a foreground job runs: SIGCHLD caught, blocked, even pending.
        let bash = proc_(
            10,
            1,
            vec![thread(10, SignalMasks { blocked: CHLD, caught: CHLD, shared_pending: CHLD, ..Default::default() })],
        );
        // Blocked in one thread only: another thread takes the signal.
        let pool = proc_(
            20,
            1,
            vec![
                thread(20, SignalMasks { caught: ALRM, ..Default::default() }),
                thread(21, SignalMasks { blocked: !0, caught: ALRM, ..Default::default() }),
            ],
        );
        // Handler blocked everywhere, nothing pending, and not inherited: a critical section.
        let section = proc_(30, 1, vec![thread(30, SignalMasks { blocked: ALRM, caught: ALRM, ..Default::default() })]);
        // SIGPIPE pending and blocked: blocked on purpose to get EPIPE.
        let pipe = proc_(
            40,
            1,
            vec![thread(40, SignalMasks { blocked: 1 << 12, shared_pending: 1 << 12, ..Default::default() })],
        );
        assert!(flagged(vec![bash, pool, section, pipe]).is_empty());
    }

    #[test]
    fn inherited_handler_and_pending_real_time_signal() {
        let all = 0xffff_fffe_7ffb_feffu64;
        let parent = proc_(
            100,
            1,
            vec![thread(100, SignalMasks::default()), thread(101, SignalMasks { blocked: all, ..Default::default() })],
        );
        // Before its alarm fires: the handler is blocked, and the mask is the parent thread's.
        let child =
            proc_(110, 100, vec![thread(110, SignalMasks { blocked: all, caught: ALRM, ..Default::default() })]);
        // SIGRTMIN+3 (37) pending and blocked everywhere, with a handler.
        let rt = 1u64 << 36;
        let rtp = proc_(
            120,
            1,
            vec![thread(120, SignalMasks { blocked: rt, caught: rt, shared_pending: rt, ..Default::default() })],
        );
        let snap = Snapshot { arch: "x86_64".into(), processes: vec![parent, child, rtp], ..Default::default() };
        let a = analyze(&Scan { snapshots: vec![snap.clone(), snap] }, &Thresholds::default());
        let f: Vec<_> = a.findings.iter().filter(|f| f.kind() == "blocked_signal").collect();
        assert_eq!(f.len(), 2, "{f:#?}");
        let child = f.iter().find(|f| f.pid == Some(110)).unwrap();
        let Evidence::BlockedSignal(ev) = &child.evidence else { panic!("{child:?}") };
        assert_eq!(ev.handler_blocked, ["SIGALRM"]);
        assert_eq!(ev.inherited_from.as_ref().map(|i| i.tid), Some(101));
        let rt = f.iter().find(|f| f.pid == Some(120)).unwrap();
        let Evidence::BlockedSignal(ev) = &rt.evidence else { panic!("{rt:?}") };
        assert_eq!(ev.pending_blocked, ["SIGRTMIN+3"]);
        assert!(rt.title.contains("SIGRTMIN+3"));
    }
}
