//! A HotSpot thread dump (what `jstack PID` prints, and what the JVM
//! sends back for the attach command `threaddump`), parsed: each thread's
//! name, native thread id, state and Java frames with the monitors it
//! holds and waits for, and the JVM's own deadlock verdict ("Found one
//! Java-level deadlock:" and the cycle under it). Pure: the fuzz target
//! runs it on arbitrary text.
//!
//! The format is HotSpot's (JDK 8 to 25 read the same way): a header line
//! per thread (`"name" #12 [tid] daemon prio=5 os_prio=0 cpu=… elapsed=…
//! tid=0x… nid=0x1a2b waiting for monitor entry  [0x…]`; JDK 19 and later
//! print nid in decimal), `   java.lang.Thread.State: …`, frames (`\tat
//! pkg.Class.method(module@version/File.java:12)`) with lock lines under
//! them (`\t- waiting to lock <0x…> (a java.lang.Object)`), then after
//! "JNI global refs" each deadlock cycle. A thread name is printed between
//! quotes without escaping, and nothing after it on the header line
//! holds a quote, so the name ends at the line's last quote.

use unwedge_model::jvm::{
    DeadlockLock, DeadlockWait, JavaDeadlock, JavaFrame, JavaLock, JavaThread, JavaThreadDump, LockAction,
};

/// Threads kept at most.
pub const MAX_THREADS: usize = 20_000;
/// Frames kept per thread at most (HotSpot prints up to 1024 by default).
pub const MAX_FRAMES: usize = 1024;
/// Deadlock cycles kept at most, and threads per cycle.
const MAX_DEADLOCKS: usize = 256;
const MAX_CYCLE: usize = 1024;

enum Section {
    Threads,
    /// Between "Found one Java-level deadlock:" and its stacks.
    Cycle,
    /// "Java stack information for the threads listed above:": the
    /// threads' stacks again, already read.
    CycleStacks,
}

/// Parses a dump. Lines it does not know are skipped; it never fails.
pub fn parse(text: &str) -> JavaThreadDump {
    let mut out = JavaThreadDump::default();
    let mut section = Section::Threads;
    let mut cut = (0usize, 0usize);
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        if line.starts_with("Found one Java-level deadlock") {
            section = Section::Cycle;
            if out.deadlocks.len() < MAX_DEADLOCKS {
                out.deadlocks.push(JavaDeadlock::default());
            }
            continue;
        }
        match section {
            Section::Threads => {
                if let Some(vm) = line.strip_prefix("Full thread dump ") {
                    out.vm = Some(vm.trim_end_matches(':').trim().to_string());
                } else if let Some(t) = header(line) {
                    if out.threads.len() < MAX_THREADS {
                        out.threads.push(t);
                    } else {
                        cut.0 += 1;
                    }
                } else if out.threads.len() < MAX_THREADS || cut.0 == 0 {
                    body_line(&mut out, line, &mut cut.1);
                }
            }
            Section::Cycle => {
                if line.starts_with("Java stack information for the threads listed above") {
                    section = Section::CycleStacks;
                } else if let Some(d) = out.deadlocks.last_mut() {
                    cycle_line(d, line);
                }
            }
            Section::CycleStacks => {}
        }
    }
    let mut notes = Vec::new();
    if cut.0 > 0 {
        notes.push(format!("{} threads past the first {MAX_THREADS} left out", cut.0));
    }
    if cut.1 > 0 {
        notes.push(format!("{} frames past {MAX_FRAMES} per thread left out", cut.1));
    }
    out.deadlocks.retain(|d| !d.cycle.is_empty());
    out.note = (!notes.is_empty()).then(|| notes.join("; "));
    out
}

/// A thread's header line, or None when the line is not one.
fn header(line: &str) -> Option<JavaThread> {
    let rest = line.strip_prefix('"')?;
    let close = rest.rfind('"')?;
    let (name, tail) = (&rest[..close], &rest[close + 1..]);
    if !tail.starts_with(' ') || !(tail.contains(" tid=") || tail.contains(" nid=") || tail.contains("prio=")) {
        return None;
    }
    let mut t = JavaThread { name: name.to_string(), ..Default::default() };
    let mut activity: Vec<&str> = Vec::new();
    let mut after_nid = false;
    for tok in tail.split_whitespace() {
        if after_nid {
            // The activity, then the stack's address range "[0x…]".
            if tok.starts_with("[0x") {
                break;
            }
            activity.push(tok);
            continue;
        }
        if let Some(n) = tok.strip_prefix('#') {
            t.number = n.parse().ok();
        } else if let Some(n) = tok.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            // JDK 19+: the kernel thread id in brackets.
            if t.native_tid.is_none() {
                t.native_tid = n.parse().ok();
            }
        } else if tok == "daemon" {
            t.daemon = true;
        } else if let Some(n) = tok.strip_prefix("nid=") {
            t.native_tid = match n.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => n.parse().ok(),
            };
            after_nid = true;
        }
    }
    if !activity.is_empty() {
        t.activity = Some(activity.join(" "));
    }
    Some(t)
}

