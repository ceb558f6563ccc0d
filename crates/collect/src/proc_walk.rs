//! The /proc walk: every process, its threads, fds and limits. A process
//! that exits mid-walk is skipped (and listed in `skipped`); one we may not
//! read is reported as such, with whatever could be read kept.

use crate::parse::{self, fd::Target, stat::PF_KTHREAD};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
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

#[derive(Default)]
pub struct Walk {
    pub processes: Vec<Process>,
    pub skipped: Vec<Skipped>,
    pub denied_fds: usize,
    /// One per distinct /proc/PID/cgroup text; `Process::cgroup` names one.
    pub cgroup_sets: Vec<CgroupSet>,
}

/// Why a read failed, in the two classes a scanner cares about.
fn reason(e: &io::Error) -> Option<SkipReason> {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => None, // gone: not worth a line each
        Some(libc::EACCES) | Some(libc::EPERM) => Some(SkipReason::PermissionDenied),
        _ => Some(SkipReason::Unreadable),
    }
}

/// One read() for a small file: a /proc file generated whole (a seq_file
/// with a single show, as /proc/PID/cgroup) that comes back shorter than
/// the buffer is complete, so the read that would only say EOF is saved;
/// a longer one is read to the end (up to `cap`).
pub(crate) fn read_small(path: &str, buf: &mut Vec<u8>, cap: usize) -> io::Result<()> {
    const FIRST: usize = 4096;
    buf.clear();
    buf.resize(FIRST, 0);
    let mut f = fs::File::open(path)?;
    let n = f.read(buf)?;
    buf.truncate(n);
    if n == FIRST {
        f.take(cap.saturating_sub(FIRST) as u64).read_to_end(buf)?;
    }
    Ok(())
}

pub(crate) fn read_capped(path: &str, buf: &mut Vec<u8>, cap: usize) -> io::Result<()> {
    buf.clear();
    let f = fs::File::open(path)?;
    f.take(cap as u64).read_to_end(buf)?;
    Ok(())
}

/// How long one /proc read of a process may take before the process is
/// given up on. It bounds time without progress, not the whole process:
/// a process with a million fds takes seconds and is still read. A healthy
/// read takes microseconds; one whose mmap lock is held by a thread stuck
/// in a hung FUSE or NFS mount blocks a cmdline read forever.
pub const PROCESS_BUDGET: Duration = Duration::from_secs(1);
/// Readers stuck in the kernel are abandoned, not joined; past this many
/// the rest of the walk is not attempted (each holds a thread).
const MAX_ABANDONED: usize = 16;

/// The limits of one walk: per process, and for the whole walk.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub per_process: Duration,
    pub until: Option<Instant>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { per_process: PROCESS_BUDGET, until: None }
    }
}

/// What reading one process gave: the process, or why not, and its skips.
pub struct One {
    pub result: io::Result<Option<Process>>,
    pub skipped: Vec<Skipped>,
    pub denied_fds: usize,
    /// The text of /proc/PID/cgroup (parsed once per distinct text by the walk).
    pub cgroup: Option<Vec<u8>>,
}

/// Reads one process (the real reader; tests pass one that hangs).
pub type Reader = fn(u32, u32) -> One;

pub fn read_one(pid: u32, self_pid: u32) -> One {
    let mut w = Walk::default();
    let mut buf = Vec::with_capacity(4096);
    let mut cgroup = None;
    let result = read_process(pid, self_pid, &mut buf, &mut w, &mut cgroup);
    One { result, skipped: w.skipped, denied_fds: w.denied_fds, cgroup }
}

pub fn walk(self_pid: u32) -> io::Result<Walk> {
    walk_with(self_pid, Budget::default(), read_one)
}

/// A thread that reads processes one at a time, so the walk can stop
/// waiting for one that hangs in the kernel and go on without it.
struct Worker {
    jobs: mpsc::Sender<u32>,
    done: mpsc::Receiver<One>,
    /// Bumped by the worker after each fd and thread it reads.
    progress: Arc<AtomicU64>,
}

thread_local! {
    /// The progress counter of the worker running on this thread, if any.
    static PROGRESS: std::cell::RefCell<Option<Arc<AtomicU64>>> = const { std::cell::RefCell::new(None) };
}

