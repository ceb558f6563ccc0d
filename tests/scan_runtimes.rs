//! Issue 26, "inside the runtime", live through `unwedge scan`: real
//! services whose handlers hang where only the runtime knows why, and
//! their healthy twins that must stay silent.
//! - A JVM HTTP service (tests/scenarios/JvmScenario.java, Debian's
//!   openjdk-17) whose handler pool deadlocks on two monitors with a
//!   background thread: named with the default flags (requests accepted
//!   and never read, the handlers parked in futex, the JVM's own threads
//!   left out); with `--stacks attach`, the two threads, the two monitors
//!   and the JVM's own verdict. Twins: an idle pool of 50 under load, a
//!   GC-heavy JVM that keeps answering.
//! - A CPython (Debian's python3.11) service (tests/scenarios/py_service.py)
//!   whose pool's connections were checked out and never returned: the
//!   leak seen from outside (every handler on a lock, the upstream
//!   connections idle) and confirmed by the frames (the pool's get, the
//!   handler); a thread blocked in a socket read, its caller named; the
//!   same app under gunicorn. Twins: an upstream slow but answering
//!   (silent), an upstream that never answers (told as the upstream, not
//!   a leak).
//!
//! A default scan never leaves its target outside R/S.

mod common;

use common::{alarms, findings, require, scan_json, scan_until, Child};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const DEBIAN_PYTHON: &str = "/usr/bin/python3.11";
/// How long a test polls its scans for the finding (each scan takes the
/// interval plus the snapshots: seconds on a loaded host).
const NAMED_WITHIN: Duration = Duration::from_secs(90);

/// Debian's openjdk-17 javac and java.
fn jdk() -> Option<(PathBuf, PathBuf)> {
    let bin = std::fs::read_dir("/usr/lib/jvm").ok()?.flatten().map(|e| e.path()).find_map(|p| {
        let name = p.file_name()?.to_string_lossy().into_owned();
        let bin = p.join("bin");
        (name.starts_with("java-17-openjdk") && bin.join("javac").exists()).then_some(bin)
    })?;
    Some((bin.join("javac"), bin.join("java")))
}

/// JvmScenario compiled once per test run (its own folder: jvm_live.rs may
/// compile at the same time); the java binary.
fn jvm_scenario() -> Option<&'static (PathBuf, PathBuf)> {
    static BUILT: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let (javac, java) = jdk()?;
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jvm-scenario-runtimes");
            std::fs::create_dir_all(&dir).unwrap();
            let out = common::run_with_deadline(
                Command::new(&javac).arg("-d").arg(&dir).arg(common::scenario_path("JvmScenario.java")),
                Duration::from_secs(180),
            )
            .finished();
            assert!(out.status.success(), "javac failed: {}", String::from_utf8_lossy(&out.stderr));
            Some((dir, java))
        })
        .as_ref()
}

/// A JVM running the scenario; None (or a failure under
/// UNWEDGE_REQUIRE_LIVE=1) without a JDK 17.
fn start_jvm(opts: &[&str], args: &[&str]) -> Option<Child> {
    let built = jvm_scenario();
    if !require("a JDK 17 (apt-get install openjdk-17-jdk-headless)", built.is_some()) {
        return None;
    }
    let (dir, java) = built.unwrap();
    let mut cmd = Command::new(java);
    cmd.args(opts).arg("-cp").arg(dir).arg("JvmScenario").args(args);
    Some(common::start(cmd))
}

fn debian_python() -> Option<&'static str> {
    require("Debian's python3.11 (apt-get install python3.11)", Path::new(DEBIAN_PYTHON).exists())
        .then_some(DEBIAN_PYTHON)
}

/// tests/scenarios/py_service.py MODE under Debian's python3.11.
fn start_service(mode: &str) -> Option<Child> {
    let py = debian_python()?;
    let mut cmd = Command::new(py);
    cmd.arg("-u").arg(common::scenario_path("py_service.py")).arg(mode);
    Some(common::start(cmd))
}

