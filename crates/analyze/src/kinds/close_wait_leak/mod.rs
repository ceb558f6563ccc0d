//! `close_wait_leak` — story 2 of FIELD-NOTES: a listener that never
//! close()s sockets whose peer already sent FIN.
//!
//! Kernel facts: sock_diag state CLOSE-WAIT on sockets the process holds an
//! fd on; recv-q tells whether the app read to EOF (a received FIN counts as
//! one unread byte until read). False alarm avoided: a busy server passes
//! through CLOSE-WAIT for microseconds on every connection, so with two
//! snapshots only sockets in CLOSE-WAIT in both count; with one, only those
//! whose peer's last packet (the FIN at the latest) is older than `--idle`.

use crate::facts::index::{endpoint, FastMap, FastSet};
use crate::Ctx;
use std::collections::BTreeMap;
use unwedge_model::evidence::CloseWaitLeak;
use unwedge_model::{Finding, NetNs, Severity, Socket, TcpState};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
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
        return;
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
    for (pid, mut mine) in per_owner {
        if mine.len() < ctx.t.close_wait_min {
            continue;
        }
        mine.sort_by_key(|s| (s.local_port, s.remote_port));
        out.push(finding(ctx, pid, &mine, shared_with.remove(&pid).unwrap_or_default()));
    }
}

fn finding(ctx: &Ctx, pid: u32, mine: &[&Socket], shared_with: Vec<u32>) -> Finding {
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
    let syn_challenges = rise(|x| x.syn_challenges);
    let challenge_acks = rise(|x| x.challenge_acks);
    let in_range = range.map(|(lo, hi)| mine.iter().filter(|s| (lo..=hi).contains(&s.remote_port)).count());
    let unread = mine.iter().filter(|s| s.recv_q > 1).count();
    let never_read_eof = mine.iter().filter(|s| s.recv_q >= 1).count();
    let read_eof = n - never_read_eof;
    let mut ports: BTreeMap<u16, usize> = BTreeMap::new();
    let mut peers: BTreeMap<String, usize> = BTreeMap::new();
    for s in mine {
        *ports.entry(s.local_port).or_default() += 1;
        *peers.entry(s.remote.to_string()).or_default() += 1;
    }
    let port = ports.iter().max_by_key(|(_, c)| **c).map(|(p, _)| *p);
    let oldest_idle_ms = mine.iter().filter_map(|s| s.info.map(|i| i.last_data_recv_ms.min(i.last_ack_recv_ms))).max();
    let proc_ = ctx.last.process(pid);
    let severity = if n >= ctx.t.close_wait_critical { Severity::Critical } else { Severity::Warning };
    let who = ctx.proc_label(pid);
    let title = format!("{who} holds {n} sockets in CLOSE-WAIT it never closed");
    let fin = ns.and_then(|x| x.fin_timeout_s).unwrap_or(60);
    let range_txt = match (range, in_range) {
        (Some((lo, hi)), Some(k)) => format!(
            "{k} of the {n} peer ports lie inside this host's ephemeral range {lo}-{hi}, so a local client that is handed one of those ports again sends its SYN into a stale 4-tuple. "
        ),
        _ => String::new(),
    };
    let hits_txt = match syn_challenges {
        Some(k) if k > 0 => format!(
            "It is happening now: during the {} between snapshots {k} SYN{} in this network namespace landed on an existing connection's 4-tuple and got a challenge ACK (TcpExt TCPSYNChallenge). ",
            crate::secs(ctx.interval_ms),
            if k == 1 { "" } else { "s" }
        ),
        _ => String::new(),
    };
    let how = if read_eof == n {
        "It read every one to EOF (recv-q 0) and then never called close(): a missing close on some code path."
    } else if read_eof == 0 {
        "None of them was read to EOF (the FIN still waits in the receive queue): the handler stopped reading and never closed, e.g. it blocks, sleeps or forgot the connection."
    } else {
        "Some were read to EOF and left open, others were never read to EOF: more than one code path leaks."
    };
    let explanation = format!(
        "Each peer closed its end (sent FIN) and the kernel acknowledged it, but {who} never called close(), so the socket stays in CLOSE-WAIT for as long as the process lives. {how} \
The peer's half (FIN-WAIT-2) expires after net.ipv4.tcp_fin_timeout ({fin} s), freeing its port while this half lives on. {range_txt}{hits_txt}\
On a modern Linux kernel the colliding SYN gets a challenge ACK, the client resets the stale socket and retries within milliseconds; behind a stateful firewall, conntrack or NAT that drops that unexpected ACK, the client instead retransmits SYNs and connect() times out. \
Either way every leaked socket costs an fd (towards EMFILE, after which accept() fails and the listen queue overflows) and kernel memory."
    );
    let ev = CloseWaitLeak {
        close_wait: n,
        persisted_across_interval: ctx.first.is_some(),
        never_read_to_eof: never_read_eof,
        read_eof_not_closed: read_eof,
        with_unread_data: unread,
        peer_ports_in_ephemeral_range: in_range,
        ephemeral_port_range: range.map(|(lo, hi)| [lo, hi]),
        tcp_fin_timeout_s: ns.and_then(|x| x.fin_timeout_s),
        syn_challenges_during_interval: syn_challenges,
        challenge_acks_during_interval: challenge_acks,
        local_ports: ports,
        peers,
        oldest_idle_ms,
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
    let mut f = ctx.finding(severity, Some(pid), port, netns, ev);
    f.title = title;
    f.explanation = explanation;
    f.fix = "Close the connection on every path once the peer has closed: when read() returns 0 (EOF), on errors and timeouts, in a finally/defer (Go: defer conn.Close(); Python: with socket). \
Give handlers a read deadline so a stuck one cannot hold a socket forever. Restarting the process frees the sockets now; the leak returns until the code is fixed."
        .into();
    f
}
