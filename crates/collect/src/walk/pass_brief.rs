//! Pass one, over every process in /proc: what the process tree and the
//! per-process findings need — stat (its CPU ticks), status (the signal
//! masks, the CPUs it may use), the owner,
//! every fd ([`super::fds`]), RLIMIT_NOFILE and NPROC, the network namespace
//! and the cgroup text; for a multi-threaded process, each thread's status.
//! It also says which processes' own state makes them worth pass two.

use super::cache::{all_asleep, fd_part, reuse_fds, Cached, ProcCache, ReadInfo, RunMark};
use super::fds::read_fds;
use super::pool::{run_pool, workers, Progress, ReadFn};
use super::read::{failed, list_ids, open_dir, open_id, read_at, task_ids, with_bufs, Bufs, SMALL_CAP};
use super::{Budget, Walk};
use crate::parse::{self, stat::PF_KTHREAD};
use crate::CollectError;
use rustix::fd::OwnedFd;
use rustix::fs as rfs;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
// Whether a process must be read in full: its signal state or a thread's sleep can make a finding.
use unwedge_model::own_state_may_matter as may_matter;
use unwedge_model::{CgroupSet, Process, SkipReason, Skipped, Thread};

/// What reading one process in brief gave: the process, or why not, and its skips.
pub struct One {
    pub result: Result<Process, CollectError>,
    pub skipped: Vec<Skipped>,
    pub denied_fds: usize,
    /// Its own state says a finding may concern it: read it in full.
    pub wants_detail: bool,
    /// The text of /proc/PID/cgroup (parsed once per distinct text by the walk).
    pub cgroup: Option<Vec<u8>>,
    /// How it was read (its run mark, whether its fds came from the cache).
    pub info: ReadInfo,
}

/// One process to read in pass one, with what the cache holds of it.
pub struct Job {
    pub pid: u32,
    pub cached: Option<Arc<Cached>>,
    /// Read it whole even if the cache could answer (the periodic fresh read).
    pub fresh: bool,
}

impl Job {
    pub fn new(pid: u32) -> Job {
        Job { pid, cached: None, fresh: false }
    }
}

/// Reads one process in brief (the real reader; tests pass one that hangs).
pub type Reader = fn(&OwnedFd, &Job, u32, &Progress) -> One;

/// Reads one process in brief, without a cache.
pub fn read_brief(proc: &OwnedFd, pid: u32, self_pid: u32, progress: &Progress) -> One {
    read_job(proc, &Job::new(pid), self_pid, progress)
}

/// Reads one process in brief, its fds from `job.cached` when it did not run since.
pub fn read_job(proc: &OwnedFd, job: &Job, self_pid: u32, progress: &Progress) -> One {
    with_bufs(|b| {
        let mut one = One {
            result: Err(CollectError::vanished("/proc/PID")),
            skipped: Vec::new(),
            denied_fds: 0,
            wants_detail: false,
            cgroup: None,
            info: ReadInfo::default(),
        };
        one.result = brief(proc, job, self_pid, progress, b, &mut one);
        one
    })
}

