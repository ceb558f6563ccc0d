//! `blocked_signal` — story 4 of docs/stories.md: hping3, started from a uWSGI
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

mod judge;
mod words;

use crate::Ctx;
use unwedge_model::Finding;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for j in judge::judge(ctx) {
        let words = words::words(ctx, &j);
        out.push(ctx.finding(j.verdict, words));
    }
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
