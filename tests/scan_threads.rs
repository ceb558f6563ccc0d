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

#[test]
fn busy_event_loop_with_idle_helpers_is_silent() {
    // Redis under redis-benchmark, in miniature: 40 clients ping a loop
    // that needs 50 ms each, so bytes wait unread for ~2 s at a time while
    // three helper threads idle in futex. The loop thread runs: not stuck.
    let s = python("busy_event_loop.py", &[]);
    let port = s.ready["port"].as_u64().unwrap() as u16;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..40)
        .map(|_| {
            let (stop, connected) = (stop.clone(), connected.clone());
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                connected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 1000 {
                    if c.write_all(b"PING\r\n").is_err() || c.read(&mut [0u8; 16]).unwrap_or(0) == 0 {
                        break;
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    // Every client connected and pinging: 40 × 50 ms of work queued.
    let pid = s.pid().to_string();
    let all_in = || connected.load(std::sync::atomic::Ordering::Relaxed) == 40;
    assert!(common::wait_until(Duration::from_secs(5), all_in));
    let (report, code) = scan_json(&["--pid", &pid, "--interval", "1"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served: u32 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(served >= 10, "the loop served only {served} requests");
    assert!(findings(&report, "stuck_thread").is_empty() && alarms(&report).is_empty() && code == 0, "{report:#}");
}
