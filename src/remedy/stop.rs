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

use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};
use unwedge_analyze::index::{endpoint, Index};
use unwedge_analyze::process_tree::{group_members, is_orphaned_worker};
use unwedge_collect::parse;
use unwedge_model::{Process, Snapshot, TcpState};

/// How long to wait for processes to vanish after SIGKILL. Only a process in
/// uninterruptible sleep (D) or a huge core dump takes longer.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Poll period while waiting without pidfds; exits are timed to about this precision.
const POLL: Duration = Duration::from_millis(10);
const SIGTERM_BIT: u64 = 1 << (libc::SIGTERM - 1);

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

/// Why the run could not start; the binary prints it as one line, exit 2.
#[derive(Debug)]
pub struct StopError(pub String);

struct Ctx<'a> {
    t0: Instant,
    steps: Vec<Step>,
    on_step: &'a mut dyn FnMut(&Step),
}

impl Ctx<'_> {
    fn step(&mut self, action: &'static str, pid: Option<u32>, text: String) {
        let s = Step { ms: self.t0.elapsed().as_millis() as u64, action, pid, text };
        (self.on_step)(&s);
        self.steps.push(s);
    }

    fn ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }
}

/// Finds the targets, then (unless a dry run) stops them. `on_step` sees
/// each step as it happens, so a long grace period shows progress.
pub fn run(opts: &Options, on_step: &mut dyn FnMut(&Step)) -> Result<Report, StopError> {
    let mut cx = Ctx { t0: Instant::now(), steps: Vec::new(), on_step };
    let protected = protected_pids();
    if let Target::Pid(pid) = opts.target {
        // Before any snapshot: the cheapest and most important refusals.
        refuse_protected(pid, &protected, "")?;
    }
    let snap = unwedge_collect::snapshot().map_err(|e| StopError(e.to_string()))?;
    let idx = Index::new(&snap);
    let (found, ports) = match opts.target {
        Target::Pid(pid) => by_pid(&idx, pid)?,
        Target::Port(port) => by_port(&idx, port)?,
    };
    // Where the listeners live decides how cheaply the port can be re-checked.
    let host_only = idx.listeners().filter(|l| ports.contains(&l.local_port)).all(|l| l.netns == snap.host_netns);
    for (p, reason) in &found {
        let why = match opts.target {
            Target::Port(port) => format!(" (it {reason}, port {port})"),
            Target::Pid(_) => String::new(),
        };
        refuse_protected(p.pid, &protected, &why)?;
    }

    let mut targets: Vec<TargetReport> = found.iter().map(|(p, reason)| describe_target(&idx, p, reason)).collect();
    // Pin each live target before anything else can happen to its pid.
    let mut handles: Vec<Option<Handle>> = Vec::with_capacity(targets.len());
    for (t, (p, _)) in targets.iter_mut().zip(&found) {
        let h = if t.outcome == Outcome::Zombie { None } else { Handle::open(p.pid, p.start_ticks) };
        if h.is_none() && t.outcome != Outcome::Zombie {
            t.outcome = Outcome::Exited;
            t.gone_ms = Some(cx.ms());
        }
        handles.push(h);
    }
    // Permission is checked for all before any is signalled: no half-done stop.
    for (t, h) in targets.iter().zip(&handles) {
        let Some(h) = h else { continue };
        if let Err(e) = h.signal(0) {
            if e.raw_os_error() == Some(libc::EPERM) {
                return Err(StopError(format!(
                    "permission denied: cannot signal {} (pid {}, uid {}); run as root or as uid {}",
                    t.comm, t.pid, t.uid, t.uid
                )));
            }
        }
    }
    for t in &targets {
        let mut text = format!("target {} (pid {}): {}", t.comm, t.pid, t.reason);
        for n in &t.notes {
            text.push_str("; ");
            text.push_str(n);
        }
        cx.step("target", Some(t.pid), text);
    }

    let live: Vec<usize> = (0..targets.len()).filter(|&i| handles[i].is_some()).collect();
    let port_list = ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    if opts.dry_run {
        for &i in &live {
            targets[i].outcome = Outcome::WouldStop;
        }
        let then = if ports.is_empty() { String::new() } else { format!(", then check that port {port_list} is free") };
        cx.step(
            "dry_run",
            None,
            format!(
                "dry run: would send SIGTERM to {} process{}, wait up to {} for {}, SIGKILL any left{then}; nothing was changed",
                live.len(),
                if live.len() == 1 { "" } else { "es" },
                fmt_dur(opts.grace),
                if live.len() == 1 { "it to exit" } else { "them to exit" },
            ),
        );
        return Ok(finish(cx, opts, targets, ports, None, Vec::new()));
    }

    // SIGTERM, and SIGCONT to stopped ones, which would otherwise never act on it.
    let mut waiting = Vec::new();
    for &i in &live {
        let h = handles[i].as_ref().expect("live");
        match h.signal(libc::SIGTERM) {
            Ok(()) => {
                cx.step("sigterm", Some(h.pid), format!("SIGTERM -> {} (pid {})", targets[i].comm, h.pid));
                if matches!(h.state(), Some('T') | Some('t')) && h.signal(libc::SIGCONT).is_ok() {
                    cx.step("sigcont", Some(h.pid), format!("SIGCONT -> pid {} (it was stopped)", h.pid));
                }
                waiting.push(i);
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                mark_gone(&mut cx, &mut targets[i], Outcome::Exited, "exited before SIGTERM")
            }
            Err(e) => {
                // Not expected after the permission check; SIGKILL gets its turn.
                cx.step("sigterm", Some(h.pid), format!("SIGTERM -> pid {} failed: {e}", h.pid));
                waiting.push(i);
            }
        }
    }
    let deadline = Instant::now() + opts.grace;
    wait_gone(
        &mut cx,
        &handles,
        &mut targets,
        &mut waiting,
        deadline,
        Outcome::ExitedAfterSigterm,
        "exited after SIGTERM",
    );

    if !waiting.is_empty() {
        cx.step(
            "grace_over",
            None,
            format!("grace period of {} over: {} still running", fmt_dur(opts.grace), waiting.len()),
        );
        let mut killed = Vec::with_capacity(waiting.len());
        for &i in &waiting {
            let h = handles[i].as_ref().expect("live");
            let d = if h.state() == Some('D') { format!(" ({})", d_state(h.pid)) } else { String::new() };
            match h.signal(libc::SIGKILL) {
                Ok(()) => {
                    cx.step("sigkill", Some(h.pid), format!("SIGKILL -> {} (pid {}){d}", targets[i].comm, h.pid));
                    killed.push(i);
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    mark_gone(&mut cx, &mut targets[i], Outcome::ExitedAfterSigterm, "exited just before SIGKILL")
                }
                Err(e) => {
                    cx.step("sigkill", Some(h.pid), format!("SIGKILL -> pid {} failed: {e}", h.pid));
                    killed.push(i);
                }
            }
        }
        waiting = killed;
        let deadline = Instant::now() + KILL_WAIT;
        wait_gone(&mut cx, &handles, &mut targets, &mut waiting, deadline, Outcome::Killed, "gone after SIGKILL");
        for &i in &waiting {
            let h = handles[i].as_ref().expect("live");
            let why = match h.state() {
                Some('D') => format!(" ({})", d_state(h.pid)),
                Some(s) => format!(" (state {s})"),
                None => String::new(),
            };
            targets[i].outcome = Outcome::StillRunning;
            targets[i].notes.push(format!("still running {} after SIGKILL{why}", fmt_dur(KILL_WAIT)));
            cx.step("still_running", Some(h.pid), format!("pid {} still running after SIGKILL{why}", h.pid));
        }
    }

    let (port_free, left) = if ports.is_empty() {
        (None, Vec::new())
    } else {
        check_ports(&mut cx, &ports, host_only.then_some(snap.host_netns), &targets)?
    };
    Ok(finish(cx, opts, targets, ports, port_free, left))
}

