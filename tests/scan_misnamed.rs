//! Issue 22, live: the incidents unwedge used to name wrongly, with real
//! software, each beside its healthy twin that must stay silent:
//! - nginx proxying to an upstream whose SYNs an iptables DROP eats (a
//!   network namespace the scenario makes); twin: SYN-ACKs held 300 ms;
//! - a threaded server logging to a file on a FUSE mount (a libfuse3 daemon
//!   built here) that never answers a write; twin: it answers after 300 ms;
//! - an asyncio service calling a blocking HTTP client on an upstream that
//!   never answers; twin: an async client on an upstream that answers;
//! - nginx at its fd limit held by partial requests; twin: the same limit
//!   held by clients whose requests were answered (idle keep-alive).
//!
//! Each incident's human report tells one story, root first, in at most 60
//! lines, and says nothing the host does not show.

mod common;

use common::{findings, require, scan_json, scan_until, Child};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn sbin_path() -> String {
    format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default())
}

fn which(name: &str) -> Option<PathBuf> {
    sbin_path().split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// A scenario script with /usr/sbin on its PATH (iptables, nginx, ip).
fn scenario(script: &str, args: &[&str]) -> Child {
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(common::scenario_path(script)).args(args).env("PATH", sbin_path());
    common::start(cmd)
}

fn pid_of(c: &Child, key: &str) -> u64 {
    c.ready[key].as_u64().unwrap_or_else(|| panic!("READY without {key}: {}", c.ready))
}

fn human(args: &[&str]) -> String {
    let out = common::unwedge().args(["scan", "--color", "never"]).args(args).output().expect("run unwedge");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The findings about `pid`, and every word they say.
fn about(report: &Value, pid: u64) -> (Vec<&Value>, String) {
    let fs: Vec<&Value> =
        report["findings"].as_array().into_iter().flatten().filter(|f| f["pid"].as_u64() == Some(pid)).collect();
    let words = fs.iter().map(|f| format!("{}\n{}\n{}\n", f["title"], f["explanation"], f["fix"])).collect();
    (fs, words)
}

/// The one story of an incident: the root's kind before the consequence's,
/// at most 60 lines.
fn one_story(text: &str, root: &str, consequence: &str) {
    let r = text.find(root).unwrap_or_else(|| panic!("no {root} in\n{text}"));
    let c = text.find(consequence).unwrap_or_else(|| panic!("no {consequence} in\n{text}"));
    assert!(r < c && text.contains("Consequences"), "{root} must come first, {consequence} beneath:\n{text}");
    assert!(text.lines().count() <= 60, "{} lines:\n{text}", text.lines().count());
}

/// Scans `n` times; no warning or critical finding about any of `pids`.
fn silent(args: &[&str], pids: &[u64], n: usize) {
    for _ in 0..n {
        let (report, _) = scan_json(args);
        for f in common::alarms(&report) {
            assert!(!pids.contains(&f["pid"].as_u64().unwrap_or(0)), "the healthy twin raised {f:#}");
        }
    }
}

fn netns_prerequisites() -> bool {
    require("root (a network namespace, iptables)", common::is_root())
        && ["iptables", "ip", "nginx"]
            .iter()
            .all(|t| require(&format!("{t} on PATH or in /usr/sbin"), which(t).is_some()))
}

#[test]
fn nginx_behind_a_black_hole_names_the_connects_nothing_answers() {
    if !netns_prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("blackhole_proxy.py", &[dir.path().to_str().unwrap(), "drop"]);
    let worker = pid_of(&s, "worker");
    let p = worker.to_string();
    let args = ["--pid", &p, "--answer-timeout", "2s"];
    let report = scan_until(&args, LIMIT, |r| {
        !findings(r, "connect_unanswered").is_empty()
            && findings(r, "unanswered_requests").iter().any(|f| !f["caused_by"].as_array().unwrap().is_empty())
    });
    let c = findings(&report, "connect_unanswered");
    assert_eq!(c.len(), 1, "{report:#}");
    let (c, ev) = (c[0], &c[0]["evidence"]);
    assert_eq!(c["pid"].as_u64(), Some(worker));
    assert_eq!(ev["remote"], "127.0.0.1:9090");
    assert!(
        ev["syn_retransmits"].as_u64().unwrap() >= 1 && ev["oldest_first_syn_ms"].as_u64().unwrap() >= 1000,
        "{c:#}"
    );
    assert!(c["fix"].as_str().unwrap().contains("proxy_connect_timeout"), "{c:#}");
    let u = findings(&report, "unanswered_requests");
    assert_eq!(u[0]["caused_by"], serde_json::json!([c["id"]]), "{report:#}");
    let (_, words) = about(&report, worker);
    assert!(!words.contains("does not show"), "the kernel shows it:\n{words}");
    one_story(&human(&args), "connect_unanswered", "unanswered_requests");
}

#[test]
fn connects_that_complete_after_a_delayed_syn_ack_are_silent() {
    if !netns_prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = scenario("blackhole_proxy.py", &[dir.path().to_str().unwrap(), "delay"]);
    let pids = [pid_of(&s, "worker"), pid_of(&s, "nginx"), s.pid() as u64];
    std::thread::sleep(Duration::from_secs(2));
    silent(&["--answer-timeout", "2s"], &pids, 3);
    let (report, _) = scan_json(&["--pid", &pids[0].to_string()]);
    assert!(findings(&report, "connect_unanswered").is_empty(), "{report:#}");
}

/// The FUSE daemon of tests/scenarios/fuse_log.c, built once per test binary.
fn fuse_daemon() -> Option<PathBuf> {
    let ok = require("root (mounting FUSE)", common::is_root())
        && require("/dev/fuse", Path::new("/dev/fuse").exists())
        && require("fusermount3 (package fuse3)", which("fusermount3").is_some());
    let flags =
        Command::new("pkg-config").args(["--cflags", "--libs", "fuse3"]).output().ok().filter(|o| o.status.success());
    if !ok || !require("pkg-config and libfuse3-dev", flags.is_some()) {
        return None;
    }
    let flags = String::from_utf8(flags?.stdout).unwrap();
    // Built once for the tests of this binary, which run in parallel. Its
    // name is the mount's subtype (fuse.fuse_log).
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let out = BUILT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("fuse_log");
        let built = Command::new("cc")
            .arg("-O2")
            .arg(common::scenario_path("fuse_log.c"))
            .arg("-o")
            .arg(&out)
            .args(flags.split_whitespace())
            .output()
            .expect("run cc");
        assert!(built.status.success(), "cc fuse_log.c: {}", String::from_utf8_lossy(&built.stderr));
        out
    });
    Some(out.clone())
}

