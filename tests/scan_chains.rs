//! Issue 22, live: waits followed across processes to their end, with
//! real software from Debian — nginx before PHP-FPM over a unix socket
//! whose workers are busy and whose queue is full, nginx before gunicorn
//! on a unix socket whose workers deadlock on two locks, nginx before a
//! local TCP upstream whose handlers wait on a lock, two servers calling
//! each other with their pools exhausted (a cross-process deadlock) — each
//! told as one story, root first, with its path; and the healthy twins
//! that must stay silent: the same servers answering under load, services
//! that call each other and are answered, a bus with many idle unix
//! clients, an API whose unix clients long-poll.

mod common;

use common::{findings, scan_json, Child};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The answer timeout the incidents are scanned with: their requests are
/// a few seconds old.
const ANSWER: &str = "2s";

/// Removes a scenario's directory (configs, sockets, logs) once its
/// processes are gone, pass or fail.
struct Scenario {
    child: Child,
    dir: Option<String>,
}

impl Drop for Scenario {
    fn drop(&mut self) {
        // Its descendants by pid first: php-fpm's master leads a process
        // group of its own, and its workers outlive it.
        for pid in descendants(self.child.pid()) {
            // SAFETY: a process this test started (a descendant of its scenario).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        // SAFETY: signalling the process group the guard created.
        unsafe { libc::kill(-(self.child.pid() as i32), libc::SIGKILL) };
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Scenario {
    fn ready(&self) -> &Value {
        &self.child.ready
    }

    fn num(&self, key: &str) -> u64 {
        self.ready()[key].as_u64().unwrap_or_else(|| panic!("READY has no {key}: {}", self.ready()))
    }
}

fn front(mode: &str, args: &[&str]) -> Option<Scenario> {
    let nginx = common::nginx_path().is_some();
    let fpm = std::path::Path::new("/usr/sbin/php-fpm8.2").exists();
    let gunicorn = std::path::Path::new("/usr/bin/gunicorn").exists();
    if !common::require("nginx (apt-get install nginx-light)", nginx)
        || (mode.starts_with("fpm") && !common::require("php-fpm (apt-get install php8.2-fpm)", fpm))
        || (!mode.starts_with("fpm") && !common::require("gunicorn (apt-get install gunicorn)", gunicorn))
        || !common::require("root (nginx runs its workers as root here)", common::is_root())
    {
        return None;
    }
    let mut a = vec![mode];
    a.extend_from_slice(args);
    let child = common::python("front_end.py", &a);
    let dir = child.ready["dir"].as_str().map(str::to_string);
    Some(Scenario { child, dir })
}

fn mutual(mode: &str) -> Scenario {
    Scenario { child: common::python("mutual_call.py", &[mode]), dir: None }
}

/// Every pid below `root` (children, grandchildren…), from /proc.
fn descendants(root: u32) -> BTreeSet<u32> {
    let mut parent: BTreeMap<u32, u32> = BTreeMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Some(pp) = common::ppid_of(pid as u64) {
            parent.insert(pid, pp as u32);
        }
    }
    let mut out = BTreeSet::new();
    let mut changed = true;
    while changed {
        changed = false;
        for (&pid, &pp) in &parent {
            if (pp == root || out.contains(&pp)) && out.insert(pid) {
                changed = true;
            }
        }
    }
    out
}

fn pids(v: &Value) -> Vec<u32> {
    v.as_array().map(|a| a.iter().filter_map(|x| x.as_u64()).map(|x| x as u32).collect()).unwrap_or_default()
}

fn by_id<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["findings"].as_array()?.iter().find(|f| f["id"] == id)
}

/// Whether `f` is caused, directly or through other findings, by `root`.
fn beneath(report: &Value, f: &Value, root: &Value) -> bool {
    let mut todo: Vec<String> =
        f["caused_by"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).map(String::from).collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if id == root["id"].as_str().unwrap_or_default() {
            return true;
        }
        if seen.insert(id.clone()) {
            if let Some(g) = by_id(report, &id) {
                todo.extend(
                    g["caused_by"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).map(String::from),
                );
            }
        }
    }
    false
}

/// `unwedge scan ARGS` as a person reads it (no colour).
fn human(args: &[&str]) -> String {
    let out = common::unwedge().arg("scan").args(args).env("NO_COLOR", "1").output().expect("run unwedge");
    assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The human report of an incident: one story (told together), its
/// root's section first, the path printed once, at most 60 lines.
fn one_story(text: &str, root_header: &str, path_parts: &[&str]) {
    let lines = text.lines().count();
    assert!(lines <= 60, "{lines} lines:\n{text}");
    let sections: Vec<&str> = text.lines().filter(|l| l.starts_with('■')).collect();
    assert!(sections.first().is_some_and(|s| s.contains(root_header)), "root first ({root_header}):\n{text}");
    let path: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("Path: ")).collect();
    assert_eq!(path.len(), 1, "one path per story:\n{text}");
    let joined: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in path_parts {
        assert!(joined.contains(p), "the path names {p}:\n{text}");
    }
}

