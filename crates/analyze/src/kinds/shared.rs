//! Wording several kinds share: what the processes that should accept on
//! a listener show (`accept_stalled`, `accept_queue_overflow`), and a
//! thread's wait in one line.

use crate::facts::queues::AcceptFacts;
use crate::facts::syscalls::Class;
use crate::Ctx;
use unwedge_model::chain::Hop;
use unwedge_model::evidence::ThreadSummary;

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
                s => format!("in {s} ({})", Class::of(s).meaning()),
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
    if !words.is_empty() {
        out.push_str(&format!(" What it does now: {words}."));
    }
    out
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
