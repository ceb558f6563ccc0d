//! Capture before kill, as documented in deploy/: the systemd drop-in's
//! `ExecStop=` line (`unwedge stop $MAINPID --capture DIR/`) run on a live
//! CLOSE-WAIT leak leaves a page (0600, snapshots inside) that names the
//! cause, then kills the process; after a crash ($MAINPID empty) it says so
//! and writes nothing. The Kubernetes preStop hook's command leaves its
//! page and snapshots too. The lines are read from the files, so the
//! documentation cannot drift from what works.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn deploy(file: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy").join(file)).unwrap()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_unwedge")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The drop-in's ExecStop= command, with this build, `pid` and `dir`.
fn exec_stop(pid: &str, dir: &Path) -> Vec<String> {
    let conf = deploy("systemd/capture-before-stop.conf");
    let line = conf.lines().find_map(|l| l.strip_prefix("ExecStop=")).expect("an ExecStop= line");
    // `-` (a failure does not fail the stop) and `+` (full privileges) are systemd's.
    let line = line.trim_start_matches(['-', '+']);
    line.split_whitespace()
        .filter_map(|w| match w {
            "/usr/local/bin/unwedge" => Some(bin().to_string()),
            // systemd drops an empty $MAINPID word.
            "$MAINPID" => (!pid.is_empty()).then(|| pid.to_string()),
            "/var/lib/unwedge/captures/" => Some(format!("{}/", dir.display())),
            w => Some(w.to_string()),
        })
        .collect()
}

#[test]
fn the_systemd_exec_stop_captures_then_kills() {
    let leaky = common::python("leaky_listener.py", &["--count", "12"]);
    let pid = leaky.pid();
    let dir = tempfile::tempdir().unwrap();
    let argv = exec_stop(&pid.to_string(), dir.path());
    let out =
        common::run_with_deadline(std::process::Command::new(&argv[0]).args(&argv[1..]), Duration::from_secs(180))
            .finished();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // The capture came before the first signal.
    let capture = stdout.find("captured the scan (").expect("a capture step");
    assert!(
        stdout[capture..].lines().next().unwrap().contains("close_wait_leak"),
        "the capture names the cause: {stdout}"
    );
    assert!(capture < stdout.find("SIGTERM ->").expect("a SIGTERM step"), "{stdout}");
    let mut leaky = leaky;
    let status = common::wait_with_deadline(&mut leaky.child, Duration::from_secs(10));
    assert!(status.is_some(), "pid {pid} survived");

    let pages = files(dir.path());
    assert_eq!(pages.len(), 1, "{pages:?}");
    let page = &pages[0];
    assert!(page.file_name().unwrap().to_str().unwrap().ends_with(&format!("-python3-{pid}.html")), "{page:?}");
    assert_eq!(mode(page), 0o600);
    let html = std::fs::read_to_string(page).unwrap();
    assert!(html.contains("close_wait_leak") && html.contains(&format!("(pid {pid})")));
    let (report, _) = common::scan_json(&["--from-snapshot", page.to_str().unwrap(), "--pid", &pid.to_string()]);
    assert!(common::findings(&report, "close_wait_leak").iter().any(|f| f["pid"] == pid), "{report}");
    drop(leaky);
}

#[test]
fn after_a_crash_the_exec_stop_has_no_target_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let argv = exec_stop("", dir.path());
    let out = common::run_with_deadline(std::process::Command::new(&argv[0]).args(&argv[1..]), Duration::from_secs(60))
        .finished();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PID"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(files(dir.path()).is_empty());
}

#[test]
fn the_kubernetes_pre_stop_hook_keeps_a_page_and_its_snapshots() {
    let yaml = deploy("kubernetes/capture-prestop.yaml");
    let script = yaml
        .lines()
        .skip_while(|l| l.trim() != "- -c")
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("- "))
        .expect("the preStop hook's sh -c script");
    let dir = tempfile::tempdir().unwrap();
    // The whole test host is scanned, not one container: give it longer than a pod's grace period.
    let script = script
        .replace("/usr/local/bin/unwedge", bin())
        .replace("/captures/", &format!("{}/", dir.path().display()))
        .replace("--deadline 25s", "--deadline 170s");
    let mut sh = std::process::Command::new("/bin/sh");
    sh.arg("-c").arg(&script).env("HOSTNAME", "myapp-7d9f");
    let out = common::run_with_deadline(&mut sh, Duration::from_secs(180)).finished();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = files(dir.path());
    assert_eq!(got.len(), 2, "{got:?}: {}", String::from_utf8_lossy(&out.stderr));
    for f in &got {
        assert!(f.file_name().unwrap().to_str().unwrap().starts_with("myapp-7d9f-"), "{f:?}");
        assert_eq!(mode(f), 0o600, "{f:?}");
    }
    let html = got.iter().find(|f| f.extension().is_some_and(|e| e == "html")).expect("the page");
    assert!(std::fs::read_to_string(html).unwrap().contains("id=\"unwedge-snapshot\""), "the snapshots are embedded");
}