/// A FUSE mount point the test owns: the scenario (and its daemon) killed
/// and the mount lazily unmounted when dropped, even on failure.
struct Mounted {
    dir: tempfile::TempDir,
    scenario: Option<Child>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        drop(self.scenario.take());
        let _ = Command::new(which("fusermount3").unwrap_or_else(|| "fusermount3".into()))
            .arg("-u")
            .arg("-z")
            .arg(self.dir.path())
            .output();
    }
}

fn fuse_log(mode: &str) -> Option<Mounted> {
    let daemon = fuse_daemon()?;
    let dir = tempfile::tempdir().unwrap();
    let mut m = Mounted { dir, scenario: None };
    let args = [daemon.to_str().unwrap(), m.dir.path().to_str().unwrap(), mode, "--clients", "4"];
    m.scenario = Some(scenario("fuse_log_server.py", &args));
    Some(m)
}

#[test]
fn a_fuse_mount_that_stopped_answering_is_named_with_its_daemon_not_a_pipe() {
    let Some(m) = fuse_log("hang") else { return };
    let s = m.scenario.as_ref().unwrap();
    let (server, daemon) = (s.pid() as u64, pid_of(s, "daemon"));
    let p = server.to_string();
    let args = ["--pid", &p, "--answer-timeout", "2s"];
    let report = scan_until(&args, LIMIT, |r| {
        !findings(r, "mount_unresponsive").is_empty()
            && findings(r, "unanswered_requests").iter().any(|f| !f["caused_by"].as_array().unwrap().is_empty())
    });
    let mu = findings(&report, "mount_unresponsive");
    assert_eq!(mu.len(), 1, "{report:#}");
    let e = &mu[0]["evidence"];
    assert_eq!(e["mount_point"].as_str(), m.dir.path().to_str(), "{e:#}");
    assert_eq!(e["fs_type"], "fuse.fuse_log", "{e:#}");
    assert_eq!(e["daemon"][0]["pid"].as_u64(), Some(daemon), "{e:#}");
    assert_eq!(e["daemon_found_by"], "fuse_connection", "{e:#}");
    assert_eq!(e["first"]["wchan"], "request_wait_answer", "{e:#}");
    let behind = e["behind"].as_array().unwrap();
    assert!(behind.len() >= 2 && behind.iter().all(|b| b["state"] == "D" && b["wchan"] == "fdget_pos"), "{e:#}");
    let u = findings(&report, "unanswered_requests");
    assert!(u[0]["caused_by"].as_array().unwrap().contains(&mu[0]["id"]), "{report:#}");
    let (_, words) = about(&report, server);
    assert!(!words.contains("buffer space") && !words.contains("reader is not reading"), "a pipe's story:\n{words}");
    one_story(&human(&args), "mount_unresponsive", "unanswered_requests");
}

