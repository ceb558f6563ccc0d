//! Where a busy thread burns its CPU, without stopping it: a CPU-clock
//! perf event per thread samples its user registers and the top of its
//! user stack a few hundred times a second over a short window; each
//! sample is unwound as it arrives (the crate's unwinder: DWARF CFI, frame
//! pointers through JIT code) and only its addresses are kept; at the end
//! the distinct addresses are named (symbols, and a JIT's perf map when it
//! writes one) and the stacks grouped by function, hottest first.
//!
//! Sampling needs perf events for the target: root (or CAP_PERFMON), or
//! kernel.perf_event_paranoid ≤ 2 for one's own processes' user time. When
//! the kernel refuses, [`Refused`] says why in words a report can use, and
//! the caller falls back to the CPU shares of /proc.

pub mod perf;
pub mod perfmap;
pub mod record;

use crate::maps::{self, Mapping};
use crate::unwind::{ProcUnwinder, StackCopy, Start};
use crate::{Proc, Reader};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use unwedge_model::{CpuProfile, Frame, HotStack};

/// Threads sampled at once at most.
pub const MAX_THREADS: usize = 32;
/// Stacks kept per thread (what the report shows).
pub const MAX_HOT_STACKS: usize = 3;
/// ... each holding at least this share of the thread's samples.
pub const MIN_HOT_SHARE: f64 = 0.05;
/// The longest window a caller may ask for.
pub const MAX_WINDOW: Duration = Duration::from_secs(5);
/// Bytes of a perf map read at most (its newest part: the end).
const MAX_PERF_MAP: u64 = 64 << 20;
/// What an unnamed frame of JIT code shows as its module.
pub use unwedge_model::cpu::JIT_MODULE;
/// How long reading a process's memory map may take.
const MAPS_WAIT: Duration = Duration::from_millis(500);

/// How to sample.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub window: Duration,
    /// Samples per second of a thread's CPU time.
    pub hz: u32,
    /// User stack bytes copied with each sample (from the stack pointer up).
    pub stack_bytes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { window: Duration::from_millis(250), hz: 199, stack_bytes: 16 << 10 }
    }
}

/// Why no thread could be sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// EACCES or EPERM: perf_event_paranoid, a missing capability, a
    /// container's seccomp profile, or a lockdown.
    NotPermitted { paranoid: Option<i32>, errno: i32 },
    /// The kernel has no perf events for this (ENOENT, ENODEV, ENOSYS,
    /// EOPNOTSUPP, EINVAL, E2BIG).
    Unavailable { errno: i32 },
    /// The ring buffer could not be mapped (locked-memory limit:
    /// kernel.perf_event_mlock_kb, RLIMIT_MEMLOCK).
    NoRing { errno: i32 },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |e: i32| std::io::Error::from_raw_os_error(e).to_string();
        match self {
            Refused::NotPermitted { paranoid, errno } => {
                let setting = paranoid.map(|p| format!("kernel.perf_event_paranoid={p}; ")).unwrap_or_default();
                write!(
                    f,
                    "perf events not permitted ({setting}{}: needs root or CAP_PERFMON, and a container's seccomp \
                     profile may forbid perf_event_open); CPU share from /proc only",
                    name(*errno)
                )
            }
            Refused::Unavailable { errno } => {
                write!(f, "perf events not available on this kernel ({}); CPU share from /proc only", name(*errno))
            }
            Refused::NoRing { errno } => write!(
                f,
                "perf event buffers could not be mapped ({}: kernel.perf_event_mlock_kb or RLIMIT_MEMLOCK); CPU \
                 share from /proc only",
                name(*errno)
            ),
        }
    }
}

fn classify(e: &std::io::Error, paranoid: Option<i32>) -> Option<Refused> {
    let errno = e.raw_os_error()?;
    match errno {
        libc::EACCES | libc::EPERM => Some(Refused::NotPermitted { paranoid, errno }),
        libc::ENOENT | libc::ENODEV | libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL | libc::E2BIG => {
            Some(Refused::Unavailable { errno })
        }
        _ => None,
    }
}

