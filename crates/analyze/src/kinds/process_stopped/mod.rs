//! `process_stopped` — a server that runs no code at all: stopped by a
//! signal (SIGSTOP, Ctrl-Z's SIGTSTP, SIGTTIN/SIGTTOU), held in a tracing
//! stop by a debugger that was never detached, or frozen with its cgroup.
//! The kernel still completes TCP handshakes for its listeners, so clients
//! connect and then wait forever; everything else reported about it (a
//! stalled accept queue, stuck threads, CLOSE-WAIT piling up) is a
//! consequence, and the second pass links those to this finding.
//!
//! Kernel facts: the state letter of /proc/PID/stat and of every thread —
//! `T` (stopped by a signal), `t` (ptrace stop; /proc/PID/status TracerPid
//! names the tracer) —, and for a process whose threads look stopped or
//! frozen, its freezer cgroup (/proc/PID/cgroup; v1 freezer.state FROZEN or
//! FREEZING, where tasks show `D`; v2 cgroup.events `frozen 1`, where tasks
//! sleep in the signal path). It must be so in both snapshots, with no CPU
//! time and no context switch in between. Raised only while it holds
//! something others wait on: a listening socket, a connection it accepted
//! (its client waits for an answer), or a child blocked writing to it.
//!
//! False alarms avoided: a process stopped by job control and continued
//! before the second snapshot (not stopped in both); a process under strace,
//! which passes through tracing stops at every syscall but runs (its context
//! switches move); a stopped shell job that holds no socket and no child
//! waiting on it (`vim` after Ctrl-Z), or only its own outbound connections
//! (`ssh`, `psql` after Ctrl-Z); zombies.

use crate::facts::index::{endpoint, FastSet};
use crate::facts::process_tree::looks_stopped;
use crate::facts::syscalls::{Call, Class};
use crate::Ctx;
use unwedge_model::evidence::{ProcessStopped, StoppedBy, Tracer};
use unwedge_model::{Finding, Process, Severity, TcpState};

fn switches(p: &Process) -> (u64, Option<u64>) {
    let ticks = p.cpu_ticks();
    let sw = p.threads.iter().map(|t| t.ctxt_switches).sum::<Option<u64>>();
    (ticks, sw)
}

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(first) = &ctx.first else { return };
    let stopped: FastSet<u32> = ctx
        .snap()
        .processes
        .iter()
        .filter(|p| looks_stopped(p))
        .filter(|p| {
            // Stopped both times and never ran in between: not a strace'd
            // process caught twice in a syscall stop, nor one continued and
            // stopped again.
            first
                .process(p.pid)
                .filter(|b| b.start_ticks == p.start_ticks)
                .is_some_and(|b| looks_stopped(b) && switches(b) == switches(p))
        })
        .map(|p| p.pid)
        .collect();
    for p in &ctx.snap().processes {
        // A process stopped with its parent is part of the parent's story
        // (Ctrl-Z stops the whole foreground process group).
        if !stopped.contains(&p.pid) || stopped.contains(&p.ppid) {
            continue;
        }
        let mut tree = vec![p];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i].pid;
            tree.extend(ctx.snap().processes.iter().filter(|c| c.ppid == parent && stopped.contains(&c.pid)));
            i += 1;
        }
        if let Some(f) = finding(ctx, &tree) {
            out.push(f);
        }
    }
}

