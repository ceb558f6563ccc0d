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
use unwedge_model::{Coverage, Report, Scan, Snapshot};
pub use unwedge_stacks::Mode as StackMode;

mod continuous;
mod stacks;
pub use continuous::Continuous;
pub use stacks::{read_stacks, Stacks};

/// Where the snapshots come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// This host, now: two snapshots `interval` apart (one if zero); the
    /// /proc walk stops at `until` and reports what it has. `record`: the
    /// snapshots will be saved (`--save-snapshot`), so every process is
    /// read in full and the first snapshot is kept whole; otherwise only
    /// what the analysis uses is read and kept. `keep_secrets`
    /// (`--no-redact`): command lines verbatim, credentials and all.
    Live { interval: Duration, until: Option<Instant>, record: bool, keep_secrets: bool },
    /// Snapshots recorded with `--save-snapshot`; their command lines are
    /// redacted again as they are loaded unless `keep_secrets`.
    Recorded { path: PathBuf, keep_secrets: bool },
}

#[derive(Debug)]
pub enum PipelineError {
    Collect(CollectError),
    Read {
        path: PathBuf,
        err: std::io::Error,
    },
    NotASnapshot {
        path: PathBuf,
        err: serde_json::Error,
    },
    Empty {
        path: PathBuf,
    },
    /// An HTML report written without `--save-snapshot`: it has the report, not the data.
    HtmlWithoutSnapshots {
        path: PathBuf,
    },
    Write {
        path: PathBuf,
        err: std::io::Error,
    },
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
            PipelineError::HtmlWithoutSnapshots { path } => write!(
                f,
                "{} is an HTML report without embedded snapshots (write it with `scan --html F --save-snapshot S` to embed them)",
                path.display()
            ),
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
        Input::Live { interval, until, record, keep_secrets } => {
            let (detail, trim_first): (_, Option<fn(&mut unwedge_model::Snapshot)>) = if *record {
                (unwedge_collect::Detail::Full, None)
            } else {
                (unwedge_collect::Detail::Needed, Some(unwedge_analyze::keep_for_comparison))
            };
            let mut scan = unwedge_collect::scan_with(&unwedge_collect::ScanOptions {
                interval: *interval,
                until: *until,
                detail,
                trim_first,
                keep_secrets: *keep_secrets,
                after_first: Some(read_jvm_counters),
            })?;
            read_last_jvm_counters(&mut scan);
            Ok(scan)
        }
        Input::Recorded { path, keep_secrets } => {
            let mut scan = load(path)?;
            if !keep_secrets {
                unwedge_model::redact::scan(&mut scan);
            }
            Ok(scan)
        }
    }
}

/// Reads the hsperfdata counters of every HotSpot JVM of a snapshot into
/// it (`Process::jvm`): a file each JVM keeps for `jstat`, read without
/// asking the JVM anything. Run on the first snapshot as soon as it is taken.
fn read_jvm_counters(snap: &mut unwedge_model::Snapshot) {
    for p in snap.processes.iter_mut().filter(|p| unwedge_model::jvm::is_jvm(p)) {
        p.jvm = Some(unwedge_stacks::jvm::process_facts(p.pid, None));
    }
}

/// The same for the last snapshot, opening each JVM's file again by the
/// path the first read found (the same process: same start time).
fn read_last_jvm_counters(scan: &mut Scan) {
    let [first, .., last] = scan.snapshots.as_mut_slice() else {
        if let Some(only) = scan.snapshots.first_mut() {
            read_jvm_counters(only);
        }
        return;
    };
    for p in last.processes.iter_mut().filter(|p| unwedge_model::jvm::is_jvm(p)) {
        let prev = first
            .processes
            .iter()
            .find(|q| q.pid == p.pid && q.start_ticks == p.start_ticks)
            .and_then(|q| q.jvm.as_ref());
        p.jvm = Some(unwedge_stacks::jvm::process_facts(p.pid, prev));
    }
}

/// The id of the `<script type="application/json">` block in which an HTML
/// report (`scan --html`) carries its raw snapshots.
pub const HTML_SNAPSHOT_ID: &str = "unwedge-snapshot";

/// The snapshots JSON inside an HTML report, if the file is one. The block
/// holds plain JSON (its `<`, `>`, `&` written as \u escapes): no unescaping.
fn embedded_snapshots(text: &[u8]) -> Option<Result<&[u8], ()>> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    if text[start] != b'<' {
        return None;
    }
    let open = format!("<script type=\"application/json\" id=\"{HTML_SNAPSHOT_ID}\">");
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let Some(i) = find(text, open.as_bytes()) else { return Some(Err(())) };
    let body = &text[i + open.len()..];
    Some(find(body, b"</script>").map(|j| &body[..j]).ok_or(()))
}

