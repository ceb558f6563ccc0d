//! CPU time across an interval, from two snapshots' counters: whether a
//! thread was busy (on a CPU nearly the whole interval, so the requests or
//! queue it serves wait behind whatever it computes) or starved (runnable
//! much of the interval but waiting for a CPU: the host or its cpuset is
//! too small for the load, and the thread is not the cause), and which
//! processes took the CPUs meanwhile. Also the shape of a sampled CPU
//! profile (where a busy thread burns). Pure: the detectors call it.

use crate::{Process, Psi, Snapshot, Thread};
use serde::{Deserialize, Serialize};

/// /proc/PID/task/TID/schedstat, since the thread started: nanoseconds on a
/// CPU, nanoseconds runnable but waiting for one (the run delay), and the
/// timeslices it got.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct SchedStat {
    pub run_ns: u64,
    pub wait_ns: u64,
    pub slices: u64,
}

impl SchedStat {
    /// The file as the kernel writes it: "RUN_NS WAIT_NS SLICES\n"; `None`
    /// for anything else. Pure (fuzzed): the collector reads it for the
    /// threads it reads in full, the sampler around its window.
    pub fn parse(buf: &[u8]) -> Option<SchedStat> {
        let text = std::str::from_utf8(buf).ok()?;
        let mut it = text.split_ascii_whitespace().map(|f| f.parse::<u64>().ok());
        let s = SchedStat { run_ns: it.next()??, wait_ns: it.next()??, slices: it.next()?? };
        it.next().is_none().then_some(s)
    }
}

/// Where a thread spent its CPU time over a short window, sampled with
/// perf events (without stopping it) after the last snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct CpuProfile {
    /// How long the thread was sampled.
    pub window_ms: u64,
    /// Samples per second of the thread's CPU time: each sample stands for
    /// 1/hz s on a CPU, so `(samples + lost) / (hz × window)` is its CPU share.
    pub hz: u32,
    /// Samples taken of this thread and unwound.
    pub samples: u32,
    /// Samples taken but not unwound: dropped by the kernel (its ring was
    /// full) or by unwedge (it could not keep up).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: u64,
    /// Samples whose innermost frame is in anonymous executable memory
    /// (JIT code) that no perf map names.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub unnamed_jit: u32,
    /// The thread's time on a CPU during the window, and runnable but
    /// waiting for one (schedstat before and after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<u64>,
    /// The hottest stacks (by function), most samples first: at most
    /// three, each of at least 5 % of the samples, cut at `main`.
    pub stacks: Vec<HotStack>,
    /// What limits the profile ("JIT frames have no names: start node with
    /// --perf-basic-prof"), or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CpuProfile {
    /// The thread's CPU use over the window, from schedstat.
    pub fn cpu_use(&self) -> Option<CpuUse> {
        let seconds = self.window_ms as f64 / 1000.0;
        let share = |ms: u64| (ms as f64 / 1000.0 / seconds).clamp(0.0, 1.0);
        (seconds > 0.0).then_some(CpuUse {
            seconds,
            running: share(self.ran_ms?),
            waiting: Some(share(self.waited_ms?)),
            from_schedstat: true,
        })
    }

    /// Share of the window the thread ran, from the samples (0 when none).
    pub fn cpu_share(&self) -> f64 {
        let expected = self.hz as f64 * self.window_ms as f64 / 1000.0;
        if expected > 0.0 {
            ((self.samples as f64 + self.lost as f64) / expected).min(1.0)
        } else {
            0.0
        }
    }
}

/// Samples that ended in the same functions.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct HotStack {
    pub count: u32,
    /// One of them, innermost first.
    pub frames: Vec<crate::Frame>,
}

impl HotStack {
    /// Its share of the profile's samples.
    pub fn share(&self, profile: &CpuProfile) -> f64 {
        if profile.samples == 0 {
            0.0
        } else {
            self.count as f64 / profile.samples as f64
        }
    }
}

