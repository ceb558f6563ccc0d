//! The /proc walk, in two passes over a small pool of worker threads. A
//! process that exits mid-walk is skipped (and listed in `skipped`); one we
//! may not read is reported as such, with whatever could be read kept.
//!
//! Pass one, [`walk_brief`], reads for every process what the process tree
//! and the per-process findings need: stat, status (the signal masks), the
//! owner, every fd (one getdents pass and one readlinkat per fd, for the
//! sockets, pipes and signalfds), RLIMIT_NOFILE and the network namespace;
//! for a multi-threaded process, each thread's status. Pass two,
//! [`add_detail`], reads the rest — cmdline, and per thread stat, status,
//! wchan, syscall, kernel stack and the fds among its syscall arguments —
//! only for the processes the caller names: those a finding can be about
//! (`lib.rs` decides), or all of them with [`Detail::Full`]. On a host full
//! of idle daemons that is most of the cost of a scan saved: a kernel stack
//! or a cmdline costs more to read than a socket fd.
//!
//! Every file is opened relative to an open /proc/PID directory (openat,
//! readlinkat: rustix), so the kernel resolves one path component per call
//! instead of four, and a pid reused mid-read fails rather than reading
//! another process.
//!
//! Workers take jobs from a shared counter and keep their results: nothing
//! is handed over, and no thread woken, per process. The calling thread is
//! the watchdog: it sleeps, and every [`WATCH_TICK`] looks whether each busy
//! worker made progress (every fd and thread read counts). One that made
//! none for `Budget::per_process` is stuck in the kernel — a hung FUSE or NFS
//! mount holding a process's mmap lock blocks its cmdline read forever — so
//! that process is skipped as timed out, the worker is abandoned (never
//! joined) and a fresh one takes its place.

use crate::parse::{self, fd::Target, stat::PF_KTHREAD};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, Mode, OFlags, RawDir};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Read};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use unwedge_model::{
    AnonFd, CgroupSet, FdTarget, Frozen, PipeFd, Process, SkipReason, Skipped, SocketFd, SyscallLine, Thread,
};

/// Longest cmdline kept; a hostile process can have megabytes of arguments.
const CMDLINE_CAP: usize = 4096;
/// Enough for any status, stat, limits or syscall file.
pub(crate) const SMALL_CAP: usize = 64 * 1024;
/// A kernel stack is a few hundred bytes; cap it well above that.
const STACK_CAP: usize = 8 * 1024;
/// Syscall arguments above this are pointers or flags, not fds worth a readlink.
const MAX_FD_ARG: u64 = 1 << 20;
/// getdents buffer: ~2,700 fd entries per call.
const DENTS_BUF: usize = 64 * 1024;
/// Socket, pipe and anon-inode links are short; a longer target (a file
/// path) is none of those, whatever its first 255 bytes say.
const LINK_BUF: usize = 256;
/// SIGTERM's bit in a signal mask.
const SIGTERM_BIT: u64 = 1 << 14;

/// How long one /proc read of a process may take before the process is
/// given up on. It bounds time without progress, not the whole process:
/// a process with a million fds takes seconds and is still read. A healthy
/// read takes microseconds; one whose mmap lock is held by a thread stuck
/// in a hung FUSE or NFS mount blocks a cmdline read forever.
pub const PROCESS_BUDGET: Duration = Duration::from_secs(1);
/// Readers stuck in the kernel are abandoned, not joined; past this many
/// the rest of the walk is not attempted (each holds a thread).
const MAX_ABANDONED: usize = 16;
/// How often the watchdog looks at the workers.
const WATCH_TICK: Duration = Duration::from_millis(50);
/// At most this many workers, however many cores: /proc reads of one host
/// contend on the same kernel locks beyond a few.
const MAX_WORKERS: usize = 4;

#[derive(Default)]
pub struct Walk {
    pub processes: Vec<Process>,
    pub skipped: Vec<Skipped>,
    pub denied_fds: usize,
    /// One per distinct /proc/PID/cgroup text; `Process::cgroup` names one.
    pub cgroup_sets: Vec<CgroupSet>,
    /// Pids whose own state says a finding may concern them (a thread
    /// blocks a signal, has one pending or sleeps in D; SIGTERM ignored),
    /// for [`add_detail`].
    pub want_detail: Vec<u32>,
}

/// How much of each process to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// Everything only for the processes a finding can be about.
    #[default]
    Needed,
    /// Everything for every process (`unwedge stop`, `--save-snapshot`).
    Full,
}

/// The limits of one walk: per process, and for the whole walk.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub per_process: Duration,
    pub until: Option<Instant>,
    pub detail: Detail,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { per_process: PROCESS_BUDGET, until: None, detail: Detail::Needed }
    }
}

/// Why a read failed, in the two classes a scanner cares about.
fn reason(e: &io::Error) -> Option<SkipReason> {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => None, // gone: not worth a line each
        Some(libc::EACCES) | Some(libc::EPERM) => Some(SkipReason::PermissionDenied),
        _ => Some(SkipReason::Unreadable),
    }
}

/// A whole small file by path (for `proc_one`, which reads one process).
pub(crate) fn read_capped(path: &str, buf: &mut Vec<u8>, cap: usize) -> io::Result<()> {
    buf.clear();
    let f = std::fs::File::open(path)?;
    f.take(cap as u64).read_to_end(buf)?;
    Ok(())
}

// ---------------------------------------------------------------- the pool

/// A worker's heartbeat: bumped after each fd and thread it reads.
#[derive(Default)]
pub struct Progress(AtomicU64);