fn finish(
    cx: Ctx,
    opts: &Options,
    targets: Vec<TargetReport>,
    ports: Vec<u16>,
    port_free: Option<bool>,
    listeners_left: Vec<Listener>,
) -> Report {
    let all_gone = targets.iter().all(|t| t.outcome != Outcome::StillRunning);
    let (pid, port) = match opts.target {
        Target::Pid(p) => (Some(p), None),
        Target::Port(p) => (None, Some(p)),
    };
    Report {
        unwedge_version: env!("CARGO_PKG_VERSION").into(),
        pid,
        port,
        grace_ms: opts.grace.as_millis() as u64,
        dry_run: opts.dry_run,
        success: all_gone && port_free != Some(false),
        duration_ms: cx.ms(),
        targets,
        steps: cx.steps,
        ports,
        port_free,
        listeners_left,
    }
}

/// One target found in the snapshot, with the reason it was picked.
type Found<'a> = (&'a Process, String);

fn by_pid<'a>(idx: &Index<'a>, pid: u32) -> Result<(Vec<Found<'a>>, Vec<u16>), StopError> {
    let Some(p) = idx.process(pid) else {
        // A thread id is not listed in /proc but still resolves there.
        if let Some(tgid) = tgid_of(pid).filter(|&t| t != pid) {
            return Err(StopError(format!("{pid} is a thread of process {tgid}: stop {tgid} instead")));
        }
        return Err(StopError(format!("no process with pid {pid}")));
    };
    if p.pid == 2 || p.ppid == 2 {
        return Err(StopError(format!("pid {pid} ({}) is a kernel thread: signals cannot stop it", p.comm)));
    }
    let ports: BTreeSet<u16> = idx
        .listeners()
        .filter(|l| l.inode != 0 && idx.owners_of(l.inode).contains(&pid))
        .map(|l| l.local_port)
        .collect();
    Ok((vec![(p, "named on the command line".into())], ports.into_iter().collect()))
}

