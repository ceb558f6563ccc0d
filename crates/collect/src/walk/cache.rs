//! What the walk remembers of each process from one snapshot to the next,
//! so that a collector that keeps running (`serve`, `watch`: a
//! [`crate::Collector`]) pays for what changed, not for the host: on a
//! host of 2,000 idle daemons holding 100k sockets, reading every fd link
//! again is most of a snapshot's cost, and nearly none of them changed.
//!
//! The hint that a process's fds, namespace, owner, command line and
//! per-thread detail (wchan, syscall, kernel stack) can have changed is
//! whether it ran: those change only by the process's own syscalls. A
//! [`RunMark`] is its CPU time and every thread's context-switch count,
//! read *before* the fds; the same mark at the next read, with every
//! thread asleep now, proves no thread ran in between (a thread that
//! woke and slept again switched out once more; one still running shows
//! `R`; one that ran without ever sleeping added CPU time). The number of
//! open fds (the size of /proc/PID/fd) is checked too: alone it is not
//! sound (a server that accepted one connection and closed another has
//! as many fds as before), but it catches the one thing the mark cannot
//! see, another process sharing the fd table (`clone(CLONE_FILES)`
//! without `CLONE_THREAD`, rare), whenever it changes the count.
//!
//! What is read again every time, because another process can change it
//! without this one running: stat and status (state, parent, signals
//! pending — a signal sent to a process that blocks it does not wake it
//! —, tracer, comm), the resource limits (prlimit), the cgroup (a process
//! is moved by writing its pid elsewhere). [`refresh_thread`] and
//! [`reuse_fds`] name every field of `Thread` and `Process` without `..`,
//! so a field added to either does not compile until it says which kind
//! it is.
//!
//! Entries are keyed by pid and start time (a reused pid is a new
//! process), dropped when the process is gone, and every process is read
//! fresh every [`FRESH_EVERY`] snapshots (staggered by pid), which bounds
//! what an unsound hint could cost and measures it: a fresh read the cache
//! would have answered is compared with what it holds (`drift`).

use std::collections::HashMap;
use std::sync::Arc;
use unwedge_model::{AnonFd, Frozen, PipeFd, Process, SocketFd, Thread};

/// Every process is read fresh once in this many snapshots.
pub const FRESH_EVERY: u64 = 20;

/// Whether a process ran between two reads: its CPU time (all threads,
/// those that ended too) and each thread's context switches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunMark {
    cpu_ticks: u64,
    /// (tid, voluntary + involuntary switches), by tid.
    threads: Box<[(u32, u64)]>,
}

impl RunMark {
    /// `None` when a thread's count is unknown (status unreadable).
    pub(crate) fn of(cpu_ticks: u64, threads: &[Thread]) -> Option<RunMark> {
        let mut v = Vec::with_capacity(threads.len());
        for t in threads {
            v.push((t.tid, t.ctxt_switches?));
        }
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        Some(RunMark { cpu_ticks, threads: v.into() })
    }
}

/// Every thread sleeps now (a running or runnable thread may be in the
/// middle of a syscall that changes the fd table: its count moves only
/// when it switches out).
pub(crate) fn all_asleep(threads: &[Thread]) -> bool {
    !threads.is_empty() && threads.iter().all(|t| matches!(t.state, 'S' | 'D' | 'T' | 't' | 'I' | 'Z' | 'X' | 'P'))
}

/// What only the process itself changes, as pass one read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FdPart {
    pub uid: u32,
    pub netns: u64,
    pub fd_count: u32,
    pub sockets: Vec<SocketFd>,
    pub pipes: Vec<PipeFd>,
    pub anon_fds: Vec<AnonFd>,
}

/// What only the process itself changes, as pass two read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FullPart {
    pub cmdline: String,
    pub threads: Vec<Thread>,
    pub frozen: Option<Frozen>,
}

/// One process as last read, with the mark taken before its fds were.
#[derive(Debug)]
pub struct Cached {
    pub start_ticks: u64,
    pub mark: RunMark,
    pub fd_dir_size: u64,
    pub fds: FdPart,
    /// Read in full under the same mark (pass two ran after pass one: a
    /// process that ran in between changed its mark by the next read).
    pub full: Option<FullPart>,
}

