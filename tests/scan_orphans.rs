//! Live orphan_port_holder (story 1): a forking server's parent is
//! SIGKILLed, its children keep the listener, and a restart cannot bind.
//! Healthy twins: the same children while the master lives, and a setsid
//! daemon whose launcher exited.

mod common;

use common::{alarms, findings, ppid_of, python, scan_json, scan_until, wait_until};
use std::time::Duration;

#[test]
fn children_of_a_killed_master_hold_the_port() {
    let mut s = python("forking_server.py", &[]);
    let parent = s.pid() as u64;
    let port = s.ready["port"].as_u64().unwrap() as u16;
    let child = s.ready["children"][0].as_u64().unwrap();

    // Twin first: with the master alive its workers are not orphans.
    let (report, _) = scan_json(&["--pid", &child.to_string(), "--interval", "0"]);
    assert!(findings(&report, "orphan_port_holder").is_empty(), "{report:#}");

    s.child.kill().unwrap();
    s.child.wait().unwrap(); // reaped: the group leader no longer exists
    assert!(wait_until(Duration::from_secs(5), || ppid_of(child).is_some_and(|p| p != parent)));

    let report = scan_until(&["--pid", &child.to_string(), "--interval", "0.2"], Duration::from_secs(5), |r| {
        !findings(r, "orphan_port_holder").is_empty()
    });
    let f = findings(&report, "orphan_port_holder");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["port"].as_u64(), Some(port as u64));
    assert_eq!(f[0]["evidence"]["pgid"].as_u64(), Some(parent));
    let siblings = f[0]["evidence"]["siblings_in_group"].as_array().unwrap();
    assert!(siblings.iter().any(|s| s["holds_listener"] == true), "{:#}", f[0]);

    // What the operator hits: the restarted service cannot bind.
    let err = std::net::TcpListener::bind(("127.0.0.1", port)).expect_err("port should still be held");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

struct KillOnDrop(i32);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: killing the daemon this test started.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

#[test]
fn setsid_daemon_is_not_an_orphan() {
    let s = python("forking_server.py", &["--daemon"]);
    let daemon = s.ready["pid"].as_u64().unwrap();
    let _kill = KillOnDrop(daemon as i32);
    assert!(wait_until(Duration::from_secs(5), || ppid_of(daemon).is_some_and(|p| p != s.pid() as u64)));
    let (report, code) = scan_json(&["--pid", &daemon.to_string(), "--interval", "0.2"]);
    assert!(alarms(&report).is_empty() && code == 0, "{report:#}");
}

/// Healthy twin: a launcher that forked workers, each with its own listener,
/// and exited on purpose (the bench socket farm does this): the workers are
/// parentless and their group leader is gone, but nothing was inherited.
#[test]
fn workers_left_running_on_purpose_are_not_orphans() {
    let mut s = python("forking_server.py", &["--farm"]);
    let worker = s.ready["children"][0].as_u64().unwrap();
    s.child.wait().unwrap(); // the launcher exited; reaped, its group has no leader
    assert!(wait_until(Duration::from_secs(5), || ppid_of(worker).is_some_and(|p| p != s.pid() as u64)));
    let (report, code) = scan_json(&["--pid", &worker.to_string(), "--interval", "0.2"]);
    assert!(alarms(&report).is_empty() && code == 0, "{report:#}");
}

/// Healthy twin: a pre-forking master started in the background by a script
/// that exited (`uwsgi --master &`): parentless, group leader gone, its
/// workers share its listener — it is serving, not left over.
#[test]
fn master_launched_in_the_background_is_not_an_orphan() {
    let mut s = python("forking_server.py", &["--launched-master"]);
    let master = s.ready["master"].as_u64().unwrap();
    s.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(5), || ppid_of(master).is_some_and(|p| p != s.pid() as u64)));
    let (report, code) = scan_json(&["--pid", &master.to_string(), "--interval", "0.2"]);
    assert!(alarms(&report).is_empty() && code == 0, "{report:#}");
}

/// Real nginx (master + 2 workers, `daemon off` so the test owns the
/// master), its master SIGKILLed: story 1's restart failure with third-party
/// software. The workers keep serving the port; `scan` names both,
/// `stop --port` clears them and the port binds again.
#[test]
fn nginx_workers_of_a_killed_master_are_found_and_stopped() {
    let nginx = common::nginx_path();
    if !common::require("nginx (apt-get install nginx-light)", nginx.is_some()) {
        return;
    }
    let nginx = nginx.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut master, port) = common::start_nginx(&nginx, dir.path(), 2, |port| {
        format!(" server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"hi\\n\"; }} }}")
    });
    let master_pid = master.pid() as u64;
    let workers = || -> Vec<u64> {
        let mut v: Vec<u64> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&pid: &u64| {
                std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with("nginx: worker"))
                    && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                        s.rsplit_once(')').and_then(|r| r.1.split_whitespace().nth(2)) == Some(&master_pid.to_string())
                    })
            })
            .collect();
        v.sort();
        v
    };
    assert!(wait_until(Duration::from_secs(5), || workers().len() == 2), "nginx workers did not start");
    let ours = workers();

    master.child.kill().unwrap();
    master.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(5), || ours.iter().all(|&w| ppid_of(w).is_some_and(|p| p != master_pid))));
    // The workers still answer: the old service lingers on the port.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let report = scan_until(&["--port", &port.to_string(), "--interval", "0.2"], Duration::from_secs(5), |r| {
        findings(r, "orphan_port_holder").len() == 2
    });
    let mut named: Vec<u64> =
        findings(&report, "orphan_port_holder").iter().filter_map(|f| f["pid"].as_u64()).collect();
    named.sort();
    assert_eq!(named, ours, "{report:#}");
    assert_eq!(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap_err().kind(), std::io::ErrorKind::AddrInUse);

    let out =
        common::unwedge().args(["stop", "--port", &port.to_string(), "--grace", "2s", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["port_free"], true, "{result:#}");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "the port binds again after stop");
}