/// What an unnamed frame of JIT code shows as its module (the sampler's
/// mark), and how it reads in a folded stack.
pub const JIT_MODULE: &str = "[jit]";

impl HotStack {
    /// Its frames for reading, innermost first, as user stacks fold
    /// (`stack::fold`), a run of unnamed JIT frames read as one "[jit]",
    /// at most `max` names ("… " past them).
    pub fn folded(&self, max: usize) -> String {
        let mut names: Vec<String> = Vec::new();
        for n in crate::stack::fold(&self.frames) {
            let jit = n.ends_with(&format!("({JIT_MODULE})"));
            let n = if jit { JIT_MODULE.to_string() } else { without_arguments(&n).to_string() };
            if names.last() != Some(&n) {
                names.push(n);
            }
        }
        let more = names.len() > max;
        names.truncate(max);
        let mut line = names.join(" ← ");
        if more {
            line.push_str(" ← …");
        }
        line
    }
}

/// A C++ function's name without its argument list ("v8::internal::
/// Execution::Call(v8::internal::Isolate*, …)" → "v8::internal::
/// Execution::Call"): a hot stack reads by function, and the overloads a
/// signature tells apart rarely matter there. Other names are left alone.
pub fn without_arguments(name: &str) -> &str {
    let body = name.strip_suffix(" const").unwrap_or(name);
    if !name.contains("::") || !body.ends_with(')') {
        return name;
    }
    let mut depth = 0usize;
    for (i, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return if i == 0 { name } else { &body[..i] };
                }
            }
            _ => {}
        }
    }
    name
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// A thread on a CPU, or runnable and waiting for one, at least this share
/// of the interval is CPU-bound: busy when it got most of that time.
pub const BUSY_SHARE: f64 = 0.9;
/// A thread runnable but waiting for a CPU at least this share of the
/// interval, and waiting more than it ran, is starved.
pub const STARVED_SHARE: f64 = 0.5;

/// One thread's CPU over an interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUse {
    pub seconds: f64,
    /// Share of the interval on a CPU (0..=1).
    pub running: f64,
    /// Share of the interval runnable but waiting for a CPU (0..=1); `None`
    /// without schedstat in both snapshots.
    pub waiting: Option<f64>,
    /// Whether the shares come from schedstat (nanoseconds) rather than
    /// utime+stime (clock ticks).
    pub from_schedstat: bool,
}

/// What a thread's CPU use over the interval says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuState {
    /// CPU-bound: it ran (or was runnable) nearly the whole interval and
    /// got most of that time on a CPU.
    Busy,
    /// Runnable much of the interval, but waited for a CPU more than it ran:
    /// the CPUs it may use were taken.
    Starved,
    /// Neither: it slept much of the interval.
    Other,
}

impl CpuUse {
    /// The share of the interval it wanted a CPU: ran, or waited for one.
    pub fn demand(&self) -> f64 {
        (self.running + self.waiting.unwrap_or(0.0)).min(1.0)
    }

    pub fn state(&self) -> CpuState {
        let waiting = self.waiting.unwrap_or(0.0);
        if waiting >= STARVED_SHARE && waiting > self.running {
            CpuState::Starved
        } else if self.running >= BUSY_SHARE || (self.demand() >= BUSY_SHARE && self.running >= waiting) {
            CpuState::Busy
        } else {
            CpuState::Other
        }
    }
}

/// Seconds between two snapshots: boot-clock time when both have it (it
/// never steps), else wall-clock time.
pub fn interval_s(before: &Snapshot, after: &Snapshot) -> Option<f64> {
    let by_uptime = after.uptime_s - before.uptime_s;
    if before.uptime_s > 0.0 && by_uptime > 0.0 {
        return Some(by_uptime);
    }
    let ms = after.taken_at_ms.checked_sub(before.taken_at_ms)?;
    (ms > 0).then(|| ms as f64 / 1000.0)
}

fn find(snap: &Snapshot, pid: u32) -> Option<&Process> {
    snap.processes.iter().find(|p| p.pid == pid)
}

