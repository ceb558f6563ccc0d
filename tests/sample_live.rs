//! Live CPU sampling and CPU facts (issue 26, threads busy on CPU): a C
//! busy loop named from its samples (with a symbol table; stripped with
//! frame pointers and its debug file under a build-id path); a Node
//! server pinned by a catastrophic-backtracking regex, busy the whole
//! window, its JIT frames unnamed without `--perf-basic-prof` and named
//! with it; a one-request-at-a-time worker starved by six CPU hogs on its
//! CPU, told apart from a busy one; and the twins that must not be called
//! busy: a CPU-heavy Python service answering at a modest rate, a Node
//! server under light load. Every target keeps running (state R or S)
//! throughout: perf sampling never stops it. Every spinning child has a
//! CPU-time limit (RLIMIT_CPU) and is killed when its test ends.

mod common;

use common::states::{assert_never_stopped, states_during};
use common::{require, start, Child};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use unwedge_model::cpu::{self, CpuState};
use unwedge_model::{CpuProfile, Process, Snapshot, Thread};
use unwedge_stacks::sample::Settings;
use unwedge_stacks::Reader;

fn src(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sample").join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sample").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn has(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A command whose process dies after `cpu_s` seconds of CPU (SIGXCPU),
/// pinned to CPU `pin` when given: a test that dies early leaves no spinner.
fn bounded(mut cmd: Command, cpu_s: u64, pin: Option<usize>) -> Command {
    // SAFETY: setrlimit and sched_setaffinity are async-signal-safe, and
    // touch only the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit { rlim_cur: cpu_s, rlim_max: cpu_s + 5 };
            if libc::setrlimit(libc::RLIMIT_CPU, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(c) = pin {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(c, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd
}

fn tids(pid: u32) -> Vec<u32> {
    let mut t: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    t.sort_unstable();
    t
}

/// One reading of `pids` (all their threads) as a snapshot holds it: what
/// the collector will read for the analysis (unwedge_stacks::cpu).
fn reading(pids: &[u32]) -> Snapshot {
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap();
    let mut snap = Snapshot {
        uptime_s: uptime.split_whitespace().next().unwrap().parse().unwrap(),
        // SAFETY: sysconf has no preconditions.
        clk_tck: unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64,
        online_cpus: Some(online_cpus().len() as u32),
        cpu_pressure: std::fs::read_to_string("/proc/pressure/cpu").ok().and_then(|t| psi(&t)),
        ..Default::default()
    };
    for &pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let start_ticks = stat.rsplit_once(") ").unwrap().1.split(' ').nth(19).unwrap().parse().unwrap();
        let threads = tids(pid)
            .into_iter()
            .map(|tid| {
                let ticks = std::fs::read(format!("/proc/{pid}/task/{tid}/stat"))
                    .ok()
                    .and_then(|b| unwedge_collect::parse::stat::parse(&b))
                    .map(|st| st.utime + st.stime)
                    .unwrap_or(0);
                Thread {
                    tid,
                    comm: std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                        .unwrap_or_default()
                        .trim()
                        .into(),
                    utime: ticks,
                    schedstat: unwedge_stacks::cpu::read_schedstat(pid, tid),
                    ..Default::default()
                }
            })
            .collect();
        snap.processes.push(Process {
            pid,
            start_ticks,
            comm: std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().into(),
            cpu_ticks_total: unwedge_collect::proc_one::stat(pid).ok().map(|st| st.utime + st.stime),
            cpus_allowed: cpus_allowed(pid),
            threads,
            ..Default::default()
        });
    }
    snap
}

/// The CPUs online.
fn online_cpus() -> Vec<u32> {
    unwedge_model::cpu::cpu_list(&std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default())
}

/// The process's allowed CPUs when fewer than those online, as the collector keeps them.
fn cpus_allowed(pid: u32) -> Option<String> {
    let status = std::fs::read(format!("/proc/{pid}/status")).ok()?;
    let list = unwedge_collect::parse::status::cpus_allowed_list(&status)?;
    (unwedge_model::cpu::cpu_list(list).len() < online_cpus().len()).then(|| list.to_string())
}

/// /proc/pressure/cpu's "some" line (the collector parses it with its PSI parser).
fn psi(text: &str) -> Option<unwedge_model::Psi> {
    let some = text.lines().find(|l| l.starts_with("some "))?;
    let field = |k: &str| some.split_whitespace().find_map(|f| f.strip_prefix(k));
    Some(unwedge_model::Psi {
        some_avg10: field("avg10=")?.parse().ok()?,
        some_total_us: field("total=")?.parse().ok()?,
        ..Default::default()
    })
}

/// Samples one thread for `window` with a fresh reader.
fn sample(reader: &mut Reader, pid: u32, tid: u32, window: Duration) -> CpuProfile {
    let settings = Settings { window, ..Settings::default() };
    let mut s = reader.sample(&[(pid, tid)], &settings).unwrap_or_else(|r| panic!("sampling refused: {r}"));
    s.profiles.remove(&(pid, tid)).expect("a profile for the thread")
}

fn names(stack: &unwedge_model::HotStack) -> Vec<String> {
    stack.frames.iter().map(|f| f.function.clone().unwrap_or_else(|| format!("{} ({:?})", f.addr, f.module))).collect()
}

fn build_spin(dir: &Path, flags: &[&str]) -> PathBuf {
    let bin = dir.join("spin_here");
    run(Command::new("cc").args(flags).arg("-o").arg(&bin).arg(src("spin_here.c")));
    bin
}

/// A child and the cgroup that favours it.
struct Favoured {
    child: Child,
    _cgroup: common::cgroup::TestCgroup,
}

impl Favoured {
    fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// A cgroup with the largest CPU weight: a loaded test host (other builds
/// on its two cores, each session its own scheduling group) cannot take
/// the CPU from what runs in it. Busy is about a thread that gets the CPU,
/// and the starvation test is about the hogs it starts, not the host's.
fn favouring_cgroup() -> common::cgroup::TestCgroup {
    let cg = common::cgroup::TestCgroup::new("cpu").unwrap_or_else(|e| panic!("a cpu cgroup: {e}"));
    if cg.v2 {
        cg.set("cpu.weight", "10000");
    } else {
        cg.set("cpu.shares", "262144");
    }
    cg
}

/// Held by the tests whose children run in a favouring cgroup: two at once
/// would take both CPUs of a small test host and starve the test itself.
static FAVOURED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    FAVOURED.lock().unwrap_or_else(|e| e.into_inner())
}

fn favoured(cmd: Command) -> Favoured {
    let cg = favouring_cgroup();
    let child = start(cmd);
    cg.set("cgroup.procs", &child.pid().to_string());
    Favoured { child, _cgroup: cg }
}

fn start_spin(bin: &Path) -> Favoured {
    favoured(bounded(Command::new(bin), 120, None))
}

fn check_spin(profile: &CpuProfile) {
    assert!(profile.samples >= 10, "too few samples: {profile:?}");
    let hot = &profile.stacks[0];
    let n = names(hot);
    assert_eq!(n.first().map(String::as_str), Some("spin_here"), "hottest stack {n:?}");
    assert!(n.iter().any(|f| f == "main"), "unwound to main: {n:?}");
    assert!(hot.share(profile) >= 0.9, "spin_here holds {:.0} % of samples", hot.share(profile) * 100.0);
}

#[test]
fn c_busy_loop_named_from_samples() {
    if !require("a C compiler (gcc), and root (a cpu cgroup)", has("cc") && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let dir = tmp("c_busy");
    let bin = build_spin(&dir, &["-O2", "-g"]);
    let child = start_spin(&bin);
    let pid = child.pid();
    let mut reader = Reader::new();
    let (profile, states) = states_during(pid, || sample(&mut reader, pid, pid, Duration::from_millis(500)));
    assert_never_stopped(&states, "while sampled");
    check_spin(&profile);
    let u = profile.cpu_use().expect("schedstat over the window");
    assert_eq!(u.state(), CpuState::Busy, "{u:?}");
    // Each sample is 1/hz s of CPU: their count agrees with schedstat.
    assert!(
        (profile.cpu_share() - u.running).abs() < 0.15,
        "samples {:.2} vs schedstat {:.2}",
        profile.cpu_share(),
        u.running
    );
}

#[test]
fn stripped_busy_loop_named_from_its_debug_file() {
    if !require("a C compiler, binutils, root", has("cc") && has("objcopy") && has("strip") && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let dir = tmp("c_stripped");
    let bin = build_spin(&dir, &["-O2", "-g", "-fno-omit-frame-pointer"]);
    let debug = dir.join("spin_here.debug");
    run(Command::new("objcopy").arg("--only-keep-debug").arg(&bin).arg(&debug));
    run(Command::new("strip").arg("--strip-all").arg(&bin));
    run(Command::new("objcopy").arg(format!("--add-gnu-debuglink={}", debug.display())).arg(&bin));
    let id = unwedge_stacks::elf::ModuleData::parse(&std::fs::read(&bin).unwrap()).unwrap().build_id_hex().unwrap();
    let root = dir.join("debug");
    let at = root.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&at).unwrap();
    std::fs::rename(&debug, at.join(format!("{}.debug", &id[2..]))).unwrap();
    let child = start_spin(&bin);
    let pid = child.pid();
    let mut reader = Reader::with_debug_dirs(vec![root]);
    let (profile, states) = states_during(pid, || sample(&mut reader, pid, pid, Duration::from_millis(500)));
    assert_never_stopped(&states, "while sampled");
    check_spin(&profile);
    // Without its debug file the loop is an address in the binary: no name is made up.
    let mut bare = Reader::with_debug_dirs(vec![dir.join("none")]);
    let profile = sample(&mut bare, pid, pid, Duration::from_millis(300));
    let first = &profile.stacks[0].frames[0];
    assert!(first.function.as_deref() != Some("spin_here"), "{first:?}");
    assert!(first.module.as_deref().is_some_and(|m| m.ends_with("spin_here")), "{first:?}");
}

/// GET `path` on a fresh connection; the body, or None by `timeout`.
fn http_get(port: u16, path: &str, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn node() -> bool {
    has("node")
}

fn node_cmd(args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.args(args).arg(src("redos.js")).current_dir(dir);
    bounded(cmd, 180, None)
}

/// Sends the catastrophic request (after warm-ups that get the expression
/// compiled to native code) and waits until the event loop spins.
fn pin_event_loop(pid: u32, port: u16) -> TcpStream {
    for _ in 0..3 {
        assert!(http_get(port, "/redos?n=5", Duration::from_secs(5)).is_some_and(|b| b.ends_with("false\n")));
    }
    // 2^34 steps: minutes of CPU (30 can end within ten seconds on a fast
    // host); the child's CPU-time limit ends it.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /redos?n=34 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let spinning = common::wait_until(Duration::from_secs(10), || {
        let a = unwedge_stacks::cpu::read_schedstat(pid, pid).map(|s| s.run_ns).unwrap_or(0);
        std::thread::sleep(Duration::from_millis(200));
        let b = unwedge_stacks::cpu::read_schedstat(pid, pid).map(|s| s.run_ns).unwrap_or(0);
        b.saturating_sub(a) > 100_000_000
    });
    assert!(spinning, "the event loop did not start spinning");
    s
}

#[test]
fn node_redos_event_loop_busy_and_jit_frames() {
    if !require("node, and root (a cpu cgroup)", node() && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let dir = tmp("node_redos");
    let child = favoured(node_cmd(&[], &dir));
    let (pid, port) = (child.pid(), child.child.ready["port"].as_u64().unwrap() as u16);
    let _req = pin_event_loop(pid, port);
    // The interval of two readings, as a scan's snapshots see it.
    let before = reading(&[pid]);
    std::thread::sleep(Duration::from_secs(1));
    let after = reading(&[pid]);
    let u = cpu::thread_cpu(&before, &after, pid, pid).unwrap();
    assert_eq!(u.state(), CpuState::Busy, "the event loop over 1 s: {u:?}");
    assert!(u.running >= 0.9, "{u:?}");
    let main = after.processes[0].threads.iter().find(|t| t.tid == pid).unwrap();
    assert_eq!(cpu::runtime_thread_role("node", pid, main), Some("the event loop"));
    // Then sampled for 1 s: busy over the window too, by the samples and by schedstat.
    let mut reader = Reader::new();
    let (profile, states) = states_during(pid, || sample(&mut reader, pid, pid, Duration::from_secs(1)));
    assert_never_stopped(&states, "while sampled");
    let w = profile.cpu_use().expect("schedstat over the window");
    assert_eq!(w.state(), CpuState::Busy, "{w:?}");
    assert!(w.running >= 0.9 && profile.cpu_share() >= 0.8, "{w:?} {:.2}", profile.cpu_share());
    // The expression runs as native code that V8 made: no file, no symbol.
    assert!(profile.unnamed_jit * 2 >= profile.samples, "most samples in unnamed JIT code: {profile:?}");
    assert!(profile.note.as_deref().is_some_and(|n| n.contains("--perf-basic-prof")), "{:?}", profile.note);
    // The still-waiting request was not answered.
    drop(child);
}

#[test]
fn node_redos_jit_frames_named_with_perf_basic_prof() {
    if !require("node, and root (a cpu cgroup)", node() && common::is_root()) {
        return;
    }
    let _one = one_at_a_time();
    let dir = tmp("node_redos_prof");
    let child = favoured(node_cmd(&["--perf-basic-prof"], &dir));
    let (pid, port) = (child.pid(), child.child.ready["port"].as_u64().unwrap() as u16);
    let map = PathBuf::from(format!("/tmp/perf-{pid}.map"));
    let _req = pin_event_loop(pid, port);
    let mut reader = Reader::new();
    let (profile, states) = states_during(pid, || sample(&mut reader, pid, pid, Duration::from_secs(1)));
    drop(child);
    let _ = std::fs::remove_file(&map);
    assert_never_stopped(&states, "while sampled");
    let hot = &profile.stacks[0];
    let jit: Vec<&unwedge_model::Frame> =
        hot.frames.iter().filter(|f| f.module.as_deref().is_some_and(|m| m.starts_with("/tmp/perf-"))).collect();
    assert!(!jit.is_empty(), "no JIT frame named from the perf map: {:?}", names(hot));
    assert!(
        jit.iter().any(|f| f.function.as_deref().is_some_and(|n| n.contains("(a+)+$"))),
        "the expression's own code is named: {:?}",
        names(hot)
    );
    assert!(profile.unnamed_jit * 4 < profile.samples, "{profile:?}");
}

/// Keeps `n` clients asking `port` one request after another until `stop`.
fn clients(port: u16, n: usize, pause: Duration, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Vec<Duration>>> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut took = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = std::time::Instant::now();
                    if http_get(port, "/", Duration::from_secs(3)).is_some() {
                        took.push(t.elapsed());
                    }
                    std::thread::sleep(pause);
                }
                took
            })
        })
        .collect()
}

