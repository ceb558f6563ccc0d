//! PostgreSQL (Debian's server package, a throw-away cluster on a free
//! loopback port): a process-per-connection server whose clients hang.
//!
//! - A session takes a table lock and goes idle inside its transaction;
//!   three clients' SELECTs wait on the lock. Every backend sleeps without
//!   running, none answers: `unanswered_requests`, and the backends' own
//!   titles ("… SELECT waiting", and the holder's "… idle in transaction")
//!   are in the explanation.
//! - The healthy twin: two clients run long CPU-bound queries. Their
//!   backends run during the interval: worked on, not stuck — silent.

mod common;

use common::{is_root, require, scan_json, scan_until};
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A process group this test started, killed (whole) when dropped.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: signalling the process group this guard created.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Group {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
    Group(cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")))
}

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("postgres").exists() && d.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Runs as the `postgres` user (the server refuses root).
fn as_postgres(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
    // The checkout may sit where the postgres user cannot enter (/root).
    cmd.current_dir("/");
    cmd
}

struct Cluster {
    port: u16,
    _server: Group,
    _dir: tempfile::TempDir,
}

fn cluster() -> Option<Cluster> {
    let bin = bin_dir();
    let has_user = Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success());
    let has_psql = Command::new("psql").arg("--version").output().is_ok_and(|o| o.status.success());
    if !require("PostgreSQL server and psql (Debian package postgresql)", bin.is_some() && has_user && has_psql)
        || !require("root (to run the server as the postgres user)", is_root())
    {
        return None;
    }
    let bin = bin.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("chown").arg("postgres:postgres").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "chown: {}", String::from_utf8_lossy(&out.stderr));
    let data = dir.path().join("data");
    let out = as_postgres(&bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
    // A free port (PostgreSQL cannot bind port 0).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = spawn(
        as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-k"])
            .arg(dir.path()),
    );
    assert!(
        common::wait_until(Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "postgres did not listen on {port}"
    );
    let c = Cluster { port, _server: server, _dir: dir };
    // The server may accept before it takes queries: retry the first one.
    assert!(
        common::wait_until(Duration::from_secs(20), || psql(port, "CREATE TABLE IF NOT EXISTS t(x int)")
            .status()
            .is_ok_and(|s| s.success())),
        "the first query never succeeded"
    );
    Some(c)
}

fn psql(port: u16, sql: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-X", "-q", "-c", sql]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

fn about_port(report: &Value, port: u16) -> Vec<&Value> {
    common::findings(report, "unanswered_requests").into_iter().filter(|f| f["port"] == port).collect()
}

#[test]
fn sessions_waiting_on_a_lock_are_unanswered_with_their_titles() {
    let Some(pg) = cluster() else { return };
    // The holder takes the lock and goes idle inside its transaction (its
    // psql keeps the connection open, reading a pipe that stays silent).
    let _holder = spawn(Command::new("sh").args([
        "-c",
        &format!(
            "(printf 'BEGIN;\\nLOCK TABLE t;\\n'; sleep 120) | psql -h 127.0.0.1 -p {} -U postgres -X -q",
            pg.port
        ),
    ]));
    std::thread::sleep(Duration::from_millis(500));
    let _waiters: Vec<Group> = (0..3).map(|_| spawn(&mut psql(pg.port, "SELECT * FROM t"))).collect();
    let report =
        scan_until(&["--answer-timeout", "2s"], Duration::from_secs(30), |r| !about_port(r, pg.port).is_empty());
    let f = about_port(&report, pg.port);
    assert_eq!(f.len(), 1, "{report:#}");
    let f = f[0];
    assert!(matches!(f["severity"].as_str(), Some("warning" | "critical")), "{f:#}");
    assert!(f["evidence"]["unanswered"].as_u64().unwrap() >= 3, "{f:#}");
    let why = f["explanation"].as_str().unwrap();
    assert!(why.contains("process-per-connection"), "{why}");
    assert!(why.contains("SELECT waiting"), "the backends' titles: {why}");
    assert!(why.contains("idle in transaction"), "the lock holder among the other connections: {why}");
}

#[test]
fn long_running_queries_are_worked_on_not_unanswered() {
    let Some(pg) = cluster() else { return };
    // Each query runs for minutes of CPU; the clients are killed at the end.
    let _busy: Vec<Group> =
        (0..2).map(|_| spawn(&mut psql(pg.port, "SELECT count(*) FROM generate_series(1, 4000000000)"))).collect();
    std::thread::sleep(Duration::from_millis(3500));
    for _ in 0..2 {
        let (report, _) = scan_json(&["--answer-timeout", "2s"]);
        assert!(about_port(&report, pg.port).is_empty(), "{report:#}");
    }
}
