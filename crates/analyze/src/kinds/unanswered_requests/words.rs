//! Says that the server reads requests and answers none, what its threads
//! wait on (a lock, an upstream, a DNS lookup, a full pipe, goroutines),
//! and where to look and what to bound.

use super::judge::Judged;
use crate::facts::runtime;
use crate::facts::syscalls::Class;
use crate::facts::waits::Dominant;
use crate::kinds::shared::{self, chain_sentence, first_peers};
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::{ThreadSummary, ThreadsWait, UnansweredRequests};
use unwedge_model::jvm::JavaThread;

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let pid = j.verdict.pid.unwrap_or(0);
    let who = ctx.proc_label(pid);
    let (n, oldest) = (e.unanswered, secs(e.oldest_wait_ms));
    let cause = headline(j).map(|h| format!(": {h}")).unwrap_or_default();
    let interval = secs(ctx.interval_ms);
    let progress = if e.new_unanswered > 0 {
        format!(
            " During the {interval} between the snapshots no connection of this listener got a byte of answer, and {} of the {} connections accepted meanwhile carry requests that are unanswered too: it still accepts work and finishes none.",
            e.new_unanswered, e.accepted_during_interval
        )
    } else {
        format!(
            " During the {interval} between the snapshots no connection of this listener got a byte of answer, none was sent a byte after the newest of these requests arrived, and the server closed none{}.",
            if e.accepted_during_interval == 0 { "; no new connection arrived to test it further" } else { "" }
        )
    };
    let gave_up_txt = if e.clients_gave_up > 0 {
        format!(" {} of the clients already gave up and closed their end (CLOSE-WAIT).", e.clients_gave_up)
    } else {
        String::new()
    };
    let parked_txt = match (j.parked, j.partial) {
        (false, _) => String::new(),
        (true, 0) => " Its event loop ran during the interval and keeps these connections in its poll set: it is alive and has not answered them — requests parked on purpose (BLPOP, long polling, a subscription), handlers awaiting an event that never comes, or requests it is still waiting to receive the rest of; the kernel shows the bytes it read, not whether a request is complete. Hence info, not an alarm.".to_string(),
        (true, n) => format!(
            " Its event loop ran during the interval, none of its threads is busy, and {n} of these clients sent a few bytes once and nothing since: it is waiting for the rest of their requests (or holds requests it parks on purpose; the kernel shows the bytes it read, not whether a request is complete). Hence info, not an alarm: such clients are only a problem when they pin the server's fds or slots."
        ),
    };
    let accepted = if e.unread == 0 {
        format!("{who} accepted these connections and read their requests (their receive queues are empty) but has sent nothing back since they arrived, the oldest {oldest} ago; clients wait until they time out.")
    } else {
        format!(
            "{who} accepted these connections and has sent nothing back since their requests arrived, the oldest {oldest} ago; clients wait until they time out. {} of the {n} requests it never even read: their bytes still wait in the receive queue, as many as arrived, unchanged across the interval — no thread picked them up{}.",
            e.unread,
            if e.unread < n { "; the others it read and set aside" } else { "" }
        )
    };
    let explanation = format!(
        "{accepted}{progress}{gave_up_txt}{spread}{story}{runtime}{parked_txt}{caveat}",
        spread = spread(ctx, j, &who),
        story = story(j),
        runtime = runtime_story(j),
        // Where the chain shows what the requests wait on, or requests sit
        // never read (no long poll leaves a request unread), the facts
        // answer the caveat.
        caveat = if first_peers(&j.verdict.waits_on).is_some() || e.unread > 0 {
            ""
        } else {
            " Legitimate long waits (long polling, BLPOP, a backend waiting on a lock) look the same per connection; this is raised only because nothing else on this listener is being answered."
        },
    );
    let title = if e.unread == 0 {
        format!("{who} accepts and reads requests on {}, answers none for {oldest}: {n} connections wait{cause}", e.listen)
    } else {
        format!(
            "{who} accepts requests on {} and answers none for {oldest}: {n} connections wait, {} never read{cause}",
            e.listen, e.unread
        )
    };
    Words { title, explanation, fix: fix_text(pid, j) }
}