/// A CPU this process may run on, to pin the starvation test to.
fn some_cpu() -> usize {
    // SAFETY: sched_getaffinity writes the set we pass.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &set)).unwrap_or(0)
    }
}

#[test]
fn worker_starved_by_cpu_hogs_is_not_busy() {
    if !require("python3 and a C compiler", has("python3") && has("cc")) {
        return;
    }
    let _one = one_at_a_time();
    let dir = tmp("starved");
    let hog_bin = build_spin(&dir, &["-O2"]);
    let cpu_n = some_cpu();
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(src("one_at_a_time.py")).arg("20");
    let cg = favouring_cgroup();
    let victim = start(bounded(cmd, 60, Some(cpu_n)));
    cg.set("cgroup.procs", &victim.pid().to_string());
    let (vpid, port) = (victim.pid(), victim.ready["port"].as_u64().unwrap() as u16);
    let hogs: Vec<Child> = (0..6).map(|_| start(bounded(Command::new(&hog_bin), 30, Some(cpu_n)))).collect();
    for h in &hogs {
        cg.set("cgroup.procs", &h.pid().to_string());
    }
    let hog_pids: Vec<u32> = hogs.iter().map(Child::pid).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let load = clients(port, 4, Duration::ZERO, stop.clone());
    // Let the queue build up behind the worker.
    std::thread::sleep(Duration::from_millis(500));
    let mut pids = vec![vpid];
    pids.extend(&hog_pids);
    let before = reading(&pids);
    let (_, states) = states_during(vpid, || std::thread::sleep(Duration::from_secs(1)));
    let after = reading(&pids);
    stop.store(true, Ordering::Relaxed);
    drop(hogs);
    for c in load {
        c.join().unwrap();
    }
    assert_never_stopped(&states, "while sampled");
    let u = cpu::thread_cpu(&before, &after, vpid, vpid).unwrap();
    assert_eq!(u.state(), CpuState::Starved, "the worker over 1 s: {u:?}");
    let waiting = u.waiting.unwrap();
    assert!(waiting >= 0.5 && u.running <= 0.35, "runnable but waiting most of the interval: {u:?}");
    let took = cpu::top_cpu_users(&before, &after, Some(&[cpu_n as u32]), 0.05);
    let hog_share: f64 = took.iter().filter(|(p, _)| hog_pids.contains(p)).map(|(_, c)| c).sum();
    assert!(hog_share >= 0.6, "the hogs took CPU {cpu_n}: {took:?}");
    assert!(took.iter().filter(|(p, _)| hog_pids.contains(p)).count() >= 5, "{took:?}");
    assert_eq!(
        after.processes[0].cpus_allowed.as_deref(),
        Some(cpu_n.to_string().as_str()),
        "pinned: narrower than online"
    );
    if let (Some(b), Some(a)) = (before.cpu_pressure, after.cpu_pressure) {
        let s = cpu::pressure_share(&b, &a, cpu::interval_s(&before, &after).unwrap()).unwrap();
        assert!(s >= 0.5, "host CPU pressure {s:.2}");
    }
}

