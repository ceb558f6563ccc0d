//! `cargo run --release -p unwedge-stacks --example python_bench -- [PYTHON] [THREADS] [ROUNDS]`:
//! what reading a Python process's frames costs. Starts
//! tests/scenarios/py_pool_leak.py with THREADS handler threads (default
//! 200, under Debian's /usr/bin/python3.11), then times ROUNDS reads of
//! every thread state's frames (the Python part of a scan: `python::Cache`
//! cached, as in `serve`), and ROUNDS whole `Reader::read`s of the 64
//! threads a scan reads at most (native stacks and Python frames, a fresh
//! reader each time: a one-shot `scan`). Prints the median and worst
//! times and this process's peak RSS (VmHWM). A benchmark: numbers go in
//! BENCHMARKS.md.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use unwedge_stacks::{python, Mode, Reader, Target};

fn vm(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// User + system CPU time of this process (all its threads).
fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!("median {:.2} ms, min {:.2} ms, max {:.2} ms", ms(v[v.len() / 2]), ms(v[0]), ms(v[v.len() - 1]))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let python = args.next().unwrap_or_else(|| "/usr/bin/python3.11".into());
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30).max(2);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/scenarios/py_pool_leak.py");
    let mut child = Command::new(&python)
        .arg("-u")
        .arg(script)
        .arg(threads.to_string())
        .arg("2")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("READY"), "{line}");
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));
    let tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let targets: Vec<Target> = tids.iter().map(|&tid| Target { pid, tid, syscall: None }).collect();
    let refs: Vec<&Target> = targets.iter().collect();
    let maps = unwedge_stacks::maps::parse(&std::fs::read(format!("/proc/{pid}/maps")).unwrap());
    let rss0 = vm("VmHWM:");

    let mut cache = python::Cache::default();
    let mut py = Vec::new();
    let mut frames = 0;
    let mut cpu_py = Duration::ZERO;
    for round in 0..rounds {
        let c = cpu();
        let t = Instant::now();
        let r = cache.read(pid, &maps, &refs).expect("a Python process").expect("frames read");
        py.push(t.elapsed());
        frames = r.threads.iter().map(|t| t.frames.len()).sum::<usize>();
        assert_eq!(r.threads.len(), threads + 2, "{:?}", r.notes);
        if round > 0 {
            cpu_py += cpu() - c;
        }
    }
    let rss_py = vm("VmHWM:");

    let mut whole = Vec::new();
    for _ in 0..rounds.min(10) {
        let t = Instant::now();
        let r = Reader::new().read(Mode::Auto, &targets);
        whole.push(t.elapsed());
        assert!(r.stacks.values().any(|s| s.python_threads.is_some()));
    }
    let rss_all = vm("VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    println!("{python}: {} threads, {frames} Python frames a read", threads + 2);
    println!("first read (the interpreter file parsed): {:.2} ms", py[0].as_secs_f64() * 1e3);
    println!("Python frames of every thread ({rounds} reads, interpreter file cached): {}", stats(py[1..].to_vec()));
    println!("  CPU time (user + system) per read: {:.2} ms", cpu_py.as_secs_f64() * 1e3 / (rounds - 1) as f64);
    println!(
        "whole Reader::read of the first {} threads (fresh reader each time): {}",
        unwedge_stacks::MAX_THREADS,
        stats(whole)
    );
    println!(
        "peak RSS: {rss0} kB before reading, {rss_py} kB after the Python reads, {rss_all} kB after the whole reads"
    );
}