fn brief(
    proc: &OwnedFd,
    job: &Job,
    self_pid: u32,
    prog: &Progress,
    b: &mut Bufs,
    one: &mut One,
) -> Result<Process, CollectError> {
    let pid = job.pid;
    let dir = open_id(proc, pid, &mut b.path).map_err(failed("/proc/PID"))?;
    read_at(&dir, c"stat", &mut b.file, SMALL_CAP).map_err(failed("/proc/PID/stat"))?;
    let st = parse::stat::parse(&b.file).ok_or(CollectError::Malformed { what: "/proc/PID/stat" })?;
    let mut p = Process {
        pid,
        ppid: st.ppid,
        pgid: st.pgrp,
        sid: st.session,
        comm: st.comm.clone(),
        state: st.state,
        start_ticks: st.starttime,
        // Every process's, kernel threads' too: which took the CPUs.
        cpu_ticks_total: st.utime.checked_add(st.stime),
        ..Default::default()
    };
    if st.flags & PF_KTHREAD != 0 {
        // Kernel threads own no fds, sockets or signal masks worth reading.
        p.uid = rfs::fstat(&dir).map_err(|e| CollectError::io("/proc/PID", e.into()))?.st_uid;
        return Ok(p);
    }
    p.brief = true;
    let status = read_at(&dir, c"status", &mut b.file, SMALL_CAP).map(|()| parse::status::parse(&b.file)).ok();
    // Kept as read; the walk drops it where it names every CPU online.
    p.cpus_allowed = status.as_ref().and_then(|_| parse::status::cpus_allowed_list(&b.file)).map(String::from);
    p.tracer_pid = status.as_ref().and_then(|s| s.tracer_pid);
    read_limits(&dir, &mut p, b);
    // One read; the cgroup's own files are read once per cgroup after the
    // walk (crate::cgroups), never per process.
    if read_at(&dir, c"cgroup", &mut b.file, SMALL_CAP).is_ok() && !b.file.is_empty() {
        one.cgroup = Some(b.file.clone());
    }
    if st.num_threads <= 1 {
        // The process's own status is its one thread's (a Vec of exactly
        // one: pushed, it would hold room for four on 2,000 idle processes).
        p.threads = vec![Thread {
            tid: pid,
            comm: st.comm.clone(),
            // As of the status read, beside its switch count: the mark's time.
            state: status.as_ref().and_then(|s| s.state).unwrap_or(st.state),
            utime: st.utime,
            stime: st.stime,
            ctxt_switches: status.as_ref().and_then(|s| s.ctxt_switches),
            signals: status.as_ref().and_then(|s| s.signals),
            ..Default::default()
        }];
    } else {
        brief_threads(&dir, &mut p, b, prog);
    }
    // The mark is read before the fds: whatever the process does after it
    // moves the mark by the next read.
    one.info.mark = RunMark::of(st.utime + st.stime, &p.threads);
    one.info.quiet = all_asleep(&p.threads);
    one.info.fd_dir_size = rfs::statat(&dir, c"fd", rfs::AtFlags::empty()).ok().map(|s| s.st_size.max(0) as u64);
    let cached = job.cached.as_ref().filter(|c| c.start_ticks == p.start_ticks);
    let unchanged = cached.filter(|c| {
        one.info.quiet && one.info.mark.as_ref() == Some(&c.mark) && one.info.fd_dir_size == Some(c.fd_dir_size)
    });
    one.info.cached = unchanged.cloned();
    match unchanged {
        Some(c) if !job.fresh => {
            reuse_fds(&mut p, &c.fds);
            one.info.reused = true;
            one.info.fds_ok = true;
        }
        _ => {
            read_own(&dir, &mut p, &st, self_pid, b, prog, one)?;
            if let Some(c) = unchanged {
                // A fresh read the cache would have answered: did it hold the truth?
                one.info.drift = Some(fd_part(&p) != c.fds);
            }
        }
    }
    one.wants_detail = p.state != 'Z' && may_matter(&p.threads);
    Ok(p)
}

/// What only the process itself changes: its owner, network namespace and fds.
fn read_own(
    dir: &OwnedFd,
    p: &mut Process,
    st: &parse::stat::Stat,
    self_pid: u32,
    b: &mut Bufs,
    prog: &Progress,
    one: &mut One,
) -> Result<(), CollectError> {
    p.uid = rfs::fstat(dir).map_err(|e| CollectError::io("/proc/PID", e.into()))?.st_uid;
    if let Ok(n) = rfs::readlinkat_raw(dir, c"ns/net", &mut b.link[..]) {
        p.netns = parse::sysctl::ns_inode(&b.link[..n]).unwrap_or(0);
    }
    match read_fds(dir, one.info.fd_dir_size, p, b, prog) {
        Ok(()) => one.info.fds_ok = true,
        Err(e) => match e.skip_reason() {
            None if st.state == 'Z' => {}
            None => return Err(e), // exited mid-walk
            Some(_) if p.pid == self_pid => {}
            Some(r) => {
                one.denied_fds += 1;
                one.skipped.push(Skipped { pid: p.pid, reason: SkipReason::Fds(Box::new(r)) });
            }
        },
    }
    Ok(())
}

