//! `unwedge watch`: the one pipeline, again and again. A scanner thread runs
//! a scan every --every and hands each report (with its scan, for the trend
//! counts) over a channel of one; the main thread feeds the tracker and
//! either draws the live view (a terminal) or prints one JSON event per
//! line (a pipe, --json). Nothing accumulates but what the tracker bounds.

use crate::cli::WatchArgs;
use crate::error::Fatal;
use crate::render::tui;
use crate::watch::{event_json, Tracker};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use unwedge_model::{Report, Scan};
use unwedge_pipeline::{Filter, Input};

/// Set by SIGINT / SIGTERM: finish with the last scan's exit status.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn catch_stop_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// One scan's outcome, as the scanner thread hands it over.
struct Cycle {
    at_ms: u64,
    result: Result<(Scan, Report), unwedge_pipeline::PipelineError>,
}

/// What the scan's own deadline gives collection (80% of interval + 30 s).
const COLLECT_SLACK: Duration = Duration::from_secs(30);

pub fn run(args: &WatchArgs) -> Result<u8, Fatal> {
    let thresholds = args.thresholds.thresholds().map_err(Fatal::Thresholds)?;
    // A bad recorded file is one clear line now, not an error per scan.
    for path in &args.from_snapshot {
        unwedge_pipeline::load(path)?;
    }
    if args.from_snapshot.is_empty() && !unwedge_collect::is_root() {
        eprintln!("unwedge: not running as root: other users' sockets, fds, threads and user stacks are hidden (run as root, or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for the full view)");
    }
    catch_stop_signals();
    let filter = Filter { pid: args.pid, port: args.port, path: args.path.as_deref().map(Filter::unix_path) };
    let (tx, rx) = sync_channel::<Cycle>(1);
    let (every, interval, count, files) = (args.every, args.interval, args.count, args.from_snapshot.clone());
    let mode = args.stacks.mode();
    let keep_secrets = args.no_redact;
    let continuous = args.mode == crate::cli::ScanMode::Continuous && files.is_empty();
    std::thread::Builder::new().name("scan".into()).spawn(move || {
        // Lives as long as the scanner: each binary's symbol tables load once.
        let mut stacks = unwedge_pipeline::Stacks::new(mode);
        // Continuous mode: the previous snapshot and the collector's cache, kept from scan to scan.
        let mut state = continuous.then(|| unwedge_pipeline::Continuous::new(interval).keeping_secrets(keep_secrets));
        let mut n: u64 = 0;
        while count.is_none_or(|c| n < c) {
            let started = Instant::now();
            let until = Some(started + (interval + COLLECT_SLACK).mul_f64(0.8));
            let result = match state.as_mut() {
                Some(c) => c.step(&thresholds, &mut stacks, until),
                None => {
                    let input = if files.is_empty() {
                        Input::Live { interval, until, record: false, keep_secrets }
                    } else {
                        Input::Recorded { path: files[(n % files.len() as u64) as usize].clone(), keep_secrets }
                    };
                    unwedge_pipeline::run(&input, &thresholds, &mut stacks)
                }
            }
            .map(|(scan, mut report)| {
                filter.apply(&mut report);
                (scan, report)
            });
            n += 1;
            if tx.send(Cycle { at_ms: now_ms(), result }).is_err() {
                return;
            }
            if count.is_some_and(|c| n >= c) {
                return;
            }
            crate::memory::give_back();
            let next = started + every;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
    })?;
    let mut tracker = Tracker::new(args.keep_resolved.as_millis() as u64);
    if args.json || !std::io::stdout().is_terminal() {
        json_events(&rx, &mut tracker)
    } else {
        let keep_resolved_ms = args.keep_resolved.as_millis() as u64;
        let view = tui::View { every_ms: args.every.as_millis() as u64, keep_resolved_ms, finished: false };
        live_view(&rx, &mut tracker, view)
    }
}

/// Feeds one cycle to the tracker; the first scan's failure ends the run.
fn feed(tracker: &mut Tracker, cycle: Cycle, alarm: &mut Option<bool>) -> Result<Vec<crate::watch::Event>, Fatal> {
    match cycle.result {
        Ok((scan, report)) => {
            let events = tracker.observe(cycle.at_ms, Some(&scan), &report);
            *alarm = Some(report.has_alarm());
            Ok(events)
        }
        Err(e) if tracker.scans == 0 && tracker.scan_errors == 0 => Err(Fatal::Pipeline(e)),
        Err(e) => {
            tracker.failed(cycle.at_ms, e.to_string());
            Ok(Vec::new())
        }
    }
}

fn status(alarm: Option<bool>) -> u8 {
    u8::from(alarm == Some(true))
}

fn json_events(rx: &Receiver<Cycle>, tracker: &mut Tracker) -> Result<u8, Fatal> {
    let stdout = std::io::stdout();
    let mut alarm = None;
    loop {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let cycle = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let events = feed(tracker, cycle, &mut alarm)?;
        if let Some(e) = &tracker.last_error {
            eprintln!("unwedge: scan failed: {e}");
        }
        // One line per event, flushed at once: a log shipper or `jq` sees it now.
        let mut out = stdout.lock();
        for e in &events {
            serde_json::to_writer(&mut out, &event_json(e))?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    Ok(status(alarm))
}

fn live_view(rx: &Receiver<Cycle>, tracker: &mut Tracker, mut view: tui::View) -> Result<u8, Fatal> {
    use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
    let mut terminal = ratatui::try_init()?;
    let mut alarm = None;
    let result = (|| -> Result<(), Fatal> {
        let mut drawn: Option<Instant> = None;
        let mut dirty = true;
        loop {
            match rx.try_recv() {
                Ok(cycle) => {
                    feed(tracker, cycle, &mut alarm)?;
                    dirty = true;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    view.finished = true;
                }
            }
            // Ages move every second even without a scan.
            if dirty || drawn.is_none_or(|d| d.elapsed() >= Duration::from_secs(1)) {
                terminal.draw(|f| tui::draw(f, tracker, now_ms(), &view))?;
                drawn = Some(Instant::now());
                dirty = false;
            }
            if view.finished || STOP.load(Ordering::SeqCst) {
                return Ok(());
            }
            if event::poll(Duration::from_millis(100))? {
                match event::read()? {
                    Event::Key(k) if k.kind == KeyEventKind::Press => {
                        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                        if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                            return Ok(());
                        }
                    }
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
        }
    })();
    ratatui::restore();
    result?;
    // The screen is gone: leave one line behind saying how it ended.
    let now: Vec<String> = tracker
        .current()
        .iter()
        .map(|t| format!("{} ({})", t.finding.kind(), crate::watch::rfc3339_ms(t.first_seen_ms)))
        .collect();
    eprintln!(
        "unwedge watch: {} scans; {}",
        tracker.scans,
        if now.is_empty() { "no finding at the end".to_string() } else { format!("at the end: {}", now.join(", ")) }
    );
    Ok(status(alarm))
}
