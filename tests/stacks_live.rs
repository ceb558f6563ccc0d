//! Live user stacks (issue 16): story 1's proxy built here from C (with a
//! symbol table, then stripped with its debug file under a build-id path),
//! C++ (demangled names) and Rust, scanned for real; a stripped Go program
//! named from .gopclntab; and the promises: the target never leaves S/R
//! and its threads do not wake while it is read, `--stacks=ptrace` stops a
//! running thread for a moment only, and never one that already has a
//! tracer; `--stacks=off` reads nothing.

mod common;

use common::{findings, require, scan_until, start, Child};
use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use unwedge_stacks::{Mode, Reader, Target};

fn src(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stacks").join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stacks").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn has(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs a build command; panics with its output if it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A story-1 process: its upstream (a listener that never answers: the
/// kernel completes the handshake, nobody reads or writes) and the client
/// whose request waits unread.
struct Story {
    child: Child,
    _upstream: TcpListener,
    _origin: Option<TcpStream>,
    _client: TcpStream,
    filter: u32,
    /// One story at a time: this test process is every story's origin,
    /// and two origins left unread at once make it a stuck process whose
    /// finding (rightly) heads the story, folding the proxy's beneath it.
    _turn: std::sync::MutexGuard<'static, ()>,
}

static STORY_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Story {
    fn pid(&self) -> u32 {
        self.child.pid()
    }
}

fn start_story(bin: &Path, env: &[(&str, &str)]) -> Story {
    let turn = STORY_TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg(upstream.local_addr().unwrap().port().to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = start(cmd);
    let port = child.ready["port"].as_u64().unwrap() as u16;
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"GET /big.pdf HTTP/1.1\r\nHost: proxy\r\n\r\n").unwrap();
    let pid = child.pid();
    let mut filter = 0;
    let found = common::wait_until(Duration::from_secs(10), || {
        filter = thread_named(pid, "ssl-filter").unwrap_or(0);
        filter != 0 && syscall_nr(pid, filter) == Some(45) && syscall_nr(pid, pid) == Some(202)
    });
    assert!(found, "the proxy's threads did not settle in recvfrom and futex");
    // The origin accepts and keeps the connection open (story 1's keep-alive
    // upstream); one that never accepted would be a stalled listener instead.
    upstream.set_nonblocking(true).unwrap();
    let mut origin = None;
    let accepted = common::wait_until(Duration::from_secs(10), || {
        origin = upstream.accept().ok().map(|(c, _)| c);
        origin.is_some()
    });
    assert!(accepted, "the proxy did not connect to its upstream");
    Story { child, _upstream: upstream, _origin: origin, _client: client, filter, _turn: turn }
}

fn tasks(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

fn thread_named(pid: u32, name: &str) -> Option<u32> {
    tasks(pid)
        .into_iter()
        .find(|t| std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm")).is_ok_and(|c| c.trim() == name))
}

fn syscall_nr(pid: u32, tid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).ok()?.split(' ').next()?.parse().ok()
}

/// Function names of a thread's `user_stack`, innermost first.
fn functions(thread: &Value) -> Vec<String> {
    thread["user_stack"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["function"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Scans PID until both story threads have a stuck_thread finding with a
/// user stack; returns (main thread finding, filter thread finding).
fn scan_story(s: &Story, extra: &[&str], env: &[(&str, &str)]) -> (Value, Value) {
    let pid = s.pid().to_string();
    let mut args = vec!["--pid", &pid, "--interval", "0.5"];
    args.extend_from_slice(extra);
    fn with_stack(r: &Value, tid: u32) -> Option<&Value> {
        findings(r, "stuck_thread")
            .into_iter()
            .find(|f| f["tid"].as_u64() == Some(tid as u64) && f["evidence"]["thread"]["user_stack"].is_array())
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut cmd = common::unwedge();
        cmd.arg("scan").arg("--json").args(&args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if let (Some(m), Some(f)) = (with_stack(&report, s.pid()), with_stack(&report, s.filter)) {
            return (m.clone(), f.clone());
        }
        assert!(std::time::Instant::now() < deadline, "no stuck_thread findings with user stacks: {report:#}");
    }
}

fn human(s: &Story, env: &[(&str, &str)]) -> String {
    let mut cmd = common::unwedge();
    cmd.args(["scan", "--pid", &s.pid().to_string(), "--interval", "0.5", "--color", "never"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
}

fn build_c(name: &str) -> Option<PathBuf> {
    if !require("a C compiler (cc) for the stack tests", has("cc")) {
        return None;
    }
    let dir = tmp(name);
    let bin = dir.join("story1_proxy");
    // A distro-like build: optimised, no debug info, symbol table kept.
    run(Command::new("cc").args(["-O2", "-pthread", "-o"]).arg(&bin).arg(src("story1_proxy.c")));
    Some(bin)
}

#[test]
fn c_proxy_stack_names_the_join_and_the_upstream_read() {
    let Some(bin) = build_c("c") else { return };
    let s = start_story(&bin, &[]);
    let (main, filter) = scan_story(&s, &[], &[]);
    let m = functions(&main["evidence"]["thread"]);
    assert!(m.iter().any(|f| f == "__pthread_clockjoin_ex" || f.contains("pthread_join")), "{m:?}");
    assert!(m.contains(&"wait_for_filter".into()) && m.contains(&"main".into()), "{m:?}");
    assert!(m.iter().any(|f| f.starts_with("handle_client")), "{m:?}");
    let f = functions(&filter["evidence"]["thread"]);
    assert!(f.iter().any(|x| x.starts_with("relay_upstream_filter")), "{f:?}");
    let frame = &main["evidence"]["thread"]["user_stack"][0];
    assert!(frame["addr"].as_str().unwrap().starts_with("0x") && frame["module"].as_str().unwrap().contains("libc"));
    // The fix says what the stack shows.
    let fix = main["fix"].as_str().unwrap();
    assert!(fix.contains("pthread_join") && fix.contains("relay_upstream_filter"), "{fix}");
    // The origin accepted the request and never answered: our bytes were the last.
    assert!(fix.contains(&format!("thread {}", s.filter)) && fix.contains("owes it an answer"), "{fix}");
    // The human report: beside the kernel stack, folded.
    let text = human(&s, &[]);
    assert!(text.contains("user stack: pthread_join ← wait_for_filter ← handle_client ← main"), "{text}");
    assert!(text.contains("user stack: recv ← relay_upstream_filter ← filter_main"), "{text}");
}

#[test]
fn stripped_binary_is_named_from_its_build_id_debug_file() {
    if !require("objcopy and strip (binutils)", has("objcopy") && has("strip")) {
        return;
    }
    let Some(bin) = build_c("stripped") else { return };
    let dir = bin.parent().unwrap().to_path_buf();
    let debug = dir.join("story1_proxy.debug");
    run(Command::new("objcopy").arg("--only-keep-debug").arg(&bin).arg(&debug));
    run(Command::new("strip").arg("--strip-all").arg(&bin));
    run(Command::new("objcopy").arg(format!("--add-gnu-debuglink={}", debug.display())).arg(&bin));
    let id = unwedge_stacks::elf::ModuleData::parse(&std::fs::read(&bin).unwrap()).unwrap().build_id_hex().unwrap();
    // Only under the build-id path of a debug root: not beside the binary.
    let root = dir.join("debug-root");
    let at = root.join(".build-id").join(&id[..2]).join(format!("{}.debug", &id[2..]));
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::fs::rename(&debug, &at).unwrap();
    let syms = unwedge_stacks::elf::ModuleData::parse(&std::fs::read(&bin).unwrap()).unwrap();
    assert!(syms.eh_frame.is_some(), "stripping keeps the unwind tables");

    let s = start_story(&bin, &[]);
    let env = [("UNWEDGE_DEBUG_DIRS", root.to_str().unwrap())];
    let (main, filter) = scan_story(&s, &[], &env);
    let m = functions(&main["evidence"]["thread"]);
    assert!(m.contains(&"wait_for_filter".into()) && m.iter().any(|f| f.starts_with("handle_client")), "{m:?}");
    assert!(functions(&filter["evidence"]["thread"]).iter().any(|x| x.starts_with("relay_upstream_filter")));
    // Without the debug file the program's frames have no names (so the names above came from it).
    let (main, _) = scan_story(&s, &[], &[("UNWEDGE_DEBUG_DIRS", dir.join("empty").to_str().unwrap())]);
    let m = functions(&main["evidence"]["thread"]);
    assert!(!m.contains(&"wait_for_filter".into()), "{m:?}");
}

#[test]
fn cpp_names_are_demangled() {
    if !require("a C++ compiler (g++) for the stack tests", has("c++")) {
        return;
    }
    let bin = tmp("cpp").join("story1_proxy_cpp");
    run(Command::new("c++").args(["-O2", "-pthread", "-o"]).arg(&bin).arg(src("story1_proxy.cpp")));
    let s = start_story(&bin, &[]);
    let (main, filter) = scan_story(&s, &[], &[]);
    let m = functions(&main["evidence"]["thread"]);
    assert!(m.iter().any(|f| f.starts_with("proxy::Session::wait_for_filter")), "{m:?}");
    assert!(m.iter().any(|f| f.starts_with("std::thread::join")), "{m:?}");
    assert!(m.iter().all(|f| !f.starts_with("_Z")), "mangled names left: {m:?}");
    let f = functions(&filter["evidence"]["thread"]);
    assert!(f.iter().any(|x| x.starts_with("proxy::Session::relay_upstream_filter")), "{f:?}");
    assert!(main["fix"].as_str().unwrap().contains("proxy::Session::relay_upstream_filter"), "{main:#}");
}

/// A long-lived reader (serve, watch) drops at the end of a scan the
/// binaries' tables no read of that scan used: a lasting finding's
/// sleeping threads come from the caller's cache and need none.
#[test]
fn a_scan_that_reads_no_stack_drops_the_tables() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(200));
    let mut reader = Reader::new();
    let read = reader.read(Mode::Auto, &[Target { pid, tid: pid, syscall: None }]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(read.stacks.get(&(pid, pid)).is_some_and(|s| !s.frames.is_empty()), "{read:?}");
    let loaded = reader.cached_modules();
    assert!(loaded > 0, "the read loaded no table");
    reader.end_scan();
    assert_eq!(reader.cached_modules(), loaded, "a table this scan used stays");
    reader.end_scan();
    assert_eq!(reader.cached_modules(), 0, "a scan that used none drops them");
}

#[test]
fn rust_program_is_named() {
    if !require("rustc for the stack tests", has("rustc")) {
        return;
    }
    let bin = tmp("rust").join("story1_proxy_rs");
    run(Command::new("rustc").args(["-O", "--edition", "2021", "-o"]).arg(&bin).arg(src("story1_proxy.rs")));
    let s = start_story(&bin, &[]);
    let (main, filter) = scan_story(&s, &[], &[]);
    let m = functions(&main["evidence"]["thread"]);
    assert!(m.iter().any(|f| f == "story1_proxy::wait_for_filter"), "{m:?}");
    assert!(m.iter().any(|f| f.contains("JoinHandle") || f.contains("JoinInner")), "{m:?}");
    let f = functions(&filter["evidence"]["thread"]);
    assert!(f.iter().any(|x| x == "story1_proxy::relay_upstream_filter"), "{f:?}");
}

/// Builds tests/stacks/goroutines.go (stripped with `strip -s -w` when
/// asked) and starts it with an upstream that never answers; `None` when
/// the toolchain is missing.
fn start_go(name: &str, stripped: bool) -> Option<(Child, TcpListener, PathBuf)> {
    start_go_with(name, stripped, &[])
}

fn start_go_with(name: &str, stripped: bool, flags: &[&str]) -> Option<(Child, TcpListener, PathBuf)> {
    let go = ["/usr/bin/go", "/usr/lib/go/bin/go"].into_iter().map(PathBuf::from).find(|p| p.exists());
    if !require("a Go toolchain (golang-go)", go.is_some()) || !require("strip (binutils)", has("strip")) {
        return None;
    }
    let dir = tmp(name);
    let bin = dir.join("goroutines");
    run(Command::new(go.unwrap())
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(&bin)
        .arg(src("goroutines.go"))
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", ""));
    if stripped {
        run(Command::new("strip").args(["-s", "-w"]).arg(&bin));
    }
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cmd = Command::new(&bin);
    cmd.arg(upstream.local_addr().unwrap().to_string());
    let child = start(cmd);
    let pid = child.pid();
    // Every thread parked (futex or epoll_wait), goroutines blocked on the mutex, the channel and the read.
    assert!(common::wait_until(Duration::from_secs(10), || {
        let t = tasks(pid);
        t.len() >= 2 && t.iter().all(|&tid| matches!(syscall_nr(pid, tid), Some(202) | Some(232) | Some(281)))
    }));
    Some((child, upstream, bin))
}

#[test]
fn stripped_go_program_is_named_from_gopclntab() {
    let Some((child, _upstream, bin)) = start_go("go", true) else { return };
    let m = unwedge_stacks::elf::ModuleData::parse(&std::fs::read(&bin).unwrap()).unwrap();
    assert!(m.go.is_some() && !m.has_symbols, "stripped, with .gopclntab");
    assert!(m.allgs.is_none() && m.go_version.as_deref().is_some_and(|v| v.starts_with("go1.")), "{:?}", m.go_version);
    let pid = child.pid();
    let targets: Vec<Target> = tasks(pid).into_iter().map(|tid| Target { pid, tid, syscall: None }).collect();
    let read = Reader::new().read(Mode::Auto, &targets);
    let mut named = 0;
    for ((_, tid), stack) in &read.stacks {
        let fns: Vec<&str> = stack.frames.iter().filter_map(|f| f.function.as_deref()).collect();
        assert!(!stack.frames.is_empty(), "thread {tid}: {:?}", stack.note);
        assert!(fns.len() == stack.frames.len(), "thread {tid} has unnamed frames: {:?}", stack.frames);
        assert!(fns[0] == "runtime.futex" || fns[0] == "runtime.epollwait", "thread {tid}: {fns:?}");
        // The walk reached the thread's first frame (pcsp sizes were right all the way).
        assert!(stack.note.is_none(), "thread {tid}: {:?} {fns:?}", stack.note);
        let f = &stack.frames[0];
        assert!(f.file.as_deref().is_some_and(|p| p.ends_with(".s")) && f.line.is_some(), "{f:?}");
        named += fns.iter().filter(|f| f.starts_with("runtime.")).count();
    }
    assert!(named > 4, "{read:?}");
    // No symbol table: runtime.allgs is found in .bss (one candidate passes the checks), and the note says so.
    let first = &read.stacks[&(pid, targets[0].tid)];
    if m.g_layout.is_none() {
        let note = first.goroutines_note.as_deref().unwrap_or_default();
        assert!(first.goroutines.is_none() && note.contains("layout") && note.contains("stripped"), "{note}");
        return;
    }
    let note = first.goroutines_note.as_deref().unwrap_or_default();
    assert!(note.contains("found by scanning .bss"), "{note}");
    assert_goroutines(&read, pid, targets[0].tid);
}

#[test]
fn go_goroutines_of_a_pie_binary() {
    // Loaded at a random address: allgs and every pc move by the load bias.
    let Some((child, _upstream, bin)) = start_go_with("go-pie", false, &["-buildmode=pie"]) else { return };
    let exe = std::fs::read(&bin).unwrap();
    let m = unwedge_stacks::elf::ModuleData::parse(&exe).unwrap();
    assert!(m.allgs.is_some() && exe[16] == 3, "a PIE (ET_DYN) with its symbol table");
    if m.g_layout.is_none() {
        return;
    }
    let pid = child.pid();
    let targets: Vec<Target> = tasks(pid).into_iter().map(|tid| Target { pid, tid, syscall: None }).collect();
    let read = Reader::new().read(Mode::Auto, &targets);
    assert_goroutines(&read, pid, targets[0].tid);
}

/// The goroutines of tests/stacks/goroutines.go, on the first thread read.
fn assert_goroutines(read: &unwedge_stacks::Stacks, pid: u32, tid: u32) {
    let first = &read.stacks[&(pid, tid)];
    let groups = first.goroutines.as_ref().unwrap_or_else(|| panic!("no goroutines: {:?}", first.goroutines_note));
    assert_eq!(read.stacks.values().filter(|s| s.goroutines.is_some()).count(), 1, "once per process");
    let find = |f: &str| groups.iter().find(|g| group_functions(g).contains(&f));
    let locked = find("main.lockedWorker").unwrap_or_else(|| panic!("{groups:#?}"));
    assert!(group_functions(locked).contains(&"sync.(*Mutex).Lock"), "{locked:?}");
    assert!(
        locked.wait_reason.as_deref().is_some_and(|r| r.contains("semacquire") || r.contains("Mutex")),
        "{locked:?}"
    );
    let waiting = find("main.waitForResult").unwrap_or_else(|| panic!("{groups:#?}"));
    assert_eq!(waiting.wait_reason.as_deref(), Some("chan receive"), "{waiting:?}");
    assert!(group_functions(waiting).contains(&"runtime.chanrecv"), "{waiting:?}");
    let main = find("main.main").unwrap_or_else(|| panic!("{groups:#?}"));
    assert_eq!(main.wait_reason.as_deref(), Some("IO wait"), "{main:?}");
    assert!(group_functions(main).iter().any(|f| f.contains("(*netFD).Read") || f.contains("(*FD).Read")), "{main:?}");
    // The runtime's own idle goroutines (bgsweep, forcegchelper, …) are left out.
    assert!(groups.iter().all(|g| !group_functions(g).iter().all(|f| f.starts_with("runtime."))), "{groups:#?}");
    assert!(groups.iter().all(|g| g.count == 1), "{groups:#?}");
}

/// Function names of a goroutine group, innermost first.
fn group_functions(g: &unwedge_stacks::GoroutineGroup) -> Vec<&str> {
    g.frames.iter().filter_map(|f| f.function.as_deref()).collect()
}

#[test]
fn go_goroutines_are_read_from_allgs() {
    let Some((child, _upstream, bin)) = start_go("go-unstripped", false) else { return };
    let exe = std::fs::read(&bin).unwrap();
    let m = unwedge_stacks::elf::ModuleData::parse(&exe).unwrap();
    assert!(m.allgs.is_some(), "runtime.allgs in .symtab");
    // The g layout from DWARF is the table's for the versions the table knows.
    let dwarf = unwedge_stacks::elf::dwarf_g_layout(&exe).expect("runtime.g in .debug_info");
    if let Some(table) = m.go_version.as_deref().and_then(unwedge_stacks::goroutines::layout) {
        assert_eq!(table, unwedge_stacks::goroutines::Layout { minor: table.minor, ..dwarf });
    }
    let pid = child.pid();
    let targets: Vec<Target> = tasks(pid).into_iter().map(|tid| Target { pid, tid, syscall: None }).collect();
    let read = Reader::new().read(Mode::Auto, &targets);
    let first = &read.stacks[&(pid, targets[0].tid)];
    // The binary's own wait reason names (non-PIE: link-time addresses) are the table's for its version.
    let (at, size) = m.wait_reasons.expect("runtime.waitReasonStrings in .symtab");
    let names = unwedge_stacks::goroutines::read_reasons(pid, at, size).expect("the names read");
    assert!(names.iter().any(|n| n == "chan receive"), "{names:?}");
    if let Some(minor) = m.go_version.as_deref().and_then(unwedge_stacks::goroutines::minor) {
        if unwedge_stacks::goroutines::layout(m.go_version.as_deref().unwrap()).is_some() {
            for (i, n) in names.iter().enumerate() {
                let want = unwedge_stacks::goroutines::wait_reason(minor, i as u8).unwrap_or("");
                assert_eq!(n, want, "wait reason {i}");
            }
        }
    }
    if m.g_layout.is_none() {
        // A toolchain whose g layout is not in the table: said, not guessed.
        let note = first.goroutines_note.as_deref().unwrap_or_default();
        assert!(first.goroutines.is_none() && note.contains("layout"), "{note}");
        return;
    }
    assert_goroutines(&read, pid, targets[0].tid);
    assert!(first.goroutines_note.is_none(), "{:?}", first.goroutines_note);
}

/// /proc/PID/task/TID/status counters of a thread: voluntary + involuntary context switches.
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

#[test]
fn reading_never_stops_or_wakes_the_target() {
    let Some(bin) = build_c("never-stop") else { return };
    let s = start_story(&bin, &[]);
    let pid = s.pid();
    let before: Vec<(u64, u64)> = [pid, s.filter].iter().map(|&t| (switches(pid, t), ticks(pid, t))).collect();
    // Watch every thread's state while unwedge scans and reads the stacks.
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
    let (main, _) = scan_story(&s, &[], &[]);
    stop.store(true, Ordering::Relaxed);
    let (seen, polls) = watcher.join().unwrap();
    assert!(!functions(&main["evidence"]["thread"]).is_empty());
    assert!(polls > 100, "the watcher polled {polls} times");
    assert!(seen.iter().all(|c| matches!(c, 'S' | 'R')), "the target left S/R: {seen:?}");
    let after: Vec<(u64, u64)> = [pid, s.filter].iter().map(|&t| (switches(pid, t), ticks(pid, t))).collect();
    assert_eq!(before, after, "reading the stacks woke a thread (context switches, CPU ticks)");
}

#[test]
fn stacks_off_reads_none() {
    let Some(bin) = build_c("off") else { return };
    let s = start_story(&bin, &[]);
    let pid = s.pid().to_string();
    let r = scan_until(&["--pid", &pid, "--interval", "0.5", "--stacks", "off"], Duration::from_secs(30), |r| {
        findings(r, "stuck_thread").len() >= 2
    });
    let stuck = findings(&r, "stuck_thread");
    assert!(stuck.len() >= 2, "{r:#}");
    for f in stuck {
        assert!(f["evidence"]["thread"].get("user_stack").is_none(), "{f:#}");
        assert!(!f["fix"].as_str().unwrap().contains("user stack shows"), "{f:#}");
    }
}

fn start_spinner(name: &str) -> Option<(Child, u32)> {
    if !require("a C compiler (cc) for the stack tests", has("cc")) {
        return None;
    }
    let bin = tmp(name).join("spinner");
    run(Command::new("cc").args(["-O2", "-pthread", "-o"]).arg(&bin).arg(src("spinner.c")));
    let child = start(Command::new(&bin));
    let tid = child.ready["spinner"].as_u64().unwrap() as u32;
    Some((child, tid))
}

fn state(pid: u32, tid: u32) -> char {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
    s.rsplit_once(')').unwrap().1.trim_start().chars().next().unwrap()
}

fn tracer(pid: u32, tid: u32) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    s.lines().find_map(|l| l.strip_prefix("TracerPid:")).unwrap().trim().to_string()
}

#[test]
fn ptrace_mode_reads_a_running_thread_and_lets_it_go() {
    if !require("root (ptrace of a child)", common::is_root()) {
        return;
    }
    let Some((child, tid)) = start_spinner("spinner-free") else { return };
    let pid = child.pid();
    assert!(common::wait_until(Duration::from_secs(5), || state(pid, tid) == 'R'));
    let target = [Target { pid, tid, syscall: None }];
    let mut reader = Reader::new();
    // auto never stops it: a running thread gets no stack, and says why.
    let auto = reader.read(Mode::Auto, &target);
    let note = auto.stacks[&(pid, tid)].note.clone().unwrap_or_default();
    assert!(auto.stacks[&(pid, tid)].frames.is_empty() && note.contains("--stacks=ptrace"), "{note}");
    let read = reader.read(Mode::Ptrace, &target);
    let stack = &read.stacks[&(pid, tid)];
    let fns: Vec<&str> = stack.frames.iter().filter_map(|f| f.function.as_deref()).collect();
    assert!(fns.iter().any(|f| f.starts_with("spin_forever") || f.starts_with("spinner")), "{stack:?}");
    // Detached: it runs on, untraced.
    assert_eq!(tracer(pid, tid), "0");
    let t0 = ticks(pid, tid);
    assert!(common::wait_until(Duration::from_secs(5), || ticks(pid, tid) > t0 + 5), "the spinner stopped running");
    assert!(matches!(state(pid, tid), 'R' | 'S'));
}

#[test]
fn ptrace_mode_does_not_attach_to_a_traced_thread() {
    if !require("root (ptrace of a child)", common::is_root()) || !require("python3", has("python3")) {
        return;
    }
    let Some((child, tid)) = start_spinner("spinner-traced") else { return };
    let pid = child.pid();
    // Another tracer (a forgotten debugger) holds the thread without stopping it (PTRACE_SEIZE).
    let holder = format!(
        "import ctypes,sys,time\nlibc=ctypes.CDLL(None,use_errno=True)\n\
         r=libc.ptrace(0x4206,{tid},None,None)\nprint('READY',flush=True) if r==0 else sys.exit('seize: %d'%ctypes.get_errno())\n\
         time.sleep(120)\n"
    );
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(holder);
    let holder = start(cmd);
    assert_eq!(tracer(pid, tid), holder.pid().to_string());
    let read = Reader::new().read(Mode::Ptrace, &[Target { pid, tid, syscall: None }]);
    let stack = &read.stacks[&(pid, tid)];
    let note = stack.note.clone().unwrap_or_default();
    assert!(stack.frames.is_empty() && note.contains(&format!("already traced by pid {}", holder.pid())), "{note}");
    assert_eq!(tracer(pid, tid), holder.pid().to_string(), "the other tracer keeps it");
    assert!(matches!(state(pid, tid), 'R' | 'S'));
}
