//! `ephemeral_ports_exhausted` — outbound connections to one upstream run
//! out of source ports: connect() fails with EADDRNOTAVAIL ("Cannot assign
//! requested address") and the client reports the upstream as down, while
//! the upstream and the network are fine.
//!
//! Kernel facts: connect() without bind() picks a local port from the
//! namespace's net.ipv4.ip_local_port_range, skipping
//! ip_local_reserved_ports; a port is free for a destination unless a
//! socket already holds the same 4-tuple, TIME-WAIT included, so one
//! (source address, destination address:port) pair can hold at most the
//! usable range. TIME-WAIT lasts 60 s; with net.ipv4.tcp_tw_reuse=1 (2:
//! loopback only, the default) connect() may take over a TIME-WAIT port
//! older than 1 s. Sockets are from sock_diag, per namespace.
//!
//! False alarms avoided: a client with keep-alive pooling holds a handful
//! of ports however busy it is (its healthy twin); accepted connections sit
//! on their listener's port, which is never counted; and when tcp_tw_reuse
//! lets connect() reuse the TIME-WAIT ports that make up the count, the
//! finding is info, not an alarm.

use crate::facts::cgroups::pct;
use crate::facts::index::{endpoint, FastMap};
use crate::Ctx;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use unwedge_model::evidence::{EphemeralPortsExhausted, PortOwner};
use unwedge_model::{Finding, NetNs, Severity, Socket, TcpState};

/// Ports connect() may pick in `ns`: the range minus reserved ports in it.
fn usable(ns: &NetNs) -> Option<(u16, u16, u32)> {
    let (lo, hi) = ns.ephemeral_ports?;
    if hi < lo {
        return None;
    }
    let total = (hi - lo) as u32 + 1;
    let reserved: u32 = ns
        .reserved_ports
        .iter()
        .map(|&(a, b)| {
            let (a, b) = (a.max(lo), b.min(hi));
            if a <= b {
                (b - a) as u32 + 1
            } else {
                0
            }
        })
        .sum();
    Some((lo, hi, total.saturating_sub(reserved).max(1)))
}

type Pair = (u64, IpAddr, IpAddr, u16);

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let snap = ctx.snap();
    let ranges: FastMap<u64, (u16, u16, u32)> =
        snap.netns.iter().filter_map(|n| usable(n).map(|u| (n.inode, u))).collect();
    if ranges.is_empty() {
        return;
    }
    // Count per destination first (a few entries on any host: 100k client
    // sockets from distinct source addresses would make 100k pairs), then
    // per pair only towards destinations that hold enough ports for one
    // pair to cross the threshold; then look closer at those pairs.
    let in_range =
        |s: &Socket| ranges.get(&s.netns).filter(|&&(lo, hi, _)| (lo..=hi).contains(&s.local_port)).map(|r| r.2);
    let mut per_dest: FastMap<(u64, IpAddr, u16), u32> = FastMap::default();
    for s in &snap.sockets {
        if in_range(s).is_some() && ctx.last.is_outbound(s) {
            *per_dest.entry((s.netns, s.remote, s.remote_port)).or_default() += 1;
        }
    }
    per_dest.retain(|k, n| ranges.get(&k.0).is_some_and(|r| pct(*n as f64, r.2 as f64) >= ctx.t.ports_warning));
    if per_dest.is_empty() {
        return;
    }
    let mut counts: HashMap<Pair, u32> = HashMap::new();
    for s in &snap.sockets {
        if in_range(s).is_some()
            && per_dest.contains_key(&(s.netns, s.remote, s.remote_port))
            && ctx.last.is_outbound(s)
        {
            *counts.entry((s.netns, s.local, s.remote, s.remote_port)).or_default() += 1;
        }
    }
    for (pair, n) in counts {
        let (lo, hi, usable) = ranges[&pair.0];
        if pct(n as f64, usable as f64) < ctx.t.ports_warning {
            continue;
        }
        let ns = snap.netns.iter().find(|x| x.inode == pair.0);
        out.push(finding(ctx, pair, (lo, hi, usable), ns));
    }
}

