//! Story 4 with the real software: a WSGI app under uWSGI (`--threads 4`)
//! runs `hping3 --syn -c 1` in a subprocess. uWSGI blocks every signal in
//! its worker threads but core 0; fork keeps the calling thread's mask and
//! exec keeps it, so hping3 started from those threads never gets the
//! SIGALRM that ends its wait and hangs. `scan` must name hping3
//! (`blocked_signal`, inherited from the uWSGI thread) and `unwedge exec`
//! in front of hping3 must make every request finish.
//!
//! Needs uwsgi-core, uwsgi-plugin-python3 and hping3 (.ci/install-test-deps.sh
//! installs them) and root (hping3 uses raw sockets).

mod common;

use common::{findings, ppid_of, scan_until, wait_until};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const APP: &str = r#"
import subprocess
def application(env, start_response):
    q = dict(kv.split('=', 1) for kv in env.get('QUERY_STRING', '').split('&') if '=' in kv)
    cmd = ['/usr/sbin/hping3', '--syn', '-c', '1', '-p', q['port'], '127.0.0.1']
    if q.get('exec'):
        cmd = [q['exec'], 'exec', '--'] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'rc=%d\n' % p.returncode, p.stdout]
"#;

fn missing_tools() -> Option<&'static str> {
    if !common::is_root() {
        return Some("root (hping3 needs raw sockets)");
    }
    if !Path::new("/usr/bin/uwsgi").exists() {
        return Some("uwsgi (apt-get install uwsgi-core)");
    }
    if !Path::new("/usr/lib/uwsgi/plugins/python3_plugin.so").exists() {
        return Some("uwsgi's python3 plugin (apt-get install uwsgi-plugin-python3)");
    }
    if !Path::new("/usr/sbin/hping3").exists() {
        return Some("hping3 (apt-get install hping3)");
    }
    None
}

/// Starts uWSGI on a port it picks; returns it with that port.
fn start_uwsgi(dir: &Path) -> (common::Child, u16) {
    std::fs::write(dir.join("app.py"), APP).unwrap();
    let log = dir.join("uwsgi.log");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("echo READY; exec uwsgi --plugin python3 --http-socket 127.0.0.1:0 --master --threads 4 --wsgi-file \"$0/app.py\" --logto \"$0/uwsgi.log\"")
        .arg(dir);
    let guard = common::start(cmd);
    let mut port = None;
    // "uwsgi socket 0 bound to TCP address 127.0.0.1:PORT (port auto-assigned) fd 3", then the worker.
    let ready = wait_until(Duration::from_secs(15), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        port = text
            .split("bound to TCP address 127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok());
        port.is_some() && text.contains("spawned uWSGI worker 1")
    });
    assert!(ready, "uWSGI did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());
    (guard, port.unwrap())
}

/// GET PATH; the body, or None when no answer came within `wait`.
fn get(port: u16, path: &str, wait: Duration) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// A loopback port with nothing listening (hping3's SYN gets a RST).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Live hping3 processes started by a worker of uWSGI master MASTER.
fn hping3_children_of(master: u64) -> Vec<u64> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid: &u64| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.contains("(hping3) S") && ppid_of(pid).and_then(ppid_of) == Some(master)
        })
        .collect()
}

/// Seconds since PID started.
fn age_s(pid: u64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let start: f64 = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    // SAFETY: no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(uptime - start / hz)
}

/// Findings of KIND about an hping3 that a worker of uWSGI master MASTER started.
fn hping_findings(r: &Value, kind: &str, master: u64) -> Vec<Value> {
    findings(r, kind)
        .into_iter()
        .filter(|f| f["comm"] == "hping3" && f["pid"].as_u64().and_then(ppid_of).and_then(ppid_of) == Some(master))
        .cloned()
        .collect()
}

#[test]
fn hping3_under_uwsgi_threads_hangs_on_a_blocked_sigalrm() {
    let missing = missing_tools();
    if !common::require(missing.unwrap_or_default(), missing.is_none()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (uwsgi, port) = start_uwsgi(dir.path());
    let master = uwsgi.pid() as u64;
    let target = closed_port();

    // Four requests at once occupy all four cores: those on the three
    // blocked cores hang — or, as seen here, die of a SIGFPE that hping3
    // raises while SIGFPE is blocked (a blocked synchronous signal kills).
    // Rounds until one hangs, bounded.
    let hung = || hping3_children_of(master).into_iter().any(|pid| age_s(pid).is_some_and(|a| a >= 1.0));
    let mut rounds = 0;
    while rounds < 10 && !hung() {
        rounds += 1;
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let path = format!("/?port={target}");
                std::thread::spawn(move || get(port, &path, Duration::from_millis(1500)))
            })
            .collect();
        for c in clients {
            let _ = c.join();
        }
    }
    assert!(hung(), "no hping3 hung in {rounds} rounds of 4 requests");
    let report = scan_until(&["--interval", "0.5"], Duration::from_secs(10), |r| {
        !hping_findings(r, "blocked_signal", master).is_empty()
    });
    let blocked = hping_findings(&report, "blocked_signal", master);
    assert!(!blocked.is_empty(), "no blocked_signal on hping3: {report:#}");
    let f = &blocked[0];
    assert_eq!(f["severity"], "critical", "{f:#}");
    assert!(f["title"].as_str().unwrap().contains("SIGALRM"), "{f:#}");
    // Where the mask came from: a uWSGI worker thread of our server.
    let from = &f["evidence"]["inherited_from"];
    assert_eq!(from["comm"], "uwsgi", "{f:#}");
    let worker = from["pid"].as_u64().unwrap();
    assert_eq!(ppid_of(worker), Some(master), "inherited from a worker of this uWSGI master");
    assert!(from["other_threads_blocking_nothing"].as_u64().unwrap() >= 1, "core 0 blocks nothing: {f:#}");

    // The uWSGI side: the request thread waits reading hping3's output pipe
    // while its client, timed out, is gone (CLOSE-WAIT): stuck_thread names
    // the pipe and who holds its other end.
    let hping = f["pid"].as_u64().unwrap();
    let holder = format!("also held by hping3 (pid {hping})");
    let pipe_wait = |r: &Value| {
        findings(r, "stuck_thread").into_iter().any(|t| {
            t["comm"] == "uwsgi" && t["title"].as_str().is_some_and(|s| s.contains("pipe:[") && s.contains(&holder))
        })
    };
    let report = scan_until(&["--interval", "0.5"], Duration::from_secs(10), pipe_wait);
    assert!(pipe_wait(&report), "no uWSGI thread named as waiting on hping3's pipe: {report:#}");

    // The fix: `unwedge exec` in front of hping3. uWSGI with fresh cores
    // (the hung ones stay hung), four requests at once: every one answers.
    drop(uwsgi);
    let dir = tempfile::tempdir().unwrap();
    let (_uwsgi, port) = start_uwsgi(dir.path());
    let exe = env!("CARGO_BIN_EXE_unwedge");
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let path = format!("/?port={target}&exec={exe}");
            std::thread::spawn(move || get(port, &path, Duration::from_secs(10)))
        })
        .collect();
    for c in clients {
        let body = c.join().unwrap().expect("every request answers once hping3 runs through unwedge exec");
        assert!(body.contains("200 OK") && body.contains("hping statistic"), "{body}");
    }
}
