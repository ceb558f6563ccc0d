//! Says that the processes wait on each other in a cycle, side by side,
//! and how to break it.

use super::judge::Judged;
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::DeadlockSide;

fn side(s: &DeadlockSide) -> String {
    match s.pids.as_slice() {
        [pid] => format!("{} (pid {pid})", s.comm),
        pids => format!("{} ({} processes)", s.comm, pids.len()),
    }
}

/// "nginx (pid 10) has 3 requests waiting on TCP 127.0.0.1:8002 (2 never
/// accepted), the oldest for 12.0 s".
fn waits(s: &DeadlockSide, next: &DeadlockSide) -> String {
    let queued = if s.queued > 0 { format!(", {} of them never accepted", s.queued) } else { String::new() };
    let since = s.waiting_ms.map(|ms| format!(", the oldest for {}", secs(ms))).unwrap_or_default();
    format!(
        "{} waits on {} over {}: {} connection{} owe{} it an answer{queued}{since}",
        side(s),
        side(next),
        s.waits_on,
        s.connections,
        if s.connections == 1 { "" } else { "s" },
        if s.connections == 1 { "s" } else { "" },
    )
}

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let n = e.cycle.len();
    let ring: Vec<String> = e.cycle.iter().map(side).chain(e.cycle.first().map(side)).collect();
    let each: Vec<String> = (0..n).map(|i| waits(&e.cycle[i], &e.cycle[(i + 1) % n])).collect();
    let first = e.cycle.first().map(side).unwrap_or_default();
    Words {
        title: format!("cross-process deadlock: {} wait on each other", ring.join(" → ")),
        explanation: format!(
            "Followed across processes, the waits come back where they started: {}. Every side holds its workers while it waits for the next one, and the last waits on the first, so no request in the cycle can be answered; each side alone looks like a server with a slow upstream. The kernel showed it for the whole {} between the snapshots: no byte of these connections moved, and connections queued unaccepted or unread stayed so.",
            each.join("; "),
            secs(ctx.interval_ms)
        ),
        fix: format!(
            "Break the cycle: a handler must not call, and wait on, a service whose answer needs one of its own workers (directly or through a proxy). Serve such callbacks from a separate pool or listener, or make the call asynchronous; give every call a timeout shorter than its caller's, so the cycle unwinds with errors instead of holding every worker. To clear it now, restart one side (`unwedge stop {}`): its callers get errors and the others' workers are freed.",
            e.cycle.first().and_then(|s| s.pids.first()).map(|p| p.to_string()).unwrap_or_else(|| first.clone())
        ),
    }
}
