//! Issue 14, live: servers that accept, read and never answer
//! (`unanswered_requests`), peers that stop reading (`peer_not_reading`),
//! worker pools on an upstream that never answers, a log pipe whose reader
//! is stopped — and the healthy twins that must stay silent: the same Go
//! server without its deadlock under load, a long-poll server whose waiting
//! clients wait while others are served, Redis with BLPOP clients under
//! redis-benchmark, a fast bulk download. Real processes on loopback only.

mod common;

use common::{alarms, findings, scan_json, Child};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The Go scenario binary (tests/scenarios/go), built once per test run.
fn go_bin() -> Option<&'static PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        // Not scan_go.rs's folder: the two test binaries may build at once.
        common::build_go_scenario("go-scenario-unanswered")
    })
    .as_ref()
}

fn go(mode: &str) -> Option<Child> {
    let bin = go_bin();
    if !common::require("a Go toolchain (apt-get install golang-go)", bin.is_some()) {
        return None;
    }
    let mut cmd = Command::new(bin.unwrap());
    cmd.arg(mode);
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

/// Opens a connection and sends one HTTP request; the answer is not read.
fn ask(port: u16, path: &str) -> TcpStream {
    let mut s = connect(port);
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).unwrap();
    s
}

/// One request and its whole (6-byte "hello\n") answer on a keep-alive connection.
fn request(s: &mut TcpStream, path: &str) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"hello\n") {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
}

/// A client thread that opens one more waiting connection every `every`
/// until stopped: requests keep arriving during the scan.
struct Trickle {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<TcpStream>>>,
}

