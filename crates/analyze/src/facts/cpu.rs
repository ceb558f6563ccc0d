//! What the CPU did to the processes work waits on, between the two
//! snapshots: which processes had work waiting the whole interval (a
//! stalled accept queue, requests read and not answered), how each of
//! their threads used the interval (on a CPU, or runnable but waiting for
//! one: `unwedge_model::cpu`), and, for a starved one, who held its CPUs
//! and how hard the host or its cgroup was pressed; and whether a process
//! answered anyone during the interval. `busy_thread` and `cpu_starved`
//! judge from these.
//!
//! Kernel facts: /proc/PID/task/TID/schedstat (nanoseconds on a CPU and
//! runnable but waiting for one, since the thread started), stat's
//! utime+stime of every process (who took the CPUs), Cpus_allowed_list
//! (where it may run), /proc/pressure/cpu and a v2 cgroup's cpu.pressure
//! (share of time some runnable task waited), tcp_info's `bytes_sent` and
//! `last_data_sent` (what a process sent its clients, and when).

use crate::facts::cgroups::{rise, Cgroups};
use crate::facts::index::{endpoint, FastMap};
use crate::facts::queues::stalled;
use crate::facts::requests::{awaits_answer, sent};
use crate::Ctx;
use unwedge_model::cpu::{self, CpuState, CpuUse};
use unwedge_model::evidence::{CpuTaker, CpuThread, CpuWaitingWork};
use unwedge_model::{Process, Socket, TcpState, Thread};

/// Work that waited on each process across the whole interval: connections
/// queued on a listener it accepts on that accepted none of them, and
/// accepted connections holding a request it read and did not answer
/// (byte counters unchanged across the interval).
pub fn waiting_work(ctx: &Ctx) -> FastMap<u32, CpuWaitingWork> {
    let mut out: FastMap<u32, CpuWaitingWork> = FastMap::default();
    let Some(first) = ctx.first.as_ref() else { return out };
    for st in stalled(ctx) {
        let l = st.listener;
        for &pid in &st.accepting {
            let w = out.entry(pid).or_default();
            let at = endpoint(l.local, l.local_port);
            if !w.stalled_listeners.contains(&at) {
                w.stalled_listeners.push(at);
                w.queued += st.waiting.len();
            }
        }
    }
    for s in &ctx.snap().sockets {
        if s.inode == 0 || !matches!(s.state, TcpState::Established | TcpState::CloseWait) {
            continue;
        }
        if !awaits_answer(s) || !ctx.last.is_served(s) {
            continue;
        }
        let (Some(i), Some(b)) = (s.info, first.socket(s.inode)) else { continue };
        let Some(bi) = b.info else { continue };
        let same = (b.local, b.local_port, b.remote, b.remote_port) == (s.local, s.local_port, s.remote, s.remote_port);
        // Read and unanswered in both snapshots, nothing received or sent between.
        if !same || !awaits_answer(b) || bi.bytes_received != i.bytes_received || sent(&bi) != sent(&i) {
            continue;
        }
        for &pid in ctx.last.owners_of(s.inode) {
            let w = out.entry(pid).or_default();
            w.unanswered += 1;
            w.oldest_unanswered_ms = Some(w.oldest_unanswered_ms.unwrap_or(0).max(i.last_data_recv_ms));
        }
    }
    out.retain(|_, w| !w.is_empty());
    out
}

/// Whether `pid` sent a client data during the interval, on a connection
/// it serves: its sent counter grew since the first snapshot, or its last
/// data out (tcp_info `last_data_sent`) is younger than the interval. A
/// process that answered others meanwhile had a CPU for them: a request it
/// read and still holds waits on something else (a blocking pop, a long
/// poll, a lock), not on a CPU.
pub fn answered_during(ctx: &Ctx, pid: u32) -> bool {
    let Some(p) = ctx.last.process(pid) else { return false };
    p.sockets.iter().filter_map(|fd| ctx.last.socket(fd.inode)).any(|s| {
        let Some(i) = s.info else { return false };
        // Nothing ever sent: last_data_sent counts from the handshake.
        let Some(now) = sent(&i).filter(|&n| n > 0) else { return false };
        if !ctx.last.is_served(s) {
            return false;
        }
        let tuple = |s: &Socket| (s.local, s.local_port, s.remote, s.remote_port);
        let before = ctx.first.as_ref().and_then(|f| f.socket(s.inode)).filter(|b| tuple(b) == tuple(s));
        let grew = before.and_then(|b| sent(b.info.as_ref()?)).is_some_and(|then| now > then);
        grew || u64::from(i.last_data_sent_ms) < ctx.interval_ms
    })
}

