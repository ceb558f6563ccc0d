//! busy_thread and cpu_starved on small scans built here: one process
//! whose queue stalls while its thread runs, waits for a CPU, or sleeps;
//! their twins (nobody waits, the thread is throttled, its own threads
//! take its CPUs); and the links that tell the stall beneath its cause.
//! The recorded pairs (src/kinds/*/bad.json, healthy.json) are the live
//! counterparts.

use std::net::IpAddr;
use unwedge_analyze::{analyze, Thresholds};
use unwedge_model::{
    CgroupDir, CgroupEntry, CgroupSet, Cgroups, CpuProfile, CpuStat, Evidence, Finding, Frame, HotStack, Process, Psi,
    Scan, SchedStat, Snapshot, Socket, SocketFd, TcpInfo, TcpState, Thread,
};

const SERVER: u32 = 100;
const PORT: u16 = 8080;
const LISTENER: u64 = 5000;

fn lo() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn listener(queued: u32) -> Socket {
    Socket {
        netns: 1,
        state: TcpState::Listen,
        local: lo(),
        local_port: PORT,
        remote: "0.0.0.0".parse().unwrap(),
        remote_port: 0,
        recv_q: queued,
        send_q: 128,
        inode: LISTENER,
        uid: 0,
        info: None,
        drops: None,
    }
}

/// A connection completed and waiting in the accept queue.
fn queued(peer_port: u16) -> Socket {
    Socket {
        state: TcpState::Established,
        remote: lo(),
        remote_port: peer_port,
        recv_q: 3,
        send_q: 0,
        inode: 0,
        info: Some(TcpInfo { last_data_recv_ms: 4000, ..Default::default() }),
        ..listener(0)
    }
}

/// An accepted connection (inode `inode`, the client's port `peer_port`):
/// bytes received and sent, and ms since the last of each.
fn conn(peer_port: u16, inode: u64, bytes: (u64, u64), ago_ms: (u32, u32)) -> Socket {
    Socket {
        state: TcpState::Established,
        remote: lo(),
        remote_port: peer_port,
        recv_q: 0,
        send_q: 0,
        inode,
        info: Some(TcpInfo {
            bytes_received: Some(bytes.0),
            bytes_sent: Some(bytes.1),
            bytes_acked: Some(bytes.1),
            last_data_recv_ms: ago_ms.0,
            last_data_sent_ms: ago_ms.1,
            data_segs_in: Some(1),
            data_segs_out: Some(u32::from(bytes.1 > 0)),
            ..Default::default()
        }),
        ..listener(0)
    }
}

/// A request read 12 s before the first snapshot and never answered (a
/// BLPOP on an empty list, a long poll, or work its thread has no CPU for).
fn parked(peer_port: u16, inode: u64) -> (Socket, Socket) {
    (conn(peer_port, inode, (80, 0), (12_000, 12_000)), conn(peer_port, inode, (80, 0), (13_000, 13_000)))
}

/// A client asking and getting answers all along (redis-benchmark).
fn answered(peer_port: u16, inode: u64) -> (Socket, Socket) {
    (conn(peer_port, inode, (1_000, 5_000), (5, 4)), conn(peer_port, inode, (2_000, 10_000), (3, 2)))
}

/// How a thread spent the interval: on a CPU, waiting for one (ns).
struct Spent {
    run: u64,
    wait: u64,
}

fn thread(tid: u32, comm: &str, state: char, sched: (u64, u64)) -> Thread {
    Thread {
        tid,
        comm: comm.into(),
        state,
        utime: sched.0 / 10_000_000,
        schedstat: Some(SchedStat { run_ns: sched.0, wait_ns: sched.1, slices: 1 }),
        ..Default::default()
    }
}

fn server(comm: &str, threads: Vec<Thread>, ticks: u64) -> Process {
    Process {
        pid: SERVER,
        ppid: 1,
        comm: comm.into(),
        cmdline: format!("{comm} server.js"),
        state: 'R',
        start_ticks: 10,
        netns: 1,
        sockets: vec![SocketFd { fd: 3, inode: LISTENER }],
        threads,
        cpu_ticks_total: Some(ticks),
        cgroup: Some(0),
        ..Default::default()
    }
}

