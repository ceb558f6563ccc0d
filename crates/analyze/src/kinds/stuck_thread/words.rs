//! Says which thread sat in which call while work waited, what that wait
//! means, and — from its user stack where read — which thread or
//! connection to give a timeout.

use super::judge::{Judged, Stuck};
use crate::facts::index::endpoint;
use crate::facts::syscalls::Class;
use crate::kinds::shared;
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::{StuckThread, Work};
use unwedge_model::jvm::JavaThread;
use unwedge_model::{stack, Process};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let (p, st, e) = (j.process.p, j.stuck(), &j.verdict.evidence);
    let (t, name) = (st.thread, st.call.name.as_str());
    let who = crate::describe(p);
    let on = st.fds.first().map(|f| format!(" on {f}")).unwrap_or_default();
    let interval = secs(ctx.interval_ms);
    let others_txt = if e.other_stuck_threads.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = e
            .other_stuck_threads
            .iter()
            .map(|o| {
                let fds = o.fds.first().map(|s| format!(" on {s}")).unwrap_or_default();
                format!("thread {} ({}) in {}{fds}", o.tid, o.name, o.syscall)
            })
            .collect();
        format!(" Also stuck in this process: {}.", list.join("; "))
    };
    let waits_txt = e
        .waits_on
        .as_ref()
        .map(|w| {
            let w = w.to_string();
            let mut c = w.chars();
            let first = c.next().map(|f| f.to_uppercase().collect::<String>()).unwrap_or_default();
            format!(" {first}{}.", c.as_str())
        })
        .unwrap_or_default();
    let texts: Vec<String> = e.work.iter().map(Work::to_string).collect();
    let (ran, same) = if e.jvm.is_some() {
        ("did no work during the", "(no CPU time; it may have woken to recheck, as a JVM's parked threads do) and was in the same syscall on the same object both times")
    } else {
        ("did not run at all during the", "(no CPU time, no context switch) and was in the same syscall with the same arguments both times")
    };
    let explanation = format!(
        "Thread {tid} ({tname}) of {who} {ran} {interval} between the two snapshots {same}: {name}, {meaning}{on}.{hint} \
Meanwhile the process has work it is not doing: {work}. A healthy idle thread looks the same, which is why this is raised only while work waits.{waits_txt}{others_txt}{runtime}",
        tid = t.tid,
        tname = t.comm,
        meaning = st.call.class.meaning(),
        hint = hint(ctx, st),
        work = texts.join("; "),
        runtime = runtime_story(e),
    );
    Words {
        title: format!(
            "{who}: thread {} ({}) sat in {name}{on} for the whole {interval} while work waits",
            t.tid, t.comm
        ),
        explanation,
        fix: fix(j),
    }
}

/// What the wait means, where its family says more than its name.
fn hint(ctx: &Ctx, st: &Stuck) -> &'static str {
    match st.call.class {
        Class::Futex => " A futex wait is a lock, a condition variable or a thread join: this thread waits for another thread, so the question is what that one waits for (see the other stuck threads).",
        // Which side the peer is on decides what its silence means.
        c if c.reads() && st.conn.is_some() => match st.conn.map(|s| ctx.last.is_served(s)) {
            Some(true) => " It waits for its client to send (the next request on a keep-alive connection, or the rest of one); while it waits, this thread serves nobody else.",
            _ => " It waits for its peer to send; an idle keep-alive upstream never sends and never closes, so the read lasts as long as the upstream keeps the connection open.",
        },
        _ => "",
    }
}

/// What the runtime shows of itself: a JVM's counters and deadlock verdict.
fn runtime_story(e: &StuckThread) -> String {
    let Some(jvm) = &e.jvm else { return String::new() };
    let mut out = shared::jvm_sentences(jvm);
    if let Some(d) = shared::deadlock_sentence(jvm, &java_threads(e)) {
        out.push(' ');
        out.push_str(&d);
    }
    out
}

/// The JVM's view of the threads the finding shows (`--stacks attach`).
fn java_threads(e: &StuckThread) -> Vec<&JavaThread> {
    e.thread.java.iter().chain(e.other_stuck_threads.iter().filter_map(|o| o.java.as_ref())).collect()
}

fn fix(j: &Judged) -> String {
    let (p, st) = (j.process.p, j.stuck());
    let pid = p.pid;
    let e = &j.verdict.evidence;
    if let Some(jvm) = &e.jvm {
        let deadline = "and give every request a deadline, so a stuck one fails instead of holding its client forever";
        let fix = shared::jvm_fix(pid, jvm, &java_threads(e), deadline);
        if !jvm.deadlocks.is_empty() {
            return fix;
        }
        return format!(
            "{fix} If it never recovers, restart it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period)."
        );
    }
    let hint = st.thread.user_stack.as_ref().and_then(|u| u.interpreter_hint.as_deref());
    if let Some(story) = python_story(p, st) {
        return format!(
            "{story}. If it never recovers, restart it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period)."
        );
    }
    if let Some(story) = stack_story(p, st, &j.process.stuck) {
        let interp = hint.map(|h| format!(" For the interpreter's own frames: {h}.")).unwrap_or_default();
        return format!(
            "{story}{interp} If it never recovers, restart it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period)."
        );
    }
    let look = match hint {
        Some(h) => format!("its user-space stack was not read here; for the interpreter's frames: {h}"),
        None => "unwedge shows its user-space stack when run as root (--stacks=auto, the default)".into(),
    };
    format!(
        "{} If it never recovers, restart it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period).",
        fix_for(j, &look)
    )
}

