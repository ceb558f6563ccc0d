//! Analysis from the raw /proc text captured during the live incidents
//! (tests/fixtures/captures, each file saying how it was captured): parsed with
//! the collector's own parsers, analysed by the real detectors. Each
//! capture is used as both snapshots of a scan, one second apart: the state
//! the engineers saw, held for the interval.

use std::net::IpAddr;
use unwedge_analyze::{analyze, Thresholds};
use unwedge_collect::parse;
use unwedge_model::{
    AnonFd, FdTarget, Finding, Process, Scan, Snapshot, Socket, SocketFd, SyscallLine, TcpInfo, TcpState, Thread,
};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines under `header` up to the next `--- ` or `### ` header.
fn block<'a>(lines: &[&'a str], header: &str) -> Vec<&'a str> {
    let Some(start) = lines.iter().position(|l| *l == header) else { return Vec::new() };
    lines[start + 1..].iter().take_while(|l| !l.starts_with("--- ") && !l.starts_with("### ")).copied().collect()
}

/// A task's `[name]` subsection.
fn sub(lines: &[&str], name: &str) -> String {
    let Some(start) = lines.iter().position(|l| *l == format!("[{name}]")) else { return String::new() };
    let body: Vec<&str> =
        lines[start + 1..].iter().take_while(|l| !l.starts_with('[') || l.starts_with("[<")).copied().collect();
    body.join("\n")
}

fn process(section: &str) -> Process {
    let lines: Vec<&str> = section.lines().collect();
    let stat_text = block(&lines, "--- /proc/PID/stat").join("\n");
    let st = parse::stat::parse(stat_text.trim().as_bytes()).expect("stat");
    let mut p = Process {
        pid: st.pid,
        ppid: st.ppid,
        pgid: st.pgrp,
        sid: st.session,
        comm: st.comm,
        state: st.state,
        start_ticks: st.starttime,
        cmdline: block(&lines, "--- /proc/PID/cmdline").join(" ").trim().to_string(),
        ..Default::default()
    };
    let mut links = Vec::new();
    for l in block(&lines, "--- fd links") {
        let Some((fd, target)) = l.split_once(" -> ") else { continue };
        let fd: u32 = fd.trim().parse().unwrap();
        p.fd_count += 1;
        links.push(FdTarget { fd, target: target.to_string(), mnt_id: None });
        match parse::fd::classify(target.as_bytes()) {
            parse::fd::Target::Socket(inode) => p.sockets.push(SocketFd { fd, inode }),
            parse::fd::Target::Anon(kind) => {
                p.anon_fds.push(AnonFd { fd, kind: String::from_utf8_lossy(kind).into_owned(), sigmask: None })
            }
            parse::fd::Target::Pipe(inode) => p.pipes.push(unwedge_model::PipeFd { fd, inode, writes: None }),
            parse::fd::Target::FuseDev => p.fuse_devs.push(unwedge_model::FuseDevFd { fd, connection: None }),
            parse::fd::Target::Other => {}
        }
    }
    for (i, _) in lines.iter().enumerate().filter(|(_, l)| l.starts_with("--- task ")) {
        let task: Vec<&str> =
            lines[i + 1..].iter().take_while(|l| !l.starts_with("--- ") && !l.starts_with("### ")).copied().collect();
        let ts = parse::stat::parse(sub(&task, "stat").trim().as_bytes()).expect("task stat");
        let status = parse::status::parse(sub(&task, "status").as_bytes());
        let wchan = sub(&task, "wchan").trim().to_string();
        let syscall = sub(&task, "syscall").trim().to_string();
        // As the collector does: the targets of the first three arguments that are open fds.
        let fd_args = SyscallLine::parse(&syscall)
            .map(|c| links.iter().filter(|l| c.args[..3].contains(&(l.fd as u64))).cloned().collect())
            .unwrap_or_default();
        p.threads.push(Thread {
            tid: ts.pid,
            comm: ts.comm,
            state: ts.state,
            utime: ts.utime,
            stime: ts.stime,
            ctxt_switches: status.ctxt_switches,
            signals: status.signals,
            wchan: (!wchan.is_empty() && wchan != "0").then_some(wchan),
            syscall: (!syscall.is_empty()).then_some(syscall),
            stack: Some(parse::stack::parse(sub(&task, "stack").as_bytes())),
            fd_args,
            user_stack: None,
            ..Default::default()
        });
    }
    p
}