#[test]
fn a_fuse_mount_that_answers_slowly_is_silent() {
    let Some(m) = fuse_log("slow") else { return };
    let s = m.scenario.as_ref().unwrap();
    let pids = [s.pid() as u64, pid_of(s, "daemon")];
    std::thread::sleep(Duration::from_secs(2));
    silent(&["--answer-timeout", "2s"], &pids, 3);
}

#[test]
fn an_event_loop_blocked_by_a_synchronous_call_gets_the_event_loop_fix() {
    if !require("python3", which("python3").is_some()) {
        return;
    }
    let s = scenario("asyncio_blocking.py", &["sync"]);
    let pid = s.pid() as u64;
    let p = pid.to_string();
    let report = scan_until(&["--pid", &p], LIMIT, |r| {
        findings(r, "accept_stalled").iter().any(|f| !f["caused_by"].as_array().unwrap().is_empty())
    });
    let stuck = findings(&report, "stuck_thread");
    let stall = findings(&report, "accept_stalled");
    assert_eq!((stuck.len(), stall.len()), (1, 1), "{report:#}");
    assert_eq!(stuck[0]["tid"].as_u64(), Some(pid), "the loop is the main thread");
    assert_eq!(stall[0]["caused_by"], serde_json::json!([stuck[0]["id"]]), "{report:#}");
    let blocked = &stall[0]["evidence"]["event_loop_blocked"];
    assert_eq!((blocked["tid"].as_u64(), blocked["syscall"].as_str()), (Some(pid), Some("recvfrom")), "{blocked:#}");
    let fix = stall[0]["fix"].as_str().unwrap();
    assert!(fix.contains("blocks") && fix.contains("event loop") && !fix.contains("run more workers"), "{fix}");
    let (_, words) = about(&report, pid);
    assert!(words.contains("owed") || words.contains("owes"), "{words}");
    assert!(!words.contains("keep-alive"), "the upstream owes an answer, it is not idle keep-alive:\n{words}");
    one_story(&human(&["--pid", &p]), "stuck_thread", "accept_stalled");
}

