//! /proc readers and reaping for the remedy tests (exec, stop).
#![allow(dead_code)]

use std::time::Duration;

pub const SIGHUP_BIT: u64 = 1 << (libc::SIGHUP - 1);
pub const SIGALRM_BIT: u64 = 1 << (libc::SIGALRM - 1);
pub const SIGTERM_BIT: u64 = 1 << (libc::SIGTERM - 1);

/// A hex mask line of /proc/PID/status (SigBlk, SigIgn, ShdPnd, …).
pub fn status_mask(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// (state, ppid) from /proc/PID/stat, split after the last ')'.
pub fn state_ppid(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = text[text.rfind(')')? + 1..].split_whitespace();
    let state = f.next()?.chars().next()?;
    Some((state, f.next()?.parse().ok()?))
}

/// Still running code: exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    state_ppid(pid).is_some_and(|(s, _)| !matches!(s, 'Z' | 'X'))
}

/// Makes this test process the reaper of orphaned descendants. pid 1 of the
/// test machine may never reap the orphans a test leaves (seen here: it
/// keeps them as zombies), so the tests reap their own by pid.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Reaps `pids` where they became our children (bounded; others are skipped).
pub fn reap(pids: &[u32]) {
    for &pid in pids {
        for _ in 0..100 {
            let mut status = 0;
            // SAFETY: waitpid on one specific pid with WNOHANG.
            let rc = unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
            if rc != 0 {
                break; // reaped, or not our child
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