/// Scans until `pred` finds what it looks for (a loaded host may skip a
/// process in one scan), up to a deadline.
fn scan_for(args: &[&str], what: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
    let report = common::scan_until(args, Duration::from_secs(60), &mut pred);
    assert!(pred(&report), "{what} not found within 60 s: {report:#}");
    report
}

fn wait_secs(s: u64) {
    std::thread::sleep(Duration::from_secs(s));
}

/// The first incident: nginx -> PHP-FPM over a unix socket, both
/// workers busy (sleep(60)), the socket's queue at backlog + 1, nginx's
/// further connect()s refused with EAGAIN. Told from the end: the pool's
/// full, stalled queue, the workers asleep, nginx's unanswered requests
/// beneath it.
#[test]
fn nginx_before_php_fpm_with_a_full_unix_queue_is_one_story_from_the_pool() {
    let Some(s) = front("fpm", &["--clients", "10"]) else { return };
    let sock = s.ready()["path"].as_str().unwrap().to_string();
    let port = s.num("port").to_string();
    let workers = descendants(s.num("upstream") as u32);
    let nginx = descendants(s.num("nginx") as u32);
    wait_secs(3);
    let args = ["--answer-timeout", ANSWER];
    let report = scan_for(&args, "the pool's queue and nginx's requests", |r| {
        findings(r, "accept_queue_overflow").iter().any(|f| f["path"] == sock.as_str())
            && findings(r, "unanswered_requests")
                .iter()
                .any(|f| f["port"].as_u64().map(|p| p.to_string()) == Some(port.clone()))
    });
    let full = findings(&report, "accept_queue_overflow").into_iter().find(|f| f["path"] == sock.as_str()).unwrap();
    assert!(full["port"].is_null(), "{full:#}");
    assert!(workers.contains(&(full["pid"].as_u64().unwrap() as u32)), "about a worker: {full:#}");
    let ev = &full["evidence"];
    assert_eq!(ev["listen"], format!("unix:{sock}"));
    assert_eq!(ev["backlog"], 4);
    assert_eq!(ev["queued"], 5, "a unix listener holds backlog + 1: {ev:#}");
    // The chain: nginx -> unix:fpm.sock -> the workers, asleep.
    let hops = full["waits_on"].as_array().expect("waits_on");
    assert_eq!(hops.len(), 2, "{full:#}");
    assert!(pids(&hops[0]["pids"]).iter().all(|p| nginx.contains(p)), "{full:#}");
    assert_eq!(hops[0]["on"]["type"], "unix");
    assert_eq!(hops[0]["on"]["path"], sock.as_str());
    assert_eq!(hops[0]["on"]["queue"]["full"], true);
    assert!(pids(&hops[0]["on"]["pids"]).iter().all(|p| workers.contains(p)));
    assert_eq!(pids(&hops[1]["pids"]), pids(&hops[0]["on"]["pids"]));
    assert_eq!(hops[1]["on"]["type"], "sleep");
    assert_eq!(hops[1]["on"]["syscall"], "clock_nanosleep");
    // nginx's requests are told beneath the pool's queue.
    let root = findings(&report, "accept_stalled").into_iter().find(|f| f["path"] == sock.as_str()).unwrap_or(full);
    let front = findings(&report, "unanswered_requests")
        .into_iter()
        .find(|f| f["port"].as_u64().map(|p| p.to_string()) == Some(port.clone()))
        .unwrap();
    assert!(beneath(&report, front, root), "nginx's finding is caused by the pool's: {report:#}");
    assert_eq!(front["waits_on"][0]["on"]["path"], sock.as_str(), "{front:#}");
    assert!(front["title"].as_str().unwrap().contains(&format!("over unix:{sock}")), "{front:#}");
    let text = human(&["--answer-timeout", ANSWER, "--port", &port]);
    one_story(
        &text,
        "php-fpm8.2",
        &["nginx (", &format!("unix:{sock}"), "asleep in clock_nanosleep", "queue full (5/4)"],
    );
    // --path finds the listener's findings.
    let (by_path, _) = scan_json(&["--answer-timeout", ANSWER, "--path", &sock]);
    assert!(findings(&by_path, "accept_queue_overflow").iter().all(|f| f["path"] == sock.as_str()));
    assert!(!findings(&by_path, "accept_queue_overflow").is_empty(), "{by_path:#}");
    eprintln!("{text}");
}