impl Progress {
    pub fn tick(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// No job in flight.
const IDLE: usize = usize::MAX;

/// Reads one job; returns what it found.
type ReadFn<J, R> = dyn Fn(&J, &Progress) -> R + Send + Sync;
/// Per job index: what was read, or why nothing was.
type Results<R> = Vec<(usize, Result<R, SkipReason>)>;

struct Shared<J, R> {
    jobs: Vec<J>,
    next: AtomicUsize,
    stop: AtomicBool,
    read: Box<ReadFn<J, R>>,
    /// Workers that finish say so here; the watchdog sleeps on it.
    wake: (Mutex<()>, Condvar),
}

struct Slot<R> {
    progress: Progress,
    /// Index of the job in flight, or IDLE. Written under `done`'s lock.
    current: AtomicUsize,
    exited: AtomicBool,
    /// (still taken, results). Once the worker is abandoned or the walk
    /// has collected, `false` makes it drop what it finishes and leave.
    done: Mutex<(bool, Results<R>)>,
}

fn spawn_worker<J: Send + Sync + 'static, R: Send + 'static>(shared: &Arc<Shared<J, R>>) -> Option<Arc<Slot<R>>> {
    let slot = Arc::new(Slot {
        progress: Progress(AtomicU64::new(0)),
        current: AtomicUsize::new(IDLE),
        exited: AtomicBool::new(false),
        done: Mutex::new((true, Vec::new())),
    });
    let (sh, sl) = (shared.clone(), slot.clone());
    std::thread::Builder::new().name("proc-read".into()).stack_size(256 * 1024).spawn(move || work(&sh, &sl)).ok()?;
    Some(slot)
}

fn work<J, R>(shared: &Shared<J, R>, slot: &Slot<R>) {
    while !shared.stop.load(Ordering::Acquire) {
        let i = shared.next.fetch_add(1, Ordering::AcqRel);
        let Some(job) = shared.jobs.get(i) else { break };
        {
            let _g = slot.done.lock().unwrap_or_else(PoisonError::into_inner);
            slot.current.store(i, Ordering::Release);
        }
        slot.progress.tick();
        // A reader that panics on some process costs that process, not the walk.
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| (shared.read)(job, &slot.progress)))
            .map_err(|_| SkipReason::Unreadable);
        let mut done = slot.done.lock().unwrap_or_else(PoisonError::into_inner);
        if !done.0 {
            return; // abandoned: the walk went on without us
        }
        done.1.push((i, r));
        slot.current.store(IDLE, Ordering::Release);
    }
    slot.exited.store(true, Ordering::Release);
    let _g = shared.wake.0.lock().unwrap_or_else(PoisonError::into_inner);
    shared.wake.1.notify_all();
}

/// Runs `read` over every job on up to `workers` threads, within `budget`.
/// Returns, per job index, what was read or why not.
fn run_pool<J, R>(jobs: Vec<J>, workers: usize, budget: Budget, read: Box<ReadFn<J, R>>) -> Results<R>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
{
    let n = jobs.len();
    let shared = Arc::new(Shared {
        jobs,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        read,
        wake: (Mutex::new(()), Condvar::new()),
    });
    if n == 0 {
        return Vec::new();
    }
    if budget.until.is_some_and(|u| Instant::now() >= u) {
        return (0..n).map(|i| (i, Err(SkipReason::DeadlineReached))).collect();
    }
    let mut slots: Vec<Arc<Slot<R>>> = (0..workers.clamp(1, n)).filter_map(|_| spawn_worker(&shared)).collect();
    if slots.is_empty() {
        // No thread to spare: read here, unbounded, rather than not at all.
        let p = Progress(AtomicU64::new(0));
        return shared.jobs.iter().enumerate().map(|(i, j)| (i, Ok((shared.read)(j, &p)))).collect();
    }
    let mut out = Vec::with_capacity(n);
    // Per slot: (progress last seen, when it last moved, still ours).
    let now = Instant::now();
    let mut watch: Vec<(u64, Instant, bool)> = slots.iter().map(|_| (0, now, true)).collect();
    let mut abandoned = 0;
    // Why whatever was not read was not: the deadline, or too many hung readers.
    let mut cut = SkipReason::DeadlineReached;
    loop {
        {
            let g = shared.wake.0.lock().unwrap_or_else(PoisonError::into_inner);
            let busy = slots.iter().zip(&watch).any(|(s, w)| w.2 && !s.exited.load(Ordering::Acquire));
            if !busy {
                break;
            }
            let mut tick = WATCH_TICK.min(budget.per_process);
            if let Some(u) = budget.until {
                tick = tick.min(u.saturating_duration_since(Instant::now()));
            }
            let _ = shared.wake.1.wait_timeout(g, tick).unwrap_or_else(PoisonError::into_inner);
        }
        let now = Instant::now();
        if budget.until.is_some_and(|u| now >= u) {
            break;
        }
        let mut replace = 0;
        for (s, w) in slots.iter().zip(watch.iter_mut()) {
            if !w.2 || s.exited.load(Ordering::Acquire) {
                continue;
            }
            let p = s.progress.0.load(Ordering::Relaxed);
            if p != w.0 {
                (w.0, w.1) = (p, now);
                continue;
            }
            if now.duration_since(w.1) < budget.per_process {
                continue;
            }
            let mut done = s.done.lock().unwrap_or_else(PoisonError::into_inner);
            let cur = s.current.load(Ordering::Acquire);
            if cur == IDLE {
                w.1 = now;
                continue;
            }
            // Stuck in the kernel on job `cur`: give up on it and on this worker.
            done.0 = false;
            out.append(&mut done.1);
            out.push((cur, Err(SkipReason::TimedOut)));
            w.2 = false;
            abandoned += 1;
            replace += 1;
        }
        if abandoned >= MAX_ABANDONED {
            cut = SkipReason::TimedOut;
            break;
        }
        for _ in 0..replace {
            if let Some(s) = spawn_worker(&shared) {
                slots.push(s);
                watch.push((0, Instant::now(), true));
            }
        }
        if !watch.iter().any(|w| w.2) {
            // Every worker hung and none could be replaced.
            cut = SkipReason::TimedOut;
            break;
        }
    }
    shared.stop.store(true, Ordering::Release);
    let mut seen = vec![false; n];
    for (i, _) in &out {
        seen[*i] = true;
    }
    for (s, w) in slots.iter().zip(&watch) {
        let mut done = s.done.lock().unwrap_or_else(PoisonError::into_inner);
        if !w.2 {
            continue; // its results were taken when it was abandoned
        }
        done.0 = false;
        for (i, r) in done.1.drain(..) {
            seen[i] = true;
            out.push((i, r));
        }
    }
    // Jobs in flight at the deadline, and those never started.
    out.extend(seen.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| (i, Err(cut.clone()))));
    out
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).min(MAX_WORKERS)
}

