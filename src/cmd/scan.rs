//! `unwedge scan`: collect -> analyze -> render.

use crate::cli::ScanArgs;
use crate::{render, Fatal};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant, UNIX_EPOCH};
use unwedge_analyze::Thresholds;
use unwedge_model::{Coverage, Report, Scan};

pub fn run(args: &ScanArgs) -> Result<u8, Fatal> {
    if args.close_wait_critical < args.close_wait_min {
        return Err(Fatal(format!(
            "--close-wait-critical ({}) must not be below --close-wait-min ({})",
            args.close_wait_critical, args.close_wait_min
        )));
    }
    if args.fd_critical < args.fd_warning {
        return Err(Fatal(format!(
            "--fd-critical ({}) must not be below --fd-warning ({})",
            args.fd_critical, args.fd_warning
        )));
    }
    let started = Instant::now();
    let scan = match &args.from_snapshot {
        Some(path) => {
            let text = std::fs::read(path).map_err(|e| Fatal(format!("cannot read {}: {e}", path.display())))?;
            let scan: Scan = serde_json::from_slice(&text)
                .map_err(|e| Fatal(format!("{} is not an unwedge snapshot file: {e}", path.display())))?;
            if scan.snapshots.is_empty() {
                return Err(Fatal(format!("{} holds no snapshot", path.display())));
            }
            scan
        }
        None => {
            if !unwedge_collect::is_root() {
                eprintln!("unwedge: not running as root: other users' sockets, fds and threads are hidden (run as root, or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for the full view)");
            }
            // Collection stops at 80% of the deadline so analysis and output
            // fit in before the watchdog; what was not read is in coverage.
            let deadline = crate::cli::scan_deadline(args).map_err(Fatal)?;
            let until = Some(started + deadline.mul_f64(0.8));
            unwedge_collect::scan_until(args.interval, until).map_err(|e| Fatal(e.to_string()))?
        }
    };
    if let Some(path) = &args.save_snapshot {
        let file = std::fs::File::create(path).map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?;
        let mut w = std::io::BufWriter::new(file);
        serde_json::to_writer(&mut w, &scan).map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?;
        w.flush().map_err(|e| Fatal(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(pid) = args.pid {
        let last = scan.snapshots.last().expect("checked non-empty");
        if !last.processes.iter().any(|p| p.pid == pid) && !scan.snapshots[0].processes.iter().any(|p| p.pid == pid) {
            return Err(Fatal(format!("no process with pid {pid}")));
        }
    }
    let thresholds = Thresholds {
        close_wait_min: args.close_wait_min as usize,
        close_wait_critical: args.close_wait_critical as usize,
        idle_ms: args.idle.as_millis().min(u32::MAX as u128) as u32,
        fd_warning_pct: args.fd_warning,
        fd_critical_pct: args.fd_critical,
        zombie_min: args.zombie_min as usize,
        zombie_critical: args.zombie_critical.max(args.zombie_min) as usize,
    };
    let analysis = unwedge_analyze::analyze(&scan, &thresholds);
    let mut report = build_report(&scan, analysis, started.elapsed());
    report
        .findings
        .retain(|f| args.pid.is_none_or(|p| f.pid == Some(p)) && args.port.is_none_or(|p| f.port == Some(p)));

    let stdout = std::io::stdout();
    let res = if args.json {
        let mut out = stdout.lock();
        render::json::write(&mut out, &report)
    } else {
        let mut out = anstream::AutoStream::auto(stdout.lock());
        render::human::write(&mut out, &report)
    };
    res.map_err(|e| Fatal(e.to_string()))?;
    Ok(if report.has_alarm() { 1 } else { 0 })
}

pub fn build_report(scan: &Scan, analysis: unwedge_analyze::Analysis, elapsed: Duration) -> Report {
    let first = &scan.snapshots[0];
    let last = scan.snapshots.last().expect("non-empty");
    let mut skipped = BTreeMap::new();
    for s in scan.snapshots.iter().flat_map(|s| &s.skipped) {
        skipped.entry(s.pid).or_insert_with(|| s.clone());
    }
    let mut notes: Vec<String> = Vec::new();
    for n in scan.snapshots.iter().flat_map(|s| &s.notes).chain(&analysis.notes) {
        if !notes.contains(n) {
            notes.push(n.clone());
        }
    }
    let interval_ms = last.taken_at_ms.saturating_sub(first.taken_at_ms);
    Report {
        unwedge_version: env!("CARGO_PKG_VERSION").into(),
        host: last.hostname.clone(),
        taken_at: humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(first.taken_at_ms)).to_string(),
        interval_ms,
        duration_ms: elapsed.as_millis() as u64,
        coverage: Coverage {
            processes: last.processes.len(),
            threads: last.processes.iter().map(|p| p.threads.len()).sum(),
            sockets: last.sockets.len(),
            netns: last.netns.len(),
            skipped: skipped.into_values().collect(),
            notes,
        },
        findings: analysis.findings,
        groups: analysis.groups,
    }
}
