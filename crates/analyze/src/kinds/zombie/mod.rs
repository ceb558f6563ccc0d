//! `zombie` — story 1 of docs/stories.md: the orphaned proxy child left a
//! defunct child it never reaped; in numbers, zombies fill the pid space and
//! show a parent that no longer runs its SIGCHLD / wait() logic.
//!
//! Kernel facts: state Z and the parent pid (/proc/PID/stat); the parent's
//! SIGCHLD disposition and current syscall. False alarms avoided: the
//! instant between a child's exit and its parent's wait() (only zombies
//! present in both snapshots count, and fewer than --zombie-min, default 5,
//! per parent never do); an init (PID 1) that reaps adopted orphans on a
//! timer rather than at once (only `info` until --zombie-critical).

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
    use unwedge_model::{Process, Scan, Severity, Snapshot};

    fn zombies(ppid: u32, n: u32) -> Vec<Process> {
        (0..n)
            .map(|i| Process { pid: 1000 * ppid + i, ppid, comm: "z".into(), state: 'Z', ..Default::default() })
            .collect()
    }

    fn severities(processes: Vec<Process>) -> Vec<(Option<u32>, Severity)> {
        let snap = Snapshot { processes, ..Default::default() };
        let mut later = snap.clone();
        later.taken_at_ms += 1000;
        let a = analyze(&Scan { snapshots: vec![snap, later] }, &Thresholds::default());
        a.findings.iter().filter(|f| f.kind() == "zombie").map(|f| (f.pid, f.severity)).collect()
    }

    #[test]
    fn thresholds_and_init() {
        let mut p = zombies(7, 4); // below the minimum
        p.extend(zombies(8, 5));
        p.extend(zombies(9, 50));
        p.extend(zombies(1, 6)); // an init reaping on a timer
        let got = severities(p);
        assert_eq!(
            got,
            vec![(Some(9), Severity::Critical), (Some(8), Severity::Warning), (Some(1), Severity::Info)],
            "{got:?}"
        );
        // Present in one snapshot only: the instant between exit and wait().
        let snap = Snapshot { processes: zombies(8, 5), ..Default::default() };
        let a = analyze(&Scan { snapshots: vec![Snapshot::default(), snap] }, &Thresholds::default());
        assert!(a.findings.is_empty());
    }
}