/// Tells the walk this worker is not stuck (cheap: one relaxed add).
fn tick() {
    PROGRESS.with(|p| {
        if let Some(c) = &*p.borrow() {
            c.fetch_add(1, Ordering::Relaxed);
        }
    });
}

fn spawn_worker(self_pid: u32, reader: Reader) -> io::Result<Worker> {
    let (jobs, job_rx) = mpsc::channel::<u32>();
    let (done_tx, done) = mpsc::channel();
    let progress = Arc::new(AtomicU64::new(0));
    let mine = progress.clone();
    std::thread::Builder::new().name("proc-read".into()).stack_size(256 * 1024).spawn(move || {
        PROGRESS.with(|p| *p.borrow_mut() = Some(mine));
        for pid in job_rx {
            if done_tx.send(reader(pid, self_pid)).is_err() {
                break; // abandoned: the walk went on without us
            }
        }
    })?;
    Ok(Worker { jobs, done, progress })
}

pub fn walk_with(self_pid: u32, budget: Budget, reader: Reader) -> io::Result<Walk> {
    let mut w = Walk::default();
    // Nearly every process shares its cgroup text with many others: parse
    // each distinct text once.
    let mut cgroup_ids: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut worker: Option<Worker> = None;
    let mut abandoned = 0;
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let now = Instant::now();
        let left =
            budget.until.map_or(budget.per_process, |u| u.saturating_duration_since(now).min(budget.per_process));
        if left.is_zero() {
            w.skipped.push(Skipped { pid, reason: SkipReason::DeadlineReached });
            continue;
        }
        if abandoned >= MAX_ABANDONED {
            w.skipped.push(Skipped { pid, reason: SkipReason::TimedOut });
            continue;
        }
        if worker.is_none() {
            worker = spawn_worker(self_pid, reader).ok();
        }
        let one = match &worker {
            // No thread to spare: read here, unbounded, rather than not at all.
            None => reader(pid, self_pid),
            Some(wk) => match wait_for(wk, pid, left, budget) {
                Ok(one) => one,
                Err(why) => {
                    abandoned += 1;
                    worker = None;
                    w.skipped.push(Skipped { pid, reason: why });
                    continue;
                }
            },
        };
        w.skipped.extend(one.skipped);
        w.denied_fds += one.denied_fds;
        match one.result {
            Ok(Some(mut p)) => {
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
                w.processes.push(p)
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
    Ok(w)
}

/// Sends `pid` to the worker and waits while it makes progress, at most
/// `left` without any and never past `budget.until`. Err: why it gave no
/// answer (it hangs, or panicked on this process); the worker is abandoned.
fn wait_for(wk: &Worker, pid: u32, left: Duration, budget: Budget) -> Result<One, SkipReason> {
    wk.jobs.send(pid).map_err(|_| SkipReason::Unreadable)?;
    let mut wait = left;
    let mut seen = wk.progress.load(Ordering::Relaxed);
    loop {
        match wk.done.recv_timeout(wait) {
            Ok(one) => return Ok(one),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(SkipReason::Unreadable),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = wk.progress.load(Ordering::Relaxed);
                let until_left = budget.until.map(|u| u.saturating_duration_since(Instant::now()));
                if now == seen || until_left.is_some_and(|l| l.is_zero()) {
                    return Err(SkipReason::TimedOut);
                }
                seen = now;
                wait = until_left.map_or(budget.per_process, |l| l.min(budget.per_process));
            }
        }
    }
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

fn read_process(
    pid: u32,
    self_pid: u32,
    buf: &mut Vec<u8>,
    w: &mut Walk,
    cgroup: &mut Option<Vec<u8>>,
) -> io::Result<Option<Process>> {
    read_capped(&format!("/proc/{pid}/stat"), buf, SMALL_CAP)?;
    let Some(st) = parse::stat::parse(buf) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed stat"));
    };
    let uid = fs::metadata(format!("/proc/{pid}")).map(|m| m.uid())?;
    let mut p = Process {
        pid,
        ppid: st.ppid,
        pgid: st.pgrp,
        sid: st.session,
        uid,
        comm: st.comm,
        state: st.state,
        start_ticks: st.starttime,
        ..Default::default()
    };
    if st.flags & PF_KTHREAD != 0 {
        // Kernel threads own no fds, sockets or signal masks worth reading.
        return Ok(Some(p));
    }
    if read_capped(&format!("/proc/{pid}/cmdline"), buf, CMDLINE_CAP).is_ok() {
        let text: Vec<u8> = buf.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
        p.cmdline = String::from_utf8_lossy(parse::trim(&text)).into_owned();
    }
    if read_capped(&format!("/proc/{pid}/limits"), buf, SMALL_CAP).is_ok() {
        if let Some((soft, hard)) = parse::limits::parse_nofile(buf) {
            p.nofile_soft = soft;
            p.nofile_hard = hard;
        }
        p.nproc_soft = parse::limits::parse_nproc(buf).and_then(|(soft, _)| soft);
    }
    // One small read; the cgroup's own files are read once per cgroup
    // after the walk (crate::cgroups), never per process.
    if read_small(&format!("/proc/{pid}/cgroup"), buf, SMALL_CAP).is_ok() && !buf.is_empty() {
        *cgroup = Some(buf.clone());
    }
    if let Ok(link) = fs::read_link(format!("/proc/{pid}/ns/net")) {
        p.netns = parse::sysctl::ns_inode(link.as_os_str().as_encoded_bytes()).unwrap_or(0);
    }
    let mut fds_denied = None;
    if let Err(e) = read_fds(pid, &mut p) {
        match reason(&e) {
            None if st.state == 'Z' => {}
            None => return Ok(None), // exited mid-walk
            Some(r) => fds_denied = Some(r),
        }
    }
    if let Some(r) = fds_denied {
        if pid != self_pid {
            w.denied_fds += 1;
            w.skipped.push(Skipped { pid, reason: SkipReason::Fds(Box::new(r)) });
        }
    }
    read_threads(pid, buf, &mut p);
    if looks_stopped_or_frozen(&p) {
        p.frozen = frozen_cgroup(pid, cgroup.as_deref(), buf);
    }
    Ok(Some(p))
}

/// A thread that is stopped (T, t), in uninterruptible sleep (D: how a
/// cgroup v1 freezer shows its tasks on 6.x) or parked in the signal path
/// (a cgroup v2 freeze traps tasks in get_signal). Only these processes
/// pay for reading their freezer cgroup.
fn looks_stopped_or_frozen(p: &Process) -> bool {
    p.threads.iter().any(|t| {
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
    let root = if fs::metadata("/sys/fs/cgroup/cgroup.controllers").is_ok() {
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

fn read_fds(pid: u32, p: &mut Process) -> io::Result<()> {
    let dir = format!("/proc/{pid}/fd");
    let mut path = String::with_capacity(dir.len() + 12);
    for entry in fs::read_dir(&dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(fd) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        p.fd_count += 1;
        tick();
        path.clear();
        path.push_str(&dir);
        path.push('/');
        path.push_str(name.to_str().unwrap_or_default());
        // readlink never follows the target, so a dead NFS mount cannot hang it.
        let Ok(target) = fs::read_link(&path) else { continue };
        match parse::fd::classify(target.as_os_str().as_encoded_bytes()) {
            Target::Socket(inode) => p.sockets.push(SocketFd { fd, inode }),
            Target::Anon(kind) => {
                // Which signals a signalfd reads tells a deliberate SIGTERM block from a hang.
                let sigmask = (kind == b"[signalfd]")
                    .then(|| fs::read(format!("/proc/{pid}/fdinfo/{fd}")).ok())
                    .flatten()
                    .and_then(|b| parse::fdinfo::signalfd_mask(&b));
                p.anon_fds.push(AnonFd { fd, kind: String::from_utf8_lossy(kind).into_owned(), sigmask })
            }
            Target::Pipe(inode) => {
                // The link's own mode is the open mode (r-x read end, -wx
                // write end): which end a blocked writer's reader holds.
                let writes = fs::symlink_metadata(&path).ok().map(|m| m.mode() & 0o200 != 0);
                p.pipes.push(PipeFd { fd, inode, writes })
            }
            Target::Other => {}
        }
    }
    p.sockets.sort_by_key(|s| s.fd);
    p.pipes.sort_by_key(|s| s.fd);
    p.anon_fds.sort_by_key(|a| a.fd);
    Ok(())
}

fn read_threads(pid: u32, buf: &mut Vec<u8>, p: &mut Process) {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else { return };
    for entry in dir {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let base = format!("/proc/{pid}/task/{tid}");
        if read_capped(&format!("{base}/stat"), buf, SMALL_CAP).is_err() {
            continue; // the thread exited
        }
        let Some(st) = parse::stat::parse(buf) else { continue };
        let mut t =
            Thread { tid, comm: st.comm, state: st.state, utime: st.utime, stime: st.stime, ..Default::default() };
        if read_capped(&format!("{base}/status"), buf, SMALL_CAP).is_ok() {
            let st = parse::status::parse(buf);
            t.signals = st.signals;
            t.ctxt_switches = st.ctxt_switches;
            if tid == pid {
                p.tracer_pid = st.tracer_pid;
            }
        }
        if read_capped(&format!("{base}/wchan"), buf, SMALL_CAP).is_ok() {
            let w = parse::trim(buf);
            if !w.is_empty() && w != b"0" {
                t.wchan = Some(String::from_utf8_lossy(w).into_owned());
            }
        }
        if read_capped(&format!("{base}/syscall"), buf, SMALL_CAP).is_ok() {
            let s = parse::trim(buf);
            if !s.is_empty() {
                t.syscall = Some(String::from_utf8_lossy(s).into_owned());
            }
        }
        if matches!(t.state, 'S' | 'D') {
            // Only sleeping threads: a running thread's stack and args change under us.
            if read_capped(&format!("{base}/stack"), buf, STACK_CAP).is_ok() {
                t.stack = Some(parse::stack::parse(buf));
            }
            if let Some(call) = t.syscall.as_deref().and_then(SyscallLine::parse) {
                t.fd_args = fd_args(pid, &call);
            }
        }
        p.threads.push(t);
        tick();
    }
    p.threads.sort_by_key(|t| t.tid);
}

/// The /proc/PID/fd targets of the first three syscall arguments that are
/// open fds (where fds sit in read, recvfrom, accept, epoll_wait, sendfile,
/// splice). Which argument really is an fd is the detector's call.
fn fd_args(pid: u32, call: &SyscallLine) -> Vec<FdTarget> {
    let mut out: Vec<FdTarget> = Vec::new();
    for &a in &call.args[..3] {
        if a >= MAX_FD_ARG || out.iter().any(|t| t.fd as u64 == a) {
            continue;
        }
        if let Ok(link) = fs::read_link(format!("/proc/{pid}/fd/{a}")) {
            out.push(FdTarget { fd: a as u32, target: link.to_string_lossy().into_owned() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands in for a process whose /proc reads hang in the kernel (D state,
    /// a dead FUSE mount): this test process itself never answers.
    fn hangs_on_self(pid: u32, self_pid: u32) -> One {
        if pid == std::process::id() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        read_one(pid, self_pid)
    }

    #[test]
    fn a_hung_process_is_skipped_and_the_walk_goes_on() {
        let started = Instant::now();
        let budget = Budget { per_process: Duration::from_millis(200), until: None };
        let w = walk_with(0, budget, hangs_on_self).unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "walk took {:?}", started.elapsed());
        let me = std::process::id();
        assert!(w.skipped.iter().any(|s| s.pid == me && s.reason == SkipReason::TimedOut), "{:?}", w.skipped);
        assert!(!w.processes.iter().any(|p| p.pid == me));
        // Processes after the hung one were still read (pid 1 always exists).
        assert!(w.processes.iter().any(|p| p.pid == 1), "pid 1 missing");
    }

    #[test]
    fn past_the_deadline_nothing_more_is_read() {
        let budget = Budget { per_process: Duration::from_secs(1), until: Some(Instant::now()) };
        let w = walk_with(0, budget, read_one).unwrap();
        assert!(w.processes.is_empty());
        assert!(w.skipped.iter().all(|s| s.reason == SkipReason::DeadlineReached) && !w.skipped.is_empty());
    }
}
