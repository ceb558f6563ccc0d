//! Issue 13, live: one right cause per incident, first, and no confident
//! wrong one, on real third-party servers — nginx at its fd limit, a
//! one-worker gunicorn busy with a slow request, story 1's forking proxy
//! piled up, servers stopped by SIGSTOP, held by gdb, frozen by a cgroup —
//! and the healthy twins that must stay silent (busy and idle pre-fork
//! pools, a process stopped and continued, a stopped job holding nothing).

mod common;

use common::{alarms, findings, python, require, scan_json, scan_until, start_nginx_with, wait_until, Child};
use serde_json::Value;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn pids_of(v: &Value) -> Vec<u64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default()
}

fn human(args: &[&str]) -> String {
    let out = common::unwedge().args(["scan", "--color", "never"]).args(args).output().expect("run unwedge");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
            if common::ppid_of(p as u64) == Some(pid as u64) {
                out.push(p);
            }
        }
    }
    out
}

fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().next()?.chars().next()
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: signalling a process (or group, for a negative pid) this test started.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// N clients that connect and send a request that never ends (no blank
/// line): each holds a connection the server must keep, with the request
/// unanswered. Nonblocking connects, so a full queue does not stall the test.
fn unfinished_requests(port: u16, n: usize) -> Vec<std::net::TcpStream> {
    use std::os::fd::FromRawFd;
    let mut out = Vec::new();
    for _ in 0..n {
        // SAFETY: plain socket calls on an fd we own; ownership moves into TcpStream.
        let s = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
            assert!(fd >= 0);
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([127, 0, 0, 1]) },
                sin_zero: [0; 8],
            };
            libc::connect(fd, &addr as *const _ as *const libc::sockaddr, std::mem::size_of_val(&addr) as u32);
            std::net::TcpStream::from_raw_fd(fd)
        };
        out.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    for s in &mut out {
        let _ = s.write(b"GET / HTTP/1.1\r\nHost: x\r\n");
    }
    out
}

fn nginx() -> Option<PathBuf> {
    let n = common::nginx_path();
    require("nginx (Debian nginx-light)", n.is_some()).then_some(n?)
}

#[test]
fn nginx_worker_at_its_fd_limit_is_the_cause_of_the_stalled_queue_not_keepalive() {
    let Some(nginx) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    // One worker, 64 fds: ~55 clients that never finish their request pin
    // them all; accept4() then fails with EMFILE and the queue fills.
    let (master, port) = start_nginx_with(&nginx, dir.path(), 1, "worker_rlimit_nofile 64;", |port| {
        format!("server {{ listen 127.0.0.1:{port} backlog=32; location / {{ return 200 \"ok\\n\"; }} }}")
    });
    let worker = {
        let mut w = Vec::new();
        assert!(wait_until(Duration::from_secs(5), || {
            w = children(master.pid());
            !w.is_empty()
        }));
        w[0] as u64
    };
    let _clients = unfinished_requests(port, 90);
    let p = port.to_string();
    let report = scan_until(&["--interval", "1"], Duration::from_secs(20), |r| {
        findings(r, "accept_stalled").iter().any(|f| f["port"] == port)
            && findings(r, "fd_exhaustion").iter().any(|f| f["pid"] == worker)
    });
    let mine = |kind: &str| -> Vec<&Value> {
        findings(&report, kind)
            .into_iter()
            .filter(|f| f["port"] == port || f["pid"] == worker || f["pid"] == master.pid())
            .collect()
    };
    assert!(mine("keepalive_starvation").is_empty(), "no request was ever answered: not keep-alive\n{report:#}");
    let fd = mine("fd_exhaustion");
    assert_eq!(fd.len(), 1, "{report:#}");
    assert_eq!(fd[0]["pid"], worker, "the worker, not the master, is at its limit");
    assert_eq!(fd[0]["severity"], "critical");
    // Clients whose SYN was dropped at first connect late and never send: most, not all, hold a request.
    assert!(fd[0]["evidence"]["unanswered_connections"].as_u64().unwrap_or(0) >= 20, "{:#}", fd[0]);
    let stall = mine("accept_stalled");
    assert_eq!(stall.len(), 1, "{report:#}");
    let stall = stall[0];
    assert_eq!(stall["pid"], worker, "the accepting process is named, not the master: {stall:#}");
    assert_eq!(pids_of(&stall["evidence"]["accepting"]), vec![worker]);
    let owners = pids_of(&stall["evidence"]["owners"]);
    assert!(owners.contains(&worker) && owners.contains(&(master.pid() as u64)), "{stall:#}");
    assert_eq!(stall["caused_by"], serde_json::json!([fd[0]["id"]]), "{stall:#}");
    assert!(!stall["explanation"].as_str().unwrap().contains("Typical causes"), "{stall:#}");
    assert!(stall["explanation"].as_str().unwrap().contains("EMFILE"), "{stall:#}");
    for f in mine("accept_queue_overflow") {
        assert!(!f["caused_by"].as_array().unwrap().is_empty(), "the full queue is a consequence: {f:#}");
    }

    // The human report: the fd limit first, the queue beneath it.
    let text = human(&["--port", &p]);
    let cause = text.find("fd_exhaustion").unwrap_or_else(|| panic!("{text}"));
    let stalled = text.find("accept_stalled").unwrap_or_else(|| panic!("{text}"));
    assert!(cause < stalled && text.contains("Consequences"), "{text}");
    assert!(!text.contains("keepalive_starvation"), "{text}");
}