fn port(c: &Child) -> u16 {
    c.ready["port"].as_u64().unwrap() as u16
}

fn pid(c: &Child) -> u32 {
    c.ready["pid"].as_u64().map_or(c.pid(), |p| p as u32)
}

/// Sends one HTTP request; the answer is not read (the connection is kept).
fn ask(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).unwrap();
    s
}

/// One request, answered in full (Connection: close) within 10 s.
fn answered(port: u16, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut got = String::new();
    s.write_all(req.as_bytes()).is_ok() && s.read_to_string(&mut got).is_ok() && got.contains(" 200 ")
}

/// Clients requesting without pause until dropped (each request answered):
/// the service is under load during the scan.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<(u64, u64)>>,
}

impl Load {
    fn start(port: u16, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..clients)
            .map(|i| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let (mut ok, mut failed) = (0, 0);
                    while !stop.load(Ordering::Relaxed) && ok + failed < 1_000_000 {
                        if answered(port, &format!("/load{i}")) {
                            ok += 1;
                        } else {
                            failed += 1;
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        Load { stop, threads }
    }

    /// Requests answered and failed.
    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.drain(..).map(|t| t.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Watches every thread of `pid` while it lives: the states it saw.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(BTreeSet<char>, u64)>>,
}

impl Watcher {
    fn start(pid: u32) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut seen, mut polls) = (BTreeSet::new(), 0u64);
            while !s.load(Ordering::Relaxed) {
                for t in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
                    let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                    if let Some(c) = stat.rsplit_once(')').and_then(|(_, r)| r.trim_start().chars().next()) {
                        seen.insert(c);
                    }
                }
                polls += 1;
            }
            (seen, polls)
        });
        Watcher { stop, thread: Some(thread) }
    }

    /// Every state seen was S or R (none stopped, traced or in disk wait).
    fn assert_only_s_or_r(mut self, what: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let (seen, polls) = self.thread.take().unwrap().join().unwrap();
        assert!(polls > 20, "{what}: the watcher polled {polls} times");
        assert!(seen.iter().all(|c| matches!(c, 'S' | 'R')), "{what}: the target left S/R: {seen:?}");
    }
}

/// `unwedge scan` in words (the human report), for the eye and the asserts.
fn human(args: &[&str]) -> String {
    let out = common::unwedge().arg("scan").args(args).env("NO_COLOR", "1").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The report's words with its line wrapping undone.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The findings of `kind` about `pid`.
fn about<'a>(r: &'a Value, kind: &str, pid: u32) -> Vec<&'a Value> {
    findings(r, kind).into_iter().filter(|f| f["pid"] == pid).collect()
}

/// Line numbers of the `# LINE:name` markers of a scenario file.
fn markers(file: &str) -> HashMap<String, u32> {
    let text = std::fs::read_to_string(common::scenario_path(file)).unwrap();
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| Some((l.split("# LINE:").nth(1)?.trim().to_string(), i as u32 + 1)))
        .collect()
}

/// "function file:line" of each Python frame of a JSON frame list.
fn py_frames(frames: &Value) -> Vec<String> {
    frames
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let file = f["file"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("");
            format!("{} {file}:{}", f["function"].as_str().unwrap_or(""), f["line"].as_u64().unwrap_or(0))
        })
        .collect()
}

/// `want` appears in `frames` as consecutive frames.
fn has_run(frames: &[String], want: &[String]) -> bool {
    frames.windows(want.len()).any(|w| w == want)
}

/// A JVM whose handler pool deadlocks, with 8 clients: 4 read by the
/// stuck handlers, 4 accepted and never read.
fn deadlocked_jvm() -> Option<(Child, Vec<TcpStream>)> {
    let j = start_jvm(&[], &["deadlock"])?;
    let clients: Vec<TcpStream> = (0..8).map(|i| ask(port(&j), &format!("/k{i}"))).collect();
    Some((j, clients))
}