fn hog(pid: u32, ticks: u64, cpus: Option<&str>) -> Process {
    Process {
        pid,
        ppid: 1,
        comm: "spin".into(),
        state: 'R',
        start_ticks: 20,
        brief: true,
        threads: vec![Thread { tid: pid, comm: "spin".into(), state: 'R', utime: ticks, ..Default::default() }],
        cpu_ticks_total: Some(ticks),
        cpus_allowed: cpus.map(String::from),
        cgroup: Some(1),
        ..Default::default()
    }
}

fn cgroups(throttled: u64) -> Cgroups {
    let set = |id, path: &str| CgroupSet {
        id,
        entries: vec![
            CgroupEntry { controllers: "cpu,cpuacct".into(), path: path.into() },
            CgroupEntry { controllers: String::new(), path: path.into() },
        ],
    };
    Cgroups {
        sets: vec![set(0, "/web"), set(1, "/batch")],
        dirs: vec![
            CgroupDir {
                controllers: "cpu,cpuacct".into(),
                path: "/web".into(),
                cpu: Some(CpuStat {
                    quota_us: Some(50_000),
                    period_us: 100_000,
                    nr_periods: 10 + throttled,
                    nr_throttled: throttled,
                    throttled_us: throttled * 50_000,
                }),
                ..Default::default()
            },
            CgroupDir {
                controllers: String::new(),
                path: "/web".into(),
                cpu_pressure: Some(Psi { some_total_us: throttled * 1000, ..Default::default() }),
                ..Default::default()
            },
        ],
        names: Vec::new(),
    }
}

