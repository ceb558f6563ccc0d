//! Helpers for the live tests: children that die with the test, scenario
//! scripts that say when they are ready, polling against a deadline (never
//! sleep-and-hope), running a command with a deadline, running the real
//! `unwedge` binary, and `require` for a live test's prerequisites.
#![allow(dead_code)]

pub mod cgroup;
pub mod continuous;
pub mod states;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process in its own process group; the whole group is SIGKILLed
/// when the guard drops, so a failing test leaves nothing behind.
pub struct Child {
    pub child: std::process::Child,
    /// The first line the child printed after "READY ", parsed as JSON.
    pub ready: Value,
}

impl Child {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signalling the process group this guard created.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios").join(name)
}

/// Starts `cmd` in a new process group and waits (up to 20 s) for it to
/// print `READY {json}` on stdout.
pub fn start(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped()).stdin(Stdio::null()).process_group(0);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("READY") {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    let mut guard = Child { child, ready: Value::Null };
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(text) => {
            guard.ready = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("READY json") }
        }
        Err(_) => panic!("{cmd:?} did not become ready within 20 s"),
    }
    guard
}

/// Runs a Python scenario script from tests/scenarios.
pub fn python(script: &str, args: &[&str]) -> Child {
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(scenario_path(script)).args(args);
    start(cmd)
}

/// Polls `f` until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub fn unwedge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unwedge"))
}

/// `unwedge scan --json ARGS`: the parsed report and the exit status.
/// With `UNWEDGE_TEST_SCAN=serve`, the report a long-running `unwedge
/// serve` (continuous mode) publishes now instead, where serve can give it
/// (`continuous::scan_json`).
pub fn scan_json(args: &[&str]) -> (Value, i32) {
    if continuous::via_serve() {
        if let Some(r) = continuous::scan_json(args) {
            return r;
        }
    }
    let out = unwedge().arg("scan").arg("--json").args(args).output().expect("run unwedge");
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(code, 2, "unwedge scan failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (report, code)
}

/// Findings of `kind` in a report.
pub fn findings<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"].as_array().map(|a| a.iter().filter(|f| f["kind"] == kind).collect()).unwrap_or_default()
}

/// Findings of severity warning or critical.
pub fn alarms(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["severity"] == "warning" || f["severity"] == "critical").collect())
        .unwrap_or_default()
}

/// Scans repeatedly (bounded) until `pred` holds on the report; returns the last report.
pub fn scan_until(args: &[&str], limit: Duration, mut pred: impl FnMut(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (report, _) = scan_json(args);
        if pred(&report) || Instant::now() >= deadline {
            return report;
        }
    }
}

pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The parent pid of PID, from /proc/PID/stat; None once it is gone.
pub fn ppid_of(pid: u64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Debian's nginx binary, if installed.
pub fn nginx_path() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

/// Real nginx (`daemon off`, so the guard owns the master) with WORKERS
/// worker processes and prefix DIR; `server(port)` gives the server and
/// upstream blocks of its http block. nginx cannot listen on port 0, so a
/// port is picked by binding port 0 and the start retried on a conflict.
pub fn start_nginx(
    nginx: &std::path::Path,
    dir: &std::path::Path,
    workers: u32,
    server: impl Fn(u16) -> String,
) -> (Child, u16) {
    start_nginx_with(nginx, dir, workers, "", server)
}

/// `start_nginx` with directives for the main context (`worker_rlimit_nofile 64;`).
pub fn start_nginx_with(
    nginx: &std::path::Path,
    dir: &std::path::Path,
    workers: u32,
    main: &str,
    server: impl Fn(u16) -> String,
) -> (Child, u16) {
    let d = dir.display();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "worker_processes {workers};\n{main}\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n access_log off;\n client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3;\n\
             uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;\n{}\n}}\n",
            server(port)
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        // nginx prints nothing when ready: the shell says READY, then execs it.
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo READY; exec \"$0\" -p \"$1\" -c \"$1/nginx.conf\" -e stderr").arg(nginx).arg(dir);
        let mut guard = start(cmd);
        let up = wait_until(Duration::from_secs(5), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() || !matches!(guard.child.try_wait(), Ok(None))
        });
        if up && matches!(guard.child.try_wait(), Ok(None)) {
            return (guard, port);
        }
        eprintln!("nginx did not start on port {port} (taken?), retrying");
    }
    panic!("nginx did not start in 5 tries; see {d}/error.log");
}