/// Whether the work that waited is clients left hanging: a queue nobody
/// drained, or a request older than the answer timeout. A request being
/// worked on for less than that is a slow answer, not a hang.
pub fn clients_hang(ctx: &Ctx, w: &CpuWaitingWork) -> bool {
    w.queued > 0 || w.oldest_unanswered_ms.is_some_and(|ms| ms >= ctx.t.answer_timeout_ms)
}

/// One process's threads over the interval, each with its CPU use, and
/// the CPUs it had.
pub struct ProcCpu<'a> {
    pub p: &'a Process,
    pub threads: Vec<(&'a Thread, CpuUse)>,
    /// CPUs the whole process used (1.0: one CPU all along).
    pub process_cpus: Option<f64>,
    /// The CPUs it may use, by number, when fewer than those online.
    pub allowed: Option<Vec<u32>>,
    /// How many CPUs it may use.
    pub cpus: Option<u32>,
}

impl<'a> ProcCpu<'a> {
    pub fn of(ctx: &Ctx<'a>, pid: u32) -> Option<ProcCpu<'a>> {
        let first = ctx.first.as_ref()?;
        let last = ctx.snap();
        let p = ctx.last.process(pid)?;
        // By the indexes: a JVM's hundreds of threads on a host of thousands of processes.
        let before = first.process(pid).filter(|b| b.start_ticks == p.start_ticks)?;
        let seconds = cpu::interval_s(first.snap, last)?;
        let earlier: FastMap<u32, &Thread> = before.threads.iter().map(|t| (t.tid, t)).collect();
        let threads: Vec<(&Thread, CpuUse)> = p
            .threads
            .iter()
            .filter_map(|t| {
                let tb = earlier.get(&t.tid)?;
                Some((t, cpu::thread_use(seconds, last.clk_tck, (before, tb), (p, t))?))
            })
            .collect();
        let allowed = p.cpus_allowed.as_deref().map(cpu::cpu_list).filter(|l| !l.is_empty());
        let cpus = allowed.as_ref().map(|l| l.len() as u32).or(last.online_cpus);
        let process_cpus = match (p.cpu_ticks_total, before.cpu_ticks_total) {
            (Some(now), Some(then)) if last.clk_tck > 0 => {
                now.checked_sub(then).map(|t| t as f64 / last.clk_tck as f64 / seconds)
            }
            _ => None,
        };
        Some(ProcCpu { p, threads, process_cpus, allowed, cpus })
    }

    /// The process itself used (nearly) every CPU it may use: its threads
    /// wait for each other, not for another process.
    pub fn saturates_itself(&self) -> bool {
        matches!((self.process_cpus, self.cpus), (Some(used), Some(n)) if n > 0 && used >= cpu::BUSY_SHARE * n as f64)
    }

    /// Its threads in `state`, by the share of the interval that decides
    /// it (busy: on a CPU; starved: waiting), most first. A thread starved
    /// by its own process's other threads counts as busy.
    pub fn in_state(&self, state: CpuState) -> Vec<(&'a Thread, CpuUse)> {
        let own = self.saturates_itself();
        let mut v: Vec<(&Thread, CpuUse)> = self
            .threads
            .iter()
            .copied()
            .filter(|(_, u)| match (state, u.state()) {
                (CpuState::Busy, CpuState::Busy) => true,
                (CpuState::Busy, CpuState::Starved) => own,
                (CpuState::Starved, CpuState::Starved) => !own,
                _ => false,
            })
            .collect();
        let key = |u: &CpuUse| if state == CpuState::Starved { u.waiting.unwrap_or(0.0) } else { u.demand() };
        v.sort_by(|a, b| key(&b.1).total_cmp(&key(&a.1)).then(a.0.tid.cmp(&b.0.tid)));
        v
    }
}

/// A percentage with one decimal.
pub fn pct(share: f64) -> f64 {
    (share * 1000.0).round() / 10.0
}

/// The evidence of one thread: its CPU use, its runtime role, and the
/// profile sampled after the last snapshot when there is one.
pub fn cpu_thread(p: &Process, t: &Thread, u: &CpuUse) -> CpuThread {
    CpuThread {
        tid: t.tid,
        name: t.comm.clone(),
        role: cpu::runtime_thread_role(&p.comm, p.pid, t).map(String::from),
        state: t.state.to_string(),
        running_pct: pct(u.running),
        waiting_pct: u.waiting.map(pct),
        cpu_profile: t.cpu_profile.clone(),
    }
}

/// The other processes that used CPU where `pc` may run, most first: at
/// most `max`, each over 5 % of a CPU; and what all of them used. One pass
/// over the processes, each found in the first snapshot by its index.
pub fn takers(ctx: &Ctx, pc: &ProcCpu, max: usize) -> (Vec<CpuTaker>, f64) {
    let Some(first) = ctx.first.as_ref() else { return (Vec::new(), 0.0) };
    let Some(seconds) = cpu::interval_s(first.snap, ctx.snap()) else { return (Vec::new(), 0.0) };
    let tck = ctx.snap().clk_tck as f64;
    let mut others: Vec<(&Process, f64)> = Vec::new();
    for p in ctx.snap().processes.iter().filter(|p| p.pid != pc.p.pid) {
        let Some(b) = first.process(p.pid).filter(|b| b.start_ticks == p.start_ticks) else { continue };
        let (Some(now), Some(then)) = (p.cpu_ticks_total, b.cpu_ticks_total) else { continue };
        let Some(used) = now.checked_sub(then).filter(|&t| t > 0 && tck > 0.0) else { continue };
        if shares_cpus(pc.allowed.as_deref(), p.cpus_allowed.as_deref()) {
            others.push((p, used as f64 / tck / seconds));
        }
    }
    others.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.pid.cmp(&b.0.pid)));
    let total = others.iter().map(|(_, c)| c).sum::<f64>();
    let cg = Cgroups::new(ctx.snap());
    let list = others
        .iter()
        .filter(|(_, c)| *c >= 0.05)
        .take(max)
        .map(|&(p, c)| CpuTaker {
            pid: p.pid,
            comm: p.comm.clone(),
            cpus: (c * 100.0).round() / 100.0,
            cgroup: cg.set_of(p).and_then(|s| s.main_path()).map(String::from),
        })
        .collect();
    (list, (total * 100.0).round() / 100.0)
}

