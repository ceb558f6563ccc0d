//! Measures the JVM readers on a live JVM (BENCHMARKS.md, issue 26): the
//! hsperfdata read and, with `--attach`, the attach thread dump, each
//! repeated; prints the median and worst time and this process's peak RSS.
//!
//!     cargo run --release -p unwedge-stacks --example jvm_read -- PID [--attach] [--rounds N]

use std::time::{Duration, Instant};
use unwedge_stacks::jvm;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(pid) = args.first().and_then(|a| a.parse::<u32>().ok()) else {
        eprintln!("usage: jvm_read PID [--attach] [--rounds N]");
        std::process::exit(2);
    };
    let attach = args.iter().any(|a| a == "--attach");
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let mut hs_times = Vec::new();
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let r = jvm::read_hsperf(pid);
        hs_times.push(t.elapsed());
        last = Some(r);
    }
    match &last {
        Some(Ok(Some(h))) => println!(
            "hsperfdata {}: {} Java threads, JDK {:?}, {} collections",
            h.path,
            h.counters.threads_live.unwrap_or(0),
            h.counters.java_feature,
            h.counters.gc_invocations()
        ),
        other => println!("hsperfdata: {other:?}"),
    }
    report("hsperfdata read", &mut hs_times);
    if let Some(Ok(Some(first))) = &last {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let _ = jvm::reread_hsperf(pid, first);
            times.push(t.elapsed());
        }
        report("hsperfdata read again (path and inode known)", &mut times);
    }
    if attach {
        let before = jvm::read_hsperf(pid).ok().flatten().map(|h| h.counters);
        let mut times = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            match jvm::attach::thread_dump(pid, Duration::from_secs(10)) {
                Ok(d) => {
                    times.push(t.elapsed());
                    if times.len() == 1 {
                        let frames: usize = d.threads.iter().map(|t| t.frames.len()).sum();
                        println!("dump: {} threads, {frames} frames, {} deadlocks", d.threads.len(), d.deadlocks.len());
                    }
                }
                Err(e) => {
                    println!("dump refused: {e:?}");
                    break;
                }
            }
        }
        report("attach thread dump", &mut times);
        // What the JVM paid: its own safepoint counters across the dumps.
        let after = jvm::read_hsperf(pid).ok().flatten().map(|h| h.counters);
        if let (Some(b), Some(a), n) = (before, after, times.len()) {
            let d = |x: Option<u64>, y: Option<u64>| y.unwrap_or(0).saturating_sub(x.unwrap_or(0));
            if n > 0 {
                println!(
                    "the JVM's safepoints during the dumps: {} ({} per dump), stood still {:.3} ms per dump \
                     (of which {:.3} ms bringing threads to the safepoint)",
                    d(b.safepoints, a.safepoints),
                    d(b.safepoints, a.safepoints) as f64 / n as f64,
                    d(b.safepoint_time_us, a.safepoint_time_us) as f64 / n as f64 / 1e3,
                    d(b.safepoint_sync_time_us, a.safepoint_sync_time_us) as f64 / n as f64 / 1e3,
                );
            }
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: ?");
    println!("peak RSS of this reader: {}", hwm.trim_start_matches("VmHWM:").trim());
}

fn report(what: &str, times: &mut [Duration]) {
    if times.is_empty() {
        return;
    }
    times.sort();
    println!(
        "{what}: median {:.2} ms, worst {:.2} ms over {} rounds (first one included)",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
}
