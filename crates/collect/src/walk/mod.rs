//! The /proc walk, in two passes over a small pool of worker threads. A
//! process that exits mid-walk is left out; one we may not read, or whose
//! reads hang, is listed in `skipped` with why (`CollectError`), with
//! whatever could be read kept.
//!
//! Pass one (`pass_brief.rs`) reads for every process what the process tree
//! and the per-process findings need: stat, status (the signal masks), the
//! owner, every fd (`fds.rs`), RLIMIT_NOFILE and the network namespace; for a
//! multi-threaded process, each thread's status. Pass two (`pass_full.rs`)
//! reads the rest — cmdline, and per thread stat, status, wchan, syscall,
//! kernel stack and the fds among its syscall arguments — only for the
//! processes the caller names: those a finding can be about (`lib.rs`
//! decides), or all of them with [`Detail::Full`]. On a host full of idle
//! daemons that is most of the cost of a scan saved: a kernel stack or a
//! cmdline costs more to read than a socket fd.
//!
//! Every file is opened relative to an open /proc/PID directory (`read.rs`),
//! so the kernel resolves one path component per call instead of four, and
//! a pid reused mid-read fails rather than reading another process.
//!
//! Both passes run on `pool.rs`: workers take jobs from a shared counter and
//! keep their results, and the calling thread is the watchdog
//! (`watchdog.rs`) that gives up on a process whose reads hang in the kernel.

pub mod cache;
mod fds;
mod frozen;
mod pass_brief;
mod pass_full;
mod pool;
pub(crate) mod read;
mod watchdog;

pub use cache::{CacheStats, ProcCache, ReadInfo};
pub use pass_brief::{read_brief, read_job, walk_brief, walk_cached, walk_pids, walk_with, Job, One, Reader};
pub use pass_full::{add_detail, add_detail_cached, add_detail_with, read_full, DetailReader, Full};
pub use pool::Progress;
pub(crate) use read::{read_capped, SMALL_CAP};

use std::time::{Duration, Instant};
use unwedge_model::{CgroupSet, Process, Skipped};

/// How long one /proc read of a process may take before the process is
/// given up on. It bounds time without progress, not the whole process:
/// a process with a million fds takes seconds and is still read. A healthy
/// read takes microseconds; one whose mmap lock is held by a thread stuck
/// in a hung FUSE or NFS mount blocks a cmdline read forever.
pub const PROCESS_BUDGET: Duration = Duration::from_secs(1);

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
    /// How each process was read (for pass two and the cache).
    pub info: std::collections::HashMap<u32, ReadInfo>,
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
    /// Keep command lines verbatim (`--no-redact`); by default what looks
    /// like a credential in them is redacted as they are read
    /// (`unwedge_model::redact`).
    pub keep_secrets: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { per_process: PROCESS_BUDGET, until: None, detail: Detail::Needed, keep_secrets: false }
    }
}

/// Both passes, every process in full where it may matter by its own state
/// (the socket-based choice is the caller's, who has the sockets).
pub fn walk(self_pid: u32) -> Result<Walk, crate::CollectError> {
    let budget = Budget::default();
    let mut w = walk_brief(self_pid, budget)?;
    let pids = w.want_detail.clone();
    add_detail(&mut w, &pids, budget)?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{self, fd::Target};

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
        // CPU facts: the process's ticks in brief, each thread's schedstat in full.
        assert!(p.cpu_ticks_total.is_some());
        if std::path::Path::new("/proc/self/schedstat").exists() {
            assert!(p.threads.iter().all(|t| t.schedstat.is_some()), "{:?}", p.threads);
        }
    }
}