#[test]
fn jvm_deadlock_is_named_with_the_default_flags() {
    let Some((j, _clients)) = deadlocked_jvm() else { return };
    let (pid, pid_s) = (j.pid(), j.pid().to_string());
    let watcher = Watcher::start(pid);
    let r = scan_until(&["--pid", &pid_s], NAMED_WITHIN, |r| !about(r, "unanswered_requests", pid).is_empty());
    watcher.assert_only_s_or_r("a default scan of a JVM");
    let f = about(&r, "unanswered_requests", pid);
    let f = f.first().unwrap_or_else(|| panic!("the deadlocked JVM is not named: {r:#}"));
    assert!(matches!(f["severity"].as_str(), Some("warning" | "critical")), "{f:#}");
    assert_eq!(f["port"], port(&j));
    let e = &f["evidence"];
    assert_eq!(e["unanswered"], 8, "{e:#}");
    assert_eq!(e["unread"], 4, "accepted and queued for handlers that never come: {e:#}");
    assert!(e["waiting"].as_array().unwrap().iter().any(|w| w["unread_bytes"].as_u64() > Some(0)), "{e:#}");
    let jvm = &e["jvm"];
    assert!(jvm["vm"].as_str().is_some_and(|v| v.contains(" 17.")), "{jvm:#}");
    assert!(jvm["housekeeping_threads"].as_u64() > Some(8), "GC, compilers, VM thread left out: {jvm:#}");
    assert!(jvm["interval"]["ms"].as_u64() > Some(0), "hsperfdata read in both snapshots: {jvm:#}");
    assert!(!jvm.as_object().unwrap().contains_key("deadlocks"), "no verdict without --stacks attach");
    // The samples are the service's threads, never the JVM's own.
    let names: Vec<&str> = e["threads"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.iter().filter(|n| n.starts_with("handler-")).count() >= 4, "{names:?}");
    for n in &names {
        assert!(!unwedge_model::jvm::is_jvm_housekeeping(n), "{n} is the JVM's own: {names:?}");
    }
    // The title says the stronger sign, whatever the dispatcher's event loop does.
    assert!(f["title"].as_str().unwrap().contains("4 never read"), "{}", f["title"]);
    let text = human(&["--pid", &pid_s]);
    eprintln!("{text}");
    // The report wraps its lines: compare the words.
    let flat = words(&text);
    assert!(flat.contains("never read") && flat.contains("It is a JVM"), "{text}");
}

