//! Limits around a program, live: each scenario runs in a network
//! namespace or a cgroup the test creates (and removes), and a real
//! `unwedge scan` must name the limit — with the process, cgroup and fix —
//! or, for the healthy twin, stay silent.
//!
//! - ephemeral ports: a tiny ip_local_port_range in a namespace and a client
//!   making short connections until connect() fails with EADDRNOTAVAIL;
//!   twin: a busy client on four keep-alive connections.
//! - SYN queue: a raw-socket SYN flood (spoofed sources, confined to the
//!   namespace) against a listener with a backlog of 8, syncookies on and
//!   off; twin: real clients whose handshakes complete.
//! - conntrack: this kernel keeps nf_conntrack_max global and read-only in
//!   a child namespace (count is per namespace), so the test fills its
//!   namespace's table for real, to the host's max, with UDP flows;
//!   twin: the same at 50%.
//! - pids: a forking server in a pids cgroup at pids.max; twin: 50%.
//! - CPU: a CPU-bound server in a cpu cgroup with a 5% quota under load;
//!   twin: a throttled batch job nobody waits on (info, not an alarm).
//! - memory: a server filling its memory cgroup with anonymous memory,
//!   serving from a file through the little page cache left; twin: the same
//!   file reading with no socket (info at most).

mod common;

use common::cgroup::TestCgroup;
use serde_json::Value;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn netns_of(pid: u32) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns link");
    let s = link.to_string_lossy();
    s[s.find('[').unwrap() + 1..s.len() - 1].parse().unwrap()
}

fn about_netns<'a>(report: &'a Value, kind: &str, ns: u64) -> Vec<&'a Value> {
    common::findings(report, kind).into_iter().filter(|f| f["netns"] == ns).collect()
}

fn about_pids<'a>(report: &'a Value, pids: &[u64]) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pid"].as_u64().is_some_and(|p| pids.contains(&p)))
        .collect()
}

fn summary(fs: &[&Value]) -> Vec<String> {
    fs.iter().map(|f| format!("{} {} {}", f["kind"], f["severity"], f["title"])).collect()
}

/// Clients that connect, send a line, read the answer and close, until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, n: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(mut c) = std::net::TcpStream::connect_timeout(
                            &([127, 0, 0, 1], port).into(),
                            Duration::from_secs(5),
                        ) else {
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        };
                        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                        let _ = c.write_all(b"PING\r\n");
                        let _ = c.read(&mut [0u8; 16]);
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn netns_prereqs() -> bool {
    common::require("root (network namespaces)", common::is_root())
        && common::require("ip (iproute2)", std::process::Command::new("ip").arg("-V").output().is_ok())
}

#[test]
fn ephemeral_ports_run_out_towards_one_server() {
    if !netns_prereqs() {
        return;
    }
    let s = common::python("ports_exhaust.py", &["--range", "40000", "40063"]);
    assert_eq!(s.ready["failed"], "EADDRNOTAVAIL", "the client never hit EADDRNOTAVAIL: {}", s.ready);
    let ns = netns_of(s.pid());
    let report = common::scan_until(&["--interval", "1s"], Duration::from_secs(30), |r| {
        !about_netns(r, "ephemeral_ports_exhausted", ns).is_empty()
    });
    let f = about_netns(&report, "ephemeral_ports_exhausted", ns);
    assert_eq!(f.len(), 1, "{:?}", summary(&common::findings(&report, "ephemeral_ports_exhausted")));
    let f = f[0];
    assert_eq!(f["severity"], "critical", "{f:#}");
    assert!(f["pid"].is_null());
    let e = &f["evidence"];
    assert_eq!(e["remote"], "127.0.0.1:8080");
    assert_eq!(e["port_range"], serde_json::json!([40000, 40063]));
    assert_eq!(e["tcp_tw_reuse"], 0);
    assert!(e["by_state"]["TIME-WAIT"].as_u64().unwrap() >= 50, "{e:#}");
    assert!(
        e["owners"].as_array().unwrap().iter().any(|o| o["pid"] == s.pid()),
        "the client owns the live ones: {e:#}"
    );
    assert!(f["fix"].as_str().unwrap().contains("keep-alive"));
}

