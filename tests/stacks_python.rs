//! Live Python frames (issue 26): issue 26's service (handler threads
//! waiting on a connection pool whose connections were never returned,
//! and a thread blocked in sock.recv) under Debian's python3.11 (stripped,
//! non-PIE, its symbols exported), in a venv, under every pyenv CPython
//! from 3.8 to 3.13 present (libpython-linked builds), and as a WSGI app
//! under Debian's gunicorn and uWSGI (whose plugin links Debian's
//! libpython3.11.so). The frames must name the pool's get function, the
//! handler and the socket read's caller, with the lines the source marks;
//! reading them must neither stop nor wake the target. The layout table
//! is compared with each interpreter's own headers, and the line-table
//! decoders with each interpreter's own line mapping.

mod common;

use common::{require, start, wait_until, Child};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use unwedge_stacks::python::walk::Memory;
use unwedge_stacks::python::{binary::Binary, decode, layout, walk};
use unwedge_stacks::{Mode, Reader, Stacks, Target, UserStack};

const DEBIAN: &str = "/usr/bin/python3.11";
const PYENV: &str = "/root/.pyenv/versions";

fn scenario(name: &str) -> PathBuf {
    common::scenario_path(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stacks-python").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Debian's python3.11, which .ci installs: its absence fails under UNWEDGE_REQUIRE_LIVE=1.
fn debian() -> Option<PathBuf> {
    let p = PathBuf::from(DEBIAN);
    require("Debian's python3.11 (apt-get install python3.11)", p.exists()).then_some(p)
}

/// pyenv's CPythons 3.8 … 3.13 found here (the newest of each minor).
/// Not installed by .ci: their absence is said, never a failure.
fn pyenv() -> Vec<(u32, PathBuf)> {
    let mut out: Vec<(u32, PathBuf)> = Vec::new();
    for minor in 8..=13 {
        let mut dirs: Vec<PathBuf> =
            std::fs::read_dir(PYENV).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
        dirs.retain(|d| d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("3.{minor}."))));
        dirs.sort();
        if let Some(d) = dirs.pop().filter(|d| d.join("bin/python3").exists()) {
            out.push((minor, d));
        }
    }
    if out.is_empty() {
        eprintln!("\n!!!!!!!! {PYENV} has no CPython 3.8-3.13: only Debian's python3.11 was checked\n");
    }
    out
}

/// Line numbers of the `# LINE:name` markers of a scenario file.
fn markers(file: &str) -> HashMap<String, u32> {
    let text = std::fs::read_to_string(scenario(file)).unwrap();
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| Some((l.split("# LINE:").nth(1)?.trim().to_string(), i as u32 + 1)))
        .collect()
}

fn tasks(pid: u32) -> Vec<u32> {
    let mut t: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    t.sort_unstable();
    t
}

fn syscall_nr(pid: u32, tid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).ok()?.split(' ').next()?.parse().ok()
}

/// tests/scenarios/py_pool_leak.py running, every handler blocked in the
/// pool (futex) and the reader in recvfrom.
struct Pool {
    child: Child,
    handlers: Vec<u32>,
    reader: u32,
    main: u32,
}

fn start_pool(python: &Path, handlers: usize) -> Pool {
    let mut cmd = Command::new(python);
    cmd.arg("-u").arg(scenario("py_pool_leak.py")).arg(handlers.to_string()).arg("2");
    let child = start(cmd);
    let ids =
        |k: &str| child.ready[k].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect::<Vec<_>>();
    let handlers = ids("handlers");
    let reader = child.ready["reader"].as_u64().unwrap() as u32;
    let main = child.ready["main"].as_u64().unwrap() as u32;
    let pid = child.pid();
    let settled = wait_until(Duration::from_secs(10), || {
        handlers.iter().all(|&t| syscall_nr(pid, t) == Some(202)) && syscall_nr(pid, reader) == Some(45)
    });
    assert!(settled, "{python:?}: the handlers did not settle in futex and the reader in recvfrom");
    Pool { child, handlers, reader, main }
}

fn read(pid: u32, tids: &[u32]) -> Stacks {
    let targets: Vec<Target> = tids.iter().map(|&tid| Target { pid, tid, syscall: None }).collect();
    Reader::new().read(Mode::Auto, &targets)
}

