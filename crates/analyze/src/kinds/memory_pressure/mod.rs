//! `memory_pressure` — a memory limit stalls a service in reclaim (or the
//! OOM killer takes its workers): requests slow to a crawl with the CPU
//! mostly idle, or connections reset when a worker dies.
//!
//! Kernel facts: at its limit a cgroup's allocations reclaim its own page
//! cache synchronously, in the allocating thread; v1 counts every charge
//! that hit the limit in memory.failcnt and OOM kills in
//! memory.oom_control (`under_oom 1`: the OOM killer is disabled and the
//! tasks sleep until memory frees up — a hang), v2 counts memory.events
//! `max`, `high` (throttled above memory.high) and `oom_kill`. PSI
//! (memory.pressure of a v2 cgroup, present on hybrid hosts too;
//! /proc/pressure/memory host-wide) measures the time all non-idle tasks
//! stalled on memory (`full`). memory.stat's anon (total_rss) is what
//! reclaim cannot evict without swap.
//!
//! False alarms avoided: hitting the limit is how a cgroup with a file-heavy
//! job normally uses its page cache (failcnt rises on every cache refill),
//! so that alone is `info`; it is an alarm only when an OOM kill or
//! under_oom says tasks died or sleep, or when work waits on the cgroup's
//! processes while they stall (PSI full >= `--psi-full`) or while anonymous
//! memory leaves reclaim almost nothing to evict (anon >= 90% of the
//! limit). Its healthy twin, a limited process reading files with nobody
//! waiting, is info or silent.

