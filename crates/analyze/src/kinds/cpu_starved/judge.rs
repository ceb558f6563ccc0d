//! Decides which processes clients wait on while their threads wait for
//! a CPU, and gathers who held those CPUs.

use crate::facts::cpu::{
    answered_during, cgroup_pressure, clients_hang, cpu_thread, host_pressure, pct, takers, throttled, waiting_work,
    ProcCpu,
};
use crate::{Ctx, Verdict};
use unwedge_model::cpu::{CpuState, CpuUse};
use unwedge_model::evidence::{CpuScope, CpuStarved, CpuWaitingWork, MAX_CPU_THREADS};
use unwedge_model::Severity;

/// Processes named as having taken the CPUs, at most.
const TAKERS: usize = 16;

pub struct Judged {
    pub verdict: Verdict<CpuStarved>,
    /// Runnable share of the interval of the first starved thread: on a CPU or waiting for one.
    pub demand_pct: f64,
    /// CPUs online, to say how many the host has.
    pub online: Option<u32>,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let work = waiting_work(ctx);
    let mut pids: Vec<u32> = work.keys().copied().collect();
    pids.sort_unstable();
    let mut out = Vec::new();
    for pid in pids {
        let w = &starved_work(ctx, pid, &work[&pid]);
        if w.is_empty() || !clients_hang(ctx, w) {
            continue;
        }
        let Some(pc) = ProcCpu::of(ctx, pid) else { continue };
        // A busy thread is the story (busy_thread), whatever else waits.
        if !pc.in_state(CpuState::Busy).is_empty() {
            continue;
        }
        let starved = pc.in_state(CpuState::Starved);
        let Some(&(first, use0)) = starved.first() else { continue };
        if throttled(ctx, pc.p) {
            continue;
        }
        let (took_cpus, taken_cpus) = takers(ctx, &pc, TAKERS);
        let (cgroup, cgroup_pressure_pct) = match cgroup_pressure(ctx, pc.p) {
            Some((path, share)) => (Some(path), Some(pct(share))),
            None => (None, None),
        };
        let port = w.stalled_listeners.first().and_then(|l| l.rsplit(':').next()?.parse().ok());
        let ev = CpuStarved {
            threads: starved.iter().take(MAX_CPU_THREADS).map(|(t, u)| cpu_thread(pc.p, t, u)).collect(),
            starved_threads: starved.len(),
            waiting: w.clone(),
            scope: if pc.allowed.is_some() { CpuScope::AllowedCpus } else { CpuScope::Host },
            cpus_allowed: pc.p.cpus_allowed.clone(),
            cpus: pc.cpus,
            took_cpus,
            taken_cpus,
            host_pressure_pct: host_pressure(ctx).map(pct),
            cgroup,
            cgroup_pressure_pct,
            cmdline: pc.p.cmdline.clone(),
        };
        let mut verdict = Verdict::new(Severity::Critical, Some(pid), port, pc.p.netns, ev);
        verdict.tid = Some(first.tid);
        out.push(Judged { verdict, demand_pct: pct(CpuUse::demand(&use0)), online: ctx.snap().online_cpus });
    }
    out
}

/// Of the work that waited on `pid`, what waited for its CPU. Connections
/// left in its accept queue the whole interval always do: it did not get
/// to accept them. A request it read and left unanswered does only while
/// it answered nobody: a service that sent other clients their answers
/// during the interval had a CPU for them, so the request it holds waits
/// by design (a blocking pop like Redis's BLPOP, a long poll) or on
/// something else, and starvation is no cause to name for it.
fn starved_work(ctx: &Ctx, pid: u32, w: &CpuWaitingWork) -> CpuWaitingWork {
    let mut w = w.clone();
    if w.unanswered > 0 && answered_during(ctx, pid) {
        w.unanswered = 0;
        w.oldest_unanswered_ms = None;
    }
    w
}