/// Set to 1 (`.ci/test` does) so that a live test whose prerequisite is
/// missing fails instead of passing without having run.
pub const REQUIRE_LIVE: &str = "UNWEDGE_REQUIRE_LIVE";

/// Whether a live test may go on: true when `ok` (its prerequisite `what`
/// is met). Otherwise, with UNWEDGE_REQUIRE_LIVE=1 it panics; without, it
/// prints a loud SKIPPED line and returns false, and the caller returns.
/// Usage: `if !common::require("nginx", nginx.is_some()) { return; }`.
pub fn require(what: &str, ok: bool) -> bool {
    require_with(std::env::var(REQUIRE_LIVE).is_ok_and(|v| v == "1"), what, ok)
}

/// `require` with the variable's value passed in (unit-tested without
/// touching the process environment).
pub fn require_with(require_live: bool, what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    // libtest names each test's thread after the test.
    let test = std::thread::current().name().filter(|n| *n != "main").unwrap_or("(unnamed)").to_string();
    if require_live {
        panic!(
            "live test {test} needs {what}: missing; CI sets {REQUIRE_LIVE}=1 so this fails instead of passing \
             vacuously (bash .ci/install-test-deps.sh installs the packages; root is needed for some)"
        );
    }
    let line = format!(
        "\n!!!!!!!! SKIPPED live test {test}: needs {what}: missing\n!!!!!!!! it passes without having run; \
         run .ci/install-test-deps.sh (as root), or set {REQUIRE_LIVE}=1 to make this a failure\n"
    );
    eprintln!("{line}");
    // cargo test captures the stderr of passing tests: say it on the terminal too, when there is one.
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        let _ = writeln!(tty, "{line}");
    }
    false
}

/// Waits up to `limit` for CHILD to exit; its status, or None while it still runs.
pub fn wait_with_deadline(child: &mut std::process::Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(limit, || {
        status = child.try_wait().expect("wait for child");
        status.is_some()
    });
    status
}

/// How a command run by `run_with_deadline` ended.
#[derive(Debug)]
pub struct Ran {
    /// Its status (a signal once killed) and everything it printed.
    pub output: Output,
    pub took: Duration,
    /// Still running at the deadline: its process group was SIGKILLed.
    pub killed: bool,
    /// The command, for messages.
    pub what: String,
}

impl Ran {
    /// The output of a command that finished; panics, with what it printed,
    /// when it had to be killed at the deadline.
    pub fn finished(self) -> Output {
        if self.killed {
            panic!(
                "{} did not finish within {:?}: killed\nstdout: {}\nstderr: {}",
                self.what,
                self.took,
                String::from_utf8_lossy(&self.output.stdout),
                String::from_utf8_lossy(&self.output.stderr)
            );
        }
        self.output
    }
}

/// Runs CMD (stdin from /dev/null, stdout and stderr captured) in its own
/// process group; SIGKILLs the whole group if it is still running after
/// `limit`, so a hung command fails its test instead of hanging the suite.
pub fn run_with_deadline(cmd: &mut Command, limit: Duration) -> Ran {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null()).process_group(0);
    let what = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    // Drained while it runs: a full pipe must not stall it.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let (status, killed) = match wait_with_deadline(&mut child, limit) {
        Some(status) => (status, false),
        None => {
            // SAFETY: signalling the process group created above.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            (child.wait().expect("reap killed child"), true)
        }
    };
    let took = started.elapsed();
    let output = Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() };
    Ran { output, took, killed, what }
}

/// Builds tests/scenarios/go/scenario.go into `CARGO_TARGET_TMPDIR/folder`
/// (one folder per test binary: two may build at once); None when there is
/// no Go toolchain.
pub fn build_go_scenario(folder: &str) -> Option<PathBuf> {
    let go = ["/usr/bin/go", "/usr/lib/go/bin/go"].into_iter().map(PathBuf::from).find(|p| p.exists())?;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("scenario");
    let out = Command::new(go)
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(scenario_path("go/scenario.go"))
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .output()
        .expect("run go build");
    assert!(out.status.success(), "go build failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(bin)
}

/// `n` Redis clients on `port`, each blocked in BLPOP on its own empty list
/// (a wait by design, the healthy twin of a request left unanswered).
pub fn redis_blpop_clients(port: u16, n: usize) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    (0..n)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let key = format!("q{i}");
            write!(c, "*3\r\n$5\r\nBLPOP\r\n${}\r\n{key}\r\n$1\r\n0\r\n", key.len()).unwrap();
            c
        })
        .collect()
}