impl Trickle {
    fn start(port: u16, path: &'static str, every: Duration) -> Trickle {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) && held.len() < 500 {
                held.push(ask(port, path));
                std::thread::sleep(every);
            }
            held
        });
        Trickle { stop, thread: Some(thread) }
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client thread that keeps requesting `path` on one keep-alive connection
/// (answered each time) until stopped; returns how many were answered.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl Load {
    fn start(port: u16, path: &'static str, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..clients)
            .map(|_| {
                let s = stop.clone();
                std::thread::spawn(move || {
                    let mut c = connect(port);
                    let mut n = 0;
                    while !s.load(Ordering::Relaxed) && n < 10_000_000 {
                        request(&mut c, path);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        Load { stop, threads }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.drain(..).map(|t| t.join().unwrap()).sum()
    }
}

/// Waits until `d` passed since `since`.
fn wait_since(since: Instant, d: Duration) {
    if let Some(left) = d.checked_sub(since.elapsed()) {
        std::thread::sleep(left);
    }
}

fn about(report: &Value, kind: &str, pid: u32) -> Vec<Value> {
    findings(report, kind).into_iter().filter(|f| f["pid"].as_u64() == Some(pid as u64)).cloned().collect()
}

/// Scans until `pid` has an unanswered_requests finding (a loaded host may
/// skip a process in one scan: its /proc reads past the per-process budget).
fn found(args: &[&str], pid: u32) -> Value {
    common::scan_until(args, Duration::from_secs(40), |r| !about(r, "unanswered_requests", pid).is_empty())
}

fn alarms_of(report: &Value, pid: u32) -> Vec<String> {
    alarms(report)
        .iter()
        .filter(|f| f["pid"].as_u64() == Some(pid as u64))
        .map(|f| format!("{} {}: {}", f["kind"], f["severity"], f["title"]))
        .collect()
}

/// The "Done when": a deadlocked Go net/http server, ten clients
/// hanging and more arriving, named by ONE plain `unwedge scan` with the
/// default interval and answer timeout.
#[test]
fn go_mutex_deadlock_is_named_by_one_default_scan() {
    let Some(srv) = go("deadlock") else { return };
    let port = port_of(&srv);
    let started = Instant::now();
    let _clients: Vec<TcpStream> = (0..10).map(|_| ask(port, "/")).collect();
    wait_since(started, Duration::from_millis(10_500));
    let _more = Trickle::start(port, "/", Duration::from_millis(200));
    let out = common::unwedge().args(["scan", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = about(&report, "unanswered_requests", srv.pid());
    assert_eq!(f.len(), 1, "{report:#}");
    let f = &f[0];
    assert_eq!(f["severity"], "critical", "{f:#}");
    assert_eq!(f["port"].as_u64(), Some(port as u64));
    assert!(f["evidence"]["unanswered"].as_u64().unwrap() >= 10, "{f:#}");
    assert!(f["evidence"]["new_unanswered"].as_u64().unwrap() >= 1, "{f:#}");
    assert_eq!(f["evidence"]["go_runtime"], true, "{f:#}");
    let fix = f["fix"].as_str().unwrap();
    assert!(
        fix.contains("debug/pprof/goroutine?debug=2") && fix.contains("dlv attach") && fix.contains("SIGQUIT"),
        "{fix}"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// Issue 16: the Go server's OS threads all sit in the scheduler; the
/// finding names the goroutines instead (`lockedHandler` waiting in
/// sync.(*Mutex).Lock), read without ever stopping the server.
#[test]
fn go_handlers_on_a_held_mutex_are_named_by_their_goroutines() {
    let Some(srv) = go("mutex") else { return };
    let (pid, port) = (srv.pid(), port_of(&srv));
    let started = Instant::now();
    let _clients: Vec<TcpStream> = (0..3).map(|_| ask(port, "/")).collect();
    wait_since(started, Duration::from_millis(2500));
    // Watch every thread's state while unwedge scans: never t or T.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                for t in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
                    let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                    if let Some(c) = stat.rsplit_once(')').and_then(|(_, r)| r.trim_start().chars().next()) {
                        seen.insert(c);
                    }
                }
            }
            seen
        })
    };
    let p = pid.to_string();
    let report = found(&["--pid", &p, "--answer-timeout", "2s"], pid);
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    assert!(seen.iter().all(|c| matches!(c, 'S' | 'R')), "the server left S/R: {seen:?}");
    let f = about(&report, "unanswered_requests", pid);
    assert_eq!(f.len(), 1, "{report:#}");
    let text = f[0]["evidence"].to_string();
    let groups: Vec<&Value> = ["thread", "threads"]
        .iter()
        .flat_map(|k| {
            let v = &f[0]["evidence"][k];
            if v.is_array() {
                v.as_array().unwrap().iter().collect::<Vec<_>>()
            } else {
                vec![v]
            }
        })
        .filter_map(|t| t["goroutines"].as_array())
        .flatten()
        .collect();
    if groups.is_empty() && text.contains("goroutines_note") {
        // A Go toolchain whose g layout is not known: said, not guessed.
        assert!(text.contains("layout"), "{text}");
        return;
    }
    let names = |g: &Value| -> Vec<String> {
        g["frames"].as_array().unwrap().iter().filter_map(|f| f["function"].as_str().map(String::from)).collect()
    };
    let handler = groups
        .iter()
        .find(|g| names(g).iter().any(|n| n == "main.lockedHandler"))
        .unwrap_or_else(|| panic!("no goroutine in main.lockedHandler: {text}"));
    assert!(names(handler).iter().any(|n| n == "sync.(*Mutex).Lock"), "{handler:#}");
    assert!(names(handler).iter().any(|n| n == "net/http.HandlerFunc.ServeHTTP"), "{handler:#}");
    assert_eq!(handler["count"].as_u64(), Some(3), "three requests, one group: {handler:#}");
    // The explanation and the fix say it in words.
    for k in ["explanation", "fix"] {
        let t = f[0][k].as_str().unwrap();
        assert!(t.contains("3 goroutine(s) in sync.(*Mutex).Lock ← main.lockedHandler"), "{k}: {t}");
    }
    // The human report shows it beside the thread.
    let out = common::unwedge().args(["scan", "--pid", &p, "--answer-timeout", "2s"]).output().unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains("× sync.(*Mutex).Lock ← main.lockedHandler"), "{human}");
}

#[test]
fn go_channel_nobody_feeds_is_unanswered_requests() {
    let Some(srv) = go("chan") else { return };
    let port = port_of(&srv);
    let started = Instant::now();
    let _clients: Vec<TcpStream> = (0..6).map(|_| ask(port, "/")).collect();
    wait_since(started, Duration::from_millis(2500));
    let pid = srv.pid().to_string();
    let report = found(&["--pid", &pid, "--answer-timeout", "2s"], srv.pid());
    let f = about(&report, "unanswered_requests", srv.pid());
    assert_eq!(f.len(), 1, "{report:#}");
    // No new request arrived: every connection is unanswered, nothing else progressed.
    assert_eq!(f[0]["severity"], "warning", "{:#}", f[0]);
    assert_eq!(f[0]["evidence"]["unanswered"].as_u64(), Some(6), "{:#}", f[0]);
}

#[test]
fn go_server_without_the_deadlock_under_load_is_silent() {
    let Some(srv) = go("fixed") else { return };
    let port = port_of(&srv);
    // Idle keep-alive clients (answered, waiting for their next request) and a busy load.
    let mut idle: Vec<TcpStream> = (0..10).map(|_| connect(port)).collect();
    for c in &mut idle {
        request(c, "/");
    }
    let load = Load::start(port, "/", 4);
    std::thread::sleep(Duration::from_millis(2500));
    let pid = srv.pid().to_string();
    let (report, _) = scan_json(&["--pid", &pid, "--answer-timeout", "2s"]);
    assert!(load.finish() > 100);
    assert!(alarms_of(&report, srv.pid()).is_empty(), "{report:#}");
    assert!(about(&report, "unanswered_requests", srv.pid()).is_empty(), "{report:#}");
}

#[test]
fn go_long_poll_with_others_served_is_silent() {
    let Some(srv) = go("longpoll") else { return };
    let port = port_of(&srv);
    let started = Instant::now();
    let _waiting: Vec<TcpStream> = (0..10).map(|_| ask(port, "/wait")).collect();
    let load = Load::start(port, "/now", 1);
    wait_since(started, Duration::from_millis(2500));
    let _more = Trickle::start(port, "/wait", Duration::from_millis(300));
    let pid = srv.pid().to_string();
    let (report, _) = scan_json(&["--pid", &pid, "--answer-timeout", "2s"]);
    assert!(load.finish() > 10);
    assert!(findings(&report, "unanswered_requests").is_empty(), "{report:#}");
    assert!(alarms_of(&report, srv.pid()).is_empty(), "{report:#}");
}

/// The same hang in a C-like thread-per-connection server (Python threads
/// are OS threads): each handler thread sits in futex on the lock.
#[test]
fn python_lock_deadlock_names_the_futex_wait() {
    let srv = common::python("handler_hang.py", &["lock", "--clients", "6", "--every", "0.3"]);
    std::thread::sleep(Duration::from_millis(2500));
    let pid = srv.pid().to_string();
    let report = found(&["--pid", &pid, "--answer-timeout", "2s"], srv.pid());
    let f = about(&report, "unanswered_requests", srv.pid());
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "critical", "{:#}", f[0]);
    let title = f[0]["title"].as_str().unwrap();
    assert!(title.contains("every thread waits on a lock (futex)"), "{title}");
    assert_eq!(f[0]["evidence"]["go_runtime"], false);
}

/// A worker pool blocked on an upstream that accepted and never answers:
/// one line names the upstream, and the server's finding is caused by the
/// upstream's own.
#[test]
fn worker_pool_on_a_silent_upstream_names_the_upstream_in_one_line() {
    let srv = common::python("handler_hang.py", &["upstream", "--workers", "8", "--clients", "8", "--every", "0.5"]);
    let up = srv.ready["upstream"].as_u64().unwrap();
    let up_pid = srv.ready["upstream_pid"].as_u64().unwrap() as u32;
    std::thread::sleep(Duration::from_millis(2500));
    let report = common::scan_until(&["--answer-timeout", "2s"], Duration::from_secs(40), |r| {
        !about(r, "unanswered_requests", srv.pid()).is_empty() && !about(r, "unanswered_requests", up_pid).is_empty()
    });
    let f = about(&report, "unanswered_requests", srv.pid());
    assert_eq!(f.len(), 1, "{report:#}");
    let line = f[0]["evidence"]["upstream"].as_str().unwrap_or_default();
    // Our requests were the last bytes on those connections: owed, not idle.
    let want = format!("8 of 10 worker threads wait on 127.0.0.1:{up}, which has owed an answer for ");
    assert!(line.starts_with(&want), "{line:?} does not start with {want:?}");
    // The title names the process the requests wait on, this host's upstream.
    let on = format!("it waits on python3 (pid {up_pid}) over TCP 127.0.0.1:{up}");
    assert!(f[0]["title"].as_str().unwrap().contains(&on), "{:#}", f[0]);
    // The upstream reads and never answers too; it is the cause.
    let u = about(&report, "unanswered_requests", up_pid);
    assert_eq!(u.len(), 1, "{report:#}");
    let caused_by: Vec<&str> = f[0]["caused_by"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(caused_by.contains(&u[0]["id"].as_str().unwrap()), "{caused_by:?} {:#}", u[0]);
}

/// Handlers log to a pipe whose reader is SIGSTOPped: the pipe fills and
/// every handler blocks in write. The finding names the reader and its state.
#[test]
fn full_log_pipe_names_its_stopped_reader() {
    let srv = common::python("handler_hang.py", &["pipe", "--clients", "4", "--every", "0.5"]);
    let reader = srv.ready["reader"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let pid = srv.pid().to_string();
    let report = found(&["--pid", &pid, "--answer-timeout", "2s"], srv.pid());
    let f = about(&report, "unanswered_requests", srv.pid());
    assert_eq!(f.len(), 1, "{report:#}");
    let pipe = f[0]["evidence"]["pipe"].as_str().unwrap_or_default();
    assert!(pipe.contains(&format!("read by python3 (pid {reader}), stopped")), "{pipe}");
}

/// Handlers stuck in a DNS lookup: in a network and mount namespace the test
/// creates, /etc/resolv.conf names 127.0.0.1 (timeout 30 s, 1 attempt) and
/// the scenario binds a UDP socket there that never answers. The evidence
/// names the server asked and the resolver settings the process sees.
#[test]
fn handlers_stuck_in_a_dns_lookup_name_the_resolver() {
    let unshare = ["/usr/bin/unshare", "/bin/unshare"].into_iter().find(|p| std::path::Path::new(p).exists());
    if !common::require(
        "root and unshare (util-linux) for a private network and mount namespace",
        common::is_root() && unshare.is_some(),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("resolv.conf");
    std::fs::write(&conf, "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n").unwrap();
    let mut cmd = Command::new(unshare.unwrap());
    cmd.args(["--mount", "--net", "sh", "-c"])
        .arg("ip link set lo up && mount --bind \"$0\" /etc/resolv.conf && exec python3 -u \"$1\" dns --clients 3 --every 0.5")
        .arg(&conf)
        .arg(common::scenario_path("handler_hang.py"));
    let srv = common::start(cmd);
    std::thread::sleep(Duration::from_millis(2500));
    let pid = srv.pid().to_string();
    let report = found(&["--pid", &pid, "--answer-timeout", "2s"], srv.pid());
    let f = about(&report, "unanswered_requests", srv.pid());
    assert_eq!(f.len(), 1, "{report:#}");
    let line = f[0]["evidence"]["resolver"].as_str().unwrap_or_default();
    assert!(line.contains("for a DNS answer from 127.0.0.1:53 (a resolver stall)"), "{line}");
    assert!(line.contains("nameserver 127.0.0.1, timeout 30 s, attempts 1"), "{line}");
    assert!(f[0]["netns"].as_u64().is_some(), "{:#}", f[0]);
}

/// Redis with clients blocked in BLPOP (their requests read, no answer by
/// design) while redis-benchmark is served: silent.
#[test]
fn redis_blpop_clients_under_redis_benchmark_are_silent() {
    let have = |p: &str| {
        ["/usr/bin/", "/usr/sbin/", "/usr/local/bin/"].iter().any(|d| std::path::Path::new(&format!("{d}{p}")).exists())
    };
    if !common::require(
        "redis-server and redis-benchmark (apt-get install redis-server)",
        have("redis-server") && have("redis-benchmark"),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir.path()).arg("-c").arg(format!(
        "echo READY; exec redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning"
    ));
    let redis = common::start(cmd);
    assert!(
        common::wait_until(Duration::from_secs(5), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "redis did not start"
    );
    let started = Instant::now();
    let _blocked = common::redis_blpop_clients(port, 10);
    let mut bench = Command::new("sh");
    bench
        .arg("-c")
        .arg(format!("echo READY; exec redis-benchmark -p {port} -c 20 -n 50000000 -q -t set,get,lpush,lpop"));
    let _bench = common::start(bench);
    wait_since(started, Duration::from_millis(2500));
    let pid = redis.pid().to_string();
    let (report, _) = scan_json(&["--pid", &pid, "--answer-timeout", "2s"]);
    assert!(findings(&report, "unanswered_requests").is_empty(), "{report:#}");
    assert!(alarms_of(&report, redis.pid()).is_empty(), "{report:#}");
}

#[test]
fn clients_that_never_read_a_large_file_are_peer_not_reading() {
    let srv = common::python("slow_reader.py", &["--clients", "3", "--mode", "stuck"]);
    let pid = srv.pid().to_string();
    // The first finding may come while a handler thread is still filling
    // its socket's buffers: scan until all three are blocked on a zero
    // window (on a loaded host a scan takes seconds).
    let all_blocked = |r: &Value| {
        about(r, "peer_not_reading", srv.pid()).first().is_some_and(|f| {
            let ev = &f["evidence"];
            let conns = ev["connections"].as_array().map_or(&[][..], Vec::as_slice);
            ev["blocked_threads"].as_u64() == Some(3)
                && conns.iter().all(|c| c["peer_window"].as_u64() == Some(0) && c["bytes_queued"].as_u64() > Some(0))
        })
    };
    let report = common::scan_until(&["--pid", &pid], Duration::from_secs(30), all_blocked);
    let f = about(&report, "peer_not_reading", srv.pid());
    assert_eq!(f.len(), 1, "{report:#}");
    let ev = &f[0]["evidence"];
    assert_eq!(ev["blocked_threads"].as_u64(), Some(3), "{ev:#}");
    for c in ev["connections"].as_array().unwrap() {
        assert_eq!(c["peer_window"].as_u64(), Some(0), "{c:#}");
        assert!(c["bytes_queued"].as_u64().unwrap() > 0, "{c:#}");
    }
    assert!(f[0]["fix"].as_str().unwrap().contains("SO_SNDTIMEO"));
}

#[test]
fn a_fast_bulk_download_is_silent() {
    let srv = common::python("slow_reader.py", &["--clients", "3", "--mode", "fast"]);
    std::thread::sleep(Duration::from_millis(500));
    let pid = srv.pid().to_string();
    for _ in 0..3 {
        let (report, _) = scan_json(&["--pid", &pid]);
        assert!(findings(&report, "peer_not_reading").is_empty(), "{report:#}");
        assert!(alarms_of(&report, srv.pid()).is_empty(), "{report:#}");
    }
}
