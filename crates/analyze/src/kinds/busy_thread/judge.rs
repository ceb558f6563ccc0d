//! Decides which processes clients wait on while their threads compute:
//! work waited the whole interval and a thread was busy on a CPU.

use crate::facts::cpu::{clients_hang, cpu_thread, waiting_work, ProcCpu};
use crate::{Ctx, Verdict};
use unwedge_model::cpu::CpuState;
use unwedge_model::evidence::{BusyThread, MAX_CPU_THREADS};
use unwedge_model::Severity;

/// What language runtime the busy threads belong to, for the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Node's event loop is among them.
    NodeEventLoop,
    /// Every one of them is a JVM garbage collector thread.
    JvmGc,
    Other,
}

pub struct Judged {
    pub verdict: Verdict<BusyThread>,
    pub runtime: Runtime,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let work = waiting_work(ctx);
    let mut pids: Vec<u32> = work.keys().copied().collect();
    pids.sort_unstable();
    let mut out = Vec::new();
    for pid in pids {
        let w = &work[&pid];
        if !clients_hang(ctx, w) {
            continue;
        }
        let Some(pc) = ProcCpu::of(ctx, pid) else { continue };
        let busy = pc.in_state(CpuState::Busy);
        let Some(&(first, _)) = busy.first() else { continue };
        let threads: Vec<_> = busy.iter().take(MAX_CPU_THREADS).map(|(t, u)| cpu_thread(pc.p, t, u)).collect();
        let role = |r: &str| threads.iter().any(|t| t.role.as_deref() == Some(r));
        let runtime = if role("the event loop") {
            Runtime::NodeEventLoop
        } else if threads.iter().all(|t| t.role.as_deref() == Some("a JVM garbage collector thread")) {
            Runtime::JvmGc
        } else {
            Runtime::Other
        };
        let port = w.stalled_listeners.first().and_then(|l| l.rsplit(':').next()?.parse().ok());
        let ev = BusyThread {
            threads,
            busy_threads: busy.len(),
            waiting: w.clone(),
            // Its ticks are read at another moment of each walk than the interval's ends: never more than it may use.
            process_cpus: pc.process_cpus.map(|c| (c.min(pc.cpus.map_or(c, f64::from)) * 100.0).round() / 100.0),
            cpus_allowed: pc.p.cpus_allowed.clone(),
            cpus: pc.cpus,
            cmdline: pc.p.cmdline.clone(),
        };
        let mut verdict = Verdict::new(Severity::Critical, Some(pid), port, pc.p.netns, ev);
        verdict.tid = Some(first.tid);
        out.push(Judged { verdict, runtime });
    }
    out
}