/// A scan of `server` (its threads as given at the start and after one
/// second) and any hogs, its listener holding two connections queued in
/// both snapshots (or none).
struct Case {
    comm: &'static str,
    /// (tid, name, state, before, after) per thread.
    threads: Vec<(u32, &'static str, char, Spent)>,
    server_ticks: u64,
    hogs: Vec<(u32, u64, Option<&'static str>)>,
    stalled: bool,
    throttled: bool,
    cpus_allowed: Option<&'static str>,
    /// Accepted connections it holds: (before, after).
    conns: Vec<(Socket, Socket)>,
}

impl Case {
    fn scan(&self) -> Scan {
        let snap = |at: f64, after: bool| {
            let threads = self
                .threads
                .iter()
                .map(|(tid, name, state, s)| {
                    let sched =
                        if after { (1_000_000_000 + s.run, 50_000_000 + s.wait) } else { (1_000_000_000, 50_000_000) };
                    thread(*tid, name, *state, sched)
                })
                .collect();
            let mut p = server(self.comm, threads, if after { 100 + self.server_ticks } else { 100 });
            p.cpus_allowed = self.cpus_allowed.map(String::from);
            let conns: Vec<Socket> =
                self.conns.iter().map(|(b, a)| if after { a.clone() } else { b.clone() }).collect();
            p.sockets.extend(conns.iter().enumerate().map(|(i, c)| SocketFd { fd: 10 + i as u32, inode: c.inode }));
            let mut processes = vec![p];
            for &(pid, ticks, cpus) in &self.hogs {
                processes.push(hog(pid, if after { 500 + ticks } else { 500 }, cpus));
            }
            let mut sockets = vec![listener(if self.stalled { 2 } else { 0 })];
            if self.stalled {
                sockets.extend([queued(40001), queued(40002)]);
            }
            sockets.extend(conns);
            Snapshot {
                taken_at_ms: (1_000_000.0 + at * 1000.0) as u64,
                uptime_s: 5000.0 + at,
                clk_tck: 100,
                hostname: "h".into(),
                arch: "x86_64".into(),
                host_netns: 1,
                sockets,
                processes,
                online_cpus: Some(2),
                cpu_pressure: Some(Psi { some_total_us: if after { 900_000 } else { 0 }, ..Default::default() }),
                cgroups: cgroups(if self.throttled && after { 8 } else { 0 }),
                ..Default::default()
            }
        };
        Scan { snapshots: vec![snap(0.0, false), snap(1.0, true)] }
    }

    fn findings(&self) -> Vec<Finding> {
        analyze(&self.scan(), &Thresholds::default()).findings
    }
}

fn kinds(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.kind().name()).collect()
}

fn node_busy() -> Case {
    Case {
        comm: "node",
        threads: vec![
            (SERVER, "node", 'R', Spent { run: 980_000_000, wait: 10_000_000 }),
            (SERVER + 1, "node", 'S', Spent { run: 1_000_000, wait: 0 }),
        ],
        server_ticks: 98,
        hogs: Vec::new(),
        stalled: true,
        throttled: false,
        cpus_allowed: None,
        conns: Vec::new(),
    }
}

fn starved() -> Case {
    Case {
        comm: "python3",
        threads: vec![(SERVER, "python3", 'R', Spent { run: 140_000_000, wait: 800_000_000 })],
        server_ticks: 14,
        hogs: vec![(200, 14, Some("1")), (201, 14, Some("1")), (202, 13, Some("1")), (203, 2, Some("0"))],
        stalled: true,
        throttled: false,
        cpus_allowed: Some("1"),
        conns: Vec::new(),
    }
}

#[test]
fn a_busy_event_loop_is_named_and_its_stall_told_beneath() {
    let f = node_busy().findings();
    assert_eq!(kinds(&f), ["accept_stalled", "busy_thread"]);
    let busy = f.iter().find(|f| f.kind().name() == "busy_thread").unwrap();
    let stall = f.iter().find(|f| f.kind().name() == "accept_stalled").unwrap();
    assert_eq!(stall.caused_by, std::slice::from_ref(&busy.id), "the stall is told beneath its cause");
    assert_eq!((busy.pid, busy.tid, busy.port), (Some(SERVER), Some(SERVER), Some(PORT)));
    let Evidence::BusyThread(e) = &busy.evidence else { unreachable!() };
    assert_eq!(e.busy_threads, 1);
    assert_eq!(e.threads[0].role.as_deref(), Some("the event loop"));
    assert_eq!((e.threads[0].running_pct, e.threads[0].waiting_pct), (98.0, Some(1.0)));
    assert_eq!((e.waiting.queued, e.waiting.stalled_listeners.as_slice()), (2, &["127.0.0.1:8080".to_string()][..]));
    assert!(busy.title.contains("the event loop (thread 100) ran on a CPU 98%"), "{}", busy.title);
    assert!(busy.explanation.contains("CPU-bound JavaScript blocks every other request"), "{}", busy.explanation);
    assert!(busy.fix.contains("--perf-basic-prof"), "{}", busy.fix);
}

#[test]
fn where_it_burns_comes_from_its_samples() {
    let mut scan = node_busy().scan();
    let f = |n: Option<&str>, m: &str| Frame {
        addr: "0x1".into(),
        function: n.map(String::from),
        module: Some(m.into()),
        ..Default::default()
    };
    let profile = CpuProfile {
        window_ms: 500,
        hz: 199,
        samples: 99,
        unnamed_jit: 0,
        ran_ms: Some(500),
        waited_ms: Some(0),
        stacks: vec![HotStack {
            count: 99,
            frames: vec![
                f(Some("RegExp:(a+)+$"), "/tmp/perf-100.map"),
                f(Some("Builtins_RegExpPrototypeTest"), "/usr/bin/node"),
                f(Some("main"), "/usr/bin/node"),
            ],
        }],
        ..Default::default()
    };
    scan.snapshots[1].processes[0].threads[0].cpu_profile = Some(profile);
    let busy = analyze(&scan, &Thresholds::default()).findings.into_iter().find(|f| f.tid == Some(SERVER)).unwrap();
    assert!(
        busy.explanation.contains("it ran in RegExp:(a+)+$ ← Builtins_RegExpPrototypeTest ← main (100%)"),
        "{}",
        busy.explanation
    );
    assert!(busy.fix.starts_with("The hottest code is the regular expression /(a+)+$/"), "{}", busy.fix);
    // Without the perf map, the builtin that runs it.
    let frames = &mut match &mut scan.snapshots[1].processes[0].threads[0].cpu_profile {
        Some(p) => p,
        None => unreachable!(),
    }
    .stacks[0]
        .frames;
    frames[0] = f(None, "[jit]");
    let busy = analyze(&scan, &Thresholds::default()).findings.into_iter().find(|f| f.tid == Some(SERVER)).unwrap();
    assert!(
        busy.fix.starts_with("The hottest samples run a regular expression (RegExp.prototype.test;"),
        "{}",
        busy.fix
    );
}

#[test]
fn a_busy_thread_nobody_waits_on_is_silent() {
    let mut c = node_busy();
    c.stalled = false;
    assert!(c.findings().is_empty(), "a batch of work that answers, or a batch job");
}

#[test]
fn a_sleeping_thread_behind_a_stalled_queue_is_neither() {
    let mut c = node_busy();
    c.threads = vec![(SERVER, "node", 'S', Spent { run: 1_000_000, wait: 0 })];
    assert_eq!(kinds(&c.findings()), ["accept_stalled"]);
}

#[test]
fn a_starved_worker_is_starved_not_busy_and_the_hogs_are_named() {
    let f = starved().findings();
    assert_eq!(kinds(&f), ["accept_stalled", "cpu_starved"], "never busy_thread");
    let s = &f[1];
    assert_eq!(f[0].caused_by, std::slice::from_ref(&s.id));
    let Evidence::CpuStarved(e) = &s.evidence else { unreachable!() };
    assert_eq!(e.scope, unwedge_model::evidence::CpuScope::AllowedCpus);
    assert_eq!((e.cpus_allowed.as_deref(), e.cpus), (Some("1"), Some(1)));
    let pids: Vec<u32> = e.took_cpus.iter().map(|t| t.pid).collect();
    assert_eq!(pids, [200, 201, 202], "those allowed on CPU 1, over 5 % of it; not the one on CPU 0");
    assert_eq!(e.took_cpus[0].cgroup.as_deref(), Some("/batch"));
    assert!((e.taken_cpus - 0.41).abs() < 1e-9, "{}", e.taken_cpus);
    assert_eq!(e.host_pressure_pct, Some(90.0));
    assert!(s.title.contains("got a CPU 14% of the 1.0 s and waited for one 80%"), "{}", s.title);
    assert!(s.explanation.contains("3 × spin (pids 200, 201, 202) 0.41 CPU in /batch"), "{}", s.explanation);
    assert!(s.fix.contains("taskset"), "{}", s.fix);
}

#[test]
fn starvation_by_a_quota_is_cpu_throttled_s() {
    let mut c = starved();
    c.throttled = true;
    let f = c.findings();
    assert!(!kinds(&f).contains(&"cpu_starved"), "{:?}", kinds(&f));
    assert!(kinds(&f).contains(&"cpu_throttled"), "{:?}", kinds(&f));
}

#[test]
fn threads_that_share_their_own_cpus_are_busy_together() {
    // Four spinning threads on the two CPUs: each waits more than it runs,
    // for its siblings, not for another process.
    let mut c = node_busy();
    c.comm = "worker";
    c.threads = (0..4).map(|i| (SERVER + i, "worker", 'R', Spent { run: 480_000_000, wait: 500_000_000 })).collect();
    c.server_ticks = 192;
    let f = c.findings();
    assert_eq!(kinds(&f), ["accept_stalled", "busy_thread"]);
    let Evidence::BusyThread(e) = &f[1].evidence else { unreachable!() };
    assert_eq!(e.busy_threads, 4);
    assert!(f[1].title.contains("4 threads ran on a CPU the whole 1.0 s"), "{}", f[1].title);
}

#[test]
fn a_starved_worker_nobody_waits_on_is_silent() {
    let mut c = starved();
    c.stalled = false;
    assert!(c.findings().is_empty());
}

#[test]
fn a_starved_worker_holding_requests_it_read_and_answering_nobody_is_starved() {
    let mut c = starved();
    c.stalled = false;
    c.conns = vec![parked(41001, 7001), parked(41002, 7002)];
    let f = c.findings();
    let s = f.iter().find(|f| f.kind().name() == "cpu_starved").unwrap_or_else(|| panic!("{:?}", kinds(&f)));
    let Evidence::CpuStarved(e) = &s.evidence else { unreachable!() };
    assert_eq!((e.waiting.queued, e.waiting.unanswered, e.waiting.oldest_unanswered_ms), (0, 2, Some(13_000)));
    assert!(s.title.contains("while 2 requests it read went unanswered (the oldest for 13.0 s)"), "{}", s.title);
}

#[test]
fn requests_held_while_others_are_answered_are_not_starved_work() {
    // Redis starved of its CPU answers redis-benchmark, slowly, while
    // clients in BLPOP wait by design: it had a CPU for the answers it sent.
    let mut c = starved();
    c.stalled = false;
    c.conns = vec![parked(41001, 7001), parked(41002, 7002), answered(41003, 7003)];
    let f = c.findings();
    assert!(!kinds(&f).contains(&"cpu_starved") && !kinds(&f).contains(&"busy_thread"), "{:?}", kinds(&f));
    // A connection answered before the interval and idle since is no answer during it.
    let idle = conn(41003, 7003, (2_000, 10_000), (6_000, 6_000));
    c.conns[2] = (idle.clone(), idle);
    assert!(kinds(&c.findings()).contains(&"cpu_starved"), "{:?}", kinds(&c.findings()));
}

#[test]
fn a_stalled_queue_is_starved_work_and_held_requests_are_left_out_of_its_words() {
    let mut c = starved();
    c.conns = vec![parked(41001, 7001), parked(41002, 7002), answered(41003, 7003)];
    let f = c.findings();
    let s = f.iter().find(|f| f.kind().name() == "cpu_starved").unwrap_or_else(|| panic!("{:?}", kinds(&f)));
    let Evidence::CpuStarved(e) = &s.evidence else { unreachable!() };
    assert_eq!((e.waiting.queued, e.waiting.unanswered, e.waiting.oldest_unanswered_ms), (2, 0, None));
    let words = format!("{}\n{}", s.title, s.explanation);
    assert!(words.contains("2 connections waited on 127.0.0.1:8080 without being accepted"), "{words}");
    assert!(!words.contains("unanswered"), "{words}");
}

/// Recorded live (crates/analyze/tools/record.py
/// incident/redis-blpop-starved): Redis on one CPU among a dozen CPU hogs,
/// redis-benchmark served meanwhile, ten clients in BLPOP on empty lists
/// since 14 s. cpu_starved once told "10 requests it read went unanswered"
/// as work the starvation left waiting: they wait by design.
#[test]
fn redis_starved_while_blpop_clients_wait_by_design_raises_nothing() {
    let path = format!("{}/tests/fixtures/incident-redis-blpop-starved.json", env!("CARGO_MANIFEST_DIR"));
    let scan: Scan = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let (first, last) = (&scan.snapshots[0], &scan.snapshots[1]);
    let redis = last.processes.iter().find(|p| p.comm == "redis-server").expect("redis-server");
    // What the recording must show for the twin to mean anything: its one
    // thread starved, and the ten BLPOP requests read and unanswered.
    let u = unwedge_model::cpu::thread_cpu(first, last, redis.pid, redis.pid).unwrap();
    assert_eq!(u.state(), unwedge_model::cpu::CpuState::Starved, "{u:?}");
    let held: Vec<u64> = redis.sockets.iter().map(|s| s.inode).collect();
    let parked = last
        .sockets
        .iter()
        .filter(|s| held.contains(&s.inode) && unwedge_analyze::facts::requests::awaits_answer(s))
        .filter(|s| s.info.is_some_and(|i| i.last_data_recv_ms >= Thresholds::default().answer_timeout_ms))
        .count();
    assert_eq!(parked, 10);
    let f = analyze(&scan, &Thresholds::default()).findings;
    let loud: Vec<String> = f
        .iter()
        .filter(|f| matches!(f.kind().name(), "cpu_starved" | "busy_thread") || f.severity.is_alarm())
        .map(|f| f.title.clone())
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
}