// ------------------------------------------------------ reading, by dir fd

/// Scratch buffers, one set per worker thread.
struct Bufs {
    file: Vec<u8>,
    dents: Vec<u8>,
    link: [u8; LINK_BUF],
    path: String,
}

thread_local! {
    static BUFS: std::cell::RefCell<Bufs> = std::cell::RefCell::new(Bufs {
        file: Vec::with_capacity(4096),
        dents: Vec::with_capacity(DENTS_BUF),
        link: [0; LINK_BUF],
        path: String::with_capacity(64),
    });
}

fn with_bufs<T>(f: impl FnOnce(&mut Bufs) -> T) -> T {
    BUFS.with(|b| f(&mut b.borrow_mut()))
}

fn open_dir(at: impl AsFd, name: impl rustix::path::Arg) -> io::Result<OwnedFd> {
    Ok(rfs::openat(at, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// /proc/PID as a directory handle to open its files from.
fn open_pid(proc: &OwnedFd, pid: u32, path: &mut String) -> io::Result<OwnedFd> {
    path.clear();
    let _ = write!(path, "{pid}");
    Ok(rfs::openat(proc, path.as_str(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// A whole /proc file, at most `cap` bytes. A /proc file of one record
/// (stat, status, limits, syscall, stack…) comes whole in the first read
/// when it fits, so a read that did not fill the buffer is the end: no
/// second read just to see 0.
fn read_at(dir: impl AsFd, name: impl rustix::path::Arg, buf: &mut Vec<u8>, cap: usize) -> io::Result<()> {
    buf.clear();
    let fd = rfs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    while buf.len() < cap {
        if buf.capacity() == buf.len() {
            buf.reserve((cap - buf.len()).min(buf.len().max(4096)));
        }
        let offered = buf.capacity() - buf.len();
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(buf)) {
            Ok(n) if n == 0 || n < offered => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(cap);
    Ok(())
}

fn trimmed(buf: &[u8]) -> Option<String> {
    let s = parse::trim(buf);
    (!s.is_empty()).then(|| String::from_utf8_lossy(s).into_owned())
}

// ------------------------------------------------------------ pass one

/// What reading one process in brief gave: the process, or why not, and its skips.
pub struct One {
    pub result: io::Result<Option<Process>>,
    pub skipped: Vec<Skipped>,
    pub denied_fds: usize,
    /// Its own state says a finding may concern it: read it in full.
    pub wants_detail: bool,
    /// The text of /proc/PID/cgroup (parsed once per distinct text by the walk).
    pub cgroup: Option<Vec<u8>>,
}

/// Reads one process in brief (the real reader; tests pass one that hangs).
pub type Reader = fn(&OwnedFd, u32, u32, &Progress) -> One;

pub fn read_brief(proc: &OwnedFd, pid: u32, self_pid: u32, progress: &Progress) -> One {
    with_bufs(|b| {
        let mut one = One { result: Ok(None), skipped: Vec::new(), denied_fds: 0, wants_detail: false, cgroup: None };
        one.result = brief(proc, pid, self_pid, progress, b, &mut one);
        one
    })
}

fn brief(
    proc: &OwnedFd,
    pid: u32,
    self_pid: u32,
    prog: &Progress,
    b: &mut Bufs,
    one: &mut One,
) -> io::Result<Option<Process>> {
    let dir = open_pid(proc, pid, &mut b.path)?;
    read_at(&dir, c"stat", &mut b.file, SMALL_CAP)?;
    let Some(st) = parse::stat::parse(&b.file) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed stat"));
    };
    let uid = rfs::fstat(&dir)?.st_uid;
    let mut p = Process {
        pid,
        ppid: st.ppid,
        pgid: st.pgrp,
        sid: st.session,
        uid,
        comm: st.comm.clone(),
        state: st.state,
        start_ticks: st.starttime,
        ..Default::default()
    };
    if st.flags & PF_KTHREAD != 0 {
        // Kernel threads own no fds, sockets or signal masks worth reading.
        return Ok(Some(p));
    }
    p.brief = true;
    let status = read_at(&dir, c"status", &mut b.file, SMALL_CAP).map(|()| parse::status::parse(&b.file)).ok();
    p.tracer_pid = status.as_ref().and_then(|s| s.tracer_pid);
    if let Ok(n) = rfs::readlinkat_raw(&dir, c"ns/net", &mut b.link[..]) {
        p.netns = parse::sysctl::ns_inode(&b.link[..n]).unwrap_or(0);
    }
    match crate::sys::limits(pid) {
        Ok(l) => {
            (p.nofile_soft, p.nofile_hard) = l.nofile;
            p.nproc_soft = l.nproc_soft;
        }
        // Not ours to ask the kernel about: the file is world-readable.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
            if read_at(&dir, c"limits", &mut b.file, SMALL_CAP).is_ok() {
                if let Some(l) = parse::limits::parse_nofile(&b.file) {
                    (p.nofile_soft, p.nofile_hard) = l;
                }
                p.nproc_soft = parse::limits::parse_nproc(&b.file).and_then(|(soft, _)| soft);
            }
        }
        Err(_) => {}
    }
    // One read; the cgroup's own files are read once per cgroup after the
    // walk (crate::cgroups), never per process.
    if read_at(&dir, c"cgroup", &mut b.file, SMALL_CAP).is_ok() && !b.file.is_empty() {
        one.cgroup = Some(b.file.clone());
    }
    let mut fds_denied = None;
    if let Err(e) = read_fds(&dir, &mut p, b, prog) {
        match reason(&e) {
            None if st.state == 'Z' => {}
            None => return Ok(None), // exited mid-walk
            Some(r) => fds_denied = Some(r),
        }
    }
    if let Some(r) = fds_denied {
        if pid != self_pid {
            one.denied_fds += 1;
            one.skipped.push(Skipped { pid, reason: SkipReason::Fds(Box::new(r)) });
        }
    }
    if st.num_threads <= 1 {
        // The process's own status is its one thread's (a Vec of exactly
        // one: pushed, it would hold room for four on 2,000 idle processes).
        p.threads = vec![Thread {
            tid: pid,
            comm: st.comm,
            state: st.state,
            utime: st.utime,
            stime: st.stime,
            ctxt_switches: status.as_ref().and_then(|s| s.ctxt_switches),
            signals: status.as_ref().and_then(|s| s.signals),
            ..Default::default()
        }];
    } else {
        brief_threads(&dir, &mut p, b, prog);
    }
    one.wants_detail = p.state != 'Z' && may_matter(&p.threads);
    Ok(Some(p))
}

/// Whether the signal state or a thread's sleep can make a finding about
/// this process (blocked_signal, sigterm_blocked, stuck_thread's pending
/// signals, a D-state hang, process_stopped), so it must be read in full. A superset of what
/// those detectors test: blocked in every thread, pending anywhere, SIGTERM
/// ignored; and unknown masks count as "may".
fn may_matter(threads: &[Thread]) -> bool {
    let mut blocked_everywhere = !0u64;
    for t in threads {
        if matches!(t.state, 'D' | 'T' | 't') {
            return true;
        }
        let Some(m) = t.signals else { return true };
        if m.pending != 0 || m.shared_pending != 0 || m.ignored & SIGTERM_BIT != 0 {
            return true;
        }
        blocked_everywhere &= m.blocked;
    }
    !threads.is_empty() && blocked_everywhere != 0
}

/// Each thread's status: comm, state and signal masks (no CPU times).
/// The process's task directory and the thread ids in it (those listed
/// before a read error, if one comes).
fn task_ids(dir: &OwnedFd, b: &mut Bufs) -> Option<(OwnedFd, Vec<u32>)> {
    let task = open_dir(dir, c"task").ok()?;
    let mut tids = Vec::new();
    let mut raw = RawDir::new(&task, b.dents.spare_capacity_mut());
    while let Some(Ok(e)) = raw.next() {
        if let Some(tid) = parse::dec(e.file_name().to_bytes()).and_then(|t| u32::try_from(t).ok()) {
            tids.push(tid);
        }
    }
    Some((task, tids))
}

fn brief_threads(dir: &OwnedFd, p: &mut Process, b: &mut Bufs, prog: &Progress) {
    let Some((task, tids)) = task_ids(dir, b) else { return };
    for tid in tids {
        b.path.clear();
        let _ = write!(b.path, "{tid}/status");
        if read_at(&task, b.path.as_str(), &mut b.file, SMALL_CAP).is_err() {
            continue; // the thread exited
        }
        let st = parse::status::parse(&b.file);
        p.threads.push(Thread {
            tid,
            comm: st.name.unwrap_or_default(),
            state: st.state.unwrap_or('?'),
            ctxt_switches: st.ctxt_switches,
            signals: st.signals,
            ..Default::default()
        });
        prog.tick();
    }
    p.threads.sort_by_key(|t| t.tid);
}

/// Every fd of the process: sockets, pipes and anon inodes by their link.
///
/// The kernel gives the number of open fds as the size of /proc/PID/fd, and
/// fds are handed out lowest first, so the links are read by number from 0
/// until that many were found: one readlinkat per fd and no getdents pass
/// (which looks up, and may create, a dentry for every fd a second time).
/// A sparse table (bash's fd 255, a daemon that dup2()s high, a forked
/// child's inherited fd 10) runs out of its small allowance of misses and
/// the rest is listed with getdents, skipping the numbers already probed;
/// so is a kernel that reports no size and a process whose links we may
/// not read.
fn read_fds(dir: &OwnedFd, p: &mut Process, b: &mut Bufs, prog: &Progress) -> io::Result<()> {
    let fds = rfs::openat(dir, c"fd", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let count = rfs::fstat(&fds)?.st_size.max(0) as u64;
    // Every fd below `probed` was read or found missing by number.
    let (mut found, mut misses, mut probed) = (0u64, 0u64, 0u32);
    // A miss costs a failed lookup (~3 µs); a getdents of a small table,
    // about as much as two: on a host of idle daemons with sparse tables a
    // large allowance costs more than it saves.
    let allowance = 4 + count / 16;
    let mut sparse = count == 0;
    while !sparse && found < count {
        b.path.clear();
        let _ = write!(b.path, "{probed}");
        // readlink never follows the target, so a dead NFS mount cannot hang it.
        match rfs::readlinkat_raw(&fds, b.path.as_str(), &mut b.link[..]) {
            Ok(n) => {
                found += 1;
                add_fd(p, probed, &b.link[..n], &fds, b.path.as_str());
                prog.tick();
            }
            Err(rustix::io::Errno::NOENT) => {
                misses += 1;
                sparse = misses > allowance;
            }
            // Links we may not read (a protected init): list and count them as getdents sees them.
            Err(rustix::io::Errno::ACCESS) | Err(rustix::io::Errno::PERM) => {
                (p.fd_count, p.sockets, p.pipes, p.anon_fds) = (0, Vec::new(), Vec::new(), Vec::new());
                (sparse, probed) = (true, 0);
                break;
            }
            Err(e) => return Err(e.into()),
        }
        probed += 1;
    }
    if sparse {
        let fds = open_dir(dir, c"fd")?;
        let mut raw = RawDir::new(&fds, b.dents.spare_capacity_mut());
        while let Some(e) = raw.next() {
            let e = e?;
            let name = e.file_name();
            let Some(fd) = parse::dec(name.to_bytes()).and_then(|f| u32::try_from(f).ok()) else {
                continue;
            };
            if fd < probed {
                continue;
            }
            if let Ok(n) = rfs::readlinkat_raw(&fds, name, &mut b.link[..]) {
                add_fd(p, fd, &b.link[..n], &fds, name);
            } else {
                p.fd_count += 1; // closed since listed, or unreadable: it was open
            }
            prog.tick();
        }
    }
    // Which signals a signalfd reads tells a deliberate SIGTERM block from a hang.
    for i in 0..p.anon_fds.len() {
        if p.anon_fds[i].kind != "[signalfd]" {
            continue;
        }
        b.path.clear();
        let _ = write!(b.path, "fdinfo/{}", p.anon_fds[i].fd);
        if read_at(dir, b.path.as_str(), &mut b.file, SMALL_CAP).is_ok() {
            p.anon_fds[i].sigmask = parse::fdinfo::signalfd_mask(&b.file);
        }
    }
    p.sockets.sort_by_key(|s| s.fd);
    p.pipes.sort_by_key(|s| s.fd);
    p.anon_fds.sort_by_key(|a| a.fd);
    // Grown by doubling, a server's 100k socket fds would hold room for 130k.
    p.sockets.shrink_to_fit();
    Ok(())
}

fn add_fd(p: &mut Process, fd: u32, link: &[u8], fds: &OwnedFd, name: impl rustix::path::Arg) {
    p.fd_count += 1;
    match parse::fd::classify(link) {
        Target::Socket(inode) => p.sockets.push(SocketFd { fd, inode }),
        Target::Anon(kind) => {
            p.anon_fds.push(AnonFd { fd, kind: String::from_utf8_lossy(kind).into_owned(), sigmask: None })
        }
        Target::Pipe(inode) => {
            // The link's own mode is the open mode (r-x read end, -wx
            // write end): which end a blocked writer's reader holds.
            let writes = rfs::statat(fds, name, rfs::AtFlags::SYMLINK_NOFOLLOW).ok().map(|st| st.st_mode & 0o200 != 0);
            p.pipes.push(PipeFd { fd, inode, writes })
        }
        Target::Other => {}
    }
}

/// Pass one over every process in /proc.
pub fn walk_brief(self_pid: u32, budget: Budget) -> io::Result<Walk> {
    walk_with(self_pid, budget, read_brief)
}

pub fn walk_with(self_pid: u32, budget: Budget, reader: Reader) -> io::Result<Walk> {
    let proc = Arc::new(open_dir(rfs::CWD, c"/proc")?);
    let mut pids = Vec::new();
    with_bufs(|b| -> io::Result<()> {
        let mut raw = RawDir::new(&*proc, b.dents.spare_capacity_mut());
        while let Some(e) = raw.next() {
            if let Some(pid) = parse::dec(e?.file_name().to_bytes()).and_then(|p| u32::try_from(p).ok()) {
                pids.push(pid);
            }
        }
        Ok(())
    })?;
    let p2 = proc.clone();
    let read: Box<ReadFn<u32, One>> = Box::new(move |&pid, prog| reader(&p2, pid, self_pid, prog));
    let results = run_pool(pids.clone(), workers(), budget, read);
    let mut w = Walk { processes: Vec::with_capacity(pids.len()), ..Default::default() };
    // Nearly every process shares its cgroup text with many others: parse
    // each distinct text once.
    let mut cgroup_ids: HashMap<Vec<u8>, u32> = HashMap::new();
    for (i, r) in results {
        let pid = pids[i];
        let one = match r {
            Ok(one) => one,
            Err(why) => {
                w.skipped.push(Skipped { pid, reason: why });
                continue;
            }
        };
        w.skipped.extend(one.skipped);
        w.denied_fds += one.denied_fds;
        match one.result {
            Ok(Some(mut p)) => {
                if one.wants_detail {
                    w.want_detail.push(p.pid);
                }
                if let Some(text) = one.cgroup {
                    p.cgroup = Some(match cgroup_ids.get(&text) {
                        Some(&id) => id,
                        None => {
                            let id = w.cgroup_sets.len() as u32;
                            w.cgroup_sets.push(CgroupSet { id, entries: kept_entries(&text) });
                            cgroup_ids.insert(text, id);
                            id
                        }
                    });
                }
                w.processes.push(p);
            }
            Ok(None) => {}
            Err(e) => {
                if let Some(r) = reason(&e) {
                    w.skipped.push(Skipped { pid, reason: r });
                }
            }
        }
    }
    w.processes.sort_by_key(|p| p.pid);
    w.skipped.sort_by_key(|s| s.pid);
    w.want_detail.sort_unstable();
    Ok(w)
}

/// The hierarchies worth keeping: those of the controllers unwedge reads,
/// the v2 one, and name=systemd (it names the unit on v1 hosts). cpuset,
/// blkio, devices and the like would only make the snapshot longer.
fn kept_entries(text: &[u8]) -> Vec<unwedge_model::CgroupEntry> {
    let mut e = parse::cgroup::proc_cgroup(text);
    e.retain(|e| {
        e.is_v2() || e.controllers == "name=systemd" || ["pids", "cpu", "memory", "freezer"].iter().any(|c| e.has(c))
    });
    e
}

// ------------------------------------------------------------ pass two

/// The rest of one process: its cmdline and every thread in full.
pub struct Full {
    pub cmdline: String,
    pub threads: Vec<Thread>,
    pub frozen: Option<Frozen>,
}

/// Reads the rest of a process (the real reader; tests pass one that hangs).
pub type DetailReader = fn(&OwnedFd, u32, u64, &Progress) -> io::Result<Full>;

pub fn read_full(proc: &OwnedFd, pid: u32, start_ticks: u64, prog: &Progress) -> io::Result<Full> {
    with_bufs(|b| {
        let dir = open_pid(proc, pid, &mut b.path)?;
        read_at(&dir, c"stat", &mut b.file, SMALL_CAP)?;
        // The pid may have been reused since pass one.
        if parse::stat::parse(&b.file).map(|s| s.starttime) != Some(start_ticks) {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        let mut full = Full { cmdline: String::new(), threads: Vec::new(), frozen: None };
        if read_at(&dir, c"cmdline", &mut b.file, CMDLINE_CAP).is_ok() {
            let text: Vec<u8> = b.file.iter().map(|&c| if c == 0 { b' ' } else { c }).collect();
            full.cmdline = String::from_utf8_lossy(parse::trim(&text)).into_owned();
        }
        full.threads = full_threads(&dir, b, prog);
        if looks_stopped_or_frozen(&full.threads) {
            full.frozen = frozen_cgroup(pid, None, &mut b.file);
        }
        Ok(full)
    })
}

fn full_threads(dir: &OwnedFd, b: &mut Bufs, prog: &Progress) -> Vec<Thread> {
    let mut out = Vec::new();
    let Some((task, tids)) = task_ids(dir, b) else { return out };
    for tid in tids {
        b.path.clear();
        let _ = write!(b.path, "{tid}");
        let Ok(t) =
            rfs::openat(&task, b.path.as_str(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        else {
            continue; // the thread exited
        };
        if read_at(&t, c"stat", &mut b.file, SMALL_CAP).is_err() {
            continue;
        }
        let Some(st) = parse::stat::parse(&b.file) else { continue };
        let mut th =
            Thread { tid, comm: st.comm, state: st.state, utime: st.utime, stime: st.stime, ..Default::default() };
        if read_at(&t, c"status", &mut b.file, SMALL_CAP).is_ok() {
            let st = parse::status::parse(&b.file);
            th.signals = st.signals;
            th.ctxt_switches = st.ctxt_switches;
        }
        if read_at(&t, c"wchan", &mut b.file, SMALL_CAP).is_ok() {
            th.wchan = trimmed(&b.file).filter(|w| w != "0");
        }
        if read_at(&t, c"syscall", &mut b.file, SMALL_CAP).is_ok() {
            th.syscall = trimmed(&b.file);
        }
        if matches!(th.state, 'S' | 'D') {
            // Only sleeping threads: a running thread's stack and args change under us.
            if read_at(&t, c"stack", &mut b.file, STACK_CAP).is_ok() {
                th.stack = Some(parse::stack::parse(&b.file));
            }
            if let Some(call) = th.syscall.as_deref().and_then(SyscallLine::parse) {
                th.fd_args = fd_args(dir, &call, &mut b.path);
            }
        }
        out.push(th);
        prog.tick();
    }
    out.sort_by_key(|t| t.tid);
    out
}

/// A thread that is stopped (T, t), in uninterruptible sleep (D: how a
/// cgroup v1 freezer shows its tasks on 6.x) or parked in the signal path
/// (a cgroup v2 freeze traps tasks in get_signal). Only these processes
/// pay for reading their freezer cgroup.
fn looks_stopped_or_frozen(threads: &[Thread]) -> bool {
    threads.iter().any(|t| {
        matches!(t.state, 'T' | 't' | 'D')
            || matches!(t.wchan.as_deref(), Some("get_signal" | "do_freezer_trap" | "__refrigerator"))
    })
}

/// The frozen (or freezing) cgroup holding `pid`, v1 freezer first, from
/// the /proc/PID/cgroup text the walk already read (read here only if not).
fn frozen_cgroup(pid: u32, text: Option<&[u8]>, buf: &mut Vec<u8>) -> Option<Frozen> {
    let paths = match text {
        Some(t) => parse::freezer::paths(t),
        None => {
            read_capped(&format!("/proc/{pid}/cgroup"), buf, SMALL_CAP).ok()?;
            parse::freezer::paths(buf)
        }
    };
    if let Some(path) = &paths.v1_freezer {
        let dir = format!("/sys/fs/cgroup/freezer{}", path.trim_end_matches('/'));
        let file = format!("{dir}/freezer.state");
        if read_capped(&file, buf, SMALL_CAP).is_ok() {
            if let Some(state) = parse::freezer::v1_state(buf) {
                let control = freezing_ancestor(&dir, "freezer.self_freezing", "/sys/fs/cgroup/freezer", buf)
                    .map(|d| format!("{d}/freezer.state"))
                    .unwrap_or(file);
                return Some(Frozen { version: 1, cgroup: path.clone(), state: state.into(), control });
            }
        }
    }
    let path = paths.v2?;
    // Pure v2 mounts the hierarchy at /sys/fs/cgroup; a hybrid host at .../unified.
    let root = if std::fs::metadata("/sys/fs/cgroup/cgroup.controllers").is_ok() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    let dir = format!("{root}{}", path.trim_end_matches('/'));
    read_capped(&format!("{dir}/cgroup.events"), buf, SMALL_CAP).ok()?;
    if !parse::freezer::v2_frozen(buf) {
        return None;
    }
    let control = freezing_ancestor(&dir, "cgroup.freeze", root, buf).unwrap_or(dir);
    Some(Frozen { version: 2, cgroup: path, state: "frozen".into(), control: format!("{control}/cgroup.freeze") })
}

/// The cgroup directory, from `dir` up to `root`, whose own `flag` file says
/// 1: the one that was frozen (a child of a frozen cgroup is frozen too, and
/// thawing the child alone does nothing).
fn freezing_ancestor(dir: &str, flag: &str, root: &str, buf: &mut Vec<u8>) -> Option<String> {
    let mut d = dir.to_string();
    while d.len() > root.len() && d.starts_with(root) {
        if read_capped(&format!("{d}/{flag}"), buf, SMALL_CAP).is_ok() && parse::trim(buf) == b"1" {
            return Some(d);
        }
        d.truncate(d.rfind('/')?);
    }
    None
}

/// The /proc/PID/fd targets of the first three syscall arguments that are
/// open fds (where fds sit in read, recvfrom, accept, epoll_wait, sendfile,
/// splice). Which argument really is an fd is the detector's call.
fn fd_args(dir: &OwnedFd, call: &SyscallLine, path: &mut String) -> Vec<FdTarget> {
    let mut out: Vec<FdTarget> = Vec::new();
    for &a in &call.args[..3] {
        if a >= MAX_FD_ARG || out.iter().any(|t| t.fd as u64 == a) {
            continue;
        }
        path.clear();
        let _ = write!(path, "fd/{a}");
        if let Ok(link) = rfs::readlinkat(dir, path.as_str(), Vec::new()) {
            out.push(FdTarget { fd: a as u32, target: link.to_string_lossy().into_owned() });
        }
    }
    out
}

/// Pass two: reads `pids` (of `w.processes`) in full, within `budget`. A
/// process that hangs now keeps its brief record and is listed in
/// `skipped`; one gone since pass one keeps its brief record too.
pub fn add_detail(w: &mut Walk, pids: &[u32], budget: Budget) -> io::Result<()> {
    add_detail_with(w, pids, budget, read_full)
}

pub fn add_detail_with(w: &mut Walk, pids: &[u32], budget: Budget, reader: DetailReader) -> io::Result<()> {
    let jobs: Vec<(u32, u64)> = pids
        .iter()
        .filter_map(|&pid| w.processes.binary_search_by_key(&pid, |p| p.pid).ok())
        .map(|i| &w.processes[i])
        .filter(|p| p.brief)
        .map(|p| (p.pid, p.start_ticks))
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
    let proc = open_dir(rfs::CWD, c"/proc")?;
    let read: Box<ReadFn<(u32, u64), io::Result<Full>>> =
        Box::new(move |&(pid, start), prog| reader(&proc, pid, start, prog));
    for (i, r) in run_pool(jobs.clone(), workers(), budget, read) {
        let pid = jobs[i].0;
        match r {
            Ok(Ok(full)) => {
                if let Ok(at) = w.processes.binary_search_by_key(&pid, |p| p.pid) {
                    let p = &mut w.processes[at];
                    p.cmdline = full.cmdline;
                    p.threads = full.threads;
                    p.frozen = full.frozen;
                    p.brief = false;
                }
            }
            Ok(Err(e)) => {
                if let Some(r) = reason(&e) {
                    w.skipped.push(Skipped { pid, reason: r });
                }
            }
            Err(why) => w.skipped.push(Skipped { pid, reason: why }),
        }
    }
    w.skipped.sort_by_key(|s| s.pid);
    Ok(())
}

/// Both passes, every process in full where it may matter by its own state
/// (the socket-based choice is the caller's, who has the sockets).
pub fn walk(self_pid: u32) -> io::Result<Walk> {
    let budget = Budget::default();
    let mut w = walk_brief(self_pid, budget)?;
    let pids = w.want_detail.clone();
    add_detail(&mut w, &pids, budget)?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::SignalMasks;

    fn masks(blocked: u64, pending: u64, ignored: u64) -> Option<SignalMasks> {
        Some(SignalMasks { blocked, pending, ignored, ..Default::default() })
    }

    /// Stands in for a process whose /proc reads hang in the kernel (D state,
    /// a dead FUSE mount): this test process itself never answers.
    fn hangs_on_self(proc: &OwnedFd, pid: u32, self_pid: u32, prog: &Progress) -> One {
        if pid == std::process::id() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        read_brief(proc, pid, self_pid, prog)
    }

    fn full_hangs_on_self(proc: &OwnedFd, pid: u32, start: u64, prog: &Progress) -> io::Result<Full> {
        if pid == std::process::id() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        read_full(proc, pid, start, prog)
    }

    /// fds 0-2, a socket, and the same socket dup'ed to 40 and 300: more
    /// gaps than the by-number read allows, so the rest is listed; every fd
    /// is counted once and both high numbers are seen.
    #[test]
    fn a_sparse_fd_table_is_read_whole_and_once() {
        use std::io::BufRead;
        let script = "import os,socket,sys,time\ns=socket.socket()\nos.dup2(s.fileno(),40)\nos.dup2(s.fileno(),300)\n\
                      print(sorted(int(f) for f in os.listdir('/proc/self/fd')),flush=True)\ntime.sleep(30)";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // The child's own listing includes the fd its listdir opened.
        let expected = line.trim().trim_matches(['[', ']']).split(", ").count() as u32 - 1;
        let proc = open_dir(rfs::CWD, c"/proc").unwrap();
        let one = read_brief(&proc, child.id(), 0, &Progress::default());
        let _ = child.kill();
        let _ = child.wait();
        let p = one.result.unwrap().unwrap();
        assert_eq!(p.fd_count, expected, "{line}");
        let fds: Vec<u32> = p.sockets.iter().map(|s| s.fd).collect();
        assert_eq!(fds.len(), 3, "{fds:?}");
        assert!(fds.ends_with(&[40, 300]), "{fds:?}");
    }

    #[test]
    fn a_hung_process_is_skipped_and_the_walk_goes_on() {
        let started = Instant::now();
        let budget = Budget { per_process: Duration::from_millis(200), ..Default::default() };
        let w = walk_with(0, budget, hangs_on_self).unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "walk took {:?}", started.elapsed());
        let me = std::process::id();
        assert!(w.skipped.iter().any(|s| s.pid == me && s.reason == SkipReason::TimedOut), "{:?}", w.skipped);
        assert!(!w.processes.iter().any(|p| p.pid == me));
        // Processes after the hung one were still read (pid 1 always exists).
        assert!(w.processes.iter().any(|p| p.pid == 1), "pid 1 missing");
    }

    #[test]
    fn a_process_hung_in_the_second_pass_keeps_its_brief_record() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let kid = child.id();
        let budget = Budget { per_process: Duration::from_millis(200), ..Default::default() };
        let mut w = walk_brief(0, budget).unwrap();
        let me = std::process::id();
        let started = Instant::now();
        add_detail_with(&mut w, &[kid, me], budget, full_hangs_on_self).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
        assert!(w.skipped.iter().any(|s| s.pid == me && s.reason == SkipReason::TimedOut), "{:?}", w.skipped);
        let p = w.processes.iter().find(|p| p.pid == me).unwrap();
        assert!(p.brief && p.cmdline.is_empty());
        let k = w.processes.iter().find(|p| p.pid == kid).unwrap();
        assert!(!k.brief && k.cmdline == "sleep 30", "{k:?}");
        assert!(k.threads.iter().all(|t| t.syscall.is_some()), "{:?}", k.threads);
    }

    #[test]
    fn past_the_deadline_nothing_more_is_read() {
        let budget = Budget { until: Some(Instant::now()), ..Default::default() };
        let w = walk_with(0, budget, read_brief).unwrap();
        assert!(w.processes.is_empty());
        assert!(w.skipped.iter().all(|s| s.reason == SkipReason::DeadlineReached) && !w.skipped.is_empty());
    }

    #[test]
    fn this_process_in_brief_and_in_full() {
        let me = std::process::id();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&listener)))
            .ok()
            .and_then(|l| match parse::fd::classify(l.as_os_str().as_encoded_bytes()) {
                Target::Socket(i) => Some(i),
                _ => None,
            })
            .unwrap();
        let mut w = walk_brief(0, Budget::default()).unwrap();
        let p = w.processes.iter().find(|p| p.pid == me).unwrap();
        assert!(p.brief && p.fd_count > 0 && p.netns != 0 && p.nofile_soft.is_some());
        assert!(p.sockets.iter().any(|s| s.inode == inode), "{:?}", p.sockets);
        // A test binary runs several threads: each has its masks.
        assert!(p.threads.len() > 1 && p.threads.iter().all(|t| t.signals.is_some()));
        add_detail(&mut w, &[me], Budget::default()).unwrap();
        let p = w.processes.iter().find(|p| p.pid == me).unwrap();
        assert!(!p.brief && p.cmdline.contains("unwedge_collect"), "{}", p.cmdline);
        assert!(p.threads.iter().any(|t| t.tid == me && t.syscall.is_some()));
    }

    #[test]
    fn what_makes_a_process_worth_reading_in_full() {
        let t = |state, signals| Thread { state, signals, ..Default::default() };
        assert!(!may_matter(&[t('S', masks(0, 0, 1 << 12))]), "SIGPIPE ignored, as every Python does");
        assert!(may_matter(&[t('S', masks(0, 0, SIGTERM_BIT))]));
        assert!(may_matter(&[t('D', masks(0, 0, 0))]));
        assert!(may_matter(&[t('S', None)]), "unknown masks");
        assert!(may_matter(&[t('S', masks(0, 1 << 13, 0))]), "pending");
        // Blocked in one thread of two: another takes the signal.
        assert!(!may_matter(&[t('S', masks(1 << 13, 0, 0)), t('S', masks(0, 0, 0))]));
        assert!(may_matter(&[t('S', masks(1 << 13, 0, 0)), t('S', masks(!0, 0, 0))]));
    }
}