fn names(s: &UserStack) -> Vec<String> {
    s.python
        .iter()
        .map(|f| format!("{} {}:{}", f.function, f.file.rsplit('/').next().unwrap(), f.line.unwrap_or(0)))
        .collect()
}

/// The pool leak's frames as every version must show them: the handlers
/// in the pool's get (qualified "Pool.get" from 3.11, "get" before) under
/// handle_request, the reader in read_reply under upstream_reader, at the
/// marked lines; nobody holds the GIL (all wait); the process's groups
/// put the handlers together.
fn assert_pool_frames(p: &Pool, read: &Stacks, minor: u32, what: &str) {
    let pid = p.child.pid();
    let m = markers("py_pool_leak.py");
    let pool_get = if minor >= 11 { "Pool.get" } else { "get" };
    for &h in &p.handlers {
        let s = &read.stacks[&(pid, h)];
        let n = names(s);
        assert!(s.python_note.is_none(), "{what} handler {h}: {:?} {n:?}", s.python_note);
        assert!(n[0].contains("wait threading.py:"), "{what} handler {h}: {n:?}");
        let want = [
            format!("{pool_get} py_pool_leak.py:{}", m["pool-get"]),
            format!("handle_request py_pool_leak.py:{}", m["handler-get"]),
        ];
        let at = n.iter().position(|f| *f == want[0]).unwrap_or_else(|| panic!("{what} handler {h}: {n:?}"));
        assert_eq!(n.get(at + 1), Some(&want[1]), "{what} handler {h}: {n:?}");
        assert_eq!(s.holds_gil, Some(false), "{what}");
    }
    let r = &read.stacks[&(pid, p.reader)];
    let n = names(r);
    assert_eq!(
        n[..2],
        [
            format!("read_reply py_pool_leak.py:{}", m["recv"]),
            format!("upstream_reader py_pool_leak.py:{}", m["reader-call"])
        ],
        "{what} reader: {n:?} {:?}",
        r.python_note
    );
    let main = names(&read.stacks[&(pid, p.main)]);
    assert_eq!(main[0], format!("main py_pool_leak.py:{}", m["main-sleep"]), "{what}");
    // The process's threads, on the first target only.
    let first =
        read.stacks[&(pid, p.handlers[0])].python_threads.as_ref().unwrap_or_else(|| panic!("{what}: no groups"));
    assert!(first.version.starts_with(&format!("3.{minor}")), "{what}: {}", first.version);
    assert_eq!(first.total as usize, p.handlers.len() + 2, "{what}: {first:?}");
    assert_eq!(first.groups[0].count as usize, p.handlers.len(), "{what}: {first:?}");
    assert!(first.groups[0].tids.iter().all(|t| p.handlers.contains(t)), "{what}: {first:?}");
    assert_eq!(first.gil_holder, None, "{what}: nobody holds the GIL");
    assert!(first.note.is_none(), "{what}: {:?}", first.note);
    assert_eq!(read.stacks.values().filter(|s| s.python_threads.is_some()).count(), 1, "{what}: once per process");
}

fn pool_targets(p: &Pool) -> Vec<u32> {
    let mut t = p.handlers.clone();
    t.extend([p.reader, p.main]);
    t
}

#[test]
fn debian_python_pool_leak_names_the_pool_get_the_handler_and_the_recv_caller() {
    let Some(py) = debian() else { return };
    // Stripped of .symtab, and still exporting _PyRuntime and the type objects.
    let data = std::fs::read(&py).unwrap();
    let b = Binary::parse(&data, "python3.11").unwrap();
    assert!(
        b.runtime.is_some() && b.code_type.is_some() && b.unicode_type.is_some() && b.bytes_type.is_some(),
        "{b:?}"
    );
    assert_eq!(b.version.map(|v| (v.major, v.minor)), Some((3, 11)));
    let p = start_pool(&py, 4);
    let read = read(p.child.pid(), &pool_targets(&p));
    assert_pool_frames(&p, &read, 11, "Debian python3.11");
    // The native stack is still there; py-spy, which the hint would name, has nothing more to say.
    let h = &read.stacks[&(p.child.pid(), p.handlers[0])];
    assert!(!h.frames.is_empty() && h.interpreter_hint.is_none(), "{h:?}");
}