fn finding(ctx: &Ctx, tree: &[&Process]) -> Option<Finding> {
    let p = tree[0];
    let mut listeners = Vec::new();
    let mut seen_listeners: FastSet<u64> = FastSet::default();
    let mut queued = 0u32;
    let mut connections = 0usize;
    for q in tree {
        for fd in &q.sockets {
            let Some(s) = ctx.last.socket(fd.inode) else { continue };
            match s.state {
                TcpState::Listen => {
                    if !seen_listeners.insert(s.inode) {
                        continue;
                    }
                    let waiting = ctx.last.queued_for(s).len() as u32;
                    queued += waiting;
                    let addr = endpoint(s.local, s.local_port);
                    listeners.push(if waiting > 0 { format!("{addr}, {waiting} waiting") } else { addr });
                }
                TcpState::TimeWait | TcpState::Close => {}
                // Connections it accepted: their clients wait for an answer.
                // Its own outbound ones (a Ctrl-Z'd ssh or psql) keep nobody waiting.
                _ if ctx.last.is_served(s) => connections += 1,
                _ => {}
            }
        }
    }
    let members: Vec<u32> = tree.iter().map(|q| q.pid).collect();
    let children_waiting: Vec<u32> =
        tree.iter().flat_map(|q| children_waiting(ctx, q)).filter(|c| !members.contains(c)).collect();
    if listeners.is_empty() && connections == 0 && children_waiting.is_empty() {
        return None;
    }
    let traced = p.tracer_pid.filter(|_| p.threads.iter().any(|t| t.state == 't') || p.state == 't');
    let (stopped_by, state) = if p.frozen.is_some() {
        (StoppedBy::CgroupFreezer, format!("{} (frozen)", p.state))
    } else if traced.is_some() {
        (StoppedBy::Tracer, "t (tracing stop)".to_string())
    } else {
        (StoppedBy::Signal, "T (stopped)".to_string())
    };
    let tracer = traced.map(|pid| {
        let t = ctx.last.process(pid);
        Tracer { pid, comm: t.map(|t| t.comm.clone()), cmdline: t.map(|t| t.cmdline.clone()) }
    });
    let also_stopped: Vec<u32> = members[1..].to_vec();
    let who = match also_stopped.len() {
        0 => crate::describe(p),
        1 => format!("{} and its child {}", crate::describe(p), also_stopped[0]),
        n => format!("{} and {n} of its children", crate::describe(p)),
    };
    let tracer_label = tracer.as_ref().map(|t| match &t.comm {
        Some(c) => format!("{c} (pid {})", t.pid),
        None => format!("pid {}", t.pid),
    });
    let (it, holds_verb) = if also_stopped.is_empty() { ("it", "holds") } else { ("they", "hold") };
    let holds = if queued > 0 {
        let first_listener = listeners.iter().find(|l| l.contains("waiting")).cloned().unwrap_or_default();
        let addr = first_listener.split(',').next().unwrap_or_default().to_string();
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
            listeners.join(", ")
        )
    } else if connections > 0 {
        format!(
            "{it} {holds_verb} {connections} accepted connection{} nobody answers",
            if connections == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{} child process{} wait on it",
            children_waiting.len(),
            if children_waiting.len() == 1 { "" } else { "es" }
        )
    };
    let title = match (stopped_by, &tracer_label, &p.frozen) {
        (StoppedBy::Tracer, Some(t), _) => format!("{t} holds {who} stopped under ptrace: {holds}"),
        (StoppedBy::CgroupFreezer, _, Some(fz)) => {
            let verb = if also_stopped.is_empty() { "is" } else { "are" };
            format!("{who} {verb} frozen by the cgroup {} (freezer v{}, {}): {holds}", fz.cgroup, fz.version, fz.state)
        }
        _ if also_stopped.is_empty() => format!("{who} is stopped (SIGSTOP or Ctrl-Z): {holds}"),
        _ => format!("{who} are stopped (SIGSTOP or Ctrl-Z): {holds}"),
    };
    let how = match stopped_by {
        StoppedBy::Signal => format!(
            "A signal stopped {} (SIGSTOP, SIGTSTP from Ctrl-Z, or SIGTTIN/SIGTTOU for a background job touching its terminal) and nobody sent SIGCONT.",
            if also_stopped.is_empty() { "it" } else { "them" }
        ),
        StoppedBy::Tracer => format!(
            "{} is attached to it with ptrace and holds it in a tracing stop: a debugger (gdb -p, a breakpoint) that was never detached or quit.",
            tracer_label.clone().unwrap_or_else(|| "A tracer".into())
        ),
        StoppedBy::CgroupFreezer => format!(
            "Its cgroup is frozen ({}): the freezer keeps every task of it off the CPU until thawed.",
            p.frozen.as_ref().map(|f| f.control.clone()).unwrap_or_default()
        ),
    };
    let explanation = format!(
        "{who} {} stopped in both snapshots and did not run at all in the {} between them. {how} A stopped process runs no code, yet the kernel still completes TCP handshakes for its listeners and accepts data for its connections: clients connect and then wait until they time out, peers' requests sit unread, and nothing is logged. Everything else reported about it (a stalled accept queue, stuck threads) follows from this.",
        if also_stopped.is_empty() { "was" } else { "were" },
        crate::secs(ctx.interval_ms)
    );
    let fix = match (stopped_by, &p.frozen) {
        (StoppedBy::Tracer, _) => format!(
            "Detach the tracer: in gdb `detach` (or quit it), or end {} (kill {}); the process then runs on. Never leave a debugger attached to a production server.",
            tracer_label.clone().unwrap_or_else(|| "the tracer".into()),
            traced.unwrap_or(0)
        ),
        (StoppedBy::CgroupFreezer, Some(fz)) if fz.version == 1 => {
            format!("Thaw its cgroup: echo THAWED > {} (or `systemctl thaw`, `docker unpause`, whichever froze it).", fz.control)
        }
        (StoppedBy::CgroupFreezer, Some(fz)) => {
            format!("Thaw its cgroup: echo 0 > {} (or `systemctl thaw`, `docker unpause`, whichever froze it).", fz.control)
        }
        _ => format!(
            "Let it run: kill -CONT {pid}{} (or `fg` in the shell that stopped it). Find what stopped it: a Ctrl-Z in a terminal, a script sending SIGSTOP, a job touching its terminal in the background (SIGTTOU).",
            if also_stopped.is_empty() { String::new() } else { format!(" {}", also_stopped.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")) },
            pid = p.pid
        ),
    };
    let ev = ProcessStopped {
        state,
        stopped_by,
        tracer,
        freezer: p.frozen.clone(),
        threads: p.threads.len(),
        also_stopped,
        stopped_for_at_least_ms: ctx.interval_ms,
        listeners,
        queued,
        connections,
        children_waiting,
        cmdline: p.cmdline.clone(),
    };
    let port = p
        .sockets
        .iter()
        .filter_map(|fd| ctx.last.socket(fd.inode))
        .find(|s| s.state == TcpState::Listen)
        .map(|s| s.local_port);
    let mut f = ctx.legacy_finding(Severity::Critical, Some(p.pid), port, p.netns, ev);
    f.title = title;
    f.explanation = explanation;
    f.fix = fix;
    Some(f)
}

/// Children that wait on `p`: blocked writing a pipe that `p` holds (it
/// would read it). Zombies are not counted: a stopped `make` leaves them
/// until it is continued, and they hold nothing but a pid.
fn children_waiting(ctx: &Ctx, p: &Process) -> Vec<u32> {
    let arch = ctx.snap().arch.as_str();
    let mut out = Vec::new();
    for c in ctx.snap().processes.iter().filter(|c| c.ppid == p.pid) {
        let on_pipe = c.threads.iter().any(|t| {
            Call::of(arch, t).is_some_and(|c| c.class == Class::Send)
                && t.fd_args.iter().any(|fa| {
                    fa.target
                        .strip_prefix("pipe:[")
                        .and_then(|r| r.strip_suffix(']'))
                        .and_then(|n| n.parse::<u64>().ok())
                        .is_some_and(|inode| p.pipes.iter().any(|pp| pp.inode == inode))
                })
        });
        if c.state != 'Z' && on_pipe {
            out.push(c.pid);
        }
    }
    out
}
