//! `pid_limit` — fork() and pthread_create() fail with EAGAIN: a forking
//! server stops taking connections (or a thread pool stops growing) while
//! the host has plenty of room, because a limit around the program is hit.
//!
//! Kernel facts: a cgroup's pids.max bounds the tasks (processes and
//! threads) in it and below it; pids.current counts them, and pids.events
//! `max` counts the forks refused because this cgroup was at its limit (a
//! Kubernetes pod's limit sits on the pod's cgroup, above its containers':
//! every directory up to the root is read). Host-wide, every task takes a
//! pid below kernel.pid_max and counts against kernel.threads-max
//! (/proc/loadavg's total); RLIMIT_NPROC ("Max processes" in
//! /proc/PID/limits) bounds the tasks of one real user (root is exempt).
//!
//! False alarms avoided: a cgroup well below its limit (its healthy twin:
//! one at 50% of pids.max) is silent; pids.events counts only its rise
//! during the interval; a limit of "max" is no limit; processes of root
//! are not checked against RLIMIT_NPROC (the kernel does not apply it).

use crate::facts::cgroups::{main_member, pct, rise, Cgroups};
use crate::Ctx;
use std::collections::BTreeMap;
use unwedge_model::evidence::PidLimit;
use unwedge_model::{Finding, Severity};

/// Host-wide limits: a share that counts as near full.
const HOST_PCT: f64 = 90.0;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    cgroup_limits(ctx, out);
    host_limits(ctx, out);
    user_limits(ctx, out);
}

fn cgroup_limits(ctx: &Ctx, out: &mut Vec<Finding>) {
    let snap = ctx.snap();
    let cg = Cgroups::new(snap);
    let before = ctx.first.as_ref().map(|f| Cgroups::new(f.snap));
    let mut named = crate::facts::index::FastSet::default();
    for d in cg.innermost_first() {
        let Some(p) = d.pids else { continue };
        let Some(max) = p.max else { continue };
        let failures = before
            .as_ref()
            .and_then(|b| b.dir(&d.controllers, &d.path))
            .and_then(|b| b.pids)
            .and_then(|b| rise(b.events_max, p.events_max));
        let at_limit = p.current >= max;
        if !(at_limit || failures.unwrap_or(0) > 0) {
            continue;
        }
        let members = cg.members(d);
        let Some(pid) = main_member(ctx, &members) else { continue };
        // A limit on a parent too (a Kubernetes pod's): the innermost cgroup that hit one is named.
        if !named.insert(pid) {
            continue;
        }
        let severity = if failures.unwrap_or(0) > 0 { Severity::Critical } else { Severity::Warning };
        let ev = PidLimit {
            limit: "pids.max".into(),
            cgroup: Some(d.path.clone()),
            current: p.current,
            max,
            percent: pct(p.current as f64, max as f64),
            fork_failures: failures,
            uid: None,
            processes: members.iter().take(20).map(|p| p.pid).collect(),
        };
        let who = ctx.proc_label(pid);
        let mut f = ctx.finding(severity, Some(pid), None, ctx.last.process(pid).map_or(0, |p| p.netns), ev);
        f.title = format!(
            "cgroup {} is at its pids.max ({}/{max} tasks){}",
            d.path,
            p.current,
            match failures {
                Some(n) if n > 0 => format!(": {n} forks failed during the interval"),
                _ => ": the next fork or thread fails".into(),
            }
        );
        f.explanation = format!(
            "Every process and every thread in cgroup {} (and below it) counts against its pids.max of {max}, and it holds {} now. At the limit fork(), clone() and pthread_create() fail with EAGAIN (\"Resource temporarily unavailable\"): {who} cannot start a worker or a thread for a new connection, so clients wait or are refused while the host has room to spare. pids.events `max` counts the refusals{}.",
            d.path,
            p.current,
            failures.map(|n| format!(" ({n} during the interval)")).unwrap_or_default()
        );
        f.fix = format!(
            "Raise the limit where it is set (systemd TasksMax= of the unit, docker run --pids-limit, the kubelet's podPidsLimit, or {}/pids.max) or bound the program's workers and threads below it (a process or thread per connection grows with the load); look for leaked children or zombies that still count.",
            d.path
        );
        out.push(f);
    }
}

fn host_limits(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(t) = ctx.snap().tasks else { return };
    for (name, max) in [("kernel.pid_max", t.pid_max), ("kernel.threads-max", t.threads_max)] {
        let Some(max) = max.filter(|&m| m > 0) else { continue };
        let percent = pct(t.tasks as f64, max as f64);
        if percent < HOST_PCT {
            continue;
        }
        let ev = PidLimit { limit: name.into(), current: t.tasks, max, percent, ..Default::default() };
        let mut f =
            ctx.finding(if percent >= 100.0 { Severity::Critical } else { Severity::Warning }, None, None, 0, ev);
        f.title = format!(
            "{} tasks exist against {name} = {max} ({percent:.0}%): forks are about to fail host-wide",
            t.tasks
        );
        f.explanation = format!(
            "Every process and thread takes a pid below kernel.pid_max and counts against kernel.threads-max. With {} tasks the host is {percent:.0}% of the way to {name}: fork() and pthread_create() fail with EAGAIN for every program at once.",
            t.tasks
        );
        f.fix = format!("Find the program that creates so many threads or processes (ps -eLf | awk '{{print $2}}' | uniq -c | sort -n) and bound it; raise {name} if the load is real.");
        out.push(f);
    }
}

fn user_limits(ctx: &Ctx, out: &mut Vec<Finding>) {
    let snap = ctx.snap();
    // Tasks per uid, and for each uid the process with the lowest soft limit.
    let mut tasks: BTreeMap<u32, u64> = BTreeMap::new();
    let mut lowest: BTreeMap<u32, (u64, u32)> = BTreeMap::new();
    for p in &snap.processes {
        if p.uid == 0 || p.state == 'Z' {
            continue;
        }
        *tasks.entry(p.uid).or_default() += p.threads.len().max(1) as u64;
        if let Some(lim) = p.nproc_soft {
            let e = lowest.entry(p.uid).or_insert((lim, p.pid));
            if lim < e.0 {
                *e = (lim, p.pid);
            }
        }
    }
    for (uid, (lim, pid)) in lowest {
        let n = tasks.get(&uid).copied().unwrap_or(0);
        if lim == 0 || pct(n as f64, lim as f64) < HOST_PCT {
            continue;
        }
        let procs: Vec<u32> = snap.processes.iter().filter(|p| p.uid == uid).take(20).map(|p| p.pid).collect();
        let ev = PidLimit {
            limit: "RLIMIT_NPROC".into(),
            current: n,
            max: lim,
            percent: pct(n as f64, lim as f64),
            uid: Some(uid),
            processes: procs,
            ..Default::default()
        };
        let who = ctx.proc_label(pid);
        let netns = ctx.last.process(pid).map_or(0, |p| p.netns);
        let mut f =
            ctx.finding(if n >= lim { Severity::Critical } else { Severity::Warning }, Some(pid), None, netns, ev);
        f.title = format!("user {uid} runs {n} tasks against the RLIMIT_NPROC of {who} ({lim})");
        f.explanation = format!(
            "RLIMIT_NPROC (\"Max processes\") bounds the tasks — processes and threads — of one real user; {who} has a soft limit of {lim} and user {uid} runs {n}. At the limit its fork() and pthread_create() fail with EAGAIN."
        );
        f.fix = "Raise the limit (systemd LimitNPROC=, /etc/security/limits.conf nproc, ulimit -u) or bound the user's workers and threads.".into();
        out.push(f);
    }
}
