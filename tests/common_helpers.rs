//! The helpers in tests/common that the live tests lean on: `require` (a
//! missing prerequisite fails under UNWEDGE_REQUIRE_LIVE=1, skips loudly
//! otherwise) and `run_with_deadline` (a hung command is killed, and says so).

mod common;

use common::{require_with, run_with_deadline, wait_with_deadline};
use std::process::Command;
use std::time::Duration;

#[test]
fn a_met_prerequisite_lets_the_test_run_either_way() {
    assert!(require_with(true, "a thing", true));
    assert!(require_with(false, "a thing", true));
}

#[test]
fn a_missing_prerequisite_skips_without_the_variable() {
    assert!(!require_with(false, "a thing", false));
}

#[test]
#[should_panic(expected = "live test a_missing_prerequisite_fails_when_required needs a thing: missing; \
                           CI sets UNWEDGE_REQUIRE_LIVE=1 so this fails instead of passing vacuously")]
fn a_missing_prerequisite_fails_when_required() {
    require_with(true, "a thing", false);
}

#[test]
fn a_command_that_finishes_gives_its_status_and_output() {
    let ran =
        run_with_deadline(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(10));
    assert!(!ran.killed);
    let out = ran.finished();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
}

#[test]
fn a_hung_command_and_its_children_are_killed_at_the_deadline() {
    // The shell's child holds the pipes too: killing only the shell would leave the reads waiting 30 s.
    let ran =
        run_with_deadline(Command::new("sh").args(["-c", "echo started; sleep 30; true"]), Duration::from_millis(300));
    assert!(ran.killed);
    assert!(ran.took >= Duration::from_millis(300) && ran.took < Duration::from_secs(5), "{:?}", ran.took);
    assert_eq!(ran.output.status.code(), None, "killed by a signal");
    assert_eq!(ran.output.stdout, b"started\n");
    let err = std::panic::catch_unwind(|| ran.finished()).expect_err("finished() panics on a killed command");
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("did not finish within") && msg.contains("killed") && msg.contains("started"), "{msg}");
}

#[test]
fn wait_with_deadline_leaves_a_running_child_running() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    assert_eq!(wait_with_deadline(&mut child, Duration::from_millis(100)), None);
    child.kill().unwrap();
    assert!(wait_with_deadline(&mut child, Duration::from_secs(5)).is_some());
}
