//! `unwedge serve`: the latest scan as a JSON API and Prometheus metrics,
//! so that a fleet is watched by the Prometheus it already runs.
//!
//! One background thread scans (synchronously, as `unwedge scan` does) and
//! publishes the rendered report and metrics; requests only copy what was
//! published last, so a scrape never waits on a scan. Safe by default:
//! loopback only without a token, bounded request heads, a header-read
//! timeout, connection caps (per source and in all), and no subprocess ever.

pub mod auth;
pub mod limits;
pub mod metrics;
pub mod page;
mod probe;
pub mod record;
mod respond;
mod routes;

use crate::error::Fatal;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use limits::Cidr;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;
use unwedge_model::Report;

pub struct Config {
    pub listen: SocketAddr,
    pub scan_interval: Duration,
    /// The bearer token; `None` only on a loopback address.
    pub token: Option<Vec<u8>>,
    /// Where probes may connect to (checked after name resolution).
    pub allow: Vec<Cidr>,
    pub metrics_public: bool,
    pub top_n: usize,
    /// What each background scan reads (the live host, or recorded snapshots).
    pub input: unwedge_pipeline::Input,
    pub thresholds: unwedge_pipeline::Thresholds,
    /// How user stacks are read; the reader (and its symbol cache) lives as long as the scan thread.
    pub stacks: unwedge_pipeline::StackMode,
    /// `--record DIR`: the flight recorder, off when `None`.
    pub record: Option<record::Config>,
    /// `--no-redact`: command lines are verbatim, which the page says.
    pub keep_secrets: bool,
    /// Continuous mode (one snapshot per scan, compared with the last) for live input; else pairs.
    pub continuous: bool,
}

/// What the last scan produced, pre-rendered.
pub struct Latest {
    pub report: Option<Arc<Report>>,
    /// `report` as contract JSON (empty before the first scan).
    pub report_json: Bytes,
    /// `/metrics` in OpenMetrics (what Prometheus asks for) and in the
    /// classic text format (everyone else).
    pub metrics: Bytes,
    pub metrics_classic: Bytes,
    /// `/`: the HTML page of `report` with the last hour's charts (empty before the first scan).
    pub page: Bytes,
    pub scans: u64,
    pub scan_errors: u64,
    /// When the last scan finished, ok or not.
    pub finished: Option<Instant>,
    /// How the scans read the host (for /healthz): `None` in pairs mode.
    pub continuous: Option<ContinuousStats>,
}

/// What continuous mode did so far (`/healthz`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ContinuousStats {
    pub looks: u64,
    pub cache: unwedge_collect::CacheStats,
    pub stacks_read: u64,
    pub stacks_reused: u64,
}

pub struct State {
    pub cfg: Config,
    pub latest: RwLock<Latest>,
    /// Per-client limits of the probe endpoints.
    pub probes: probe::Gate,
    /// The recordings, when `--record` is on.
    pub shelf: Option<Arc<record::Shelf>>,
}

impl State {
    pub fn new(cfg: Config) -> State {
        let mut latest = Latest {
            report: None,
            report_json: Bytes::new(),
            metrics: Bytes::new(),
            metrics_classic: Bytes::new(),
            page: Bytes::new(),
            scans: 0,
            scan_errors: 0,
            finished: None,
            continuous: None,
        };
        latest.set_metrics(metrics::render(None, 0, cfg.top_n, None));
        State { cfg, latest: RwLock::new(latest), probes: probe::Gate::default(), shelf: None }
    }

    /// What /metrics says about the recordings.
    fn recordings(&self) -> Option<metrics::Recordings> {
        self.shelf.as_ref().map(|s| metrics::Recordings {
            written: s.written.load(std::sync::atomic::Ordering::Relaxed),
            failed: s.failed.load(std::sync::atomic::Ordering::Relaxed),
            bytes: s.bytes(),
        })
    }
}

impl Latest {
    fn set_metrics(&mut self, openmetrics: String) {
        self.metrics_classic = Bytes::from(metrics::to_classic_text(&openmetrics));
        self.metrics = Bytes::from(openmetrics);
    }
}

/// Binds, prints where, then serves until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> Result<(), Fatal> {
    // Before listening: a bad --record DIR is one line and exit 2, and "listening" means ready.
    let recorder = match cfg.record.clone() {
        Some(rc) => {
            let (dir, max) = (rc.dir.clone(), rc.max_bytes);
            let (recorder, shelf) = record::Recorder::start(rc).map_err(Fatal::Record)?;
            eprintln!(
                "unwedge serve: recording incidents to {} ({} recordings there, {} of {max} bytes)",
                dir.display(),
                shelf.list().len(),
                shelf.bytes()
            );
            Some((recorder, shelf))
        }
        None => None,
    };
    let listener = std::net::TcpListener::bind(cfg.listen).map_err(|err| Fatal::Listen { addr: cfg.listen, err })?;
    let local = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    eprintln!("unwedge serve: listening on http://{local}");
    if !unwedge_collect::is_root() {
        eprintln!("unwedge serve: not running as root: other users' sockets, fds, threads and user stacks are hidden (grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for the full view)");
    }
    let mut state = State::new(cfg);
    state.shelf = recorder.as_ref().map(|(_, s)| s.clone());
    let state = Arc::new(state);
    let scanner = state.clone();
    let recorder = recorder.map(|(r, _)| r);
    std::thread::Builder::new().name("scan".into()).spawn(move || scan_loop(&scanner, recorder))?;

    // One thread is plenty: requests copy pre-rendered bytes. Probes, which
    // block, go to tokio's blocking pool.
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let res = rt.block_on(serve(listener, state));
    // Do not wait for blocking work (a probe) past the grace period.
    rt.shutdown_timeout(Duration::from_millis(200));
    res.map_err(Fatal::Serve)
}