/// gunicorn from Debian (package gunicorn), if installed.
fn gunicorn() -> Option<PathBuf> {
    let g = ["/usr/bin/gunicorn", "/usr/bin/gunicorn3"].into_iter().map(PathBuf::from).find(|p| p.exists());
    require("gunicorn (Debian package gunicorn)", g.is_some()).then_some(g?)
}

/// A real gunicorn (sync workers) serving an app whose /slow takes 20 s.
fn start_gunicorn(gunicorn: &std::path::Path, dir: &std::path::Path, workers: u32, backlog: u32) -> (Child, u16) {
    std::fs::write(
        dir.join("slow_app.py"),
        "import time\n\
         def app(environ, start_response):\n\
         \x20   if environ.get('PATH_INFO') == '/slow':\n\
         \x20       time.sleep(20)\n\
         \x20   start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '3')])\n\
         \x20   return [b'ok\\n']\n",
    )
    .unwrap();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("echo READY; exec \"$0\" --chdir \"$1\" --workers \"$2\" --backlog \"$3\" --bind 127.0.0.1:\"$4\" slow_app:app 2>\"$1/log\"")
            .arg(gunicorn)
            .arg(dir)
            .arg(workers.to_string())
            .arg(backlog.to_string())
            .arg(port.to_string());
        let mut g = common::start(cmd);
        let up = wait_until(Duration::from_secs(10), || {
            children(g.pid()).len() == workers as usize && TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if up && matches!(g.child.try_wait(), Ok(None)) {
            return (g, port);
        }
        eprintln!("gunicorn did not start on port {port}, retrying");
    }
    panic!("gunicorn did not start; see {}/log", dir.display());
}

#[test]
fn one_gunicorn_worker_busy_with_a_slow_request_is_not_keepalive_starvation() {
    let Some(gunicorn) = gunicorn() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (master, port) = start_gunicorn(&gunicorn, dir.path(), 1, 4);
    let mut kids = Vec::new();
    assert!(wait_until(Duration::from_secs(10), || {
        kids = children(master.pid());
        kids.len() == 1
    }));
    let worker = kids[0] as u64;
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The small backlog overflows behind the one busy worker.
    let _queued = unfinished_requests(port, 10);
    let report = scan_until(&["--port", &port.to_string(), "--interval", "1"], Duration::from_secs(12), |r| {
        !findings(r, "accept_stalled").is_empty()
    });
    assert!(
        findings(&report, "keepalive_starvation").is_empty(),
        "a request in progress is not keep-alive: {report:#}"
    );
    let stall = findings(&report, "accept_stalled");
    assert_eq!(stall.len(), 1, "{report:#}");
    assert_eq!(stall[0]["pid"], worker, "the worker accepts; the arbiter only holds the socket: {report:#}");
    let why = stall[0]["explanation"].as_str().unwrap();
    assert!(why.contains("not answered") && why.contains("clock_nanosleep"), "{why}");
    assert!(!why.contains("Typical causes"), "{why}");
    for f in findings(&report, "accept_queue_overflow") {
        assert_eq!(f["pid"], worker, "{f:#}");
        assert_eq!(f["caused_by"], serde_json::json!([stall[0]["id"]]), "{f:#}");
    }
    let text = human(&["--port", &port.to_string()]);
    assert!(text.find("accept_stalled").unwrap() < text.find("accept_queue_overflow").unwrap_or(usize::MAX), "{text}");
}

#[test]
fn six_forked_workers_stuck_the_same_way_are_one_group_named_once() {
    let s = python("forking_proxy.py", &["--workers", "6"]);
    let port = s.ready["port"].as_u64().unwrap();
    let origin_port = s.ready["origin_port"].as_u64().unwrap();
    let workers = pids_of(&s.ready["workers"]);
    assert_eq!(workers.len(), 6);
    let p = port.to_string();
    let report = scan_until(&["--port", &p, "--interval", "0.5"], Duration::from_secs(10), |r| {
        r["groups"].as_array().is_some_and(|g| g.iter().any(|g| pids_of(&g["pids"]).len() == 6))
    });
    let groups = report["groups"].as_array().unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(groups.len(), 1, "{report:#}");
    let g = &groups[0];
    assert_eq!(g["kind"], "stuck_thread");
    let mut got = pids_of(&g["pids"]);
    got.sort();
    let mut want = workers.clone();
    want.sort();
    assert_eq!(got, want, "{g:#}");
    assert_eq!(g["parent"], s.pid());
    assert_eq!(g["program"], "forking_proxy.py");
    let title = g["title"].as_str().unwrap();
    assert!(
        title.starts_with(&format!("6 worker processes of forking_proxy.py (parent {}) piled up", s.pid()))
            && title.contains(&format!("idle keep-alive upstream to 127.0.0.1:{origin_port} after its client left")),
        "{title}"
    );
    // JSON keeps every finding, each tied to the group.
    let stuck = findings(&report, "stuck_thread");
    assert!(stuck.len() >= 6, "{report:#}");
    assert!(stuck.iter().all(|f| f["group"] == g["id"]), "{report:#}");
    assert!(report["findings"].as_array().unwrap().iter().any(|f| f["id"] == g["representative"]));

    // The human report names the group once and fits on one screen.
    let text = human(&["--port", &p, "--interval", "0.5"]);
    assert_eq!(text.matches("6 worker processes of forking_proxy.py").count(), 1, "{text}");
    for w in &workers {
        assert!(text.contains(&w.to_string()), "pid {w} listed: {text}");
    }
    let lines = text.lines().count();
    assert!(lines <= 50, "{lines} lines:\n{text}");
    assert_eq!(text.matches("Fix:").count(), 1, "the fix once: {text}");
}

#[test]
fn forking_proxy_idle_in_accept_is_not_a_pile_up() {
    let s = python("forking_proxy.py", &["--idle"]);
    let (report, code) = scan_json(&["--port", &s.ready["port"].as_u64().unwrap().to_string(), "--interval", "0.5"]);
    assert!(report["groups"].as_array().is_none_or(|g| g.is_empty()), "{report:#}");
    assert!(alarms(&report).is_empty() && code == 0, "{report:#}");
}

#[test]
fn prefork_pools_idle_in_accept_are_silent() {
    // Real pre-fork servers with nothing to do: 4 nginx workers in
    // epoll_wait, 4 gunicorn sync workers in select. Siblings that look
    // alike and do nothing are not a pile-up.
    let Some(nginx) = nginx() else { return };
    let Some(gunicorn) = gunicorn() else { return };
    let (nd, gd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (n, nport) = start_nginx_with(&nginx, nd.path(), 4, "", |port| {
        format!("server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}")
    });
    let (g, gport) = start_gunicorn(&gunicorn, gd.path(), 4, 64);
    let pids: Vec<u64> =
        [n.pid(), g.pid()].into_iter().flat_map(|p| std::iter::once(p).chain(children(p))).map(u64::from).collect();
    let (report, _) = scan_json(&["--interval", "1"]);
    let ours: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pid"].as_u64().is_some_and(|p| pids.contains(&p)) || f["port"] == nport || f["port"] == gport)
        .collect();
    assert!(ours.is_empty(), "{ours:#?}");
    let groups: Vec<&Value> = report["groups"]
        .as_array()
        .map(|a| a.iter().filter(|g| pids_of(&g["pids"]).iter().any(|p| pids.contains(p))).collect())
        .unwrap_or_default();
    assert!(groups.is_empty(), "{groups:#?}");
}

#[test]
fn busy_prefork_server_is_silent() {
    // 4 nginx workers, all accepting, under 24 clients that request as fast as they can.
    let Some(nginx) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (n, port) = start_nginx_with(&nginx, dir.path(), 4, "", |port| {
        format!("server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}")
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..24)
        .map(|_| {
            let (stop, served) = (stop.clone(), served.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else { continue };
                    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                    if c.write_all(b"GET / HTTP/1.0\r\n\r\n").is_ok() {
                        let mut buf = Vec::new();
                        let _ = std::io::Read::read_to_end(&mut c, &mut buf);
                        served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let pids: Vec<u64> = std::iter::once(n.pid()).chain(children(n.pid())).map(u64::from).collect();
    let (report, _) = scan_json(&["--interval", "1"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    assert!(served.load(std::sync::atomic::Ordering::Relaxed) > 100, "the load ran");
    let ours: Vec<&Value> = alarms(&report)
        .into_iter()
        .filter(|f| f["pid"].as_u64().is_some_and(|p| pids.contains(&p)) || f["port"] == port)
        .collect();
    assert!(ours.is_empty(), "{ours:#?}");
}

#[test]
fn nginx_stopped_like_ctrl_z_is_one_process_stopped_then_silent_when_continued() {
    let Some(nginx) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (n, port) = start_nginx_with(&nginx, dir.path(), 2, "", |port| {
        format!("server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}")
    });
    let master = n.pid();
    let mut workers = Vec::new();
    assert!(wait_until(Duration::from_secs(5), || {
        workers = children(master);
        workers.len() == 2
    }));
    // Ctrl-Z stops the whole foreground process group: master and workers.
    signal(-(master as i32), libc::SIGSTOP);
    assert!(wait_until(Duration::from_secs(5), || std::iter::once(master)
        .chain(workers.iter().copied())
        .all(|p| state_of(p) == Some('T'))));
    let clients: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let report = scan_until(&["--interval", "1"], Duration::from_secs(10), |r| {
        findings(r, "process_stopped").iter().any(|f| f["pid"] == master)
    });
    let stopped: Vec<&Value> = findings(&report, "process_stopped")
        .into_iter()
        .filter(|f| f["pid"] == master || workers.iter().any(|w| f["pid"] == *w))
        .collect();
    assert_eq!(stopped.len(), 1, "one incident, one finding: {report:#}");
    let f = stopped[0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["stopped_by"], "signal");
    let mut also = pids_of(&f["evidence"]["also_stopped"]);
    also.sort();
    let mut want: Vec<u64> = workers.iter().map(|&w| w as u64).collect();
    want.sort();
    assert_eq!(also, want, "{f:#}");
    assert!(f["evidence"]["queued"].as_u64().unwrap_or(0) >= 5, "{f:#}");
    assert!(f["fix"].as_str().unwrap().contains(&format!("kill -CONT {master}")), "{f:#}");
    // The stalled queue is its consequence, and it names a worker.
    for s in findings(&report, "accept_stalled").into_iter().filter(|s| s["port"] == port) {
        assert_eq!(s["caused_by"], serde_json::json!([f["id"]]), "{s:#}");
        assert!(workers.iter().any(|w| s["pid"] == *w), "{s:#}");
    }
    let text = human(&["--port", &port.to_string()]);
    let first = text.find("CRITICAL").unwrap_or_else(|| panic!("{text}"));
    assert!(text[first..].starts_with("CRITICAL process_stopped"), "the stop comes first: {text}");
    assert!(!text.contains("Typical causes"), "{text}");

    signal(-(master as i32), libc::SIGCONT);
    drop(clients);
    assert!(wait_until(Duration::from_secs(5), || state_of(master) == Some('S')));
    let (report, _) = scan_json(&["--interval", "1"]);
    let left: Vec<&Value> = alarms(&report)
        .into_iter()
        .filter(|f| f["pid"] == master || workers.iter().any(|w| f["pid"] == *w) || f["port"] == port)
        .collect();
    assert!(left.is_empty(), "continued: silent: {left:#?}");
}

#[test]
fn server_held_by_gdb_names_the_debugger_and_is_silent_once_detached() {
    let gdb = ["/usr/bin/gdb"].into_iter().map(PathBuf::from).find(|p| p.exists());
    if !require("gdb (Debian package gdb)", gdb.is_some()) {
        return;
    }
    let s = python("stopped_server.py", &[]);
    let server = s.ready["server"].as_u64().unwrap() as u32;
    let port = s.ready["port"].as_u64().unwrap() as u16;
    // A debugger attached in batch mode that waits: what a forgotten
    // `gdb -p` looks like to the server. It detaches when its `shell sleep`
    // ends, which the test brings about by killing that sleep.
    let mut dbg = Command::new(gdb.unwrap());
    dbg.args(["-nx", "-q", "-batch", "-p", &server.to_string(), "-ex", "shell sleep 60"]);
    dbg.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let gdb_started = Instant::now();
    let mut gdb_child = common::start({
        let mut sh = Command::new("sh");
        sh.arg("-c").arg("echo READY; exec \"$@\"").arg("sh").arg(dbg.get_program()).args(dbg.get_args());
        sh
    });
    // gdb reads the target's symbols, then runs its shell command.
    assert!(
        wait_until(Duration::from_secs(30), || state_of(server) == Some('t') && !children(gdb_child.pid()).is_empty()),
        "gdb did not stop the server: {:?}",
        state_of(server)
    );
    let clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let report = scan_until(&["--pid", &server.to_string(), "--interval", "1"], Duration::from_secs(30), |r| {
        !findings(r, "process_stopped").is_empty()
    });
    let f = findings(&report, "process_stopped");
    assert_eq!(f.len(), 1, "{report:#}");
    let f = f[0];
    assert_eq!(f["evidence"]["stopped_by"], "tracer", "{f:#}");
    assert_eq!(f["evidence"]["tracer"]["pid"], gdb_child.pid(), "{f:#}");
    assert_eq!(f["evidence"]["tracer"]["comm"], "gdb", "{f:#}");
    assert!(f["title"].as_str().unwrap().starts_with(&format!("gdb (pid {})", gdb_child.pid())), "{f:#}");
    for st in findings(&report, "accept_stalled") {
        let all: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| format!("{} {} pid {} caused_by {}: {}", x["id"], x["kind"], x["pid"], x["caused_by"], x["title"]))
            .collect();
        assert_eq!(st["caused_by"], serde_json::json!([f["id"]]), "{st:#}\n{all:#?}");
    }

    // End gdb's `shell sleep` (sh and sleep, which this test started): its
    // batch ends and gdb detaches; the server runs on and serves.
    for sh in children(gdb_child.pid()) {
        for sleep in children(sh) {
            signal(sleep as i32, libc::SIGKILL);
        }
        signal(sh as i32, libc::SIGKILL);
    }
    assert!(common::wait_with_deadline(&mut gdb_child.child, Duration::from_secs(30)).is_some(), "gdb never ended");
    eprintln!("gdb held the server for {:?}", gdb_started.elapsed());
    assert!(wait_until(Duration::from_secs(5), || matches!(state_of(server), Some('S' | 'R'))));
    drop(clients);
    let (report, code) = scan_json(&["--pid", &server.to_string(), "--interval", "1"]);
    assert!(alarms(&report).is_empty() && code == 0, "detached: silent: {report:#}");
}

#[test]
fn server_under_strace_runs_and_is_not_stopped() {
    // strace passes through a tracing stop at every syscall, yet the
    // process runs: no process_stopped while it serves.
    let strace = ["/usr/bin/strace"].into_iter().map(PathBuf::from).find(|p| p.exists());
    if !require("strace (Debian package strace)", strace.is_some()) {
        return;
    }
    let s = python("stopped_server.py", &[]);
    let server = s.ready["server"].as_u64().unwrap() as u32;
    let port = s.ready["port"].as_u64().unwrap() as u16;
    let mut sh = Command::new("sh");
    sh.arg("-c").arg("echo READY; exec \"$0\" -f -o /dev/null -p \"$1\"").arg(strace.unwrap()).arg(server.to_string());
    let _strace = common::start(sh);
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_to_string(format!("/proc/{server}/status"))
        .is_ok_and(|t| t.lines().any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0"))));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut buf = [0u8; 16];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if c.write_all(b"ping\n").is_err() || std::io::Read::read(&mut c, &mut buf).is_err() {
                    break;
                }
            }
        })
    };
    let (report, _) = scan_json(&["--pid", &server.to_string(), "--interval", "1"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = load.join();
    assert!(findings(&report, "process_stopped").is_empty() && alarms(&report).is_empty(), "{report:#}");
}

#[test]
fn stopped_client_job_is_silent() {
    // A Ctrl-Z'd process holding only its own outbound connection (an ssh
    // or psql client) next to a server that serves: nothing waits on the stop.
    let s = python("stopped_server.py", &["--job"]);
    let job = s.ready["stopped"].as_u64().unwrap();
    assert_eq!(state_of(job as u32), Some('T'));
    let (report, code) = scan_json(&["--interval", "0.5"]);
    let ours: Vec<&Value> = alarms(&report)
        .into_iter()
        .filter(|f| f["pid"] == job || f["pid"] == s.pid() || f["pid"] == s.ready["server"])
        .collect();
    assert!(ours.is_empty(), "{ours:#?} (exit {code})");
}

#[test]
fn server_stopped_and_continued_before_the_second_snapshot_is_silent() {
    let s = python("stopped_server.py", &[]);
    let server = s.ready["server"].as_u64().unwrap() as i32;
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("scan.json");
    // Stop it, scan, continue it during the interval; the first snapshot
    // must have seen it stopped, or the test says nothing: try again.
    for attempt in 0..5 {
        signal(server, libc::SIGSTOP);
        assert!(wait_until(Duration::from_secs(10), || state_of(server as u32) == Some('T')));
        let mut scan = common::unwedge();
        // The scan sleeps only what is left of the interval after its first
        // snapshot: long enough for a slow first snapshot on a busy host.
        scan.args(["scan", "--json", "--pid", &server.to_string(), "--interval", "6", "--save-snapshot"]).arg(&saved);
        scan.stdout(std::process::Stdio::piped());
        let child = scan.spawn().unwrap();
        // Continue it once the scan sleeps between its two snapshots (its
        // main thread in a nanosleep): the first one has seen it stopped.
        let scan_pid = child.id();
        let sleeping = wait_until(Duration::from_secs(60), || {
            std::fs::read_to_string(format!("/proc/{scan_pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
        });
        signal(server, libc::SIGCONT);
        if !sleeping {
            let _ = child.wait_with_output();
            eprintln!("attempt {attempt}: the scan never slept between snapshots; again");
            continue;
        }
        let out = child.wait_with_output().unwrap();
        let Ok(report) = serde_json::from_slice::<Value>(&out.stdout) else {
            eprintln!("attempt {attempt}: the scan gave no report (a loaded host: --deadline); again");
            continue;
        };
        let snaps: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
        let first_state = snaps["snapshots"][0]["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"] == server)
            .map(|p| p["state"].clone());
        if first_state != Some(Value::from("T")) {
            eprintln!("attempt {attempt}: the first snapshot saw {first_state:?}; again");
            continue;
        }
        assert!(findings(&report, "process_stopped").is_empty() && alarms(&report).is_empty(), "{report:#}");
        return;
    }
    panic!("the first snapshot never caught the server stopped");
}

/// A freezer cgroup this test created; on drop it thaws, kills what it
/// started inside (a frozen task dies only once thawed) and removes itself.
struct Freezer {
    dir: PathBuf,
    state_file: &'static str,
    thawed: &'static str,
    server: Option<Child>,
}

impl Drop for Freezer {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join(self.state_file), self.thawed);
        drop(self.server.take());
        let _ = wait_until(Duration::from_secs(5), || std::fs::remove_dir(&self.dir).is_ok());
    }
}

fn freeze_test(root: &str, state_file: &'static str, frozen: &str, thawed: &'static str, version: u64) {
    let s = python("stopped_server.py", &[]);
    let server = s.ready["server"].as_u64().unwrap() as u32;
    let port = s.ready["port"].as_u64().unwrap() as u16;
    let dir = PathBuf::from(root).join(format!("unwedge-test-{}-{server}", std::process::id()));
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let cg = Freezer { dir: dir.clone(), state_file, thawed, server: Some(s) };
    std::fs::write(dir.join("cgroup.procs"), server.to_string()).unwrap();
    std::fs::write(dir.join(state_file), frozen).unwrap();
    // Freezing is asynchronous: wait until the cgroup says it is done.
    let done = || match version {
        1 => std::fs::read_to_string(dir.join("freezer.state")).is_ok_and(|t| t.trim() == "FROZEN"),
        _ => std::fs::read_to_string(dir.join("cgroup.events")).is_ok_and(|t| t.lines().any(|l| l == "frozen 1")),
    };
    assert!(wait_until(Duration::from_secs(10), done), "the cgroup did not freeze");
    let clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let report = scan_until(&["--pid", &server.to_string(), "--interval", "1"], Duration::from_secs(30), |r| {
        !findings(r, "process_stopped").is_empty()
    });
    let f = findings(&report, "process_stopped");
    assert_eq!(f.len(), 1, "{report:#}");
    let ev = &f[0]["evidence"];
    assert_eq!(ev["stopped_by"], "cgroup_freezer", "{report:#}");
    assert_eq!(ev["freezer"]["version"], version, "{report:#}");
    assert!(ev["freezer"]["cgroup"].as_str().unwrap().ends_with(dir.file_name().unwrap().to_str().unwrap()));
    assert!(f[0]["fix"].as_str().unwrap().contains(&dir.join(state_file).display().to_string()), "{:#}", f[0]);
    for other in report["findings"].as_array().unwrap().iter().filter(|x| x["kind"] != "process_stopped") {
        assert_eq!(
            other["caused_by"],
            serde_json::json!([f[0]["id"]]),
            "everything else follows from the freeze: {other:#}"
        );
    }
    std::fs::write(dir.join(state_file), thawed).unwrap();
    drop(clients);
    assert!(wait_until(Duration::from_secs(5), || matches!(state_of(server), Some('S' | 'R'))));
    let (report, code) = scan_json(&["--pid", &server.to_string(), "--interval", "1"]);
    assert!(alarms(&report).is_empty() && code == 0, "thawed: silent: {report:#}");
    drop(cg);
}

#[test]
fn server_in_a_frozen_v1_freezer_cgroup() {
    let root = "/sys/fs/cgroup/freezer";
    let ok = common::is_root() && std::path::Path::new(root).join("cgroup.procs").exists();
    if !require("root and a cgroup v1 freezer hierarchy at /sys/fs/cgroup/freezer", ok) {
        return;
    }
    freeze_test(root, "freezer.state", "FROZEN", "THAWED", 1);
}

#[test]
fn server_in_a_frozen_v2_cgroup() {
    let root = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    let ok = common::is_root() && std::path::Path::new(root).join("cgroup.procs").exists();
    if !require("root and a cgroup v2 hierarchy", ok) {
        return;
    }
    freeze_test(root, "cgroup.freeze", "1", "0", 2);
}
