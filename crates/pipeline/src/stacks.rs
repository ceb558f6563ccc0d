//! The user stacks of the threads findings report, read right after the
//! last snapshot into its threads, and kept between scans: a scan of
//! `serve` or `watch` that finds the same stuck thread again reads its
//! stack again only if the thread ran since (a thread that did not run
//! has the same stack), so an incident costs its stacks once, not once
//! per scan. The reader itself caches each binary's unwind and symbol
//! tables and Go runtime layouts (by build-id, bounded).

use crate::Filter;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use unwedge_model::{Evidence, Finding, Process, Scan, Snapshot, Thread, UserStack};
pub use unwedge_stacks::Mode as StackMode;

/// The user-stack reader and its mode. Keep one for the life of the
/// process: it caches each binary's tables, and each thread's stack until
/// the thread runs.
pub struct Stacks {
    pub mode: StackMode,
    /// When the scan must be done: sampling busy threads ends before it.
    pub until: Option<Instant>,
    /// How busy threads are sampled.
    pub sampling: unwedge_stacks::sample::Settings,
    reader: Option<unwedge_stacks::Reader>,
    /// By (pid, start, tid): the stack and the thread as it was when read.
    cache: HashMap<(u32, u64, u32), Kept>,
    /// The entries asked for in this scan (the rest go at its end).
    used: Vec<(u32, u64, u32)>,
    /// Threads read, and threads answered from the cache, so far.
    pub read: u64,
    pub reused: u64,
}

struct Kept {
    stack: UserStack,
    thread: Mark,
    /// The process's threads when read: a Go process's goroutines and a
    /// Python process's thread list change when any of its threads runs.
    process: Vec<Mark>,
}

/// What says a thread did not run: its CPU time, its switches, its
/// syscall (and it sleeps).
#[derive(Clone, PartialEq, Eq)]
struct Mark {
    tid: u32,
    cpu: u64,
    switches: Option<u64>,
    syscall: Option<String>,
    asleep: bool,
}

impl Mark {
    fn of(t: &Thread) -> Mark {
        Mark {
            tid: t.tid,
            cpu: t.utime + t.stime,
            switches: t.ctxt_switches,
            syscall: t.syscall.clone(),
            asleep: matches!(t.state, 'S' | 'D' | 'T' | 't'),
        }
    }

    fn still(&self, now: &Mark) -> bool {
        self.asleep && now.asleep && self.switches.is_some() && self == now
    }
}

fn marks(p: &Process) -> Vec<Mark> {
    p.threads.iter().map(Mark::of).collect()
}

impl Stacks {
    pub fn new(mode: StackMode) -> Stacks {
        Stacks {
            mode,
            until: None,
            sampling: unwedge_stacks::sample::Settings::default(),
            reader: None,
            cache: HashMap::new(),
            used: Vec::new(),
            read: 0,
            reused: 0,
        }
    }

    /// Binaries whose tables are cached now.
    pub fn cached_modules(&self) -> usize {
        self.reader.as_ref().map_or(0, |r| r.cached_modules())
    }

    /// Threads whose stacks are kept now.
    pub fn cached_stacks(&self) -> usize {
        self.cache.len()
    }

    /// Reads the stacks of `targets` (threads of `last`) into `last`: from
    /// the cache for a thread that did not run since, else from the
    /// process. Returns whether any stack was put in place.
    pub(crate) fn fill(&mut self, last: &mut Snapshot, targets: Vec<unwedge_stacks::Target>) -> bool {
        if self.mode == StackMode::Off || targets.is_empty() {
            return false;
        }
        let used = &mut self.used;
        let mut to_read = Vec::new();
        let mut placed = false;
        for t in targets {
            let Some(p) = last.processes.iter().find(|p| p.pid == t.pid) else { continue };
            let Some(th) = p.threads.iter().find(|x| x.tid == t.tid) else { continue };
            let key = (t.pid, p.start_ticks, t.tid);
            used.push(key);
            let hit = self.cache.get(&key).filter(|k| {
                let process_wide = k.stack.goroutines.is_some() || k.stack.python_threads.is_some();
                k.thread.still(&Mark::of(th))
                    && (!process_wide
                        || (k.process.len() == p.threads.len()
                            && k.process.iter().zip(marks(p).iter()).all(|(a, b)| a.still(b))))
            });
            match hit {
                Some(k) => {
                    let stack = k.stack.clone();
                    if let Some(th) = thread_mut(last, t.pid, t.tid) {
                        th.user_stack = Some(stack);
                        placed = true;
                    }
                    self.reused += 1;
                }
                None => to_read.push(t),
            }
        }
        if !to_read.is_empty() {
            let read = self.reader.get_or_insert_with(unwedge_stacks::Reader::new).read(self.mode, &to_read);
            self.read += read.stacks.len() as u64;
            for ((pid, tid), stack) in read.stacks {
                let Some(p) = last.processes.iter().find(|p| p.pid == pid) else { continue };
                let Some(th) = p.threads.iter().find(|x| x.tid == tid) else { continue };
                let kept = Kept { stack: stack.clone(), thread: Mark::of(th), process: marks(p) };
                self.cache.insert((pid, p.start_ticks, tid), kept);
                if let Some(th) = thread_mut(last, pid, tid) {
                    th.user_stack = Some(stack);
                    placed = true;
                }
            }
            for n in read.notes {
                if !last.notes.contains(&n) {
                    last.notes.push(n);
                }
            }
        }
        placed
    }

