//! Says what the memory limit does to the cgroup's tasks (reclaim, OOM
//! kills, a sleep until memory frees) and how to give it room.

use super::judge::Judged;
use crate::facts::cgroups::bytes;
use crate::{Ctx, Words};
use unwedge_model::evidence::MemoryPressure;
use unwedge_model::Severity;

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    if j.host {
        return host(e);
    }
    let who = ctx.proc_label(j.verdict.pid.unwrap_or(0));
    let path = &e.cgroup;
    let under_oom = e.under_oom == Some(true);
    let killed = e.oom_kill_rise.unwrap_or(0) > 0;
    let lim_text = e.limit.or(e.high).map(bytes).unwrap_or_else(|| "?".into());
    let title = if under_oom {
        format!("cgroup {path} is out of memory with the OOM killer disabled: {who} sleeps until memory frees")
    } else if killed {
        format!(
            "the OOM killer killed {} tasks in cgroup {path} (limit {lim_text}) during the interval",
            e.oom_kill_rise.unwrap_or(0)
        )
    } else if j.verdict.severity == Severity::Warning {
        format!("{who} stalls in memory reclaim at its cgroup's limit ({} of {lim_text}) while work waits", bytes(e.usage))
    } else {
        format!("cgroup {path} of {who} runs at its memory limit ({} of {lim_text}), reclaiming its page cache", bytes(e.usage))
    };
    let counters = [
        e.failcnt_rise.filter(|&n| n > 0).map(|n| format!("memory.failcnt +{n}")),
        e.events_max_rise.filter(|&n| n > 0).map(|n| format!("memory.events max +{n}")),
        e.events_high_rise.filter(|&n| n > 0).map(|n| format!("memory.events high +{n}")),
        e.oom_kill_rise.filter(|&n| n > 0).map(|n| format!("oom_kill +{n}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let source = e.psi_source.as_deref().unwrap_or_default();
    let stall_text = match (e.psi_full_share_pct, e.psi_full_avg10) {
        (Some(s), _) => format!("; all its tasks stalled on memory {s:.0}% of the interval (PSI full, {source})"),
        (None, Some(avg10)) => format!("; PSI full avg10 is {avg10:.1}% ({source})"),
        _ => String::new(),
    };
    let outcome = if under_oom {
        "memory.oom_control says under_oom 1 with the OOM killer disabled: the tasks that need memory sleep until some frees up — a hang, not a slowdown.".to_string()
    } else if killed {
        "Processes of the cgroup were OOM-killed: a worker dies with its connections, and the clients see resets or time out.".to_string()
    } else if e.waiting.is_empty() {
        "Nothing waits on its processes: reclaiming the cache is how a limited job normally runs.".to_string()
    } else {
        format!("Meanwhile work waits: {}.", e.waiting.join("; "))
    };
    let explanation = format!(
        "Cgroup {path} is limited to {lim_text} and uses {}{}. At the limit every allocation in it must first reclaim memory from the cgroup itself, synchronously, in the thread that asked: page cache is dropped and read again, and with {} of anonymous memory there is {} left to evict. During the interval: {}{stall_text}. {outcome}",
        bytes(e.usage),
        e.file.map(|f| format!(" ({} page cache)", bytes(f))).unwrap_or_default(),
        e.anon.map(bytes).unwrap_or_else(|| "an unknown amount".into()),
        if j.anon_full { "almost nothing" } else { "some" },
        if counters.is_empty() { "the limit was hit".to_string() } else { counters },
    );
    let fix = format!(
        "Raise the limit (systemd MemoryMax=/MemoryHigh=, docker run --memory, the Kubernetes memory limit, or {path}'s memory.max / memory.limit_in_bytes) or reduce what the service keeps in memory (caches, worker count, per-connection buffers); check for a leak if anon grows between scans."
    );
    Words { title, explanation, fix }
}

fn host(e: &MemoryPressure) -> Words {
    let share = e.psi_full_share_pct.unwrap_or(0.0);
    Words {
        title: format!(
            "the host stalls on memory: all running tasks waited for memory {share:.0}% of the interval (PSI full)"
        ),
        explanation: format!(
            "The `full` line of /proc/pressure/memory counts the time in which every non-idle task waited for memory (reclaim, swap-in, refaults); it was {share:.0}% of the interval (avg10 {:.1}%). Every service on the host slows down together.",
            e.psi_full_avg10.unwrap_or(0.0)
        ),
        fix: "Find what uses the memory (ps -eo rss,pid,comm --sort=-rss | head), limit it with a cgroup so it reclaims its own memory rather than everyone's, or add memory or swap.".into(),
    }
}