/// What the evidence points to, rather than a list of typical causes.
fn fix_for(j: &Judged, stack: &str) -> String {
    let (p, st) = (j.process.p, j.stuck());
    let (pid, tid) = (p.pid, st.thread.tid);
    let look = format!("Its kernel side is in /proc/{pid}/task/{tid}/stack; {stack}.");
    if let Some(conn) = st.conn {
        let remote = endpoint(conn.remote, conn.remote_port);
        if st.idle_keepalive_upstream {
            return format!(
                "It reads an upstream ({remote}) that answered and now keeps the connection open (HTTP keep-alive), so the read ends only when the upstream closes. Close the upstream connection once the response is relayed, or disable keep-alive towards it (send `Connection: close`, or turn off the proxy's keep-alive to its upstreams), and give that read a timeout (SO_RCVTIMEO, a read deadline)."
            );
        }
        return format!(
            "It waits for {remote} to send: give that read a timeout (SO_RCVTIMEO, a read deadline) and find why the peer is silent. {look}"
        );
    }
    if st.call.class == Class::Futex {
        return format!(
            "A futex wait is a lock or a thread join: the thread it waits for is the one to fix (see the other stuck threads of this process; give their blocking I/O a timeout). {look}"
        );
    }
    if j.verdict.evidence.work.iter().any(|w| matches!(w, Work::PendingSignal { .. })) {
        return format!("A signal it needs is pending and not delivered (see blocked_signal). {look}");
    }
    format!("Find what it waits for. {look}")
}

/// The thread as its user stack tells it, with the fix that follows:
/// a join names the thread it waits for (the futex of a join waits on the
/// joined thread's id, the third syscall argument) and what that one waits
/// in; a read names the function that reads and the connection.
fn stack_story(p: &Process, st: &Stuck, all: &[Stuck]) -> Option<String> {
    let frames = &st.thread.user_stack.as_ref()?.frames;
    let own = stack::own_functions(frames);
    if own.is_empty() {
        return None;
    }
    let who = if st.thread.tid == p.pid {
        "the main thread".to_string()
    } else {
        format!("thread {} ({})", st.thread.tid, st.thread.comm)
    };
    let call = stack::library_call(frames).unwrap_or_else(|| st.call.name.clone());
    let path = own.join(" ← ");
    if stack::is_join(&call) && st.call.class == Class::Futex {
        let joined = u32::try_from(st.call.arg(2)).ok().and_then(|tid| all.iter().find(|o| o.thread.tid == tid));
        let Some(other) = joined else {
            return Some(format!(
                "The user stack shows the cause: {who} waits in {call} ({path}) for another thread to end; find what that thread waits for (its own finding names it) and give that wait a timeout."
            ));
        };
        let their = other.thread.user_stack.as_ref().map(|u| stack::own_functions(&u.frames)).unwrap_or_default();
        let in_fn = their.first().map(|f| format!(" in {f}")).unwrap_or_default();
        let (what, fix) = waits_on(other);
        return Some(format!(
            "The user stack shows the cause: {who} waits in {call} ({path}) for thread {} ({}){in_fn}, which {what}. {fix}, so the join returns.",
            other.thread.tid, other.thread.comm
        ));
    }
    let (what, fix) = waits_on(st);
    Some(format!("The user stack shows where: {who} waits in {call}, called from {path}, and {what}. {fix}."))
}

/// The thread as its Python frames tell it: the function that made the
/// call, and who called it.
fn python_story(p: &Process, st: &Stuck) -> Option<String> {
    let frames = &st.thread.user_stack.as_ref()?.python;
    if frames.is_empty() {
        return None;
    }
    let who = if st.thread.tid == p.pid {
        "the main thread".to_string()
    } else {
        format!("thread {} ({})", st.thread.tid, st.thread.comm)
    };
    let path = stack::fold_python_own(frames).into_iter().take(4).collect::<Vec<_>>().join(" ← ");
    let (what, fix) = waits_on(st);
    Some(format!(
        "Its Python frames (read without stopping it) show where: {who} waits in {}, called from {path}, and {what}. {fix}",
        st.call.name
    ))
}

/// What a stuck thread waits on, in words, and what to change.
fn waits_on(s: &Stuck) -> (String, &'static str) {
    let fd = s.fds.first().map(|f| format!(" ({f})")).unwrap_or_default();
    let reads = s.call.class.reads();
    if reads && s.upstream {
        (
            format!("reads an idle keep-alive upstream{fd}"),
            "Give that read a timeout (SO_RCVTIMEO, a read deadline) and close the upstream connection when the client is done (or disable keep-alive towards the origin)",
        )
    } else if reads && s.conn.is_some() {
        (format!("reads a client that sends nothing{fd}"), "Give that read a timeout (SO_RCVTIMEO, a read deadline)")
    } else if s.conn.is_some() {
        (format!("waits in {} on a connection{fd}", s.call.name), "Give that call a timeout")
    } else {
        (format!("waits in {}{fd}", s.call.name), "Give that wait a timeout or a way to be woken")
    }
}