#[test]
fn a_busy_client_with_keepalive_pooling_uses_few_ports() {
    if !netns_prereqs() {
        return;
    }
    let s = common::python("ports_exhaust.py", &["--range", "40000", "40063", "--pool"]);
    assert!(s.ready["connects"].as_u64().unwrap() >= 8000, "{}", s.ready);
    let ns = netns_of(s.pid());
    let (report, _) = common::scan_json(&["--interval", "1s"]);
    assert!(about_netns(&report, "ephemeral_ports_exhausted", ns).is_empty());
    let mine = [s.pid() as u64, s.ready["server_pid"].as_u64().unwrap()];
    let alarms: Vec<&Value> = about_pids(&report, &mine).into_iter().filter(|f| f["severity"] != "info").collect();
    assert!(alarms.is_empty(), "{:?}", summary(&alarms));
}

fn syn_flood(syncookies: &str) -> (common::Child, u64, Value) {
    let s = common::python("syn_flood.py", &["--backlog", "8", "--syncookies", syncookies]);
    assert!(s.ready["syn_recv"].as_u64().unwrap() >= 8, "the flood never filled the SYN queue: {}", s.ready);
    let ns = netns_of(s.pid());
    let report = common::scan_until(&["--interval", "1s"], Duration::from_secs(30), |r| {
        !about_netns(r, "syn_queue_overflow", ns).is_empty()
    });
    (s, ns, report)
}

#[test]
fn a_syn_flood_without_syncookies_drops_syns() {
    if !netns_prereqs() {
        return;
    }
    let (s, ns, report) = syn_flood("0");
    let f = about_netns(&report, "syn_queue_overflow", ns);
    assert_eq!(f.len(), 1, "{:?}", summary(&f));
    let f = f[0];
    assert_eq!(f["severity"], "critical", "{f:#}");
    assert_eq!(f["pid"], s.pid(), "the listener's owner");
    assert_eq!(f["port"], 8080);
    let e = &f["evidence"];
    assert_eq!(e["listen"], "10.99.0.1:8080");
    assert_eq!(e["pattern"], "flood", "{e:#}");
    assert!(e["reqq_full_drop_rise"].as_u64().unwrap() > 0, "{e:#}");
    assert!(e["listener_drops_rise"].as_u64().unwrap() > 0, "the listener's own SK_MEMINFO_DROPS: {e:#}");
    // The drops are the SYN queue's: no accept-queue finding for them.
    assert!(about_netns(&report, "accept_queue_overflow", ns).is_empty());
}

#[test]
fn a_syn_flood_with_syncookies_gets_cookies() {
    if !netns_prereqs() {
        return;
    }
    let (_s, ns, report) = syn_flood("1");
    let f = about_netns(&report, "syn_queue_overflow", ns);
    assert_eq!(f.len(), 1, "{:?}", summary(&f));
    assert_eq!(f[0]["severity"], "warning", "{:#}", f[0]);
    let e = &f[0]["evidence"];
    assert!(e["reqq_full_do_cookies_rise"].as_u64().unwrap() > 0, "{e:#}");
    assert_eq!(e["reqq_full_drop_rise"], 0);
}

#[test]
fn handshakes_that_complete_leave_the_syn_queue_alone() {
    if !netns_prereqs() {
        return;
    }
    let s = common::python("syn_flood.py", &["--backlog", "8", "--healthy"]);
    let ns = netns_of(s.pid());
    let (report, _) = common::scan_json(&["--interval", "1s"]);
    assert!(about_netns(&report, "syn_queue_overflow", ns).is_empty());
    let alarms: Vec<&Value> =
        about_pids(&report, &[s.pid() as u64]).into_iter().filter(|f| f["severity"] != "info").collect();
    assert!(alarms.is_empty(), "{:?}", summary(&alarms));
}

fn conntrack_prereqs() -> bool {
    netns_prereqs()
        && common::require("iptables", std::process::Command::new("iptables").arg("-V").output().is_ok())
        && common::require(
            "nf_conntrack (net.netfilter.nf_conntrack_max)",
            std::path::Path::new("/proc/sys/net/netfilter/nf_conntrack_max").exists(),
        )
}

#[test]
fn a_full_conntrack_table_in_a_namespace() {
    if !conntrack_prereqs() {
        return;
    }
    let s = common::python("conntrack_fill.py", &[]);
    let ns = netns_of(s.pid());
    let report = common::scan_until(&["--interval", "1s"], Duration::from_secs(30), |r| {
        !about_netns(r, "conntrack_full", ns).is_empty()
    });
    let f = about_netns(&report, "conntrack_full", ns);
    assert_eq!(f.len(), 1, "{:?}", summary(&f));
    let e = &f[0]["evidence"];
    assert!(e["percent"].as_f64().unwrap() >= 99.0, "{e:#}");
    assert!(matches!(f[0]["severity"].as_str(), Some("warning" | "critical")), "{:#}", f[0]);
    assert!(e["early_drop_rise"].as_u64().unwrap() > 0, "new flows evict old ones: {e:#}");
}