/// Whether a process allowed on `theirs` may run on one of `mine` (either
/// absent, or unreadable: anywhere).
fn shares_cpus(mine: Option<&[u32]>, theirs: Option<&str>) -> bool {
    match (mine, theirs) {
        (None, _) | (_, None) => true,
        (Some(mine), Some(list)) => {
            let theirs = cpu::cpu_list(list);
            theirs.is_empty() || mine.iter().any(|c| theirs.contains(c))
        }
    }
}

/// Share of the interval in which some runnable task of the host waited
/// for a CPU (/proc/pressure/cpu, "some").
pub fn host_pressure(ctx: &Ctx) -> Option<f64> {
    let first = ctx.first.as_ref()?.snap;
    let last = ctx.snap();
    cpu::pressure_share(first.cpu_pressure.as_ref()?, last.cpu_pressure.as_ref()?, cpu::interval_s(first, last)?)
}

/// The innermost v2 cgroup of `p` whose cpu.pressure was read in both
/// snapshots, and the share of the interval some task in it waited.
pub fn cgroup_pressure(ctx: &Ctx, p: &Process) -> Option<(String, f64)> {
    let first = ctx.first.as_ref()?.snap;
    let last = ctx.snap();
    let seconds = cpu::interval_s(first, last)?;
    let (now, before) = (Cgroups::new(last), Cgroups::new(first));
    let v2 = now.set_of(p)?.entries.iter().find(|e| e.is_v2())?;
    std::iter::successors(Some(v2.path.as_str()), |path| unwedge_model::parent_path(path)).find_map(|path| {
        let a = now.dir("", path)?.cpu_pressure.as_ref()?;
        let b = before.dir("", path)?.cpu_pressure.as_ref()?;
        Some((path.to_string(), cpu::pressure_share(b, a, seconds)?))
    })
}

/// A CPU quota throttled one of `p`'s cgroups during the interval: its
/// threads' run delay is the quota's doing (`cpu_throttled` says so), not
/// other processes'.
pub fn throttled(ctx: &Ctx, p: &Process) -> bool {
    let Some(first) = ctx.first.as_ref() else { return false };
    let (now, before) = (Cgroups::new(ctx.snap()), Cgroups::new(first.snap));
    now.chain(p, "cpu").iter().any(|d| {
        let (Some(c), Some(b)) = (d.cpu, before.dir(&d.controllers, &d.path).and_then(|b| b.cpu)) else {
            return false;
        };
        c.quota_us.is_some() && rise(Some(b.nr_throttled), Some(c.nr_throttled)).is_some_and(|r| r > 0)
    })
}

/// "CPU 1", "CPUs 0-3": the CPUs of an allowed list as a person reads it.
pub fn cpus_words(list: &str) -> String {
    if cpu::cpu_list(list).len() == 1 {
        format!("CPU {list}")
    } else {
        format!("CPUs {list}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_for_cpus() {
        assert_eq!(cpus_words("1"), "CPU 1");
        assert_eq!(cpus_words("0-3"), "CPUs 0-3");
        assert_eq!(pct(0.9751), 97.5);
    }
}