/// Whether a process's threads carry their CPU times: a brief read leaves
/// them out, except for a single-threaded process's one thread.
pub fn thread_times_read(p: &Process) -> bool {
    !p.brief || p.threads.len() <= 1
}

/// Thread `tid` of process `pid` between two snapshots: its share of the
/// interval on a CPU and waiting for one. `None` when it is not in both
/// (or the pid was reused), or its CPU times were not read.
pub fn thread_cpu(before: &Snapshot, after: &Snapshot, pid: u32, tid: u32) -> Option<CpuUse> {
    let seconds = interval_s(before, after)?;
    let (pb, pa) = (find(before, pid)?, find(after, pid)?);
    if pb.start_ticks != pa.start_ticks {
        return None;
    }
    let tb = pb.threads.iter().find(|t| t.tid == tid)?;
    let ta = pa.threads.iter().find(|t| t.tid == tid)?;
    thread_use(seconds, after.clk_tck, (pb, tb), (pa, ta))
}

/// One thread, found in both snapshots (`(process, thread)` before and
/// after, the same process), over an interval of `seconds`: what
/// [`thread_cpu`] computes, for a caller that has already found them.
pub fn thread_use(
    seconds: f64,
    clk_tck: u64,
    before: (&Process, &Thread),
    after: (&Process, &Thread),
) -> Option<CpuUse> {
    let ((pb, tb), (pa, ta)) = (before, after);
    let share = |d: f64| (d / seconds).clamp(0.0, 1.0);
    if let (Some(b), Some(a)) = (tb.schedstat, ta.schedstat) {
        let run = a.run_ns.checked_sub(b.run_ns)? as f64 / 1e9;
        let wait = a.wait_ns.checked_sub(b.wait_ns)? as f64 / 1e9;
        return Some(CpuUse { seconds, running: share(run), waiting: Some(share(wait)), from_schedstat: true });
    }
    if !thread_times_read(pb) || !thread_times_read(pa) || clk_tck == 0 {
        return None;
    }
    let ticks = |t: &Thread| t.utime + t.stime;
    let ran = ticks(ta).checked_sub(ticks(tb))? as f64 / clk_tck as f64;
    Some(CpuUse { seconds, running: share(ran), waiting: None, from_schedstat: false })
}

/// CPUs a process used between two snapshots (1.0 = one CPU the whole
/// interval), from its utime+stime; `None` when not in both or unknown.
pub fn process_cpus(before: &Snapshot, after: &Snapshot, pid: u32) -> Option<f64> {
    let seconds = interval_s(before, after)?;
    let (pb, pa) = (find(before, pid)?, find(after, pid)?);
    if pb.start_ticks != pa.start_ticks || after.clk_tck == 0 {
        return None;
    }
    let d = pa.cpu_ticks_total?.checked_sub(pb.cpu_ticks_total?)?;
    Some(d as f64 / after.clk_tck as f64 / seconds)
}