#[test]
fn a_conntrack_table_at_half_is_silent() {
    if !conntrack_prereqs() {
        return;
    }
    let s = common::python("conntrack_fill.py", &["--fill-pct", "50"]);
    let ns = netns_of(s.pid());
    let (report, _) = common::scan_json(&["--interval", "1s"]);
    assert!(
        about_netns(&report, "conntrack_full", ns).is_empty(),
        "{:?}",
        summary(&common::findings(&report, "conntrack_full"))
    );
}

fn cgroup(controller: &str) -> Option<TestCgroup> {
    if !common::require("root (cgroups)", common::is_root()) {
        return None;
    }
    let cg = TestCgroup::new(controller);
    if !common::require(&format!("a {controller} cgroup ({:?})", cg.as_ref().err()), cg.is_ok()) {
        return None;
    }
    cg.ok()
}

/// Opens N connections that each send a request and wait.
fn hold_connections(port: u16, n: usize) -> Vec<std::net::TcpStream> {
    (0..n)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            c.write_all(b"GET\n").unwrap();
            c
        })
        .collect()
}

#[test]
fn a_forking_server_at_its_pids_max() {
    let Some(cg) = cgroup("pids") else { return };
    cg.set("pids.max", "5");
    let s = common::python("pids_server.py", &["--cgroup", cg.dir_str()]);
    let port = s.ready["port"].as_u64().unwrap() as u16;
    let _clients = hold_connections(port, 8);
    assert!(
        common::wait_until(Duration::from_secs(10), || cg.read("pids.current").trim() == "5"
            && !cg.read("pids.events").contains("max 0")),
        "the server never reached pids.max: current {}, events {}",
        cg.read("pids.current"),
        cg.read("pids.events")
    );
    let report = common::scan_until(&["--interval", "1s"], Duration::from_secs(30), |r| {
        about_pids(r, &[s.pid() as u64]).iter().any(|f| f["kind"] == "pid_limit")
    });
    let f: Vec<&Value> =
        about_pids(&report, &[s.pid() as u64]).into_iter().filter(|f| f["kind"] == "pid_limit").collect();
    assert_eq!(f.len(), 1, "{:?}", summary(&common::findings(&report, "pid_limit")));
    let f = f[0];
    assert_eq!(f["severity"], "critical", "forks failed during the interval: {f:#}");
    let e = &f["evidence"];
    assert_eq!(e["cgroup"], cg.path.as_str());
    assert_eq!((e["current"].as_u64(), e["max"].as_u64()), (Some(5), Some(5)));
    assert!(e["fork_failures"].as_u64().unwrap() > 0, "{e:#}");
    assert_eq!(f["container"]["cgroup"], cg.path.as_str(), "every finding names its cgroup: {f:#}");
    // The human report names the cgroup in the process header.
    let out = common::unwedge().args(["scan", "--interval", "0", "--pid", &s.pid().to_string()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("(pid {}) in cgroup {}", s.pid(), cg.path)), "{text}");
}

#[test]
fn a_cgroup_at_half_its_pids_max_is_silent() {
    let Some(cg) = cgroup("pids") else { return };
    cg.set("pids.max", "12");
    let s = common::python("pids_server.py", &["--cgroup", cg.dir_str()]);
    let port = s.ready["port"].as_u64().unwrap() as u16;
    let _clients = hold_connections(port, 4);
    assert!(common::wait_until(Duration::from_secs(10), || cg.read("pids.current").trim() == "6"));
    let (report, _) = common::scan_json(&["--interval", "1s"]);
    let mine: Vec<u64> = cg.read("cgroup.procs").lines().filter_map(|l| l.parse().ok()).collect();
    let f = about_pids(&report, &mine);
    assert!(f.iter().all(|f| f["kind"] != "pid_limit" && f["severity"] == "info"), "{:?}", summary(&f));
}