use crate::facts::cgroups::{bytes, main_member, pct, rise, waiting_work, Cgroups};
use crate::Ctx;
use unwedge_model::evidence::MemoryPressure;
use unwedge_model::{CgroupDir, Finding, Process, Psi, Severity};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let snap = ctx.snap();
    let cg = Cgroups::new(snap);
    let before = ctx.first.as_ref().map(|f| Cgroups::new(f.snap));
    let mut named = crate::facts::index::FastSet::default();
    for d in cg.innermost_first() {
        let Some(m) = d.memory else { continue };
        let b = before.as_ref().and_then(|b| b.dir(&d.controllers, &d.path)).and_then(|b| b.memory);
        let r = |f: fn(&unwedge_model::MemoryStat) -> Option<u64>| b.and_then(|b| rise(f(&b), f(&m)));
        let failcnt = r(|m| m.failcnt);
        let ev_max = r(|m| m.events_max);
        let ev_high = r(|m| m.events_high);
        let oom_kill = r(|m| m.oom_kill);
        let under_oom = m.under_oom == Some(true);
        let hit = [failcnt, ev_max, ev_high].iter().any(|x| x.unwrap_or(0) > 0);
        let killed = oom_kill.unwrap_or(0) > 0;
        if !(hit || killed || under_oom) {
            continue;
        }
        let members = cg.members(d);
        let Some(pid) = main_member(ctx, &members) else { continue };
        // A limit on a parent too (a Kubernetes pod's): the innermost cgroup that hit one is named.
        if !named.insert(pid) {
            continue;
        }
        let main = ctx.last.process(pid);
        let (psi, psi_before, source) = pressure(ctx, &cg, before.as_ref(), d, main);
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
        let waiting = waiting_work(ctx, &members);
        let severity = if killed || under_oom {
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
            failcnt_rise: failcnt,
            events_max_rise: ev_max,
            events_high_rise: ev_high,
            oom_kill_rise: oom_kill,
            under_oom: m.under_oom,
            psi_full_avg10: psi.map(|p| p.full_avg10),
            psi_full_share_pct: share,
            psi_source: psi.map(|_| source.to_string()),
            waiting: waiting.clone(),
            processes: members.iter().take(20).map(|p| p.pid).collect(),
        };
        let who = ctx.proc_label(pid);
        let netns = main.map_or(0, |p| p.netns);
        let mut f = ctx.finding(severity, Some(pid), None, netns, ev);
        let lim_text = limit.map(bytes).unwrap_or_else(|| "?".into());
        f.title = if under_oom {
            format!("cgroup {} is out of memory with the OOM killer disabled: {who} sleeps until memory frees", d.path)
        } else if killed {
            format!(
                "the OOM killer killed {} tasks in cgroup {} (limit {lim_text}) during the interval",
                oom_kill.unwrap_or(0),
                d.path
            )
        } else if severity == Severity::Warning {
            format!(
                "{who} stalls in memory reclaim at its cgroup's limit ({} of {lim_text}) while work waits",
                bytes(m.usage)
            )
        } else {
            format!(
                "cgroup {} of {who} runs at its memory limit ({} of {lim_text}), reclaiming its page cache",
                d.path,
                bytes(m.usage)
            )
        };
        let counters = [
            failcnt.filter(|&n| n > 0).map(|n| format!("memory.failcnt +{n}")),
            ev_max.filter(|&n| n > 0).map(|n| format!("memory.events max +{n}")),
            ev_high.filter(|&n| n > 0).map(|n| format!("memory.events high +{n}")),
            oom_kill.filter(|&n| n > 0).map(|n| format!("oom_kill +{n}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let stall_text = match (share, psi) {
            (Some(s), _) => format!("; all its tasks stalled on memory {s:.0}% of the interval (PSI full, {source})"),
            (None, Some(p)) => format!("; PSI full avg10 is {:.1}% ({source})", p.full_avg10),
            _ => String::new(),
        };
        f.explanation = format!(
            "Cgroup {} is limited to {lim_text} and uses {}{}. At the limit every allocation in it must first reclaim memory from the cgroup itself, synchronously, in the thread that asked: page cache is dropped and read again, and with {} of anonymous memory there is {} left to evict. During the interval: {}{stall_text}. {}",
            d.path,
            bytes(m.usage),
            m.file.map(|f| format!(" ({} page cache)", bytes(f))).unwrap_or_default(),
            m.anon.map(bytes).unwrap_or_else(|| "an unknown amount".into()),
            if anon_full { "almost nothing" } else { "some" },
            if counters.is_empty() { "the limit was hit".to_string() } else { counters },
            if under_oom {
                "memory.oom_control says under_oom 1 with the OOM killer disabled: the tasks that need memory sleep until some frees up — a hang, not a slowdown.".to_string()
            } else if killed {
                "Processes of the cgroup were OOM-killed: a worker dies with its connections, and the clients see resets or time out.".to_string()
            } else if waiting.is_empty() {
                "Nothing waits on its processes: reclaiming the cache is how a limited job normally runs.".to_string()
            } else {
                format!("Meanwhile work waits: {}.", waiting.join("; "))
            }
        );
        f.fix = format!(
            "Raise the limit (systemd MemoryMax=/MemoryHigh=, docker run --memory, the Kubernetes memory limit, or {}'s memory.max / memory.limit_in_bytes) or reduce what the service keeps in memory (caches, worker count, per-connection buffers); check for a leak if anon grows between scans.",
            d.path
        );
        out.push(f);
    }
    host_pressure(ctx, out);
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
fn host_pressure(ctx: &Ctx, out: &mut Vec<Finding>) {
    let (Some(now), Some(first)) =
        (ctx.snap().memory_pressure, ctx.first.as_ref().and_then(|f| f.snap.memory_pressure))
    else {
        return;
    };
    if ctx.interval_ms == 0 {
        return;
    }
    let share = pct(now.full_total_us.saturating_sub(first.full_total_us) as f64, (ctx.interval_ms * 1000) as f64);
    if share < ctx.t.psi_full || now.full_avg10 < ctx.t.psi_full {
        return;
    }
    let ev = MemoryPressure {
        cgroup: "/".into(),
        psi_full_avg10: Some(now.full_avg10),
        psi_full_share_pct: Some(share),
        psi_source: Some("host".into()),
        ..Default::default()
    };
    let mut f = ctx.finding(Severity::Warning, None, None, 0, ev);
    f.title = format!(
        "the host stalls on memory: all running tasks waited for memory {share:.0}% of the interval (PSI full)"
    );
    f.explanation = format!(
        "The `full` line of /proc/pressure/memory counts the time in which every non-idle task waited for memory (reclaim, swap-in, refaults); it was {share:.0}% of the interval (avg10 {:.1}%). Every service on the host slows down together.",
        now.full_avg10
    );
    f.fix = "Find what uses the memory (ps -eo rss,pid,comm --sort=-rss | head), limit it with a cgroup so it reclaims its own memory rather than everyone's, or add memory or swap.".into();
    out.push(f);
}