fn by_port<'a>(idx: &Index<'a>, port: u16) -> Result<(Vec<Found<'a>>, Vec<u16>), StopError> {
    let listeners: Vec<_> = idx.listeners().filter(|l| l.local_port == port).collect();
    if listeners.is_empty() {
        return Err(StopError(format!(
            "nothing listens on TCP port {port} (no LISTEN socket in any network namespace)"
        )));
    }
    let mut found: Vec<Found<'a>> = Vec::new();
    let mut seen = HashSet::new();
    for l in &listeners {
        for &pid in idx.owners_of(l.inode) {
            if let Some(p) = idx.process(pid) {
                if seen.insert(pid) {
                    found.push((p, format!("holds LISTEN {}", endpoint(l.local, l.local_port))));
                }
            }
        }
    }
    if found.is_empty() {
        let hint = if unwedge_collect::is_root() { "" } else { " (run as root to see other users' fds)" };
        return Err(StopError(format!("port {port} has a LISTEN socket, but no visible process holds it{hint}")));
    }
    // Orphaned workers of the holders' groups: they may hold connections or
    // re-open the port, and they are exactly what blocked story 1's restart.
    let holders: Vec<u32> = found.iter().map(|(p, _)| p.pid).collect();
    for pid in holders {
        let p = idx.process(pid).expect("found in the index");
        for m in group_members(idx.snap, p.pgid) {
            // A zombie member holds nothing and cannot be signalled away.
            if m.state != 'Z' && is_orphaned_worker(idx, m) && seen.insert(m.pid) {
                found.push((
                    m,
                    format!("orphaned worker of process group {} (its leader is gone), like pid {pid}", m.pgid),
                ));
            }
        }
    }
    // Workers of a master being stopped (its descendants in its group) would
    // be orphaned the moment it exits: the very leftovers this command is for.
    let mut i = 0;
    while i < found.len() {
        let (parent, pgid) = (found[i].0.pid, found[i].0.pgid);
        for c in &idx.snap.processes {
            if c.ppid == parent && c.pgid == pgid && c.state != 'Z' && seen.insert(c.pid) {
                found.push((
                    c,
                    format!("worker of pid {parent} in its process group (orphaned once pid {parent} exits)"),
                ));
            }
        }
        i += 1;
    }
    Ok((found, vec![port]))
}

