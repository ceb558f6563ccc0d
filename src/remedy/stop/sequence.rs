//! The stop itself, on the targets [`select`](super::select) picked: pin
//! each with a [`Handle`], check permission for all before signalling any,
//! SIGTERM (and SIGCONT to stopped ones), the grace period, SIGKILL, a
//! bounded wait, and a fresh socket dump to prove the port is free. Every
//! wait ends at a deadline; every step is reported as it happens.

use super::error::StopError;
use super::pidfd::{self, Handle};
use super::select::{d_state, Pick, Selection};
use super::{Capture, Listener, Options, Outcome, Report, Step, Target, TargetReport};
use std::time::{Duration, Instant};
use unwedge_analyze::index::{endpoint, Index};
use unwedge_model::fmt;
use unwedge_model::{Snapshot, TcpState};

/// How long to wait for processes to vanish after SIGKILL. Only a process in
/// uninterruptible sleep (D) or a huge core dump takes longer.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The clock and the steps of one run.
pub struct Ctx<'a> {
    t0: Instant,
    steps: Vec<Step>,
    on_step: &'a mut dyn FnMut(&Step),
    /// `--capture`: what to run before the first signal, and the file it wrote.
    capture: Option<Capture<'a>>,
    captured: Option<std::path::PathBuf>,
}

impl<'a> Ctx<'a> {
    /// Starts the clock: step times count from here.
    pub fn start(on_step: &'a mut dyn FnMut(&Step), capture: Option<Capture<'a>>) -> Self {
        Ctx { t0: Instant::now(), steps: Vec::new(), on_step, capture, captured: None }
    }

    fn step(&mut self, action: &'static str, pid: Option<u32>, text: String) {
        let s = Step { ms: self.ms(), action, pid, text };
        (self.on_step)(&s);
        self.steps.push(s);
    }

    fn ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }
}

/// Stops the selected targets (or, for a dry run, says what it would do).
pub fn run(mut cx: Ctx, opts: &Options, sel: Selection) -> Result<Report, StopError> {
    let Selection { picks, ports, recheck_netns } = sel;
    let (mut targets, handles) = pin(&mut cx, picks);
    check_permission(&targets, &handles)?;
    for t in &targets {
        let mut text = format!("target {} (pid {}): {}", t.comm, t.pid, t.reason);
        for n in &t.notes {
            text.push_str("; ");
            text.push_str(n);
        }
        cx.step("target", Some(t.pid), text);
    }

    let live: Vec<usize> = (0..targets.len()).filter(|&i| handles[i].is_some()).collect();
    capture(&mut cx, &targets, &live);
    if opts.dry_run {
        dry_run(&mut cx, opts, &mut targets, &live, &ports);
        return Ok(finish(cx, opts, targets, ports, None, Vec::new()));
    }

    let mut waiting = sigterm(&mut cx, &handles, &mut targets, &live);
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
            format!("grace period of {} over: {} still running", fmt::duration(opts.grace), waiting.len()),
        );
        sigkill(&mut cx, &handles, &mut targets, &waiting);
    }

    let (port_free, left) =
        if ports.is_empty() { (None, Vec::new()) } else { check_ports(&mut cx, &ports, recheck_netns, &targets)? };
    Ok(finish(cx, opts, targets, ports, port_free, left))
}

/// `--capture`: the scan of the live targets, before any signal. A capture
/// that fails is said, and the stop goes on: it was asked for.
fn capture(cx: &mut Ctx, targets: &[TargetReport], live: &[usize]) {
    let Some(take) = cx.capture.as_mut() else { return };
    let pids: Vec<u32> = live.iter().map(|&i| targets[i].pid).collect();
    if pids.is_empty() {
        return;
    }
    match take(&pids) {
        Ok((path, text)) => {
            cx.captured = Some(path);
            cx.step("capture", None, text);
        }
        Err(e) => cx.step("capture_failed", None, format!("capture failed, stopping all the same: {e}")),
    }
}

/// Pins each live target with a [`Handle`] before anything else can happen
/// to its pid; one already gone is marked so.
fn pin(cx: &mut Ctx, picks: Vec<Pick>) -> (Vec<TargetReport>, Vec<Option<Handle>>) {
    let mut targets: Vec<TargetReport> = Vec::with_capacity(picks.len());
    let mut handles: Vec<Option<Handle>> = Vec::with_capacity(picks.len());
    for pick in picks {
        let mut t = pick.target;
        let h = if t.outcome == Outcome::Zombie { None } else { Handle::open(t.pid, pick.start_ticks) };
        if h.is_none() && t.outcome != Outcome::Zombie {
            t.outcome = Outcome::Exited;
            t.gone_ms = Some(cx.ms());
        }
        targets.push(t);
        handles.push(h);
    }
    (targets, handles)
}

