//! Decides which cgroups hit their memory limit during the interval (or
//! are out of memory, or lost tasks to the OOM killer), how hard their
//! tasks stalled, and whether the host as a whole stalls on memory.

use crate::facts::cgroups::{main_member, pct, rise, waiting_work, Cgroups};
use crate::facts::index::FastSet;
use crate::{Ctx, Verdict};
use unwedge_model::evidence::MemoryPressure;
use unwedge_model::{CgroupDir, MemoryStat, Process, Psi, Severity};

pub struct Judged {
    pub verdict: Verdict<MemoryPressure>,
    /// Anonymous memory fills >= 90% of the limit: reclaim has almost nothing to evict.
    pub anon_full: bool,
    /// The host as a whole, not a cgroup.
    pub host: bool,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let cg = Cgroups::new(ctx.snap());
    let before = ctx.first.as_ref().map(|f| Cgroups::new(f.snap));
    let mut named = FastSet::default();
    let mut out = Vec::new();
    for d in cg.innermost_first() {
        let Some(m) = d.memory else { continue };
        let b = before.as_ref().and_then(|b| b.dir(&d.controllers, &d.path)).and_then(|b| b.memory);
        let r = |f: fn(&MemoryStat) -> Option<u64>| b.and_then(|b| rise(f(&b), f(&m)));
        let rises = Rises {
            failcnt: r(|m| m.failcnt),
            max: r(|m| m.events_max),
            high: r(|m| m.events_high),
            oom_kill: r(|m| m.oom_kill),
        };
        let hit = [rises.failcnt, rises.max, rises.high].iter().any(|x| x.unwrap_or(0) > 0);
        if !(hit || rises.oom_kill.unwrap_or(0) > 0 || m.under_oom == Some(true)) {
            continue;
        }
        let members = cg.members(d);
        let Some(pid) = main_member(ctx, &members) else { continue };
        // A limit on a parent too (a Kubernetes pod's): the innermost cgroup that hit one is named.
        if !named.insert(pid) {
            continue;
        }
        out.push(judged(ctx, (&cg, before.as_ref()), d, rises, &members, pid));
    }
    out.extend(host_pressure(ctx));
    out
}

/// Rises during the interval: v1 memory.failcnt; v2 memory.events max / high / oom_kill.
#[derive(Clone, Copy)]
struct Rises {
    failcnt: Option<u64>,
    max: Option<u64>,
    high: Option<u64>,
    oom_kill: Option<u64>,
}

/// `cgroups`: the newest snapshot's, and the oldest one's when the scan took two.
fn judged(
    ctx: &Ctx,
    (cg, before): (&Cgroups, Option<&Cgroups>),
    d: &CgroupDir,
    rises: Rises,
    members: &[&Process],
    pid: u32,
) -> Judged {
    let m = d.memory.unwrap_or_default();
    let main = ctx.last.process(pid);
    let (psi, psi_before, source) = pressure(ctx, cg, before, d, main);
    let share = match (psi, psi_before) {
        (Some(a), Some(b)) if ctx.interval_ms > 0 => {
            Some(pct(a.full_total_us.saturating_sub(b.full_total_us) as f64, (ctx.interval_ms * 1000) as f64))
        }
        _ => None,
    };
    let stalled = share.is_some_and(|s| s >= ctx.t.psi_full) || psi.is_some_and(|p| p.full_avg10 >= ctx.t.psi_full);
    let limit = m.limit.or(m.high);
    let anon_full = match (m.anon, limit) {
        (Some(a), Some(l)) if l > 0 => a as f64 >= 0.9 * l as f64,
        _ => false,
    };
    let waiting = waiting_work(ctx, members);
    let severity = if rises.oom_kill.unwrap_or(0) > 0 || m.under_oom == Some(true) {
        Severity::Critical
    } else if !waiting.is_empty() && (stalled || anon_full) {
        Severity::Warning
    } else {
        Severity::Info
    };
    let ev = MemoryPressure {
        cgroup: d.path.clone(),
        limit: m.limit,
        high: m.high,
        usage: m.usage,
        percent: limit.map(|l| pct(m.usage as f64, l as f64)),
        anon: m.anon,
        file: m.file,
        failcnt_rise: rises.failcnt,
        events_max_rise: rises.max,
        events_high_rise: rises.high,
        oom_kill_rise: rises.oom_kill,
        under_oom: m.under_oom,
        psi_full_avg10: psi.map(|p| p.full_avg10),
        psi_full_share_pct: share,
        psi_source: psi.map(|_| source.to_string()),
        waiting,
        processes: members.iter().take(20).map(|p| p.pid).collect(),
    };
    let netns = main.map_or(0, |p| p.netns);
    Judged { verdict: Verdict::new(severity, Some(pid), None, netns, ev), anon_full, host: false }
}

/// The PSI to judge a cgroup by: its own memory.pressure (v2), the v2
/// directory of its main process on a hybrid host, or the host's.
fn pressure(
    ctx: &Ctx,
    cg: &Cgroups,
    before: Option<&Cgroups>,
    d: &CgroupDir,
    main: Option<&Process>,
) -> (Option<Psi>, Option<Psi>, &'static str) {
    let v2_path =
        main.and_then(|p| cg.set_of(p)).and_then(|s| s.entries.iter().find(|e| e.is_v2())).map(|e| e.path.clone());
    let own = |c: &Cgroups, path: &str, ctl: &str| c.dir(ctl, path).and_then(|x| x.memory_pressure);
    if let Some(p) = d.memory_pressure {
        return (Some(p), before.and_then(|b| own(b, &d.path, &d.controllers)), "cgroup");
    }
    if let Some(path) = v2_path.filter(|p| p != "/") {
        if let Some(p) = own(cg, &path, "") {
            return (Some(p), before.and_then(|b| own(b, &path, "")), "cgroup");
        }
    }
    (ctx.snap().memory_pressure, ctx.first.as_ref().and_then(|f| f.snap.memory_pressure), "host")
}

/// The host as a whole stalls on memory (no cgroup limit involved).
fn host_pressure(ctx: &Ctx) -> Option<Judged> {
    let (Some(now), Some(first)) =
        (ctx.snap().memory_pressure, ctx.first.as_ref().and_then(|f| f.snap.memory_pressure))
    else {
        return None;
    };
    if ctx.interval_ms == 0 {
        return None;
    }
    let share = pct(now.full_total_us.saturating_sub(first.full_total_us) as f64, (ctx.interval_ms * 1000) as f64);
    if share < ctx.t.psi_full || now.full_avg10 < ctx.t.psi_full {
        return None;
    }
    let ev = MemoryPressure {
        cgroup: "/".into(),
        psi_full_avg10: Some(now.full_avg10),
        psi_full_share_pct: Some(share),
        psi_source: Some("host".into()),
        ..Default::default()
    };
    Some(Judged { verdict: Verdict::new(Severity::Warning, None, None, 0, ev), anon_full: false, host: true })
}
