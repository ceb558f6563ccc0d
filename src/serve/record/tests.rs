//! The recorder without a clock: flapping, cooldowns, the burst, the cap,
//! atomic writes and what a restart finds.

use super::*;
use crate::watch::fake::{close_wait, report, stalled};

const MIN: u64 = 60_000;

fn trigger() -> Trigger {
    Trigger::new(Duration::from_secs(600))
}

#[test]
fn a_finding_flapping_100_times_in_10_minutes_is_recorded_once() {
    let mut t = trigger();
    let mut recorded = 0;
    // 100 flaps in 10 minutes: present one 3 s scan, gone the next.
    for i in 0..200u64 {
        let r = if i % 2 == 0 { report(vec![close_wait(42, 8080, 20)]) } else { report(vec![]) };
        recorded += usize::from(t.observe(&r, i * 3_000));
    }
    assert_eq!(recorded, 1);
    // After the cooldown it is recorded again.
    assert!(t.observe(&report(vec![close_wait(42, 8080, 20)]), 11 * MIN));
}

#[test]
fn a_crash_loop_with_a_new_pid_each_time_is_held_by_the_burst() {
    let mut t = trigger();
    let mut recorded = 0;
    for i in 0..200u64 {
        let r = if i % 2 == 0 { report(vec![close_wait(1000 + i as u32, 8080, 20)]) } else { report(vec![]) };
        recorded += usize::from(t.observe(&r, i * 3_000));
    }
    assert_eq!(recorded, BURST, "a handful, not 100");
}

#[test]
fn escalation_is_recorded_even_within_the_cooldown_and_a_standing_incident_once() {
    let mut t = trigger();
    assert!(t.observe(&report(vec![close_wait(42, 8080, 20)]), 0));
    assert!(!t.observe(&report(vec![close_wait(42, 8080, 30)]), 15_000), "the same warning");
    assert!(t.observe(&report(vec![close_wait(42, 8080, 150)]), 30_000), "warning to critical");
    assert!(!t.observe(&report(vec![close_wait(42, 8080, 150)]), 45_000));
    // A second finding appearing beside it is new.
    assert!(t.observe(&report(vec![close_wait(42, 8080, 150), stalled(7, 9090, 50)]), 60_000));
    // Info findings never record.
    let mut info = close_wait(5, 1, 3);
    info.severity = Severity::Info;
    assert!(!trigger().observe(&report(vec![info]), 0));
}

#[test]
fn a_finding_held_back_by_the_burst_is_recorded_once_the_burst_allows() {
    let mut t = trigger();
    for i in 0..BURST as u64 {
        assert!(t.observe(&report(vec![close_wait(100 + i as u32, 1, 20)]), i * 1000));
    }
    let late = report(vec![close_wait(999, 1, 20)]);
    assert!(!t.observe(&late, 10_000));
    assert!(!t.observe(&late, 20_000));
    assert!(t.observe(&late, 10 * MIN + 1), "still there when the burst frees up");
}

fn config(dir: &Path, max: u64) -> Config {
    Config { dir: dir.to_path_buf(), max_bytes: max, cooldown: Duration::from_secs(600), unredacted: false }
}

fn shelf(dir: &Path) -> Shelf {
    Shelf { dir: dir.to_path_buf(), list: Mutex::new(load(dir).unwrap()), written: 0.into(), failed: 0.into() }
}

/// Bytes of the files under `dir`, at any depth.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dir_bytes(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

/// Every file and directory under `dir`, with its mode.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        v.push((p.clone(), std::fs::metadata(&p).unwrap().permissions().mode() & 0o777));
        if p.is_dir() {
            v.extend(modes(&p));
        }
    }
    v
}

fn job(pid: u32, at_ms: u64) -> Job {
    let snap = unwedge_model::Snapshot { hostname: "testhost".into(), ..Default::default() };
    Job { report: Arc::new(report(vec![close_wait(pid, 8080, 20)])), scan: Scan { snapshots: vec![snap] }, at_ms }
}