/// Permission is checked for all before any is signalled: no half-done stop.
fn check_permission(targets: &[TargetReport], handles: &[Option<Handle>]) -> Result<(), StopError> {
    for (t, h) in targets.iter().zip(handles) {
        let Some(h) = h else { continue };
        if let Err(e) = h.signal(0) {
            if e.raw_os_error() == Some(libc::EPERM) {
                return Err(StopError::Permission { pid: t.pid, comm: t.comm.clone(), uid: t.uid });
            }
        }
    }
    Ok(())
}

/// Says what a stop would do, and marks the live targets so.
fn dry_run(cx: &mut Ctx, opts: &Options, targets: &mut [TargetReport], live: &[usize], ports: &[u16]) {
    for &i in live {
        targets[i].outcome = Outcome::WouldStop;
    }
    let port_list = ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    let then = if ports.is_empty() { String::new() } else { format!(", then check that port {port_list} is free") };
    cx.step(
        "dry_run",
        None,
        format!(
            "dry run: would send SIGTERM to {} process{}, wait up to {} for {}, SIGKILL any left{then}; nothing was changed",
            live.len(),
            if live.len() == 1 { "" } else { "es" },
            fmt::duration(opts.grace),
            if live.len() == 1 { "it to exit" } else { "them to exit" },
        ),
    );
}

/// SIGTERM to each live target, and SIGCONT to stopped ones, which would
/// otherwise never act on it. Returns those to wait for.
fn sigterm(cx: &mut Ctx, handles: &[Option<Handle>], targets: &mut [TargetReport], live: &[usize]) -> Vec<usize> {
    let mut waiting = Vec::new();
    for &i in live {
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
                mark_gone(cx, &mut targets[i], Outcome::Exited, "exited before SIGTERM")
            }
            Err(e) => {
                // Not expected after the permission check; SIGKILL gets its turn.
                cx.step("sigterm", Some(h.pid), format!("SIGTERM -> pid {} failed: {e}", h.pid));
                waiting.push(i);
            }
        }
    }
    waiting
}

/// SIGKILL to those still running after the grace period, a bounded wait
/// for them to go, and a note on each that did not.
fn sigkill(cx: &mut Ctx, handles: &[Option<Handle>], targets: &mut [TargetReport], left: &[usize]) {
    let mut killed = Vec::with_capacity(left.len());
    for &i in left {
        let h = handles[i].as_ref().expect("live");
        let d = if h.state() == Some('D') { format!(" ({})", d_state(h.wchan().as_deref())) } else { String::new() };
        match h.signal(libc::SIGKILL) {
            Ok(()) => {
                cx.step("sigkill", Some(h.pid), format!("SIGKILL -> {} (pid {}){d}", targets[i].comm, h.pid));
                killed.push(i);
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                mark_gone(cx, &mut targets[i], Outcome::ExitedAfterSigterm, "exited just before SIGKILL")
            }
            Err(e) => {
                cx.step("sigkill", Some(h.pid), format!("SIGKILL -> pid {} failed: {e}", h.pid));
                killed.push(i);
            }
        }
    }
    let deadline = Instant::now() + KILL_WAIT;
    wait_gone(cx, handles, targets, &mut killed, deadline, Outcome::Killed, "gone after SIGKILL");
    for &i in &killed {
        let h = handles[i].as_ref().expect("live");
        let why = match h.state() {
            Some('D') => format!(" ({})", d_state(h.wchan().as_deref())),
            Some(s) => format!(" (state {s})"),
            None => String::new(),
        };
        targets[i].outcome = Outcome::StillRunning;
        targets[i].notes.push(format!("still running {} after SIGKILL{why}", fmt::duration(KILL_WAIT)));
        cx.step("still_running", Some(h.pid), format!("pid {} still running after SIGKILL{why}", h.pid));
    }
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
        unwedge_version: crate::build_info::VERSION.into(),
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
        capture: cx.captured,
    }
}

fn mark_gone(cx: &mut Ctx, t: &mut TargetReport, outcome: Outcome, what: &str) {
    t.outcome = outcome;
    t.gone_ms = Some(cx.ms());
    let text = format!("{} (pid {}) {what}", t.comm, t.pid);
    cx.step(if outcome == Outcome::Killed { "killed" } else { "exited" }, Some(t.pid), text);
}

/// Waits until every target in `waiting` has exited or `deadline` passes.
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
        pidfd::wait_any(waiting.iter().map(|&i| handles[i].as_ref()), deadline - now);
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
    let snap = unwedge_collect::snapshot().map_err(StopError::Collect)?;
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