fn finding(ctx: &Ctx, pair: Pair, (lo, hi, usable): (u16, u16, u32), ns: Option<&NetNs>) -> Finding {
    let (netns, local, remote, rport) = pair;
    let socks: Vec<&Socket> = ctx
        .snap()
        .sockets
        .iter()
        .filter(|s| {
            s.netns == netns
                && s.local == local
                && s.remote == remote
                && s.remote_port == rport
                && (lo..=hi).contains(&s.local_port)
                && ctx.last.is_outbound(s)
        })
        .collect();
    let mut by_state: BTreeMap<String, u32> = BTreeMap::new();
    let mut owners: BTreeMap<u32, u32> = BTreeMap::new();
    let mut time_wait = 0u32;
    for s in &socks {
        *by_state.entry(s.state.name().to_string()).or_default() += 1;
        if s.state == TcpState::TimeWait {
            time_wait += 1;
        }
        if let Some(&pid) = ctx.last.owners_of(s.inode).first() {
            *owners.entry(pid).or_default() += 1;
        }
    }
    let total = socks.len() as u32;
    let tw_reuse = ns.and_then(|n| n.tcp_tw_reuse);
    let loopback = remote.is_loopback() || local.is_loopback();
    let reusable = match tw_reuse {
        Some(1) => true,
        Some(2) => loopback,
        _ => false,
    };
    let held = if reusable { total - time_wait } else { total };
    let held_pct = pct(held as f64, usable as f64);
    let severity = if held_pct >= 95.0 {
        Severity::Critical
    } else if held_pct >= ctx.t.ports_warning {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut owner_list: Vec<PortOwner> = owners
        .into_iter()
        .map(|(pid, sockets)| PortOwner {
            pid,
            comm: ctx.last.process(pid).map(|p| p.comm.clone()).unwrap_or_default(),
            sockets,
        })
        .collect();
    owner_list.sort_by(|a, b| b.sockets.cmp(&a.sockets).then(a.pid.cmp(&b.pid)));
    let dest = endpoint(remote, rport);
    let src = local.to_string();
    let percent = pct(total as f64, usable as f64);
    let who = match owner_list.first() {
        Some(o) if owner_list.len() == 1 => format!("{} (pid {})", o.comm, o.pid),
        Some(o) => format!("{} (pid {}) and {} other processes", o.comm, o.pid, owner_list.len() - 1),
        None => "processes that already closed them".into(),
    };
    let ev = EphemeralPortsExhausted {
        local: src.clone(),
        remote: dest.clone(),
        sockets: total,
        by_state,
        port_range: [lo, hi],
        usable_ports: usable,
        percent,
        tcp_tw_reuse: tw_reuse,
        time_wait_reusable: reusable,
        owners: owner_list,
    };
    let mut f = ctx.legacy_finding(severity, None, None, netns, ev);
    f.title = format!(
        "{total} of {usable} source ports towards {dest} are in use ({percent:.0}%, {time_wait} in TIME-WAIT): {}",
        if severity == Severity::Critical {
            "connect() fails with EADDRNOTAVAIL"
        } else if severity == Severity::Warning {
            "connect() is about to fail"
        } else {
            "TIME-WAIT ports are being reused"
        }
    );
    let tw_text = match (reusable, tw_reuse) {
        (true, _) => "net.ipv4.tcp_tw_reuse lets connect() take over TIME-WAIT ports older than 1 s here, so only the other sockets block it".to_string(),
        (false, Some(2)) => "net.ipv4.tcp_tw_reuse=2 reuses TIME-WAIT ports for loopback only, so here they block connect() for their whole 60 s".to_string(),
        (false, _) => "TIME-WAIT ports stay taken for 60 s (net.ipv4.tcp_tw_reuse is off)".to_string(),
    };
    f.explanation = format!(
        "Every connection from {src} to {dest} needs its own local port from net.ipv4.ip_local_port_range ({lo}-{hi}, {usable} usable), and a port stays taken while any socket holds that 4-tuple — TIME-WAIT included, for 60 s after the side that closed first. {total} sockets hold one now, opened by {who}. {tw_text}. When none is left, connect() fails at once with EADDRNOTAVAIL (\"Cannot assign requested address\"), and the client reports {dest} as unreachable though it is fine. Short connections opened and closed at a high rate (no keep-alive) are the usual cause."
    );
    f.fix = format!(
        "Reuse connections to {dest}: keep-alive and a connection pool in the client (HTTP keep-alive, a database pool, nginx `keepalive` in the upstream block), so a few ports carry all requests. Meanwhile: widen net.ipv4.ip_local_port_range (e.g. 1024 65535) in this namespace, set net.ipv4.tcp_tw_reuse=1 (needs TCP timestamps), or spread connections over more source addresses (bind() to several local IPs) or more upstream addresses. Let the server close first where the protocol allows, so TIME-WAIT lands on its side."
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ports_narrow_the_range() {
        let ns = NetNs {
            ephemeral_ports: Some((40000, 40063)),
            reserved_ports: vec![(40000, 40009), (1, 10)],
            ..Default::default()
        };
        assert_eq!(usable(&ns), Some((40000, 40063, 54)));
        assert_eq!(usable(&NetNs::default()), None);
    }
}
