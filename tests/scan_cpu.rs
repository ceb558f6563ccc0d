//! Threads busy on a CPU, and CPU starvation, with real software and the
//! real binary (issue 26): a Node.js server whose event loop a regular
//! expression pins (busy_thread on the event loop, its CPU share, its
//! samples in V8's regular expression code, the accept stall beneath it);
//! a C server spinning in its handler (the function named from samples);
//! a one-request-at-a-time worker starved by six CPU hogs on its CPU
//! (cpu_starved with the hogs, the stall beneath it, never busy); and the
//! twins that stay silent: a CPU-heavy Python service that answers within
//! the answer timeout, a Node server under load, Redis starved of its CPU
//! by a dozen hogs while it answers redis-benchmark and clients wait in
//! BLPOP by design. During every scan the
//! target's threads stay running or sleeping (R/S): sampling stops nothing.
//!
//! The targets run in a cpu cgroup with the largest weight (a loaded test
//! host cannot take the CPU from them: busy is about a thread that gets
//! the CPU, and the starvation here is the hogs' the test starts), one
//! test at a time; every spinning child has a CPU-time limit. Redis and
//! its hogs share the test's own cgroup instead: hogs in the favouring
//! cgroup would leave it hardly a slice, and its twin is a service that
//! gets a fraction of its CPU, not none.

mod common;

use common::states::{assert_never_stopped, states_during};
use common::{findings, require, scan_until, start, Child};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a test keeps scanning for the state it set up (a loaded host
/// makes a scan take seconds).
const SCANNING: Duration = Duration::from_secs(120);

fn has(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn sample_src(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sample").join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scan_cpu").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The tests whose children run in the favouring cgroup, one at a time:
/// two at once would take both CPUs of a small test host.
static FAVOURED: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    FAVOURED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A cpu cgroup with the largest weight.
fn favouring_cgroup() -> common::cgroup::TestCgroup {
    let cg = common::cgroup::TestCgroup::new("cpu").unwrap_or_else(|e| panic!("a cpu cgroup: {e}"));
    if cg.v2 {
        cg.set("cpu.weight", "10000");
    } else {
        cg.set("cpu.shares", "262144");
    }
    cg
}

/// A child with a CPU-time limit (SIGXCPU ends it), in `cg` from its start
/// (so that its children are born there too).
fn bounded(cmd: Command, cpu_s: u64, cg: &common::cgroup::TestCgroup) -> Child {
    bounded_in(cmd, cpu_s, Some(cg))
}

/// `bounded`, in the test's own cgroup when `cg` is None.
fn bounded_in(mut cmd: Command, cpu_s: u64, cg: Option<&common::cgroup::TestCgroup>) -> Child {
    let procs = cg.map(|cg| std::ffi::CString::new(format!("{}/cgroup.procs", cg.dir.display())).unwrap());
    // SAFETY: between fork and exec only async-signal-safe calls on the child itself.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit { rlim_cur: cpu_s, rlim_max: cpu_s + 5 };
            if libc::setrlimit(libc::RLIMIT_CPU, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let Some(procs) = &procs else { return Ok(()) };
            // "0" moves the writing process.
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    start(cmd)
}

/// Scans (`--pid PID`, default flags otherwise) until `pred` holds, watching
/// the target's thread states meanwhile.
fn scan_for(pid: u32, pred: impl FnMut(&Value) -> bool) -> (Value, Vec<char>) {
    let p = pid.to_string();
    states_during(pid, || scan_until(&["--pid", &p], SCANNING, pred))
}

/// The human report of a scan of `pid` that names `kind` (a few tries: the
/// JSON scan before it already did).
fn human(pid: u32, kind: &str) -> String {
    let mut text = String::new();
    for _ in 0..3 {
        let out = common::unwedge().args(["scan", "--color", "never", "--pid", &pid.to_string()]).output().unwrap();
        text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains(kind) {
            break;
        }
    }
    text
}

fn the<'a>(report: &'a Value, kind: &str, pid: u32) -> Option<&'a Value> {
    findings(report, kind).into_iter().find(|f| f["pid"] == pid)
}

/// The stall is told beneath `cause`: caused_by names it.
fn stall_caused_by(report: &Value, pid: u32, cause: &Value) -> bool {
    the(report, "accept_stalled", pid)
        .is_some_and(|s| s["caused_by"].as_array().is_some_and(|c| c.iter().any(|id| *id == cause["id"])))
}

/// Connections that send `request` and wait, held open until dropped.
fn waiting_clients(port: u16, n: usize, request: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(request).unwrap();
            s
        })
        .collect()
}