/// The processes that used the most CPU between two snapshots among those
/// allowed on any of `cpus` (all processes when `cpus` is `None`), most
/// first, at least `min` CPUs each.
pub fn top_cpu_users(before: &Snapshot, after: &Snapshot, cpus: Option<&[u32]>, min: f64) -> Vec<(u32, f64)> {
    let mut out: Vec<(u32, f64)> = after
        .processes
        .iter()
        .filter(|p| match (cpus, p.cpus_allowed.as_deref()) {
            (None, _) | (_, None) => true,
            (Some(want), Some(list)) => {
                let theirs = cpu_list(list);
                // An unreadable list is taken as "anywhere".
                theirs.is_empty() || want.iter().any(|c| theirs.contains(c))
            }
        })
        .filter_map(|p| Some((p.pid, process_cpus(before, after, p.pid)?)))
        .filter(|(_, c)| *c >= min)
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Share of the interval in which some runnable task waited for a CPU
/// (PSI "some" total), from two readings of a cpu pressure file.
pub fn pressure_share(before: &Psi, after: &Psi, seconds: f64) -> Option<f64> {
    let d = after.some_total_us.checked_sub(before.some_total_us)?;
    (seconds > 0.0).then(|| (d as f64 / 1e6 / seconds).clamp(0.0, 1.0))
}

/// CPUs a list may name (the kernel's NR_CPUS is at most 8192).
const MAX_CPUS: usize = 65536;

/// A CPU list as the kernel writes it ("0-3,8,10-11"): the CPUs in order;
/// empty for malformed text or a CPU past 65535. Bounded whatever the
/// text: a set of 65536 bits, however many ranges repeat.
pub fn cpu_list(text: &str) -> Vec<u32> {
    let mut set = vec![0u64; MAX_CPUS / 64];
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>(), b.trim().parse::<u32>()),
            None => (part.trim().parse::<u32>(), part.trim().parse::<u32>()),
        };
        let (Ok(a), Ok(b)) = (a, b) else { return Vec::new() };
        if a > b || b as usize >= MAX_CPUS {
            return Vec::new();
        }
        for c in a..=b {
            set[c as usize / 64] |= 1 << (c % 64);
        }
    }
    let mut out = Vec::new();
    for (i, w) in set.iter().enumerate().filter(|(_, w)| **w != 0) {
        out.extend((0..64).filter(|b| w & (1 << b) != 0).map(|b| (i * 64 + b) as u32));
    }
    out
}

