//! `zombie` — story 1 of FIELD-NOTES: the orphaned proxy child left a
//! defunct child it never reaped; in numbers, zombies fill the pid space and
//! show a parent that no longer runs its SIGCHLD / wait() logic.
//!
//! Kernel facts: state Z and the parent pid (/proc/PID/stat); the parent's
//! SIGCHLD disposition and current syscall. False alarms avoided: the
//! instant between a child's exit and its parent's wait() (only zombies
//! present in both snapshots count, and fewer than --zombie-min, default 5,
//! per parent never do); an init (PID 1) that reaps adopted orphans on a
//! timer rather than at once (only `info` until --zombie-critical).

use crate::facts::signals::{self, bit, SIGCHLD};
use crate::facts::syscalls::Call;
use crate::facts::threads;
use crate::Ctx;
use std::collections::BTreeMap;
use unwedge_model::evidence::{Zombie, ZombieChild};
use unwedge_model::{Finding, Process, Severity};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let mut by_parent: BTreeMap<u32, Vec<&Process>> = BTreeMap::new();
    for p in ctx.snap().processes.iter().filter(|p| p.state == 'Z') {
        let lasted = ctx
            .first
            .as_ref()
            .is_none_or(|f| f.process(p.pid).is_some_and(|q| q.state == 'Z' && q.start_ticks == p.start_ticks));
        if lasted {
            by_parent.entry(p.ppid).or_default().push(p);
        }
    }
    for (ppid, zombies) in by_parent {
        if zombies.len() >= ctx.t.zombie_min.max(1) {
            out.push(finding(ctx, ppid, &zombies));
        }
    }
}

fn finding(ctx: &Ctx, ppid: u32, zombies: &[&Process]) -> Finding {
    let n = zombies.len();
    let snap = ctx.snap();
    // PID 1 collects adopted orphans, some inits on a timer (this VM's reaps every
    // ~1.5 s), so a handful across one interval is no alarm; a pile-up is.
    let severity = if n >= ctx.t.zombie_critical {
        Severity::Critical
    } else if ppid == 1 {
        Severity::Info
    } else {
        Severity::Warning
    };
    let parent = ctx.last.process(ppid);
    let who = ctx.proc_label(ppid);
    let oldest = zombies.iter().map(|z| z.age_s(snap)).fold(0.0f64, f64::max);
    let mut comms: BTreeMap<&str, usize> = BTreeMap::new();
    for z in zombies {
        *comms.entry(z.comm.as_str()).or_default() += 1;
    }
    let title = format!("{who} leaves {n} exited children unreaped (zombies)");
    let main = parent.and_then(|p| p.threads.iter().find(|t| t.tid == p.pid).or(p.threads.first()));
    let doing = parent
        .zip(main)
        .and_then(|(_, t)| Call::of(&snap.arch, t))
        .map(|c| format!(" Its main thread is in {}: {}.", c.name, c.class.meaning()))
        .unwrap_or_default();
    let sigchld = main.and_then(|t| t.signals).map(|m| {
        if m.caught & bit(SIGCHLD) != 0 {
            "caught (a handler is installed but does not reap these)"
        } else {
            "default (the program must call wait()/waitpid() itself)"
        }
    });
    let explanation = format!(
        "A child that exits stays a zombie, holding its pid and exit status, until its parent collects it with wait() or waitpid(). {who} has {n} such children, the oldest started {} ago; it is not reaping them, \
so its SIGCHLD or wait logic is not running: it is blocked elsewhere or forgot these children.{doing} Each zombie keeps a pid: enough of them exhaust pid_max or the user's RLIMIT_NPROC and fork() fails with EAGAIN.{}",
        unwedge_model::fmt::measured(std::time::Duration::try_from_secs_f64(oldest).unwrap_or_default()),
        if ppid == 1 { " The parent is PID 1: in a container, the entrypoint is not an init that reaps adopted orphans." } else { "" }
    );
    let ev = Zombie {
        count: n,
        oldest_age_s: (oldest * 10.0).round() / 10.0,
        zombies: zombies
            .iter()
            .take(10)
            .map(|z| ZombieChild { pid: z.pid, comm: z.comm.clone(), age_s: (z.age_s(snap) * 10.0).round() / 10.0 })
            .collect(),
        by_comm: comms.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        parent_sigchld: sigchld.map(str::to_string),
        parent_ignores_sigchld: main.and_then(|t| t.signals).map(|m| m.ignored & bit(SIGCHLD) != 0),
        parent_blocked: main.and_then(|t| t.signals).map(|m| signals::describe(m.blocked)),
        parent_thread: parent.zip(main).map(|(p, t)| threads::evidence(&ctx.last, p, t)),
        persisted_across_interval: ctx.first.is_some(),
    };
    let mut f = ctx.finding(severity, Some(ppid), None, parent.map(|p| p.netns).unwrap_or(0), ev);
    f.title = title;
    f.explanation = explanation;
    f.fix = if ppid == 1 {
        "Run an init that reaps as PID 1 (docker run --init, tini, dumb-init, or systemd); zombies adopted by it are then collected. The zombies themselves cannot be killed: they are already dead.".into()
    } else {
        format!(
            "Zombies cannot be killed (they are already dead); their parent must reap them. In the program: call waitpid() for every child (a SIGCHLD handler looping waitpid(-1, WNOHANG), or Python subprocess .wait()/.communicate()), \
or set SIGCHLD to SIG_IGN if exit statuses are not needed (the kernel then reaps automatically). Right now: if {who} is itself stuck, stopping it (`unwedge stop {ppid}`) re-parents the zombies to init, which reaps them."
        )
    };
    f
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
