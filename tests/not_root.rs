//! Without root: findings about the user's own processes still appear,
//! other users' processes are counted in coverage, and one stderr line says
//! how to get the full view. Everything here runs as `nobody` (65534).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const NOBODY: &str = "65534";

/// A command run as nobody, with no supplementary groups.
fn as_nobody(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"]).arg(program);
    cmd
}

/// The binary and the scenario scripts where nobody can read them
/// (the build tree or /root may not be).
fn stage(dir: &Path) -> PathBuf {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("unwedge");
    std::fs::copy(env!("CARGO_BIN_EXE_unwedge"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for s in ["_scn.py", "leaky_listener.py", "fd_hog.py"] {
        let to = dir.join(s);
        std::fs::copy(common::scenario_path(s), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    bin
}

#[test]
fn unprivileged_scan_names_own_processes_and_counts_the_rest() {
    let python = Path::new("/usr/bin/python3");
    if !common::require("root (to drop to nobody)", common::is_root())
        || !common::require("/usr/bin/setpriv (apt-get install util-linux)", Path::new("/usr/bin/setpriv").exists())
        || !common::require("/usr/bin/python3", python.exists())
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = stage(dir.path());
    let script = |name: &str| dir.path().join(name);

    let mut leaky = as_nobody(python);
    leaky.arg("-u").arg(script("leaky_listener.py")).args(["--count", "12"]);
    let leaky = common::start(leaky);
    let mut hog = as_nobody(python);
    hog.arg("-u").arg(script("fd_hog.py")).args(["--limit", "100", "--percent", "90"]);
    let hog = common::start(hog);
    let (leaky_pid, hog_pid) = (leaky.ready["pid"].as_u64().unwrap(), hog.ready["pid"].as_u64().unwrap());

    // CLOSE-WAIT sockets settle within a few scans; bounded.
    let limit = Instant::now() + Duration::from_secs(15);
    loop {
        let out = as_nobody(&bin).args(["scan", "--json", "--interval", "0.3"]).output().unwrap();
        assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let has = |kind: &str, pid: u64| {
            report["findings"].as_array().unwrap().iter().any(|f| f["kind"] == kind && f["pid"] == pid)
        };
        if has("close_wait_leak", leaky_pid) && has("fd_exhaustion", hog_pid) {
            // Exactly one line explains the partial view and how to get the full one.
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(lines[0].contains("not running as root") && lines[0].contains("CAP_SYS_PTRACE"), "{stderr}");
            // Root's processes (pid 1 at least) could not be fully read: counted, not dropped.
            let skipped = report["coverage"]["skipped"].as_array().unwrap();
            assert!(skipped.iter().any(|s| s["pid"] == 1), "pid 1 not in skipped: {skipped:?}");
            assert!(!skipped.iter().any(|s| s["pid"] == leaky_pid || s["pid"] == hog_pid));
            assert!(report["coverage"]["processes"].as_u64().unwrap() > 2);
            return;
        }
        assert!(Instant::now() < limit, "own findings missing as nobody: {report}");
    }
}

#[test]
fn unprivileged_serve_names_an_unreadable_token_file() {
    if !common::require("root (to drop to nobody)", common::is_root())
        || !common::require("/usr/bin/setpriv (apt-get install util-linux)", Path::new("/usr/bin/setpriv").exists())
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = stage(dir.path());
    // Readable by root only: nobody gets EACCES.
    let token = dir.path().join("token");
    std::fs::write(&token, b"s3cret\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = as_nobody(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--token-file"])
        .arg(&token)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| !l.contains("not running as root")).collect();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with("unwedge: cannot read token file") && errors[0].contains("Permission denied"),
        "{stderr}"
    );
}