#[test]
fn a_server_throttled_by_a_five_percent_cpu_quota_under_load() {
    let Some(cg) = cgroup("cpu") else { return };
    if cg.v2 {
        cg.set("cpu.max", "5000 100000");
    } else {
        cg.set("cpu.cfs_period_us", "100000");
        cg.set("cpu.cfs_quota_us", "5000");
    }
    let s = common::python("cpu_server.py", &["--cgroup", cg.dir_str(), "--burn-ms", "20"]);
    let _load = Load::start(s.ready["port"].as_u64().unwrap() as u16, 8);
    let report = common::scan_until(&["--interval", "1s"], Duration::from_secs(30), |r| {
        about_pids(r, &[s.pid() as u64]).iter().any(|f| f["kind"] == "cpu_throttled" && f["severity"] == "warning")
    });
    let f: Vec<&Value> =
        about_pids(&report, &[s.pid() as u64]).into_iter().filter(|f| f["kind"] == "cpu_throttled").collect();
    assert_eq!(f.len(), 1, "{:?}", summary(&common::findings(&report, "cpu_throttled")));
    assert_eq!(f[0]["severity"], "warning", "{:#}", f[0]);
    let e = &f[0]["evidence"];
    assert_eq!((e["quota_us"].as_u64(), e["period_us"].as_u64()), (Some(5000), Some(100000)));
    assert!(e["nr_throttled_rise"].as_u64().unwrap() > 0);
    assert!(!e["waiting"].as_array().unwrap().is_empty(), "{e:#}");
    assert_eq!(e["cgroup"], cg.path.as_str());
}

#[test]
fn a_throttled_batch_job_nobody_waits_on_is_info() {
    let Some(cg) = cgroup("cpu") else { return };
    if cg.v2 {
        cg.set("cpu.max", "5000 100000");
    } else {
        cg.set("cpu.cfs_period_us", "100000");
        cg.set("cpu.cfs_quota_us", "5000");
    }
    let s = common::python("cpu_server.py", &["--cgroup", cg.dir_str(), "--batch"]);
    let report = common::scan_until(&["--interval", "1s"], Duration::from_secs(20), |r| {
        about_pids(r, &[s.pid() as u64]).iter().any(|f| f["kind"] == "cpu_throttled")
    });
    let f = about_pids(&report, &[s.pid() as u64]);
    assert!(f.iter().any(|f| f["kind"] == "cpu_throttled"), "the quota is named: {:?}", summary(&f));
    assert!(f.iter().all(|f| f["severity"] == "info"), "{:?}", summary(&f));
}

/// The memory cgroup, plus (on a hybrid host) a plain v2 one for PSI.
fn memory_cgroups() -> Option<(TestCgroup, Option<TestCgroup>)> {
    let cg = cgroup("memory")?;
    let psi = if cg.v2 { None } else { TestCgroup::new("").ok() };
    let limit = (128u64 << 20).to_string();
    cg.set(if cg.v2 { "memory.max" } else { "memory.limit_in_bytes" }, &limit);
    Some((cg, psi))
}

fn memory_args<'a>(cg: &'a TestCgroup, psi: &'a Option<TestCgroup>, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--cgroup", cg.dir_str()];
    if let Some(p) = psi {
        a.extend(["--cgroup", p.dir_str()]);
    }
    a.extend(extra);
    a
}

#[test]
fn a_server_stalled_in_reclaim_at_its_memory_limit() {
    let Some((cg, psi)) = memory_cgroups() else { return };
    let s = common::python("memory_server.py", &memory_args(&cg, &psi, &[]));
    let _load = Load::start(s.ready["port"].as_u64().unwrap() as u16, 6);
    let report = common::scan_until(&["--interval", "1s"], Duration::from_secs(30), |r| {
        about_pids(r, &[s.pid() as u64]).iter().any(|f| f["kind"] == "memory_pressure" && f["severity"] == "warning")
    });
    let f: Vec<&Value> =
        about_pids(&report, &[s.pid() as u64]).into_iter().filter(|f| f["kind"] == "memory_pressure").collect();
    assert_eq!(f.len(), 1, "{:?}", summary(&common::findings(&report, "memory_pressure")));
    assert_eq!(f[0]["severity"], "warning", "{:#}", f[0]);
    let e = &f[0]["evidence"];
    assert_eq!(e["cgroup"], cg.path.as_str());
    assert_eq!(e["limit"], 128u64 << 20);
    let hit = if cg.v2 { &e["events_max_rise"] } else { &e["failcnt_rise"] };
    assert!(hit.as_u64().unwrap() > 0, "the limit was hit during the interval: {e:#}");
    assert!(!e["waiting"].as_array().unwrap().is_empty(), "{e:#}");
    assert!(e["psi_source"].is_string(), "PSI (cgroup or host) is read: {e:#}");
}

#[test]
fn a_limited_job_reading_files_with_nobody_waiting_is_no_alarm() {
    let Some((cg, psi)) = memory_cgroups() else { return };
    let s = common::python("memory_server.py", &memory_args(&cg, &psi, &["--job"]));
    let (report, _) = common::scan_json(&["--interval", "1s"]);
    let f = about_pids(&report, &[s.pid() as u64]);
    assert!(f.iter().all(|f| f["severity"] == "info"), "{:?}", summary(&f));
}
