//! What a language runtime shows of itself, where the scan read it. A
//! HotSpot JVM: its own threads (garbage collection, JIT compilers, the
//! VM thread and its periodic task, the launcher's first thread) wake on
//! their own timers whatever the service does, so they are left out of a
//! process's thread counts and of the judgement "did anything run"; its
//! hsperfdata counters over the interval; with `--stacks attach`, its
//! thread dump (Java frames, monitors, the JVM's deadlock verdict). A
//! CPython process: its threads' own frames, grouped by stack.
//!
//! Kernel facts: thread names (comm), CPU time, context switches and the
//! syscall with its first argument (a futex's address, an epoll fd) in
//! both snapshots. The runtime's own data (hsperfdata, the dump, the
//! interpreter's thread states) is what the pipeline read into the
//! snapshots; missing, it changes nothing here.

use crate::facts::syscalls::Call;
use crate::Ctx;
use unwedge_model::jvm::{self, JavaDeadlock, JavaThread, JvmEvidence, JvmInterval};
use unwedge_model::stack::{self, PyGroup, PyThreads};
use unwedge_model::{Process, Thread};

/// The process is a HotSpot JVM.
pub fn is_jvm(p: &Process) -> bool {
    jvm::is_jvm(p)
}

/// A JVM's own thread (housekeeping, or the launcher's first thread): not
/// the service's work. False for every thread of any other process.
pub fn runtime_thread(p: &Process, t: &Thread) -> bool {
    is_jvm(p) && jvm::is_runtime_thread(p, t)
}

/// The same thread in both snapshots did no work during the interval,
/// though it may have woken: asleep both times, no CPU time, in the same
/// syscall on the same object (a futex's address, an epoll fd). A JVM's
/// parked threads look so: JDK 17 rechecks a contended monitor every
/// second, and its dispatcher's epoll_wait times out every second.
pub fn idle_in_place(arch: &str, before: &Thread, now: &Thread) -> bool {
    let asleep = |x: &Thread| matches!(x.state, 'S' | 'D');
    let (Some(a), Some(b)) = (Call::of(arch, before), Call::of(arch, now)) else { return false };
    asleep(before)
        && asleep(now)
        && before.utime + before.stime == now.utime + now.stime
        && a.line.nr == b.line.nr
        && a.arg(0) == b.arg(0)
}

/// The JVM's own view of thread `tid` (its dump, `--stacks attach`).
pub fn java_thread(p: &Process, tid: u32) -> Option<&JavaThread> {
    p.jvm.as_ref()?.dump.as_ref()?.by_tid(tid)
}

/// The JVM's deadlock cycles that its threads' stacks confirm.
pub fn confirmed_deadlocks(p: &Process) -> Vec<JavaDeadlock> {
    let Some(d) = p.jvm.as_ref().and_then(|j| j.dump.as_ref()) else { return Vec::new() };
    d.deadlocks.iter().filter(|c| d.confirms(c)).cloned().collect()
}

/// The kernel thread ids of the threads in a confirmed deadlock, in the
/// cycles' order.
pub fn deadlocked_tids(p: &Process) -> Vec<u32> {
    let Some(d) = p.jvm.as_ref().and_then(|j| j.dump.as_ref()) else { return Vec::new() };
    confirmed_deadlocks(p).iter().flat_map(|c| c.cycle.iter()).filter_map(|w| d.thread(&w.thread)?.native_tid).collect()
}

/// HotSpot's functions a thread runs while it blocks entering a Java
/// monitor (`synchronized`), from the interpreter or compiled code.
const MONITOR_ENTER: [&str; 5] = [
    "InterpreterRuntime::monitorenter",
    "ObjectMonitor::enter",
    "ObjectMonitor::EnterI",
    "ObjectSynchronizer::enter",
    "SharedRuntime::complete_monitor_locking",
];

/// The thread's native stack shows it blocked entering a Java monitor.
pub fn in_monitor_enter(t: &Thread) -> bool {
    let Some(u) = &t.user_stack else { return false };
    u.frames
        .iter()
        .take(24)
        .any(|f| f.function.as_deref().is_some_and(|n| MONITOR_ENTER.iter().any(|m| n.starts_with(m))))
}

