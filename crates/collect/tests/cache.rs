//! The collector's cache (`walk::cache`) against a fresh read: while
//! processes start and exit and open and close sockets and pipes, a
//! `Collector` takes a snapshot every 100 ms; once they settle, its view
//! must equal a fresh read of every process that did not run in between
//! (the only ones whose fds and detail it may have taken from the cache),
//! the churned processes among them, and no fresh read the cache would
//! have answered may have found it wrong.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use unwedge_collect::walk::Budget;
use unwedge_collect::{Collector, Detail};
use unwedge_model::{Process, Snapshot};

/// Forks short-lived children and a few that stay, each opening and
/// closing loopback connections and pipes, for `seconds`; then everything
/// left sleeps, holding what it has, and the script prints QUIET.
const CHURN: &str = r#"
import os, socket, sys, time, random
seconds = float(sys.argv[1])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(512)
port = srv.getsockname()[1]
def work(until):
    held = []
    while time.time() < until:
        c = socket.create_connection(("127.0.0.1", port)); s, _ = srv.accept()
        held.append((c, s))
        r, w = os.pipe(); held.append((os.fdopen(r), os.fdopen(w, "w")))
        if len(held) > 6:
            for x in held.pop(random.randrange(len(held))):
                x.close()
        if random.random() < 0.3 and os.fork() == 0:
            os._exit(0)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.01)
    return held
until = time.time() + seconds
kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        keep = work(until)
        time.sleep(300)
        os._exit(0)
    kids.append(pid)
keep = work(until)
print("QUIET " + " ".join(map(str, kids)), flush=True)
time.sleep(300)
"#;

fn budget() -> Budget {
    Budget { detail: Detail::Full, ..Default::default() }
}

/// No thread ran between the two reads: the same threads, switch counts
/// and CPU time, every thread asleep in both.
fn still(a: &Process, b: &Process) -> bool {
    let asleep = |p: &Process| p.threads.iter().all(|t| matches!(t.state, 'S' | 'D' | 'T' | 't' | 'I'));
    a.start_ticks == b.start_ticks
        && !a.threads.is_empty()
        && asleep(a)
        && asleep(b)
        && a.threads.len() == b.threads.len()
        && a.threads.iter().zip(&b.threads).all(|(x, y)| {
            x.tid == y.tid
                && x.ctxt_switches.is_some()
                && x.ctxt_switches == y.ctxt_switches
                && x.utime == y.utime
                && x.stime == y.stime
        })
}

/// What the cache may have supplied: fds, owner, namespace, command line,
/// and each thread's CPU time, wchan, syscall, kernel stack and fd args.
fn cached_part(p: &Process) -> String {
    let threads: Vec<String> = p
        .threads
        .iter()
        .map(|t| {
            format!("{} {} {} {:?} {:?} {:?} {:?}", t.tid, t.utime, t.stime, t.wchan, t.syscall, t.stack, t.fd_args)
        })
        .collect();
    format!(
        "uid {} netns {} fds {} sockets {:?} pipes {:?} anon {:?} cmdline {:?} frozen {:?} brief {} threads {:?}",
        p.uid, p.netns, p.fd_count, p.sockets, p.pipes, p.anon_fds, p.cmdline, p.frozen, p.brief, threads
    )
}

fn by_pid(s: &Snapshot) -> std::collections::HashMap<u32, &Process> {
    s.processes.iter().map(|p| (p.pid, p)).collect()
}

#[test]
fn a_cached_view_equals_a_fresh_read_after_churn() {
    let mut child = Command::new("python3")
        .args(["-c", CHURN, "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let me = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut collector = Collector::new();
    let started = Instant::now();
    let mut snapshots = 0;
    let quiet = loop {
        collector.snapshot(budget()).expect("a snapshot");
        snapshots += 1;
        if let Ok(line) = rx.try_recv() {
            break line;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the churn never ended");
        std::thread::sleep(Duration::from_millis(100));
    };
    let kids: Vec<u32> = quiet
        .trim()
        .strip_prefix("QUIET")
        .expect("QUIET line")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    // Settled: every churner sleeps. One more snapshot updates the cache
    // with them, the next must answer them from it.
    std::thread::sleep(Duration::from_millis(300));
    collector.snapshot(budget()).unwrap();
    let cached = collector.snapshot(budget()).unwrap();
    let fresh = unwedge_collect::snapshot_within(budget()).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    for k in &kids {
        // SAFETY: the children this test's script forked.
        unsafe { libc::kill(*k as i32, libc::SIGKILL) };
    }
    let (c, f) = (by_pid(&cached), by_pid(&fresh));
    let mut compared = Vec::new();
    for (pid, p) in &c {
        let Some(q) = f.get(pid) else { continue };
        if !still(p, q) {
            continue;
        }
        assert_eq!(cached_part(p), cached_part(q), "pid {pid} ({}): the cache differs from a fresh read", p.comm);
        compared.push(*pid);
    }
    for pid in kids.iter().chain([&me]) {
        assert!(compared.contains(pid), "churner {pid} was not compared (it ran, or is gone)");
    }
    let stats = collector.stats();
    assert!(snapshots >= 10, "{snapshots} snapshots during the churn");
    assert!(stats.fds_reused > 0 && stats.full_reused > 0, "{stats:?}");
    assert_eq!(stats.drift, 0, "a fresh read found the cache wrong: {stats:?}");
    eprintln!("{snapshots} snapshots; {} processes compared; {stats:?}", compared.len());
}

/// The number of open fds alone is not a sound hint: a server that closes
/// one connection and accepts another has as many fds, and other sockets.
/// The run mark sees it ran, so its fds are read again.
#[test]
fn the_same_number_of_fds_is_not_the_same_fds() {
    const SWAP: &str = r#"
import os, signal, socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
port = srv.getsockname()[1]
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
def swap(*_):
    held.pop().close()
    held.append(socket.create_connection(("127.0.0.1", port)))
    print("SWAPPED", flush=True)
signal.signal(signal.SIGUSR1, swap)
print("READY", flush=True)
while True:
    time.sleep(3600)
"#;
    let mut child = Command::new("python3")
        .args(["-c", SWAP])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY");
    let mut collector = Collector::new();
    let find = |s: &Snapshot| s.processes.iter().find(|p| p.pid == pid).cloned().expect("the child");
    collector.snapshot(budget()).unwrap();
    let before = find(&collector.snapshot(budget()).unwrap());
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
    line.clear();
    out.read_line(&mut line).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let after = find(&collector.snapshot(budget()).unwrap());
    let fresh = find(&unwedge_collect::snapshot_within(budget()).unwrap());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(before.fd_count, after.fd_count, "as many fds");
    assert_ne!(before.sockets, after.sockets, "other sockets");
    assert_eq!(after.sockets, fresh.sockets, "the collector read them again");
}