#[test]
fn the_cap_is_never_exceeded_and_the_oldest_go_first() {
    let dir = tempfile::tempdir().unwrap();
    let one = {
        let probe = tempfile::tempdir().unwrap();
        let s = shelf(probe.path());
        write_one(&s, &config(probe.path(), u64::MAX), &job(1, 0));
        dir_bytes(probe.path())
    };
    let max = one * 3 + one / 2;
    let s = shelf(dir.path());
    let cfg = config(dir.path(), max);
    for i in 0..10u32 {
        write_one(&s, &cfg, &job(i, u64::from(i) * 1000));
        assert!(dir_bytes(dir.path()) <= max, "after recording {i}: {} > {max}", dir_bytes(dir.path()));
        assert_eq!(s.bytes(), dir_bytes(dir.path()));
    }
    let ids: Vec<String> = s.list().into_iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], "19700101T000009Z-close_wait_leak", "newest first: {ids:?}");
    assert!(ids[2].starts_with("19700101T000007Z"), "{ids:?}");
    for (p, mode) in modes(dir.path()) {
        assert_eq!(mode, if p.is_dir() { 0o700 } else { 0o600 }, "{}", p.display());
    }
    // Each is its page and its snapshots, which load again.
    let newest = dir.path().join(&ids[0]);
    assert!(newest.join(PAGE).is_file());
    let again = unwedge_pipeline::load(&newest).unwrap();
    assert_eq!(again.snapshots[0].hostname, "testhost");
    // Too big for the cap at all: not written, nothing evicted.
    let tiny = config(dir.path(), one / 2);
    write_one(&s, &tiny, &job(99, 99_000));
    assert_eq!(s.list().len(), 3);
    assert_eq!(s.failed.load(Ordering::Relaxed), 1);
}

#[test]
fn a_restart_lists_what_is_there_and_removes_torn_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = shelf(dir.path());
    let cfg = config(dir.path(), u64::MAX);
    write_one(&s, &cfg, &job(42, 5_000));
    let torn = dir.path().join(".tmp-19700101T000009Z-close_wait_leak");
    std::fs::create_dir(&torn).unwrap();
    std::fs::write(torn.join(PAGE), b"<!doctype html><p>torn").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
    let again = load(dir.path()).unwrap();
    assert_eq!(again, s.list());
    assert_eq!(again[0].kinds, vec!["close_wait_leak"]);
    assert_eq!(again[0].headline, "leaky holds 20 sockets in CLOSE-WAIT it never closed");
    assert_eq!(again[0].time, "2026-01-01T00:00:00Z");
    assert!(!torn.exists());
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn two_recordings_in_one_second_get_distinct_ids() {
    let dir = tempfile::tempdir().unwrap();
    let s = shelf(dir.path());
    let cfg = config(dir.path(), u64::MAX);
    write_one(&s, &cfg, &job(1, 1_000));
    write_one(&s, &cfg, &job(2, 1_500));
    let ids: Vec<String> = s.list().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, vec!["19700101T000001Z-close_wait_leak-2", "19700101T000001Z-close_wait_leak"]);
}

#[test]
fn ids_are_names_never_paths() {
    assert!(valid_id("20260107T140750Z-close_wait_leak"));
    assert!(valid_id("20260107T140750Z-close_wait_leak-2"));
    for bad in ["../etc/passwd", "20260107T140750Z-../x", "x", "20260107T140750Z-a/b", "20260107T140750Z-a.html", ""] {
        assert!(!valid_id(bad), "{bad}");
    }
}

#[test]
fn a_scan_the_busy_writer_could_not_take_is_retried_with_the_next() {
    let (tx, rx) = sync_channel::<Job>(1);
    let mut r = Recorder { trigger: trigger(), jobs: tx };
    let leak = Arc::new(report(vec![close_wait(42, 8080, 20)]));
    // The writer holds one job already: this one is dropped, and not counted as recorded.
    r.jobs.try_send(job(1, 0)).unwrap();
    r.observe(&leak, Scan::default, 1_000);
    assert_eq!(rx.try_iter().count(), 1, "only the job that was already queued");
    r.observe(&leak, Scan::default, 2_000);
    let queued: Vec<Job> = rx.try_iter().collect();
    assert_eq!(queued.len(), 1, "the leak is recorded by the next scan");
    assert_eq!(queued[0].at_ms, 2_000);
    r.observe(&leak, Scan::default, 3_000);
    assert_eq!(rx.try_iter().count(), 0, "and then not again");
}