/// A line inside a thread's block: its state, a frame, or a lock line.
fn body_line(out: &mut JavaThreadDump, line: &str, cut: &mut usize) {
    let Some(t) = out.threads.last_mut() else { return };
    let l = line.trim_start();
    if let Some(s) = l.strip_prefix("java.lang.Thread.State:") {
        t.state = Some(s.trim().to_string());
    } else if let Some(f) = l.strip_prefix("at ") {
        if t.frames.len() >= MAX_FRAMES {
            *cut += 1;
            return;
        }
        t.frames.push(frame(f));
    } else if let Some(lock) = l.strip_prefix("- ").and_then(lock_line) {
        // Under the frame that took or waits for it.
        if let Some(f) = t.frames.last_mut() {
            if f.locks.len() < 64 {
                f.locks.push(lock);
            }
        }
    }
}

/// `pkg.Class.method(module@version/File.java:12)`.
fn frame(f: &str) -> JavaFrame {
    let (method, inner) = match f.find('(') {
        Some(i) => (&f[..i], f[i + 1..].strip_suffix(')').unwrap_or(&f[i + 1..])),
        None => (f, ""),
    };
    // "[loader/][module@version/]Source": the source is after the last '/'.
    let (module, source) = match inner.rfind('/') {
        Some(i) => {
            let m = inner[..i].rsplit('/').next().unwrap_or("");
            ((!m.is_empty()).then(|| m.to_string()), &inner[i + 1..])
        }
        None => (None, inner),
    };
    JavaFrame {
        method: method.trim().to_string(),
        source: (!source.is_empty()).then(|| source.to_string()),
        module,
        locks: Vec::new(),
    }
}

/// `waiting to lock <0x…> (a java.lang.Object)` and its kin.
fn lock_line(l: &str) -> Option<JavaLock> {
    const ACTIONS: [(&str, LockAction); 6] = [
        ("locked", LockAction::Locked),
        ("waiting to lock", LockAction::WaitingToLock),
        ("waiting to re-lock in wait()", LockAction::WaitingToRelock),
        ("waiting on", LockAction::WaitingOn),
        ("parking to wait for", LockAction::ParkingFor),
        ("eliminated", LockAction::Eliminated),
    ];
    let (action, rest) = ACTIONS.iter().find_map(|(p, a)| {
        let rest = l.strip_prefix(p)?;
        rest.trim_start().starts_with('<').then_some((*a, rest.trim_start()))
    })?;
    let end = rest.find('>')?;
    let inner = &rest[1..end];
    let object = inner.starts_with("0x").then(|| inner.to_string());
    let class = rest[end + 1..]
        .trim()
        .strip_prefix("(a ")
        .and_then(|c| c.strip_suffix(')'))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    Some(JavaLock { action, object, class })
}