/// nginx -> gunicorn on a unix socket, each sync worker deadlocked on two
/// locks: the workers' stalled queue, with the workers in futex at the end
/// of the path, and nginx's requests beneath.
#[test]
fn nginx_before_gunicorn_deadlocked_on_a_unix_socket_names_the_workers() {
    let Some(s) = front("gunicorn", &["--clients", "10"]) else { return };
    let sock = s.ready()["path"].as_str().unwrap().to_string();
    let port = s.num("port").to_string();
    let workers = descendants(s.num("upstream") as u32);
    wait_secs(3);
    let args = ["--answer-timeout", ANSWER];
    let report = scan_for(&args, "the workers' stalled queue", |r| {
        findings(r, "accept_stalled").iter().any(|f| f["path"] == sock.as_str())
            && findings(r, "unanswered_requests")
                .iter()
                .any(|f| f["port"].as_u64().map(|p| p.to_string()) == Some(port.clone()))
    });
    let root = findings(&report, "accept_stalled").into_iter().find(|f| f["path"] == sock.as_str()).unwrap();
    assert!(workers.contains(&(root["pid"].as_u64().unwrap() as u32)), "{root:#}");
    let hops = root["waits_on"].as_array().expect("waits_on");
    let end = hops.last().unwrap();
    assert_eq!(end["on"]["type"], "lock", "the workers wait in futex: {root:#}");
    assert!(pids(&end["pids"]).iter().all(|p| workers.contains(p)) && end["pids"].as_array().unwrap().len() == 2);
    let front = findings(&report, "unanswered_requests")
        .into_iter()
        .find(|f| f["port"].as_u64().map(|p| p.to_string()) == Some(port.clone()))
        .unwrap();
    assert!(beneath(&report, front, root), "{report:#}");
    let text = human(&["--answer-timeout", ANSWER, "--port", &port]);
    one_story(&text, "gunicorn", &["nginx (", &format!("unix:{sock}"), "waiting on a lock (futex), holder unknown"]);
    eprintln!("{text}");
}

/// nginx -> a local TCP upstream (gunicorn, one gthread worker) whose
/// handlers wait on a deadlocked lock: the upstream's other end found by
/// the reversed 4-tuple, its threads in futex at the end of the path.
#[test]
fn nginx_before_a_local_tcp_upstream_follows_the_connection_to_its_worker() {
    let Some(s) = front("tcp", &["--clients", "6"]) else { return };
    let port = s.num("port").to_string();
    let up_port = s.num("upstream_port");
    let upstream: BTreeSet<u32> = descendants(s.num("upstream") as u32);
    wait_secs(3);
    let args = ["--answer-timeout", ANSWER, "--port", &port];
    let report = scan_for(&args, "nginx's unanswered requests", |r| !findings(r, "unanswered_requests").is_empty());
    // nginx's finding: the upstream's own comes first (root first).
    let f = findings(&report, "unanswered_requests")
        .into_iter()
        .find(|f| f["port"].as_u64().map(|p| p.to_string()) == Some(port.clone()))
        .unwrap_or_else(|| panic!("no finding on nginx's port: {report:#}"));
    let hops = f["waits_on"].as_array().unwrap_or_else(|| panic!("no waits_on: {report:#}"));
    assert_eq!(hops[0]["on"]["type"], "tcp", "{f:#}");
    assert_eq!(hops[0]["on"]["peer"], format!("127.0.0.1:{up_port}"));
    assert!(pids(&hops[0]["on"]["pids"]).iter().all(|p| upstream.contains(p)), "{f:#}");
    assert_eq!(hops.last().unwrap()["on"]["type"], "lock", "{f:#}");
    assert!(hops[0]["since_ms"].as_u64().unwrap() >= 2000, "owed since the requests went out: {f:#}");
    let text = human(&args);
    // The upstream answers none of its own requests either: its finding is the root.
    one_story(&text, "gunicorn", &["nginx (", &format!("tcp 127.0.0.1:{up_port}"), "waiting on a lock (futex)"]);
    eprintln!("{text}");
}