/// What a language runtime's own thread does, from its name, when that is
/// what keeps it on a CPU: the JVM's garbage collector and JIT compiler
/// threads, Node's event loop (the main thread) and its libuv pool.
pub fn runtime_thread_role(process_comm: &str, pid: u32, thread: &Thread) -> Option<&'static str> {
    let c = thread.comm.as_str();
    let node = process_comm == "node" || process_comm.starts_with("nodejs") || process_comm == "MainThread";
    if node && thread.tid == pid {
        return Some("the event loop");
    }
    if node && c.starts_with("libuv-worker") {
        return Some("a libuv pool worker");
    }
    // HotSpot's names (ZGC, Shenandoah and G1 included).
    const GC: [&str; 7] = ["GC Thread", "G1 ", "GC task", "ZWorker", "ZDriver", "Shenandoah", "ParGC"];
    if GC.iter().any(|p| c.starts_with(p)) {
        return Some("a JVM garbage collector thread");
    }
    if c.starts_with("C1 CompilerThre") || c.starts_with("C2 CompilerThre") {
        return Some("a JVM JIT compiler thread");
    }
    if c == "VM Thread" {
        return Some("the JVM's VM thread (safepoints, GC pauses)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(at_s: f64, threads: Vec<Thread>, cpu_ticks: u64) -> Snapshot {
        Snapshot {
            taken_at_ms: (at_s * 1000.0) as u64,
            uptime_s: 1000.0 + at_s,
            clk_tck: 100,
            processes: vec![Process {
                pid: 10,
                comm: "node".into(),
                start_ticks: 5,
                threads,
                cpu_ticks_total: Some(cpu_ticks),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn thread(tid: u32, ticks: u64, sched: Option<(u64, u64)>) -> Thread {
        Thread {
            tid,
            comm: "node".into(),
            state: 'R',
            utime: ticks,
            schedstat: sched.map(|(run_ns, wait_ns)| SchedStat { run_ns, wait_ns, slices: 1 }),
            ..Default::default()
        }
    }

    #[test]
    fn busy_starved_and_idle() {
        // 2 s: the event loop ran 1.95 s; a starved worker ran 0.2 s and
        // waited 1.6 s; an idle one ran 0.01 s.
        let before = snap(0.0, vec![thread(10, 0, Some((0, 0))), thread(11, 0, Some((0, 0))), thread(12, 0, None)], 0);
        let after = snap(
            2.0,
            vec![
                thread(10, 195, Some((1_950_000_000, 10_000_000))),
                thread(11, 20, Some((200_000_000, 1_600_000_000))),
                thread(12, 1, None),
            ],
            216,
        );
        let busy = thread_cpu(&before, &after, 10, 10).unwrap();
        assert!(busy.from_schedstat && (busy.running - 0.975).abs() < 1e-9);
        assert_eq!(busy.state(), CpuState::Busy);
        let starved = thread_cpu(&before, &after, 10, 11).unwrap();
        assert_eq!(starved.state(), CpuState::Starved);
        assert!((starved.waiting.unwrap() - 0.8).abs() < 1e-9);
        let idle = thread_cpu(&before, &after, 10, 12).unwrap();
        assert!(!idle.from_schedstat && idle.waiting.is_none());
        assert_eq!(idle.state(), CpuState::Other);
        assert!((process_cpus(&before, &after, 10).unwrap() - 1.08).abs() < 1e-9);
        assert_eq!(thread_cpu(&before, &after, 10, 99), None, "not in both snapshots");
        let mut reused = after.clone();
        reused.processes[0].start_ticks = 6;
        assert_eq!(thread_cpu(&before, &reused, 10, 10), None, "the pid was reused");
    }

    #[test]
    fn contended_but_not_starved() {
        // Wanted the CPU 98 % of the interval and got 60 %: CPU-bound, on a
        // shared CPU; starved only once it waits more than it runs.
        let before = snap(0.0, vec![thread(10, 0, Some((0, 0)))], 0);
        let after = snap(1.0, vec![thread(10, 60, Some((600_000_000, 380_000_000)))], 60);
        let u = thread_cpu(&before, &after, 10, 10).unwrap();
        assert!((u.demand() - 0.98).abs() < 1e-9);
        assert_eq!(u.state(), CpuState::Busy);
        let after = snap(1.0, vec![thread(10, 45, Some((450_000_000, 520_000_000)))], 45);
        assert_eq!(thread_cpu(&before, &after, 10, 10).unwrap().state(), CpuState::Starved);
        // Half asleep: neither.
        let after = snap(1.0, vec![thread(10, 40, Some((400_000_000, 100_000_000)))], 40);
        assert_eq!(thread_cpu(&before, &after, 10, 10).unwrap().state(), CpuState::Other);
    }

    #[test]
    fn brief_threads_have_no_times() {
        let mut before = snap(0.0, vec![thread(10, 0, None), thread(11, 0, None)], 0);
        let mut after = snap(1.0, vec![thread(10, 0, None), thread(11, 0, None)], 100);
        before.processes[0].brief = true;
        after.processes[0].brief = true;
        assert_eq!(thread_cpu(&before, &after, 10, 11), None, "zero ticks would be a guess");
    }

    #[test]
    fn hogs_on_the_same_cpus() {
        let mut before = snap(0.0, vec![], 0);
        let mut after = snap(1.0, vec![], 5);
        for (pid, ticks, cpus) in [(20, 90, Some("0")), (21, 95, Some("1")), (22, 40, None)] {
            let p = |t| Process {
                pid,
                start_ticks: 1,
                cpu_ticks_total: Some(t),
                cpus_allowed: cpus.map(String::from),
                ..Default::default()
            };
            before.processes.push(p(0));
            after.processes.push(p(ticks));
        }
        assert_eq!(top_cpu_users(&before, &after, Some(&[0]), 0.2), [(20, 0.9), (22, 0.4)]);
        assert_eq!(top_cpu_users(&before, &after, None, 0.5), [(21, 0.95), (20, 0.9)]);
    }

    #[test]
    fn schedstat() {
        // Captured on this host (kernel 6.18): a shell on a busy 2-CPU VM.
        let s = SchedStat::parse(b"52888138 191950679 165\n").unwrap();
        assert_eq!((s.run_ns, s.wait_ns, s.slices), (52888138, 191950679, 165));
        assert_eq!(SchedStat::parse(b"1 2\n"), None, "truncated");
        assert_eq!(SchedStat::parse(b"1 2 3 4\n"), None, "not the format we know");
        assert_eq!(SchedStat::parse(b"a b c\n"), None);
        assert_eq!(SchedStat::parse(b""), None);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(cpu_list("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
        assert_eq!(cpu_list("1"), [1]);
        assert!(cpu_list("3-1").is_empty());
        assert!(cpu_list("0-99999999").is_empty());
        assert!(cpu_list("x").is_empty());
        assert_eq!(cpu_list(&"0-65535,".repeat(20)).len(), 65536, "repeats cost nothing");
        assert_eq!(cpu_list("2,0-1,1"), [0, 1, 2]);
    }

    #[test]
    fn pressure() {
        let b = Psi { some_total_us: 1_000_000, ..Default::default() };
        let a = Psi { some_total_us: 1_700_000, ..Default::default() };
        assert!((pressure_share(&b, &a, 1.0).unwrap() - 0.7).abs() < 1e-9);
        assert_eq!(pressure_share(&a, &b, 1.0), None, "a counter that went back");
    }

    #[test]
    fn roles() {
        let t = |tid, comm: &str| Thread { tid, comm: comm.into(), ..Default::default() };
        assert_eq!(runtime_thread_role("node", 7, &t(7, "node")), Some("the event loop"));
        assert_eq!(runtime_thread_role("node", 7, &t(8, "node")), None);
        assert_eq!(runtime_thread_role("java", 7, &t(9, "GC Thread#3")), Some("a JVM garbage collector thread"));
        assert_eq!(runtime_thread_role("java", 7, &t(9, "G1 Conc#0")), Some("a JVM garbage collector thread"));
        assert_eq!(runtime_thread_role("java", 7, &t(9, "VM Periodic Tas")), None);
        assert_eq!(runtime_thread_role("java", 7, &t(9, "C2 CompilerThre")), Some("a JVM JIT compiler thread"));
        assert_eq!(runtime_thread_role("java", 7, &t(9, "http-nio-8080-e")), None);
    }

    #[test]
    fn hot_stacks_fold() {
        let f = |n: Option<&str>, m: &str, a: &str| crate::Frame {
            addr: a.into(),
            function: n.map(String::from),
            module: Some(m.into()),
            ..Default::default()
        };
        let h = HotStack {
            count: 9,
            frames: vec![
                f(None, JIT_MODULE, "0x1"),
                f(None, JIT_MODULE, "0x2"),
                f(Some("v8::internal::Execution::Call"), "/usr/bin/node", "0x3"),
                f(Some("node::Start"), "/usr/bin/node", "0x4"),
                f(Some("main"), "/usr/bin/node", "0x5"),
            ],
        };
        assert_eq!(h.folded(8), "[jit] ← v8::internal::Execution::Call ← node::Start ← main");
        assert_eq!(h.folded(2), "[jit] ← v8::internal::Execution::Call ← …");
        assert_eq!(
            without_arguments("v8::internal::(anonymous namespace)::Invoke(v8::internal::Isolate*, Params const&)"),
            "v8::internal::(anonymous namespace)::Invoke"
        );
        assert_eq!(without_arguments("node::Parser::on_headers_complete() const"), "node::Parser::on_headers_complete");
        assert_eq!(without_arguments("spin_here"), "spin_here");
        assert_eq!(without_arguments("RegExp:(a+)+$"), "RegExp:(a+)+$", "not C++");
        assert_eq!(without_arguments("f::g(("), "f::g((", "unbalanced: as is");
    }

    #[test]
    fn profile_shares() {
        let p = CpuProfile {
            window_ms: 1000,
            hz: 200,
            samples: 190,
            stacks: vec![HotStack { count: 95, frames: vec![] }],
            ..Default::default()
        };
        assert!((p.cpu_share() - 0.95).abs() < 1e-9);
        assert_eq!(p.cpu_use(), None, "no schedstat");
        let p = CpuProfile { ran_ms: Some(950), waited_ms: Some(30), ..p };
        assert_eq!(p.cpu_use().unwrap().state(), CpuState::Busy);
        assert!((p.stacks[0].share(&p) - 0.5).abs() < 1e-9);
    }
}