#[test]
fn runtime_without_its_symbol_is_found_by_its_shape() {
    let mut pythons: Vec<PathBuf> = debian().into_iter().collect();
    pythons.extend(pyenv().into_iter().map(|(_, d)| d.join("bin/python3")));
    for py in pythons {
        let p = start_pool(&py, 2);
        let pid = p.child.pid();
        let maps = unwedge_stacks::maps::parse(&std::fs::read(format!("/proc/{pid}/maps")).unwrap());
        let found = unwedge_stacks::python::Cache::default().find(pid, &maps).unwrap().unwrap();
        let b = found.binary.clone();
        let l = layout::layout(b.version.unwrap().minor).unwrap();
        let at = walk::find_runtime(&walk::Live(pid), &l, &found.data);
        assert_eq!(at, Ok(b.runtime.unwrap().wrapping_add(found.bias)), "{py:?}");
        // The whole read, as for an interpreter that names no _PyRuntime.
        let blind =
            unwedge_stacks::python::Found { binary: Arc::new(Binary { runtime: None, ..(*b).clone() }), ..found };
        let targets = [Target { pid, tid: p.reader, syscall: None }];
        let r = unwedge_stacks::python::read_process(pid, &blind, &targets, Duration::from_secs(1)).unwrap();
        let reader = r.threads.iter().find(|t| t.tid == Some(p.reader)).unwrap();
        assert_eq!(reader.frames[0].function, "read_reply", "{py:?}");
    }
}

#[test]
fn pyenv_pythons_3_8_to_3_13_give_frames() {
    let pythons = pyenv();
    for (minor, dir) in &pythons {
        let py = dir.join("bin/python3");
        let p = start_pool(&py, 3);
        let read = read(p.child.pid(), &pool_targets(&p));
        assert_pool_frames(&p, &read, *minor, &format!("{}", dir.display()));
        // libpython-linked: the interpreter is the shared library.
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", p.child.pid())).unwrap();
        assert!(maps.contains(&format!("libpython3.{minor}")), "{dir:?} is not libpython-linked");
    }
}

#[test]
fn python_in_a_venv() {
    let Some(py) = debian() else { return };
    let dir = tmp("venv");
    // --copies: the venv's python is a file of its own, named "python".
    let out = Command::new(&py).args(["-m", "venv", "--without-pip", "--copies"]).arg(&dir).output().unwrap();
    if !require("python3.11's venv module", out.status.success()) {
        return;
    }
    let venv_py = dir.join("bin/python");
    let p = start_pool(&venv_py, 3);
    let exe = std::fs::read_link(format!("/proc/{}/exe", p.child.pid())).unwrap();
    assert!(exe.starts_with(&dir), "{exe:?}");
    let read = read(p.child.pid(), &pool_targets(&p));
    assert_pool_frames(&p, &read, 11, "venv");
}