/// What the runtime shows of itself: a JVM's counters and deadlock
/// verdict, a Python process's frames.
fn runtime_story(j: &Judged) -> String {
    let e = &j.verdict.evidence;
    let mut out = String::new();
    if let Some(jvm) = &e.jvm {
        out.push_str(&shared::jvm_sentences(jvm));
        if let Some(d) = shared::deadlock_sentence(jvm, &java_threads(e)) {
            out.push(' ');
            out.push_str(&d);
        }
    }
    // A Python process's frames are told once, in the fix (which names the
    // largest group of handler frames) and the thread list (every group).
    out
}

/// The JVM's view of the sampled threads (`--stacks attach`).
fn java_threads(e: &UnansweredRequests) -> Vec<&JavaThread> {
    e.threads.iter().filter_map(|t| t.java.as_ref()).collect()
}

fn idles(syscall: &str) -> bool {
    let c = Class::of(syscall);
    c.polls() || matches!(c, Class::Accept | Class::Sleep | Class::SigWait | Class::SigSuspend)
}

/// The handlers' largest group of Python frames, folded ("8 threads in Queue.get (queue.py:171) ← Pool.get (app.py:30) ← …").
fn python_group(e: &UnansweredRequests) -> Option<String> {
    let py = e.threads.iter().find_map(|t| t.python_threads.as_ref())?;
    // The sampled threads in a busy wait (not accept, an event loop, a sleep).
    let busy: Vec<u32> = e.threads.iter().filter(|t| !idles(&t.syscall)).map(|t| t.tid).collect();
    runtime::busiest_group(py, |tid| busy.contains(&tid) || !e.threads.iter().any(|t| t.tid == tid))
        .map(runtime::python_group_words)
}

fn line(w: Option<&ThreadsWait>) -> String {
    w.map(ThreadsWait::to_string).unwrap_or_default()
}

/// The cause in a few words, for the title ("every thread waits on a lock (futex)").
fn headline(j: &Judged) -> Option<String> {
    let e = &j.verdict.evidence;
    if let Some(d) = e.jvm.as_ref().and_then(|v| v.deadlocks.first()) {
        let names: Vec<&str> = d.cycle.iter().map(|w| w.thread.as_str()).collect();
        return Some(format!("a Java-level deadlock between {}", names.join(" and ")));
    }
    if let (Dominant::Upstream | Dominant::Mixed | Dominant::Pipe, Some(peers)) =
        (j.dominant, first_peers(&j.verdict.waits_on))
    {
        return Some(format!("it waits on {peers}"));
    }
    match j.dominant {
        Dominant::Pool => Some(match &e.pool {
            Some(ThreadsWait::IdlePool { confirmed: true, .. }) => {
                "its handlers wait on a connection pool whose connections were never returned".to_string()
            }
            _ => "every thread at work waits on a lock while its upstream connections sit idle".to_string(),
        }),
        Dominant::Upstream => e.upstream.as_ref().map(ThreadsWait::to_string),
        Dominant::Connect => e.connecting.as_deref().map(ThreadsWait::to_string),
        Dominant::Mount => e.mount.as_deref().map(ThreadsWait::to_string),
        Dominant::Pipe => Some("its threads block writing a full pipe".into()),
        Dominant::Dns => Some("a DNS lookup stalls".into()),
        Dominant::ZeroWindow => Some("threads block sending to peers that stopped reading".into()),
        _ if e.go_runtime => None,
        Dominant::Lock if e.jvm.as_ref().is_some_and(|j| !j.monitor_enter.is_empty()) => {
            Some("its threads block entering Java monitors (synchronized)".into())
        }
        Dominant::Lock => Some("every thread waits on a lock (futex)".into()),
        Dominant::Mixed => None,
    }
}