#[test]
fn jvm_deadlock_threads_are_stuck_though_its_own_threads_wake() {
    let Some((j, _clients)) = deadlocked_jvm() else { return };
    let (pid, pid_s) = (j.pid(), j.pid().to_string());
    let r = scan_until(&["--pid", &pid_s], NAMED_WITHIN, |r| !about(r, "stuck_thread", pid).is_empty());
    let f = about(&r, "stuck_thread", pid);
    let f = f.first().unwrap_or_else(|| panic!("no stuck thread in the deadlocked JVM: {r:#}"));
    let e = &f["evidence"];
    assert!(e["thread"]["name"].as_str().is_some_and(|n| n.starts_with("handler-")), "the handler pool first: {e:#}");
    assert_eq!(e["thread"]["syscall"], "futex");
    assert!(e["work_waiting"].to_string().contains("bytes wait unread"), "{e:#}");
    assert_eq!(about(&r, "stuck_thread", pid).len(), 1, "a JVM's threads in one finding");
    // Their native stacks show them entering a Java monitor.
    let entering: Vec<&str> =
        e["jvm"]["monitor_enter"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect();
    assert!(entering.contains(&"index-refresher") && entering.len() >= 2, "{e:#}");
}

#[test]
fn jvm_deadlock_with_attach_names_the_two_threads_the_two_monitors_and_the_verdict() {
    let Some((j, _clients)) = deadlocked_jvm() else { return };
    let (pid, pid_s) = (j.pid(), j.pid().to_string());
    let args = ["--pid", pid_s.as_str(), "--stacks", "attach"];
    let has_verdict = |f: &Value| f["evidence"]["jvm"]["deadlocks"].as_array().is_some_and(|d| !d.is_empty());
    let r = scan_until(&args, NAMED_WITHIN, |r| about(r, "unanswered_requests", pid).iter().any(|f| has_verdict(f)));
    let f = about(&r, "unanswered_requests", pid);
    let f = f.iter().find(|f| has_verdict(f)).unwrap_or_else(|| panic!("no deadlock verdict: {r:#}"));
    let cycle = f["evidence"]["jvm"]["deadlocks"][0]["cycle"].as_array().unwrap();
    assert_eq!(cycle.len(), 2, "two threads: {cycle:#?}");
    let names: Vec<&str> = cycle.iter().map(|w| w["thread"].as_str().unwrap()).collect();
    assert!(names.contains(&"index-refresher") && names.iter().any(|n| n.starts_with("handler-")), "{names:?}");
    let objects: BTreeSet<&str> = cycle.iter().map(|w| w["object"].as_str().unwrap()).collect();
    assert_eq!(objects.len(), 2, "two monitors: {cycle:#?}");
    assert!(cycle.iter().all(|w| w["class"] == "java.lang.Object" && w["lock"] == "monitor"));
    assert!(f["title"].as_str().unwrap().contains("Java-level deadlock"), "{}", f["title"]);
    // The sampled threads carry the JVM's own view: frames and monitors.
    let with_java = f["evidence"]["threads"].as_array().unwrap().iter().filter(|t| t["java"].is_object()).count();
    assert!(with_java >= 2, "{:#}", f["evidence"]["threads"]);
    assert!(f["fix"].as_str().unwrap().contains("JvmScenario.lookup"), "{}", f["fix"]);
    let text = human(&args);
    eprintln!("{text}");
    let flat = words(&text);
    assert!(flat.contains("Java-level deadlock") && flat.contains("JvmScenario.lookup"), "{text}");
    assert!(flat.contains("index-refresher") && flat.contains("java.lang.Object"), "{text}");
    // The JVM runs on after its safepoint.
    let states = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten().all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        stat.rsplit_once(')').is_some_and(|(_, r)| matches!(r.trim_start().chars().next(), Some('S' | 'R')))
    });
    assert!(states, "a thread of the JVM left S/R after the dump");
}

#[test]
fn jvm_idle_pool_of_50_under_load_stays_silent() {
    let Some(j) = start_jvm(&[], &["pool", "50"]) else { return };
    let pid_s = j.pid().to_string();
    assert!(answered(port(&j), "/warm"));
    let load = Load::start(port(&j), 4);
    let (r, _) = scan_json(&["--pid", &pid_s]);
    let (ok, failed) = load.finish();
    assert!(ok > 10 && failed == 0, "the load was answered: {ok} ok, {failed} failed");
    assert!(alarms(&r).is_empty(), "an idle pool under load raised: {r:#}");
    // Parked handlers sleep untouched in both snapshots: still nothing.
    let (r, _) = scan_json(&["--pid", &pid_s]);
    assert!(alarms(&r).is_empty(), "an idle pool raised: {r:#}");
}

#[test]
fn gc_heavy_jvm_that_keeps_answering_stays_silent() {
    let Some(j) = start_jvm(&["-Xmx48m"], &["gc"]) else { return };
    let pid_s = j.pid().to_string();
    let load = Load::start(port(&j), 3);
    let (r, _) = scan_json(&["--pid", &pid_s]);
    let (ok, failed) = load.finish();
    assert!(ok > 5 && failed == 0, "the load was answered: {ok} ok, {failed} failed");
    assert!(alarms(&r).is_empty(), "a GC-heavy JVM that answers raised: {r:#}");
}

