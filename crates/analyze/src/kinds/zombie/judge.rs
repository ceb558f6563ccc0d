//! Decides which parents leave enough exited children unreaped, in both
//! snapshots, to count.

use crate::facts::signals::{self, bit, SIGCHLD};
use crate::facts::syscalls::Call;
use crate::facts::threads;
use crate::{Ctx, Verdict};
use std::collections::BTreeMap;
use unwedge_model::evidence::{Zombie, ZombieChild};
use unwedge_model::{Process, Severity};

pub struct Judged {
    pub verdict: Verdict<Zombie>,
    pub ppid: u32,
    /// The oldest zombie's age in seconds, unrounded.
    pub oldest_s: f64,
    /// What the parent's main thread is doing.
    pub main_call: Option<Call>,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
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
    by_parent
        .into_iter()
        .filter(|(_, zombies)| zombies.len() >= ctx.t.zombie_min.max(1))
        .map(|(ppid, zombies)| judged(ctx, ppid, &zombies))
        .collect()
}

fn judged(ctx: &Ctx, ppid: u32, zombies: &[&Process]) -> Judged {
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
    let oldest = zombies.iter().map(|z| z.age_s(snap)).fold(0.0f64, f64::max);
    let mut comms: BTreeMap<&str, usize> = BTreeMap::new();
    for z in zombies {
        *comms.entry(z.comm.as_str()).or_default() += 1;
    }
    let main = parent.and_then(|p| p.threads.iter().find(|t| t.tid == p.pid).or(p.threads.first()));
    let main_call = parent.zip(main).and_then(|(_, t)| Call::of(&snap.arch, t));
    let sigchld = main.and_then(|t| t.signals).map(|m| {
        if m.caught & bit(SIGCHLD) != 0 {
            "caught (a handler is installed but does not reap these)"
        } else {
            "default (the program must call wait()/waitpid() itself)"
        }
    });
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
    let netns = parent.map(|p| p.netns).unwrap_or(0);
    Judged { verdict: Verdict::new(severity, Some(ppid), None, netns, ev), ppid, oldest_s: oldest, main_call }
}
