//! `sigterm_blocked` — stories 1 and 4 of docs/stories.md: hping3 (SIGTERM
//! blocked with every other signal, inherited from a uWSGI thread) and the
//! orphaned proxy children ignored SIGTERM; only kill -9 stopped them.
//!
//! Kernel facts: SigIgn, and SigBlk of every thread (/proc/PID/task/TID/
//! status); the `sigmask:` of signalfds (/proc/PID/fdinfo); threads in
//! rt_sigtimedwait. False alarms avoided: a daemon that blocks SIGTERM and
//! reads it from a signalfd or a sigwait thread (systemd and everything on
//! sd-event does) — and when fds or syscalls were unreadable (not root) a
//! blocked SIGTERM is not claimed, as a signalfd may hide there; kernel threads (no masks) and zombies; PID 1, which the
//! kernel never lets SIGTERM kill anyway; masks set for a moment around a
//! fork (the state must hold in both snapshots). A worker that ignores
//! SIGTERM under a live master of its own group (PostgreSQL's logger) is
//! only `info`: its master stops it, not kill.

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
    use unwedge_model::{AnonFd, Process, Scan, Severity, SignalMasks, Skipped, Snapshot, Thread};

    const TERM: u64 = 1 << 14;

    fn proc_(pid: u32, blocked: u64, ignored: u64) -> Process {
        let signals = Some(SignalMasks { blocked, ignored, ..Default::default() });
        let t = Thread {
            tid: pid,
            comm: "p".into(),
            state: 'S',
            signals,
            syscall: Some("7 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0".into()),
            ..Default::default()
        };
        Process {
            pid,
            ppid: 1,
            pgid: pid,
            sid: pid,
            comm: "p".into(),
            state: 'S',
            threads: vec![t],
            ..Default::default()
        }
    }

    fn flagged(processes: Vec<Process>, skipped: Vec<Skipped>) -> Vec<u32> {
        let snap = Snapshot { arch: "x86_64".into(), processes, skipped, ..Default::default() };
        let a = analyze(&Scan { snapshots: vec![snap] }, &Thresholds::default());
        a.findings.iter().filter(|f| f.kind() == "sigterm_blocked").filter_map(|f| f.pid).collect()
    }

    #[test]
    fn healthy_processes_on_a_debian_box_stay_silent() {
        // Kernel threads: SigIgn all ones, no threads read.
        let kthread = Process { pid: 2, comm: "kthreadd".into(), state: 'S', ..Default::default() };
        // A zombie keeps its last masks.
        let mut zombie = proc_(20, 0, TERM);
        zombie.state = 'Z';
        // PID 1 ignoring SIGTERM is normal for an init.
        let init = proc_(1, 0, TERM);
        // Interactive bash: catches SIGTERM, blocks SIGCHLD while a job runs.
        let mut bash = proc_(30, 1 << 16, 1 << 2);
        bash.threads[0].signals.as_mut().unwrap().caught = 0x4381_7efb;
        // systemd-style: SIGTERM blocked, read from a signalfd.
        let mut sd = proc_(40, TERM, 0);
        sd.anon_fds.push(AnonFd { fd: 3, kind: "[signalfd]".into(), sigmask: Some(TERM | 2) });
        // A sigwait thread consumes whatever is blocked.
        let mut sw = proc_(50, !0, 0);
        sw.threads[0].syscall = Some("128 0x7ffd 0x0 0x0 0x8 0x0 0x0 0x0 0x0".into());
        // Blocked, but its fds were unreadable (not root): a signalfd may hide there.
        let hidden = proc_(60, TERM, 0);
        let skipped = vec![Skipped {
            pid: 60,
            reason: unwedge_model::SkipReason::Fds(Box::new(unwedge_model::SkipReason::PermissionDenied)),
        }];
        let plain = proc_(70, 0, 0);
        assert!(flagged(vec![init, kthread, zombie, bash, sd, sw, hidden, plain], skipped).is_empty());
    }

    #[test]
    fn workers_of_a_live_master_running_the_same_program_are_info() {
        // PostgreSQL: the checkpointer ignores SIGTERM by design and, like
        // every backend, calls setsid(); its master is its live parent.
        let master = Process { comm: "postgres".into(), ..proc_(100, 0, 0) };
        let checkpointer = Process { ppid: 100, pgid: 101, sid: 101, comm: "postgres".into(), ..proc_(101, 0, TERM) };
        // A different program under a live parent (hping3 under uWSGI): warning.
        let launcher = Process { comm: "uwsgi".into(), ..proc_(200, 0, 0) };
        let child = Process { ppid: 200, pgid: 201, sid: 201, comm: "hping3".into(), ..proc_(201, 0, TERM) };
        let snap = Snapshot {
            arch: "x86_64".into(),
            processes: vec![master, checkpointer, launcher, child],
            ..Default::default()
        };
        let a = analyze(&Scan { snapshots: vec![snap] }, &Thresholds::default());
        let sev: Vec<(Option<u32>, Severity)> =
            a.findings.iter().filter(|f| f.kind() == "sigterm_blocked").map(|f| (f.pid, f.severity)).collect();
        assert!(sev.contains(&(Some(101), Severity::Info)), "{sev:?}");
        assert!(sev.contains(&(Some(201), Severity::Warning)), "{sev:?}");
    }

    #[test]
    fn refusing_processes_are_flagged() {
        let ignore = proc_(10, 0, TERM);
        let block = proc_(11, TERM, 0);
        // A signalfd that reads other signals does not consume SIGTERM.
        let mut other_sfd = proc_(12, TERM, 0);
        other_sfd.anon_fds.push(AnonFd { fd: 3, kind: "[signalfd]".into(), sigmask: Some(1 << 9) });
        assert_eq!(flagged(vec![ignore, block, other_sfd], Vec::new()), vec![10, 11, 12]);
    }
}