fn describe_target(idx: &Index, p: &Process, reason: &str) -> TargetReport {
    let parent = idx.process(p.ppid).map(|pp| format!("{} (pid {})", pp.comm, pp.pid));
    let mut notes = Vec::new();
    let mut outcome = Outcome::WouldStop;
    match p.state {
        'Z' | 'X' => {
            outcome = Outcome::Zombie;
            let who = parent.clone().unwrap_or_else(|| format!("pid {}", p.ppid));
            notes.push(format!(
                "already dead (zombie): it holds no port or fd; only its parent {who} can remove it, by reaping it (wait); stop or fix the parent if it never does"
            ));
        }
        'D' => notes.push(d_state(p.pid)),
        'T' | 't' => notes.push("stopped (T): it gets SIGCONT after SIGTERM so that it can act on it".into()),
        _ => {}
    }
    if outcome != Outcome::Zombie {
        let masks: Vec<_> = p.threads.iter().filter_map(|t| t.signals).collect();
        if masks.first().is_some_and(|m| m.ignored & SIGTERM_BIT != 0) {
            notes.push("ignores SIGTERM: expect SIGKILL after the grace period".into());
        } else if !masks.is_empty() && masks.iter().all(|m| m.blocked & SIGTERM_BIT != 0) {
            notes.push("blocks SIGTERM in every thread: only a signalfd or sigwait reader would see it".into());
        }
    }
    TargetReport {
        pid: p.pid,
        ppid: p.ppid,
        pgid: p.pgid,
        uid: p.uid,
        comm: p.comm.clone(),
        cmdline: p.cmdline.clone(),
        state: p.state.to_string(),
        reason: reason.to_string(),
        parent,
        notes,
        outcome,
        gone_ms: None,
    }
}

/// "in uninterruptible sleep (D) in WCHAN: SIGKILL acts only when that kernel call returns".
fn d_state(pid: u32) -> String {
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    let wchan = wchan.trim();
    let at = if wchan.is_empty() || wchan == "0" { String::new() } else { format!(" in {wchan}") };
    format!("in uninterruptible sleep (D){at}: SIGKILL acts only when that kernel call returns")
}

fn mark_gone(cx: &mut Ctx, t: &mut TargetReport, outcome: Outcome, what: &str) {
    t.outcome = outcome;
    t.gone_ms = Some(cx.ms());
    let text = format!("{} (pid {}) {what}", t.comm, t.pid);
    cx.step(if outcome == Outcome::Killed { "killed" } else { "exited" }, Some(t.pid), text);
}

/// Polls until every target in `waiting` has exited or `deadline` passes.
fn wait_gone(
    cx: &mut Ctx,
    handles: &[Option<Handle>],
    targets: &mut [TargetReport],
    waiting: &mut Vec<usize>,
    deadline: Instant,
    outcome: Outcome,
    what: &str,
) {
    loop {
        let mut still = Vec::with_capacity(waiting.len());
        for &i in waiting.iter() {
            if handles[i].as_ref().is_some_and(Handle::exited) {
                mark_gone(cx, &mut targets[i], outcome, what);
            } else {
                still.push(i);
            }
        }
        *waiting = still;
        let now = Instant::now();
        if waiting.is_empty() || now >= deadline {
            return;
        }
        // pidfds wake us the moment one exits, so exits are timed to the
        // millisecond; without them, poll /proc every POLL.
        let mut fds: Vec<libc::pollfd> = waiting
            .iter()
            .filter_map(|&i| handles[i].as_ref()?.pidfd.as_ref())
            .map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 })
            .collect();
        if fds.len() == waiting.len() {
            let ms = (deadline - now).as_millis().clamp(1, 100) as i32;
            // SAFETY: a slice of valid pollfds and its length.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        } else {
            std::thread::sleep(POLL.min(deadline - now));
        }
    }
}