/// /proc/PID/task/TID/status: voluntary + involuntary context switches.
fn switches(pid: u32, tid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    s.lines()
        .filter(|l| l.contains("ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// utime + stime of a thread.
fn ticks(pid: u32, tid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
    let f: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A thread that will not wake on its own: in futex without a timeout
/// (a lock; not the GIL's timed wait), in recvfrom, or in a sleep.
fn settled(pid: u32, tid: u32) -> bool {
    let Ok(line) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")) else { return false };
    let f: Vec<&str> = line.split_whitespace().collect();
    match f.first().and_then(|n| n.parse::<u64>().ok()) {
        Some(202) => f.get(4) == Some(&"0x0"),
        Some(45) | Some(230) | Some(35) => true,
        _ => false,
    }
}

/// Each thread's context switches and CPU ticks, once every thread has
/// settled ([`settled`]) and stayed so for 300 ms: a thread still on its
/// way (printing READY, waiting for the GIL) would wake by itself.
fn settled_counters(pid: u32, all: &[u32]) -> Vec<(u64, u64)> {
    let counters = || all.iter().map(|&t| (switches(pid, t), ticks(pid, t))).collect::<Vec<_>>();
    let mut last = Vec::new();
    let ok = wait_until(Duration::from_secs(20), || {
        if !all.iter().all(|&t| settled(pid, t)) {
            return false;
        }
        let now = counters();
        std::thread::sleep(Duration::from_millis(300));
        last = counters();
        now == last && all.iter().all(|&t| settled(pid, t))
    });
    assert!(
        ok,
        "the target's threads did not settle: {:?}",
        all.iter().map(|&t| (t, settled(pid, t))).collect::<Vec<_>>()
    );
    last
}

#[test]
fn reading_python_frames_never_stops_or_wakes_the_target() {
    let Some(py) = debian() else { return };
    let p = start_pool(&py, 8);
    let pid = p.child.pid();
    let all = tasks(pid);
    let before = settled_counters(pid, &all);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            let mut polls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for t in tasks(pid) {
                    if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/task/{t}/stat")) {
                        if let Some(c) = st.rsplit_once(')').and_then(|(_, r)| r.trim_start().chars().next()) {
                            seen.insert(c);
                        }
                    }
                }
                polls += 1;
            }
            (seen, polls)
        })
    };
    let targets = pool_targets(&p);
    for _ in 0..10 {
        let r = read(pid, &targets);
        assert!(!r.stacks[&(pid, p.handlers[0])].python.is_empty());
    }
    stop.store(true, Ordering::Relaxed);
    let (seen, polls) = watcher.join().unwrap();
    assert!(polls > 100, "the watcher polled {polls} times");
    assert!(seen.iter().all(|c| matches!(c, 'S' | 'R')), "the target left S/R: {seen:?}");
    let after: Vec<(u64, u64)> = all.iter().map(|&t| (switches(pid, t), ticks(pid, t))).collect();
    let woke: Vec<String> = all
        .iter()
        .zip(before.iter().zip(&after))
        .filter(|(_, (b, a))| b != a)
        .map(|(t, (b, a))| {
            let sys = std::fs::read_to_string(format!("/proc/{pid}/task/{t}/syscall")).unwrap_or_default();
            format!("thread {t} (main {}) switches/ticks {b:?} -> {a:?}, now in {}", *t == p.main, sys.trim())
        })
        .collect();
    assert!(woke.is_empty(), "reading the Python frames woke threads: {woke:#?}");
}

/// Sends a request that the app will never answer (it waits in the pool).
fn hang_request(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: t\r\n\r\n").unwrap();
    s
}

/// Reads a WSGI worker until `n` of its threads wait in the pool; the
/// group that names them.
fn worker_pool_group(worker: u32, n: u32, what: &str) -> unwedge_model::stack::PyGroup {
    let mut last = None;
    let ok = wait_until(Duration::from_secs(15), || {
        let r = read(worker, &tasks(worker));
        let first = r.stacks.values().find_map(|s| s.python_threads.clone());
        let g = first.and_then(|t| t.groups.into_iter().find(|g| g.frames.iter().any(|f| f.function == "application")));
        let done = g.as_ref().is_some_and(|g| g.count >= n);
        last = g;
        done
    });
    let g = last.unwrap_or_else(|| panic!("{what}: no thread runs the app"));
    assert!(ok, "{what}: {g:?}");
    let m = markers("py_pool_app.py");
    let f: Vec<String> = g
        .frames
        .iter()
        .map(|f| format!("{} {}:{}", f.function, f.file.rsplit('/').next().unwrap(), f.line.unwrap_or(0)))
        .collect();
    let at = f
        .iter()
        .position(|x| *x == format!("Pool.get py_pool_app.py:{}", m["app-pool-get"]))
        .unwrap_or_else(|| panic!("{what}: {f:?}"));
    assert_eq!(f[at + 1], format!("application py_pool_app.py:{}", m["app-handler"]), "{what}: {f:?}");
    g
}

