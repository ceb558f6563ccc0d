//! Wording several kinds share: what the processes that should accept on
//! a listener show (`accept_stalled`, `accept_queue_overflow`), a
//! thread's wait in one line, what a runtime shows of itself (a JVM's
//! counters and deadlock verdict, a Python process's frames:
//! `unanswered_requests`, `stuck_thread`), and a thread's CPU, the work
//! waiting on it and where it burns (`busy_thread`, `cpu_starved`).

use crate::facts::queues::AcceptFacts;
use crate::facts::syscalls::Class;
use crate::Ctx;
use unwedge_model::chain::Hop;
use unwedge_model::evidence::{CpuThread, CpuWaitingWork, ThreadSummary};
use unwedge_model::jvm::{JavaThread, JvmEvidence, LockAction};

/// "php-fpm8.2 (pids 1240, 1241) over unix:/run/php/fpm.sock": the
/// processes the first hop of a chain leads to, when it leads to some.
pub fn first_peers(hops: &[Hop]) -> Option<String> {
    let on = &hops.first()?.on;
    let via = on.via()?;
    let comm = on.comm.as_deref().unwrap_or("?");
    let who = match on.pids.as_slice() {
        [pid] => format!("{comm} (pid {pid})"),
        pids => {
            let shown: Vec<String> = pids.iter().take(4).map(u32::to_string).collect();
            let more = if pids.len() > 4 { format!(" and {} more", pids.len() - 4) } else { String::new() };
            format!("{comm} (pids {}{more})", shown.join(", "))
        }
    };
    Some(format!("{who} over {via}"))
}

/// The chain in a sentence for an explanation, when it crosses processes:
/// " Followed across processes, the wait is: nginx (1238) → …."
pub fn chain_sentence(hops: &[Hop]) -> String {
    if !hops.first().is_some_and(|h| h.on.leads_on()) {
        return String::new();
    }
    format!(" Followed across processes, the wait is: {}.", unwedge_model::chain::line(hops))
}