/// Two servers that call each other, one worker each: a cycle across
/// processes, named once as a cross-process deadlock with both sides.
#[test]
fn two_servers_calling_each_other_with_exhausted_pools_are_a_cross_process_deadlock() {
    let s = mutual("deadlock");
    let (a, b) = (s.num("pid") as u32, s.num("b_pid") as u32);
    let port_a = s.num("a").to_string();
    let report = scan_for(&[], "the cycle", |r| {
        findings(r, "cross_process_deadlock").iter().any(|f| pids(&f["evidence"]["pids"]).contains(&a))
    });
    let d = findings(&report, "cross_process_deadlock")
        .into_iter()
        .find(|f| pids(&f["evidence"]["pids"]).contains(&a))
        .unwrap();
    assert_eq!(d["severity"], "critical");
    assert_eq!(pids(&d["evidence"]["pids"]), {
        let mut v = vec![a, b];
        v.sort();
        v
    });
    let hops = d["waits_on"].as_array().unwrap();
    assert_eq!(hops.len(), 2, "{d:#}");
    assert_eq!(hops[1]["on"]["cycle"], true);
    // Every other finding about either side is told beneath it.
    for f in report["findings"].as_array().unwrap() {
        let pid = f["pid"].as_u64().map(|p| p as u32);
        if f["id"] != d["id"] && (pid == Some(a) || pid == Some(b)) {
            assert!(beneath(&report, f, d), "{f:#}");
        }
    }
    let text = human(&["--port", &port_a]);
    one_story(&text, "python3", &[&format!("({a})"), &format!("({b})"), "cross-process deadlock"]);
    eprintln!("{text}");
}

/// What the healthy twins must not raise: no warning or critical finding
/// about any of `pids`.
fn silent_about(args: &[&str], pids: &BTreeSet<u32>, what: &str) {
    let started = Instant::now();
    let (report, _) = scan_json(args);
    let loud: Vec<String> = common::alarms(&report)
        .iter()
        .filter(|f| {
            let p = f["pid"].as_u64().map(|p| p as u32);
            p.is_some_and(|p| pids.contains(&p)) || pids_in(f).iter().any(|p| pids.contains(p))
        })
        .map(|f| format!("{} {}: {}", f["kind"], f["severity"], f["title"]))
        .collect();
    assert!(loud.is_empty(), "{what} must stay silent ({:?}): {loud:#?}", started.elapsed());
}

/// The twin really serves: a request to PORT is answered ("ok") in time.
fn serves(port: u64) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port as u16)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\nHost: t\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(
        String::from_utf8_lossy(&got).contains("ok"),
        "no answer from port {port}: {:?}",
        String::from_utf8_lossy(&got)
    );
}

fn pids_in(f: &Value) -> Vec<u32> {
    f["waits_on"].as_array().into_iter().flatten().flat_map(|h| pids(&h["pids"])).collect()
}

fn all_pids(s: &Scenario) -> BTreeSet<u32> {
    let mut p = descendants(s.child.pid());
    p.insert(s.child.pid());
    p
}

#[test]
fn php_fpm_over_a_unix_socket_under_load_whose_queue_drains_is_silent() {
    let Some(s) = front("fpm-fast", &["--load", "6"]) else { return };
    serves(s.num("port"));
    wait_secs(2);
    silent_about(&["--answer-timeout", ANSWER], &all_pids(&s), "php-fpm answering under load");
}

#[test]
fn gunicorn_on_a_unix_socket_under_load_is_silent() {
    let Some(s) = front("gunicorn-fast", &["--load", "6"]) else { return };
    serves(s.num("port"));
    wait_secs(2);
    silent_about(&["--answer-timeout", ANSWER], &all_pids(&s), "gunicorn answering under load");
}

#[test]
fn an_upstream_that_answers_within_the_interval_is_silent() {
    let Some(s) = front("tcp-fast", &["--load", "6"]) else { return };
    serves(s.num("port"));
    wait_secs(2);
    silent_about(&["--answer-timeout", ANSWER], &all_pids(&s), "a local upstream answering");
}

#[test]
fn servers_that_call_each_other_and_are_answered_are_silent() {
    let s = mutual("healthy");
    serves(s.num("a"));
    wait_secs(1);
    silent_about(&[], &all_pids(&s), "mutual calls that complete");
}

/// A bus with many idle unix clients (D-Bus-like) and an API whose unix
/// clients long-poll (docker.sock's /events): connections that wait by
/// design, and no queue.
#[test]
fn many_idle_and_long_polling_unix_clients_are_silent() {
    for mode in ["bus", "api"] {
        let child = common::python("unix_clients.py", &[mode, "--clients", "200"]);
        let dir = child.ready["dir"].as_str().map(str::to_string);
        let s = Scenario { child, dir };
        let path = s.ready()["path"].as_str().unwrap().to_string();
        wait_secs(1);
        silent_about(&["--answer-timeout", ANSWER], &all_pids(&s), mode);
        let (by_path, _) = scan_json(&["--path", &path]);
        assert!(by_path["findings"].as_array().unwrap().is_empty(), "{mode}: {by_path:#}");
    }
}
