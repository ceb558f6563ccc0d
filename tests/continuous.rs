//! Continuous mode (`serve` and `watch` compare each snapshot with the
//! previous one and take a second look only at what is new): the same
//! incidents give the same kinds about the same pids through `scan`, the
//! serve API and watch's JSON events, and their healthy twins stay silent
//! everywhere; an incident that appears between two serve scans is in the
//! very next report (the second look, not the comparison with a snapshot
//! that predates it, finds it). The whole incident suite runs through
//! serve too with UNWEDGE_TEST_SCAN=serve (docs/testing.md).

mod common;

use common::{continuous, python, Child};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// (kind, pid) of every warning or critical finding of a report.
fn alarm_set(report: &Value) -> Vec<(String, u64)> {
    common::alarms(report).iter().filter_map(|f| Some((f["kind"].as_str()?.to_string(), f["pid"].as_u64()?))).collect()
}

/// One `unwedge watch --json` for the whole binary (continuous mode), and
/// the findings its events say are current, by key.
struct Watch {
    current: Mutex<BTreeMap<String, Value>>,
}

fn watch() -> &'static Arc<Watch> {
    static W: OnceLock<Arc<Watch>> = OnceLock::new();
    W.get_or_init(|| {
        let w = Arc::new(Watch { current: Mutex::new(BTreeMap::new()) });
        let w2 = w.clone();
        // The watch dies with this thread's process (PR_SET_PDEATHSIG from a thread that never ends).
        std::thread::spawn(move || {
            let mut cmd = common::unwedge();
            cmd.args(["watch", "--json", "--every", "1s", "--interval", "0.5s", "--mode", "continuous"]);
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
            die_with_parent(&mut cmd);
            let mut child = cmd.spawn().expect("start unwedge watch");
            let out = child.stdout.take().unwrap();
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let e: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                let key = e["key"].to_string();
                let mut cur = w2.current.lock().unwrap();
                match e["event"].as_str() {
                    Some("appeared") | Some("changed") => {
                        cur.insert(key, e["finding"].clone());
                    }
                    Some("resolved") => {
                        cur.remove(&key);
                    }
                    _ => {}
                }
            }
            let _ = child.wait();
            loop {
                std::thread::park();
            }
        });
        w
    })
}

fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

impl Watch {
    fn alarms(&self) -> Vec<(String, u64)> {
        let cur = self.current.lock().unwrap();
        cur.values()
            .filter(|f| f["severity"] == "warning" || f["severity"] == "critical")
            .filter_map(|f| Some((f["kind"].as_str()?.to_string(), f["pid"].as_u64()?)))
            .collect()
    }
}

/// The same (kind, pid) alarms appear through scan, serve and watch
/// (bounded), and none about the `quiet` pids in any of them.
fn same_everywhere(expect: &[(&str, u64)], quiet: &[u64], interval: &str) {
    let want: Vec<(String, u64)> = expect.iter().map(|(k, p)| (k.to_string(), *p)).collect();
    let has_all = |got: &[(String, u64)]| want.iter().all(|w| got.contains(w));
    let silent = |got: &[(String, u64)]| got.iter().all(|(_, p)| !quiet.contains(p));
    let args = ["--interval", interval];
    // scan
    let report = common::scan_until(&args, LIMIT, |r| has_all(&alarm_set(r)));
    assert!(has_all(&alarm_set(&report)), "scan: {:?} not all in {:?}", want, alarm_set(&report));
    assert!(silent(&alarm_set(&report)), "scan: {:?} about {quiet:?}", alarm_set(&report));
    // serve
    let deadline = Instant::now() + LIMIT;
    let served = loop {
        let (r, _) = continuous::scan_json(&args).expect("serve takes these options");
        if has_all(&alarm_set(&r)) || Instant::now() > deadline {
            break r;
        }
    };
    assert!(has_all(&alarm_set(&served)), "serve: {:?} not all in {:?}", want, alarm_set(&served));
    assert!(silent(&alarm_set(&served)), "serve: {:?} about {quiet:?}", alarm_set(&served));
    // watch
    let w = watch();
    let found = common::wait_until(LIMIT, || has_all(&w.alarms()));
    assert!(found, "watch: {:?} not all in {:?}", want, w.alarms());
    assert!(silent(&w.alarms()), "watch: {:?} about {quiet:?}", w.alarms());
}

fn pid(c: &Child) -> u64 {
    c.pid() as u64
}

fn ready_pid(c: &Child, key: &str) -> u64 {
    c.ready[key].as_u64().unwrap_or_else(|| panic!("READY has no {key}: {}", c.ready))
}