/// One line per thread: "thread 12 (gunicorn) S in select on fd 5: …";
/// threads whose syscall could not be read are left out.
pub fn threads_in_words(threads: &[ThreadSummary]) -> String {
    threads
        .iter()
        .filter(|t| t.syscall != "no syscall")
        .map(|t| {
            let on = t.fds.first().map(|f| format!(" on {f}")).unwrap_or_default();
            let what = match t.syscall.as_str() {
                "running" | "no syscall" => t.syscall.clone(),
                s => format!(
                    "in {s} ({})",
                    crate::facts::threads::meaning_of_words(s, t.fds.first().map(String::as_str))
                ),
            };
            format!("thread {} ({}) state {} {what}{on}", t.tid, t.name, t.state)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sentences for the explanation: who holds the socket, what the
/// accepting threads do, and the fact that explains the stall if one does.
pub fn accept_because(ctx: &Ctx, facts: &AcceptFacts, who: &str) -> String {
    let mut out = String::new();
    if !facts.masters.is_empty() {
        let names: Vec<String> = facts.masters.iter().map(|&m| ctx.proc_label(m)).collect();
        out.push_str(&format!(
            " {} hold{} the socket too, only so that {who} inherits it: it does not accept by design.",
            names.join(", "),
            if names.len() == 1 { "s" } else { "" }
        ));
    }
    if let Some((pid, open, soft)) = facts.at_fd_limit {
        out.push_str(&format!(
            " {} is at its file-descriptor limit ({open} of {soft} open): every accept() fails with EMFILE, so the queue only grows.",
            ctx.proc_label(pid)
        ));
    } else if let Some((pid, state)) = facts.stopped {
        out.push_str(&format!(" {} is stopped (state {state}): it runs no code at all.", ctx.proc_label(pid)));
    } else if let Some(b) = &facts.blocked_loop {
        let on = b.on.as_ref().map(|o| format!(" on {o}")).unwrap_or_default();
        let owed = b
            .owed_answer_ms
            .map(|ms| format!(", waiting for an answer its peer has owed for {} (our request was the last bytes on that connection)", crate::secs(ms)))
            .unwrap_or_default();
        out.push_str(&format!(
            " Its event loop is blocked: the process holds an epoll instance but no thread waits in epoll; thread {} ({}) sat in {}{on} for the whole interval{owed}. A synchronous call on the loop stops everything the loop does: no accept, no answer to anyone.",
            b.tid, b.name, b.syscall
        ));
    } else if let Some(w) = &facts.waits {
        out.push_str(&format!(" {}.", capitalized(&w.to_string())));
    } else if facts.held_busy > 0 {
        out.push_str(&format!(
            " Each process that accepts on it holds connections it accepted ({} in all) and none of their threads ran during the interval: they are busy with those requests, and nothing else accepts meanwhile.",
            facts.held_busy
        ));
    } else if facts.unanswered > 0 {
        out.push_str(&format!(
            " It holds {} accepted connection{} whose request it read and has not answered for up to {}: it is busy with {}, and nothing else accepts meanwhile.",
            facts.unanswered,
            if facts.unanswered == 1 { "" } else { "s" },
            crate::secs(facts.unanswered_for_ms as u64),
            if facts.unanswered == 1 { "that request" } else { "those requests" }
        ));
    }
    let words = threads_in_words(&facts.threads);
    // A blocked loop's thread is already told above.
    if !words.is_empty() && facts.blocked_loop.is_none() {
        out.push_str(&format!(" What it does now: {words}."));
    }
    out
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The fix the facts point to.
pub fn accept_fix(ctx: &Ctx, facts: &AcceptFacts, who: &str, pid: Option<u32>) -> String {
    let pid_s = pid.map(|p| p.to_string()).unwrap_or_else(|| "PID".into());
    if let Some((p, _, soft)) = facts.at_fd_limit {
        return format!(
            "Free or raise {}'s file descriptors (see its fd_exhaustion finding): find what holds them (ls -l /proc/{p}/fd), time out clients that never finish a request, and raise the limit above {soft} if the load is real (nginx worker_rlimit_nofile, systemd LimitNOFILE=, ulimit -n).",
            ctx.proc_label(p)
        );
    }
    if let Some((p, _)) = facts.stopped {
        return format!("Let it run again (see its process_stopped finding): kill -CONT {p}, detach the debugger, or thaw its cgroup.");
    }
    if let Some(b) = &facts.blocked_loop {
        return format!(
            "A synchronous call ({} in thread {}) blocks {who}'s event loop: make it async (an async client awaited on the loop) or run it in an executor or a thread (asyncio's loop.run_in_executor / asyncio.to_thread), and give it a timeout; more workers would only multiply the blocked loops.",
            b.syscall, b.tid
        );
    }
    if let Some(w) = &facts.waits {
        return match w {
            unwedge_model::evidence::ThreadsWait::Connecting { .. } => format!(
                "Give {who}'s connects a short timeout so a destination that never answers fails fast, and fix the path to it (see connect_unanswered)."
            ),
            _ => format!("Make the mount answer or take {who}'s request path off it (see mount_unresponsive)."),
        };
    }
    let calls: Vec<&str> = facts.threads.iter().map(|t| t.syscall.as_str()).collect();
    let all_futex = !calls.is_empty() && calls.iter().all(|c| Class::of(c) == Class::Futex);
    if facts.held_busy > 0 && !all_futex {
        return format!(
            "Every worker of {who} is busy with a request it accepted: find why those requests take so long (the report's Path line says what the workers wait in), bound them with a timeout (php-fpm request_terminate_timeout, gunicorn --timeout, a deadline in the handler), and run more workers if the load is real (php-fpm pm.max_children, gunicorn --workers); a short backlog makes clients fail fast instead of hanging."
        );
    }
    if facts.unanswered > 0 {
        return format!(
            "{who} is the only process accepting and one slow request holds it: run more workers or threads (gunicorn --workers/--threads, uWSGI --processes), bound slow work with a timeout, and keep the backlog short so clients fail fast instead of hanging."
        );
    }
    if all_futex {
        return format!(
            "Its threads all wait on a lock or a thread join (futex): find the thread that holds it and what that one waits for (`unwedge scan --pid {pid_s}` lists stuck threads; py-spy dump / gdb -p {pid_s} give the user stack)."
        );
    }
    format!(
        "Make sure its accept loop runs: a concurrency cap must not stop accept() while its slots are held by idle or stuck connections; its kernel stacks are in /proc/{pid_s}/task/*/stack."
    )
}

/// A JVM's facts as sentences: its own threads left out, its counters
/// over the interval (hsperfdata), what was asked of it.
pub fn jvm_sentences(j: &JvmEvidence) -> String {
    let mut out = format!(
        " It is a JVM{}: its own {} threads (garbage collection, JIT compilers, the VM thread, the launcher) wake on their own timers whatever the service does and are left out here.",
        j.vm.as_ref().map(|v| format!(" ({v})")).unwrap_or_default(),
        j.housekeeping_threads
    );
    if !j.monitor_enter.is_empty() && j.deadlocks.is_empty() {
        let n = j.monitor_enter.len();
        out.push_str(&format!(
            " Their native stacks show {n} thread{} blocked entering a Java monitor (synchronized: ObjectMonitor::enter): {} — a monitor held elsewhere, or two taken in opposite orders (a deadlock){}.",
            if n == 1 { "" } else { "s" },
            names(&j.monitor_enter),
            if j.dumped { "" } else { "; `--stacks attach` asks the JVM which" }
        ));
    }
    if let Some(i) = &j.interval {
        let mut parts: Vec<String> = Vec::new();
        let count = |n: Option<u64>, what: &str| n.map(|n| format!("{n} {what}"));
        parts.extend(count(i.contended_lock_attempts, "contended monitor entries"));
        parts.extend(count(i.futile_wakeups, "futile monitor wake-ups (a thread woke for a monitor still held)"));
        parts.extend(count(i.safepoints, "safepoints"));
        parts.push(format!("{} collections ({})", i.gc_invocations, crate::secs(i.gc_time_us / 1000)));
        let live = j.live_threads.map(|n| format!("{n} live Java threads; ")).unwrap_or_default();
        out.push_str(&format!(
            " Its hsperfdata counters (read without asking it anything): {live}during the {}: {}.",
            crate::secs(i.ms),
            parts.join(", ")
        ));
    }
    out
}

/// The JVM's deadlock verdict, confirmed by its threads' stacks, in one
/// sentence: each thread, the frame it waits in and who holds what it
/// waits for (`threads`: the dump's view of the threads the evidence shows).
pub fn deadlock_sentence(j: &JvmEvidence, threads: &[&JavaThread]) -> Option<String> {
    let cycle = &j.deadlocks.first()?.cycle;
    let edges: Vec<String> = cycle
        .iter()
        .map(|w| {
            let at = threads
                .iter()
                .find(|t| t.name == w.thread)
                .and_then(|t| waiting_frame(t))
                .map(|f| format!(" (in {f})"))
                .unwrap_or_default();
            let d = w.describe();
            match d.split_once(" waits for ") {
                Some((who, rest)) => format!("{who}{at} waits for {rest}"),
                None => d,
            }
        })
        .collect();
    let more = if j.deadlocks.len() > 1 { format!(" ({} cycles in all)", j.deadlocks.len()) } else { String::new() };
    Some(format!(
        "The JVM's own thread dump (--stacks attach) finds a Java-level deadlock{more}, and the threads' stacks agree: {}.",
        edges.join("; ")
    ))
}

/// The frame a Java thread waits in: where it waits to lock or is parked.
pub fn waiting_frame(t: &JavaThread) -> Option<String> {
    t.frames
        .iter()
        .find(|f| f.locks.iter().any(|l| matches!(l.action, LockAction::WaitingToLock | LockAction::WaitingToRelock)))
        .or_else(|| t.frames.iter().find(|f| !f.method.starts_with("java.") && !f.method.starts_with("jdk.")))
        .map(|f| f.display())
}

/// The frames that take the monitors of a deadlock, for the fix: "JvmScenario.lookup
/// (JvmScenario.java:99)" for each thread of the cycle, where the dump shows it.
pub fn deadlock_places(j: &JvmEvidence, threads: &[&JavaThread]) -> Vec<String> {
    let Some(d) = j.deadlocks.first() else { return Vec::new() };
    d.cycle
        .iter()
        .filter_map(|w| {
            let t = threads.iter().find(|t| t.name == w.thread)?;
            Some(format!("{} in {}", w.thread, waiting_frame(t)?))
        })
        .collect()
}

/// A JVM's fix: its own deadlock verdict where it gave one, else how to
/// ask it for its threads.
pub fn jvm_fix(pid: u32, jvm: &JvmEvidence, threads: &[&JavaThread], deadline: &str) -> String {
    if !jvm.deadlocks.is_empty() {
        let places = deadlock_places(jvm, threads);
        let at = if places.is_empty() { String::new() } else { format!(" ({})", places.join("; ")) };
        return format!(
            "Take the monitors of the deadlock in one order everywhere{at}, or take one of them only, {deadline}. The deadlocked threads never recover: restart the JVM to get it answering again."
        );
    }
    let asked = if jvm.dumped {
        "Its thread dump shows no Java-level deadlock: look at what its handler threads wait for in their Java frames (below)".to_string()
    } else {
        format!(
            "Ask the JVM which monitor or lock each handler waits for and who holds it: `unwedge scan --stacks attach --pid {pid}` (its own thread dump over its attach socket, as `jstack {pid}` does: a brief safepoint, no ptrace), `jcmd {pid} Thread.print`"
        )
    };
    format!("{asked}. Fix the lock order, never hold a lock across I/O, {deadline}.")
}

/// A few names, and how many more.
fn names(list: &[String]) -> String {
    let mut out = list.iter().take(6).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > 6 {
        out.push_str(&format!(" and {} more", list.len() - 6));
    }
    out
}

/// A thread whose CPU a finding tells: "the event loop (thread 12)",
/// "thread 45 (GC Thread#0, a JVM garbage collector thread)", "thread 7 (python3)".
pub fn cpu_thread_words(t: &CpuThread) -> String {
    match t.role.as_deref() {
        Some("the event loop") => format!("the event loop (thread {})", t.tid),
        Some(role) => format!("thread {} ({}, {role})", t.tid, t.name),
        None => format!("thread {} ({})", t.tid, t.name),
    }
}

/// The work that waited on a process the whole interval, in words:
/// "4 connections waited on 127.0.0.1:8080 without being accepted, and 1
/// request it read was not answered (the oldest for 12.0 s)".
pub fn cpu_work_words(w: &CpuWaitingWork) -> String {
    let mut parts = Vec::new();
    if w.queued > 0 {
        parts.push(format!(
            "{} connection{} waited on {} without being accepted",
            w.queued,
            if w.queued == 1 { "" } else { "s" },
            w.stalled_listeners.join(", ")
        ));
    }
    if w.unanswered > 0 {
        let oldest = w.oldest_unanswered_ms.map(|ms| format!(" (the oldest for {})", crate::secs(ms as u64)));
        parts.push(format!(
            "{} request{} it read went unanswered{}",
            w.unanswered,
            if w.unanswered == 1 { "" } else { "s" },
            oldest.unwrap_or_default()
        ));
    }
    parts.join(", and ")
}

/// Where the first sampled thread burnt its CPU, in a sentence or two
/// (the evidence holds every thread's stacks): "Sampled for 0.5 s after
/// the scan (98 samples), it ran in [jit] ← … (97%), in … (3%)." and what
/// limits the profile; empty when no thread was sampled.
pub fn where_it_burns(threads: &[CpuThread]) -> String {
    let Some((t, p)) = threads.iter().find_map(|t| Some((t, t.cpu_profile.as_ref()?))) else { return String::new() };
    let mut out = String::new();
    if p.samples > 0 && !p.stacks.is_empty() {
        let stacks: Vec<String> =
            p.stacks.iter().take(3).map(|h| format!("{} ({:.0}%)", h.folded(6), h.share(p) * 100.0)).collect();
        out.push_str(&format!(
            " Sampled for {} after the second snapshot ({} samples of {}), it ran in {}.",
            crate::secs(p.window_ms),
            p.samples,
            cpu_thread_words(t),
            stacks.join("; in ")
        ));
    }
    if let Some(n) = &p.note {
        out.push_str(&format!(" Samples: {n}."));
    }
    out
}

/// The sentence-initial form of a phrase ("the event loop" → "The event loop").
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
