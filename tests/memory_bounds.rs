//! Memory bounds: a host with a million open fds, and a process with a
//! 2 MB command line, keep a scan's peak RSS small; the cmdline is capped.

mod common;

use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// The limit issue 8 sets for a host with 1,000,000 open fds.
const RSS_LIMIT_KB: i64 = 200 * 1024;

/// Runs `unwedge scan --interval 0 --json --save-snapshot` and returns the
/// saved snapshot and the scan's peak RSS in KiB (from wait4's rusage).
fn scan_with_rss(dir: &std::path::Path) -> (Value, i64) {
    let snap = dir.join("snap.json");
    let out = std::fs::File::create(dir.join("report.json")).unwrap();
    // Reaped by wait4 below (for its rusage), not by Child::wait.
    #[allow(clippy::zombie_processes)]
    let child = common::unwedge()
        .args(["scan", "--interval", "0", "--json", "--save-snapshot"])
        .arg(&snap)
        .stdout(Stdio::from(out))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; we reap our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, child.id() as i32);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 2, "scan failed: status {status}");
    let report: Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).expect("report JSON");
    assert!(report["coverage"]["processes"].as_u64().unwrap() > 0);
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&snap).unwrap()).expect("snapshot JSON");
    (snapshot, usage.ru_maxrss)
}

fn process(snapshot: &Value, pid: u32) -> Option<&Value> {
    snapshot["snapshots"][0]["processes"].as_array().unwrap().iter().find(|p| p["pid"] == pid)
}

#[test]
fn a_million_open_fds_and_a_2mb_cmdline_stay_under_200mb() {
    // At least 1,000,000 fds across processes: as many forked copies of one
    // fd-filled process as its hard RLIMIT_NOFILE requires.
    let holders = common::python("many_fds.py", &["--total", "1000000"]);
    let pids: Vec<u32> = holders.ready["pids"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u32).collect();
    let per = holders.ready["per_process"].as_u64().unwrap();
    assert!(pids.len() as u64 * per >= 1_000_000);

    // A 2 MB command line: 16 arguments of 128,000 bytes (each under
    // MAX_ARG_STRLEN), with a stack limit raised so execve accepts them all.
    let big = "x".repeat(128_000);
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg("import time; print('READY', flush=True); time.sleep(120)");
    for _ in 0..16 {
        cmd.arg(&big);
    }
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 64 << 20, rlim_max: libc::RLIM_INFINITY };
            if libc::setrlimit(libc::RLIMIT_STACK, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let long = common::start(cmd);
    let raw = std::fs::read(format!("/proc/{}/cmdline", long.pid())).unwrap();
    assert!(raw.len() > 2_000_000, "the live cmdline is only {} bytes", raw.len());

    let dir = tempfile::tempdir().unwrap();
    let (snapshot, rss_kb) = scan_with_rss(dir.path());
    eprintln!("peak RSS of a scan over 1,000,000 fds and a 2 MB cmdline: {} KiB", rss_kb);
    assert!(rss_kb < RSS_LIMIT_KB, "peak RSS {rss_kb} KiB");
    let mut total = 0;
    for &pid in &pids {
        let p = process(&snapshot, pid).expect("fd holder scanned, not skipped");
        total += p["fd_count"].as_u64().unwrap();
    }
    assert!(total >= 1_000_000, "{total} fds seen");
    let p = process(&snapshot, long.pid()).expect("long cmdline scanned");
    let cmdline = p["cmdline"].as_str().unwrap();
    assert!(cmdline.len() <= 4096, "cmdline kept whole: {} bytes", cmdline.len());
    assert!(cmdline.contains(" -c import time"), "{}", &cmdline[..80.min(cmdline.len())]);
}