/// Scans forever; each scan starts `scan_interval` after the previous one
/// started (at once if a scan took longer). The process exits without
/// joining this thread: a scan holds nothing that needs cleaning up.
fn scan_loop(state: &State, mut recorder: Option<record::Recorder>) {
    // The last good scan's facts: a failed scan keeps its series.
    let mut last_facts: Option<metrics::Facts> = None;
    let mut stacks = unwedge_pipeline::Stacks::new(state.cfg.stacks);
    // The counts behind the page's charts: one point per good scan, an hour at most.
    let mut history = page::History::default();
    let mut continuous = match &state.cfg.input {
        unwedge_pipeline::Input::Live { interval, .. } if state.cfg.continuous => {
            Some(unwedge_pipeline::Continuous::new(*interval).keeping_secrets(state.cfg.keep_secrets))
        }
        _ => None,
    };
    loop {
        let started = Instant::now();
        let result = match continuous.as_mut() {
            Some(c) => c.step(&state.cfg.thresholds, &mut stacks, None),
            None => unwedge_pipeline::run(&state.cfg.input, &state.cfg.thresholds, &mut stacks),
        };
        let stats = continuous.as_ref().map(|c| ContinuousStats {
            looks: c.looks,
            cache: c.cache_stats(),
            stacks_read: stacks.read,
            stacks_reused: stacks.reused,
        });
        let mut published = None;
        match result {
            Ok((scan, report)) if !scan.snapshots.is_empty() => {
                let facts = metrics::Facts::new(&report, &scan);
                let json = serde_json::to_vec(&report).unwrap_or_default();
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                history.push(page::Point::new(now_ms, &report, &facts));
                let scans = state.latest.read().map_or(0, |l| l.scans) + 1;
                let every = state.cfg.scan_interval.as_secs();
                let html = page::render(&report, &history, now_ms, scans, every, state.cfg.keep_secrets);
                let report = Arc::new(report);
                if let Some(r) = recorder.as_mut() {
                    r.observe(&report, move || scan, now_ms);
                }
                published = Some((report, Bytes::from(json), facts, Bytes::from(html)));
            }
            Ok(_) => eprintln!("unwedge serve: scan returned no snapshot"),
            Err(e) => eprintln!("unwedge serve: scan failed: {e}"),
        }
        {
            let mut l = state.latest.write().unwrap_or_else(|p| p.into_inner());
            match published {
                Some((report, json, facts, html)) => {
                    l.page = html;
                    let text = metrics::render(Some(&facts), l.scan_errors, state.cfg.top_n, state.recordings());
                    l.set_metrics(text);
                    l.report = Some(report);
                    l.report_json = json;
                    l.scans += 1;
                    last_facts = Some(facts);
                }
                None => {
                    l.scan_errors += 1;
                    // Keep the last good series; only the error count moves.
                    let text = metrics::render(last_facts.as_ref(), l.scan_errors, state.cfg.top_n, state.recordings());
                    l.set_metrics(text);
                }
            }
            l.finished = Some(Instant::now());
            l.continuous = stats;
        }
        crate::memory::give_back();
        let next = started + state.cfg.scan_interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
}

async fn serve(listener: std::net::TcpListener, state: Arc<State>) -> std::io::Result<()> {
    limits::widen_backlog(&listener)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = limits::ConnSlots::new(limits::MAX_CONNECTIONS, limits::MAX_CONNECTIONS_PER_SOURCE);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(_) => {
                        // Out of fds or the like: back off rather than spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Dropping the stream closes it before anything is read.
                let Some(slot) = slots.admit(peer.ip()) else { continue };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let mut stop = stop_rx.clone();
                conns.spawn(async move {
                    let _slot = slot;
                    let svc = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(routes::handle(state, peer, req).await) }
                    });
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits::HEADER_READ_TIMEOUT)
                        .max_buf_size(limits::MAX_HEAD_BYTES)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                        // A client that never reads its response would hold
                        // its slot for ever: every connection has a lifetime.
                        _ = tokio::time::sleep(limits::MAX_CONNECTION_LIFETIME) => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(limits::SHUTDOWN_GRACE, conn).await;
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(limits::SHUTDOWN_GRACE, drain).await.is_err() {
        conns.abort_all();
    }
    Ok(())
}
