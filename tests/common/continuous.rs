//! The live tests' scans through `unwedge serve` in continuous mode, for
//! `UNWEDGE_TEST_SCAN=serve`: every incident test that asks
//! [`super::scan_json`] for a report then gets the one a long-running
//! serve publishes (each snapshot compared with the previous one, a second
//! look at what is new), so the incident tests prove that serve finds what
//! scan finds (docs/testing.md). One serve per set of scan options, shared
//! by the tests of a binary (scenarios come and go while it runs, as on a
//! host), started from a thread that lives as long as the test binary: it
//! dies with the binary (PR_SET_PDEATHSIG), never left behind.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The variable that routes `scan_json` through serve.
pub const VAR: &str = "UNWEDGE_TEST_SCAN";

/// Whether this run's scans go through serve.
pub fn via_serve() -> bool {
    std::env::var(VAR).is_ok_and(|v| v == "serve")
}

/// Scan options serve takes as they are (the thresholds, stacks).
const SERVE_OPTIONS: &[&str] = &[
    "--answer-timeout",
    "--idle",
    "--close-wait-min",
    "--close-wait-critical",
    "--fd-warning",
    "--fd-critical",
    "--zombie-min",
    "--zombie-critical",
    "--ports-warning",
    "--conntrack-warning",
    "--throttle-pct",
    "--psi-full",
    "--stacks",
];

/// `unwedge scan --json ARGS` as serve would report it now; `None` for
/// what only `scan` does (one snapshot, recorded or saved snapshots).
pub fn scan_json(args: &[&str]) -> Option<(Value, i32)> {
    let mut query: Vec<String> = Vec::new();
    let mut serve: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        match a {
            "--pid" | "--port" => query.push(format!("{}={}", &a[2..], it.next()?)),
            "--interval" => {
                let v = it.next()?;
                if v.trim_end_matches('s').parse::<f64>().ok()? == 0.0 {
                    return None;
                }
                serve.extend([a.to_string(), v.to_string()]);
            }
            _ if SERVE_OPTIONS.contains(&a) => serve.extend([a.to_string(), it.next()?.to_string()]),
            _ => return None,
        }
    }
    let addr = shared(serve);
    // The scan running now may have started before the call: the one after it did not.
    let n0 = scans(addr);
    let deadline = Instant::now() + Duration::from_secs(180);
    while scans(addr) < n0 + 2 {
        assert!(Instant::now() < deadline, "serve at {addr} finished no scan in 180 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let path = if query.is_empty() { "/v1/scan".to_string() } else { format!("/v1/scan?{}", query.join("&")) };
    let report: Value = serde_json::from_str(&get(addr, &path)).expect("serve's report is JSON");
    let code = i32::from(!super::alarms(&report).is_empty());
    Some((report, code))
}

fn scans(addr: SocketAddr) -> u64 {
    serde_json::from_str::<Value>(&get(addr, "/healthz")).ok().and_then(|h| h["scans"].as_u64()).unwrap_or(0)
}

/// The body of GET `path`, every read with a timeout.
pub fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to serve");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("serve answers");
    let text = String::from_utf8_lossy(&buf);
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

type Spawn = (Vec<String>, mpsc::Sender<SocketAddr>);

/// The serve for these options, started on first use.
fn shared(options: Vec<String>) -> SocketAddr {
    static SERVES: OnceLock<Mutex<HashMap<Vec<String>, SocketAddr>>> = OnceLock::new();
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Spawn>>> = OnceLock::new();
    let serves = SERVES.get_or_init(Default::default);
    let mut map = serves.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(a) = map.get(&options) {
        return *a;
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Spawn>();
        // Children die with the thread that started them: this one lives as long as the binary.
        std::thread::spawn(move || {
            for (options, reply) in rx {
                let _ = reply.send(spawn(&options));
            }
        });
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    spawner.lock().unwrap_or_else(|p| p.into_inner()).send((options.clone(), tx)).expect("spawner");
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("serve started");
    map.insert(options, addr);
    addr
}

fn spawn(options: &[String]) -> SocketAddr {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unwedge"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--scan-interval", "1s", "--mode", "continuous"]).args(options);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe; the child dies when this thread does.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start unwedge serve");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    let text = rx.recv_timeout(Duration::from_secs(20)).expect("serve printed its address");
    // Never waited on: it runs until the binary exits.
    std::mem::forget(child);
    text.parse().expect("an address")
}
