//! Pass two, only over the processes the caller names: the rest of each —
//! its cmdline, and per thread stat, status, schedstat, wchan, syscall, kernel stack
//! and the fds among its syscall arguments, and for a stopped-looking one
//! its frozen cgroup. A process that hangs now, or is gone since pass one,
//! keeps its brief record.

use super::cache::{refresh_thread, CacheStats, FullPart};
use super::frozen::{frozen_cgroup, looks_stopped_or_frozen};
use super::pool::{run_pool, workers, Progress, ReadFn};
use super::read::{failed, open_dir, open_id, read_at, task_ids, trimmed, with_bufs, Bufs, SMALL_CAP};
use super::{Budget, Walk};
use crate::parse;
use crate::CollectError;
use rustix::fd::OwnedFd;
use rustix::fs as rfs;
use std::fmt::Write as _;
use unwedge_model::{FdTarget, Frozen, Skipped, SyscallLine, Thread};

/// Longest cmdline kept; a hostile process can have megabytes of arguments.
const CMDLINE_CAP: usize = 4096;
/// A kernel stack is a few hundred bytes; cap it well above that.
const STACK_CAP: usize = 8 * 1024;
/// Syscall arguments above this are pointers or flags, not fds worth a readlink.
const MAX_FD_ARG: u64 = 1 << 20;

/// The rest of one process: its cmdline and every thread in full.
pub struct Full {
    /// Its arguments, each ended by a NUL as /proc/PID/cmdline gives them
    /// (joined, and redacted unless `Budget::keep_secrets`, by `add_detail`).
    pub cmdline: String,
    pub threads: Vec<Thread>,
    pub frozen: Option<Frozen>,
}

/// Reads the rest of a process (the real reader; tests pass one that hangs).
pub type DetailReader = fn(&OwnedFd, u32, u64, &Progress) -> Result<Full, CollectError>;

pub fn read_full(proc: &OwnedFd, pid: u32, start_ticks: u64, prog: &Progress) -> Result<Full, CollectError> {
    with_bufs(|b| {
        let dir = open_id(proc, pid, &mut b.path).map_err(failed("/proc/PID"))?;
        read_at(&dir, c"stat", &mut b.file, SMALL_CAP).map_err(failed("/proc/PID/stat"))?;
        let st = parse::stat::parse(&b.file).ok_or(CollectError::Malformed { what: "/proc/PID/stat" })?;
        if st.starttime != start_ticks {
            return Err(CollectError::vanished("/proc/PID")); // the pid was reused since pass one
        }
        let mut full = Full { cmdline: String::new(), threads: Vec::new(), frozen: None };
        if read_at(&dir, c"cmdline", &mut b.file, CMDLINE_CAP).is_ok() {
            full.cmdline = String::from_utf8_lossy(&b.file).into_owned();
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
        let Ok(t) = open_id(&task, tid, &mut b.path) else {
            continue; // the thread exited
        };
        if let Some(th) = full_thread(dir, &t, tid, b) {
            out.push(th);
            prog.tick();
        }
    }
    out.sort_by_key(|t| t.tid);
    out
}

/// One thread of the process at `dir`, from its task directory `t`; `None`
/// when it exited.
fn full_thread(dir: &OwnedFd, t: &OwnedFd, tid: u32, b: &mut Bufs) -> Option<Thread> {
    read_at(t, c"stat", &mut b.file, SMALL_CAP).ok()?;
    let st = parse::stat::parse(&b.file)?;
    let mut th = Thread { tid, comm: st.comm, state: st.state, utime: st.utime, stime: st.stime, ..Default::default() };
    if read_at(t, c"status", &mut b.file, SMALL_CAP).is_ok() {
        let st = parse::status::parse(&b.file);
        th.signals = st.signals;
        th.ctxt_switches = st.ctxt_switches;
    }
    // Time on a CPU and runnable but waiting for one: busy or starved.
    if read_at(t, c"schedstat", &mut b.file, SMALL_CAP).is_ok() {
        th.schedstat = unwedge_model::SchedStat::parse(&b.file);
    }
    if read_at(t, c"wchan", &mut b.file, SMALL_CAP).is_ok() {
        th.wchan = trimmed(&b.file).filter(|w| w != "0");
    }
    if read_at(t, c"syscall", &mut b.file, SMALL_CAP).is_ok() {
        th.syscall = trimmed(&b.file);
    }
    if matches!(th.state, 'S' | 'D') {
        // Only sleeping threads: a running thread's stack and args change under us.
        if read_at(t, c"stack", &mut b.file, STACK_CAP).is_ok() {
            th.stack = Some(parse::stack::parse(&b.file));
        }
        if let Some(call) = th.syscall.as_deref().and_then(SyscallLine::parse) {
            th.fd_args = fd_args(dir, &call, &mut b.path);
        }
    }
    Some(th)
}

/// Fills a process read in brief with the detail the cache holds of it
/// (it did not run since), each thread brought up to date.
fn reuse_full(p: &mut unwedge_model::Process, full: &FullPart) {
    p.cmdline.clone_from(&full.cmdline);
    p.frozen.clone_from(&full.frozen);
    p.threads = full
        .threads
        .iter()
        .map(|d| match p.threads.iter().find(|t| t.tid == d.tid) {
            Some(now) => refresh_thread(d, now),
            None => d.clone(),
        })
        .collect();
    p.brief = false;
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
            let target = link.to_string_lossy().into_owned();
            // A file's mount names what a read or write on it waits for (a
            // FUSE daemon, an NFS server); fdinfo never touches the file.
            let mnt_id = if target.starts_with('/') {
                path.clear();
                let _ = write!(path, "fdinfo/{a}");
                let mut buf = Vec::new();
                read_at(dir, path.as_str(), &mut buf, SMALL_CAP).ok().and_then(|_| parse::fdinfo::mnt_id(&buf))
            } else {
                None
            };
            out.push(FdTarget { fd: a as u32, target, mnt_id });
        }
    }
    out
}