#[test]
fn a_close_wait_leak_and_an_idle_listener() {
    let leak = python("leaky_listener.py", &["--count", "30"]);
    let idle = python("idle_listener.py", &[]);
    same_everywhere(&[("close_wait_leak", pid(&leak))], &[pid(&idle)], "0.5");
}

#[test]
fn a_listener_that_never_accepts_and_a_healthy_echo_server() {
    let stalled = python("never_accept.py", &["--backlog", "4", "--connects", "10"]);
    let echo = python("healthy_echo.py", &["--seconds", "120", "--clients", "4"]);
    same_everywhere(&[("accept_stalled", pid(&stalled))], &[pid(&echo)], "0.5");
}

#[test]
fn a_one_slot_server_starved_by_keepalive() {
    let srv = python("one_slot_keepalive.py", &[]);
    let healthy = python("healthy_keepalive.py", &[]);
    same_everywhere(&[("keepalive_starvation", pid(&srv))], &[pid(&healthy)], "0.5");
}

#[test]
fn a_stuck_proxy_thread_and_an_idle_pool() {
    let s = python("stuck_proxy.py", &[]);
    let idle = python("idle_pool.py", &[]);
    same_everywhere(&[("stuck_thread", pid(&s))], &[pid(&idle)], "0.5");
}

#[test]
fn a_blocked_sigalrm_and_its_unblocked_twin() {
    let s = python("signal_inherit.py", &[]);
    let twin = python("signal_inherit.py", &["--unblocked"]);
    let (child, twin_child) = (ready_pid(&s, "child"), ready_pid(&twin, "child"));
    same_everywhere(&[("blocked_signal", child)], &[twin_child], "0.3");
}

#[test]
fn unreaped_children_and_a_parent_that_reaps() {
    let z = python("zombies.py", &[]);
    let reaper = python("zombies.py", &["--reap"]);
    same_everywhere(&[("zombie", pid(&z))], &[pid(&reaper)], "0.5");
}

#[test]
fn clients_that_never_read_and_a_fast_download() {
    let stuck = python("slow_reader.py", &["--clients", "3", "--mode", "stuck"]);
    let fast = python("slow_reader.py", &["--clients", "3", "--mode", "fast"]);
    same_everywhere(&[("peer_not_reading", pid(&stuck))], &[pid(&fast)], "0.5");
}

#[test]
fn a_process_at_its_fd_limit() {
    let p = python("fd_hog.py", &["--limit", "100", "--percent", "90"]);
    same_everywhere(&[("fd_exhaustion", pid(&p))], &[], "0.5");
}

/// The serve scan that starts after an incident began reports it, though
/// the previous snapshot predates it: its second look compared it twice.
#[test]
fn an_incident_between_two_serve_scans_is_in_the_next_report() {
    let serve = Serve::start(&["--scan-interval", "10s", "--interval", "1s"]);
    for attempt in 0..3 {
        // Right after a scan finished: the next one starts about 9 s later.
        let n = serve.scans();
        assert!(common::wait_until(LIMIT, || serve.scans() > n), "serve finished no scan");
        let k = serve.scans();
        let leak = python("leaky_listener.py", &["--count", "20"]);
        if serve.scans() != k {
            eprintln!("attempt {attempt}: the scenario took a whole interval to start; again");
            continue;
        }
        assert!(common::wait_until(LIMIT, || serve.scans() > k), "serve finished no scan");
        let report: Value =
            serde_json::from_str(&continuous::get(serve.addr, &format!("/v1/scan?pid={}", leak.pid()))).unwrap();
        assert_eq!(serve.scans(), k + 1, "read before the scan after it finished");
        let f = common::findings(&report, "close_wait_leak");
        assert_eq!(f.len(), 1, "{report:#}");
        assert_eq!(f[0]["pid"].as_u64(), Some(pid(&leak)));
        assert_eq!(f[0]["evidence"]["close_wait"], 20, "{:#}", f[0]);
        assert_eq!(f[0]["evidence"]["persisted_across_interval"], true, "{:#}", f[0]);
        return;
    }
    panic!("the scenario never started within a scan interval");
}

/// A serve of its own (for the timing of one test).
struct Serve {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut cmd = common::unwedge();
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start unwedge serve");
        let mut line = String::new();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        while !line.contains("listening on http://") {
            line.clear();
            assert!(err.read_line(&mut line).unwrap() > 0, "serve exited");
        }
        let addr = line.split("listening on http://").nth(1).unwrap().trim().parse().unwrap();
        std::thread::spawn(move || for _ in err.lines() {});
        Serve { child, addr }
    }

    fn scans(&self) -> u64 {
        serde_json::from_str::<Value>(&continuous::get(self.addr, "/healthz")).unwrap()["scans"].as_u64().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