/// How one process was read in pass one, for pass two and the cache.
#[derive(Clone, Debug, Default)]
pub struct ReadInfo {
    pub mark: Option<RunMark>,
    /// Every thread asleep at this read.
    pub quiet: bool,
    pub fd_dir_size: Option<u64>,
    /// Its fds came from the cache (it did not run since).
    pub reused: bool,
    /// The cached entry this read would have used, if any: pass two reuses
    /// its full part only then.
    pub cached: Option<Arc<Cached>>,
    /// The fds were read whole without error (cacheable).
    pub fds_ok: bool,
    /// A fresh read the cache would have answered: whether what it held differed.
    pub drift: Option<bool>,
}

/// Counts of the cache at work, since the collector started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Processes read in pass one, and those whose fds came from the cache.
    pub reads: u64,
    pub fds_reused: u64,
    /// Processes read in full, and those whose detail came from the cache.
    pub full_reads: u64,
    pub full_reused: u64,
    /// Fresh reads the cache would have answered, and how many of those
    /// found the fds different from what it held (an unsound hint).
    pub drift_checks: u64,
    pub drift: u64,
}

/// The processes of the last snapshot, by pid.
#[derive(Default)]
pub struct ProcCache {
    pub(crate) entries: HashMap<u32, Arc<Cached>>,
    /// Snapshots taken with this cache.
    pub(crate) generation: u64,
    pub stats: CacheStats,
}

impl ProcCache {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `pid`, and whether this read must be fresh anyway.
    pub(crate) fn job(&self, pid: u32) -> (Option<Arc<Cached>>, bool) {
        let fresh = (self.generation + pid as u64).is_multiple_of(FRESH_EVERY);
        (self.entries.get(&pid).cloned(), fresh)
    }

    /// Replaces the entries with the processes of the snapshot just
    /// taken: a process gone is dropped, one that did not run keeps its
    /// entry as it was.
    pub(crate) fn rebuild(&mut self, processes: &[Process], info: &HashMap<u32, ReadInfo>) {
        let mut next = HashMap::with_capacity(processes.len());
        for p in processes {
            if let Some(e) = info.get(&p.pid).and_then(|ri| entry(p, ri)) {
                next.insert(p.pid, e);
            }
        }
        self.entries = next;
        self.generation += 1;
    }

    /// Brings the entries of `processes` (a second look) up to date; the
    /// rest stay as they are, and a process the look found gone is dropped.
    pub(crate) fn update(&mut self, pids: &[u32], processes: &[Process], info: &HashMap<u32, ReadInfo>) {
        for pid in pids {
            self.entries.remove(pid);
        }
        for p in processes {
            if let Some(e) = info.get(&p.pid).and_then(|ri| entry(p, ri)) {
                self.entries.insert(p.pid, e);
            }
        }
    }
}

/// The entry for `p` as just read: the same one when it did not run and
/// nothing was added, else a new one (cacheable only with a mark and its
/// fds read whole).
fn entry(p: &Process, ri: &ReadInfo) -> Option<Arc<Cached>> {
    let (Some(mark), Some(size), true) = (ri.mark.clone(), ri.fd_dir_size, ri.fds_ok) else { return None };
    let full = (!p.brief).then(|| FullPart {
        cmdline: p.cmdline.clone(),
        threads: p.threads.clone(),
        frozen: p.frozen.clone(),
    });
    Some(match &ri.cached {
        Some(c) if ri.reused && (full.is_none() || c.full.is_some()) => c.clone(),
        _ => Arc::new(Cached { start_ticks: p.start_ticks, mark, fd_dir_size: size, fds: fd_part(p), full }),
    })
}

/// The part of `p` only the process itself changes.
pub(crate) fn fd_part(p: &Process) -> FdPart {
    FdPart {
        uid: p.uid,
        netns: p.netns,
        fd_count: p.fd_count,
        sockets: p.sockets.clone(),
        pipes: p.pipes.clone(),
        anon_fds: p.anon_fds.clone(),
    }
}

