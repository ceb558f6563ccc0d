//! Real Go servers (tests/scenarios/go/scenario.go, built here with the
//! Debian `golang-go` that .ci/install-test-deps.sh installs): story 2's
//! listener that never closes, story 3's net/http behind a one-slot limit
//! listener, and healthy twins. Go parks its runtime threads in futex and
//! epoll whatever its goroutines do: the report must name the cause, not
//! those threads.

mod common;

use common::{alarms, findings, scan_json, scan_until, Child};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The scenario binary, built once per test run; None when there is no Go
/// toolchain.
fn scenario_bin() -> Option<&'static PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| common::build_go_scenario("go-scenario")).as_ref()
}

fn go(args: &[&str]) -> Option<Child> {
    let bin = scenario_bin();
    if !common::require("a Go toolchain (apt-get install golang-go)", bin.is_some()) {
        return None;
    }
    let mut cmd = Command::new(bin.unwrap());
    cmd.args(args);
    Some(common::start(cmd))
}

fn port_of(c: &Child) -> u16 {
    c.ready["port"].as_u64().unwrap() as u16
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/// Sends one request and reads one whole response (6-byte body).
fn request(s: &mut TcpStream) -> String {
    s.write_all(REQUEST).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"hello\n") {
        let n = s.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before the response: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn kinds_of(report: &Value, pid: u32) -> Vec<String> {
    alarms(report)
        .iter()
        .filter(|f| f["pid"].as_u64() == Some(pid as u64))
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn go_listener_that_never_closes_is_a_close_wait_leak_and_nothing_else() {
    let Some(srv) = go(&["leak", "40"]) else { return };
    let port = port_of(&srv);
    // Short clients like `echo hi | nc -N`: send, close, leave.
    for _ in 0..40 {
        let mut c = connect(port);
        c.write_all(b"hi\n").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
    }
    let pid = srv.pid();
    let report = scan_until(&["--pid", &pid.to_string(), "--interval", "0.5"], Duration::from_secs(10), |r| {
        !findings(r, "close_wait_leak").is_empty()
    });
    assert_eq!(kinds_of(&report, pid), ["close_wait_leak"], "{report:#}");
    let f = findings(&report, "close_wait_leak")[0];
    assert_eq!(f["evidence"]["close_wait"].as_u64(), Some(40), "{f:#}");
    assert_eq!(f["evidence"]["never_read_to_eof"].as_u64(), Some(40), "{f:#}");
}

#[test]
fn go_one_slot_server_held_by_keepalive_is_starvation_and_nothing_else() {
    let Some(srv) = go(&["limit"]) else { return };
    let port = port_of(&srv);
    let mut a = connect(port);
    let first = request(&mut a);
    assert!(first.contains("Content-Length: 6"), "{first}");
    // A now idles, holding the only slot; B's request is never accepted.
    let mut b = connect(port);
    b.write_all(REQUEST).unwrap();
    let pid = srv.pid();
    let report =
        scan_until(&["--pid", &pid.to_string(), "--interval", "0.5", "--idle", "0.2"], Duration::from_secs(10), |r| {
            !findings(r, "keepalive_starvation").is_empty()
        });
    assert_eq!(kinds_of(&report, pid), ["keepalive_starvation"], "{report:#}");
    let f = findings(&report, "keepalive_starvation")[0];
    assert_eq!(f["port"].as_u64(), Some(port as u64), "{f:#}");
    // Closing A frees the slot: B is answered at once.
    drop(a);
    let mut buf = [0u8; 256];
    let n = b.read(&mut buf).expect("B answered after A closed");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[test]
fn go_one_slot_server_without_keepalive_is_silent() {
    let Some(srv) = go(&["limit-close"]) else { return };
    let port = port_of(&srv);
    let mut a = connect(port);
    let first = request(&mut a);
    assert!(first.contains("Connection: close"), "{first}");
    let mut b = connect(port);
    request(&mut b);
    let (report, _) = scan_json(&["--pid", &srv.pid().to_string(), "--interval", "0.5", "--idle", "0.2"]);
    assert!(kinds_of(&report, srv.pid()).is_empty(), "{report:#}");
}

#[test]
fn go_server_with_idle_keepalive_clients_and_traffic_is_silent() {
    let Some(srv) = go(&["healthy"]) else { return };
    let port = port_of(&srv);
    // 20 keep-alive clients that made a request and now idle, plus one that
    // keeps requesting while the scan runs.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = connect(port);
            request(&mut c);
            c
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = connect(port);
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 1_000_000 {
                request(&mut c);
                n += 1;
            }
            n
        })
    };
    let (report, _) = scan_json(&["--pid", &srv.pid().to_string(), "--interval", "0.5", "--idle", "0.2"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served = busy.join().unwrap();
    assert!(served > 10, "the busy client made only {served} requests");
    assert!(kinds_of(&report, srv.pid()).is_empty(), "{report:#}");
    drop(idle);
}

/// `unwedge probe http` from the outside against the same Go servers:
/// the one-slot server starves a second connection while the first idles;
/// with keep-alive disabled the probe finds nothing wrong.
#[test]
fn probe_http_sees_the_go_one_slot_server_starve() {
    let (Some(limit), Some(fixed)) = (go(&["limit"]), go(&["limit-close"])) else { return };
    let probe = |port: u16| -> (Value, i32) {
        let out = common::unwedge()
            .args(["probe", "http", &format!("http://127.0.0.1:{port}/"), "--starvation-wait", "1s", "--json"])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (r, out.status.code().unwrap_or(-1))
    };
    let (r, code) = probe(port_of(&limit));
    let kinds: Vec<&str> = r["findings"].as_array().unwrap().iter().filter_map(|f| f["kind"].as_str()).collect();
    assert_eq!((kinds, code), (vec!["keepalive_starvation"], 1), "{r:#}");
    let (r, code) = probe(port_of(&fixed));
    assert!(r["findings"].as_array().unwrap().is_empty() && code == 0, "{r:#}");
    assert!(r["http"]["keepalive"]["skipped"].as_str().unwrap_or_default().contains("closes the connection"), "{r:#}");
}

/// Story 3 as it happened: a load balancer in front. nginx (2 workers, each
/// with its own upstream keep-alive pool) proxies to the one-slot Go
/// server; the worker that served first keeps its upstream connection idle
/// and holds the slot, so requests through the other worker wait in the Go
/// server's accept queue. `scan` names the Go server, nothing else.
#[test]
fn nginx_upstream_keepalive_starves_the_go_one_slot_server() {
    let nginx = common::nginx_path();
    if !common::require("nginx (apt-get install nginx-light)", nginx.is_some()) {
        return;
    }
    let nginx = nginx.unwrap();
    let Some(backend) = go(&["limit"]) else { return };
    let backend_port = port_of(&backend);
    let dir = tempfile::tempdir().unwrap();
    let (_lb, port) = common::start_nginx(&nginx, dir.path(), 2, |port| {
        format!(
            " upstream be {{ server 127.0.0.1:{backend_port}; keepalive 4; }}\n\
             server {{ listen 127.0.0.1:{port} reuseport; location / {{ proxy_pass http://be; proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\"; proxy_read_timeout 30s; }} }}"
        )
    });
    // Clients through the balancer, several at once: both workers get some.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = connect(port);
                c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
                let _ = c.write_all(REQUEST);
                let _ = c.read(&mut [0u8; 512]);
            })
        })
        .collect();
    let pid = backend.pid();
    let report = scan_until(&["--interval", "0.5", "--idle", "0.2"], Duration::from_secs(10), |r| {
        findings(r, "keepalive_starvation").iter().any(|f| f["pid"].as_u64() == Some(pid as u64))
    });
    assert_eq!(kinds_of(&report, pid), ["keepalive_starvation"], "{report:#}");
    // nginx itself is healthy: it waits on its upstream as it should.
    let nginx_alarms: Vec<&Value> = alarms(&report).into_iter().filter(|f| f["comm"] == "nginx").collect();
    assert!(nginx_alarms.is_empty(), "{nginx_alarms:#?}");
    drop(backend); // ends the starvation: the clients get errors and return
    for c in clients {
        let _ = c.join();
    }
}