/// A fresh socket dump: is a LISTEN socket left on any of `ports`, and whose?
/// When every listener was in the host's namespace, one sock_diag dump there
/// answers in milliseconds; the full snapshot (every process's fds, every
/// namespace) is taken only to name who still holds the port, or to look
/// into other namespaces.
fn check_ports(
    cx: &mut Ctx,
    ports: &[u16],
    host_netns: Option<u64>,
    targets: &[TargetReport],
) -> Result<(Option<bool>, Vec<Listener>), StopError> {
    if let Some(host) = host_netns {
        let (_, sockets) = unwedge_collect::netns::collect_here(host, &mut Vec::new());
        let busy = sockets.iter().any(|s| s.state == TcpState::Listen && ports.contains(&s.local_port));
        if !busy {
            for port in ports {
                cx.step("port_free", None, format!("port {port}: no LISTEN socket left, free to bind"));
            }
            return Ok((Some(true), Vec::new()));
        }
    }
    let snap = unwedge_collect::snapshot().map_err(|e| StopError(e.to_string()))?;
    let idx = Index::new(&snap);
    let mut left = Vec::new();
    for port in ports {
        let ls: Vec<_> = idx.listeners().filter(|l| l.local_port == *port).collect();
        if ls.is_empty() {
            cx.step("port_free", None, format!("port {port}: no LISTEN socket left, free to bind"));
        }
        for l in ls {
            let pids = idx.owners_of(l.inode).to_vec();
            let ep = endpoint(l.local, l.local_port);
            let text = listener_text(&snap, &ep, &pids, targets);
            cx.step("port_busy", None, format!("port {port}: {text}"));
            let netns = (l.netns != snap.host_netns && l.netns != 0).then_some(l.netns);
            left.push(Listener { endpoint: ep, netns, pids, text });
        }
    }
    Ok((Some(left.is_empty()), left))
}

fn listener_text(snap: &Snapshot, ep: &str, pids: &[u32], targets: &[TargetReport]) -> String {
    if pids.is_empty() {
        return format!("still LISTEN on {ep}, held by no visible process");
    }
    let names: Vec<String> = pids
        .iter()
        .map(|pid| {
            let comm = snap.processes.iter().find(|p| p.pid == *pid).map(|p| p.comm.as_str()).unwrap_or("?");
            format!("{comm} (pid {pid})")
        })
        .collect();
    let new = pids.iter().any(|p| !targets.iter().any(|t| t.pid == *p));
    let hint = if new {
        ": not one of the targets (restarted by a supervisor, or an fd passed to another process?)"
    } else {
        ""
    };
    format!("still LISTEN on {ep}, held by {}{hint}", names.join(", "))
}

fn refuse_protected(pid: u32, protected: &[u32], why: &str) -> Result<(), StopError> {
    let what = if pid == 1 {
        "pid 1 (init): stopping it would take the whole system or container down".to_string()
    } else if pid == std::process::id() {
        format!("pid {pid}: that is this unwedge itself")
    } else if protected.contains(&pid) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        format!("pid {pid} ({}): it is an ancestor of this unwedge (stopping it would end this session)", comm.trim())
    } else {
        return Ok(());
    };
    Err(StopError(format!("refusing to stop {what}{why}")))
}

/// This process and its ancestors up to init (bounded: a pid chain cannot
/// be longer than pid_max, and we stop far earlier).
fn protected_pids() -> Vec<u32> {
    let mut out = vec![std::process::id()];
    let mut buf = Vec::new();
    let mut pid = std::process::id();
    for _ in 0..4096 {
        let Ok(st) = read_stat(pid, &mut buf) else { break };
        if st.ppid == 0 || out.contains(&st.ppid) {
            break;
        }
        out.push(st.ppid);
        pid = st.ppid;
    }
    out
}