/// What a finding says of the JVM `p`; `None` for any other process.
pub fn jvm_evidence(ctx: &Ctx, p: &Process) -> Option<JvmEvidence> {
    if !is_jvm(p) {
        return None;
    }
    let facts = p.jvm.as_ref();
    let counters = facts.and_then(|j| j.counters.as_ref());
    let before = ctx
        .first
        .as_ref()
        .and_then(|f| f.process(p.pid))
        .filter(|q| q.start_ticks == p.start_ticks)
        .and_then(|q| q.jvm.as_ref()?.counters.as_ref());
    let vm = counters.and_then(|c| match (&c.vm_name, &c.vm_version) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, v) => n.clone().or_else(|| v.clone()),
    });
    Some(JvmEvidence {
        vm,
        housekeeping_threads: p.threads.iter().filter(|t| jvm::is_runtime_thread(p, t)).count(),
        live_threads: counters.and_then(|c| c.threads_live),
        interval: before.zip(counters).map(|(a, b)| JvmInterval::between(a, b, ctx.interval_ms)),
        monitor_enter: p
            .threads
            .iter()
            .filter(|t| !jvm::is_runtime_thread(p, t) && in_monitor_enter(t))
            .map(|t| t.comm.clone())
            .collect(),
        deadlocks: confirmed_deadlocks(p),
        dumped: facts.is_some_and(|j| j.dump.is_some()),
        note: facts.and_then(|j| j.note.clone()),
    })
}

/// A Python process's threads grouped by stack, as the reader left them
/// on one of its threads.
pub fn python_threads(p: &Process) -> Option<&PyThreads> {
    p.threads.iter().find_map(|t| t.user_stack.as_ref()?.python_threads.as_ref())
}

/// The largest group of Python threads at work: the most numerous whose
/// first thread `busy` says is not idling (in accept, an event loop, a
/// sleep): the handlers, not the accept loop.
pub fn busiest_group(threads: &PyThreads, busy: impl Fn(u32) -> bool) -> Option<&PyGroup> {
    threads.groups.iter().find(|g| g.tids.iter().any(|&t| busy(t)))
}

/// A Python group in words: "8 threads in Queue.get (queue.py:171) ←
/// Pool.get (app.py:30) ← handle_request (app.py:41)" (at most four frames).
pub fn python_group_words(g: &PyGroup) -> String {
    let folded = stack::fold_python_own(&g.frames);
    let mut text = folded.iter().take(4).cloned().collect::<Vec<_>>().join(" ← ");
    if folded.len() > 4 {
        text.push_str(" ← …");
    }
    format!("{} thread{} in {text}", g.count, if g.count == 1 { "" } else { "s" })
}

/// Whether a stack passes through a connection pool's checkout: a frame
/// whose function or file names a pool, or a checkout by its usual names.
pub fn through_a_pool<'a>(names: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    names.into_iter().any(|(function, file)| {
        let f = function.to_ascii_lowercase();
        let file = file.rsplit('/').next().unwrap_or(file).to_ascii_lowercase();
        f.contains("pool") || file.contains("pool") || f.contains("getconn") || f.ends_with("checkout")
    })
}

