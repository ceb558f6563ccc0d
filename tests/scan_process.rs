//! Live process findings: blocked_signal, sigterm_blocked and zombie on real
//! scenario processes (tests/scenarios), each with a healthy twin that must
//! stay silent. Every scan is scoped with --pid so parallel tests never see
//! each other's processes.

mod common;

use common::{alarms, findings, python, scan_json, wait_until};
use serde_json::Value;
use std::time::Duration;

fn status_mask(pid: u64, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

fn pid_of(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("READY has no {key}: {v}"))
}

const SIGALRM_BIT: u64 = 1 << 13;

/// Story 4: the child of a thread that blocks every signal never gets its
/// SIGALRM; the finding names the parent the mask came from.
#[test]
fn child_of_a_blocking_thread_has_blocked_sigalrm() {
    let s = python("signal_inherit.py", &[]);
    let (parent, child, launcher) =
        (pid_of(&s.ready, "pid"), pid_of(&s.ready, "child"), pid_of(&s.ready, "launcher_tid"));
    assert!(
        wait_until(Duration::from_secs(5), || status_mask(child, "ShdPnd") & SIGALRM_BIT != 0),
        "alarm(1) never became pending in the child"
    );
    let (report, code) = scan_json(&["--pid", &child.to_string(), "--interval", "0.3"]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report, "blocked_signal");
    assert_eq!(f.len(), 1, "{report:#}");
    let f = f[0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["pid"].as_u64(), Some(child));
    assert_eq!(f["evidence"]["pending_blocked"], serde_json::json!(["SIGALRM"]), "{f:#}");
    assert_eq!(f["evidence"]["inherited_from"]["pid"].as_u64(), Some(parent), "{f:#}");
    assert_eq!(f["evidence"]["inherited_from"]["tid"].as_u64(), Some(launcher), "{f:#}");
    assert!(f["fix"].as_str().unwrap().contains("unwedge exec --"), "{f:#}");
    // SIGTERM is in the inherited mask too: plain kill cannot stop it.
    assert_eq!(findings(&report, "sigterm_blocked").len(), 1, "{report:#}");

    // The parent itself is fine: its main thread blocks nothing.
    let (report, _) = scan_json(&["--pid", &parent.to_string(), "--interval", "0"]);
    assert!(
        findings(&report, "blocked_signal").is_empty() && findings(&report, "sigterm_blocked").is_empty(),
        "{report:#}"
    );
}

/// Healthy twin: the same child launched from a thread that blocks nothing.
#[test]
fn child_of_an_unblocked_thread_is_silent() {
    let s = python("signal_inherit.py", &["--unblocked"]);
    let child = pid_of(&s.ready, "child");
    let fired = || std::fs::read_to_string(format!("/proc/{child}/comm")).is_ok_and(|c| c.trim() == "alarm-fired");
    assert!(wait_until(Duration::from_secs(5), fired), "the alarm handler never ran");
    let (report, code) = scan_json(&["--pid", &child.to_string(), "--interval", "0.3"]);
    assert!(alarms(&report).is_empty() && code == 0, "{report:#}");
}

#[test]
fn sigterm_ignored_or_blocked_but_not_when_read_from_a_signalfd() {
    let ignore = python("sigterm_modes.py", &["ignore"]);
    let block = python("sigterm_modes.py", &["block"]);
    let sfd = python("sigterm_modes.py", &["signalfd"]);
    let plain = python("sigterm_modes.py", &["plain"]);
    for (s, expect) in [(&ignore, true), (&block, true), (&sfd, false), (&plain, false)] {
        let pid = s.pid().to_string();
        let (report, _) = scan_json(&["--pid", &pid, "--interval", "0.2"]);
        let f = findings(&report, "sigterm_blocked");
        if expect {
            assert_eq!(f.len(), 1, "{}: {report:#}", s.ready);
            assert!(f[0]["fix"].as_str().unwrap().contains(&format!("unwedge stop {pid}")), "{:#}", f[0]);
        } else {
            assert!(alarms(&report).is_empty(), "{}: {report:#}", s.ready);
        }
    }
    assert_eq!(
        findings(&scan_json(&["--pid", &ignore.pid().to_string(), "--interval", "0"]).0, "sigterm_blocked")[0]
            ["evidence"]["ignored"],
        true
    );
    // The signalfd daemon really does honour SIGTERM: it reads it and exits 0.
    let mut sfd = sfd;
    // SAFETY: signalling our own scenario child.
    unsafe { libc::kill(sfd.pid() as i32, libc::SIGTERM) };
    let status = common::wait_with_deadline(&mut sfd.child, Duration::from_secs(5));
    assert!(status.is_some());
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

/// A worker that ignores SIGTERM under its live master (PostgreSQL's logger
/// does) is reported, but only as info: its master stops it, not kill.
#[test]
fn worker_ignoring_sigterm_under_a_live_master_is_info() {
    let s = python("sigterm_modes.py", &["managed"]);
    let worker = pid_of(&s.ready, "worker");
    let ignores = || status_mask(worker, "SigIgn") & (1 << 14) != 0;
    assert!(wait_until(Duration::from_secs(5), ignores));
    let (report, code) = scan_json(&["--pid", &worker.to_string(), "--interval", "0.2"]);
    let f = findings(&report, "sigterm_blocked");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "info");
    assert!(alarms(&report).is_empty() && code == 0, "{report:#}");
}

#[test]
fn parent_that_never_reaps_ten_children() {
    let s = python("zombies.py", &[]);
    let (report, code) = scan_json(&["--pid", &s.pid().to_string(), "--interval", "0.2"]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report, "zombie");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["evidence"]["count"], 10, "{:#}", f[0]);
    assert!(f[0]["evidence"]["oldest_age_s"].as_f64().is_some());

    let reaper = python("zombies.py", &["--reap"]);
    let (report, code) = scan_json(&["--pid", &reaper.pid().to_string(), "--interval", "0.2"]);
    assert!(alarms(&report).is_empty() && code == 0, "{report:#}");
}