fn snapshot(text: &str, sockets: Vec<Socket>) -> Snapshot {
    let processes: Vec<Process> = text.split("\n### ").skip(1).map(process).collect();
    Snapshot {
        taken_at_ms: 1_000_000,
        uptime_s: 15_500.0,
        clk_tck: 100,
        hostname: "capture".into(),
        arch: "x86_64".into(),
        sockets,
        processes,
        ..Default::default()
    }
}

/// The capture held for one second: two identical snapshots.
fn held(snap: Snapshot) -> Vec<Finding> {
    let mut second = snap.clone();
    second.taken_at_ms += 1000;
    second.uptime_s += 1.0;
    analyze(&Scan { snapshots: vec![snap, second] }, &Thresholds::default()).findings
}

fn of<'a>(f: &'a [Finding], kind: &str, pid: u32) -> Vec<&'a Finding> {
    f.iter().filter(|x| x.kind() == kind && x.pid == Some(pid)).collect()
}

fn lo() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn tcp(inode: u64, state: TcpState, local_port: u16, remote_port: u16, recv_q: u32, idle_ms: u32) -> Socket {
    Socket {
        netns: 0,
        state,
        local: lo(),
        local_port,
        remote: if state == TcpState::Listen { "0.0.0.0".parse().unwrap() } else { lo() },
        remote_port,
        recv_q,
        send_q: 0,
        inode,
        uid: 0,
        info: (state != TcpState::Listen).then_some(TcpInfo {
            last_data_recv_ms: idle_ms,
            last_data_sent_ms: idle_ms,
            ..Default::default()
        }),
        drops: None,
    }
}

#[test]
fn hping3_under_uwsgi() {
    let findings = held(snapshot(&fixture("uwsgi-hping3-sigalrm.txt"), Vec::new()));
    let b = of(&findings, "blocked_signal", 30002);
    assert_eq!(b.len(), 1, "{findings:#?}");
    let ev = &serde_json::to_value(&b[0].evidence).unwrap();
    assert_eq!(b[0].severity, unwedge_model::Severity::Critical);
    assert_eq!(ev["pending_blocked"], serde_json::json!(["SIGALRM"]));
    assert_eq!(ev["inherited_from"]["pid"], 29984, "{ev:#}");
    assert_eq!(ev["inherited_from"]["tid"], 29985, "{ev:#}");
    assert_eq!(ev["inherited_from"]["blocked"], "fffffffe7ffbfeff");
    assert_eq!(ev["blocked_in_every_thread"], "all except SIGKILL, SIGSTOP, SIG32, SIG33");
    assert_eq!(ev["threads"][0]["syscall"], "poll");
    assert!(b[0].title.contains("SIGALRM"), "{}", b[0].title);
    // hping3 catches SIGTERM but blocks it: "stayed alive, ignoring SIGTERM".
    assert_eq!(of(&findings, "sigterm_blocked", 30002).len(), 1);
    // The uWSGI worker's main thread blocks nothing: no signal finding about it.
    assert!(findings.iter().all(|f| f.pid != Some(29984)), "{findings:#?}");
}

