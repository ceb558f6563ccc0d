//! `stuck_thread` — story 1 of FIELD-NOTES: the proxy's main thread waited
//! (futex, a thread join) for its TLS filter thread, which waited in recv on
//! an upstream keep-alive connection that never closed, while the client's
//! data sat unread. gdb found it; the kernel already knew.
//!
//! Kernel facts, per thread in both snapshots: state, CPU ticks and context
//! switches (/proc/PID/task/TID/stat, status), the syscall number and its
//! arguments (/proc/PID/task/TID/syscall), decoded with the x86_64/aarch64
//! tables — never wchan names, which change between kernels; the process's
//! waiting work from sock_diag (unread bytes, queued connections, CLOSE-WAIT)
//! and pending signals. False alarms avoided: idle threads of a process with
//! nothing to do (an idle pool on a condvar, a server with no clients) —
//! work must wait untouched in both snapshots (same unread byte count, the
//! same queued connections), and only on the server side (a client pool's
//! idle CLOSE-WAIT connection is not work); a loop that re-enters the same
//! syscall (its context switches move); sigwait threads, sleeping threads
//! and accept loops with nothing queued, which wait by design.
//!
//! A process any of whose threads ran during the interval is not stuck:
//! a busy event loop (Redis under redis-benchmark, seen here) leaves bytes
//! unread for a moment while its helper threads idle in futex.
//!
//! Noise avoided (in the second pass, `links.rs`): when every piece of
//! waiting work is already named by another finding about this process (its
//! CLOSE-WAIT sockets by close_wait_leak, its queue by keepalive_starvation
//! or accept_stalled), only threads blocked on a TCP connection are kept:
//! they say which connection holds things up. Threads parked in futex or
//! epoll then add nothing — a Go server's runtime threads all look like that
//! whatever its goroutines do. The evidence carries the typed work list and
//! `on_connection` for that.

use crate::facts::index::{endpoint, FastSet};
use crate::facts::syscalls::{Call, Class};
use crate::facts::{signals, threads};
use crate::{secs, Ctx};
use std::collections::HashSet;
use std::net::IpAddr;
use unwedge_model::evidence::{StuckThread, ThreadSummary, Work};
use unwedge_model::{stack, Finding, Process, Severity, TcpState, Thread};

/// A stuck thread with its syscall decoded and its fds resolved once (a
/// pipe's holders cost a pass over every process).
struct Stuck<'a> {
    thread: &'a Thread,
    call: Call,
    fds: Vec<String>,
    on_connection: bool,
    /// The connection is one this process opened (its local port serves nothing): an upstream.
    upstream: bool,
}

/// At most this many findings per process; the rest are listed in evidence.
const MAX_PER_PROCESS: usize = 4;
/// Other stuck threads named in each finding.
const MAX_OTHERS: usize = 8;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(first) = &ctx.first else { return };
    let arch = ctx.snap().arch.as_str();
    let with_work = socket_work_owners(ctx);
    for p in &ctx.snap().processes {
        if p.state == 'Z' || p.threads.is_empty() {
            continue;
        }
        let Some(before) = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks) else { continue };
        let unchanged = |i: usize, t: &Thread| {
            // /proc lists a process's threads in the same order both times:
            // look at the same index first (no quadratic search on a
            // 2,000-thread JVM).
            let same_slot = before.threads.get(i).filter(|b| b.tid == t.tid);
            same_slot
                .or_else(|| before.threads.iter().find(|b| b.tid == t.tid))
                .is_some_and(|tb| crate::facts::waits::slept_through(tb, t))
        };
        // A thread that ran is the one doing the work (a busy event loop
        // whose helper threads idle in futex): the process is not stuck.
        if !p.threads.iter().enumerate().all(|(i, t)| unchanged(i, t)) {
            continue;
        }
        let work = waiting_work(ctx, p, before, with_work.contains(&p.pid));
        if work.is_empty() {
            continue;
        }
        // Every thread is unchanged here; keep those whose wait says something.
        let mut stuck: Vec<Stuck> = p
            .threads
            .iter()
            .filter_map(|t| {
                let call = Call::of(arch, t)?;
                // Sigwait threads wait by design; a sleeping thread chose to sleep; a
                // thread in accept on a listener with nothing queued is ready for work
                // that has not come (the CLOSE-WAIT sockets are its handlers' business).
                let by_design = matches!(call.class, Class::SigWait | Class::Sleep)
                    || (call.class == Class::Accept && idle_listener(ctx, p, call.arg(0)));
                if by_design {
                    return None;
                }
                let fds = threads::fd_meanings(&ctx.last, p, t, &call);
                let conn = threads::waited_connection(&ctx.last, p, &call);
                let on_connection = conn.is_some();
                let upstream = call.fd_numbers().any(|fd| ctx.last.socket_of_fd(p, fd).is_some_and(|s| ctx.last.is_outbound(s)));
                Some(Stuck { thread: t, call, fds, on_connection, upstream })
            })
            .collect();
        if stuck.is_empty() {
            continue;
        }
        // Threads on a connection tell most (and survive the second pass when
        // other findings explain the work), then those on any fd, then the main thread.
        stuck.sort_by_key(|s| (!s.on_connection, s.fds.is_empty(), s.thread.tid != p.pid, s.thread.tid));
        let summary: Vec<ThreadSummary> = stuck
            .iter()
            .map(|s| ThreadSummary {
                tid: s.thread.tid,
                name: s.thread.comm.clone(),
                state: s.thread.state.to_string(),
                syscall: s.call.name.clone(),
                fds: s.fds.clone(),
                user_stack: s.thread.user_stack.as_ref().filter(|u| !u.frames.is_empty()).map(|u| u.frames.clone()),
                goroutines: None,
                goroutines_note: None,
            })
            .collect();
        let waits = crate::facts::waits::summarize(ctx, p);
        for (i, st) in stuck.iter().enumerate().take(MAX_PER_PROCESS) {
            // A pool of 200 idle workers would drown the evidence: name the first few.
            let others: Vec<ThreadSummary> =
                summary.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, v)| v.clone()).take(MAX_OTHERS).collect();
            out.push(finding(ctx, p, st, &stuck, &work, others, &waits));
        }
    }
}