/// What the threads wait on, as a sentence of the explanation.
fn story(j: &Judged) -> String {
    let e = &j.verdict.evidence;
    let chain = chain_sentence(&j.verdict.waits_on);
    if !chain.is_empty() && matches!(j.dominant, Dominant::Mixed) {
        return format!(
            " Its threads ({}) hold no request themselves: it waits on the processes its own requests went to.{chain}",
            e.thread_waits.join("; ")
        );
    }
    thread_story(j)
}

/// What the threads of the process itself wait on, in a sentence.
fn thread_story(j: &Judged) -> String {
    let e = &j.verdict.evidence;
    match j.dominant {
        Dominant::Upstream if upstream_owes(&e.upstream) => format!(
            " {}: the handlers wait on that upstream, which took their requests and does not answer.{}",
            line(e.upstream.as_ref()),
            loop_txt(e)
        ),
        Dominant::Upstream => format!(
            " {}: the handlers read that upstream, which sent the last bytes on the connection and nothing since (an idle keep-alive connection the handler reads as if an answer were due).{}",
            line(e.upstream.as_ref()),
            loop_txt(e)
        ),
        Dominant::Connect => format!(
            " {}: the requests wait for upstream connections that never complete; the upstream's finding (connect_unanswered) says why.",
            line(e.connecting.as_deref())
        ),
        Dominant::Mount => format!(
            " {}: the handlers block on the mount before they answer (see mount_unresponsive).",
            line(e.mount.as_deref())
        ),
        Dominant::Pipe => format!(" {}: the handlers block writing to a pipe nobody drains.", line(e.pipe.as_ref())),
        Dominant::Dns => format!(" {}.", line(e.resolver.as_ref())),
        Dominant::Pool => format!(" {}.", line(e.pool.as_ref())),
        Dominant::ZeroWindow => format!(
            " {} thread(s) block sending to peers whose receive window is zero: a client that stopped reading holds each of them (see peer_not_reading).",
            j.zero_window_senders
        ),
        _ if e.go_runtime && goroutines(&e.threads).is_some() => format!(
            " It is a Go program: its OS threads sit in the scheduler, but its goroutines (read without stopping it) show where the handlers wait: {}.",
            goroutines(&e.threads).unwrap_or_default()
        ),
        _ if e.go_runtime => " It is a Go program (its runtime catches every signal, SIGURG included): Go parks its OS threads in futex and epoll whatever the goroutines do, so the kernel cannot show which lock or channel the handlers wait on, only that none of them answers.".to_string(),
        Dominant::Lock if e.jvm.is_some() => format!(
            " Its threads at work all wait on locks (futex) and used no CPU during the interval — a deadlock or a lock held across a blocking call: {}.",
            e.thread_waits.join("; ")
        ),
        Dominant::Lock => " Every thread that is not idling in accept or an event loop waits on a lock (futex) — a deadlock or a lock held across a blocking call.".to_string(),
        Dominant::Mixed if j.idle_only => format!(
            " None of its threads is busy with them ({}): its handlers wait for something the kernel does not show — an event, a lock in shared memory, a queue or channel nobody serves.",
            e.thread_waits.join("; ")
        ),
        Dominant::Mixed => format!(" Its threads: {}.{}", e.thread_waits.join("; "), loop_txt(e)),
    }
}

/// Whether the upstream line says the upstream owes the answer (our request
/// was the last bytes), as opposed to idling after its own.
fn upstream_owes(w: &Option<ThreadsWait>) -> bool {
    matches!(
        w,
        Some(ThreadsWait::Upstream { owes_since_ms: Some(_), .. } | ThreadsWait::UnansweredUpstream { .. })
    )
}