/// RLIMIT_NOFILE and NPROC: two syscalls where we may, else the
/// world-readable /proc/PID/limits.
fn read_limits(dir: &OwnedFd, p: &mut Process, b: &mut Bufs) {
    match crate::sys::limits(p.pid) {
        Ok(l) => {
            (p.nofile_soft, p.nofile_hard) = l.nofile;
            p.nproc_soft = l.nproc_soft;
        }
        // Not ours to ask the kernel about: the file is world-readable.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
            if read_at(dir, c"limits", &mut b.file, SMALL_CAP).is_ok() {
                if let Some(l) = parse::limits::parse_nofile(&b.file) {
                    (p.nofile_soft, p.nofile_hard) = l;
                }
                p.nproc_soft = parse::limits::parse_nproc(&b.file).and_then(|(soft, _)| soft);
            }
        }
        Err(_) => {}
    }
}

/// Each thread's status: comm, state and signal masks (no CPU times).
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

/// Pass one over every process in /proc.
pub fn walk_brief(self_pid: u32, budget: Budget) -> Result<Walk, CollectError> {
    walk_with(self_pid, budget, read_job)
}

pub fn walk_with(self_pid: u32, budget: Budget, reader: Reader) -> Result<Walk, CollectError> {
    walk_cached(self_pid, budget, reader, None)
}

/// Pass one, each process's fds taken from `cache` when it did not run since.
pub fn walk_cached(
    self_pid: u32,
    budget: Budget,
    reader: Reader,
    cache: Option<&mut ProcCache>,
) -> Result<Walk, CollectError> {
    let cannot = failed("cannot read /proc");
    let proc = Arc::new(open_dir(rfs::CWD, c"/proc").map_err(&cannot)?);
    let (pids, err) = with_bufs(|b| list_ids(&proc, &mut b.dents));
    if let Some(e) = err {
        return Err(cannot(e));
    }
    walk_jobs(proc, pids, self_pid, budget, reader, cache, true)
}

/// Pass one over `pids` only (a second look), with the cache.
pub fn walk_pids(
    pids: Vec<u32>,
    self_pid: u32,
    budget: Budget,
    cache: Option<&mut ProcCache>,
) -> Result<Walk, CollectError> {
    let proc = Arc::new(open_dir(rfs::CWD, c"/proc").map_err(failed("cannot read /proc"))?);
    walk_jobs(proc, pids, self_pid, budget, read_job, cache, false)
}

