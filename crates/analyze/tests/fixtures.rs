//! Analysis of recorded snapshot pairs: the edge cases a live test cannot
//! stage reliably, and a pair recorded from the live scenarios.

use unwedge_analyze::{analyze, Thresholds};
use unwedge_model::{Finding, Scan, Severity};

fn load(name: &str) -> Scan {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(name: &str) -> Vec<Finding> {
    analyze(&load(name), &Thresholds::default()).findings
}

fn kinds(f: &[Finding]) -> Vec<(&str, Option<u32>, Option<u16>)> {
    f.iter().map(|f| (f.kind().name(), f.pid, f.port)).collect()
}

#[test]
fn ipv6_and_dual_stack() {
    let f = run("edge-ipv6-dual-stack.json");
    assert_eq!(kinds(&f), vec![("accept_stalled", Some(100), Some(8080)), ("close_wait_leak", Some(101), Some(9090))]);
    let stalled = &f[0];
    assert_eq!(ev(stalled)["waiting_whole_interval"], 2);
    assert_eq!(ev(stalled)["listen"], "[::]:8080");
    // IPv4 peers of a dual-stack listener are shown as IPv4.
    assert_eq!(ev(stalled)["waiting"][0]["peer"], "127.0.0.1:40000");
    let leak = &f[1];
    assert_eq!(ev(leak)["close_wait"], 10);
    assert_eq!(ev(leak)["peer_ports_in_ephemeral_range"], 10);
    assert_eq!(ev(leak)["never_read_to_eof"], 10);
}

#[test]
fn socket_shared_after_fork_is_one_finding_on_the_master() {
    let f = run("edge-shared-after-fork.json");
    assert_eq!(
        kinds(&f),
        vec![("accept_queue_overflow", Some(200), Some(7070)), ("close_wait_leak", Some(200), Some(7070))]
    );
    assert_eq!(ev(&f[0])["owners"], serde_json::json!([200, 201, 202]));
    assert_eq!(ev(&f[1])["shared_with"], serde_json::json!([201, 202]));
    assert_eq!(ev(&f[1])["read_eof_not_closed"], 12);
}

#[test]
fn kernel_orphans_have_no_owner_and_raise_nothing() {
    assert!(run("edge-kernel-orphans.json").is_empty());
}

#[test]
fn process_vanished_between_snapshots() {
    // The leaker is gone with its sockets; the newcomer's CLOSE-WAIT sockets
    // did not exist a second ago, so they are not (yet) a leak.
    assert!(run("edge-vanished-process.json").is_empty());
}

#[test]
fn busy_server_with_a_never_empty_queue_is_not_stalled() {
    assert!(run("edge-busy-healthy.json").is_empty());
}

#[test]
fn stalled_but_busy_is_not_keepalive_starvation_and_bursts_are_seen() {
    let f = run("edge-stalled-busy-and-burst.json");
    assert_eq!(kinds(&f), vec![("accept_stalled", Some(350), Some(3030)), ("accept_queue_overflow", None, None)]);
    assert_eq!(f[1].severity, Severity::Warning);
    assert_eq!(ev(&f[1])["listen_overflows_rise"], 15);
}

/// The one-slot keep-alive server's port in live-incidents.json.
const ONE_SLOT_PORT: u16 = 59261;

/// Gives the accepted connections on `port` the tcp_info byte counters a
/// kernel >= 4.19 reports (the recording predates reading them): `acked`
/// bytes of answer, 78 bytes of request.
fn with_counters(mut scan: Scan, port: u16, acked: u64) -> Scan {
    for snap in &mut scan.snapshots {
        for s in snap.sockets.iter_mut().filter(|s| s.local_port == port && s.inode != 0) {
            if let Some(i) = s.info.as_mut() {
                (i.bytes_acked, i.bytes_received, i.bytes_sent) = (Some(acked), Some(78), Some(acked));
            }
        }
    }
    scan
}

#[test]
fn recorded_live_incidents() {
    // Recorded with `unwedge scan --save-snapshot` while tests/scenarios'
    // one_slot_keepalive, never_accept, leaky_listener and healthy_keepalive
    // ran, before the collector read tcp_info's byte counters. The one-slot
    // server's connection has last_data_sent == last_data_recv (loopback:
    // same jiffy): that alone cannot tell an answered keep-alive from a
    // request never answered, so it is only accept_stalled.
    let f = run("live-incidents.json");
    let got: Vec<(&str, Option<u16>)> = f.iter().map(|f| (f.kind().name(), f.port)).collect();
    assert!(got.contains(&("accept_stalled", Some(ONE_SLOT_PORT))), "{got:?}");
    assert!(!got.iter().any(|(k, _)| *k == "keepalive_starvation"), "{got:?}");

    // With the counters a current kernel gives (the server answered 517 bytes), it is story 3.
    let scan = with_counters(load("live-incidents.json"), ONE_SLOT_PORT, 517);
    let f = analyze(&scan, &Thresholds::default()).findings;
    let got: Vec<&str> = f.iter().map(|f| f.kind().name()).collect();
    assert_eq!(
        got,
        vec!["keepalive_starvation", "accept_queue_overflow", "accept_stalled", "stuck_thread", "close_wait_leak"]
    );
    assert!(f.iter().all(|f| f.pid.is_some() && f.port.is_some()));
    assert!(f.iter().all(|f| f.pid != Some(10273)), "the healthy keep-alive server stays silent");
    assert_eq!(ev(&f[0])["slots_held_by_idle"], 1);
    assert_eq!(ev(&f[0])["idle_connections"][0]["bytes_acked"], 517);
    // Story 3's root cause seen from the thread: the one handler waits in recv on the idle keep-alive.
    assert_eq!(f[3].tid, Some(8933));
    assert_eq!(ev(&f[4])["close_wait"], 40);
}

#[test]
fn a_request_never_answered_is_not_keepalive_even_when_timestamps_tie() {
    // Issue 13's misnaming: the server never sent a byte (bytes_acked 0)
    // on a connection whose send and receive clocks tie.
    let scan = with_counters(load("live-incidents.json"), ONE_SLOT_PORT, 0);
    let f = analyze(&scan, &Thresholds::default()).findings;
    let on_port: Vec<&str> = f.iter().filter(|f| f.port == Some(ONE_SLOT_PORT)).map(|f| f.kind().name()).collect();
    assert!(on_port.contains(&"accept_stalled") && !on_port.contains(&"keepalive_starvation"), "{on_port:?}");
}

#[test]
fn one_snapshot_skips_two_snapshot_detectors() {
    let mut scan = load("live-incidents.json");
    scan.snapshots.remove(0);
    let a = analyze(&scan, &Thresholds::default());
    let got: Vec<&str> = a.findings.iter().map(|f| f.kind().name()).collect();
    assert_eq!(got, vec!["accept_queue_overflow", "close_wait_leak"]);
    assert!(a.notes.iter().any(|n| n.contains("accept_stalled")));
}

#[test]
fn every_finding_is_complete() {
    for name in ["live-incidents.json", "edge-ipv6-dual-stack.json", "edge-shared-after-fork.json"] {
        for f in run(name) {
            assert!(!f.title.is_empty() && !f.explanation.is_empty() && !f.fix.is_empty(), "{f:?}");
            assert!(ev(&f).is_object(), "{f:?}");
            assert!(f.comm.is_some() || f.pid.is_none());
        }
    }
}

#[test]
fn empty_scan_is_not_a_panic() {
    let a = analyze(&Scan::default(), &Thresholds::default());
    assert!(a.findings.is_empty());
}

#[test]
fn one_snapshot_counts_only_close_wait_older_than_idle() {
    // The newcomer's CLOSE-WAIT sockets last heard from their peer 5 s ago.
    let mut scan = load("edge-vanished-process.json");
    scan.snapshots.remove(0);
    let f = analyze(&scan, &Thresholds::default()).findings;
    assert_eq!(kinds(&f), vec![("close_wait_leak", Some(401), Some(5151))]);
    let fresh = Thresholds { idle_ms: 10_000, ..Thresholds::default() };
    assert!(analyze(&scan, &fresh).findings.is_empty(), "a FIN that just arrived is not a leak yet");
}

#[test]
fn a_handler_that_never_answered_is_stalled_not_keepalive_starvation() {
    // The recorded one-slot server, but its accepted connection's last data
    // came from the client (a request read and never answered): not an idle
    // keep-alive, so plain accept_stalled.
    let mut scan = with_counters(load("live-incidents.json"), ONE_SLOT_PORT, 517);
    let port = analyze(&scan, &Thresholds::default())
        .findings
        .iter()
        .find(|f| f.kind() == "keepalive_starvation")
        .and_then(|f| f.port)
        .expect("the recording has story 3");
    let mut changed = 0;
    for snap in &mut scan.snapshots {
        for s in snap.sockets.iter_mut().filter(|s| s.local_port == port && s.inode != 0) {
            if let Some(i) = s.info.as_mut().filter(|_| s.state == unwedge_model::TcpState::Established) {
                (i.last_data_recv_ms, i.last_data_sent_ms) =
                    (i.last_data_recv_ms.min(i.last_data_sent_ms), i.last_data_recv_ms.max(i.last_data_sent_ms) + 500);
                changed += 1;
            }
        }
    }
    assert!(changed > 0);
    let f = analyze(&scan, &Thresholds::default()).findings;
    let on_port: Vec<&str> = f.iter().filter(|f| f.port == Some(port)).map(|f| f.kind().name()).collect();
    assert!(on_port.contains(&"accept_stalled") && !on_port.contains(&"keepalive_starvation"), "{on_port:?}");
}

/// The evidence as the JSON contract prints it: these tests check the wire names.
fn ev(f: &unwedge_model::Finding) -> serde_json::Value {
    serde_json::to_value(&f.evidence).unwrap()
}

// ---- Issue 13: the incidents recorded from real servers (record.py incident).

fn analysed(name: &str) -> unwedge_analyze::Analysis {
    analyze(&load(name), &Thresholds::default())
}

fn of<'a>(f: &'a [Finding], kind: &str) -> Vec<&'a Finding> {
    f.iter().filter(|f| f.kind() == kind).collect()
}

