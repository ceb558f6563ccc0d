//! What a target's threads did while unwedge looked at it: the states
//! (/proc/PID/task/*/stat) seen, polled every 2 ms, so a test can check
//! that reading or sampling never stopped it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The states the process's threads showed while `f` ran.
pub fn states_during<T>(pid: u32, f: impl FnOnce() -> T) -> (T, Vec<char>) {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for e in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
                    let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
                    if let Some(s) = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next()) {
                        if !seen.contains(&s) {
                            seen.push(s);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            seen
        })
    };
    let out = f();
    stop.store(true, Ordering::Relaxed);
    (out, watcher.join().unwrap())
}

/// The target stayed running or sleeping (never T or t) `during` what was watched.
pub fn assert_never_stopped(states: &[char], during: &str) {
    assert!(!states.is_empty(), "the watcher saw no thread");
    assert!(states.iter().all(|s| matches!(s, 'R' | 'S')), "the target left R/S {during}: {states:?}");
}
