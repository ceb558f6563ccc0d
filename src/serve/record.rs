//! `serve --record DIR`: a flight recorder, so that a hang "fixed" by a
//! restart (a liveness probe, systemd, `kill -9`) still leaves its
//! evidence. When a warning or critical finding appears, or one gets
//! worse, that very scan is kept in DIR/ID/: its HTML page (page.html) and
//! its snapshot pair, gzipped (snapshots.json.gz; `unwedge scan
//! --from-snapshot DIR/ID` analyses it again with today's detectors). The
//! page does not embed the snapshots: a busy host's pair is tens of
//! megabytes, which a browser should not have to parse to show a report.
//!
//! Bounded three ways: a cooldown per finding identity (kind, pid, port,
//! netns), a burst of at most [`BURST`] recordings per cooldown for the
//! whole host (a service that crash-loops gets a new pid each time), and
//! `--record-max` bytes for the directory, the oldest recording evicted
//! first (before the new one is written, so the cap is never exceeded).
//! Each recording is written into a temporary directory in DIR, synced,
//! then renamed: a crash or a full disk leaves no torn recording, only a
//! temporary directory that the next start removes. Files are 0600,
//! directories 0700. Writes run on their own thread: a slow or full disk never
//! delays a scan, let alone a scrape.
//!
//! The scan loop feeds it through [`Recorder::observe`] with each report
//! and its snapshots; nothing else about the loop matters to it.

use crate::render::html::{self, Extras};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use unwedge_model::{Report, Scan, Severity};

/// Recordings the whole host may make within one cooldown.
pub const BURST: usize = 5;

/// A recording's page, in its directory.
pub const PAGE: &str = "page.html";

/// What `serve --record*` asked for.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub cooldown: Duration,
    /// `--no-redact`: said in each page's header.
    pub unredacted: bool,
}

/// One recording, as `GET /v1/recordings` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Meta {
    /// Its directory's name: `20260107T140750Z-close_wait_leak`.
    pub id: String,
    /// When the scan was taken (RFC 3339).
    pub time: String,
    /// The title of the most severe cause.
    pub headline: String,
    /// The kinds of its warning and critical findings.
    pub kinds: Vec<String>,
    pub bytes: u64,
}

impl Meta {
    fn of(id: String, report: &Report, bytes: u64) -> Meta {
        let alarms = || report.findings.iter().filter(|f| f.severity.is_alarm());
        let head = alarms().filter(|f| f.caused_by.is_empty()).max_by_key(|f| f.severity).or_else(|| alarms().next());
        let mut kinds: Vec<String> = Vec::new();
        for k in alarms().map(|f| f.kind().name().to_string()) {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        Meta {
            id,
            time: report.taken_at.clone(),
            headline: head.map(|f| f.title.clone()).unwrap_or_default(),
            kinds,
            bytes,
        }
    }
}

/// The recordings on disk, shared by the writer and the HTTP handlers.
pub struct Shelf {
    pub dir: PathBuf,
    /// Oldest first.
    list: Mutex<Vec<Meta>>,
    /// Recordings written since serve started.
    pub written: AtomicU64,
    /// Recordings that could not be written (a full disk, larger than the cap).
    pub failed: AtomicU64,
}

impl Shelf {
    /// The recordings, newest first.
    pub fn list(&self) -> Vec<Meta> {
        let mut v = self.list.lock().unwrap_or_else(|p| p.into_inner()).clone();
        v.reverse();
        v
    }

    pub fn bytes(&self) -> u64 {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|m| m.bytes).sum()
    }

    /// The page of a listed recording (ids are checked against the list, never used as paths blindly).
    pub fn path_of(&self, id: &str) -> Option<PathBuf> {
        let listed = self.list.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|m| m.id == id);
        listed.then(|| self.dir.join(id).join(PAGE))
    }
}

/// The finding a cooldown is about.
type Identity = (unwedge_model::Kind, Option<u32>, Option<u16>, Option<u64>);

/// Which scans to record: pure, so that flapping and cooldowns are tested
/// without a clock.
#[derive(Clone)]
pub struct Trigger {
    cooldown_ms: u64,
    /// The alarms of the last scan (those already recorded or not new).
    last: HashMap<Identity, Severity>,
    /// When each identity was last recorded, at which severity.
    recorded: HashMap<Identity, (u64, Severity)>,
    /// When the recordings of the last cooldown were made.
    recent: VecDeque<u64>,
}