/// The snapshots of a recording (`serve --record`), gzipped, in its directory.
pub const RECORDING_SNAPSHOTS: &str = "snapshots.json.gz";

/// Reads a file written by [`save`] (gzipped or not), the snapshots
/// embedded in an HTML report written with them (`scan --html F
/// --save-snapshot S`), or a recording's directory (`serve --record`).
pub fn load(path: &Path) -> Result<Scan, PipelineError> {
    if path.is_dir() {
        return load(&path.join(RECORDING_SNAPSHOTS));
    }
    let raw = std::fs::read(path).map_err(|err| PipelineError::Read { path: path.into(), err })?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
            .map_err(|err| PipelineError::Read { path: path.into(), err })?;
        out
    } else {
        raw
    };
    let json = match embedded_snapshots(&text) {
        None => &text[..],
        Some(Ok(json)) => json,
        Some(Err(())) => return Err(PipelineError::HtmlWithoutSnapshots { path: path.into() }),
    };
    let scan: Scan =
        serde_json::from_slice(json).map_err(|err| PipelineError::NotASnapshot { path: path.into(), err })?;
    if scan.snapshots.is_empty() {
        return Err(PipelineError::Empty { path: path.into() });
    }
    Ok(scan)
}

/// Writes the raw snapshots (a bug report, a fixture), readable by its owner only.
pub fn save(path: &Path, scan: &Scan) -> Result<(), PipelineError> {
    let err = |err| PipelineError::Write { path: path.into(), err };
    let file = create_private(path).map_err(err)?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, scan).map_err(|e| err(e.into()))?;
    w.flush().map_err(err)
}

/// Writes the snapshots gzipped to `w` (a recording's [`RECORDING_SNAPSHOTS`]):
/// a host's sockets compress about tenfold.
pub fn save_compressed<W: Write>(w: W, scan: &Scan) -> std::io::Result<W> {
    let mut gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(w), flate2::Compression::fast());
    serde_json::to_writer(&mut gz, scan)?;
    gz.finish()?.into_inner().map_err(|e| e.into_error())
}

/// Creates (or truncates) a file for writing, mode 0600: every file unwedge
/// writes holds the host's process names and command lines. A regular file
/// that existed with a wider mode is narrowed; anything else (`/dev/stdout`,
/// a pipe) is written as it is.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes `bytes` to a file made by [`create_private`].
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = create_private(path)?;
    f.write_all(bytes)?;
    f.flush()
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
    let interval_ms = last.taken_at_ms.saturating_sub(first.taken_at_ms);
    let all: Vec<&Snapshot> = scan.snapshots.iter().collect();
    build_report(analysis, &all, interval_ms, elapsed)
}

/// The report of an analysis of `snapshots` (oldest first): coverage from
/// the last, skipped processes and notes from all.
pub(crate) fn build_report(
    analysis: unwedge_analyze::Analysis,
    snapshots: &[&Snapshot],
    interval_ms: u64,
    elapsed: Duration,
) -> Report {
    let (first, last) = (snapshots[0], snapshots[snapshots.len() - 1]);
    let mut skipped = BTreeMap::new();
    for s in snapshots.iter().flat_map(|s| &s.skipped) {
        skipped.entry(s.pid).or_insert_with(|| s.clone());
    }
    let mut notes: Vec<String> = Vec::new();
    for n in snapshots.iter().flat_map(|s| &s.notes).chain(&analysis.notes) {
        if !notes.contains(n) {
            notes.push(n.clone());
        }
    }
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

/// Snapshots in, report out: what `unwedge scan` and each background scan
/// of `unwedge serve` do. User stacks are read (live input only) for the
/// threads the findings report.
pub fn run(input: &Input, thresholds: &Thresholds, stacks: &mut Stacks) -> Result<(Scan, Report), PipelineError> {
    let started = Instant::now();
    let mut scan = snapshots(input)?;
    if let Input::Live { until, .. } = input {
        stacks.until = *until;
        read_stacks(&mut scan, thresholds, stacks, &Filter::default());
    }
    let report = report(&scan, thresholds, started.elapsed());
    Ok((scan, report))
}

/// Which findings a reader asked for (`--pid`, `--port`, `--path`, `?pid=`,
/// `?port=`, `?path=`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub pid: Option<u32>,
    pub port: Option<u16>,
    /// A unix listener's path (or `@name`), as findings carry it in `path`.
    pub path: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.pid.is_none() && self.port.is_none() && self.path.is_none()
    }

    /// A path as the user may write it: `unix:/run/x.sock` or `/run/x.sock`.
    pub fn unix_path(p: &str) -> String {
        p.strip_prefix("unix:").unwrap_or(p).to_string()
    }

    /// Whether a finding is about the listener asked for (port and path alike).
    pub(crate) fn on_listener(&self, f: &unwedge_model::Finding) -> bool {
        self.port.is_none_or(|p| f.port == Some(p)) && self.path.as_ref().is_none_or(|p| f.path.as_ref() == Some(p))
    }

    /// Which of `findings` (linked: their `caused_by` set) the reader
    /// asked for, with what causes them, transitively: what [`Filter::apply`]
    /// keeps, and whose threads' stacks are read.
    pub(crate) fn keeps(&self, findings: &[unwedge_model::Finding]) -> Vec<bool> {
        keeps(findings, |f| {
            self.pid.is_none_or(|p| f.pid == Some(p) || f.evidence.owners().contains(&p)) && self.on_listener(f)
        })
    }

    /// Keeps the findings asked for, and what causes them (a stalled queue
    /// on the port asked for is told with the fd limit behind it); and the
    /// groups that still have one. A listener finding is about every
    /// process holding the socket (`--pid` of a pre-fork master finds its
    /// workers' stalled queue).
    pub fn apply(&self, report: &mut Report) {
        if self.is_empty() {
            return;
        }
        let keep = self.keeps(&report.findings);
        keep_only(report, keep);
    }
}