/// GET `path` on a fresh connection; the body, or None by `timeout`.
fn http_get(port: u16, path: &str, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Run delay over `window` of `pid`'s main thread, on a CPU: (ran, waited) in ns.
fn schedstat_delta(pid: u32, window: Duration) -> (u64, u64) {
    let read = || {
        let t = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/schedstat")).unwrap_or_default();
        let v: Vec<u64> = t.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        (v.first().copied().unwrap_or(0), v.get(1).copied().unwrap_or(0))
    };
    let a = read();
    std::thread::sleep(window);
    let b = read();
    (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))
}

fn node_server(cg: &common::cgroup::TestCgroup, dir: &Path) -> Child {
    let mut cmd = Command::new("node");
    cmd.arg(sample_src("redos.js")).current_dir(dir);
    bounded(cmd, 300, cg)
}

#[test]
fn node_redos_is_a_busy_event_loop_with_its_share_and_where_it_burns() {
    if !require("node, and root (a cpu cgroup, perf events)", has("node") && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let cg = favouring_cgroup();
    let node = node_server(&cg, &tmp("redos"));
    let (pid, port) = (node.pid(), node.ready["port"].as_u64().unwrap() as u16);
    // Warm-ups get the expression compiled to native code; then 2^34 steps.
    for _ in 0..3 {
        assert!(http_get(port, "/redos?n=5", Duration::from_secs(10)).is_some_and(|b| b.ends_with("false\n")));
    }
    let _pinned = waiting_clients(port, 1, b"GET /redos?n=34 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(
        common::wait_until(Duration::from_secs(20), || schedstat_delta(pid, Duration::from_millis(200)).0
            > 100_000_000),
        "the event loop did not start spinning"
    );
    let _queued = waiting_clients(port, 4, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let (report, states) = scan_for(pid, |r| {
        the(r, "busy_thread", pid).is_some_and(|b| {
            b["evidence"]["threads"][0]["cpu_profile"]["samples"].as_u64().unwrap_or(0) > 0
                && stall_caused_by(r, pid, b)
        })
    });
    assert_never_stopped(&states, "during the scan");
    let busy = the(&report, "busy_thread", pid).unwrap_or_else(|| panic!("no busy_thread: {report:#}"));
    assert_eq!(busy["severity"], "critical");
    assert!(stall_caused_by(&report, pid, busy), "the accept stall is told beneath it: {report:#}");
    assert!(the(&report, "cpu_starved", pid).is_none(), "a thread that gets the CPU is not starved");
    let t = &busy["evidence"]["threads"][0];
    assert_eq!((t["tid"].as_u64(), t["role"].as_str()), (Some(pid as u64), Some("the event loop")), "{t:#}");
    assert!(t["running_pct"].as_f64().unwrap() >= 50.0, "its share of the interval: {t:#}");
    let p = &t["cpu_profile"];
    assert!(p["note"].as_str().is_some_and(|n| n.contains("--perf-basic-prof")), "JIT frames need it: {p:#}");
    let hot: Vec<&str> =
        p["stacks"][0]["frames"].as_array().unwrap().iter().filter_map(|f| f["function"].as_str()).collect();
    assert!(hot.iter().any(|f| f.contains("RegExp")), "the samples burn in V8's regular expression code: {hot:?}");
    // RegExp.prototype.test where node's builtins have symbols (nodesource's), V8's engine otherwise (Debian's).
    assert!(
        busy["fix"].as_str().unwrap().starts_with("The hottest samples run a regular expression ("),
        "{}",
        busy["fix"]
    );
    let text = human(pid, "busy_thread");
    assert!(
        text.contains("the event loop") && text.contains("CPU-bound JavaScript blocks every other request"),
        "{text}"
    );
    eprintln!("{text}");
}

#[test]
fn c_busy_loop_serving_a_socket_is_named_from_its_samples() {
    if !require("a C compiler (gcc), and root (a cpu cgroup, perf events)", has("cc") && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let dir = tmp("c_server");
    let bin = dir.join("spin_server");
    let built = Command::new("cc").args(["-O2", "-g", "-o"]).arg(&bin).arg(sample_src("spin_server.c")).status();
    assert!(built.is_ok_and(|s| s.success()), "cc spin_server.c");
    let cg = favouring_cgroup();
    let server = bounded(Command::new(&bin), 300, &cg);
    let (pid, port) = (server.pid(), server.ready["port"].as_u64().unwrap() as u16);
    let _request = waiting_clients(port, 1, b"GET /\n");
    assert!(
        common::wait_until(Duration::from_secs(20), || schedstat_delta(pid, Duration::from_millis(200)).0
            > 100_000_000),
        "the handler did not start spinning"
    );
    let _queued = waiting_clients(port, 3, b"GET /\n");
    let (report, states) = scan_for(pid, |r| {
        the(r, "busy_thread", pid)
            .is_some_and(|b| b["evidence"]["threads"][0]["cpu_profile"]["samples"].as_u64().unwrap_or(0) > 0)
    });
    assert_never_stopped(&states, "during the scan");
    let busy = the(&report, "busy_thread", pid).unwrap_or_else(|| panic!("no busy_thread: {report:#}"));
    assert!(stall_caused_by(&report, pid, busy), "{report:#}");
    let hot: Vec<&str> = busy["evidence"]["threads"][0]["cpu_profile"]["stacks"][0]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    assert_eq!(hot.first(), Some(&"spin_here"), "the function, from the samples: {hot:?}");
    assert!(hot.contains(&"main"), "unwound to main: {hot:?}");
    assert!(busy["explanation"].as_str().unwrap().contains("spin_here"), "{}", busy["explanation"]);
}

/// Keeps `n` clients asking `port` one request after another (a line,
/// then the answer) until dropped; the time each answer took.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<Duration>>>,
}

impl Load {
    fn start(port: u16, n: usize, request: &'static [u8], pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut took = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        let answered = (|| {
                            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
                            s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
                            s.write_all(request).ok()?;
                            let mut buf = [0u8; 512];
                            (s.read(&mut buf).ok()? > 0).then_some(())
                        })();
                        took.push(if answered.is_some() { t.elapsed() } else { Duration::MAX });
                        std::thread::sleep(pause);
                    }
                    took
                })
            })
            .collect();
        Load { stop, threads }
    }

    /// Stops the clients; how long each answer took (MAX: none came).
    fn finish(self) -> Vec<Duration> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    }
}