impl Trigger {
    pub fn new(cooldown: Duration) -> Trigger {
        Trigger {
            cooldown_ms: cooldown.as_millis() as u64,
            last: HashMap::new(),
            recorded: HashMap::new(),
            recent: VecDeque::new(),
        }
    }

    /// Whether the scan whose report this is should be recorded: a warning
    /// or critical finding appeared or got more severe, and neither its
    /// identity's cooldown nor the host's burst holds it back. A finding
    /// held back by the burst stays new until it can be recorded.
    pub fn observe(&mut self, report: &Report, now_ms: u64) -> bool {
        let mut now: HashMap<Identity, Severity> = HashMap::new();
        for f in report.findings.iter().filter(|f| f.severity.is_alarm()) {
            let e = now.entry((f.kind(), f.pid, f.port, f.netns)).or_insert(f.severity);
            *e = (*e).max(f.severity);
        }
        let cooldown = self.cooldown_ms;
        self.recorded.retain(|_, (at, _)| now_ms.saturating_sub(*at) < cooldown);
        while self.recent.front().is_some_and(|&at| now_ms.saturating_sub(at) >= cooldown) {
            self.recent.pop_front();
        }
        let fresh: Vec<Identity> = now
            .iter()
            .filter(|(id, sev)| self.last.get(id).is_none_or(|was| *sev > was))
            .filter(|(id, sev)| self.recorded.get(id).is_none_or(|(_, was)| *sev > was))
            .map(|(id, _)| *id)
            .collect();
        let record = !fresh.is_empty() && self.recent.len() < BURST;
        if record {
            self.recent.push_back(now_ms);
            for (id, sev) in &now {
                self.recorded.insert(*id, (now_ms, *sev));
            }
        } else {
            // Not recorded: what was fresh stays fresh for the next scan.
            for id in &fresh {
                now.remove(id);
            }
        }
        self.last = now;
        record
    }
}

struct Job {
    report: Arc<Report>,
    scan: Scan,
    at_ms: u64,
}

/// Owned by the scan loop.
pub struct Recorder {
    trigger: Trigger,
    jobs: SyncSender<Job>,
}

/// Why `--record DIR` cannot be used.
#[derive(Debug)]
pub struct RecordError {
    pub dir: PathBuf,
    pub err: std::io::Error,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--record {}: {}", self.dir.display(), self.err)
    }
}

impl Recorder {
    /// Makes DIR (0700) if missing, removes temporary files a crash left,
    /// lists what is there, evicts down to the cap and starts the writer.
    pub fn start(cfg: Config) -> Result<(Recorder, Arc<Shelf>), RecordError> {
        let fail = |err| RecordError { dir: cfg.dir.clone(), err };
        if !cfg.dir.is_dir() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&cfg.dir).map_err(fail)?;
        }
        let list = load(&cfg.dir).map_err(fail)?;
        let shelf = Arc::new(Shelf {
            dir: cfg.dir.clone(),
            list: Mutex::new(list),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        evict(&shelf, cfg.max_bytes, 0);
        let (tx, rx) = sync_channel::<Job>(1);
        let writer = shelf.clone();
        let wcfg = cfg.clone();
        std::thread::Builder::new()
            .name("record".into())
            .spawn(move || {
                for job in rx {
                    write_one(&writer, &wcfg, &job);
                }
            })
            .map_err(fail)?;
        Ok((Recorder { trigger: Trigger::new(cfg.cooldown), jobs: tx }, shelf))
    }

    /// Called with every good scan; records it when the trigger says so.
    /// The snapshots are handed over only then (no copy otherwise). While
    /// the writer is still busy with the last recording, this scan is not
    /// recorded and the trigger forgets it saw it: the next scan that
    /// still shows the finding is recorded instead.
    pub fn observe(&mut self, report: &Arc<Report>, scan: impl FnOnce() -> Scan, at_ms: u64) {
        let before = self.trigger.clone();
        if !self.trigger.observe(report, at_ms) {
            return;
        }
        let job = Job { report: report.clone(), scan: scan(), at_ms };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.jobs.try_send(job) {
            self.trigger = before;
        }
    }
}