/// Pass two: reads `pids` (of `w.processes`) in full, within `budget`. A
/// process that hangs now keeps its brief record and is listed in
/// `skipped`; one gone since pass one keeps its brief record too.
pub fn add_detail(w: &mut Walk, pids: &[u32], budget: Budget) -> Result<(), CollectError> {
    add_detail_with(w, pids, budget, read_full)
}

pub fn add_detail_with(w: &mut Walk, pids: &[u32], budget: Budget, reader: DetailReader) -> Result<(), CollectError> {
    add_detail_cached(w, pids, budget, reader, None)
}

/// [`add_detail_with`], taking a process's detail from the cache when pass
/// one found it did not run since it was read in full.
pub fn add_detail_cached(
    w: &mut Walk,
    pids: &[u32],
    budget: Budget,
    reader: DetailReader,
    mut stats: Option<&mut CacheStats>,
) -> Result<(), CollectError> {
    let mut jobs: Vec<(u32, u64)> = Vec::new();
    for &pid in pids {
        let Ok(i) = w.processes.binary_search_by_key(&pid, |p| p.pid) else { continue };
        let p = &mut w.processes[i];
        if !p.brief {
            continue;
        }
        let info = w.info.get(&pid);
        let cached = info.filter(|i| i.reused).and_then(|i| i.cached.as_ref()).and_then(|c| c.full.as_ref());
        if let Some(s) = stats.as_deref_mut() {
            s.full_reads += 1;
            s.full_reused += u64::from(cached.is_some());
        }
        match cached {
            Some(full) => reuse_full(p, full),
            None => jobs.push((p.pid, p.start_ticks)),
        }
    }
    if jobs.is_empty() {
        return Ok(());
    }
    let proc = open_dir(rfs::CWD, c"/proc").map_err(failed("cannot read /proc"))?;
    let read: Box<ReadFn<(u32, u64), Result<Full, CollectError>>> =
        Box::new(move |&(pid, start), prog| reader(&proc, pid, start, prog));
    for (i, r) in run_pool(jobs.clone(), workers(), budget, read) {
        let pid = jobs[i].0;
        match r {
            Ok(Ok(full)) => {
                if let Ok(at) = w.processes.binary_search_by_key(&pid, |p| p.pid) {
                    let p = &mut w.processes[at];
                    p.cmdline = cmdline(&full.cmdline, budget.keep_secrets);
                    p.threads = full.threads;
                    p.frozen = full.frozen;
                    p.brief = false;
                }
            }
            Ok(Err(e)) => w.skipped.extend(e.skip_reason().map(|reason| Skipped { pid, reason })),
            Err(why) => w.skipped.push(Skipped { pid, reason: why.skip_reason() }),
        }
    }
    w.skipped.sort_by_key(|s| s.pid);
    Ok(())
}

/// The arguments of /proc/PID/cmdline joined by spaces, credentials
/// redacted unless `keep_secrets`. A process that rewrote its title
/// (setproctitle) may have spaces, or no NUL at all, in it: the title is
/// redacted word by word.
fn cmdline(raw: &str, keep_secrets: bool) -> String {
    let args = raw.trim_end_matches(['\0', ' ', '\n', '\t']).split('\0');
    if keep_secrets {
        let joined: Vec<&str> = args.collect();
        return joined.join(" ").trim().to_string();
    }
    unwedge_model::redact::args(args).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::super::walk_brief;
    use super::*;
    use std::time::{Duration, Instant};
    use unwedge_model::SkipReason;

    fn full_hangs_on_self(proc: &OwnedFd, pid: u32, start: u64, prog: &Progress) -> Result<Full, CollectError> {
        if pid == std::process::id() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        read_full(proc, pid, start, prog)
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
    fn command_lines_are_redacted_unless_kept() {
        let raw = "mysql\0-uapp\0-phunter2\0--init-command=SET a=1\0shop\0";
        assert_eq!(cmdline(raw, false), "mysql -uapp -p‹redacted› --init-command=SET a=1 shop");
        assert_eq!(cmdline(raw, true), "mysql -uapp -phunter2 --init-command=SET a=1 shop");
        assert_eq!(
            cmdline("postgres: app shop --password=x idle", false),
            "postgres: app shop --password=‹redacted› idle"
        );
    }

    #[test]
    fn a_reused_pid_is_vanished() {
        let proc = open_dir(rfs::CWD, c"/proc").unwrap();
        let e = read_full(&proc, std::process::id(), u64::MAX, &Progress::default()).err().unwrap();
        assert!(matches!(e, CollectError::Vanished { .. }), "{e:?}");
    }
}