/// Fills `p` (just read in pass one, fds not read) with what the cache
/// holds of it. Every field of `Process` is named: a new one must say
/// here whether another process can change it.
pub(crate) fn reuse_fds(p: &mut Process, c: &FdPart) {
    let Process {
        // Identity, and read every time from stat and status: another
        // process can reparent it, change its group, rename it (comm),
        // stop it, trace it, or send it a signal.
        pid: _,
        ppid: _,
        pgid: _,
        sid: _,
        comm: _,
        state: _,
        start_ticks: _,
        tracer_pid: _,
        threads: _,
        cpu_ticks_total: _,
        cpus_allowed: _,
        // prlimit(2) and cgroup.procs: changed by others, read every time.
        nofile_soft: _,
        nofile_hard: _,
        nproc_soft: _,
        cgroup: _,
        // Only the process itself changes these (setuid, setns, open, close).
        uid,
        netns,
        fd_count,
        sockets,
        pipes,
        anon_fds,
        // Pass two's (cmdline, frozen: see `refresh_thread`), the
        // resolver's and a JVM's hsperfdata, read per snapshot for the few
        // that need them.
        cmdline: _,
        frozen: _,
        resolv_conf: _,
        jvm: _,
        brief: _,
    } = p;
    *uid = c.uid;
    *netns = c.netns;
    *fd_count = c.fd_count;
    sockets.clone_from(&c.sockets);
    pipes.clone_from(&c.pipes);
    anon_fds.clone_from(&c.anon_fds);
}

/// A thread as pass two read it, brought up to date with what pass one
/// just read of it. Every field of `Thread` is named: a new one must say
/// here whether it changes while the thread does not run.
pub(crate) fn refresh_thread(detail: &Thread, now: &Thread) -> Thread {
    let Thread {
        tid,
        // Read every time: another process can rename the thread, stop
        // it or send it a signal; the counts are the mark itself.
        comm: _,
        state: _,
        ctxt_switches: _,
        signals: _,
        // Only the thread itself changes these: it did not run.
        utime,
        stime,
        wchan,
        syscall,
        stack,
        fd_args,
        // Not the walk's: the pipeline and the sampler fill them after.
        user_stack: _,
        schedstat: _,
        cpu_profile: _,
    } = detail;
    Thread {
        tid: *tid,
        comm: now.comm.clone(),
        state: now.state,
        ctxt_switches: now.ctxt_switches,
        signals: now.signals,
        utime: *utime,
        stime: *stime,
        wchan: wchan.clone(),
        syscall: syscall.clone(),
        stack: stack.clone(),
        fd_args: fd_args.clone(),
        user_stack: None,
        schedstat: None,
        cpu_profile: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(tid: u32, state: char, sw: Option<u64>) -> Thread {
        Thread { tid, state, ctxt_switches: sw, ..Default::default() }
    }

    #[test]
    fn a_mark_moves_with_any_thread() {
        let a = RunMark::of(10, &[t(1, 'S', Some(5)), t(2, 'S', Some(7))]).unwrap();
        assert_eq!(
            Some(a.clone()),
            RunMark::of(10, &[t(2, 'S', Some(7)), t(1, 'S', Some(5))]),
            "order does not matter"
        );
        assert_ne!(Some(a.clone()), RunMark::of(10, &[t(1, 'S', Some(5)), t(2, 'S', Some(8))]), "a switch");
        assert_ne!(Some(a.clone()), RunMark::of(11, &[t(1, 'S', Some(5)), t(2, 'S', Some(7))]), "CPU time");
        assert_ne!(Some(a.clone()), RunMark::of(10, &[t(1, 'S', Some(5))]), "a thread ended");
        assert_ne!(Some(a), RunMark::of(10, &[t(1, 'S', Some(5)), t(3, 'S', Some(7))]), "another thread");
        assert_eq!(RunMark::of(10, &[t(1, 'S', None)]), None, "unknown count");
        assert!(all_asleep(&[t(1, 'S', None), t(2, 'D', None)]));
        assert!(!all_asleep(&[t(1, 'S', None), t(2, 'R', None)]), "a thread on a CPU may be mid-syscall");
    }

    #[test]
    fn fresh_reads_are_spread_over_the_pids() {
        let c = ProcCache::default();
        let fresh = (0..FRESH_EVERY as u32 * 10).filter(|&p| c.job(p).1).count();
        assert_eq!(fresh, 10);
    }
}
