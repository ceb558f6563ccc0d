//! `unwedge exec`, live (story 4 of the field notes): a thread that blocks
//! every signal starts programs; started through `unwedge exec` they get an
//! empty mask and default dispositions, and the hping3-style SIGALRM wait
//! ends instead of hanging.

mod common;
mod remedy_proc;

use common::{python, scenario_path, unwedge, wait_until};
use remedy_proc::*;
use std::path::Path;
use std::time::Duration;

const UNWEDGE: &str = env!("CARGO_BIN_EXE_unwedge");

#[test]
fn exec_clears_the_mask_and_ignores_a_blocked_thread_leaks() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let g = python("remedy_blocked_thread.py", &[UNWEDGE, dir.path().to_str().unwrap(), "sleep", "30"]);
    let plain = g.ready["plain"].as_u64().unwrap() as u32;
    let via = g.ready["via"].as_u64().unwrap() as u32;
    // unwedge replaces itself: the same pid becomes `sleep`.
    assert!(wait_until(Duration::from_secs(10), || comm(via) == "sleep" && comm(plain) == "sleep"));

    assert_eq!(status_mask(via, "SigBlk"), Some(0), "via unwedge exec: mask not emptied");
    assert_eq!(status_mask(via, "SigIgn"), Some(0), "via unwedge exec: ignored signals kept");

    let blk = status_mask(plain, "SigBlk").unwrap();
    let ign = status_mask(plain, "SigIgn").unwrap();
    assert!(blk & SIGALRM_BIT != 0 && blk & SIGTERM_BIT != 0, "plain child should inherit the mask: {blk:x}");
    assert!(ign & SIGHUP_BIT != 0, "plain child should inherit ignored SIGHUP: {ign:x}");
    drop(g);
    reap(&[plain, via]);
}

#[test]
fn sigalrm_wait_hangs_from_the_blocked_thread_and_ends_via_exec() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let alarm = scenario_path("remedy_alarm.py");
    let g = python(
        "remedy_blocked_thread.py",
        &[UNWEDGE, dir.path().to_str().unwrap(), "python3", alarm.to_str().unwrap()],
    );
    let plain = g.ready["plain"].as_u64().unwrap() as u32;
    let via = g.ready["via"].as_u64().unwrap() as u32;
    let exit_of = |name: &str| std::fs::read_to_string(dir.path().join(name)).ok();

    // Through unwedge exec the handler runs after ~1 s and the script exits 0.
    assert!(wait_until(Duration::from_secs(10), || exit_of("via").is_some()), "via unwedge exec did not finish");
    assert_eq!(exit_of("via").as_deref(), Some("0"));

    // The plain child's alarm fired but stays pending behind the inherited mask...
    assert!(
        wait_until(Duration::from_secs(5), || status_mask(plain, "ShdPnd").is_some_and(|p| p & SIGALRM_BIT != 0)),
        "SIGALRM never became pending in the plain child"
    );
    // ...so it is still waiting in poll well after the alarm.
    assert!(!wait_until(Duration::from_millis(2500), || !alive(plain)), "plain child should hang");
    assert_eq!(exit_of("plain"), None);
    drop(g); // kills the launcher's group, the hanging child included
    reap(&[plain, via]);
}

#[test]
fn exec_fails_like_a_shell() {
    let out = unwedge().args(["exec", "--", "unwedge-test-no-such-command"]).output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unwedge-test-no-such-command: command not found"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-executable");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    let out = unwedge().arg("exec").arg("--").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Permission denied"), "{err}");

    // Otherwise the status and the arguments are the command's own.
    let out = unwedge().args(["exec", "--", "sh", "-c", "echo \"$1\"; exit 7", "sh", "--a b"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "--a b\n");
}

#[test]
fn close_fds_closes_inherited_descriptors() {
    // The shell opens fd 7 without close-on-exec, as a careless launcher would.
    let list = |flag: &str| {
        let script = format!("exec 7</dev/null; \"$0\" exec {flag} -- ls /proc/self/fd");
        let out = std::process::Command::new("sh").args(["-c", &script, UNWEDGE]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect::<Vec<_>>()
    };
    assert!(list("").contains(&"7".to_string()), "fd 7 should be inherited without --close-fds");
    let fds = list("--close-fds");
    assert!(!fds.contains(&"7".to_string()), "{fds:?}");
    assert!(["0", "1", "2"].iter().all(|f| fds.contains(&f.to_string())), "{fds:?}");
    assert!(Path::new(UNWEDGE).exists());
}
