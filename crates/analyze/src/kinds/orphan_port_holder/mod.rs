//! `orphan_port_holder` — story 1 of FIELD-NOTES: a forking proxy's master
//! died; its per-connection children, re-parented to init, still held the
//! listening socket, so the restarted proxy failed with EADDRINUSE and the
//! children had to be found and killed by hand.
//!
//! Kernel facts: LISTEN sockets (sock_diag) behind the process's fds, its
//! parent and process group (/proc/PID/stat). The orphan test itself is
//! `process_tree::is_orphaned_worker`, shared with `unwedge stop --port`.
//! False alarms avoided: a daemon that called setsid() leads its own group;
//! workers of a live master still have their group leader; a master killed a
//! moment ago during a restart (the state must hold in both snapshots); and
//! processes a launcher forked and left on purpose, each with a listener of
//! its own (a bench farm, `server &` in a script that exited): a leftover is
//! told apart by a listener it *inherited* — one its group siblings hold
//! too — or by a dead master that led both the group and its session (a
//! daemon's forked children). A master whose own children share its
//! listener is serving, however it was launched. Connections queuing unaccepted are not taken
//! as a sign: a server left running on purpose can stall too (accept_stalled
//! says so).

use crate::facts::index::{endpoint, Index};
use crate::facts::process_tree::{group_members, is_orphaned_worker};
use crate::Ctx;
use std::collections::BTreeSet;
use unwedge_model::evidence::{GroupSibling, OrphanPortHolder};
use unwedge_model::{Finding, Process, Severity, Socket, TcpState};

fn listeners<'a>(idx: &Index<'a>, p: &Process) -> Vec<&'a Socket> {
    let mut v: Vec<&Socket> =
        p.sockets.iter().filter_map(|fd| idx.socket(fd.inode)).filter(|s| s.state == TcpState::Listen).collect();
    v.sort_by_key(|s| (s.local_port, s.inode));
    v.dedup_by_key(|s| s.inode);
    v
}

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for p in &ctx.snap().processes {
        if p.state == 'Z' || !is_orphaned_worker(&ctx.last, p) {
            continue;
        }
        let socks = listeners(&ctx.last, p);
        if socks.is_empty() || !looks_left_over(ctx, p, &socks) {
            continue;
        }
        if let Some(first) = &ctx.first {
            let held = first
                .process(p.pid)
                .filter(|q| q.start_ticks == p.start_ticks)
                .is_some_and(|q| is_orphaned_worker(first, q) && !listeners(first, q).is_empty());
            if !held {
                continue;
            }
        }
        out.push(finding(ctx, p, &socks));
    }
}

/// Why this orphan is a leftover of a dead master rather than a process left
/// running on purpose; `None` when nothing says so.
fn leftover_reason(ctx: &Ctx, p: &Process, socks: &[&Socket]) -> Option<&'static str> {
    let holders = |pred: &dyn Fn(&Process) -> bool| {
        socks
            .iter()
            .any(|s| ctx.last.owners_of(s.inode).iter().any(|&o| o != p.pid && ctx.last.process(o).is_some_and(pred)))
    };
    // A master whose own workers share its listener is a running service
    // (uWSGI or gunicorn started with `&` from a script that exited), not a leftover.
    if holders(&|q| q.ppid == p.pid) {
        return None;
    }
    let shared = holders(&|q| q.pgid == p.pgid);
    if shared {
        return Some("its group siblings hold the same listening socket: inherited from the dead master");
    }
    if p.sid == p.pgid && !crate::facts::process_tree::is_alive(&ctx.last, p.sid) {
        return Some(
            "the dead master led both its process group and its session: a daemon whose forked child outlived it",
        );
    }
    None
}

fn looks_left_over(ctx: &Ctx, p: &Process, socks: &[&Socket]) -> bool {
    leftover_reason(ctx, p, socks).is_some()
}

fn finding(ctx: &Ctx, p: &Process, socks: &[&Socket]) -> Finding {
    let who = crate::describe(p);
    let ports: BTreeSet<u16> = socks.iter().map(|s| s.local_port).collect();
    let addrs: Vec<String> = socks.iter().map(|s| endpoint(s.local, s.local_port)).collect();
    let siblings: Vec<GroupSibling> = group_members(ctx.snap(), p.pgid)
        .into_iter()
        .filter(|q| q.pid != p.pid)
        .take(20)
        .map(|q| GroupSibling {
            pid: q.pid,
            comm: q.comm.clone(),
            state: q.state.to_string(),
            holds_listener: !listeners(&ctx.last, q).is_empty(),
        })
        .collect();
    let age = p.age_s(ctx.snap());
    let parent = ctx.last.process(p.ppid).map(|q| q.comm.clone());
    let title = format!(
        "{who} is a leftover worker still listening on {}: its parent and its process group {} are gone",
        addrs.join(", "),
        p.pgid
    );
    let leader_zombie = ctx.last.process(p.pgid).is_some_and(|l| l.state == 'Z');
    let leader_gone =
        if leader_zombie { "is dead (a zombie its parent has not reaped yet)" } else { "no longer exists" };
    let explanation = format!(
        "{who} belongs to process group {pgid}, whose leader (normally the master that forked it) {leader_gone}, and it was re-parented to {new_parent} (pid {ppid}). \
It still holds the listening socket it inherited from that master, so a new instance of the service cannot bind {addrs} (bind fails with EADDRINUSE) and connections still land in this leftover's accept queue. \
It is a leftover, not a process left running on purpose, because {reason}. \
Leftovers like this often also ignore or block SIGTERM, or wait forever on a thread (see sigterm_blocked and stuck_thread for this pid).",
        reason = leftover_reason(ctx, p, socks).unwrap_or("it matches the leftover pattern"),
        pgid = p.pgid,
        new_parent = parent.as_deref().unwrap_or("init or a subreaper"),
        ppid = p.ppid,
        addrs = addrs.join(", "),
    );
    let established = p.sockets.iter().filter(|fd| ctx.last.state_of(fd.inode) == Some(TcpState::Established)).count();
    let first_port = ports.first().copied();
    let ev = OrphanPortHolder {
        ports,
        listening: addrs,
        pgid: p.pgid,
        group_leader_exists: false,
        group_leader_zombie: leader_zombie,
        why_leftover: leftover_reason(ctx, p, socks).map(str::to_string),
        ppid: p.ppid,
        parent_comm: parent,
        sid: p.sid,
        age_s: (age * 10.0).round() / 10.0,
        established_connections: established,
        siblings_in_group: siblings,
        cmdline: p.cmdline.clone(),
    };
    let mut f = ctx.legacy_finding(Severity::Warning, Some(p.pid), first_port, socks[0].netns, ev);
    f.title = title;
    f.explanation = explanation;
    f.fix = format!(
        "Free the port: `unwedge stop --port {port}` (SIGTERM, then SIGKILL after a grace period, every holder), or kill the whole leftover group: kill -TERM -- -{pgid}, then kill -KILL -- -{pgid} if it is still there. \
In the service: make workers die with their master (prctl(PR_SET_PDEATHSIG, SIGTERM) right after fork, or watch a pipe from the master), close the listening socket in children that do not accept on it, \
and run it under a supervisor that kills the whole cgroup on stop (systemd KillMode=control-group, the default).",
        port = first_port.unwrap_or(0),
        pgid = p.pgid
    );
    f
}