/// A line of a deadlock cycle:
///
/// ```text
/// "worker-1":
///   waiting to lock monitor 0x00007f0b70066c10 (object 0x000000069ec19520, a java.lang.Object),
///   which is held by "bg"
/// "r1":
///   waiting for ownable synchronizer 0x000000069ec196b8, (a java.util.concurrent.locks.ReentrantLock$NonfairSync),
///   which is held by "r2"
/// ```
fn cycle_line(d: &mut JavaDeadlock, line: &str) {
    let l = line.trim();
    if let Some(name) = l.strip_prefix('"').and_then(|n| n.strip_suffix("\":")) {
        if d.cycle.len() < MAX_CYCLE {
            d.cycle.push(DeadlockWait { thread: name.to_string(), ..Default::default() });
        }
        return;
    }
    let Some(w) = d.cycle.last_mut() else { return };
    if let Some(rest) = l.strip_prefix("waiting to lock monitor ") {
        w.lock = DeadlockLock::Monitor;
        let (monitor, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        w.monitor = Some(monitor.trim_end_matches(',').to_string()).filter(|m| m.starts_with("0x"));
        // "(object 0x…, a java.lang.Object),"
        let inner = rest.trim().trim_end_matches(',').trim_start_matches('(').trim_end_matches(')');
        if let Some(o) = inner.strip_prefix("object ") {
            let (obj, class) = o.split_once(',').unwrap_or((o, ""));
            w.object = Some(obj.trim().to_string()).filter(|o| o.starts_with("0x"));
            w.class = class.trim().strip_prefix("a ").map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        }
    } else if let Some(rest) = l.strip_prefix("waiting for ownable synchronizer ") {
        w.lock = DeadlockLock::OwnableSynchronizer;
        let (obj, rest) = rest.split_once(',').unwrap_or((rest, ""));
        w.object = Some(obj.trim().to_string()).filter(|o| o.starts_with("0x"));
        let c = rest.trim().trim_end_matches(',').trim_start_matches('(').trim_end_matches(')');
        w.class = c.strip_prefix("a ").map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    } else if let Some(holder) = l.strip_prefix("which is held by ") {
        // A quoted name, or "UNKNOWN_owner_addr=0x…" when the JVM could not name it.
        w.held_by =
            holder.strip_prefix('"').and_then(|h| h.strip_suffix('"')).map(String::from).filter(|h| !h.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JDK17: &str = include_str!("testdata/dump-jdk17.txt");
    const JDK25: &str = include_str!("testdata/dump-jdk25.txt");

    fn check_deadlocks(d: &JavaThreadDump) {
        assert_eq!(d.deadlocks.len(), 2, "{:#?}", d.deadlocks);
        let monitors = &d.deadlocks[0].cycle;
        assert_eq!(monitors.len(), 2);
        assert_eq!(monitors[0].thread, "worker \"quoted\" one");
        assert_eq!(monitors[0].held_by.as_deref(), Some("bg"));
        assert_eq!(monitors[1].thread, "bg");
        assert_eq!(monitors[1].held_by.as_deref(), Some("worker \"quoted\" one"));
        for w in monitors {
            assert_eq!(w.lock, DeadlockLock::Monitor);
            assert_eq!(w.class.as_deref(), Some("java.lang.Object"));
            assert!(w.monitor.as_deref().is_some_and(|m| m.starts_with("0x")), "{w:?}");
        }
        // Each waits for the object the other's frames hold.
        let worker = d.thread("worker \"quoted\" one").unwrap();
        let bg = d.thread("bg").unwrap();
        assert_eq!(worker.waiting_for().unwrap().object, monitors[0].object);
        assert_eq!(bg.holds().next().unwrap().object, monitors[0].object);
        assert_eq!(bg.waiting_for().unwrap().object, monitors[1].object);
        assert_eq!(worker.holds().next().unwrap().object, monitors[1].object);
        assert_eq!(worker.state.as_deref(), Some("BLOCKED (on object monitor)"));
        assert_eq!(worker.activity.as_deref(), Some("waiting for monitor entry"));

        let sync = &d.deadlocks[1].cycle;
        assert_eq!(sync.iter().map(|w| w.thread.as_str()).collect::<Vec<_>>(), ["r1", "r2"]);
        assert_eq!(sync[0].lock, DeadlockLock::OwnableSynchronizer);
        assert_eq!(sync[0].class.as_deref(), Some("java.util.concurrent.locks.ReentrantLock$NonfairSync"));
        assert_eq!(sync[0].held_by.as_deref(), Some("r2"));
        assert_eq!(sync[0].monitor, None);
        assert!(d.deadlocks.iter().all(|c| d.confirms(c)), "the verdict agrees with the stacks");
        // A verdict naming a thread whose stack waits for something else does not.
        let mut forged = d.deadlocks[0].clone();
        forged.cycle[0].object = Some("0x1".into());
        assert!(!d.confirms(&forged));
        let mut forged = d.deadlocks[0].clone();
        forged.cycle[1].held_by = Some("main".into());
        assert!(!d.confirms(&forged));
        let r1 = d.thread("r1").unwrap();
        assert_eq!(r1.waiting_for().unwrap().action, LockAction::ParkingFor);
        assert_eq!(r1.waiting_for().unwrap().object, sync[0].object);
    }

    #[test]
    fn openjdk_17() {
        let d = parse(JDK17);
        assert_eq!(d.vm.as_deref(), Some("OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1 mixed mode, sharing)"));
        assert_eq!(d.threads.len(), 23);
        let main = d.thread("main").unwrap();
        assert_eq!((main.number, main.native_tid, main.daemon), (Some(1), Some(0x20df), false));
        assert_eq!(main.frames[1].method, "Dl.main");
        assert_eq!(main.frames[1].source.as_deref(), Some("Dl.java:14"));
        assert_eq!(main.frames[0].module.as_deref(), Some("java.base@17.0.15"));
        assert_eq!(main.frames[0].source.as_deref(), Some("Native Method"));
        let gc = d.thread("GC Thread#0").unwrap();
        assert_eq!((gc.number, gc.native_tid, gc.activity.as_deref()), (None, Some(0x20e1), Some("runnable")));
        assert!(d.thread("Reference Handler").unwrap().daemon);
        let fin = d.thread("Finalizer").unwrap();
        assert_eq!(fin.frames[0].locks[0].action, LockAction::WaitingOn);
        assert_eq!(fin.frames[1].locks[0].class.as_deref(), Some("java.lang.ref.ReferenceQueue$Lock"));
        let lambda = &d.thread("bg").unwrap().frames[1];
        assert_eq!(lambda.method, "Dl$$Lambda$2/0x00007f0b94000c30.run");
        assert_eq!(lambda.source.as_deref(), Some("Unknown Source"));
        check_deadlocks(&d);
        assert_eq!(d.note, None);
    }

    #[test]
    fn temurin_25() {
        let d = parse(JDK25);
        assert!(d.vm.as_deref().unwrap().contains("25.0.3+9-LTS"));
        let main = d.thread("main").unwrap();
        assert_eq!((main.number, main.native_tid), (Some(3), Some(8697)));
        assert_eq!(d.thread("VM Thread").unwrap().native_tid, Some(8705));
        check_deadlocks(&d);
    }

    #[test]
    fn lock_lines() {
        let l = lock_line("waiting on <no object reference available>").unwrap();
        assert_eq!((l.action, l.object, l.class), (LockAction::WaitingOn, None, None));
        let l = lock_line("eliminated <owner is scalar replaced> (a java.lang.Object)").unwrap();
        assert_eq!(
            (l.action, l.object.as_deref(), l.class.as_deref()),
            (LockAction::Eliminated, None, Some("java.lang.Object"))
        );
        let l = lock_line("waiting to re-lock in wait() <0x1> (a X)").unwrap();
        assert_eq!(l.action, LockAction::WaitingToRelock);
        let l = lock_line(
            "parking to wait for  <0x2> (a java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject)",
        )
        .unwrap();
        assert_eq!((l.action, l.object.as_deref()), (LockAction::ParkingFor, Some("0x2")));
        assert_eq!(lock_line("None"), None);
        assert_eq!(lock_line("<0x3> (a java.util.concurrent.locks.ReentrantLock$NonfairSync)"), None);
    }

    #[test]
    fn frames() {
        let f = frame("Main.run(app//Main.java:5)");
        assert_eq!((f.method.as_str(), f.module, f.source.as_deref()), ("Main.run", None, Some("Main.java:5")));
        let f = frame("loader/mod@1/Main.run(Main.java:5)");
        assert_eq!(f.module, None, "a '/' in the method is not a module");
        let f = frame("Main.run(loader/mod@1/Main.java:5)");
        assert_eq!(f.module.as_deref(), Some("mod@1"));
        let f = frame("Main.run");
        assert_eq!((f.method.as_str(), f.source), ("Main.run", None));
    }

    #[test]
    fn headers() {
        assert!(header("\"x\":").is_none(), "a cycle's thread line is not a header");
        assert!(header("\"x\" is not a header").is_none());
        let t = header("\"a \"b\" c\" #9 daemon prio=5 os_prio=0 tid=0x1 nid=0xff in Object.wait() [0x2]").unwrap();
        assert_eq!((t.name.as_str(), t.number, t.daemon, t.native_tid), ("a \"b\" c", Some(9), true, Some(255)));
        assert_eq!(t.activity.as_deref(), Some("in Object.wait()"));
        // JDK 8: no cpu= or elapsed=.
        let t =
            header("\"t1\" #9 prio=5 os_prio=0 tid=0x00007f nid=0x4d03 waiting for monitor entry [0x00007f]").unwrap();
        assert_eq!(t.native_tid, Some(0x4d03));
    }

    #[test]
    fn unknown_holder_and_cut_input() {
        let d = parse(
            "\"t\" #1 prio=5 tid=0x1 nid=0x2 waiting for monitor entry\n\tat A.b(A.java:1)\n\t- waiting to lock <0x9> (a X)\n\
             Found one Java-level deadlock:\n=====\n\"t\":\n  waiting to lock monitor 0x5 (object 0x9, a X),\n  which is held by UNKNOWN_owner_addr=0x77\n",
        );
        assert_eq!(d.deadlocks[0].cycle[0].held_by, None);
        assert_eq!(d.deadlocks[0].cycle[0].object.as_deref(), Some("0x9"));
        for cut in (0..JDK17.len()).step_by(53) {
            if let Some(end) = (cut..JDK17.len()).find(|&i| JDK17.is_char_boundary(i)) {
                let d = parse(&JDK17[..end]);
                assert!(d.threads.len() <= 23 && d.deadlocks.len() <= 2);
            }
        }
    }
}
