//! Says that the server reads requests and answers none, what its threads
//! wait on (a lock, an upstream, a DNS lookup, a full pipe, goroutines),
//! and where to look and what to bound.

use super::judge::Judged;
use crate::facts::waits::Dominant;
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::{ThreadSummary, ThreadsWait, UnansweredRequests};

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
    let explanation = format!(
        "{who} accepted these connections and read their requests (their receive queues are empty) but has sent nothing back since they arrived, the oldest {oldest} ago; clients wait until they time out.{progress}{gave_up_txt}{spread}{story}{parked_txt} Legitimate long waits (long polling, BLPOP, a backend waiting on a lock) look the same per connection; this is raised only because nothing else on this listener is being answered.",
        spread = spread(ctx, j, &who),
        story = story(j),
    );
    Words {
        title: format!(
            "{who} accepts and reads requests on {}, answers none for {oldest}: {n} connections wait{cause}",
            e.listen
        ),
        explanation,
        fix: fix_text(pid, j),
    }
}

fn line(w: Option<&ThreadsWait>) -> String {
    w.map(ThreadsWait::to_string).unwrap_or_default()
}

/// The cause in a few words, for the title ("every thread waits on a lock (futex)").
fn headline(j: &Judged) -> Option<String> {
    let e = &j.verdict.evidence;
    match j.dominant {
        Dominant::Upstream => e.upstream.as_ref().map(ThreadsWait::to_string),
        Dominant::Connect => e.connecting.as_deref().map(ThreadsWait::to_string),
        Dominant::Mount => e.mount.as_deref().map(ThreadsWait::to_string),
        Dominant::Pipe => Some("its threads block writing a full pipe".into()),
        Dominant::Dns => Some("a DNS lookup stalls".into()),
        Dominant::ZeroWindow => Some("threads block sending to peers that stopped reading".into()),
        _ if e.go_runtime => None,
        Dominant::Lock => Some("every thread waits on a lock (futex)".into()),
        Dominant::Mixed => None,
    }
}

/// What the threads wait on, as a sentence of the explanation.
fn story(j: &Judged) -> String {
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
        Dominant::ZeroWindow => format!(
            " {} thread(s) block sending to peers whose receive window is zero: a client that stopped reading holds each of them (see peer_not_reading).",
            j.zero_window_senders
        ),
        _ if e.go_runtime && goroutines(&e.threads).is_some() => format!(
            " It is a Go program: its OS threads sit in the scheduler, but its goroutines (read without stopping it) show where the handlers wait: {}.",
            goroutines(&e.threads).unwrap_or_default()
        ),
        _ if e.go_runtime => " It is a Go program (its runtime catches every signal, SIGURG included): Go parks its OS threads in futex and epoll whatever the goroutines do, so the kernel cannot show which lock or channel the handlers wait on, only that none of them answers.".to_string(),
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