#[test]
fn gunicorn_workers_show_the_app_waiting_in_the_pool() {
    let gunicorn = Path::new("/usr/bin/gunicorn");
    if !require("Debian's gunicorn (apt-get install gunicorn)", gunicorn.exists()) {
        return;
    }
    let dir = tmp("gunicorn");
    let conf = dir.join("conf.py");
    std::fs::write(
        &conf,
        "import json, os\ndef post_worker_init(worker):\n    \
         print('READY ' + json.dumps({'worker': os.getpid(), 'port': worker.sockets[0].getsockname()[1]}), flush=True)\n",
    )
    .unwrap();
    let mut cmd = Command::new(gunicorn);
    cmd.arg("-c").arg(&conf).args(["--threads", "4", "-w", "1", "-b", "127.0.0.1:0", "--chdir"]);
    cmd.arg(scenario("")).arg("py_pool_app:app").stderr(Stdio::null());
    let g = start(cmd);
    let worker = g.ready["worker"].as_u64().unwrap() as u32;
    let port = g.ready["port"].as_u64().unwrap() as u16;
    let _held: Vec<TcpStream> = (0..4).map(|_| hang_request(port)).collect();
    let group = worker_pool_group(worker, 4, "gunicorn");
    assert_eq!(group.count, 4, "{group:?}");
    assert!(group.tids.iter().all(|t| tasks(worker).contains(t)), "{group:?}");
    assert!(
        group.frames.iter().any(|f| f.function.contains("handle_request") && f.file.ends_with("gthread.py")),
        "{group:?}"
    );
}

#[test]
fn uwsgi_workers_show_the_app_waiting_in_the_pool() {
    let ok = Path::new("/usr/bin/uwsgi").exists() && Path::new("/usr/lib/uwsgi/plugins/python3_plugin.so").exists();
    if !require("uWSGI with its python3 plugin (apt-get install uwsgi-core uwsgi-plugin-python3)", ok) {
        return;
    }
    let dir = tmp("uwsgi");
    let log = dir.join("uwsgi.log");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(
            "echo READY; exec uwsgi --plugin python3 --http-socket 127.0.0.1:0 --master --threads 4 --chdir \"$0\" \
             --module py_pool_app:application --logto \"$1\"",
        )
        .arg(scenario(""))
        .arg(&log);
    let _u = start(cmd);
    let (mut port, mut worker) = (None, None);
    let up = wait_until(Duration::from_secs(15), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let num = |after: &str| -> Option<u32> {
            text.split(after).nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        };
        port = num("bound to TCP address 127.0.0.1:");
        worker = num("spawned uWSGI worker 1 (pid: ");
        port.is_some() && worker.is_some()
    });
    assert!(up, "uWSGI did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());
    let worker = worker.unwrap();
    let maps = std::fs::read_to_string(format!("/proc/{worker}/maps")).unwrap();
    assert!(maps.contains("libpython3"), "the plugin links libpython");
    let _held: Vec<TcpStream> = (0..4).map(|_| hang_request(port.unwrap() as u16)).collect();
    // All four, the worker's main thread (whose thread state the master made before forking) too.
    let group = worker_pool_group(worker, 4, "uWSGI");
    assert!(group.tids.contains(&worker), "{group:?}");
}

/// "name value" lines of tests/stacks/py_offsets.c built against `include`.
fn header_offsets(include: &Path, name: &str) -> Option<HashMap<String, u64>> {
    let bin = tmp(&format!("offsets-{name}")).join("py_offsets");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stacks/py_offsets.c");
    let out = Command::new("cc").arg("-I").arg(include).arg("-o").arg(&bin).arg(src).output().ok()?;
    assert!(out.status.success(), "{include:?}: {}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(&bin).output().unwrap();
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| Some((l.split(' ').next()?.to_string(), l.split(' ').nth(1)?.parse().ok()?)))
            .collect(),
    )
}