/// The event loop blocked in a synchronous call, as a sentence.
fn loop_txt(e: &UnansweredRequests) -> String {
    e.event_loop_blocked
        .as_ref()
        .map(|b| {
            let on = b.on.as_ref().map(|o| format!(" on {o}")).unwrap_or_default();
            format!(
                " That thread is its event loop (it holds an epoll instance, and no thread waits in epoll): thread {} ({}) sits in {}{on} — a synchronous call that blocks the loop, so nothing else runs on it: no accept, no answer to anyone.",
                b.tid, b.name, b.syscall
            )
        })
        .unwrap_or_default()
}

/// Where the connections belong to several processes (one per connection):
/// their titles, and those of the listener's other connections.
fn spread(ctx: &Ctx, j: &Judged, who: &str) -> String {
    let e: &UnansweredRequests = &j.verdict.evidence;
    if e.holders.len() <= 1 {
        return String::new();
    }
    let waiting =
        titles(ctx, e.holders.iter().copied()).map(|t| format!(", whose titles read {t}")).unwrap_or_default();
    let rest = titles(ctx, j.other_holders.iter().copied())
        .map(|t| format!(" (the listener's other connections: {t})"))
        .unwrap_or_default();
    format!(
        " The connections belong to {} processes (one per connection, as in a process-per-connection server){waiting}{rest}; the threads below are those of {who}, which holds {}.",
        e.holders.len(),
        j.held_by_pid
    )
}

/// What processes of a process-per-connection server call themselves,
/// when they set a title (PostgreSQL shows "… SELECT waiting" for a
/// backend waiting on a lock, "… idle in transaction" for a session that
/// holds locks and does nothing): the most common three, with counts.
fn titles(ctx: &Ctx, pids: impl Iterator<Item = u32>) -> Option<String> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for pid in pids {
        let Some(p) = ctx.last.process(pid) else { continue };
        // PostgreSQL writes the client's address and port into the title:
        // "postgres: user db 127.0.0.1(53940) SELECT waiting"; drop it to group.
        let t = p
            .cmdline
            .split_whitespace()
            .filter(|w| !(w.ends_with(')') && w.contains('(')))
            .collect::<Vec<_>>()
            .join(" ");
        if t.is_empty() {
            continue;
        }
        match seen.iter_mut().find(|x| x.0 == t) {
            Some(x) => x.1 += 1,
            None => seen.push((t, 1)),
        }
    }
    seen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let list: Vec<String> = seen.iter().take(3).map(|(t, n)| format!("{n} × \"{t}\"")).collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// The largest goroutine group in words ("3 goroutines in
/// sync.(*Mutex).Lock ← main.lockedHandler ← … (semacquire)"), when the
/// process's goroutines were read.
fn goroutines(threads: &[ThreadSummary]) -> Option<String> {
    let g = threads.iter().find_map(|t| t.goroutines.as_ref()?.first())?;
    let folded = unwedge_model::stack::fold(&g.frames);
    let mut text =
        format!("{} goroutine(s) in {}", g.count, folded.iter().take(3).cloned().collect::<Vec<_>>().join(" ← "));
    if folded.len() > 3 {
        text.push_str(" ← …");
    }
    if let Some(r) = &g.wait_reason {
        text.push_str(&format!(" ({r})"));
    }
    Some(text)
}