#[test]
fn python_pool_leak_is_named_from_outside_and_its_frames_name_the_pool_get_and_the_handler() {
    let Some(s) = start_service("leak") else { return };
    let (pid, pid_s) = (pid(&s), pid(&s).to_string());
    let _clients: Vec<TcpStream> = (0..6).map(|i| ask(port(&s), &format!("/item{i}"))).collect();
    let watcher = Watcher::start(pid);
    let r = scan_until(&["--pid", &pid_s], NAMED_WITHIN, |r| {
        about(r, "unanswered_requests", pid).iter().any(|f| f["evidence"]["pool"].is_string())
    });
    watcher.assert_only_s_or_r("a default scan of a Python service");
    let f = about(&r, "unanswered_requests", pid);
    let f = f.iter().find(|f| f["evidence"]["pool"].is_string()).unwrap_or_else(|| panic!("no pool named: {r:#}"));
    let e = &f["evidence"];
    let pool = e["pool"].as_str().unwrap();
    let upstream = s.ready["upstream"].as_u64().unwrap();
    assert!(pool.contains(&format!("its only 2 connections to 127.0.0.1:{upstream}")), "{pool}");
    assert!(pool.contains("never returned") && pool.contains("frames"), "confirmed by the frames: {pool}");
    assert!(f["title"].as_str().unwrap().contains("pool"), "{}", f["title"]);
    // The frames: the largest group is the handlers, in the pool's get.
    let m = markers("py_service.py");
    let groups = e["threads"][0]["python_threads"]["groups"].as_array().unwrap_or_else(|| panic!("{e:#}"));
    assert_eq!(groups[0]["count"], 6, "{groups:#?}");
    let frames = py_frames(&groups[0]["frames"]);
    let want = [
        format!("Pool.get py_service.py:{}", m["pool-get"]),
        format!("fetch py_service.py:{}", m["fetch-get"]),
        format!("Handler.do_GET py_service.py:{}", m["handler"]),
    ];
    assert!(has_run(&frames, &want), "{frames:?}");
    // The frames are told once, in the fix.
    assert!(f["fix"].as_str().unwrap().contains(&format!("Pool.get (py_service.py:{})", m["pool-get"])), "{f:#}");
    assert_eq!(e["threads"][0]["python_threads"]["gil_holder"], Value::Null, "all wait: nobody holds the GIL");
    // Frames were read: no py-spy hint.
    assert!(!r.to_string().contains("py-spy"), "{r:#}");
    let text = human(&["--pid", &pid_s]);
    eprintln!("{text}");
    let flat = words(&text);
    assert!(flat.contains("python threads: 6 × Queue.get") && flat.contains("Pool.get (py_service.py"), "{text}");
}

#[test]
fn python_thread_blocked_in_a_socket_read_is_named_with_its_caller() {
    let Some(s) = start_service("single") else { return };
    let (pid, pid_s) = (pid(&s), pid(&s).to_string());
    let _clients: Vec<TcpStream> = (0..3).map(|i| ask(port(&s), &format!("/item{i}"))).collect();
    let r = scan_until(&["--pid", &pid_s], NAMED_WITHIN, |r| {
        about(r, "stuck_thread", pid).iter().any(|f| f["evidence"]["thread"]["python"].is_array())
    });
    let f = about(&r, "stuck_thread", pid);
    let f = f.first().unwrap_or_else(|| panic!("no stuck thread: {r:#}"));
    let t = &f["evidence"]["thread"];
    assert_eq!(t["syscall"], "recvfrom", "{t:#}");
    let m = markers("py_service.py");
    let frames = py_frames(&t["python"]);
    let want = [
        format!("UpstreamConn.read_reply py_service.py:{}", m["recv"]),
        format!("UpstreamConn.call py_service.py:{}", m["call-read"]),
        format!("fetch py_service.py:{}", m["fetch-call"]),
    ];
    assert!(frames.starts_with(&want), "{frames:?}");
    let fix = f["fix"].as_str().unwrap();
    assert!(fix.contains("Python frames") && fix.contains("UpstreamConn.read_reply"), "{fix}");
    assert!(t["interpreter_hint"].is_null(), "frames read: no py-spy hint: {t:#}");
}

