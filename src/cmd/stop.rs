//! `unwedge stop`: print each step as it happens, or the whole run as JSON.
//! With `--capture`, first the scan of what is about to be killed, kept as
//! one HTML page with its snapshots (what a restart would destroy).

use crate::cli::StopArgs;
use crate::error::Fatal;
use crate::remedy::stop::{self, Options, Outcome, Report, Target};
use crate::render;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use unwedge_model::fmt;
use unwedge_pipeline::{Input, Stacks, Thresholds};

pub fn run(args: &StopArgs) -> Result<u8, Fatal> {
    let target = match (args.pid, args.port) {
        (Some(pid), _) => Target::Pid(pid),
        (None, Some(port)) => Target::Port(port),
        (None, None) => return Err(Fatal::NoStopTarget),
    };
    let opts = Options { target, grace: args.grace, dry_run: args.dry_run, keep_secrets: args.no_redact };
    let stdout = std::io::stdout();
    let json = args.json;
    // Write errors (a closed pipe) must not abort a stop half-way: ignored here.
    let mut on_step = |s: &stop::Step| {
        if !json {
            let _ = writeln!(stdout.lock(), "{:>6} ms  {}", s.ms, s.text);
        }
    };
    let (port, keep_secrets) = (args.port, args.no_redact);
    let dest = args.capture.clone().unwrap_or_default();
    let mut take = |pids: &[u32]| capture_within(dest.clone(), pids.to_vec(), port, keep_secrets);
    let report = stop::run(&opts, &mut on_step, args.capture.is_some().then_some(&mut take as stop::Capture))?;
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", summary(&report))?;
    }
    Ok(if report.success { 0 } else { 1 })
}

/// How long the capture's collection may take before it reports what it has.
const CAPTURE_BUDGET: Duration = Duration::from_secs(10);

/// How long the whole capture may take: past it, the stop goes on without
/// it (a capture never keeps a process from being stopped).
pub const CAPTURE_TIMEOUT: Duration = Duration::from_secs(30);

/// [`capture`] on its own thread, given up on after [`CAPTURE_TIMEOUT`].
fn capture_within(path: PathBuf, pids: Vec<u32>, port: Option<u16>, keep: bool) -> Result<(PathBuf, String), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || {
            let _ = tx.send(capture(&path, &pids, port, keep));
        })
        .map_err(|e| format!("cannot start the capture: {e}"))?;
    rx.recv_timeout(CAPTURE_TIMEOUT)
        .unwrap_or_else(|_| Err(format!("it did not finish within {}", fmt::duration(CAPTURE_TIMEOUT))))
}

/// Scans the host as `serve` does, keeps the
/// findings about `pids` or `port` and their causes, and writes the page
/// with the snapshots embedded to `path` (or into it, if a directory).
fn capture(path: &Path, pids: &[u32], port: Option<u16>, keep_secrets: bool) -> Result<(PathBuf, String), String> {
    let started = Instant::now();
    let until = Some(started + CAPTURE_BUDGET);
    // What serve keeps too: the processes a finding can be about in full, of the first snapshot what the
    // analysis compares; `scan --from-snapshot` of the page finds the same.
    let input = Input::Live { interval: Duration::from_secs(1), until, record: false, keep_secrets };
    let thresholds = Thresholds::default();
    let mut scan = unwedge_pipeline::snapshots(&input).map_err(|e| e.to_string())?;
    let one = (pids.len() == 1).then(|| pids[0]);
    let filter = unwedge_pipeline::Filter { pid: one, port, path: None };
    unwedge_pipeline::read_stacks(&mut scan, &thresholds, &mut Stacks::new(unwedge_pipeline::StackMode::Auto), &filter);
    let mut report = unwedge_pipeline::report(&scan, &thresholds, started.elapsed());
    unwedge_pipeline::retain(&mut report, |f| {
        f.pid.is_some_and(|p| pids.contains(&p))
            || f.evidence.owners().iter().any(|p| pids.contains(p))
            || (port.is_some() && f.port == port)
    });
    let who = pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    let extras = render::html::Extras {
        scan: Some(&scan),
        subtitle: Some(format!("Captured by unwedge stop before it signalled pid {who}")),
        unredacted: keep_secrets,
        ..Default::default()
    };
    let page = render::html::render(&report, &extras)?;
    let file = if path.is_dir() { path.join(capture_name(&scan, pids)) } else { path.to_path_buf() };
    unwedge_pipeline::write_private(&file, page.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let mut kinds: Vec<&str> = Vec::new();
    for k in report.findings.iter().filter(|f| f.severity.is_alarm()).map(|f| f.kind().name()) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let found = match kinds.len() {
        0 => "no warning or critical finding".to_string(),
        _ => kinds.join(", "),
    };
    Ok((file.clone(), format!("captured the scan ({found}) to {}", file.display())))
}

/// `20260107T140750Z-python3-4242.html`: when, and the first target.
fn capture_name(scan: &unwedge_model::Scan, pids: &[u32]) -> String {
    let last = scan.snapshots.last();
    let at = last.map_or(0, |s| s.taken_at_ms);
    let t = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(at)).to_string();
    let stamp: String = t.chars().filter(|c| *c != '-' && *c != ':').collect();
    let pid = pids.first().copied().unwrap_or(0);
    let comm = last
        .and_then(|s| s.processes.iter().find(|p| p.pid == pid))
        .map(|p| p.comm.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>())
        .unwrap_or_default();
    format!("{stamp}-{comm}-{pid}.html")
}

fn summary(r: &Report) -> String {
    let n = r.targets.len();
    let count = |o: Outcome| r.targets.iter().filter(|t| t.outcome == o).count();
    let took = fmt::measured_ms(r.duration_ms);
    let ports = r.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    if r.dry_run {
        return format!("dry run done in {took}: {} of {n} would be signalled", count(Outcome::WouldStop));
    }
    let mut parts = Vec::new();
    for (o, what) in [
        (Outcome::ExitedAfterSigterm, "exited after SIGTERM"),
        (Outcome::Killed, "killed by SIGKILL"),
        (Outcome::Exited, "exited on their own"),
        (Outcome::Zombie, "already zombies"),
        (Outcome::StillRunning, "STILL RUNNING"),
    ] {
        if count(o) > 0 {
            parts.push(format!("{} {what}", count(o)));
        }
    }
    let port = match r.port_free {
        Some(true) => format!("; port {ports} is free"),
        Some(false) => format!("; port {ports} is NOT free"),
        None => String::new(),
    };
    format!("done in {took}: {n} target{}: {}{port}", if n == 1 { "" } else { "s" }, parts.join(", "))
}