/// The pids of a recorded process's children.
fn children(scan: &Scan, pid: u32) -> Vec<u32> {
    scan.snapshots.last().unwrap().processes.iter().filter(|p| p.ppid == pid).map(|p| p.pid).collect()
}

fn master_of(scan: &Scan, comm: &str) -> u32 {
    let procs = &scan.snapshots.last().unwrap().processes;
    procs.iter().find(|p| p.comm == comm && procs.iter().all(|q| q.pid != p.ppid || q.comm != comm)).unwrap().pid
}

#[test]
fn nginx_at_its_fd_limit_is_the_cause_and_not_keepalive() {
    let scan = load("incident-nginx-fd-limit.json");
    let worker = children(&scan, master_of(&scan, "nginx"))[0];
    let f = analysed("incident-nginx-fd-limit.json").findings;
    assert!(of(&f, "keepalive_starvation").is_empty(), "{:?}", kinds(&f));
    let fd = of(&f, "fd_exhaustion");
    assert_eq!((fd.len(), fd[0].pid), (1, Some(worker)));
    let stall = of(&f, "accept_stalled");
    assert_eq!(stall[0].pid, Some(worker), "the accepting worker, not the master");
    assert_eq!(stall[0].caused_by, vec![fd[0].id.clone()]);
    assert!(!stall[0].explanation.contains("Typical causes") && stall[0].explanation.contains("EMFILE"));
}