fn walk_jobs(
    proc: Arc<OwnedFd>,
    pids: Vec<u32>,
    self_pid: u32,
    budget: Budget,
    reader: Reader,
    cache: Option<&mut ProcCache>,
    periodic_fresh: bool,
) -> Result<Walk, CollectError> {
    let jobs: Vec<Job> = pids
        .iter()
        .map(|&pid| match cache.as_deref() {
            Some(c) => {
                let (cached, fresh) = c.job(pid);
                Job { pid, cached, fresh: fresh && periodic_fresh }
            }
            None => Job::new(pid),
        })
        .collect();
    let p2 = proc.clone();
    let read: Box<ReadFn<Job, One>> = Box::new(move |job, prog| reader(&p2, job, self_pid, prog));
    let results = run_pool(jobs, workers(), budget, read);
    let mut w = Walk { processes: Vec::with_capacity(pids.len()), ..Default::default() };
    let mut cache_stats = cache.map(|c| &mut c.stats);
    // Nearly every process shares its cgroup text with many others: parse
    // each distinct text once.
    let mut cgroup_ids: HashMap<Vec<u8>, u32> = HashMap::new();
    for (i, r) in results {
        let pid = pids[i];
        let one = match r {
            Ok(one) => one,
            Err(why) => {
                w.skipped.push(Skipped { pid, reason: why.skip_reason() });
                continue;
            }
        };
        w.skipped.extend(one.skipped);
        w.denied_fds += one.denied_fds;
        if let Some(c) = cache_stats.as_deref_mut() {
            c.reads += 1;
            c.fds_reused += u64::from(one.info.reused);
            if let Some(d) = one.info.drift {
                c.drift_checks += 1;
                c.drift += u64::from(d);
            }
        }
        match one.result {
            Ok(mut p) => {
                w.info.insert(p.pid, one.info);
                if one.wants_detail {
                    w.want_detail.push(p.pid);
                }
                if let Some(text) = one.cgroup {
                    p.cgroup = Some(*cgroup_ids.entry(text).or_insert_with_key(|text| {
                        let id = w.cgroup_sets.len() as u32;
                        w.cgroup_sets.push(CgroupSet { id, entries: kept_entries(text) });
                        id
                    }));
                }
                w.processes.push(p);
            }
            Err(e) => w.skipped.extend(e.skip_reason().map(|reason| Skipped { pid, reason })),
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

#[cfg(test)]
mod tests {
    use super::*;
    const SIGTERM_BIT: u64 = unwedge_model::SignalMasks::SIGTERM;
    use std::time::{Duration, Instant};
    use unwedge_model::SignalMasks;

    fn masks(blocked: u64, pending: u64, ignored: u64) -> Option<SignalMasks> {
        Some(SignalMasks { blocked, pending, ignored, ..Default::default() })
    }

    /// Stands in for a process whose /proc reads hang in the kernel (D state,
    /// a dead FUSE mount): this test process itself never answers.
    fn hangs_on_self(proc: &OwnedFd, job: &Job, self_pid: u32, prog: &Progress) -> One {
        if job.pid == std::process::id() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        read_job(proc, job, self_pid, prog)
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
    fn past_the_deadline_nothing_more_is_read() {
        let budget = Budget { until: Some(Instant::now()), ..Default::default() };
        let w = walk_with(0, budget, read_job).unwrap();
        assert!(w.processes.is_empty());
        assert!(w.skipped.iter().all(|s| s.reason == SkipReason::DeadlineReached) && !w.skipped.is_empty());
    }

    #[test]
    fn a_process_that_is_gone_is_vanished_not_skipped() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let proc = open_dir(rfs::CWD, c"/proc").unwrap();
        let one = read_brief(&proc, pid, 0, &Progress::default());
        let e = one.result.unwrap_err();
        assert!(matches!(e, CollectError::Vanished { .. }), "{e:?}");
        assert_eq!(e.skip_reason(), None);
    }

    /// A directory laid out as /proc/PID with a stat the kernel never
    /// writes: the read succeeds, the parse does not.
    #[test]
    fn a_stat_that_does_not_parse_is_malformed() {
        let root = std::env::temp_dir().join(format!("unwedge-malformed-{}", std::process::id()));
        std::fs::create_dir_all(root.join("4242")).unwrap();
        std::fs::write(root.join("4242/stat"), "4242 no parenthesised comm here\n").unwrap();
        let fake = open_dir(rfs::CWD, &root).unwrap();
        let brief = read_brief(&fake, 4242, 0, &Progress::default()).result.unwrap_err();
        let full = super::super::read_full(&fake, 4242, 0, &Progress::default()).err().unwrap();
        let _ = std::fs::remove_dir_all(&root);
        for e in [brief, full] {
            assert!(matches!(e, CollectError::Malformed { what: "/proc/PID/stat" }), "{e:?}");
            assert_eq!(e.skip_reason(), Some(SkipReason::Unreadable));
        }
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