/// What a sampling run yields.
#[derive(Debug, Default)]
pub struct Sampled {
    /// Per (pid, tid) sampled (or that could not be: the profile's note says why).
    pub profiles: BTreeMap<(u32, u32), CpuProfile>,
    /// For the report's coverage ("kernel time not sampled: …").
    pub notes: Vec<String>,
    /// The sampler's own cost.
    pub cost: Cost,
}

/// What sampling cost unwedge.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cost {
    /// CPU time of the sampling thread (draining, unwinding, naming).
    pub cpu: Duration,
    pub wall: Duration,
    pub samples: u64,
    /// Bytes of records copied out of the rings.
    pub bytes: u64,
}

/// One thread being sampled.
struct Sampling {
    pid: u32,
    tid: u32,
    event: perf::Event,
    samples: u32,
    lost: u64,
    /// Distinct stacks (addresses, innermost first) and how often each came.
    stacks: HashMap<Vec<u64>, u32>,
    /// Samples that carried no user registers or stack.
    bare: u32,
    /// schedstat when sampling began.
    sched: Option<unwedge_model::SchedStat>,
    /// Records copied out of the ring, not yet unwound.
    pending: Vec<u8>,
}

/// Bytes of copied records all threads together may have waiting to be
/// unwound (a loaded host, a slow unwind): past a thread's part of it, its
/// new samples are counted and dropped.
const MAX_PENDING: usize = 16 << 20;

impl Sampling {
    fn new(pid: u32, tid: u32, event: perf::Event) -> Sampling {
        Sampling {
            pid,
            tid,
            event,
            samples: 0,
            lost: 0,
            stacks: HashMap::new(),
            bare: 0,
            sched: None,
            pending: Vec::new(),
        }
    }

    /// Copies the ring's new records out, freeing the ring for the kernel;
    /// keeps at most `cap` bytes waiting.
    fn copy_out(&mut self, cost: &mut Cost, cap: usize) {
        let before = self.pending.len();
        self.event.drain(&mut self.pending);
        let added = self.pending.len() - before;
        cost.bytes += added as u64;
        if self.pending.len() > cap {
            // Keep the older records (whole ones); count the dropped samples as lost.
            let keep = before;
            for r in record::records(&self.pending[keep..], perf::NREGS) {
                if matches!(r, record::Record::Sample(_)) {
                    self.lost += 1;
                }
            }
            self.pending.truncate(keep);
        }
    }
}

/// A process whose threads are sampled: its maps (re-read when a sample
/// lands in memory they did not show: new JIT code) and its unwinder.
struct Target {
    proc: Proc,
    maps_read: Instant,
}

