//! What CPU sampling costs unwedge: a child process with N busy threads
//! (this program re-run with `--spin N`), sampled for each window asked,
//! with a cold reader (modules loaded and symbols read for the first time)
//! and a warm one (as `serve` keeps it); prints the sampler's CPU time,
//! wall time, samples, bytes copied out of the rings and the peak RSS it
//! added (VmHWM, reset before each run through /proc/self/clear_refs).
//!
//!     cargo run --release -p unwedge-stacks --example sample_cost -- [THREADS] [HZ] [STACK_KIB]
//!     cargo run --release -p unwedge-stacks --example sample_cost -- --pid PID [TID …] [--ms N]
//!
//! The second form prints the hottest stacks of running threads.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::Duration;
use unwedge_stacks::sample::Settings;
use unwedge_stacks::Reader;

#[inline(never)]
fn spin_a(n: &mut u64) {
    for i in 0..1000 {
        *n = black_box(n.wrapping_mul(31).wrapping_add(i));
    }
}

#[inline(never)]
fn spin_b(n: &mut u64) {
    for _ in 0..3 {
        spin_a(n);
    }
}

fn spin(threads: usize) -> ! {
    for _ in 1..threads {
        std::thread::spawn(|| {
            let mut n = 1;
            loop {
                spin_b(&mut n);
            }
        });
    }
    // Bounded: the parent kills it, and it ends itself after a minute.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        std::process::exit(0);
    });
    let mut n = 1;
    loop {
        spin_b(&mut n);
    }
}

fn status_kib(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix(key)?.trim().strip_suffix(" kB")?.trim().parse().ok()).unwrap_or(0)
}

fn tids(pid: u32) -> Vec<u32> {
    let mut t: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    t.sort_unstable();
    t
}

fn show(pid: u32, tids: &[u32], ms: u64) {
    let targets: Vec<(u32, u32)> = tids.iter().map(|&t| (pid, t)).collect();
    let settings = Settings { window: Duration::from_millis(ms), ..Settings::default() };
    match Reader::new().sample(&targets, &settings) {
        Err(r) => println!("{r}"),
        Ok(s) => {
            for n in &s.notes {
                println!("note: {n}");
            }
            for ((pid, tid), p) in &s.profiles {
                let share = p.cpu_use().map(|u| {
                    format!("ran {:.0} %, waited {:.0} %", u.running * 100.0, u.waiting.unwrap_or(0.0) * 100.0)
                });
                println!(
                    "{pid}/{tid}: {} samples ({} lost) in {} ms; {}",
                    p.samples,
                    p.lost,
                    p.window_ms,
                    share.unwrap_or_default()
                );
                for h in &p.stacks {
                    let names = unwedge_model::stack::fold(&h.frames);
                    println!("  {:5.1} %  {}", h.share(p) * 100.0, names.join(" ← "));
                }
                if let Some(n) = &p.note {
                    println!("  note: {n}");
                }
            }
            println!("cost: {:?}", s.cost);
            println!(
                "RSS now: anon {} KiB, file {} KiB, shmem {} KiB; peak {} KiB",
                status_kib("RssAnon:"),
                status_kib("RssFile:"),
                status_kib("RssShmem:"),
                status_kib("VmHWM:")
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--spin") {
        spin(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10));
    }
    if args.first().map(String::as_str) == Some("--pid") {
        let pid: u32 = args[1].parse().expect("a pid");
        let ms = args.iter().position(|a| a == "--ms").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(500);
        let mut t: Vec<u32> = args[2..].iter().take_while(|a| *a != "--ms").filter_map(|a| a.parse().ok()).collect();
        if t.is_empty() {
            t = tids(pid);
        }
        show(pid, &t, ms);
        return;
    }
    let threads: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(10);
    let hz: u32 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(Settings::default().hz);
    let stack_kib: u32 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(Settings::default().stack_bytes >> 10);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--spin", &threads.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the spinner");
    let pid = child.id();
    // The spinning threads (the watchdog sleeps).
    let spinning = |pid: u32| -> Vec<u32> {
        tids(pid)
            .into_iter()
            .filter(|t| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{t}/stat")).unwrap_or_default();
                stat.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('R'))
            })
            .collect()
    };
    for _ in 0..200 {
        if spinning(pid).len() >= threads {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Runnable ones waiting for a CPU show R too: at least these.
    let mut t = tids(pid);
    t.truncate(threads + 1);
    t.retain(|&x| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{x}/stat")).unwrap_or_default();
        !stat.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('S'))
    });
    t.truncate(threads);
    let targets: Vec<(u32, u32)> = t.iter().map(|&x| (pid, x)).collect();
    println!(
        "{threads} busy threads, {hz} Hz, {stack_kib} KiB of stack per sample; RSS before: {} KiB",
        status_kib("VmRSS:")
    );
    println!("| window | reader | sampler CPU | wall | samples | lost | MiB copied | peak RSS added |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    // Warm: its modules and symbols loaded by an earlier run, as `serve` keeps them.
    let mut warm = Reader::new();
    let _ = warm.sample(&targets, &Settings { window: Duration::from_millis(100), hz, stack_bytes: stack_kib << 10 });
    for ms in [300u64, 1000] {
        for (which, reader) in [("cold", &mut Reader::new()), ("warm", &mut warm)] {
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            let base = status_kib("VmHWM:");
            let settings = Settings { window: Duration::from_millis(ms), hz, stack_bytes: stack_kib << 10 };
            let s = reader.sample(&targets, &settings).expect("sampling allowed");
            let lost: u64 = s.profiles.values().map(|p| p.lost).sum();
            println!(
                "| {ms} ms | {which} | {:.1} ms | {:.0} ms | {} | {lost} | {:.1} | {} KiB |",
                s.cost.cpu.as_secs_f64() * 1000.0,
                s.cost.wall.as_secs_f64() * 1000.0,
                s.cost.samples,
                s.cost.bytes as f64 / (1 << 20) as f64,
                status_kib("VmHWM:").saturating_sub(base)
            );
        }
        if ms == 1000 {
            let p = warm.sample(
                &targets[..1],
                &Settings { window: Duration::from_millis(300), hz, stack_bytes: stack_kib << 10 },
            );
            if let Ok(p) = p {
                for (k, prof) in p.profiles {
                    let top = prof.stacks.first().map(|h| unwedge_model::stack::fold(&h.frames).join(" ← "));
                    println!("\nhottest stack of {k:?}: {}", top.unwrap_or_default());
                }
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
