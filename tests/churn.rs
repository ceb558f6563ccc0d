//! Churn: processes spawned and reaped and loopback connections opened and
//! closed as fast as this host allows, while `unwedge scan --interval 0.2
//! --json` runs in a loop. No panic, no exit 2, every report valid against
//! the contract, and the short-lived processes only ever in coverage.

mod common;

use serde_json::Value;
use std::collections::HashSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the churn lasts, and its caps. Issue 8's example is 20,000
/// processes and 100,000 connections over 30 s; in CI (2 shared cores, the
/// whole suite well under 10 min) it runs 8 s. The full run:
/// `bench/churn-long.sh` (= `UNWEDGE_CHURN_SECS=30 cargo test --release --test churn`)
/// (BENCHMARKS.md has what it measured).
fn churn_time() -> Duration {
    let secs = std::env::var("UNWEDGE_CHURN_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(8u64);
    Duration::from_secs(secs.clamp(1, 600))
}
const MAX_PROCS: u64 = 20_000;
const MAX_CONNS: u64 = 100_000;
const CONNECTORS: usize = 2;

fn check_contract(r: &Value) {
    for k in ["unwedge_version", "host", "taken_at", "interval_ms", "duration_ms", "coverage", "findings"] {
        assert!(r.get(k).is_some(), "report lacks {k}: {r}");
    }
    for k in ["processes", "threads", "sockets", "skipped"] {
        assert!(r["coverage"].get(k).is_some(), "coverage lacks {k}");
    }
    for s in r["coverage"]["skipped"].as_array().unwrap() {
        assert!(s["pid"].is_u64() && s["reason"].is_string(), "{s}");
    }
    for f in r["findings"].as_array().unwrap() {
        for k in ["kind", "severity", "pid", "comm", "tid", "port", "title", "explanation", "evidence", "fix"] {
            assert!(f.get(k).is_some(), "finding lacks {k}: {f}");
        }
        assert!(["info", "warning", "critical"].contains(&f["severity"].as_str().unwrap()), "{f}");
    }
}

#[test]
fn scans_survive_process_and_socket_churn() {
    let stop = Arc::new(AtomicBool::new(false));
    let (procs, conns) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let churned: Arc<Mutex<HashSet<u32>>> = Arc::default();

    let spawner = {
        let (stop, procs, churned) = (stop.clone(), procs.clone(), churned.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && procs.load(Ordering::Relaxed) < MAX_PROCS {
                // Spawned and reaped at once: never a zombie for long.
                if let Ok(mut c) = Command::new("/bin/true").stdin(Stdio::null()).spawn() {
                    churned.lock().unwrap().insert(c.id());
                    let _ = c.wait();
                    procs.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // Blocking accept; the last connect after `stop` wakes it. The
            // server closes first (an HTTP/1.0 server): TIME-WAIT lands on
            // the server's port, not on the clients' ephemeral ports, whose
            // search slows connect() to a crawl once tens of thousands wait.
            while !stop.load(Ordering::Relaxed) {
                let _ = listener.accept();
            }
        })
    };
    let connectors: Vec<_> = (0..CONNECTORS)
        .map(|_| {
            let (stop, conns) = (stop.clone(), conns.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && conns.load(Ordering::Relaxed) < MAX_CONNS {
                    if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                        let _ = s.read(&mut [0u8; 16]); // the server's close
                        conns.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut scans = 0;
    let churn = churn_time();
    while started.elapsed() < churn {
        let out = common::unwedge().args(["scan", "--interval", "0.2", "--json"]).output().expect("run unwedge");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.status.code() == Some(0) || out.status.code() == Some(1), "exit {:?}: {stderr}", out.status);
        let report: Value = serde_json::from_slice(&out.stdout).expect("every report is JSON");
        check_contract(&report);
        // A process that came and went is never the subject of a finding.
        let churned = churned.lock().unwrap();
        for f in report["findings"].as_array().unwrap() {
            if let Some(pid) = f["pid"].as_u64() {
                assert!(!churned.contains(&(pid as u32)), "finding about a vanished process: {f}");
            }
        }
        scans += 1;
    }
    stop.store(true, Ordering::Relaxed);
    // Connect until the acceptor sees `stop` (a full backlog may drop one SYN).
    let woke = common::wait_until(Duration::from_secs(10), || {
        acceptor.is_finished() || {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
            false
        }
    });
    assert!(woke, "the acceptor did not stop");
    for t in connectors.into_iter().chain([spawner, acceptor]) {
        t.join().unwrap();
    }
    let (p, c) = (procs.load(Ordering::Relaxed), conns.load(Ordering::Relaxed));
    eprintln!("churn over {:?}: {scans} scans, {p} processes spawned and reaped, {c} connections", started.elapsed());
    assert!(scans >= 3 && p > 100 && c > 100, "too little churn to mean anything: {scans} scans, {p} procs, {c} conns");
}