impl Reader {
    /// Samples `threads` ((pid, tid), at most [`MAX_THREADS`]) for
    /// `settings.window`, unwinding and naming their stacks. Never stops
    /// them. `Err` when the kernel refused every thread (the reason says
    /// why, for the report).
    pub fn sample(&mut self, threads: &[(u32, u32)], settings: &Settings) -> Result<Sampled, Refused> {
        let cpu_start = thread_cpu_time();
        let started = Instant::now();
        let mut out = Sampled::default();
        let settings = Settings {
            window: settings.window.min(MAX_WINDOW),
            hz: settings.hz.clamp(1, 1000),
            stack_bytes: settings.stack_bytes.clamp(512, 60 << 10),
        };
        if threads.len() > MAX_THREADS {
            out.notes.push(format!("CPU samples taken of the first {MAX_THREADS} of {} busy threads", threads.len()));
        }
        let paranoid = perf::paranoid();
        let mut spec =
            perf::Spec { hz: settings.hz, stack_bytes: settings.stack_bytes, exclude_kernel: false, pages: 128 };
        let mut refused = None;
        let mut sampling: Vec<Sampling> = Vec::new();
        for &(pid, tid) in threads.iter().take(MAX_THREADS) {
            match open(tid, &mut spec, paranoid) {
                Ok(event) => sampling.push(Sampling::new(pid, tid, event)),
                Err(e) => {
                    let note = match e {
                        Refusal::Kernel(r) => {
                            let text = r.to_string();
                            refused.get_or_insert(r);
                            text
                        }
                        Refusal::Thread(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                            "not sampled: the thread has ended".into()
                        }
                        Refusal::Thread(e) => format!("not sampled: {e}"),
                    };
                    out.profiles.insert((pid, tid), unsampled(settings, note));
                }
            }
        }
        if sampling.is_empty() {
            return match refused {
                Some(r) => Err(r),
                None => Ok(out),
            };
        }
        if spec.exclude_kernel {
            out.notes.push(format!(
                "CPU samples count user time only (kernel time needs root or CAP_PERFMON{})",
                paranoid.map(|p| format!("; kernel.perf_event_paranoid={p}")).unwrap_or_default()
            ));
        }
        let mut targets: BTreeMap<u32, Target> = BTreeMap::new();
        for s in &sampling {
            if let std::collections::btree_map::Entry::Vacant(v) = targets.entry(s.pid) {
                let maps = read_maps(s.pid).unwrap_or_default();
                let mut proc = Proc { pid: s.pid, maps, unwinder: ProcUnwinder::default() };
                proc.unwinder.jit = jit_ranges(&proc.maps);
                v.insert(Target { proc, maps_read: Instant::now() });
            }
        }
        for s in &mut sampling {
            s.sched = crate::cpu::read_schedstat(s.pid, s.tid);
            let _ = s.event.enable();
        }
        // During the window the rings are only copied out (cheap), and the
        // copies unwound while time is left: the events stop at the
        // deadline even when unwinding lags (a loaded host), and what is
        // still waiting is unwound after.
        let window_start = Instant::now();
        let deadline = window_start + settings.window;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let events: Vec<&perf::Event> = sampling.iter().map(|s| &s.event).collect();
            perf::poll_refs(&events, (deadline - now).min(Duration::from_millis(50)).as_millis().max(1) as i32);
            let cap = MAX_PENDING / sampling.len();
            for s in &mut sampling {
                s.copy_out(&mut out.cost, cap);
            }
            for s in &mut sampling {
                self.unwind_pending(s, &mut targets, Some(deadline));
            }
        }
        let mut ends = Vec::new();
        for s in &sampling {
            let _ = s.event.disable();
            ends.push((crate::cpu::read_schedstat(s.pid, s.tid), s.event.count_ns()));
        }
        let window_ms = window_start.elapsed().as_millis() as u64;
        let cap = MAX_PENDING / sampling.len();
        for s in &mut sampling {
            s.copy_out(&mut out.cost, cap);
            self.unwind_pending(s, &mut targets, None);
        }
        for (mut s, (end, count)) in sampling.into_iter().zip(ends) {
            // The kernel notes a lost record only once the ring has room
            // again: the counter says how many samples there were.
            let period = 1_000_000_000 / u64::from(settings.hz);
            if let Some(c) = count {
                s.lost = s.lost.max((c / period).saturating_sub(u64::from(s.samples)));
            }
            out.cost.samples += u64::from(s.samples) + s.lost;
            let target = targets.get_mut(&s.pid).expect("a target per sampled pid");
            let mut profile = self.profile(s.samples, s.lost, s.bare, s.stacks, &mut target.proc, settings, window_ms);
            if let (Some(a), Some(b)) = (s.sched, end) {
                profile.ran_ms = b.run_ns.checked_sub(a.run_ns).map(|n| n / 1_000_000);
                profile.waited_ms = b.wait_ns.checked_sub(a.wait_ns).map(|n| n / 1_000_000);
            }
            out.profiles.insert((s.pid, s.tid), profile);
        }
        out.cost.wall = started.elapsed();
        out.cost.cpu = thread_cpu_time().saturating_sub(cpu_start);
        Ok(out)
    }

    /// Unwinds the samples copied out of one ring, until `deadline`.
    fn unwind_pending(&mut self, s: &mut Sampling, targets: &mut BTreeMap<u32, Target>, deadline: Option<Instant>) {
        let target = targets.get_mut(&s.pid).expect("a target per sampled pid");
        let mut records = record::records(&s.pending, perf::NREGS);
        let mut n = 0u32;
        for r in records.by_ref() {
            match r {
                record::Record::Sample(x) if x.tid == s.tid => {
                    s.samples += 1;
                    let Some(regs) = perf::regs(&x).filter(|_| !x.stack.is_empty()) else {
                        s.bare += 1;
                        continue;
                    };
                    // New code since the maps were read (a JIT's): read them again, now and then.
                    if !target.proc.maps.iter().any(|m| m.contains(regs.pc))
                        && target.maps_read.elapsed() > Duration::from_millis(100)
                    {
                        if let Some(m) = read_maps(s.pid) {
                            target.proc.unwinder.jit = jit_ranges(&m);
                            target.proc.maps = m;
                        }
                        target.maps_read = Instant::now();
                    }
                    let start =
                        Start { pc: regs.pc, sp: regs.sp, fp: Some(regs.fp), lr: (regs.lr != 0).then_some(regs.lr) };
                    let copy = StackCopy { base: regs.sp, bytes: x.stack };
                    let walk = self.walk_addrs(&mut target.proc, start, &copy);
                    *s.stacks.entry(walk.addrs).or_default() += 1;
                }
                record::Record::Lost(k) => s.lost += k,
                _ => {}
            }
            n += 1;
            if n.is_multiple_of(8) && deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        let done = s.pending.len() - records.remaining();
        s.pending.drain(..done);
    }

    /// Names and groups one thread's stacks.
    #[allow(clippy::too_many_arguments)]
    fn profile(
        &mut self,
        samples: u32,
        lost: u64,
        bare: u32,
        stacks: HashMap<Vec<u64>, u32>,
        proc: &mut Proc,
        settings: Settings,
        window_ms: u64,
    ) -> CpuProfile {
        // Each distinct address is named once, then every stack from those names.
        let mut named: HashMap<(u64, bool), Vec<Frame>> = HashMap::new();
        for addrs in stacks.keys() {
            for (i, &a) in addrs.iter().enumerate() {
                named.entry((a, i > 0)).or_insert_with(|| self.symbols.frame(a, i > 0, &proc.unwinder, &proc.maps));
            }
        }
        // JIT frames: named from the process's perf map when it writes one.
        let lookup = |(a, ret): (u64, bool)| if ret { a.saturating_sub(1) } else { a };
        let jit: Vec<u64> = named
            .iter()
            .filter(|(k, f)| f.len() == 1 && f[0].function.is_none() && in_jit(&proc.unwinder, lookup(**k)))
            .map(|(k, _)| lookup(*k))
            .collect();
        let jit_names = if jit.is_empty() { HashMap::new() } else { perf_map_names(proc.pid, &jit) };
        let map_path = perf_map_path(proc.pid).map(|(shown, _)| shown);
        for (k, frames) in named.iter_mut() {
            let at = lookup(*k);
            let [f] = frames.as_mut_slice() else { continue };
            if f.function.is_some() || !in_jit(&proc.unwinder, at) {
                continue;
            }
            match jit_names.get(&at) {
                Some(name) => (f.function, f.module) = (Some(name.clone()), map_path.clone()),
                None => f.module = Some(JIT_MODULE.into()),
            }
        }
        let mut unnamed_jit = 0;
        let mut groups: HashMap<Vec<String>, (u32, u32, Vec<Frame>)> = HashMap::new();
        for (addrs, count) in &stacks {
            let mut frames: Vec<Frame> = addrs
                .iter()
                .enumerate()
                .flat_map(|(i, &a)| named.get(&(a, i > 0)).cloned().unwrap_or_default())
                .take(crate::MAX_FRAMES)
                .collect();
            // What lies beneath the program's main function is start-up code, the same in every stack.
            if let Some(m) = frames.iter().position(|f| f.function.as_deref() == Some("main")) {
                frames.truncate(m + 1);
            }
            if frames.first().is_some_and(|f| f.function.is_none() && f.module.as_deref() == Some(JIT_MODULE)) {
                unnamed_jit += count;
            }
            let key = frames.iter().map(group_key).collect();
            let g = groups.entry(key).or_insert((0, 0, Vec::new()));
            g.0 += count;
            // The most frequent exact stack of the group stands for it.
            if *count > g.1 {
                g.1 = *count;
                g.2 = frames;
            }
        }
        let mut hot: Vec<HotStack> =
            groups.into_values().map(|(count, _, frames)| HotStack { count, frames }).collect();
        hot.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.frames.len().cmp(&b.frames.len())));
        hot.truncate(MAX_HOT_STACKS);
        // A stack seen in a handful of samples says little and costs a
        // report its whole frame list: kept from MIN_HOT_SHARE of them on.
        let min = (f64::from(samples) * MIN_HOT_SHARE).ceil() as u32;
        hot.retain(|h| h.count >= min);
        let mut notes = Vec::new();
        if unnamed_jit > 0 {
            notes.push(format!(
                "{unnamed_jit} of {samples} samples ran in JIT code that no perf map names ({})",
                jit_hint(proc)
            ));
        }
        if bare > 0 {
            notes.push(format!("{bare} samples carried no user stack"));
        }
        if lost > 0 {
            notes.push(format!("{lost} samples were lost (the ring buffer was full)"));
        }
        CpuProfile {
            window_ms,
            hz: settings.hz,
            samples,
            lost,
            unnamed_jit,
            ran_ms: None,
            waited_ms: None,
            stacks: hot,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }
}

