//! unwedge never hangs: a process wedged in a FUSE mount that never answers
//! cannot stall a scan, and `--deadline` ends any command on time.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The victim's /proc/PID/cmdline read blocks: its mmap lock is held by a
/// thread faulting on a FUSE page whose READ is never answered, with a
/// writer queued behind it (tests/scenarios/hung_fuse.py).
#[test]
fn a_process_wedged_in_a_hung_fuse_mount_is_skipped_and_the_scan_finishes() {
    // Without them the never-hang guarantee is not exercised live (the walk's unit tests still cover the budget).
    if !common::require("root (to mount)", common::is_root())
        || !common::require("/dev/fuse", Path::new("/dev/fuse").exists())
        || !common::require("/usr/bin/unshare (apt-get install util-linux)", Path::new("/usr/bin/unshare").exists())
    {
        return;
    }
    let mnt = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("unshare");
    cmd.arg("-m").arg("python3").arg("-u").arg(common::scenario_path("hung_fuse.py")).arg(mnt.path());
    let fuse = common::start(cmd);
    let victim = fuse.ready["pid"].as_u64().expect("victim pid") as u32;

    // The state is real: a thread of the victim sleeps uninterruptibly.
    let wedged = common::wait_until(Duration::from_secs(5), || {
        std::fs::read_dir(format!("/proc/{victim}/task")).into_iter().flatten().flatten().any(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('D'))
        })
    });
    // Without the wedge only the scan's completion is checked below: not the test's point.
    common::require(&format!("a thread of the FUSE victim {victim} in D state within 5 s"), wedged);

    let deadline = Duration::from_secs(10);
    let started = Instant::now();
    let out = common::unwedge()
        .args(["scan", "--json", "--interval", "0.2", "--deadline", "10s"])
        .output()
        .expect("run unwedge");
    let took = started.elapsed();
    assert!(took < deadline, "the scan took {took:?}");
    assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let skipped = report["coverage"]["skipped"].as_array().expect("skipped");
    if wedged {
        assert!(
            skipped.iter().any(|s| s["pid"] == victim && s["reason"] == "timed out reading /proc"),
            "victim {victim} not skipped: {skipped:?}"
        );
    }
    // Everything else was still read.
    assert!(report["coverage"]["processes"].as_u64().unwrap() > 1);

    // The human report names the hung process: it is a clue in itself.
    if wedged {
        let out = common::unwedge().args(["scan", "--interval", "0", "--color", "never"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // Another process touching the mount may hang with it: "pid A, B timed out".
        let line = text.lines().find(|l| l.starts_with("reading /proc of pid")).unwrap_or_default();
        let pids: Vec<&str> = line
            .trim_start_matches("reading /proc of pid ")
            .split(" timed out")
            .next()
            .unwrap_or_default()
            .split(", ")
            .collect();
        assert!(pids.contains(&victim.to_string().as_str()) && line.contains("timed out"), "{text}");
    }
}

/// A server that accepts (in the kernel's backlog) and never answers: the
/// probe would wait its 5 s --timeout; the 1 s --deadline ends it first.
#[test]
fn deadline_ends_a_probe_with_one_line_and_exit_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    let out = common::unwedge()
        .args(["probe", "http", &format!("http://127.0.0.1:{port}/"), "--timeout", "5s", "--deadline", "1s"])
        .output()
        .expect("run unwedge");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("unwedge: gave up after --deadline 1.0 s"), "{stderr}");
    drop(listener);
}
