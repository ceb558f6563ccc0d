//! Live scenarios for the socket findings: real misbehaving servers on
//! loopback, started by the test, and `unwedge scan` must name their pid.
//! Each healthy twin must raise no warning or critical finding.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(15);

fn pid_of(c: &Child) -> u32 {
    c.ready["pid"].as_u64().expect("pid") as u32
}

fn port_of(c: &Child) -> u64 {
    c.ready["port"].as_u64().expect("port")
}

/// Scans (bounded) until a finding of `kind` about `pid` appears; returns it.
fn expect_finding(kind: &str, pid: u32, extra: &[&str]) -> Value {
    let pid_s = pid.to_string();
    let mut args = vec!["--pid", &pid_s];
    args.extend_from_slice(extra);
    let report = scan_until(&args, LIMIT, |r| findings(r, kind).iter().any(|f| f["pid"] == pid));
    findings(&report, kind)
        .into_iter()
        .find(|f| f["pid"] == pid)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} for pid {pid} in {report:#}"))
}

/// A healthy process must stay silent over a few scans.
fn expect_silent(pid: u32) {
    for _ in 0..2 {
        let (report, code) = scan_json(&["--pid", &pid.to_string()]);
        assert!(alarms(&report).is_empty(), "false alarm on a healthy process: {report:#}");
        assert_eq!(code, 0);
    }
}

#[test]
fn close_wait_leak_names_the_leaky_listener() {
    let srv = python("leaky_listener.py", &["--count", "60"]);
    let f = expect_finding("close_wait_leak", pid_of(&srv), &[]);
    assert_eq!(f["port"], port_of(&srv));
    assert_eq!(f["evidence"]["close_wait"], 60);
    // The handler never read, so every FIN still waits unread.
    assert_eq!(f["evidence"]["never_read_to_eof"], 60);
    assert_eq!(f["evidence"]["read_eof_not_closed"], 0);
    assert!(f["evidence"]["peer_ports_in_ephemeral_range"].as_u64().unwrap() > 0);
    assert!(f["explanation"].as_str().unwrap().contains("challenge ACK"));
}

#[test]
fn close_wait_leak_tells_read_eof_from_never_read() {
    let srv = python("leaky_listener.py", &["--count", "20", "--read-eof"]);
    let f = expect_finding("close_wait_leak", pid_of(&srv), &[]);
    assert_eq!(f["evidence"]["read_eof_not_closed"], 20);
    assert_eq!(f["evidence"]["never_read_to_eof"], 0);
}

/// Clients that connect and close without a byte (TCP health checks): the
/// leak is named, and their FINs are no requests left unanswered.
#[test]
fn close_wait_leak_of_bare_connects_is_no_unanswered_request() {
    let srv = python("leaky_listener.py", &["--count", "20", "--no-request"]);
    let pid = pid_of(&srv);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let f = expect_finding("close_wait_leak", pid, &["--answer-timeout", "1s"]);
    assert_eq!(f["evidence"]["close_wait"], 20);
    let (report, _) = scan_json(&["--pid", &pid.to_string(), "--answer-timeout", "1s"]);
    assert!(findings(&report, "unanswered_requests").is_empty(), "{report:#}");
}

#[test]
fn close_wait_leak_on_ipv6() {
    let srv = python("leaky_listener.py", &["--count", "12", "--host", "::1"]);
    let f = expect_finding("close_wait_leak", pid_of(&srv), &[]);
    assert_eq!(f["port"], port_of(&srv));
}

#[test]
fn keepalive_starvation_names_the_one_slot_server() {
    let srv = python("one_slot_keepalive.py", &[]);
    let pid = pid_of(&srv);
    let f = expect_finding("keepalive_starvation", pid, &[]);
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["port"], port_of(&srv));
    assert_eq!(f["evidence"]["slots_held_by_idle"], 1);
    assert_eq!(f["evidence"]["waiting_whole_interval"], 1);
    // The more specific finding replaces accept_stalled for that listener.
    let (report, code) = scan_json(&["--pid", &pid.to_string()]);
    assert!(findings(&report, "accept_stalled").is_empty(), "{report:#}");
    assert_eq!(code, 1);
}

#[test]
fn full_accept_queue_that_is_never_drained() {
    let srv = python("never_accept.py", &["--backlog", "4", "--connects", "10"]);
    let pid = pid_of(&srv);
    let f = expect_finding("accept_queue_overflow", pid, &[]);
    assert_eq!(f["evidence"]["backlog"], 4);
    assert!(f["evidence"]["queued"].as_u64().unwrap() >= 4);
    let f = expect_finding("accept_stalled", pid, &[]);
    assert_eq!(f["evidence"]["accepted_during_interval"], 0);
    assert_eq!(f["port"], port_of(&srv));
}

#[test]
fn fd_exhaustion_at_ninety_percent() {
    let p = python("fd_hog.py", &["--limit", "100", "--percent", "90"]);
    let f = expect_finding("fd_exhaustion", pid_of(&p), &["--interval", "0"]);
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["evidence"]["soft_limit"], 100);
    assert!(f["evidence"]["open_fds"].as_u64().unwrap() >= 90);
}

#[test]
fn port_filter_keeps_only_that_port() {
    let srv = python("leaky_listener.py", &["--count", "10"]);
    let port = port_of(&srv);
    let report = scan_until(&["--port", &port.to_string()], LIMIT, |r| !findings(r, "close_wait_leak").is_empty());
    let all = report["findings"].as_array().unwrap();
    assert!(!all.is_empty());
    assert!(all.iter().all(|f| f["port"] == port), "{report:#}");
}