/// What the evidence points to, rather than a list of typical causes.
fn fix_for(ctx: &Ctx, p: &Process, st: &Stuck, work: &[(String, Work)], stack: &str) -> String {
    let (pid, tid) = (p.pid, st.thread.tid);
    let look = format!("Its kernel side is in /proc/{pid}/task/{tid}/stack; {stack}.");
    if let Some(conn) = st.on_connection.then(|| waited_socket(ctx, p, st)).flatten() {
        let remote = endpoint(conn.remote, conn.remote_port);
        let upstream = ctx.last.is_outbound(conn);
        let answered = conn.info.and_then(|i| i.bytes_received).is_some_and(|b| b > 0);
        let idle = conn.info.is_some_and(|i| i.last_data_recv_ms >= ctx.t.idle_ms);
        if upstream && answered && idle {
            return format!(
                "It reads an upstream ({remote}) that answered and now keeps the connection open (HTTP keep-alive), so the read ends only when the upstream closes. Close the upstream connection once the response is relayed, or disable keep-alive towards it (`Connection: close`; story 1's proxy: HTTPCONF=bugs:no-keepalive), and give that read a timeout (SO_RCVTIMEO, a read deadline)."
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
    if work.iter().any(|(_, w)| *w == Work::PendingSignal) {
        return format!("A signal it needs is pending and not delivered (see blocked_signal). {look}");
    }
    format!("Find what it waits for. {look}")
}

/// The TCP connection among the stuck thread's fd arguments.
fn waited_socket<'a>(ctx: &Ctx<'a>, p: &Process, st: &Stuck) -> Option<&'a unwedge_model::Socket> {
    threads::waited_connection(&ctx.last, p, &st.call)
}

/// The local port the finding concerns: that of the thread's own socket when
/// it is a served port (something listens on it), else the process's first
/// served port with work waiting, so `--port` finds it.
fn served_port(ctx: &Ctx, p: &Process, fds: &[u64]) -> Option<u16> {
    let port_of =
        |fd: &unwedge_model::SocketFd| ctx.last.socket(fd.inode).filter(|s| ctx.last.is_served(s)).map(|s| s.local_port);
    p.sockets.iter().filter(|s| fds.contains(&(s.fd as u64))).find_map(port_of).or_else(|| {
        p.sockets.iter().filter_map(|fd| ctx.last.socket(fd.inode).map(|s| (fd, s))).find_map(|(fd, s)| {
            let busy = match s.state {
                TcpState::Listen => !ctx.last.queued_for(s).is_empty(),
                TcpState::CloseWait => true,
                _ => s.recv_q > 0,
            };
            if busy {
                port_of(fd)
            } else {
                None
            }
        })
    })
}

/// fd `fd` of `p` is a listener with an empty accept queue.
fn idle_listener(ctx: &Ctx, p: &Process, fd: u64) -> bool {
    p.sockets
        .iter()
        .find(|s| s.fd as u64 == fd)
        .and_then(|s| ctx.last.socket(s.inode))
        .is_some_and(|l| l.state == TcpState::Listen && ctx.last.queued_for(l).is_empty())
}

/// Work that waited, untouched, in both snapshots: what a stuck thread is
/// keeping from being done. Only server-side sockets (on a port something
/// listens on) count: a client's pooled connection may sit in CLOSE-WAIT, or
/// hold a GOAWAY it reads on next use, for as long as the pool likes.
fn waiting_work(ctx: &Ctx, p: &Process, before: &Process, has_socket_work: bool) -> Vec<(String, Work)> {
    let first = ctx.first.as_ref().expect("two snapshots");
    let mut work = Vec::new();
    let mut close_wait = 0;
    let sockets = if has_socket_work { p.sockets.as_slice() } else { &[] };
    for fd in sockets {
        let (Some(now), Some(then)) = (ctx.last.socket(fd.inode), first.socket(fd.inode)) else {
            continue;
        };
        if !first.owners_of(fd.inode).contains(&before.pid) {
            continue;
        }
        match now.state {
            TcpState::Listen => {
                // Connections queued in both snapshots, not merely a queue that is never empty.
                let old: HashSet<(IpAddr, u16)> =
                    first.queued_for(then).iter().map(|c| (c.remote, c.remote_port)).collect();
                let waited =
                    ctx.last.queued_for(now).iter().filter(|c| old.contains(&(c.remote, c.remote_port))).count();
                if waited > 0 {
                    work.push((
                        format!(
                            "{waited} connections wait in the accept queue of {}",
                            endpoint(now.local, now.local_port)
                        ),
                        Work::AcceptQueue { port: now.local_port },
                    ));
                }
            }
            _ if !ctx.last.is_served(now) => {}
            TcpState::CloseWait if then.state == TcpState::CloseWait => close_wait += 1,
            // Same byte count both times: nobody read from it during the interval.
            TcpState::Established if now.recv_q > 0 && then.recv_q == now.recv_q => work.push((
                format!(
                    "{} bytes wait unread on fd {}: TCP {} -> {}",
                    now.recv_q,
                    fd.fd,
                    endpoint(now.local, now.local_port),
                    endpoint(now.remote, now.remote_port)
                ),
                Work::UnreadBytes,
            )),
            _ => {}
        }
    }
    if close_wait > 0 {
        work.push((
            format!("{close_wait} sockets in CLOSE-WAIT (the peer closed; nobody closed this end)"),
            Work::CloseWait,
        ));
    }
    let pending = |q: &Process| {
        q.threads.iter().filter_map(|t| t.signals).fold(0u64, |a, m| a | ((m.pending | m.shared_pending) & !m.ignored))
    };
    let sigs = pending(p) & pending(before) & !signals::bit(signals::SIGCHLD);
    if sigs != 0 {
        // Never explained by another finding: the thread's wait is story 4's hang itself.
        work.push((format!("signal {} pending", signals::names(sigs).join(", ")), Work::PendingSignal));
    }
    work
}

/// Pids holding a socket that may be waiting work (a listener with a queue,
/// a served socket in CLOSE-WAIT or with unread bytes): found from the
/// sockets, so that the per-fd checks run only for the few processes that
/// can have any (analysis of a 100k-socket host stays within its budget).
fn socket_work_owners(ctx: &Ctx) -> FastSet<u32> {
    let mut pids = FastSet::default();
    for s in &ctx.snap().sockets {
        let maybe = match s.state {
            TcpState::Listen => s.recv_q > 0,
            TcpState::CloseWait => true,
            TcpState::Established => s.recv_q > 0,
            _ => false,
        };
        if maybe && s.inode != 0 && (s.state == TcpState::Listen || ctx.last.is_served(s))
        {
            pids.extend(ctx.last.owners_of(s.inode).iter().copied());
        }
    }
    pids
}

fn finding(
    ctx: &Ctx,
    p: &Process,
    st: &Stuck,
    all: &[Stuck],
    work: &[(String, Work)],
    others: Vec<ThreadSummary>,
    waits: &crate::facts::waits::Summary,
) -> Finding {
    let (t, name, fds) = (st.thread, st.call.name.as_str(), &st.fds);
    let who = crate::describe(p);
    let on = fds.first().map(|f| format!(" on {f}")).unwrap_or_default();
    let interval = secs(ctx.interval_ms);
    let title =
        format!("{who}: thread {} ({}) sat in {name}{on} for the whole {interval} while work waits", t.tid, t.comm);
    let others_txt = if others.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = others
            .iter()
            .map(|o| {
                let fds = o.fds.first().map(|s| format!(" on {s}")).unwrap_or_default();
                format!("thread {} ({}) in {}{fds}", o.tid, o.name, o.syscall)
            })
            .collect();
        format!(" Also stuck in this process: {}.", list.join("; "))
    };
    let hint = match st.call.class {
        Class::Futex => " A futex wait is a lock, a condition variable or a thread join: this thread waits for another thread, so the question is what that one waits for (see the other stuck threads).",
        // Which side the peer is on decides what its silence means.
        c if c.reads() && st.on_connection => {
            match waited_socket(ctx, p, st).map(|s| ctx.last.is_served(s)) {
                Some(true) => " It waits for its client to send (the next request on a keep-alive connection, or the rest of one); while it waits, this thread serves nobody else.",
                _ => " It waits for its peer to send; an idle keep-alive upstream never sends and never closes, so the read lasts as long as the upstream keeps the connection open.",
            }
        }
        _ => "",
    };
    // What most threads wait on, in one line (an upstream, a DNS lookup, a full pipe).
    let waits_on = waits.upstream.clone().or_else(|| waits.resolver.clone()).or_else(|| waits.pipe.clone());
    let waits_txt = waits_on
        .as_deref()
        .map(|w| {
            let mut c = w.chars();
            let first = c.next().map(|f| f.to_uppercase().collect::<String>()).unwrap_or_default();
            format!(" {first}{}.", c.as_str())
        })
        .unwrap_or_default();
    let texts: Vec<&str> = work.iter().map(|(text, _)| text.as_str()).collect();
    let explanation = format!(
        "Thread {tid} ({tname}) of {who} did not run at all during the {interval} between the two snapshots (no CPU time, no context switch) and was in the same syscall with the same arguments both times: {name}, {meaning}{on}.{hint} \
Meanwhile the process has work it is not doing: {work}. A healthy idle thread looks the same, which is why this is raised only while work waits.{waits_txt}{others_txt}",
        tid = t.tid,
        tname = t.comm,
        meaning = st.call.class.meaning(),
        work = texts.join("; "),
    );
    let ev = StuckThread {
        thread: threads::evidence(&ctx.last, p, t),
        unchanged_for_ms: ctx.interval_ms,
        work_waiting: texts.iter().map(|t| t.to_string()).collect(),
        stuck_threads_in_process: all.len(),
        other_stuck_threads: others,
        cmdline: p.cmdline.clone(),
        work: work.iter().map(|(_, w)| *w).collect(),
        on_connection: st.on_connection,
        waits_on,
        waits_on_typed: waits.waits_on.clone(),
    };
    let port = served_port(ctx, p, &st.call.fds().collect::<Vec<_>>());
    let mut f = ctx.legacy_finding(Severity::Warning, Some(p.pid), port, p.netns, ev);
    f.tid = Some(t.tid);
    f.title = title;
    f.explanation = explanation;
    let hint = t.user_stack.as_ref().and_then(|u| u.interpreter_hint.as_deref());
    if let Some(story) = stack_story(p, st, all) {
        let interp = hint.map(|h| format!(" For the interpreter's own frames: {h}.")).unwrap_or_default();
        f.fix = format!(
            "{story}{interp} If it never recovers, restart it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period).",
            pid = p.pid
        );
        return f;
    }
    let look = match hint {
        Some(h) => format!("its user-space stack was not read here; for the interpreter's frames: {h}"),
        None => "unwedge shows its user-space stack when run as root (--stacks=auto, the default)".into(),
    };
    f.fix = format!(
        "{} If it never recovers, restart it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period).",
        fix_for(ctx, p, st, work, &look),
        pid = p.pid
    );
    f
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

/// What a stuck thread waits on, in words, and what to change.
fn waits_on(s: &Stuck) -> (String, &'static str) {
    let fd = s.fds.first().map(|f| format!(" ({f})")).unwrap_or_default();
    let reads = s.call.class.reads();
    if reads && s.upstream {
        (
            format!("reads an idle keep-alive upstream{fd}"),
            "Give that read a timeout (SO_RCVTIMEO, a read deadline) and close the upstream connection when the client is done (or disable keep-alive towards the origin)",
        )
    } else if reads && s.on_connection {
        (format!("reads a client that sends nothing{fd}"), "Give that read a timeout (SO_RCVTIMEO, a read deadline)")
    } else if s.on_connection {
        (format!("waits in {} on a connection{fd}", s.call.name), "Give that call a timeout")
    } else {
        (format!("waits in {}{fd}", s.call.name), "Give that wait a timeout or a way to be woken")
    }
}