fn fix_text(pid: u32, j: &Judged) -> String {
    let e = &j.verdict.evidence;
    if let (Dominant::Upstream | Dominant::Mixed | Dominant::Pipe, Some(peers)) =
        (j.dominant, first_peers(&j.verdict.waits_on))
    {
        return format!(
            "The hold-up is not in this process: its requests wait on {peers}, where the chain ends at {}: look there. Bound the wait with a timeout on the calls (nginx proxy_read_timeout / fastcgi_read_timeout, a client timeout in the application) so a stuck upstream fails requests instead of holding them.",
            unwedge_model::chain::end(&j.verdict.waits_on)
        );
    }
    let deadline = "and give every request a deadline, so a stuck one fails instead of holding its client forever";
    if let Some(b) = &e.event_loop_blocked {
        return format!(
            "A synchronous call ({} in thread {}) blocks the event loop: make it async (an async client awaited on the loop) or run it in an executor or a thread (asyncio's loop.run_in_executor / asyncio.to_thread), and give it a timeout; running more workers only multiplies the blocked loops. To restart it now: `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period).",
            b.syscall, b.tid
        );
    }
    let cause = match j.dominant {
        Dominant::Connect => format!(
            "Give connects to the upstream a short timeout (nginx proxy_connect_timeout, a client's connect timeout) so requests fail fast, and fix the path to it: {} (see connect_unanswered).",
            line(e.connecting.as_deref())
        ),
        Dominant::Mount => "Take the request path off the mount (write logs locally or through a non-blocking writer) and make its daemon or server answer (see mount_unresponsive).".to_string(),
        Dominant::Upstream => format!(
            "Give calls to the upstream a timeout (a socket read timeout, statement_timeout, a context deadline) and bound how long a request waits for a pool slot; then find out why the upstream does not answer ({}).",
            line(e.upstream.as_ref())
        ),
        Dominant::Pipe => "Resume or restart the reader of the pipe (`kill -CONT PID` if it was stopped) and never block the request path on a log pipe: write logs through a non-blocking writer that drops or buffers when the reader lags.".to_string(),
        Dominant::Dns => "Fix or replace the nameserver, lower `options timeout:` / `attempts:` in /etc/resolv.conf, cache lookups (nscd, systemd-resolved), or resolve upstream names once at start.".to_string(),
        Dominant::ZeroWindow => "Set send timeouts (SO_SNDTIMEO, write deadlines, nginx send_timeout) so a client that stopped reading cannot hold a handler forever.".to_string(),
        Dominant::Pool => "Return every connection to the pool on every path (try/finally, a context manager around the checkout) and give the checkout a timeout (the pool's get(timeout=…), pool_timeout), so a leak fails requests instead of hanging them; restarting gives the connections back.".to_string(),
        _ => String::new(),
    };
    let stacks = if e.go_runtime {
        let seen = match goroutines(&e.threads) {
            Some(g) => format!("Its goroutines, read without stopping it, show {g}: fix what that code waits for. "),
            None => String::new(),
        };
        format!(
            "{seen}Dump the goroutines to see what each handler waits on: where the service exposes net/http/pprof, `curl 'http://HOST:PORT/debug/pprof/goroutine?debug=2'`; else `dlv attach {pid}` then `goroutines -t`. SIGQUIT prints every goroutine's stack but kills the process (GOTRACEBACK=all or crash decides how much it prints): use it only when restarting anyway. A mutex deadlock shows as goroutines in sync.(*Mutex).Lock, a channel nobody feeds as chan receive. Fix the lock order or the missing sender, {deadline} (http.Server WriteTimeout, http.TimeoutHandler, context.WithTimeout)."
        )
    } else if let Some(jvm) = &e.jvm {
        shared::jvm_fix(pid, jvm, &java_threads(e), deadline)
    } else if let (Some(g), Dominant::Pool) = (python_group(e), j.dominant) {
        format!("Its Python frames, read without stopping it, show where the checkout waits: {g}.")
    } else if let Some(g) = python_group(e) {
        format!(
            "Its Python frames, read without stopping it, show {g}: fix what that code waits for (a lock held across I/O, a pool whose connections are not given back, a queue nobody feeds) {deadline}."
        )
    } else {
        format!(
            "Read the user-space stacks to see which lock or call each handler waits in and who holds it: `gdb -p {pid} -batch -ex 'thread apply all bt'`, `py-spy dump --pid {pid}`, `jstack {pid}` (each pauses the process briefly). Fix the lock order, never hold a lock across I/O, {deadline}."
        )
    };
    let restart = format!(" To restart it now: `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period).");
    if matches!(j.dominant, Dominant::Connect | Dominant::Mount) {
        return format!("{cause}{restart}");
    }
    if cause.is_empty() {
        format!("{stacks}{restart}")
    } else {
        format!("{cause} {stacks}{restart}")
    }
}

