//! `cargo run -p unwedge-stacks --example dump -- PID [ptrace]`: every
//! thread's user stack, as the scan would read it (for debugging the reader).

use unwedge_stacks::{Mode, Reader, Target};

fn main() {
    let mut args = std::env::args().skip(1);
    let pid: u32 = args.next().and_then(|a| a.parse().ok()).expect("usage: dump PID [ptrace]");
    let mode = if args.next().as_deref() == Some("ptrace") { Mode::Ptrace } else { Mode::Auto };
    let targets: Vec<Target> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("no such process")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .map(|tid| Target { pid, tid, syscall: None })
        .collect();
    let mut r = Reader::new();
    let t0 = std::time::Instant::now();
    let out = r.read(mode, &targets);
    eprintln!("read in {:?}", t0.elapsed());
    for ((_, tid), s) in &out.stacks {
        println!("thread {tid}:{}", s.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default());
        for f in &s.frames {
            let loc = match (&f.file, f.line) {
                (Some(file), Some(l)) => format!(" at {file}:{l}"),
                _ => String::new(),
            };
            println!(
                "  {} {}{}{} [{}]",
                f.addr,
                f.function.as_deref().unwrap_or("??"),
                if f.inlined { " (inlined)" } else { "" },
                loc,
                f.module.as_deref().unwrap_or("")
            );
        }
        for f in &s.python {
            println!("  py {}", f.display());
        }
        if let Some(n) = &s.python_note {
            println!("  python: {n}");
        }
        if s.holds_gil == Some(true) {
            println!("  holds the GIL");
        }
        if let Some(p) = &s.python_threads {
            println!("  python {} threads: {} (GIL: {:?}) {:?}", p.version, p.total, p.gil_holder, p.note);
            for g in &p.groups {
                println!("    {} × {}", g.count, unwedge_model::stack::fold_python(&g.frames));
            }
        }
        if let Some(h) = &s.interpreter_hint {
            println!("  interpreter: {h}");
        }
    }
    for n in out.notes {
        println!("note: {n}");
    }
}