/// The largest group of a JVM's own threads (not housekeeping) with the
/// same innermost Java frames and state, from its dump: (count, one of them).
pub fn java_group(p: &Process) -> Option<(usize, &JavaThread)> {
    let d = p.jvm.as_ref()?.dump.as_ref()?;
    fn key(t: &JavaThread) -> (Option<&str>, Vec<&str>) {
        (t.state.as_deref(), t.frames.iter().take(3).map(|f| f.method.as_str()).collect())
    }
    let work: Vec<&JavaThread> =
        d.threads.iter().filter(|t| t.number.is_some() && !jvm::is_jvm_housekeeping(&t.name)).collect();
    let mut best: Option<(usize, &JavaThread)> = None;
    for t in &work {
        let n = work.iter().filter(|o| key(o) == key(t)).count();
        if best.is_none_or(|(m, _)| n > m) {
            best = Some((n, t));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::stack::PyFrame;

    fn thread(tid: u32, comm: &str, ticks: u64, syscall: &str) -> Thread {
        Thread {
            tid,
            comm: comm.into(),
            state: 'S',
            utime: ticks,
            syscall: Some(syscall.into()),
            ctxt_switches: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn a_jvm_and_its_own_threads() {
        let p = Process {
            pid: 10,
            comm: "java".into(),
            threads: vec![
                thread(10, "java", 5, "202 0x1 0x0 0x0 0x0 0x0 0x0 0x7f 0x7f"),
                thread(11, "java", 9, "202 0x2 0x0 0x0 0x0 0x0 0x0 0x7f 0x7f"),
                thread(12, "VM Thread", 0, "202 0x3 0x0 0x0 0x0 0x0 0x0 0x7f 0x7f"),
                thread(13, "C2 CompilerThre", 0, "202 0x3 0x0 0x0 0x0 0x0 0x0 0x7f 0x7f"),
                thread(14, "handler-1", 0, "202 0x3 0x0 0x0 0x0 0x0 0x0 0x7f 0x7f"),
            ],
            ..Default::default()
        };
        assert!(is_jvm(&p));
        let own: Vec<u32> = p.threads.iter().filter(|t| runtime_thread(&p, t)).map(|t| t.tid).collect();
        assert_eq!(own, [10, 12, 13], "the launcher's first thread, the VM thread, the compiler");
        let not_jvm = Process { threads: vec![thread(20, "VM Threadx", 0, "0")], ..Default::default() };
        assert!(!is_jvm(&not_jvm) && !runtime_thread(&not_jvm, &not_jvm.threads[0]));
    }

    #[test]
    fn idle_in_place_allows_wakeups_not_work() {
        let a = thread(1, "handler-1", 3, "202 0x7fa6dc159a78 0x89 0x0 0x7f 0x0 0x0 0x7f 0x7f");
        let mut b = a.clone();
        b.ctxt_switches = Some(2);
        assert!(idle_in_place("x86_64", &a, &b), "a recheck that finds the monitor still held");
        b.utime = 4;
        assert!(!idle_in_place("x86_64", &a, &b), "CPU time: it worked");
        let mut c = a.clone();
        c.syscall = Some("202 0x7fa6dc159b00 0x89 0x0 0x7f 0x0 0x0 0x7f 0x7f".into());
        assert!(!idle_in_place("x86_64", &a, &c), "another futex: it moved on");
        let mut r = a.clone();
        r.state = 'R';
        assert!(!idle_in_place("x86_64", &a, &r));
    }

    #[test]
    fn python_groups_in_words_and_pools() {
        let f = |function: &str, file: &str, line| PyFrame { function: function.into(), file: file.into(), line };
        let g = PyGroup {
            count: 8,
            tids: vec![1],
            frames: vec![
                f("Condition.wait", "/usr/lib/python3.11/threading.py", Some(320)),
                f("Queue.get", "/usr/lib/python3.11/queue.py", Some(171)),
                f("Pool.get", "/srv/app.py", Some(30)),
                f("handle_request", "/srv/app.py", Some(41)),
                f("Thread.run", "/usr/lib/python3.11/threading.py", Some(975)),
            ],
        };
        assert_eq!(
            python_group_words(&g),
            "8 threads in Queue.get (queue.py:171) ← Pool.get (app.py:30) ← handle_request (app.py:41)"
        );
        assert!(through_a_pool(g.frames.iter().map(|f| (f.function.as_str(), f.file.as_str()))));
        assert!(through_a_pool([("QueuePool._do_get", "/x/sqlalchemy/pool/impl.py")]));
        assert!(through_a_pool([("ThreadedConnectionPool.getconn", "/x/psycopg2/pool.py")]));
        assert!(!through_a_pool([("Lock.acquire", "/srv/cache.py"), ("refresh", "/srv/app.py")]));
        let groups = PyThreads {
            groups: vec![
                PyGroup { count: 1, tids: vec![7], frames: vec![] },
                PyGroup { count: 1, tids: vec![8], frames: vec![] },
            ],
            ..Default::default()
        };
        assert_eq!(busiest_group(&groups, |t| t == 8).map(|g| g.tids[0]), Some(8));
    }
}