    /// The end of a scan: the stacks not asked for in it are dropped
    /// (their threads ended, or no finding shows them any more).
    pub(crate) fn end_scan(&mut self) {
        let used = std::mem::take(&mut self.used);
        self.cache.retain(|k, _| used.contains(k));
        if let Some(r) = self.reader.as_mut() {
            r.end_scan();
        }
    }
}

fn thread_mut(snap: &mut Snapshot, pid: u32, tid: u32) -> Option<&mut Thread> {
    snap.processes.iter_mut().find(|p| p.pid == pid)?.threads.iter_mut().find(|t| t.tid == tid)
}

/// The threads whose stacks `findings` (those `filter` keeps) would show,
/// in their order (most important first): those of `last` only, never one
/// of a process whose /proc reads failed or hung.
pub(crate) fn targets(findings: &[&Finding], last: &Snapshot) -> Vec<unwedge_stacks::Target> {
    let mut targets: Vec<unwedge_stacks::Target> = Vec::new();
    for f in findings {
        let Some(pid) = f.pid else { continue };
        if last.skipped.iter().any(|s| s.pid == pid) {
            continue;
        }
        let mut tids: Vec<u32> = f.evidence.thread_blocks().iter().map(|(_, t)| t.tid).collect();
        match &f.evidence {
            Evidence::StuckThread(e) => tids.extend(e.other_stuck_threads.iter().map(|o| o.tid)),
            // A few threads, the most telling first (and, for Go, the goroutines).
            Evidence::UnansweredRequests(e) => tids.extend(e.threads.iter().map(|o| o.tid)),
            _ => {}
        }
        for tid in tids {
            if targets.iter().any(|t| t.pid == pid && t.tid == tid) {
                continue;
            }
            let Some(thread) =
                last.processes.iter().find(|p| p.pid == pid).and_then(|p| p.threads.iter().find(|t| t.tid == tid))
            else {
                continue;
            };
            targets.push(unwedge_stacks::Target { pid, tid, syscall: thread.syscall.clone() });
        }
    }
    targets
}

/// Reads the user stacks of the threads the findings report (those the
/// filter keeps), right after the last snapshot, into that snapshot's
/// threads, and samples where the busy threads of `busy_thread` findings
/// burn their CPU (`sample_busy`): a second analysis then carries them
/// into the evidence and the fix texts, and `--save-snapshot` keeps them.
/// Only threads that sat in the same syscall the snapshot saw are read,
/// never more than `unwedge_stacks::MAX_THREADS`. Returns whether any
/// thread was read or sampled.
pub fn read_stacks(scan: &mut Scan, thresholds: &crate::Thresholds, stacks: &mut Stacks, filter: &Filter) -> bool {
    if stacks.mode == StackMode::Off || scan.snapshots.is_empty() {
        return false;
    }
    let analysis = unwedge_analyze::analyze(scan, thresholds);
    // The findings asked for and their causes, as the report will keep them.
    let kept: Vec<&Finding> =
        analysis.findings.iter().zip(filter.keeps(&analysis.findings)).filter(|(_, k)| *k).map(|(f, _)| f).collect();
    let sampled = sample_busy(scan, &kept, stacks);
    let Some(last) = scan.snapshots.last_mut() else { return sampled };
    if stacks.mode == StackMode::Attach {
        dump_jvms(last, &kept);
    }
    let targets = targets(&kept, last);
    let placed = stacks.fill(last, targets);
    stacks.end_scan();
    placed || sampled
}

