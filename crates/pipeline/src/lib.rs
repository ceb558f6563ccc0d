//! The one pipeline every command that reports findings runs: collect (or
//! load recorded snapshots) -> analyze -> report, then optionally filter.
//! `unwedge scan`, `unwedge serve` and any later `watch` call this and only
//! render what it returns, so a threshold or a fix applies to all of them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};
pub use unwedge_analyze::Thresholds;
use unwedge_collect::CollectError;
use unwedge_model::{Coverage, Report, Scan};

/// Where the snapshots come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// This host, now: two snapshots `interval` apart (one if zero); the
    /// /proc walk stops at `until` and reports what it has. `record`: the
    /// snapshots will be saved (`--save-snapshot`), so every process is
    /// read in full and the first snapshot is kept whole; otherwise only
    /// what the analysis uses is read and kept.
    Live { interval: Duration, until: Option<Instant>, record: bool },
    /// Snapshots recorded with `--save-snapshot`.
    Recorded(PathBuf),
}

#[derive(Debug)]
pub enum PipelineError {
    Collect(CollectError),
    Read { path: PathBuf, err: std::io::Error },
    NotASnapshot { path: PathBuf, err: serde_json::Error },
    Empty { path: PathBuf },
    Write { path: PathBuf, err: std::io::Error },
}

impl std::fmt::Display for PipelineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineError::Collect(e) => e.fmt(f),
            PipelineError::Read { path, err } => write!(f, "cannot read {}: {err}", path.display()),
            PipelineError::NotASnapshot { path, err } => {
                write!(f, "{} is not an unwedge snapshot file: {err}", path.display())
            }
            PipelineError::Empty { path } => write!(f, "{} holds no snapshot", path.display()),
            PipelineError::Write { path, err } => write!(f, "cannot write {}: {err}", path.display()),
        }
    }
}

impl std::error::Error for PipelineError {}

impl From<CollectError> for PipelineError {
    fn from(e: CollectError) -> Self {
        PipelineError::Collect(e)
    }
}

/// Takes (or loads) the snapshots.
pub fn snapshots(input: &Input) -> Result<Scan, PipelineError> {
    match input {
        Input::Live { interval, until, record } => {
            let (detail, trim_first): (_, Option<fn(&mut unwedge_model::Snapshot)>) = if *record {
                (unwedge_collect::Detail::Full, None)
            } else {
                (unwedge_collect::Detail::Needed, Some(unwedge_analyze::keep_for_comparison))
            };
            Ok(unwedge_collect::scan_with(&unwedge_collect::ScanOptions {
                interval: *interval,
                until: *until,
                detail,
                trim_first,
            })?)
        }
        Input::Recorded(path) => load(path),
    }
}

/// Reads a file written by [`save`].
pub fn load(path: &Path) -> Result<Scan, PipelineError> {
    let text = std::fs::read(path).map_err(|err| PipelineError::Read { path: path.into(), err })?;
    let scan: Scan =
        serde_json::from_slice(&text).map_err(|err| PipelineError::NotASnapshot { path: path.into(), err })?;
    if scan.snapshots.is_empty() {
        return Err(PipelineError::Empty { path: path.into() });
    }
    Ok(scan)
}

/// Writes the raw snapshots (a bug report, a fixture).
pub fn save(path: &Path, scan: &Scan) -> Result<(), PipelineError> {
    let err = |err| PipelineError::Write { path: path.into(), err };
    let file = std::fs::File::create(path).map_err(err)?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, scan).map_err(|e| err(e.into()))?;
    w.flush().map_err(err)
}

/// Analyses the snapshots (both passes) into the contract's report.
/// `elapsed` is the wall time of the whole scan, for `duration_ms`.
pub fn report(scan: &Scan, thresholds: &Thresholds, elapsed: Duration) -> Report {
    let analysis = unwedge_analyze::analyze(scan, thresholds);
    let Some(last) = scan.snapshots.last() else {
        return Report {
            unwedge_version: env!("CARGO_PKG_VERSION").into(),
            host: String::new(),
            taken_at: String::new(),
            interval_ms: 0,
            duration_ms: elapsed.as_millis() as u64,
            coverage: Coverage { notes: analysis.notes, ..Coverage::default() },
            findings: analysis.findings,
            groups: analysis.groups,
        };
    };
    let first = &scan.snapshots[0];
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
    Report {
        unwedge_version: env!("CARGO_PKG_VERSION").into(),
        host: last.hostname.clone(),
        taken_at: humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(first.taken_at_ms)).to_string(),
        interval_ms: last.taken_at_ms.saturating_sub(first.taken_at_ms),
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

/// Snapshots in, report out: what `unwedge scan` and each background scan
/// of `unwedge serve` do.
pub fn run(input: &Input, thresholds: &Thresholds) -> Result<(Scan, Report), PipelineError> {
    let started = Instant::now();
    let scan = snapshots(input)?;
    let report = report(&scan, thresholds, started.elapsed());
    Ok((scan, report))
}

/// Which findings a reader asked for (`--pid`, `--port`, `?pid=`, `?port=`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub pid: Option<u32>,
    pub port: Option<u16>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.pid.is_none() && self.port.is_none()
    }

    /// Keeps the findings asked for, and the groups that still have one.
    pub fn apply(&self, report: &mut Report) {
        if self.is_empty() {
            return;
        }
        report
            .findings
            .retain(|f| self.pid.is_none_or(|p| f.pid == Some(p)) && self.port.is_none_or(|p| f.port == Some(p)));
        let kept: Vec<&str> = report.findings.iter().filter_map(|f| f.group.as_deref()).collect();
        report.groups.retain(|g| kept.contains(&g.id.as_str()));
    }
}

/// The pid does not exist in any snapshot: `--pid` names nothing.
pub fn has_process(scan: &Scan, pid: u32) -> bool {
    scan.snapshots.iter().any(|s| s.processes.iter().any(|p| p.pid == pid))
}