fn read_stat(pid: u32, buf: &mut Vec<u8>) -> io::Result<parse::stat::Stat> {
    use std::io::Read;
    buf.clear();
    std::fs::File::open(format!("/proc/{pid}/stat"))?.take(64 * 1024).read_to_end(buf)?;
    parse::stat::parse(buf).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))
}

fn tgid_of(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// One process, pinned: a pidfd where the kernel has them (5.3+), so a
/// signal can never reach a process that reused the pid; else the start
/// time, re-checked right before each kill().
struct Handle {
    pid: u32,
    start_ticks: u64,
    pidfd: Option<OwnedFd>,
}

impl Handle {
    /// `None` when the process is already gone (or its pid now names another).
    fn open(pid: u32, start_ticks: u64) -> Option<Handle> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
        let pidfd = if fd >= 0 {
            // SAFETY: the kernel just returned this fd to us; nothing else owns it.
            Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
        } else if io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            return None;
        } else {
            None // ENOSYS on old kernels: fall back to start-time checks
        };
        let h = Handle { pid, start_ticks, pidfd };
        // The pidfd pins whatever process has the pid now; make sure it is
        // the one the snapshot saw.
        h.same_process().then_some(h)
    }

    fn same_process(&self) -> bool {
        read_stat(self.pid, &mut Vec::new()).is_ok_and(|st| st.starttime == self.start_ticks)
    }

    fn signal(&self, sig: i32) -> io::Result<()> {
        let rc = match &self.pidfd {
            // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                )
            },
            None => {
                if !self.same_process() {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(self.pid as libc::pid_t, sig) as libc::c_long }
            }
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Exited: reaped, or a zombie (it runs no code and holds no fds).
    fn exited(&self) -> bool {
        if let Some(fd) = &self.pidfd {
            // A pidfd polls readable once the process has exited.
            let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd, zero timeout.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n >= 0 {
                return n > 0;
            }
        }
        match read_stat(self.pid, &mut Vec::new()) {
            Ok(st) => st.starttime != self.start_ticks || matches!(st.state, 'Z' | 'X'),
            Err(_) => true,
        }
    }

    fn state(&self) -> Option<char> {
        read_stat(self.pid, &mut Vec::new()).ok().filter(|st| st.starttime == self.start_ticks).map(|st| st.state)
    }
}

/// "10s", "1.5s", "200ms".
pub fn fmt_dur(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protects_self_and_ancestors() {
        let p = protected_pids();
        assert_eq!(p[0], std::process::id());
        assert!(refuse_protected(1, &p, "").unwrap_err().0.contains("pid 1"));
        assert!(refuse_protected(std::process::id(), &p, "").unwrap_err().0.contains("this unwedge"));
        if let Some(&parent) = p.get(1).filter(|&&pp| pp != 1) {
            assert!(refuse_protected(parent, &p, "").unwrap_err().0.contains("ancestor"));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_dur(Duration::from_secs(10)), "10s");
        assert_eq!(fmt_dur(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_dur(Duration::from_millis(200)), "200ms");
    }

    #[test]
    fn zombie_names_its_parent() {
        let snap = Snapshot {
            processes: vec![
                Process { pid: 10, ppid: 1, pgid: 10, comm: "master".into(), state: 'S', ..Default::default() },
                Process { pid: 11, ppid: 10, pgid: 10, comm: "worker".into(), state: 'Z', ..Default::default() },
            ],
            ..Default::default()
        };
        let idx = Index::new(&snap);
        let t = describe_target(&idx, idx.process(11).unwrap(), "named");
        assert_eq!(t.outcome, Outcome::Zombie);
        assert!(t.notes[0].contains("master (pid 10)"), "{:?}", t.notes);
    }
}
