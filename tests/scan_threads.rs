//! Live stuck_thread: story 1's proxy (main thread joining a thread that
//! waits on an idle upstream while the client's request waits unread), and
//! an idle thread pool that must stay silent.

mod common;

use common::{alarms, findings, python, scan_json, scan_until};
use serde_json::Value;
use std::time::Duration;

#[test]
fn proxy_thread_waiting_on_idle_upstream_is_stuck() {
    let s = python("stuck_proxy.py", &[]);
    let pid = s.pid() as u64;
    let pump = s.ready["pump_tid"].as_u64().unwrap();
    let up_port = s.ready["upstream_port"].as_u64().unwrap();
    let has = |r: &Value, tid: u64| findings(r, "stuck_thread").iter().any(|f| f["tid"].as_u64() == Some(tid));
    // Both threads must sit still for the whole interval; a slow start may need a second scan.
    let report = scan_until(&["--pid", &pid.to_string(), "--interval", "0.5"], Duration::from_secs(8), |r| {
        has(r, pump) && has(r, pid)
    });
    let stuck = findings(&report, "stuck_thread");
    let f = stuck.iter().find(|f| f["tid"].as_u64() == Some(pump)).unwrap_or_else(|| panic!("{report:#}"));
    let t = &f["evidence"]["thread"];
    assert_eq!(t["name"], "upstream-pump", "{f:#}");
    assert_eq!(t["syscall"], "recvfrom", "{f:#}");
    let fd = t["fds"][0].as_str().unwrap_or_default();
    assert!(fd.contains(&format!("-> 127.0.0.1:{up_port} ESTAB")) && fd.contains("idle"), "{fd}");
    let work = f["evidence"]["work_waiting"].to_string();
    assert!(work.contains("bytes wait unread"), "{work}");
    let main = stuck.iter().find(|f| f["tid"].as_u64() == Some(pid)).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(main["evidence"]["thread"]["syscall"], "futex", "{main:#}");
    assert!(main["explanation"].as_str().unwrap().contains("upstream-pump"), "{main:#}");

    // The human view shows the thread and what its fd is.
    let out = common::unwedge()
        .args(["scan", "--pid", &pid.to_string(), "--interval", "0.5", "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("upstream-pump") && text.contains(&format!("127.0.0.1:{up_port}")), "{text}");
}

#[test]
fn idle_thread_pool_is_silent() {
    let s = python("idle_pool.py", &[]);
    let (report, code) = scan_json(&["--pid", &s.pid().to_string(), "--interval", "0.5"]);
    assert!(findings(&report, "stuck_thread").is_empty() && alarms(&report).is_empty() && code == 0, "{report:#}");
}