#[test]
fn twins_cpu_heavy_python_and_node_under_light_load_are_not_busy() {
    if !require("python3 and node", has("python3") && node()) {
        return;
    }
    // A CPU-heavy Python service (30 ms of CPU per request) asked every 150 ms:
    // each answer comes fast, the thread sleeps between them.
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(src("one_at_a_time.py")).arg("30");
    let py = start(bounded(cmd, 60, None));
    let dir = tmp("node_light");
    let js = start(node_cmd(&[], &dir));
    let (ppid, pport) = (py.pid(), py.ready["port"].as_u64().unwrap() as u16);
    let (npid, nport) = (js.pid(), js.ready["port"].as_u64().unwrap() as u16);
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = clients(pport, 1, Duration::from_millis(150), stop.clone());
    load.extend(clients(nport, 2, Duration::from_millis(50), stop.clone()));
    std::thread::sleep(Duration::from_millis(300));
    let before = reading(&[ppid, npid]);
    std::thread::sleep(Duration::from_secs(1));
    let after = reading(&[ppid, npid]);
    stop.store(true, Ordering::Relaxed);
    let took: Vec<Duration> = load.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert!(took.len() >= 10, "requests answered: {}", took.len());
    assert!(took.iter().all(|t| *t < Duration::from_secs(2)), "every answer within the timeout: {took:?}");
    for (pid, what) in [(ppid, "python"), (npid, "node")] {
        for t in &after.processes.iter().find(|p| p.pid == pid).unwrap().threads {
            let u = cpu::thread_cpu(&before, &after, pid, t.tid).unwrap();
            assert_ne!(u.state(), CpuState::Busy, "{what} thread {} ({}) called busy: {u:?}", t.tid, t.comm);
        }
    }
}

