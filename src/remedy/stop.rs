//! `unwedge stop`: SIGTERM, a bounded grace period, SIGKILL, and proof that
//! the port is free again.
//!
//! Story 1 of the field notes: a forking proxy was restarted, but its
//! orphaned children (re-parented to init) still held the listening port and
//! ignored SIGTERM; they had to be found and `kill -9`ed by hand. Here the
//! targets come from the same collector and process-tree logic as the
//! `orphan_port_holder` finding, every wait is bounded by a deadline, and
//! every signal goes through a pidfd (or a start-time re-check) so a pid the
//! kernel reused for another process is never hit.
//!
//! This file holds the types and the edge that reads the OS (who runs
//! unwedge, the snapshot); the parts live beside it:
//! - `select`: which processes, and why (pure, fixture-tested);
//! - `pidfd`: one pinned process (pidfd_open, start-time re-check, signal, poll);
//! - `sequence`: SIGTERM, grace, SIGKILL, wait, port re-check;
//! - `error`: why a stop did not start, classified.

pub mod error;
mod pidfd;
pub mod select;
mod sequence;

pub use error::StopError;
use serde::Serialize;
use std::time::Duration;
use unwedge_collect::proc_one;

#[derive(Debug, Clone, Copy)]
pub enum Target {
    Pid(u32),
    Port(u16),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    pub grace: Duration,
    pub dry_run: bool,
    /// `--no-redact`: the targets' command lines verbatim.
    pub keep_secrets: bool,
}

/// The whole run, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub unwedge_version: String,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub grace_ms: u64,
    pub dry_run: bool,
    pub targets: Vec<TargetReport>,
    pub steps: Vec<Step>,
    /// Ports checked afterwards: the one given, or those the pid listened on.
    pub ports: Vec<u16>,
    /// `null` when nothing was checked (dry run, or a pid that held no listener).
    pub port_free: Option<bool>,
    /// LISTEN sockets still on `ports` after the stop, and who holds them.
    pub listeners_left: Vec<Listener>,
    /// Every target is gone and every port checked is free (a dry run: the plan is feasible).
    pub success: bool,
    /// `--capture`: the page (with the snapshots) written before the first signal.
    pub capture: Option<std::path::PathBuf>,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub uid: u32,
    pub comm: String,
    pub cmdline: String,
    /// The one-letter state when found (R, S, D, T, Z, …).
    pub state: String,
    /// Why it is a target.
    pub reason: String,
    /// The parent, as "comm (pid N)", when known.
    pub parent: Option<String>,
    /// What the operator should know: zombie, D state, SIGTERM ignored, …
    pub notes: Vec<String>,
    pub outcome: Outcome,
    /// Milliseconds after the start at which it was seen gone.
    pub gone_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Dry run: it would be signalled.
    WouldStop,
    /// Already dead when found; only its parent's wait() removes it.
    Zombie,
    /// Vanished before any signal (exited on its own).
    Exited,
    ExitedAfterSigterm,
    Killed,
    /// Still there after SIGKILL and the kill wait.
    StillRunning,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Milliseconds since the command started.
    pub ms: u64,
    /// target, dry_run, sigterm, sigcont, exited, grace_over, sigkill, killed, still_running, port_free, port_busy
    pub action: &'static str,
    pub pid: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    pub endpoint: String,
    /// Network namespace inode, when not the host's.
    pub netns: Option<u64>,
    pub pids: Vec<u32>,
    pub text: String,
}

/// `--capture`: given the pids about to be signalled, takes the scan and
/// writes it; returns the file and the line to print.
pub type Capture<'a> = &'a mut dyn FnMut(&[u32]) -> Result<(std::path::PathBuf, String), String>;

/// Finds the targets, then (unless a dry run) stops them. `on_step` sees
/// each step as it happens, so a long grace period shows progress;
/// `capture` runs after the targets are pinned, before the first signal.
pub fn run<'a>(
    opts: &Options,
    on_step: &'a mut dyn FnMut(&Step),
    capture: Option<Capture<'a>>,
) -> Result<Report, StopError> {
    let cx = sequence::Ctx::start(on_step, capture);
    let me = caller();
    if let Target::Pid(pid) = opts.target {
        // Before any snapshot: the cheapest and most important refusals.
        select::refuse(pid, &me, None)?;
    }
    let budget = unwedge_collect::walk::Budget {
        detail: unwedge_collect::Detail::Full,
        keep_secrets: opts.keep_secrets,
        ..Default::default()
    };
    let snap = unwedge_collect::snapshot_within(budget).map_err(StopError::Collect)?;
    let sel = select::select(&snap, opts.target, &me).map_err(|e| match e {
        StopError::NotFound { pid } => not_found(pid),
        e => e,
    })?;
    sequence::run(cx, opts, sel)
}

/// This unwedge and its ancestors up to init (bounded: a pid chain cannot
/// be longer than pid_max, and we stop far earlier).
fn caller() -> select::Caller {
    let pid = std::process::id();
    let mut ancestors: Vec<(u32, String)> = Vec::new();
    let mut next = proc_one::stat(pid).ok().map(|st| st.ppid);
    for _ in 0..4096 {
        let Some(ppid) = next.filter(|&pp| pp != 0 && pp != pid && !ancestors.iter().any(|(a, _)| *a == pp)) else {
            break;
        };
        let st = proc_one::stat(ppid).ok();
        // stat's comm is what /proc/PID/comm shows; an unreadable one stays protected, unnamed.
        ancestors.push((ppid, st.as_ref().map(|s| s.comm.clone()).unwrap_or_default()));
        next = st.map(|s| s.ppid);
    }
    select::Caller { pid, ancestors, is_root: unwedge_collect::is_root() }
}

/// A pid missing from the snapshot: a thread id resolves in /proc all the
/// same (it is just not listed), and its status names its process.
fn not_found(pid: u32) -> StopError {
    match proc_one::status(pid).ok().and_then(|st| st.tgid) {
        Some(tgid) if tgid != pid => StopError::Thread { tid: pid, tgid },
        _ => StopError::NotFound { pid },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protects_self_and_ancestors() {
        let me = caller();
        assert_eq!(me.pid, std::process::id());
        let refused = |pid| select::refuse(pid, &me, None).unwrap_err().to_string();
        assert!(refused(1).contains("pid 1"));
        assert!(refused(std::process::id()).contains("this unwedge"));
        if let Some((parent, comm)) = me.ancestors.first().filter(|a| a.0 != 1) {
            assert!(refused(*parent).contains(&format!("({comm}): it is an ancestor")), "{}", refused(*parent));
        }
    }

    #[test]
    fn a_thread_id_names_its_process() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() } as u32).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        let msg = not_found(tid).to_string();
        drop(done_tx);
        h.join().unwrap();
        let me = std::process::id();
        assert_eq!(msg, format!("{tid} is a thread of process {me}: stop {me} instead"));
    }
}
