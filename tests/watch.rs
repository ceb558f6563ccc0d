//! `unwedge watch` as a pipe sees it: one JSON event per line. A live CLOSE-WAIT
//! leak that appears, gets worse and is stopped (appeared -> changed ->
//! resolved); the same story replayed from recorded snapshots; the exit
//! status; and memory that stays flat over thousands of cycles.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// A running `unwedge watch --json …`, its events arriving on a channel.
struct Watch {
    child: Child,
    events: Receiver<Value>,
}

impl Watch {
    fn start(args: &[&str]) -> Watch {
        let mut child = common::unwedge()
            .arg("watch")
            .arg("--json")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .expect("start unwedge watch");
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON per line ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Watch { child, events }
    }

    /// The next event matching `pred` within `limit` (others are skipped, and returned too).
    fn until(&self, limit: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + limit;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) if pred(&e) => return (e, skipped),
                Ok(e) => skipped.push(e),
                Err(_) => panic!("no {what} event within {limit:?}; got {skipped:#?}"),
            }
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn close_wait(e: &Value) -> u64 {
    e["finding"]["evidence"]["close_wait"].as_u64().unwrap_or(0)
}

#[test]
fn a_live_leak_appears_gets_worse_and_resolves_after_unwedge_stop() {
    let mut leaky = common::python("leaky_listener.py", &["--count", "12"]);
    let port = leaky.ready["port"].as_u64().unwrap().to_string();
    let pid = leaky.pid();
    let watch = Watch::start(&["--every", "200ms", "--interval", "0", "--port", &port]);
    let started = Instant::now();

    let (appeared, _) = watch.until(Duration::from_secs(20), "appeared", |e| e["event"] == "appeared");
    assert_eq!(appeared["finding"]["kind"], "close_wait_leak", "{appeared:#}");
    assert_eq!(appeared["finding"]["pid"], pid);
    assert_eq!(appeared["key"]["kind"], "close_wait_leak");
    assert_eq!(appeared["key"]["port"].as_u64().unwrap().to_string(), port);
    assert_eq!(close_wait(&appeared), 12);
    assert_eq!(appeared["first_seen"], appeared["at"]);

    // Worse: 12 more leaked connections.
    // SAFETY: signalling the scenario this test started.
    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
    // A scan may land while the 12 are being leaked: a change to a count
    // between is a change too, and the next one starts from it.
    let (changed, skipped) =
        watch.until(Duration::from_secs(20), "changed", |e| e["event"] == "changed" && close_wait(e) == 24);
    let mut was = 12;
    for e in &skipped {
        assert_eq!(e["event"], "changed", "only changes expected before it: {skipped:#?}");
        assert_eq!(e["was"]["close_wait"], was, "{e:#}");
        assert!(close_wait(e) > was && close_wait(e) < 24, "{e:#}");
        was = close_wait(e);
    }
    assert_eq!(changed["was"]["close_wait"], was, "{changed:#}");
    assert_eq!(changed["first_seen"], appeared["first_seen"], "the same finding, first seen when it appeared");
    assert_ne!(changed["finding"]["id"], Value::Null);

    // Fixed: the leaker is stopped the way the README says.
    let stop = common::run_with_deadline(
        common::unwedge().args(["stop", &pid.to_string(), "--grace", "2s"]),
        Duration::from_secs(20),
    )
    .finished();
    assert!(stop.status.success(), "unwedge stop: {}", String::from_utf8_lossy(&stop.stderr));
    let _ = common::wait_with_deadline(&mut leaky.child, Duration::from_secs(5));
    let (resolved, skipped) = watch.until(Duration::from_secs(20), "resolved", |e| e["event"] == "resolved");
    assert!(skipped.iter().all(|e| e["event"] == "changed"), "{skipped:#?}");
    assert_eq!(resolved["finding"]["kind"], "close_wait_leak");
    assert_eq!(resolved["first_seen"], appeared["first_seen"]);
    assert!(resolved["lasted_ms"].as_u64().unwrap() > 0);
    eprintln!("appeared -> changed -> resolved in {:?}", started.elapsed());

    // Ctrl-C: ends at once with the status of the last scan (nothing left: 0).
    let mut watch = watch;
    // SAFETY: signalling the watch this test started.
    unsafe { libc::kill(watch.pid(), libc::SIGINT) };
    let status = common::wait_with_deadline(&mut watch.child, Duration::from_secs(5)).expect("watch exits on SIGINT");
    assert_eq!(status.code(), Some(0));
}

