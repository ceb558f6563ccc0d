//! Decides which task limits are hit or nearly: a cgroup's pids.max, the
//! host's kernel.pid_max and kernel.threads-max, a user's RLIMIT_NPROC.

use crate::facts::cgroups::{main_member, pct, rise, Cgroups};
use crate::facts::index::FastSet;
use crate::{Ctx, Verdict};
use std::collections::BTreeMap;
use unwedge_model::evidence::PidLimit;
use unwedge_model::Severity;

/// Host-wide limits: a share that counts as near full.
const HOST_PCT: f64 = 90.0;

/// Which limit a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// A cgroup's pids.max.
    Cgroup,
    /// kernel.pid_max or kernel.threads-max.
    Host,
    /// A user's RLIMIT_NPROC.
    User,
}

pub struct Judged {
    pub verdict: Verdict<PidLimit>,
    pub which: Which,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = cgroup_limits(ctx);
    out.extend(host_limits(ctx));
    out.extend(user_limits(ctx));
    out
}

fn cgroup_limits(ctx: &Ctx) -> Vec<Judged> {
    let cg = Cgroups::new(ctx.snap());
    let before = ctx.first.as_ref().map(|f| Cgroups::new(f.snap));
    let mut named = FastSet::default();
    let mut out = Vec::new();
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
        let netns = ctx.last.process(pid).map_or(0, |p| p.netns);
        out.push(Judged { verdict: Verdict::new(severity, Some(pid), None, netns, ev), which: Which::Cgroup });
    }
    out
}

fn host_limits(ctx: &Ctx) -> Vec<Judged> {
    let Some(t) = ctx.snap().tasks else { return Vec::new() };
    let mut out = Vec::new();
    for (name, max) in [("kernel.pid_max", t.pid_max), ("kernel.threads-max", t.threads_max)] {
        let Some(max) = max.filter(|&m| m > 0) else { continue };
        let percent = pct(t.tasks as f64, max as f64);
        if percent < HOST_PCT {
            continue;
        }
        let ev = PidLimit { limit: name.into(), current: t.tasks, max, percent, ..Default::default() };
        let severity = if percent >= 100.0 { Severity::Critical } else { Severity::Warning };
        out.push(Judged { verdict: Verdict::new(severity, None, None, 0, ev), which: Which::Host });
    }
    out
}

fn user_limits(ctx: &Ctx) -> Vec<Judged> {
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
    let mut out = Vec::new();
    for (uid, (lim, pid)) in lowest {
        let n = tasks.get(&uid).copied().unwrap_or(0);
        if lim == 0 || pct(n as f64, lim as f64) < HOST_PCT {
            continue;
        }
        let ev = PidLimit {
            limit: "RLIMIT_NPROC".into(),
            current: n,
            max: lim,
            percent: pct(n as f64, lim as f64),
            uid: Some(uid),
            processes: snap.processes.iter().filter(|p| p.uid == uid).take(20).map(|p| p.pid).collect(),
            ..Default::default()
        };
        let severity = if n >= lim { Severity::Critical } else { Severity::Warning };
        let netns = ctx.last.process(pid).map_or(0, |p| p.netns);
        out.push(Judged { verdict: Verdict::new(severity, Some(pid), None, netns, ev), which: Which::User });
    }
    out
}
