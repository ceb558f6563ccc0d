//! Decides which processes stayed stopped, traced or frozen across the
//! interval without running while something waits on them, and what holds
//! them.

use crate::facts::index::{endpoint, FastSet};
use crate::facts::process_tree::looks_stopped;
use crate::facts::syscalls::{Call, Class};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::{ProcessStopped, StoppedBy, Tracer};
use unwedge_model::{Process, Severity, TcpState};

pub struct Judged {
    pub verdict: Verdict<ProcessStopped>,
    /// Its listening addresses with the connections waiting on each.
    pub listeners: Vec<(String, u32)>,
}

fn switches(p: &Process) -> (u64, Option<u64>) {
    let ticks = p.cpu_ticks();
    let sw = p.threads.iter().map(|t| t.ctxt_switches).sum::<Option<u64>>();
    (ticks, sw)
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let Some(first) = &ctx.first else { return Vec::new() };
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
    let mut out = Vec::new();
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
        out.extend(judged(ctx, &tree));
    }
    out
}

/// `tree`: the stopped process and its descendants stopped with it. `None`
/// when nothing waits on them.
fn judged(ctx: &Ctx, tree: &[&Process]) -> Option<Judged> {
    let p = tree[0];
    let mut listeners: Vec<(String, u32)> = Vec::new();
    let mut seen_listeners: FastSet<u64> = FastSet::default();
    let mut connections = 0usize;
    for q in tree {
        for fd in &q.sockets {
            let Some(s) = ctx.last.socket(fd.inode) else { continue };
            match s.state {
                TcpState::Listen if seen_listeners.insert(s.inode) => {
                    listeners.push((endpoint(s.local, s.local_port), ctx.last.queued_for(s).len() as u32));
                }
                TcpState::Listen => {}
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
    let ev = ProcessStopped {
        state,
        stopped_by,
        tracer,
        freezer: p.frozen.clone(),
        threads: p.threads.len(),
        also_stopped: members[1..].to_vec(),
        stopped_for_at_least_ms: ctx.interval_ms,
        listeners: listeners
            .iter()
            .map(|(addr, waiting)| if *waiting > 0 { format!("{addr}, {waiting} waiting") } else { addr.clone() })
            .collect(),
        queued: listeners.iter().map(|l| l.1).sum(),
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
    Some(Judged { verdict: Verdict::new(Severity::Critical, Some(p.pid), port, p.netns, ev), listeners })
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