/// Runs `f` on a thread of its own whose credentials are nobody's: the raw
/// setresgid and setresuid system calls change the calling thread only
/// (glibc's wrappers would change every thread of the test process), and
/// the thread ends after.
fn as_nobody<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: raw system calls on this thread's own credentials (the
        // group first: without root it could not be changed after).
        unsafe {
            assert_eq!(libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534), 0, "setresgid");
            assert_eq!(libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534), 0, "setresuid");
        }
        f()
    })
    .join()
    .unwrap()
}

#[test]
fn refused_without_privilege_says_why_and_user_time_only_when_allowed() {
    if !require("a C compiler, and root (to drop to nobody)", has("cc") && common::is_root()) {
        return;
    }
    let dir = tmp("unprivileged");
    let bin = build_spin(&dir, &["-O2", "-g"]);
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let paranoid: Option<i32> =
        std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid").ok().and_then(|s| s.trim().parse().ok());
    // Root's spinner: nobody may not sample it.
    let root_owned = start(bounded(Command::new(&bin), 30, None));
    let pid = root_owned.pid();
    let r = as_nobody(move || Reader::new().sample(&[(pid, pid)], &Settings::default()).map(|_| ()));
    let Err(refused) = r else { panic!("nobody sampled root's process") };
    let text = refused.to_string();
    assert!(text.starts_with("perf events not permitted ("), "{text}");
    if let Some(p) = paranoid {
        assert!(text.contains(&format!("kernel.perf_event_paranoid={p}")), "{text}");
    }
    assert!(text.ends_with("CPU share from /proc only"), "{text}");
    drop(root_owned);
    // Nobody's own spinner: allowed up to perf_event_paranoid 2, user time only.
    if paranoid.is_some_and(|p| p <= 2) {
        let mut cmd = bounded(Command::new(&bin), 30, None);
        cmd.uid(65534).gid(65534);
        let own = start(cmd);
        let pid = own.pid();
        let s = as_nobody(move || {
            let settings = Settings { window: Duration::from_millis(300), ..Settings::default() };
            Reader::new().sample(&[(pid, pid)], &settings).map_err(|r| r.to_string())
        })
        .expect("nobody samples its own process");
        let p = &s.profiles[&(pid, pid)];
        if paranoid.is_some_and(|p| p >= 2) {
            assert!(s.notes.iter().any(|n| n.starts_with("CPU samples count user time only")), "{:?}", s.notes);
        }
        assert!(p.samples > 0 && names(&p.stacks[0]).first().map(String::as_str) == Some("spin_here"), "{p:?}");
    }
}