fn fixture(kind: &str, which: &str) -> String {
    format!("{}/crates/analyze/src/kinds/{kind}/{which}.json", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_recorded_sequence_replays_as_events_and_exits_like_scan() {
    let (bad, healthy) = (fixture("close_wait_leak", "bad"), fixture("close_wait_leak", "healthy"));
    let run = |files: &[&str], count: &str| {
        let mut cmd = common::unwedge();
        cmd.args(["watch", "--every", "0", "--count", count]);
        for f in files {
            cmd.args(["--from-snapshot", f]);
        }
        common::run_with_deadline(&mut cmd, Duration::from_secs(30)).finished()
    };
    // Piped stdout: JSON lines without --json.
    let out = run(&[&healthy, &bad, &bad, &healthy], "4");
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let story: Vec<(String, u64, String)> = lines
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().into(),
                e["scan"].as_u64().unwrap(),
                e["finding"]["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let leak: Vec<&(String, u64, String)> = story.iter().filter(|s| s.2 == "close_wait_leak").collect();
    assert_eq!(
        leak.iter().map(|s| (s.0.as_str(), s.1)).collect::<Vec<_>>(),
        vec![("appeared", 2), ("resolved", 4)],
        "{story:?}"
    );
    assert_eq!(out.status.code(), Some(0), "the last scan (healthy) has no alarm");
    // Ending on the bad one: exit 1, as scan's.
    let out = run(&[&healthy, &bad], "2");
    assert_eq!(out.status.code(), Some(1));
    // A bad file: one line, exit 2.
    let out = run(&["/nonexistent.json"], "1");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("unwedge: ") && err.lines().count() == 1, "{err}");
}

/// VmRSS of PID in KiB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs watch over a sequence of recorded incidents (every cycle changes
/// findings: appear, resolve, come back) and samples its RSS as the scan
/// count passes `marks`.
fn rss_over_cycles(cmd: &mut Command, marks: &[u64]) -> Vec<u64> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).stdin(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let mut samples = Vec::new();
    let mut next = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    for line in BufReader::new(stdout).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if next < marks.len() && e["scan"].as_u64().unwrap() >= marks[next] {
            samples.push(rss_kb(pid));
            next += 1;
        }
        assert!(Instant::now() < deadline, "too slow");
    }
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(2));
    assert_eq!(samples.len(), marks.len(), "watch ended before scan {}", marks[samples.len().min(marks.len() - 1)]);
    samples
}

#[test]
fn memory_stays_flat_over_thousands_of_cycles() {
    // Three recorded incidents and a healthy host, round and round: every
    // cycle some findings appear and others resolve.
    let files = [
        fixture("close_wait_leak", "bad"),
        fixture("accept_stalled", "bad"),
        fixture("close_wait_leak", "healthy"),
        fixture("zombie", "bad"),
    ];
    let mut cmd = common::unwedge();
    cmd.args(["watch", "--json", "--every", "0", "--count", "4000", "--keep-resolved", "1h"]);
    for f in &files {
        cmd.args(["--from-snapshot", f]);
    }
    let marks = [500, 1000, 2000, 3000, 3990];
    let rss = rss_over_cycles(&mut cmd, &marks);
    eprintln!("RSS (KiB) at scans {marks:?}: {rss:?}");
    let growth = rss[4] as i64 - rss[0] as i64;
    assert!(growth < 1024, "RSS grew by {growth} KiB from scan 500 to 3990: {rss:?}");
}

#[test]
fn live_cycles_every_100ms_keep_memory_flat() {
    let mut cmd = common::unwedge();
    cmd.args(["watch", "--json", "--every", "100ms", "--interval", "0", "--count", "90"]);
    // Live scans print events only when findings change: a leak that is
    // there from the start gives the marks their lines... so sample by time.
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).stdin(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let mut samples = Vec::new();
    let started = Instant::now();
    while common::wait_with_deadline(&mut child, Duration::from_millis(1500)).is_none() {
        samples.push(rss_kb(pid));
        assert!(started.elapsed() < Duration::from_secs(120), "90 live cycles took over 2 minutes");
    }
    eprintln!("live watch RSS (KiB) every 1.5 s over {:?}: {samples:?}", started.elapsed());
    assert!(samples.len() >= 4, "too few samples: {samples:?}");
    // After warm-up (the first sample), no growth beyond allocator noise.
    let first = samples[1] as i64;
    let max = *samples[1..].iter().max().unwrap() as i64;
    assert!(max - first < 2048, "RSS grew from {first} to {max} KiB: {samples:?}");
}