/// Renders, makes room, writes atomically, lists.
fn write_one(shelf: &Shelf, cfg: &Config, job: &Job) {
    let id = new_id(shelf, &job.report, job.at_ms);
    let fail = |what: String| {
        shelf.failed.fetch_add(1, Ordering::Relaxed);
        eprintln!("unwedge serve: recording {id} not made: {what}");
    };
    let subtitle = format!(
        "Recorded by unwedge serve --record at {}: a finding appeared or got worse. `unwedge scan --from-snapshot {}` analyses its snapshots again.",
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(job.at_ms)),
        cfg.dir.join(&id).display()
    );
    let extras = Extras { subtitle: Some(subtitle), unredacted: cfg.unredacted, ..Default::default() };
    let page = match html::render(&job.report, &extras) {
        Ok(p) => p.into_bytes(),
        Err(e) => return fail(e),
    };
    let snapshots = match unwedge_pipeline::save_compressed(Vec::new(), &job.scan) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let bytes = (page.len() + snapshots.len()) as u64;
    if bytes > cfg.max_bytes {
        return fail(format!("{bytes} bytes is more than --record-max {}", cfg.max_bytes));
    }
    evict(shelf, cfg.max_bytes, bytes);
    match write_atomically(&cfg.dir, &id, &page, &snapshots) {
        Ok(()) => {
            shelf.list.lock().unwrap_or_else(|p| p.into_inner()).push(Meta::of(id, &job.report, bytes));
            shelf.written.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => fail(e.to_string()),
    }
}

/// `20260107T140750Z-close_wait_leak`, unique in the shelf.
fn new_id(shelf: &Shelf, report: &Report, at_ms: u64) -> String {
    let t = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(at_ms)).to_string();
    let stamp: String = t.chars().filter(|c| *c != '-' && *c != ':').collect();
    let kind = Meta::of(String::new(), report, 0).kinds.into_iter().next().unwrap_or_else(|| "finding".into());
    let base = format!("{stamp}-{kind}");
    let list = shelf.list.lock().unwrap_or_else(|p| p.into_inner());
    let taken = |id: &str| list.iter().any(|m| m.id == id);
    let mut id = base.clone();
    let mut n = 2;
    while taken(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// Removes the oldest recordings until `incoming` more bytes fit under `max`.
fn evict(shelf: &Shelf, max: u64, incoming: u64) {
    let mut list = shelf.list.lock().unwrap_or_else(|p| p.into_inner());
    while !list.is_empty() && list.iter().map(|m| m.bytes).sum::<u64>() + incoming > max {
        let old = list.remove(0);
        let path = shelf.dir.join(&old.id);
        if let Err(e) = std::fs::remove_dir_all(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("unwedge serve: cannot evict {}: {e}", path.display());
            }
        }
    }
}

/// A temporary directory, its files synced, renamed into place, the parent
/// synced: the recording is whole or absent. On any error the temporary
/// directory is removed.
fn write_atomically(dir: &Path, id: &str, page: &[u8], snapshots: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let tmp = dir.join(format!(".tmp-{id}"));
    let done = (|| {
        std::fs::DirBuilder::new().mode(0o700).create(&tmp)?;
        for (name, bytes) in [(PAGE, page), (unwedge_pipeline::RECORDING_SNAPSHOTS, snapshots)] {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp.join(name))?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dir.join(id))?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if done.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    done
}

/// Whether a directory name is a recording's (`YYYYMMDDTHHMMSSZ-…`).
pub fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    let stamp = b.len() > 17
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-';
    stamp && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// The recordings already in DIR, oldest first; temporary directories a
/// crash left are removed. A page's report block gives its headline and kinds.
fn load(dir: &Path) -> std::io::Result<Vec<Meta>> {
    let mut list = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            let _ = std::fs::remove_dir_all(entry.path());
            continue;
        }
        if !valid_id(&name) || !entry.file_type()?.is_dir() {
            continue;
        }
        let mut bytes = 0;
        for f in std::fs::read_dir(entry.path())? {
            bytes += f?.metadata()?.len();
        }
        let report = std::fs::read(entry.path().join(PAGE)).ok().and_then(|text| embedded_report(&text));
        list.push(match report {
            Some(r) => Meta::of(name, &r, bytes),
            None => Meta { id: name, time: String::new(), headline: String::new(), kinds: Vec::new(), bytes },
        });
    }
    list.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(list)
}

/// The report a page embeds (`<script type="application/json" id="unwedge-report">`).
fn embedded_report(text: &[u8]) -> Option<Report> {
    let open = b"<script type=\"application/json\" id=\"unwedge-report\">";
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(text, open)? + open.len();
    let end = start + find(&text[start..], b"</script>")?;
    serde_json::from_slice(&text[start..end]).ok()
}

#[cfg(test)]
mod tests;