#[test]
fn healthy_echo_server_under_load_is_silent() {
    let srv = python("healthy_echo.py", &["--seconds", "20", "--clients", "8"]);
    expect_silent(pid_of(&srv));
}

#[test]
fn healthy_keepalive_server_with_spare_capacity_is_silent() {
    let srv = python("healthy_keepalive.py", &[]);
    expect_silent(pid_of(&srv));
}

#[test]
fn idle_listener_is_silent() {
    let srv = python("idle_listener.py", &[]);
    expect_silent(pid_of(&srv));
}

/// Runs scenario SCRIPT (with ARGS) in a new network namespace whose
/// loopback is up, after the shell commands SETUP (sysctls); None (see
/// `common::require`) without root or unshare(1).
fn in_new_netns(setup: &str, script: &str, args: &str) -> Option<Child> {
    if !common::require("root (to create a network namespace)", is_root())
        || !common::require(
            "unshare(1) (apt-get install util-linux)",
            std::process::Command::new("unshare").arg("--version").output().is_ok(),
        )
    {
        return None;
    }
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--net", "sh", "-c", &format!("ip link set lo up && {setup} exec python3 -u \"$0\" {args}")])
        .arg(scenario_path(script));
    Some(start(cmd))
}

#[test]
fn leaky_listener_inside_a_network_namespace_is_found_from_the_host() {
    let Some(srv) = in_new_netns("", "leaky_listener.py", "--count 30") else { return };
    let pid = pid_of(&srv);
    let f = expect_finding("close_wait_leak", pid, &[]);
    let own_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert!(f["netns"].is_u64(), "the finding names the container's namespace: {f:#}");
    assert!(!own_ns.to_string_lossy().contains(&f["netns"].to_string()));
    assert_eq!(f["evidence"]["close_wait"], 30);
}

#[test]
fn close_wait_collisions_happening_now_are_counted() {
    // Its own namespace, so the namespace's TcpExt counters move only for it.
    let setup = "sysctl -qw net.ipv4.tcp_fin_timeout=1 &&";
    let Some(srv) = in_new_netns(setup, "close_wait_collisions.py", "") else { return };
    let pid = pid_of(&srv);
    let (r, _) = scan_json(&["--pid", &pid.to_string(), "--interval", "1"]);
    let f = findings(&r, "close_wait_leak");
    assert_eq!(f.len(), 1, "{r:#}");
    let ev = &f[0]["evidence"];
    let hits = ev["syn_challenges_during_interval"].as_u64().unwrap_or(0);
    assert!(hits >= 1, "colliding SYNs during the interval: {ev:#}");
    assert_eq!(ev["tcp_fin_timeout_s"], 1, "{ev:#}");
    assert!(f[0]["explanation"].as_str().unwrap().contains("It is happening now"), "{:#}", f[0]);
}

#[test]
fn json_report_follows_the_contract() {
    let (r, code) = scan_json(&["--interval", "0"]);
    assert!(code == 0 || code == 1);
    for key in ["unwedge_version", "host", "taken_at", "interval_ms", "duration_ms", "coverage", "findings"] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    for key in ["processes", "threads", "sockets", "skipped"] {
        assert!(r["coverage"].get(key).is_some(), "missing coverage.{key}");
    }
    assert_eq!(r["interval_ms"], 0);
    assert!(r["coverage"]["processes"].as_u64().unwrap() > 1);
    let notes = r["coverage"]["notes"].to_string();
    assert!(notes.contains("accept_stalled"), "interval 0 says what it skipped: {notes}");
}

#[test]
fn snapshot_round_trip_reproduces_the_finding() {
    let srv = python("leaky_listener.py", &["--count", "10"]);
    let pid = pid_of(&srv);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    let file_s = file.to_str().unwrap();
    let pid_s = pid.to_string();
    let live = scan_until(&["--pid", &pid_s, "--save-snapshot", file_s], LIMIT, |r| {
        !findings(r, "close_wait_leak").is_empty()
    });
    let (replayed, code) = scan_json(&["--pid", &pid_s, "--from-snapshot", file_s]);
    assert_eq!(code, 1);
    assert_eq!(live["findings"], replayed["findings"]);
}

#[test]
fn bad_input_gets_one_line_and_exit_2() {
    for args in [
        vec!["scan", "--interval", "-1"],
        vec!["scan", "--interval", "soon"],
        vec!["scan", "--pid", "0"],
        vec!["scan", "--pid", "4294967295999"],
        vec!["scan", "--port", "70000"],
        vec!["scan", "--from-snapshot", "/nonexistent/unwedge.json"],
        vec!["scan", "--fd-warning", "120"],
        vec!["scan", "--bogus"],
        vec!["frobnicate"],
    ] {
        let out = unwedge().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?} should print one line: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A pid that does not exist is bad input too.
    let out = unwedge().args(["scan", "--interval", "0", "--pid", "4000000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no process with pid 4000000"));
}

#[test]
fn corrupt_snapshot_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, b"{\"snapshots\": [ {\"oops\": ").unwrap();
    let out = unwedge().args(["scan", "--from-snapshot", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an unwedge snapshot"));
}

#[test]
fn human_output_names_the_problem_without_colour_when_piped() {
    let srv = python("leaky_listener.py", &["--count", "10"]);
    let pid = pid_of(&srv).to_string();
    let ok = wait_until(LIMIT, || {
        let out = unwedge().args(["scan", "--pid", &pid]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains('\x1b'), "no colour into a pipe");
        text.contains("close_wait_leak") && text.contains(&format!("(pid {pid})")) && text.contains("Fix:")
    });
    assert!(ok);
}
