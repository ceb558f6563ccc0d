//! Decides which processes hold enough sockets in CLOSE-WAIT that lasted
//! (both snapshots, or idle past `--idle` with one) to count as a leak.

use crate::facts::index::{endpoint, FastMap, FastSet};
use crate::{Ctx, Verdict};
use std::collections::BTreeMap;
use unwedge_model::evidence::CloseWaitLeak;
use unwedge_model::{NetNs, Severity, Socket, TcpState};

pub struct Judged {
    pub verdict: Verdict<CloseWaitLeak>,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let snap = ctx.snap();
    let persisted: Option<FastSet<u64>> = ctx.first.as_ref().map(|f| {
        f.snap.sockets.iter().filter(|s| s.state == TcpState::CloseWait && s.inode != 0).map(|s| s.inode).collect()
    });
    let close_wait: FastMap<u64, &Socket> = snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::CloseWait && s.inode != 0)
        .filter(|s| match &persisted {
            Some(p) => p.contains(&s.inode),
            // One snapshot: the last packet from the peer (its FIN, at the
            // latest) must be older than the idle threshold instead.
            None => s.info.is_none_or(|i| i.last_ack_recv_ms >= ctx.t.idle_ms),
        })
        .map(|s| (s.inode, s))
        .collect();
    if close_wait.is_empty() {
        return Vec::new();
    }
    // A socket shared after fork is one leak: blame the owner highest in the
    // process tree and name the others.
    let mut per_owner: BTreeMap<u32, Vec<&Socket>> = BTreeMap::new();
    let mut shared_with: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (inode, s) in &close_wait {
        let owners = ctx.last.owners_of(*inode);
        let Some(main) = ctx.last.main_owner(owners) else { continue };
        per_owner.entry(main).or_default().push(s);
        let others = shared_with.entry(main).or_default();
        for &o in owners {
            if o != main && !others.contains(&o) {
                others.push(o);
            }
        }
    }
    let mut out = Vec::new();
    for (pid, mut mine) in per_owner {
        if mine.len() < ctx.t.close_wait_min {
            continue;
        }
        mine.sort_by_key(|s| (s.local_port, s.remote_port));
        out.push(judged(ctx, pid, &mine, shared_with.remove(&pid).unwrap_or_default()));
    }
    out
}

fn judged(ctx: &Ctx, pid: u32, mine: &[&Socket], shared_with: Vec<u32>) -> Judged {
    let n = mine.len();
    let netns = mine[0].netns;
    let ns = ctx.snap().netns.iter().find(|x| x.inode == netns);
    let range = ns.and_then(|x| x.ephemeral_ports);
    // Namespace counters that rose during the interval: SYNs that landed on
    // an existing 4-tuple are the minefield going off now.
    let rise = |get: fn(&NetNs) -> Option<u64>| -> Option<u64> {
        let before = ctx.first.as_ref()?.snap.netns.iter().find(|x| x.inode == netns).and_then(get)?;
        Some(ns.and_then(get)?.saturating_sub(before))
    };
    let never_read_eof = mine.iter().filter(|s| s.recv_q >= 1).count();
    let mut ports: BTreeMap<u16, usize> = BTreeMap::new();
    let mut peers: BTreeMap<String, usize> = BTreeMap::new();
    for s in mine {
        *ports.entry(s.local_port).or_default() += 1;
        *peers.entry(s.remote.to_string()).or_default() += 1;
    }
    let port = ports.iter().max_by_key(|(_, c)| **c).map(|(p, _)| *p);
    let proc_ = ctx.last.process(pid);
    let severity = if n >= ctx.t.close_wait_critical { Severity::Critical } else { Severity::Warning };
    let ev = CloseWaitLeak {
        close_wait: n,
        persisted_across_interval: ctx.first.is_some(),
        never_read_to_eof: never_read_eof,
        read_eof_not_closed: n - never_read_eof,
        with_unread_data: mine.iter().filter(|s| s.recv_q > 1).count(),
        peer_ports_in_ephemeral_range: range
            .map(|(lo, hi)| mine.iter().filter(|s| (lo..=hi).contains(&s.remote_port)).count()),
        ephemeral_port_range: range.map(|(lo, hi)| [lo, hi]),
        tcp_fin_timeout_s: ns.and_then(|x| x.fin_timeout_s),
        syn_challenges_during_interval: rise(|x| x.syn_challenges),
        challenge_acks_during_interval: rise(|x| x.challenge_acks),
        local_ports: ports,
        peers,
        oldest_idle_ms: mine.iter().filter_map(|s| s.info.map(|i| i.last_data_recv_ms.min(i.last_ack_recv_ms))).max(),
        shared_with: (!shared_with.is_empty()).then_some(shared_with),
        open_fds: proc_.map(|p| p.fd_count),
        fd_soft_limit: proc_.and_then(|p| p.nofile_soft),
        examples: mine
            .iter()
            .take(5)
            .map(|s| {
                format!(
                    "{} <- {} recv-q {}",
                    endpoint(s.local, s.local_port),
                    endpoint(s.remote, s.remote_port),
                    s.recv_q
                )
            })
            .collect(),
    };
    Judged { verdict: Verdict::new(severity, Some(pid), port, netns, ev) }
}