#[test]
fn an_event_loop_awaiting_an_async_client_is_silent() {
    if !require("python3", which("python3").is_some()) {
        return;
    }
    let s = scenario("asyncio_blocking.py", &["async"]);
    let pids = [s.pid() as u64, pid_of(&s, "upstream_pid")];
    std::thread::sleep(Duration::from_secs(2));
    silent(&["--answer-timeout", "2s"], &pids, 3);
}

/// nginx (one worker, 64 fds) and 90 clients; `complete`: each sends a
/// whole request (answered, then idle keep-alive), else a partial one.
fn nginx_at_its_limit(complete: bool) -> Option<(Child, Vec<std::net::TcpStream>, tempfile::TempDir)> {
    let nginx = common::nginx_path();
    if !require("nginx (Debian nginx-light)", nginx.is_some()) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (master, port) = common::start_nginx_with(
        nginx.as_deref()?,
        dir.path(),
        1,
        "worker_rlimit_nofile 64;",
        |port| {
            format!("server {{ listen 127.0.0.1:{port} backlog=32; keepalive_timeout 120s; location / {{ return 200 \"ok\\n\"; }} }}")
        },
    );
    let request: &[u8] = if complete { b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" } else { b"GET / HTTP/1.1\r\nHost: x\r\n" };
    let mut clients = Vec::new();
    for _ in 0..90 {
        if let Ok(mut c) =
            std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
        {
            let _ = std::io::Write::write_all(&mut c, request);
            clients.push(c);
        }
    }
    Some((master, clients, dir))
}

fn worker_of(master: &Child) -> u64 {
    let mut w = None;
    assert!(common::wait_until(Duration::from_secs(5), || {
        w = std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: u64 = e.file_name().to_str()?.parse().ok()?;
            (common::ppid_of(pid) == Some(master.pid() as u64)).then_some(pid)
        });
        w.is_some()
    }));
    w.unwrap()
}

#[test]
fn partial_requests_are_what_holds_the_fds_not_requests_nginx_chose_not_to_answer() {
    let Some((master, _clients, _dir)) = nginx_at_its_limit(false) else { return };
    let worker = worker_of(&master);
    let p = worker.to_string();
    let args = ["--pid", &p, "--answer-timeout", "2s"];
    let report = scan_until(&args, LIMIT, |r| {
        findings(r, "fd_exhaustion")
            .iter()
            .any(|f| f["evidence"]["partial_requests"]["idle_since_ms"].as_u64() >= Some(2000))
    });
    let fd = findings(&report, "fd_exhaustion");
    let pr = &fd[0]["evidence"]["partial_requests"];
    assert!(pr["connections"].as_u64().unwrap() >= 20, "{:#}", fd[0]);
    assert_eq!(pr["server_waits_in"], "event loop", "{pr:#}");
    assert!(fd[0]["explanation"].as_str().unwrap().contains("slowloris-like"), "{:#}", fd[0]);
    assert!(findings(&report, "unanswered_requests").is_empty(), "told under fd_exhaustion:\n{report:#}");
    let (_, words) = about(&report, worker);
    assert!(!words.contains("chose not to answer"), "{words}");
    one_story(&human(&args), "fd_exhaustion", "accept_stalled");
}

#[test]
fn answered_keep_alive_clients_at_the_fd_limit_are_no_partial_requests() {
    let Some((master, _clients, _dir)) = nginx_at_its_limit(true) else { return };
    let worker = worker_of(&master);
    let p = worker.to_string();
    let report =
        scan_until(&["--pid", &p, "--answer-timeout", "2s"], LIMIT, |r| !findings(r, "fd_exhaustion").is_empty());
    let fd = findings(&report, "fd_exhaustion");
    assert_eq!(fd.len(), 1, "every fd is held by an idle keep-alive client: the limit is real\n{report:#}");
    assert!(fd[0]["evidence"].get("partial_requests").is_none(), "answered requests are not partial: {:#}", fd[0]);
    assert!(findings(&report, "unanswered_requests").is_empty(), "{report:#}");
}