/// The CPU the starvation test pins its worker and hogs to.
fn last_cpu() -> usize {
    // SAFETY: sched_getaffinity writes the set we pass.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        (0..libc::CPU_SETSIZE as usize).rev().find(|&c| libc::CPU_ISSET(c, &set)).unwrap_or(0)
    }
}

fn cpu_bound(cg: &common::cgroup::TestCgroup, args: &[&str]) -> Child {
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(common::scenario_path("cpu_bound.py")).args(args);
    bounded(cmd, 120, cg)
}

#[test]
fn a_worker_starved_by_cpu_hogs_is_starvation_with_the_hogs_not_its_own_stall() {
    if !require("python3, and root (a cpu cgroup)", has("python3") && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let cg = favouring_cgroup();
    let cpu = last_cpu().to_string();
    // Two seconds of CPU per request; six hogs on its one CPU leave it a seventh.
    let worker = cpu_bound(&cg, &["--burn-ms", "2000", "--pin", &cpu, "--hogs", "6"]);
    let (pid, port) = (worker.pid(), worker.ready["port"].as_u64().unwrap() as u16);
    let hogs: Vec<u64> = worker.ready["hogs"].as_array().unwrap().iter().filter_map(Value::as_u64).collect();
    assert_eq!(hogs.len(), 6);
    let load = Load::start(port, 4, b"PING\n", Duration::ZERO);
    let (report, states) = scan_for(pid, |r| {
        the(r, "cpu_starved", pid).is_some_and(|s| {
            let took = s["evidence"]["took_cpus"].as_array().unwrap();
            took.iter().filter(|t| hogs.contains(&t["pid"].as_u64().unwrap_or(0))).count() >= 5
        })
    });
    let _ = load.finish();
    assert_never_stopped(&states, "during the scan");
    let starved = the(&report, "cpu_starved", pid).unwrap_or_else(|| panic!("no cpu_starved: {report:#}"));
    assert!(the(&report, "busy_thread", pid).is_none(), "a starved thread is never called busy: {report:#}");
    assert!(stall_caused_by(&report, pid, starved), "its stall is told beneath the starvation: {report:#}");
    let e = &starved["evidence"];
    assert_eq!((e["scope"].as_str(), e["cpus_allowed"].as_str()), (Some("allowed_cpus"), Some(cpu.as_str())), "{e:#}");
    let t = &e["threads"][0];
    assert!(
        t["waiting_pct"].as_f64().unwrap() >= 50.0 && t["waiting_pct"].as_f64() > t["running_pct"].as_f64(),
        "runnable but waiting most of the interval: {t:#}"
    );
    for h in e["took_cpus"].as_array().unwrap().iter().filter(|t| hogs.contains(&t["pid"].as_u64().unwrap())) {
        assert_eq!(h["comm"], "cpu-hog");
        assert!(h["cpus"].as_f64().unwrap() > 0.05, "its share of a CPU: {h}");
        assert_eq!(h["cgroup"].as_str(), Some(cg.path.as_str()), "its cgroup: {h}");
    }
    let text = human(pid, "cpu_starved");
    assert!(text.contains("cpu_starved") && text.contains("× cpu-hog"), "{text}");
    eprintln!("{text}");
}

#[test]
fn twin_a_cpu_heavy_python_service_answering_within_the_timeout_is_silent() {
    if !require("python3, and root (a cpu cgroup)", has("python3") && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let cg = favouring_cgroup();
    // 30 ms of CPU per request, four clients asking back to back: its one
    // thread computes nearly all the time, and answers every request.
    let service = cpu_bound(&cg, &["--burn-ms", "30"]);
    let (pid, port) = (service.pid(), service.ready["port"].as_u64().unwrap() as u16);
    let load = Load::start(port, 4, b"PING\n", Duration::ZERO);
    std::thread::sleep(Duration::from_secs(1));
    let (busy, _) = schedstat_delta(pid, Duration::from_secs(1));
    let (report, states) = scan_for(pid, |_| true);
    let took = load.finish();
    assert_never_stopped(&states, "during the scan");
    assert!(busy > 300_000_000, "it computes most of the time: {busy} ns of 1 s");
    assert!(
        took.len() >= 10 && took.iter().all(|t| *t < Duration::from_secs(10)),
        "answered within the timeout: {took:?}"
    );
    let loud: Vec<&Value> = common::alarms(&report).into_iter().filter(|f| f["pid"] == pid).collect();
    assert!(loud.is_empty(), "a busy service that answers is no finding: {loud:#?}");
}

#[test]
fn twin_a_node_server_under_load_is_silent() {
    if !require("node, and root (a cpu cgroup)", has("node") && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let cg = favouring_cgroup();
    let node = node_server(&cg, &tmp("node_load"));
    let (pid, port) = (node.pid(), node.ready["port"].as_u64().unwrap() as u16);
    // A short expression per request (2^16 steps), eight clients back to back.
    let load =
        Load::start(port, 8, b"GET /redos?n=16 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", Duration::ZERO);
    std::thread::sleep(Duration::from_secs(1));
    let (report, states) = scan_for(pid, |_| true);
    let took = load.finish();
    assert_never_stopped(&states, "during the scan");
    assert!(took.len() >= 10 && took.iter().all(|t| *t < Duration::from_secs(10)), "answered: {} requests", took.len());
    let loud: Vec<&Value> = common::alarms(&report).into_iter().filter(|f| f["pid"] == pid).collect();
    assert!(loud.is_empty(), "a node server under load is no finding: {loud:#?}");
}

/// `cmd`, run on the CPUs `cpus` only.
fn pinned(mut cmd: Command, cpus: Vec<usize>) -> Command {
    // SAFETY: between fork and exec only sched_setaffinity on the child itself.
    unsafe {
        cmd.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &c in &cpus {
                libc::CPU_SET(c, &mut set);
            }
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// The twin cpu_starved once blamed (scan_unanswered's Redis test on a
/// loaded host): Redis on one CPU among a dozen CPU hogs of the same
/// scheduling group, redis-benchmark served (slowly) from the other CPUs,
/// ten clients in BLPOP on empty lists. Redis waits for its CPU most of
/// the time; the BLPOP requests wait by design, and it answers others
/// meanwhile: no finding says its requests wait for the CPU.
#[test]
fn twin_redis_starved_of_its_cpu_with_blpop_clients_is_silent() {
    let cpus: Vec<usize> = (0..=last_cpu())
        .filter(|&c| {
            // SAFETY: sched_getaffinity writes the set we pass.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
                libc::CPU_ISSET(c, &set)
            }
        })
        .collect();
    let ok = has("redis-server") && has("redis-benchmark") && has("python3") && common::is_root() && cpus.len() >= 2;
    if !require("redis-server, redis-benchmark, python3, root, and 2 CPUs", ok) {
        return;
    }
    let _one = one_at_a_time();
    let cpu = last_cpu();
    // In the test's own cgroup and session, as Redis: the hogs share its
    // CPU with it evenly, and a dozen leave it a fraction.
    let mut hog_cmd = Command::new("python3");
    hog_cmd.arg("-u").arg(common::scenario_path("cpu_bound.py")).args(["--pin", &cpu.to_string(), "--hogs", "12"]);
    let _hogs = bounded_in(hog_cmd, 120, None);
    let dir = tmp("redis_blpop");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new("sh");
    cmd.current_dir(&dir).arg("-c").arg(format!(
        "echo READY; exec redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning"
    ));
    let redis = start(pinned(cmd, vec![cpu]));
    let pid = redis.pid();
    assert!(
        common::wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "redis did not start"
    );
    let _blocked = common::redis_blpop_clients(port, 10);
    // Pipelined, so that Redis always has requests to answer.
    let mut bench = Command::new("sh");
    bench
        .arg("-c")
        .arg(format!("echo READY; exec redis-benchmark -p {port} -c 20 -P 8 -n 50000000 -q -t set,get,lpush,lpop"));
    let _bench = start(pinned(bench, cpus.into_iter().filter(|&c| c != cpu).collect()));
    std::thread::sleep(Duration::from_secs(3));
    let read = || {
        let t = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/schedstat")).unwrap_or_default();
        let v: Vec<u64> = t.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        (v.first().copied().unwrap_or(0), v.get(1).copied().unwrap_or(0), Instant::now())
    };
    let (mut starved, deadline) = (0, Instant::now() + SCANNING);
    while starved < 3 && Instant::now() < deadline {
        let before = read();
        let (report, _) = common::scan_json(&["--pid", &pid.to_string(), "--answer-timeout", "2s"]);
        let after = read();
        let ns = after.2.duration_since(before.2).as_nanos() as f64;
        let (ran, waited) = ((after.0 - before.0) as f64 / ns, (after.1 - before.1) as f64 / ns);
        eprintln!("redis during the scan: ran {ran:.2}, waited {waited:.2}");
        // The premise: during the scan Redis waited for its CPU at least half the time, longer than it ran.
        if waited >= 0.5 && waited > ran {
            starved += 1;
        }
        let loud: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["pid"] == pid)
            .filter(|f| f["kind"] == "cpu_starved" || f["kind"] == "busy_thread")
            .collect();
        assert!(loud.is_empty(), "ran {ran:.2}, waited {waited:.2} of the scan: {loud:#?}");
        assert!(common::alarms(&report).iter().all(|f| f["pid"] != pid), "{report:#}");
    }
    assert!(starved > 0, "Redis was never starved of its CPU during a scan: the twin was not staged");
}