/// Samples where the busy threads of the `busy_thread` findings the
/// filter keeps burn their CPU, for `stacks.sampling.window` (shortened to
/// end by `stacks.until`), into the last snapshot's threads
/// (`cpu_profile`). perf events never stop a thread. When the kernel
/// refuses them, each thread's profile and the snapshot's notes say why,
/// and the report keeps the CPU shares the snapshots gave.
fn sample_busy(scan: &mut Scan, findings: &[&Finding], stacks: &mut Stacks) -> bool {
    let Some(last) = scan.snapshots.last_mut() else { return false };
    let mut threads: Vec<(u32, u32)> = Vec::new();
    for f in findings {
        let (Evidence::BusyThread(e), Some(pid)) = (&f.evidence, f.pid) else { continue };
        threads.extend(e.threads.iter().map(|t| (pid, t.tid)));
    }
    threads.truncate(unwedge_stacks::sample::MAX_THREADS);
    if threads.is_empty() {
        return false;
    }
    let mut settings = stacks.sampling;
    if let Some(until) = stacks.until {
        settings.window = settings.window.min(until.saturating_duration_since(Instant::now()));
    }
    if settings.window < MIN_SAMPLING_WINDOW {
        push_note(last, "busy threads were not sampled: too close to the scan's deadline".into());
        return false;
    }
    let reader = stacks.reader.get_or_insert_with(unwedge_stacks::Reader::new);
    let (profiles, notes) = match reader.sample(&threads, &settings) {
        Ok(s) => (s.profiles, s.notes),
        Err(refused) => {
            let why = refused.to_string();
            let unsampled =
                unwedge_model::CpuProfile { hz: settings.hz, note: Some(why.clone()), ..Default::default() };
            (threads.iter().map(|&k| (k, unsampled.clone())).collect(), vec![why])
        }
    };
    for ((pid, tid), profile) in profiles {
        if let Some(t) =
            last.processes.iter_mut().find(|p| p.pid == pid).and_then(|p| p.threads.iter_mut().find(|t| t.tid == tid))
        {
            t.cpu_profile = Some(profile);
        }
    }
    for n in notes {
        push_note(last, n);
    }
    true
}

/// A sampling window shorter than this says too little to be worth its cost.
const MIN_SAMPLING_WINDOW: Duration = Duration::from_millis(100);

fn push_note(snap: &mut unwedge_model::Snapshot, note: String) {
    if !snap.notes.contains(&note) {
        snap.notes.push(note);
    }
}

/// JVMs dumped per scan at most, and how long each may take (its
/// attach listener's start, its safepoint and the text).
const MAX_DUMPS: usize = 4;
const DUMP_WAIT: Duration = Duration::from_secs(3);

/// `--stacks attach`: asks each JVM a finding is about (those the filter
/// keeps) for its own thread dump over its attach socket, as `jstack`
/// does, into the last snapshot (`Process::jvm`): Java frames, the
/// monitors each thread holds and waits for, the JVM's deadlock verdict.
fn dump_jvms(last: &mut unwedge_model::Snapshot, findings: &[&Finding]) {
    let mut pids: Vec<u32> = Vec::new();
    for f in findings {
        let Some(pid) = f.pid else { continue };
        if pids.contains(&pid) {
            continue;
        }
        if last.processes.iter().any(|p| p.pid == pid && unwedge_model::jvm::is_jvm(p)) {
            pids.push(pid);
        }
    }
    for pid in pids.into_iter().take(MAX_DUMPS) {
        let started = Instant::now();
        let dump = unwedge_stacks::jvm::attach::thread_dump(pid, DUMP_WAIT);
        let Some(p) = last.processes.iter_mut().find(|p| p.pid == pid) else { continue };
        let jvm = p.jvm.get_or_insert_with(Default::default);
        match dump {
            Ok(d) => {
                jvm.dump = Some(d);
                jvm.dump_ms = Some(started.elapsed().as_millis() as u64);
            }
            Err(e) => {
                let why = format!("no thread dump: {}", e.reason);
                jvm.note = Some(match jvm.note.take() {
                    Some(n) => format!("{n}; {why}"),
                    None => why,
                });
            }
        }
    }
}