#[test]
fn python_slow_upstream_that_answers_stays_silent() {
    let Some(s) = start_service("slow") else { return };
    let pid_s = pid(&s).to_string();
    let load = Load::start(port(&s), 4);
    let (r, _) = scan_json(&["--pid", &pid_s]);
    let (ok, failed) = load.finish();
    assert!(ok > 4 && failed == 0, "the slow upstream answered: {ok} ok, {failed} failed");
    assert!(alarms(&r).is_empty(), "a slow upstream that answers raised: {r:#}");
    assert!(!r.to_string().contains("never returned"), "{r:#}");
}

#[test]
fn python_upstream_that_never_answers_is_told_as_the_upstream_not_a_leak() {
    let Some(s) = start_service("stuck") else { return };
    let (pid, pid_s) = (pid(&s), pid(&s).to_string());
    let _clients: Vec<TcpStream> = (0..4).map(|i| ask(port(&s), &format!("/item{i}"))).collect();
    let r = scan_until(&["--pid", &pid_s], NAMED_WITHIN, |r| !about(r, "unanswered_requests", pid).is_empty());
    let f = about(&r, "unanswered_requests", pid);
    let f = f.first().unwrap_or_else(|| panic!("not named: {r:#}"));
    let e = &f["evidence"];
    let upstream = s.ready["upstream"].as_u64().unwrap();
    assert!(e["upstream"].as_str().is_some_and(|u| u.contains(&format!("127.0.0.1:{upstream}"))), "{e:#}");
    assert!(e["pool"].is_null(), "a slow upstream is not a leak: {e:#}");
    assert!(!f["title"].as_str().unwrap().contains("pool"), "{}", f["title"]);
}

#[test]
fn gunicorn_threads_waiting_in_the_pool_are_named_by_their_frames() {
    let gunicorn = Path::new("/usr/bin/gunicorn");
    if !require("Debian's gunicorn (apt-get install gunicorn)", gunicorn.exists()) {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtimes-gunicorn");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("conf.py");
    std::fs::write(
        &conf,
        "import json, os\ndef post_worker_init(worker):\n    \
         print('READY ' + json.dumps({'worker': os.getpid(), 'port': worker.sockets[0].getsockname()[1]}), flush=True)\n",
    )
    .unwrap();
    let mut cmd = Command::new(gunicorn);
    cmd.arg("-c").arg(&conf).args(["--threads", "4", "-w", "1", "-b", "127.0.0.1:0", "--chdir"]);
    cmd.arg(common::scenario_path("")).arg("py_pool_app:app").stderr(Stdio::null());
    let g = common::start(cmd);
    let worker = g.ready["worker"].as_u64().unwrap() as u32;
    // Four requests hold the four threads; two more wait, accepted and never read.
    let _held: Vec<TcpStream> = (0..6).map(|i| ask(port(&g), &format!("/{i}"))).collect();
    let w = worker.to_string();
    let r = scan_until(&["--pid", &w], NAMED_WITHIN, |r| {
        about(r, "unanswered_requests", worker)
            .iter()
            .any(|f| f["evidence"]["threads"][0]["python_threads"].is_object())
    });
    let f = about(&r, "unanswered_requests", worker);
    let f = f.first().unwrap_or_else(|| panic!("gunicorn's worker not named: {r:#}"));
    assert!(matches!(f["severity"].as_str(), Some("warning" | "critical")), "{f:#}");
    let groups = f["evidence"]["threads"][0]["python_threads"]["groups"].as_array().unwrap();
    assert_eq!(groups[0]["count"], 4, "{groups:#?}");
    let m = markers("py_pool_app.py");
    let frames = py_frames(&groups[0]["frames"]);
    let want = [
        format!("Pool.get py_pool_app.py:{}", m["app-pool-get"]),
        format!("application py_pool_app.py:{}", m["app-handler"]),
    ];
    assert!(has_run(&frames, &want), "{frames:?}");
    assert!(f["fix"].as_str().unwrap().contains("Pool.get (py_pool_app.py"), "{}", f["fix"]);
}