#[test]
fn orphaned_proxy_child() {
    // Socket facts the capture states in its header (sock_diag is not in the text):
    // the listener, the client that already closed, the idle keep-alive upstream.
    let sockets = vec![
        tcp(4108738, TcpState::Listen, 8443, 0, 0, 0),
        tcp(4108739, TcpState::CloseWait, 8443, 51234, 1, 12_000),
        tcp(4108746, TcpState::Established, 41234, 8081, 0, 12_000),
    ];
    let snap = snapshot(&fixture("orphan-proxy-futex.txt"), sockets);
    let findings = held(snap.clone());

    let o = of(&findings, "orphan_port_holder", 30369);
    assert_eq!(o.len(), 1, "{findings:#?}");
    assert_eq!(o[0].port, Some(8443));
    assert_eq!(serde_json::to_value(&o[0].evidence).unwrap()["pgid"], 30345);

    let stuck = of(&findings, "stuck_thread", 30369);
    let pump = stuck.iter().find(|f| f.tid == Some(30371)).expect("upstream-pump is stuck");
    assert_eq!(serde_json::to_value(&pump.evidence).unwrap()["thread"]["syscall"], "recvfrom");
    assert_eq!(
        serde_json::to_value(&pump.evidence).unwrap()["thread"]["fds"][0],
        "fd 5: TCP 127.0.0.1:41234 -> 127.0.0.1:8081 ESTAB, idle 12.0 s"
    );
    assert_eq!(serde_json::to_value(&pump.evidence).unwrap()["thread"]["stack"][1], "sk_wait_data+0x172/0x190");
    // The port concerned is the served one whose client waits, not the upstream's ephemeral port.
    assert_eq!(pump.port, Some(8443));
    let main = stuck.iter().find(|f| f.tid == Some(30369)).expect("main thread is stuck");
    assert_eq!(serde_json::to_value(&main.evidence).unwrap()["thread"]["syscall"], "futex");
    assert!(main.explanation.contains("CLOSE-WAIT"), "{}", main.explanation);

    // One zombie is below the threshold; ten are not.
    assert!(of(&findings, "zombie", 30369).is_empty());
    let mut many = snap;
    let z = many.processes.iter().find(|p| p.pid == 30370).unwrap().clone();
    for i in 1..10 {
        many.processes.push(Process { pid: 30400 + i, ..z.clone() });
    }
    let findings = held(many);
    let z = of(&findings, "zombie", 30369);
    assert_eq!(z.len(), 1);
    assert_eq!(serde_json::to_value(&z[0].evidence).unwrap()["count"], 10);
    assert_eq!(serde_json::to_value(&z[0].evidence).unwrap()["by_comm"]["nc"], 10);

    // A python3 ignoring SIGPIPE and SIGXFSZ is not refusing SIGTERM.
    assert!(findings.iter().all(|f| f.kind() != "sigterm_blocked" && f.kind() != "blocked_signal"), "{findings:#?}");
}

/// Healthy twin: the same threads, but the CLOSE-WAIT socket is a client's
/// pooled connection (no listener on its port) and nothing is queued: an
/// idle process, not a stuck one.
#[test]
fn idle_threads_with_a_pooled_close_wait_connection_are_not_stuck() {
    let sockets = vec![
        tcp(4108739, TcpState::CloseWait, 41000, 443, 7, 30_000),
        tcp(4108746, TcpState::Established, 41234, 8081, 0, 12_000),
    ];
    let findings = held(snapshot(&fixture("orphan-proxy-futex.txt"), sockets));
    assert!(findings.iter().all(|f| f.kind() != "stuck_thread"), "{findings:#?}");
}

#[test]
fn without_the_second_snapshot_no_thread_is_called_stuck() {
    let snap = snapshot(&fixture("orphan-proxy-futex.txt"), vec![tcp(4108739, TcpState::CloseWait, 8443, 51234, 1, 0)]);
    let a = analyze(&Scan { snapshots: vec![snap] }, &Thresholds::default());
    assert!(a.findings.iter().all(|f| f.kind() != "stuck_thread"));
    assert!(a.notes.iter().any(|n| n.contains("stuck_thread")));
}