/// Which of `findings` `wanted` says, with what causes them, transitively.
fn keeps(findings: &[unwedge_model::Finding], wanted: impl Fn(&unwedge_model::Finding) -> bool) -> Vec<bool> {
    let mut keep: Vec<bool> = findings.iter().map(wanted).collect();
    // Causes of kept findings, transitively (the links form no cycle; bounded anyway).
    for _ in 0..findings.len() {
        let causes: Vec<String> =
            findings.iter().zip(&keep).filter(|(_, k)| **k).flat_map(|(f, _)| f.caused_by.iter().cloned()).collect();
        let mut grew = false;
        for (f, k) in findings.iter().zip(keep.iter_mut()) {
            if !*k && causes.contains(&f.id) {
                *k = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    keep
}

/// Keeps the findings `wanted` says, and what causes them, transitively;
/// and the groups that still have one. What [`Filter`] does, for any test
/// (`stop --capture` keeps those about any of its targets).
pub fn retain(report: &mut Report, wanted: impl Fn(&unwedge_model::Finding) -> bool) {
    let keep = keeps(&report.findings, wanted);
    keep_only(report, keep);
}

fn keep_only(report: &mut Report, keep: Vec<bool>) {
    let mut it = keep.into_iter();
    report.findings.retain(|_| it.next().unwrap_or(false));
    let kept: Vec<&str> = report.findings.iter().filter_map(|f| f.group.as_deref()).collect();
    report.groups.retain(|g| kept.contains(&g.id.as_str()));
}

/// The pid does not exist in any snapshot: `--pid` names nothing.
pub fn has_process(scan: &Scan, pid: u32) -> bool {
    scan.snapshots.iter().any(|s| s.processes.iter().any(|p| p.pid == pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzipped_snapshots_and_a_recording_directory_load() {
        let dir = std::env::temp_dir().join(format!("unwedge-pipeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scan = Scan { snapshots: vec![unwedge_model::Snapshot { hostname: "h1".into(), ..Default::default() }] };
        let gz = save_compressed(Vec::new(), &scan).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        std::fs::write(dir.join(RECORDING_SNAPSHOTS), &gz).unwrap();
        assert_eq!(load(&dir.join(RECORDING_SNAPSHOTS)).unwrap().snapshots[0].hostname, "h1");
        assert_eq!(load(&dir).unwrap().snapshots[0].hostname, "h1", "a recording's directory");
        let plain = dir.join("plain.json");
        save(&plain, &scan).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&plain).unwrap().snapshots[0].hostname, "h1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshots_are_found_inside_an_html_report() {
        assert!(embedded_snapshots(b" {\"snapshots\": []}").is_none(), "plain JSON is read as is");
        let page = format!(
            "<!doctype html><p>x</p><script type=\"application/json\" id=\"{HTML_SNAPSHOT_ID}\">{{\"a\":\"\\u003c/script\\u003e\"}}</script>"
        );
        assert_eq!(embedded_snapshots(page.as_bytes()), Some(Ok(&b"{\"a\":\"\\u003c/script\\u003e\"}"[..])));
        assert_eq!(embedded_snapshots(b"<!doctype html><p>report only</p>"), Some(Err(())));
    }
}
