//! Decides which orphaned workers still hold a listener inherited from a
//! dead master (in both snapshots), and why each is a leftover.

use crate::facts::index::{endpoint, Index};
use crate::facts::process_tree::{group_members, is_alive, is_orphaned_worker};
use crate::{Ctx, Verdict};
use std::collections::BTreeSet;
use unwedge_model::evidence::{GroupSibling, OrphanPortHolder};
use unwedge_model::{Process, Severity, Socket, TcpState};

pub struct Judged {
    pub verdict: Verdict<OrphanPortHolder>,
}

fn listeners<'a>(idx: &Index<'a>, p: &Process) -> Vec<&'a Socket> {
    let mut v: Vec<&Socket> =
        p.sockets.iter().filter_map(|fd| idx.socket(fd.inode)).filter(|s| s.state == TcpState::Listen).collect();
    v.sort_by_key(|s| (s.local_port, s.inode));
    v.dedup_by_key(|s| s.inode);
    v
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = Vec::new();
    for p in &ctx.snap().processes {
        if p.state == 'Z' || !is_orphaned_worker(&ctx.last, p) {
            continue;
        }
        let socks = listeners(&ctx.last, p);
        if socks.is_empty() {
            continue;
        }
        let Some(why) = leftover_reason(ctx, p, &socks) else { continue };
        if let Some(first) = &ctx.first {
            let held = first
                .process(p.pid)
                .filter(|q| q.start_ticks == p.start_ticks)
                .is_some_and(|q| is_orphaned_worker(first, q) && !listeners(first, q).is_empty());
            if !held {
                continue;
            }
        }
        out.push(judged(ctx, p, &socks, why));
    }
    out
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
    if p.sid == p.pgid && !is_alive(&ctx.last, p.sid) {
        return Some(
            "the dead master led both its process group and its session: a daemon whose forked child outlived it",
        );
    }
    None
}

fn judged(ctx: &Ctx, p: &Process, socks: &[&Socket], why: &'static str) -> Judged {
    let ports: BTreeSet<u16> = socks.iter().map(|s| s.local_port).collect();
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
    let first_port = ports.first().copied();
    let ev = OrphanPortHolder {
        ports,
        listening: socks.iter().map(|s| endpoint(s.local, s.local_port)).collect(),
        pgid: p.pgid,
        group_leader_exists: false,
        group_leader_zombie: ctx.last.process(p.pgid).is_some_and(|l| l.state == 'Z'),
        why_leftover: Some(why.to_string()),
        ppid: p.ppid,
        parent_comm: ctx.last.process(p.ppid).map(|q| q.comm.clone()),
        sid: p.sid,
        age_s: (p.age_s(ctx.snap()) * 10.0).round() / 10.0,
        established_connections: p
            .sockets
            .iter()
            .filter(|fd| ctx.last.state_of(fd.inode) == Some(TcpState::Established))
            .count(),
        siblings_in_group: siblings,
        cmdline: p.cmdline.clone(),
    };
    Judged { verdict: Verdict::new(Severity::Warning, Some(p.pid), first_port, socks[0].netns, ev) }
}
