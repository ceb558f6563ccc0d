//! Decides which (source, destination) pairs of outbound connections hold
//! most of the usable ephemeral ports, and whether TIME-WAIT reuse frees them.

use crate::facts::cgroups::pct;
use crate::facts::index::{endpoint, FastMap};
use crate::{Ctx, Verdict};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use unwedge_model::evidence::{EphemeralPortsExhausted, PortOwner};
use unwedge_model::{NetNs, Severity, Socket, TcpState};

pub struct Judged {
    pub verdict: Verdict<EphemeralPortsExhausted>,
    /// Of the sockets, those in TIME-WAIT.
    pub time_wait: u32,
}

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

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let snap = ctx.snap();
    let ranges: FastMap<u64, (u16, u16, u32)> =
        snap.netns.iter().filter_map(|n| usable(n).map(|u| (n.inode, u))).collect();
    if ranges.is_empty() {
        return Vec::new();
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
        return Vec::new();
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
    let mut out = Vec::new();
    for (pair, n) in counts {
        let (lo, hi, usable) = ranges[&pair.0];
        if pct(n as f64, usable as f64) < ctx.t.ports_warning {
            continue;
        }
        let ns = snap.netns.iter().find(|x| x.inode == pair.0);
        out.push(judged(ctx, pair, (lo, hi, usable), ns));
    }
    out
}

fn judged(ctx: &Ctx, pair: Pair, (lo, hi, usable): (u16, u16, u32), ns: Option<&NetNs>) -> Judged {
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
    let ev = EphemeralPortsExhausted {
        local: local.to_string(),
        remote: endpoint(remote, rport),
        sockets: total,
        by_state,
        port_range: [lo, hi],
        usable_ports: usable,
        percent: pct(total as f64, usable as f64),
        tcp_tw_reuse: tw_reuse,
        time_wait_reusable: reusable,
        owners: owner_list,
    };
    Judged { verdict: Verdict::new(severity, None, None, netns, ev), time_wait }
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