/// Opens thread `tid`'s event: with kernel time first, then (refused, as
/// an unprivileged user is under perf_event_paranoid 2) user time only,
/// which `spec` then keeps for the threads after; a smaller ring when the
/// locked-memory limit (kernel.perf_event_mlock_kb) refuses the mapping.
fn open(tid: u32, spec: &mut perf::Spec, paranoid: Option<i32>) -> Result<perf::Event, Refusal> {
    loop {
        match perf::Event::open(tid, spec) {
            Ok(e) => return Ok(e),
            Err(perf::OpenError::Open(e)) => match classify(&e, paranoid) {
                Some(Refused::NotPermitted { .. }) if !spec.exclude_kernel => spec.exclude_kernel = true,
                Some(r) => return Err(Refusal::Kernel(r)),
                None => return Err(Refusal::Thread(e)),
            },
            Err(perf::OpenError::Map(_)) if spec.pages > 8 => spec.pages /= 4,
            Err(perf::OpenError::Map(e)) => {
                return Err(Refusal::Kernel(Refused::NoRing { errno: e.raw_os_error().unwrap_or(0) }))
            }
        }
    }
}

/// Why one thread was not sampled.
enum Refusal {
    /// The kernel refuses perf events here (it will for every thread).
    Kernel(Refused),
    /// This thread only (it ended: ESRCH; out of fds: EMFILE).
    Thread(std::io::Error),
}