/// The table's layout rebuilt from the headers' offsets.
fn layout_from_headers(o: &HashMap<String, u64>) -> layout::Layout {
    let minor = o["minor"] as u32;
    let g = |k: &str| o[k];
    let t = layout::layout(minor).unwrap_or_else(|| panic!("no table for 3.{minor}"));
    layout::Layout {
        minor,
        interpreters_head: g("interpreters_head"),
        gil: match o.get("gil_runtime_locked") {
            Some(&locked) => layout::Gil::Runtime { locked, holder: g("gil_runtime_holder") },
            None => layout::Gil::Interp {
                ptr: g("gil_interp_ptr"),
                locked: g("gil_interp_locked"),
                holder: g("gil_interp_holder"),
            },
        },
        interp_next: g("interp_next"),
        interp_threads: g("interp_threads"),
        ts_next: g("ts_next"),
        ts_interp: g("ts_interp"),
        ts_thread_id: g("ts_thread_id"),
        ts_native_id: o.get("ts_native_id").copied(),
        head: match o.get("head_direct") {
            Some(&d) => layout::Head::Direct(d),
            None => layout::Head::CFrame { cframe: g("head_cframe"), current: g("head_current") },
        },
        frames: match o.get("frame_back") {
            Some(&back) => layout::Frames::Object { back, code: g("frame_code"), lasti: g("frame_lasti") },
            None => layout::Frames::Interp {
                previous: g("frame_previous"),
                code: g("frame_code"),
                instr: g("frame_instr"),
                owner: g("frame_owner"),
            },
        },
        co_filename: g("co_filename"),
        co_name: g("co_name"),
        co_qualname: o.get("co_qualname").copied(),
        co_firstlineno: g("co_firstlineno"),
        co_lines: g("co_lines"),
        co_code: o.get("co_code").copied(),
        lines: t.lines,
        ob_type: g("ob_type"),
        ob_size: g("ob_size"),
        bytes_data: g("bytes_data"),
        str_length: g("str_length"),
        str_state: g("str_state"),
        ascii_size: g("ascii_size"),
        compact_size: g("compact_size"),
        ready_bit: g("state_ready") == 128,
    }
}

#[test]
fn layout_table_matches_each_interpreters_headers() {
    if !require("a C compiler (cc)", Command::new("cc").arg("--version").output().is_ok()) {
        return;
    }
    let mut checked = 0;
    let debian_include = Path::new("/usr/include/python3.11");
    let mut includes: Vec<(String, PathBuf)> = Vec::new();
    if require(
        "Debian's python3.11 headers (apt-get install libpython3.11-dev)",
        debian_include.join("internal").exists(),
    ) {
        includes.push(("debian-3.11".into(), debian_include.to_path_buf()));
    }
    for (minor, dir) in pyenv() {
        includes.push((format!("pyenv-3.{minor}"), dir.join(format!("include/python3.{minor}"))));
    }
    for (name, inc) in includes {
        let Some(o) = header_offsets(&inc, &name) else { continue };
        // The state bits the string reader tests are where it tests them.
        assert_eq!((o["state_kind"], o["state_compact"], o["state_ascii"]), (28, 32, 64), "{name}");
        let minor = o["minor"] as u32;
        assert_eq!(layout_from_headers(&o), layout::layout(minor).unwrap(), "{name}");
        checked += 1;
    }
    assert!(checked > 0, "no interpreter's headers were found");
}

#[test]
fn debug_offsets_of_3_13_agree_with_the_table() {
    let Some((_, dir)) = pyenv().into_iter().find(|(m, _)| *m == 13) else {
        eprintln!("no CPython 3.13 under {PYENV}: _Py_DebugOffsets not checked");
        return;
    };
    let p = start_pool(&dir.join("bin/python3"), 1);
    let pid = p.child.pid();
    let maps = unwedge_stacks::maps::parse(&std::fs::read(format!("/proc/{pid}/maps")).unwrap());
    let lib = maps.iter().find(|m| m.path.as_deref().is_some_and(|p| p.contains("libpython3.13"))).unwrap();
    let b = Binary::parse(&std::fs::read(lib.path.as_deref().unwrap()).unwrap(), "libpython3.13.so.1.0").unwrap();
    let bias = unwedge_stacks::elf::ModuleData { segments: b.segments.clone(), ..Default::default() }
        .bias(lib.start, lib.offset)
        .unwrap();
    let bytes = walk::Live(pid).read(b.runtime.unwrap().wrapping_add(bias), layout::DEBUG_OFFSETS_313).unwrap();
    assert_eq!(layout::from_debug_offsets(&bytes), Ok(layout::layout(13).unwrap()));
}