#[test]
fn one_gunicorn_worker_busy_with_a_slow_request_is_not_keepalive() {
    let scan = load("incident-gunicorn-slow-request.json");
    let worker = children(&scan, master_of(&scan, "gunicorn"))[0];
    let f = analysed("incident-gunicorn-slow-request.json").findings;
    assert!(of(&f, "keepalive_starvation").is_empty(), "{:?}", kinds(&f));
    let stall = of(&f, "accept_stalled");
    assert_eq!(stall[0].pid, Some(worker));
    assert!(stall[0].explanation.contains("has not answered"), "{}", stall[0].explanation);
    for o in of(&f, "accept_queue_overflow") {
        assert_eq!(o.caused_by, vec![stall[0].id.clone()]);
    }
}

#[test]
fn six_piled_up_workers_are_one_group() {
    let a = analysed("incident-forking-proxy-pileup.json");
    assert_eq!(a.groups.len(), 1, "{:?}", a.groups);
    let g = &a.groups[0];
    assert_eq!((g.kind.name(), g.pids.len(), g.program.as_str()), ("stuck_thread", 6, "forking_proxy.py"));
    assert!(g.title.contains("piled up") && g.title.contains("idle keep-alive upstream"), "{}", g.title);
    assert_eq!(g.ages_s.len(), 6);
    assert!(a.findings.iter().filter(|f| f.kind() == "stuck_thread").all(|f| f.group.as_deref() == Some("g1")));
    assert!(a.findings.iter().any(|f| f.id == g.representative));
}

#[test]
fn stopped_nginx_is_one_finding_for_the_whole_group_and_causes_the_stall() {
    let scan = load("incident-nginx-ctrl-z.json");
    let master = master_of(&scan, "nginx");
    let f = analysed("incident-nginx-ctrl-z.json").findings;
    let stopped = of(&f, "process_stopped");
    assert_eq!((stopped.len(), stopped[0].pid), (1, Some(master)));
    let unwedge_model::Evidence::ProcessStopped(e) = &stopped[0].evidence else { unreachable!() };
    let mut also = e.also_stopped.clone();
    also.sort();
    let mut workers = children(&scan, master);
    workers.sort();
    assert_eq!(also, workers);
    for s in of(&f, "accept_stalled") {
        assert_eq!(s.caused_by, vec![stopped[0].id.clone()]);
    }
}