fn unsampled(settings: Settings, note: String) -> CpuProfile {
    CpuProfile { window_ms: 0, hz: settings.hz, note: Some(note), ..Default::default() }
}

/// How frames group: by function, else by file (an unnamed address in a
/// known file), else as JIT code.
fn group_key(f: &Frame) -> String {
    match (&f.function, &f.module) {
        (Some(n), _) => n.clone(),
        (None, Some(m)) if m == JIT_MODULE => m.clone(),
        (None, Some(m)) => format!("? ({m})"),
        (None, None) => "?".into(),
    }
}

fn in_jit(u: &ProcUnwinder, addr: u64) -> bool {
    u.jit.iter().any(|r| r.contains(&addr))
}

/// Anonymous executable memory: where JIT compilers put their code.
fn jit_ranges(maps: &[Mapping]) -> Vec<std::ops::Range<u64>> {
    maps.iter()
        .filter(|m| {
            m.exec && m.inode == 0 && m.path.as_deref().is_none_or(|p| !p.starts_with('[') || p.starts_with("[anon"))
        })
        .map(|m| m.start..m.end)
        .collect()
}

/// What names a runtime's JIT frames.
fn jit_hint(proc: &Proc) -> String {
    let has = |lib: &str| proc.maps.iter().any(|m| m.path.as_deref().is_some_and(|p| p.contains(lib)));
    let exe = std::fs::read_link(format!("/proc/{}/exe", proc.pid)).ok();
    let exe = exe.as_ref().and_then(|e| e.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if exe == "node" || exe.starts_with("nodejs") || has("libnode") {
        "JavaScript: start node with --perf-basic-prof to name them".into()
    } else if exe == "java" || has("libjvm") {
        format!("Java: `jcmd {} Compiler.perfmap` writes the map (JDK 17+)", proc.pid)
    } else {
        "the runtime writes /tmp/perf-PID.map when asked to".into()
    }
}

/// The perf map of `pid` as the report names it, and the path to read it
/// by (through the process's own mount namespace and pid number).
fn perf_map_path(pid: u32) -> Option<(String, String)> {
    let status = std::fs::read(format!("/proc/{pid}/status")).ok()?;
    let ns = crate::cpu::parse_nspid(&status).unwrap_or(pid);
    let shown = format!("/tmp/perf-{ns}.map");
    let path = format!("/proc/{pid}/root{shown}");
    std::path::Path::new(&path).exists().then_some((shown, path))
}

/// The names the process's perf map gives `addrs` (its newest part when it is large).
fn perf_map_names(pid: u32, addrs: &[u64]) -> HashMap<u64, String> {
    use std::io::{Read, Seek, SeekFrom};
    let Some((_, path)) = perf_map_path(pid) else { return HashMap::new() };
    let Ok(mut f) = std::fs::File::open(&path) else { return HashMap::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut text = Vec::new();
    if len > MAX_PERF_MAP && f.seek(SeekFrom::Start(len - MAX_PERF_MAP)).is_err() {
        return HashMap::new();
    }
    if f.take(MAX_PERF_MAP).read_to_end(&mut text).is_err() {
        return HashMap::new();
    }
    perfmap::names(&text, addrs)
}

/// /proc/PID/maps, read on a helper thread: the read takes the target's
/// mmap lock, which a thread stuck in the kernel can hold for ever.
fn read_maps(pid: u32) -> Option<Vec<Mapping>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("maps-read".into())
        .spawn(move || {
            let _ =
                tx.send(crate::mem::read_file(&format!("/proc/{pid}/maps"), 16 << 20).ok().map(|t| maps::parse(&t)));
        })
        .ok()?;
    rx.recv_timeout(MAPS_WAIT).ok()?
}

/// CPU time of the calling thread.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_in_words() {
        let r = Refused::NotPermitted { paranoid: Some(3), errno: libc::EACCES };
        assert!(r
            .to_string()
            .starts_with("perf events not permitted (kernel.perf_event_paranoid=3; Permission denied"));
        assert!(r.to_string().ends_with("CPU share from /proc only"));
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(classify(&e, None), Some(Refused::Unavailable { errno: libc::ENOENT }));
        assert_eq!(
            classify(&std::io::Error::from_raw_os_error(libc::ESRCH), None),
            None,
            "a thread gone is not a refusal"
        );
    }

    #[test]
    fn jit_is_anonymous_exec() {
        let maps = maps::parse(
            b"00400000-00401000 r-xp 00000000 fe:00 12 /usr/bin/node\n\
              7f0d6c003000-7f0d6c03f000 rwxp 00000000 00:00 0 \n\
              7f0d6c100000-7f0d6c200000 rw-p 00000000 00:00 0 \n\
              7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0 [vdso]\n",
        );
        let jit = jit_ranges(&maps);
        assert_eq!(jit.len(), 1);
        assert_eq!((jit[0].start, jit[0].end), (0x7f0d_6c00_3000, 0x7f0d_6c03_f000));
    }

    #[test]
    fn groups() {
        let f = |n: Option<&str>, m: Option<&str>| Frame {
            addr: "0x10".into(),
            function: n.map(String::from),
            module: m.map(String::from),
            ..Default::default()
        };
        assert_eq!(group_key(&f(Some("spin_here"), None)), "spin_here");
        assert_eq!(group_key(&f(None, Some("/x"))), "? (/x)");
        assert_eq!(group_key(&f(None, Some(JIT_MODULE))), "[jit]", "JIT frames group whatever their addresses");
        assert_eq!(group_key(&f(None, None)), "?");
    }
}