#[test]
fn line_decoders_agree_with_each_interpreter() {
    let mut pythons: Vec<(String, PathBuf)> = Vec::new();
    if let Some(d) = debian() {
        pythons.push(("debian-3.11".into(), d));
    }
    pythons.extend(pyenv().into_iter().map(|(m, d)| (format!("pyenv-3.{m}"), d.join("bin/python3"))));
    for (name, py) in pythons {
        let out = Command::new(&py).arg(scenario("py_linetables.py")).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let minor = v["minor"].as_u64().unwrap() as u32;
        let kind = layout::layout(minor).unwrap().lines;
        let (mut codes, mut addrs) = (0, 0);
        for c in v["codes"].as_array().unwrap() {
            let hex = c["table"].as_str().unwrap();
            let table: Vec<u8> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            let first = c["first"].as_i64().unwrap() as i32;
            for pair in c["lines"].as_array().unwrap() {
                let addr = pair[0].as_i64().unwrap();
                let want = pair[1].as_u64().map(|l| l as u32).filter(|&l| l > 0);
                let got = match kind {
                    layout::Lines::Lnotab => decode::lnotab_line(&table, first, addr),
                    layout::Lines::Linetable => decode::linetable_line(&table, first, addr),
                    layout::Lines::Locations => decode::locations_line(&table, first, addr),
                };
                assert_eq!(got, want, "{name}: {} (first line {first}) at byte {addr}", c["name"]);
                addrs += 1;
            }
            codes += 1;
        }
        assert!(codes > 200 && addrs > 10_000, "{name}: {codes} code objects, {addrs} instructions");
    }
}

#[test]
fn the_thread_holding_the_gil_is_named() {
    let mut pythons: Vec<(String, PathBuf)> = debian().into_iter().map(|d| ("debian-3.11".to_string(), d)).collect();
    pythons.extend(pyenv().into_iter().map(|(m, d)| (format!("pyenv-3.{m}"), d.join("bin/python3"))));
    let m = markers("py_gil_held.py");
    for (name, py) in pythons {
        let mut cmd = Command::new(&py);
        cmd.arg("-u").arg(scenario("py_gil_held.py")).arg("2");
        let child = start(cmd);
        let pid = child.pid();
        let holder = child.ready["holder"].as_u64().unwrap() as u32;
        let waiters: Vec<u32> =
            child.ready["waiters"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        // The holder blocks in read(2) with the GIL; the waiters wait for it in futex.
        assert!(
            wait_until(Duration::from_secs(10), || syscall_nr(pid, holder) == Some(0)
                && waiters.iter().all(|&w| syscall_nr(pid, w) == Some(202))),
            "{name}: the holder did not block in read"
        );
        let mut targets = vec![holder];
        targets.extend(&waiters);
        let r = read(pid, &targets);
        let h = &r.stacks[&(pid, holder)];
        assert_eq!(h.holds_gil, Some(true), "{name}: {h:?}");
        assert_eq!(names(h)[0], format!("read_holding_the_gil py_gil_held.py:{}", m["gil-read"]), "{name}");
        let threads = h.python_threads.as_ref().unwrap();
        assert_eq!(threads.gil_holder, Some(holder), "{name}");
        for w in &waiters {
            let s = &r.stacks[&(pid, *w)];
            assert!(s.holds_gil != Some(true), "{name}: waiter {w} {s:?}");
        }
    }
}

#[test]
fn unknown_versions_say_so_and_name_py_spy() {
    // pyenv's 3.7 and 2.7, when present: not in the table, and said.
    let old: Vec<(String, PathBuf)> = ["3.7", "2.7"]
        .iter()
        .filter_map(|v| {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(PYENV).ok()?.filter_map(|e| Some(e.ok()?.path())).collect();
            dirs.retain(|d| d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{v}."))));
            dirs.sort();
            let d = dirs.pop()?;
            let bin = d.join("bin").join(format!("python{v}"));
            bin.exists().then(|| (v.to_string(), bin))
        })
        .collect();
    if old.is_empty() {
        eprintln!("\n!!!!!!!! no CPython 3.7 or 2.7 under {PYENV}: the unknown-version note was not checked live\n");
        return;
    }
    for (v, py) in old {
        let mut cmd = Command::new(&py);
        cmd.args(["-c", "import sys, time; sys.stdout.write('READY\\n'); sys.stdout.flush(); time.sleep(60)"]);
        let child = start(cmd);
        let pid = child.pid();
        let r = read(pid, &[pid]);
        let note = r.stacks[&(pid, pid)].python_note.clone().unwrap_or_default();
        assert!(note.contains(&format!("CPython {v}")) && note.contains("not known"), "{v}: {note}");
        assert!(note.contains(&format!("py-spy dump --pid {pid}")), "{v}: {note}");
        assert!(r.stacks[&(pid, pid)].python.is_empty());
    }
}
