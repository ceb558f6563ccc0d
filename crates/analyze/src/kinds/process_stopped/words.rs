//! Says who holds the process stopped (a signal, a debugger, a frozen
//! cgroup), who waits on it, and how to let it run.

use super::judge::Judged;
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::{ProcessStopped, StoppedBy};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let pid = j.verdict.pid.unwrap_or(0);
    let one = e.also_stopped.is_empty();
    let who = match e.also_stopped.len() {
        0 => ctx.proc_label(pid),
        1 => format!("{} and its child {}", ctx.proc_label(pid), e.also_stopped[0]),
        n => format!("{} and {n} of its children", ctx.proc_label(pid)),
    };
    let tracer_label = e.tracer.as_ref().map(|t| match &t.comm {
        Some(c) => format!("{c} (pid {})", t.pid),
        None => format!("pid {}", t.pid),
    });
    let holds = holds(j, e);
    let title = match (e.stopped_by, &tracer_label, &e.freezer) {
        (StoppedBy::Tracer, Some(t), _) => format!("{t} holds {who} stopped under ptrace: {holds}"),
        (StoppedBy::CgroupFreezer, _, Some(fz)) => {
            let verb = if one { "is" } else { "are" };
            format!("{who} {verb} frozen by the cgroup {} (freezer v{}, {}): {holds}", fz.cgroup, fz.version, fz.state)
        }
        _ if one => format!("{who} is stopped (SIGSTOP or Ctrl-Z): {holds}"),
        _ => format!("{who} are stopped (SIGSTOP or Ctrl-Z): {holds}"),
    };
    let how = match e.stopped_by {
        StoppedBy::Signal => format!(
            "A signal stopped {} (SIGSTOP, SIGTSTP from Ctrl-Z, or SIGTTIN/SIGTTOU for a background job touching its terminal) and nobody sent SIGCONT.",
            if one { "it" } else { "them" }
        ),
        StoppedBy::Tracer => format!(
            "{} is attached to it with ptrace and holds it in a tracing stop: a debugger (gdb -p, a breakpoint) that was never detached or quit.",
            tracer_label.clone().unwrap_or_else(|| "A tracer".into())
        ),
        StoppedBy::CgroupFreezer => format!(
            "Its cgroup is frozen ({}): the freezer keeps every task of it off the CPU until thawed.",
            e.freezer.as_ref().map(|f| f.control.clone()).unwrap_or_default()
        ),
    };
    let explanation = format!(
        "{who} {} stopped in both snapshots and did not run at all in the {} between them. {how} A stopped process runs no code, yet the kernel still completes TCP handshakes for its listeners and accepts data for its connections: clients connect and then wait until they time out, peers' requests sit unread, and nothing is logged. Everything else reported about it (a stalled accept queue, stuck threads) follows from this.",
        if one { "was" } else { "were" },
        secs(ctx.interval_ms)
    );
    let fix = match (e.stopped_by, &e.freezer) {
        (StoppedBy::Tracer, _) => format!(
            "Detach the tracer: in gdb `detach` (or quit it), or end {} (kill {}); the process then runs on. Never leave a debugger attached to a production server.",
            tracer_label.unwrap_or_else(|| "the tracer".into()),
            e.tracer.as_ref().map_or(0, |t| t.pid)
        ),
        (StoppedBy::CgroupFreezer, Some(fz)) if fz.version == 1 => {
            format!("Thaw its cgroup: echo THAWED > {} (or `systemctl thaw`, `docker unpause`, whichever froze it).", fz.control)
        }
        (StoppedBy::CgroupFreezer, Some(fz)) => {
            format!("Thaw its cgroup: echo 0 > {} (or `systemctl thaw`, `docker unpause`, whichever froze it).", fz.control)
        }
        _ => format!(
            "Let it run: kill -CONT {pid}{} (or `fg` in the shell that stopped it). Find what stopped it: a Ctrl-Z in a terminal, a script sending SIGSTOP, a job touching its terminal in the background (SIGTTOU).",
            if one { String::new() } else { format!(" {}", e.also_stopped.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")) },
        ),
    };
    Words { title, explanation, fix }
}

/// What waits on the stopped processes, in a few words.
fn holds(j: &Judged, e: &ProcessStopped) -> String {
    let (it, holds_verb) = if e.also_stopped.is_empty() { ("it", "holds") } else { ("they", "hold") };
    let (queued, listeners) = (e.queued, &j.listeners);
    if queued > 0 {
        let addr = listeners.iter().find(|l| l.1 > 0).map(|l| l.0.clone()).unwrap_or_default();
        let addr = if listeners.len() > 1 { format!("{addr} and its other listeners") } else { addr };
        format!(
            "{queued} client{} wait{} on {addr}",
            if queued == 1 { "" } else { "s" },
            if queued == 1 { "s" } else { "" }
        )
    } else if !listeners.is_empty() {
        format!(
            "{it} {holds_verb} {} listening socket{} ({})",
            listeners.len(),
            if listeners.len() == 1 { "" } else { "s" },
            e.listeners.join(", ")
        )
    } else if e.connections > 0 {
        format!(
            "{it} {holds_verb} {} accepted connection{} nobody answers",
            e.connections,
            if e.connections == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{} child process{} wait on it",
            e.children_waiting.len(),
            if e.children_waiting.len() == 1 { "" } else { "es" }
        )
    }
}
