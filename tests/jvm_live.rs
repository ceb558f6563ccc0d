//! The JVM readers against real JVMs (tests/scenarios/JvmScenario.java,
//! compiled here with Debian's openjdk-17 `javac`, which
//! .ci/install-test-deps.sh installs): the hsperfdata counters and the
//! attach thread dump of an HTTP service whose handler pool deadlocks on
//! two monitors, of a healthy pool and of a GC-heavy service; and what
//! the attach path must never do: signal a process that is not a JVM, or a
//! JVM that runs without the attach mechanism.

mod common;

use common::Child;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use unwedge_model::jvm::{DeadlockLock, JavaThreadDump, LockAction};
use unwedge_stacks::jvm::{self, attach};

const ATTACH_WAIT: Duration = Duration::from_secs(5);

/// Debian's openjdk-17 javac and java, else the ones on PATH.
fn jdk() -> Option<(PathBuf, PathBuf)> {
    let debian = std::fs::read_dir("/usr/lib/jvm").ok().and_then(|d| {
        d.flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("java-17-openjdk")))
            .map(|p| p.join("bin"))
            .find(|b| b.join("javac").exists() && b.join("java").exists())
    });
    let bin = debian.or_else(|| {
        let javac = std::fs::canonicalize("/usr/bin/javac").ok()?;
        Some(javac.parent()?.to_path_buf())
    })?;
    Some((bin.join("javac"), bin.join("java")))
}

/// The scenario's classes, compiled once per test run; the java binary.
fn scenario() -> Option<&'static (PathBuf, PathBuf)> {
    static BUILT: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let (javac, java) = jdk()?;
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jvm-scenario");
            std::fs::create_dir_all(&dir).unwrap();
            let ran = common::run_with_deadline(
                Command::new(&javac).arg("-d").arg(&dir).arg(common::scenario_path("JvmScenario.java")),
                Duration::from_secs(120),
            )
            .finished();
            assert!(ran.status.success(), "javac failed: {}", String::from_utf8_lossy(&ran.stderr));
            Some((dir, java))
        })
        .as_ref()
}

/// A JVM running the scenario, and every line it printed on stdout (a
/// SIGQUIT without the attach trigger prints "Full thread dump" there).
struct Jvm {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Jvm {
    fn pid(&self) -> u32 {
        self.child.pid()
    }

    fn port(&self) -> u16 {
        self.child.ready["port"].as_u64().unwrap() as u16
    }

    fn printed(&self, what: &str) -> bool {
        self.stdout.lock().unwrap().iter().any(|l| l.contains(what))
    }
}

impl Drop for Jvm {
    /// SIGTERM first: the JVM's exit hooks remove its attach socket and
    /// hsperfdata file from /tmp (a SIGKILL leaves them behind); the
    /// guard then kills the whole group.
    fn drop(&mut self) {
        let pid = self.pid();
        let socket = jvm::status(pid).ok().map(|st| socket_of_ns(pid, st.nspid));
        // SAFETY: signalling the JVM this guard started.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        common::wait_with_deadline(&mut self.child.child, Duration::from_secs(5));
        if let Some(s) = socket {
            // Reached through a /proc path that is gone with the process:
            // the host's /tmp is the JVM's /tmp here (no mount namespace).
            if let Some(name) = s.file_name() {
                let host = Path::new("/tmp").join(name);
                if host.exists() && !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_file(host);
                }
            }
        }
    }
}

fn start_jvm(jvm_opts: &[&str], args: &[&str]) -> Option<Jvm> {
    let built = scenario();
    if !common::require("a JDK 17 (apt-get install openjdk-17-jdk-headless)", built.is_some()) {
        return None;
    }
    let (dir, java) = built.unwrap();
    let mut cmd = Command::new(java);
    cmd.args(jvm_opts).arg("-cp").arg(dir).arg("JvmScenario").args(args);
    Some(spawn(cmd))
}

/// Starts `cmd` in its own process group (killed with the guard) and waits
/// for its READY line, keeping everything it prints.
fn spawn(mut cmd: Command) -> Jvm {
    cmd.stdout(Stdio::piped()).stdin(Stdio::null()).process_group(0);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let out = child.stdout.take().unwrap();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let lines = stdout.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("READY") {
                let _ = tx.send(rest.trim().to_string());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let mut guard = Child { child, ready: Value::Null };
    let ready = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{cmd:?} not ready in 30 s"));
    guard.ready = if ready.is_empty() { Value::Null } else { serde_json::from_str(&ready).unwrap() };
    Jvm { child: guard, stdout }
}

fn send_request(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).unwrap();
    s
}

/// One request, answered in full within 5 s (Connection: close).
fn answered(port: u16, path: &str) -> bool {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).is_ok() && got.starts_with("HTTP/1.1 200")
}