#[test]
fn a_debugger_holding_a_server_is_named() {
    let f = analysed("incident-gdb-held.json").findings;
    let stopped = of(&f, "process_stopped");
    assert_eq!(stopped.len(), 1, "{:?}", kinds(&f));
    assert_eq!(ev(stopped[0])["stopped_by"], "tracer");
    assert_eq!(ev(stopped[0])["tracer"]["comm"], "gdb");
    assert!(stopped[0].title.starts_with("gdb (pid "), "{}", stopped[0].title);
    assert!(f.iter().filter(|x| x.kind() != "process_stopped").all(|x| x.caused_by == vec![stopped[0].id.clone()]));
}

#[test]
fn a_frozen_cgroup_is_named_with_the_file_that_thaws_it() {
    let f = analysed("incident-frozen-cgroup-v1.json").findings;
    let stopped = of(&f, "process_stopped");
    assert_eq!(stopped.len(), 1, "{:?}", kinds(&f));
    assert_eq!(ev(stopped[0])["freezer"]["version"], 1);
    assert!(stopped[0].fix.contains("echo THAWED > /sys/fs/cgroup/freezer/unwedge-record/freezer.state"));
    assert!(f.iter().filter(|x| x.kind() != "process_stopped").all(|x| x.caused_by == vec![stopped[0].id.clone()]));
}

#[test]
fn links_form_no_cycle_and_groups_have_two_processes_or_more() {
    for name in [
        "live-incidents.json",
        "edge-shared-after-fork.json",
        "incident-nginx-fd-limit.json",
        "incident-gunicorn-slow-request.json",
        "incident-forking-proxy-pileup.json",
        "incident-nginx-ctrl-z.json",
        "incident-gdb-held.json",
        "incident-frozen-cgroup-v1.json",
        "incident-jvm-deadlock.json",
        "incident-python-pool-leak.json",
    ] {
        let a = analysed(name);
        let by_id: std::collections::HashMap<&str, &Finding> = a.findings.iter().map(|f| (f.id.as_str(), f)).collect();
        for f in &a.findings {
            // Walk the causes: never back to the start, every id exists.
            let mut seen = vec![f.id.as_str()];
            let mut todo: Vec<&str> = f.caused_by.iter().map(String::as_str).collect();
            while let Some(id) = todo.pop() {
                assert!(!seen.contains(&id), "{name}: cycle through {id}");
                seen.push(id);
                todo.extend(by_id[id].caused_by.iter().map(String::as_str));
            }
        }
        for g in &a.groups {
            assert!(g.pids.len() >= 2, "{name}: {g:?}");
        }
    }
}

/// Every recorded pair under tests/fixtures (edge cases, live incidents) and
/// src/kinds (one bad and one healthy pair per kind).
fn every_pair() -> Vec<(String, Scan)> {
    let dir = |d: &str| std::path::PathBuf::from(format!("{}/{d}", env!("CARGO_MANIFEST_DIR")));
    let mut dirs = vec![dir("tests/fixtures"), dir("src/kinds")];
    let mut out = Vec::new();
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read(&path).unwrap();
                if let Ok(scan) = serde_json::from_slice::<Scan>(&text) {
                    if scan.snapshots.len() == 2 {
                        out.push((path.display().to_string(), scan));
                    }
                }
            }
        }
    }
    out
}

/// A live scan drops from its first snapshot what no detector compares
/// (`keep_for_comparison`) before taking the second: the findings must be
/// exactly those of the whole pair.
#[test]
fn the_first_snapshot_trimmed_for_comparison_gives_the_same_findings() {
    let pairs = every_pair();
    assert!(pairs.len() >= 20, "only {} recorded pairs found", pairs.len());
    let json = |s: &Scan| {
        let a = analyze(s, &Thresholds::default());
        (serde_json::to_value(&a.findings).unwrap(), serde_json::to_value(&a.groups).unwrap())
    };
    for (name, scan) in pairs {
        let mut trimmed = scan.clone();
        unwedge_analyze::keep_for_comparison(&mut trimmed.snapshots[0]);
        assert!(trimmed.snapshots[0].sockets.len() <= scan.snapshots[0].sockets.len());
        assert_eq!(json(&scan), json(&trimmed), "{name}");
    }
}
