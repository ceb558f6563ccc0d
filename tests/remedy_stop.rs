//! `unwedge stop`, live (story 1 of the field notes): orphaned workers that
//! ignore SIGTERM hold a port after their master died; `stop --port` clears
//! them within the grace period and the port can be bound at once.

mod common;
mod remedy_proc;

use common::{is_root, python, unwedge, wait_until};
use remedy_proc::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn stop(args: &[&str]) -> (i32, String, String) {
    let out = unwedge().arg("stop").args(args).output().expect("run unwedge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stop_json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = stop(&[args, &["--json"]].concat());
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
    (code, v)
}

fn pids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u32).collect()
}

fn target_pids(report: &Value) -> BTreeSet<u32> {
    report["targets"].as_array().unwrap().iter().map(|t| t["pid"].as_u64().unwrap() as u32).collect()
}

#[test]
fn stop_port_clears_orphans_that_ignore_sigterm() {
    become_subreaper();
    let mut g = python("remedy_orphans.py", &["3"]);
    let port = g.ready["port"].as_u64().unwrap() as u16;
    let master = g.ready["master"].as_u64().unwrap() as u32;
    let workers = pids(&g.ready["workers"]);
    let closed = g.ready["closed"].as_u64().unwrap() as u32;
    let p = port.to_string();

    // The master dies without cleaning up: its workers become orphans.
    g.child.kill().unwrap();
    g.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(5), || workers
        .iter()
        .all(|&w| state_ppid(w).is_some_and(|(_, pp)| pp != master))));
    assert!(TcpListener::bind(("127.0.0.1", port)).is_err(), "the orphans should still hold the port");

    // --dry-run names all of them, including the one that holds no listener, and changes nothing.
    let (code, dry) = stop_json(&["--port", &p, "--grace", "1s", "--dry-run"]);
    assert_eq!(code, 0, "{dry}");
    assert_eq!(target_pids(&dry), workers.iter().copied().collect(), "{dry}");
    let by_group = dry["targets"].as_array().unwrap().iter().find(|t| t["pid"] == closed).unwrap();
    assert!(by_group["reason"].as_str().unwrap().contains("orphaned worker"), "{by_group}");
    assert!(dry["targets"].as_array().unwrap().iter().all(|t| t["outcome"] == "would_stop"));
    std::thread::sleep(Duration::from_millis(200)); // give a wrongly sent signal time to act
    assert!(workers.iter().all(|&w| alive(w)), "--dry-run must leave them running");
    assert!(TcpListener::bind(("127.0.0.1", port)).is_err());

    let started = Instant::now();
    let (code, report) = stop_json(&["--port", &p, "--grace", "1s"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["port_free"], true);
    assert!(report["targets"].as_array().unwrap().iter().all(|t| t["outcome"] == "killed"), "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    let ms_of = |action: &str| steps.iter().find(|s| s["action"] == action).and_then(|s| s["ms"].as_u64());
    let (term, kill) = (ms_of("sigterm").unwrap(), ms_of("sigkill").unwrap());
    assert!(kill >= term + 1000, "SIGKILL must wait for the grace period: {term} -> {kill}");
    assert!(steps.windows(2).all(|w| w[0]["ms"].as_u64() <= w[1]["ms"].as_u64()), "timings out of order");
    // Bounded: the grace period plus two socket dumps, even on a loaded machine.
    assert!(took < Duration::from_secs(15), "took {took:?}");

    assert!(workers.iter().all(|&w| !alive(w)), "all workers must be gone");
    TcpListener::bind(("127.0.0.1", port)).expect("a new server binds the port at once");
    reap(&workers);
}

#[test]
fn stop_port_on_a_live_master_takes_its_workers_too() {
    become_subreaper();
    let g = python("remedy_orphans.py", &["2"]);
    let port = g.ready["port"].as_u64().unwrap() as u16;
    let master = g.ready["master"].as_u64().unwrap() as u32;
    let workers = pids(&g.ready["workers"]);
    let closed = g.ready["closed"].as_u64().unwrap() as u32;
    let (code, report) = stop_json(&["--port", &port.to_string(), "--grace", "500ms"]);
    assert_eq!(code, 0, "{report:#}");
    let expected: BTreeSet<u32> = workers.iter().copied().chain([master]).collect();
    assert_eq!(target_pids(&report), expected, "{report:#}");
    let outcome = |pid: u32| report["targets"].as_array().unwrap().iter().find(|t| t["pid"] == pid).unwrap().clone();
    assert_eq!(outcome(master)["outcome"], "exited_after_sigterm");
    assert_eq!(outcome(closed)["outcome"], "killed");
    assert!(outcome(closed)["reason"].as_str().unwrap().contains(&format!("worker of pid {master}")));
    assert!(workers.iter().all(|&w| !alive(w)));
    drop(g);
    reap(&workers);
}

#[test]
fn stop_pid_prints_steps_and_fails_when_the_port_stays_held() {
    become_subreaper();
    let g = python("remedy_orphans.py", &["2"]);
    let master = g.ready["master"].as_u64().unwrap() as u32;
    let workers = pids(&g.ready["workers"]);
    // The master dies at SIGTERM, but a worker still holds the listener: exit 1, and it is named.
    let (code, out, err) = stop(&[&master.to_string(), "--grace", "5s"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains(&format!("SIGTERM -> python3 (pid {master})")), "{out}");
    assert!(out.contains("exited after SIGTERM"), "{out}");
    assert!(out.contains(&format!("held by python3 (pid {})", workers[0])), "{out}");
    assert!(out.contains("NOT free"), "{out}");
    assert!(!out.contains("SIGKILL"), "{out}");
    drop(g);
    reap(&workers);
}

#[test]
fn stop_says_a_zombie_is_already_dead_and_names_its_parent() {
    let g = python("remedy_zombie.py", &[]);
    let parent = g.ready["parent"].as_u64().unwrap() as u32;
    let zombie = g.ready["zombie"].as_u64().unwrap().to_string();
    assert!(wait_until(Duration::from_secs(5), || state_ppid(zombie.parse().unwrap()).is_some_and(|(s, _)| s == 'Z')));
    let (code, report) = stop_json(&[&zombie, "--grace", "1s"]);
    assert_eq!(code, 0, "{report:#}");
    let t = &report["targets"][0];
    assert_eq!(t["outcome"], "zombie");
    assert!(t["notes"][0].as_str().unwrap().contains(&format!("python3 (pid {parent})")), "{t}");
    assert!(!report["steps"].as_array().unwrap().iter().any(|s| s["action"] == "sigterm"), "{report:#}");
}

#[test]
fn a_stopped_target_gets_sigcont_so_its_sigterm_handler_runs() {
    let g = python("remedy_term_handler.py", &[]);
    let pid = g.pid();
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    assert!(wait_until(Duration::from_secs(5), || state_ppid(pid).is_some_and(|(s, _)| s == 'T')));
    let (code, report) = stop_json(&[&pid.to_string(), "--grace", "5s"]);
    assert_eq!(code, 0, "{report:#}");
    let t = &report["targets"][0];
    assert_eq!(t["outcome"], "exited_after_sigterm", "{report:#}");
    assert!(t["notes"][0].as_str().unwrap().starts_with("stopped (T)"), "{t}");
    let steps = report["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["action"] == "sigcont"), "{report:#}");
}

/// One line on stderr, exit 2, nothing on stdout.
fn refused(args: &[&str], needle: &str) {
    let (code, out, err) = stop(args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(out.is_empty(), "{out}");
}

#[test]
fn refusals_and_bad_targets() {
    // --dry-run as a second safety net: a broken refusal must still signal nothing.
    refused(&["1", "--dry-run"], "refusing to stop pid 1");
    // This test process is an ancestor of the unwedge it runs.
    refused(&[&std::process::id().to_string(), "--dry-run"], "ancestor");
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let missing = (2..pid_max).rev().find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()).unwrap();
    refused(&[&missing.to_string(), "--dry-run"], &format!("no process with pid {missing}"));
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    refused(&["--port", &free.to_string()], "nothing listens on TCP port");
}

#[test]
fn permission_denied_is_one_line_and_signals_nothing() {
    if !common::require("root (to run unwedge as a second uid)", is_root()) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // A copy uid 65534 can run: the build tree may not be reachable for it (a checkout under /root).
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("unwedge");
    std::fs::copy(env!("CARGO_BIN_EXE_unwedge"), &bin).unwrap();
    let mut sleeper = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id();
    let res = std::process::Command::new(&bin)
        .args(["stop", &pid.to_string(), "--grace", "1s"])
        .uid(65534)
        .gid(65534)
        .output();
    let alive_after = alive(pid);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let out = match res {
        Ok(out) => out,
        // The temp dir may still be unreachable for that uid (a TMPDIR under /root).
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            common::require(&format!("a copy of unwedge that uid 65534 may execute ({}: {e})", bin.display()), false);
            return;
        }
        Err(e) => panic!("cannot run unwedge as uid 65534: {e}"),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(alive_after);
}