/// Every thread of `pid` is sleeping or running: none stopped or traced.
fn all_threads_run(pid: u32) -> Result<(), String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| e.to_string())?;
    for t in tasks.flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().next()).unwrap_or("?");
        if !matches!(state, "S" | "R" | "D") {
            return Err(format!("thread {:?} is in state {state}", t.file_name()));
        }
    }
    Ok(())
}

/// No attach trigger file is left where it could have been put.
fn no_trigger_left(pid: u32) {
    let st = jvm::status(pid).unwrap();
    for dir in [format!("/proc/{pid}/cwd"), format!("/proc/{pid}/root/tmp")] {
        let p = Path::new(&dir).join(format!(".attach_pid{}", st.nspid));
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

fn socket_of(pid: u32) -> PathBuf {
    socket_of_ns(pid, jvm::status(pid).unwrap().nspid)
}

fn socket_of_ns(pid: u32, nspid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root/tmp/.java_pid{nspid}"))
}

/// Dumps until `pred` holds (bounded), returning the last dump.
fn dump_until(pid: u32, limit: Duration, pred: impl Fn(&JavaThreadDump) -> bool) -> JavaThreadDump {
    let deadline = Instant::now() + limit;
    loop {
        let d = attach::thread_dump(pid, ATTACH_WAIT).unwrap_or_else(|e| panic!("no dump of {pid}: {e:?}"));
        if pred(&d) || Instant::now() >= deadline {
            return d;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 26 (a): the handler pool deadlocks with the index refresher.
/// hsperfdata names the JVM and counts its threads; the attach dump has
/// the JVM's verdict with the two threads and the two monitors; the JVM
/// runs on (nothing is stopped), and the trigger file is gone.
#[test]
fn deadlocked_pool_hsperf_and_attach_dump() {
    let Some(j) = start_jvm(&[], &["deadlock"]) else { return };
    let pid = j.pid();
    let clients: Vec<TcpStream> = (0..8).map(|i| send_request(j.port(), &format!("/k{i}"))).collect();

    let hs = jvm::read_hsperf(pid).unwrap().expect("a HotSpot JVM maps its hsperfdata");
    assert!(hs.path.ends_with(&format!("/{}", jvm::status(pid).unwrap().nspid)), "{}", hs.path);
    let c = &hs.counters;
    assert_eq!(c.java_feature, Some(17), "{c:?}");
    assert!(c.vm_version.as_deref().is_some_and(|v| v.starts_with("17.")), "{c:?}");
    assert_eq!(c.command.as_deref(), Some("JvmScenario deadlock"));
    assert_eq!(c.attachable, Some(true));
    // main, the refresher, 4 handlers, the HTTP dispatcher and timer, and
    // the JVM's own Java threads (Reference Handler, Finalizer, …).
    assert!(c.threads_live.unwrap() >= 8 && c.threads_daemon.unwrap() >= 6, "{c:?}");
    assert!(!c.collectors.is_empty() && c.vm_ready_ms >= c.vm_start_ms, "{c:?}");
    assert!(c.contended_lock_attempts.is_some() && c.monitor_parks.is_some(), "JDK 17 has the _sync_ counters");
    let again = jvm::reread_hsperf(pid, &hs).unwrap().unwrap();
    assert_eq!((again.path.as_str(), again.inode), (hs.path.as_str(), hs.inode));
    assert_eq!(again.counters.command, c.command);

    assert!(!socket_of(pid).exists(), "no attach listener before the first attach");
    // The deadlock, and the other three handlers queued behind it (their
    // requests arrive over the next moments: a dump may come first).
    let d = dump_until(pid, Duration::from_secs(10), |d| {
        let waiting = |t: &&unwedge_model::jvm::JavaThread| {
            t.name.starts_with("handler-") && t.waiting_for().is_some_and(|l| l.action == LockAction::WaitingToLock)
        };
        !d.deadlocks.is_empty() && d.threads.iter().filter(waiting).count() >= 4
    });
    assert!(socket_of(pid).exists(), "the JVM opened its attach socket");
    no_trigger_left(pid);
    assert!(d.vm.as_deref().is_some_and(|v| v.contains("17.")), "{:?}", d.vm);
    assert_eq!(d.deadlocks.len(), 1, "{:#?}", d.deadlocks);
    let cycle = &d.deadlocks[0].cycle;
    assert_eq!(cycle.len(), 2, "{cycle:#?}");
    let names: Vec<&str> = cycle.iter().map(|w| w.thread.as_str()).collect();
    let handler = *names.iter().find(|n| n.starts_with("handler-")).expect("a handler in the cycle");
    assert!(names.contains(&"index-refresher"), "{names:?}");
    for w in cycle {
        assert_eq!(w.lock, DeadlockLock::Monitor);
        assert_eq!(w.class.as_deref(), Some("java.lang.Object"));
        let other = names.iter().find(|n| **n != w.thread).unwrap();
        assert_eq!(w.held_by.as_deref(), Some(*other), "{w:?}");
    }
    assert!(d.confirms(&d.deadlocks[0]), "the verdict agrees with the threads' stacks");
    assert_ne!(cycle[0].object, cycle[1].object, "two monitors");
    assert_ne!(cycle[0].monitor, cycle[1].monitor);
    // The handler holds CACHE and waits for INDEX; the three other
    // handlers wait for CACHE, outside the cycle.
    let h = d.thread(handler).unwrap();
    let cache = h.holds().find(|l| l.class.as_deref() == Some("java.lang.Object")).unwrap().object.clone();
    let index = h.waiting_for().unwrap().object.clone();
    assert!(h.frames.iter().any(|f| f.method == "JvmScenario.lookup"), "{h:#?}");
    let refresher = d.thread("index-refresher").unwrap();
    assert_eq!(refresher.waiting_for().unwrap().object, cache);
    assert!(refresher.holds().any(|l| l.object == index));
    let blocked: Vec<&str> = d
        .threads
        .iter()
        .filter(|t| t.name.starts_with("handler-") && t.name != handler)
        .filter(|t| t.waiting_for().is_some_and(|l| l.action == LockAction::WaitingToLock && l.object == cache))
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(blocked.len(), 3, "{:#?}", d.threads);
    // The dump's native ids are the kernel's threads of this process.
    for w in cycle {
        let tid = d.thread(&w.thread).unwrap().native_tid.unwrap();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap();
        assert!(w.thread.starts_with(comm.trim_end()), "{tid}: {comm} vs {}", w.thread);
    }
    all_threads_run(pid).unwrap();

    // Again, through the socket now open: no signal needed.
    let again = attach::thread_dump(pid, ATTACH_WAIT).unwrap();
    assert_eq!(again.deadlocks, d.deadlocks);
    all_threads_run(pid).unwrap();
    assert!(!j.printed("Full thread dump"), "the JVM printed a dump on its stdout: a bare SIGQUIT");

    // JDK 17: the first waiter on each contended monitor rechecks every
    // second, so a monitor deadlock shows as futile wake-ups that keep coming.
    let before = jvm::read_hsperf(pid).unwrap().unwrap().counters.futile_wakeups.unwrap();
    assert!(common::wait_until(Duration::from_secs(5), || {
        jvm::read_hsperf(pid).unwrap().unwrap().counters.futile_wakeups.unwrap() > before
    }));
    drop(clients);
}

/// Issue 26 (b)'s twin: a pool of 50 parked handlers that answers. The
/// dump shows them parked in the pool's queue, no deadlock; the JVM
/// answers after being dumped, and its idle monitors see no futile wake-up.
#[test]
fn idle_pool_is_dumped_and_keeps_answering() {
    let Some(j) = start_jvm(&[], &["pool", "50"]) else { return };
    let pid = j.pid();
    let c1 = jvm::read_hsperf(pid).unwrap().unwrap().counters;
    std::thread::sleep(Duration::from_millis(1500));
    let c2 = jvm::read_hsperf(pid).unwrap().unwrap().counters;
    assert_eq!(c1.futile_wakeups, c2.futile_wakeups, "an idle JVM's monitors do not spin");
    assert!(c2.threads_live.unwrap() >= 50);
    for i in 0..20 {
        assert!(answered(j.port(), &format!("/{i}")));
    }
    let d = attach::thread_dump(pid, ATTACH_WAIT).unwrap();
    assert!(d.deadlocks.is_empty(), "{:#?}", d.deadlocks);
    let handlers: Vec<_> = d.threads.iter().filter(|t| t.name.starts_with("handler-")).collect();
    assert_eq!(handlers.len(), 50);
    for t in &handlers {
        assert_eq!(t.state.as_deref(), Some("WAITING (parking)"), "{t:#?}");
        assert!(t.frames.iter().any(|f| f.method.ends_with("LinkedBlockingQueue.take")), "{t:#?}");
        assert!(t.native_tid.is_some());
    }
    assert!(answered(j.port(), "/after"), "the JVM answers after its dump");
    all_threads_run(pid).unwrap();
    no_trigger_left(pid);
    assert!(!j.printed("Full thread dump"));
}

/// Issue 26 (c)'s twin: GC all the time, every request answered; the
/// collectors' counters move.
#[test]
fn gc_heavy_jvm_counts_collections() {
    let Some(j) = start_jvm(&["-Xmx48m"], &["gc"]) else { return };
    let pid = j.pid();
    let first = jvm::read_hsperf(pid).unwrap().unwrap().counters;
    for i in 0..20 {
        assert!(answered(j.port(), &format!("/page{i}")));
    }
    assert!(
        common::wait_until(Duration::from_secs(10), || {
            jvm::read_hsperf(pid).unwrap().unwrap().counters.gc_invocations() > first.gc_invocations() + 5
        }),
        "collections counted"
    );
    let now = jvm::read_hsperf(pid).unwrap().unwrap().counters;
    assert!(now.gc_time_us() > first.gc_time_us());
    assert!(now.gc_last_cause.is_some(), "{now:?}");
}

/// A process that is not a JVM is never signalled: `sleep` dies of
/// SIGQUIT, and it lives on; no trigger file is made.
#[test]
fn not_a_jvm_is_never_signalled() {
    let mut sleep = Command::new("sleep");
    sleep.arg("60").stdin(Stdio::null()).process_group(0);
    let mut guard = Child { child: sleep.spawn().unwrap(), ready: Value::Null };
    let pid = guard.pid();
    assert_eq!(jvm::read_hsperf(pid), Ok(None));
    let e = attach::thread_dump(pid, ATTACH_WAIT).unwrap_err();
    assert!(!e.signalled, "{e:?}");
    assert!(e.reason.contains("hsperfdata"), "{e:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(guard.child.try_wait().unwrap().is_none(), "sleep died: it was signalled");
    no_trigger_left(pid);
    // Nor a pid that is gone.
    guard.child.kill().unwrap();
    guard.child.wait().unwrap();
    assert!(!attach::thread_dump(pid, ATTACH_WAIT).unwrap_err().signalled);
}

/// A JVM run with -XX:+DisableAttachMechanism is refused before any
/// signal: it would print a thread dump on its stdout if it got one.
#[test]
fn jvm_without_attach_is_refused_without_a_signal() {
    let Some(j) = start_jvm(&["-XX:+DisableAttachMechanism"], &["pool", "2"]) else { return };
    let pid = j.pid();
    let hs = jvm::read_hsperf(pid).unwrap().unwrap();
    assert_eq!(hs.counters.attachable, Some(false));
    let e = attach::thread_dump(pid, ATTACH_WAIT).unwrap_err();
    assert!(!e.signalled && e.reason.contains("DisableAttachMechanism"), "{e:?}");
    no_trigger_left(pid);
    assert!(answered(j.port(), "/"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!j.printed("Full thread dump"), "the JVM got a SIGQUIT");
}

/// -Xrs: the JVM does not catch SIGQUIT (it would die of it) and opens
/// its attach socket at start: it is dumped through the socket, never signalled.
#[test]
fn jvm_with_reduced_signals_is_dumped_without_a_signal() {
    let Some(j) = start_jvm(&["-Xrs"], &["pool", "2"]) else { return };
    let pid = j.pid();
    assert!(!jvm::status(pid).unwrap().catches(libc::SIGQUIT));
    assert!(common::wait_until(Duration::from_secs(5), || socket_of(pid).exists()));
    let d = attach::thread_dump(pid, ATTACH_WAIT).unwrap();
    assert_eq!(d.threads.iter().filter(|t| t.name.starts_with("handler-")).count(), 2);
    assert!(answered(j.port(), "/"));
    all_threads_run(pid).unwrap();
}

/// A JVM of another user (nobody): its files are its own, it accepts
/// only its own uid and gid (JDK 8) or root (JDK 11+); as root the
/// connect is made with its credentials. Dumped, never stopped.
#[test]
fn jvm_of_another_user_is_dumped() {
    if !common::require("root (the JVM runs as nobody)", common::is_root()) {
        return;
    }
    let Some((classes, java)) = scenario() else {
        common::require("a JDK 17 (apt-get install openjdk-17-jdk-headless)", false);
        return;
    };
    // Classes nobody can read, wherever the checkout is.
    let dir = tempfile::Builder::new().prefix("unwedge-jvm-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for e in std::fs::read_dir(classes).unwrap().flatten() {
        let to = dir.path().join(e.file_name());
        std::fs::copy(e.path(), &to).unwrap();
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]).arg(java).arg("-cp").arg(dir.path());
    cmd.args(["JvmScenario", "pool", "3"]).current_dir("/");
    let j = spawn(cmd);
    let pid = j.pid();
    let st = jvm::status(pid).unwrap();
    assert_ne!(st.euid, 0);
    let hs = jvm::read_hsperf(pid).unwrap().unwrap();
    assert!(hs.path.starts_with("/tmp/hsperfdata_nobody/"), "{}", hs.path);
    let d = attach::thread_dump(pid, ATTACH_WAIT).unwrap();
    assert_eq!(d.threads.iter().filter(|t| t.name.starts_with("handler-")).count(), 3);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(socket_of(pid)).unwrap().uid(), st.euid, "the JVM's own socket");
    no_trigger_left(pid);
    assert!(answered(j.port(), "/"));
    all_threads_run(pid).unwrap();
    assert!(!j.printed("Full thread dump"));
}
