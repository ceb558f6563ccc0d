//! Says how many source ports towards one destination are taken, what
//! happens when none is left, and how to reuse connections instead.

use super::judge::Judged;
use crate::{Ctx, Words};
use unwedge_model::Severity;

pub fn words(_ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let (total, usable, percent, time_wait) = (e.sockets, e.usable_ports, e.percent, j.time_wait);
    let (dest, src, [lo, hi]) = (&e.remote, &e.local, e.port_range);
    let severity = j.verdict.severity;
    let who = match e.owners.first() {
        Some(o) if e.owners.len() == 1 => format!("{} (pid {})", o.comm, o.pid),
        Some(o) => format!("{} (pid {}) and {} other processes", o.comm, o.pid, e.owners.len() - 1),
        None => "processes that already closed them".into(),
    };
    let tw_text = match (e.time_wait_reusable, e.tcp_tw_reuse) {
        (true, _) => "net.ipv4.tcp_tw_reuse lets connect() take over TIME-WAIT ports older than 1 s here, so only the other sockets block it".to_string(),
        (false, Some(2)) => "net.ipv4.tcp_tw_reuse=2 reuses TIME-WAIT ports for loopback only, so here they block connect() for their whole 60 s".to_string(),
        (false, _) => "TIME-WAIT ports stay taken for 60 s (net.ipv4.tcp_tw_reuse is off)".to_string(),
    };
    Words {
        title: format!(
            "{total} of {usable} source ports towards {dest} are in use ({percent:.0}%, {time_wait} in TIME-WAIT): {}",
            if severity == Severity::Critical {
                "connect() fails with EADDRNOTAVAIL"
            } else if severity == Severity::Warning {
                "connect() is about to fail"
            } else {
                "TIME-WAIT ports are being reused"
            }
        ),
        explanation: format!(
            "Every connection from {src} to {dest} needs its own local port from net.ipv4.ip_local_port_range ({lo}-{hi}, {usable} usable), and a port stays taken while any socket holds that 4-tuple — TIME-WAIT included, for 60 s after the side that closed first. {total} sockets hold one now, opened by {who}. {tw_text}. When none is left, connect() fails at once with EADDRNOTAVAIL (\"Cannot assign requested address\"), and the client reports {dest} as unreachable though it is fine. Short connections opened and closed at a high rate (no keep-alive) are the usual cause."
        ),
        fix: format!(
            "Reuse connections to {dest}: keep-alive and a connection pool in the client (HTTP keep-alive, a database pool, nginx `keepalive` in the upstream block), so a few ports carry all requests. Meanwhile: widen net.ipv4.ip_local_port_range (e.g. 1024 65535) in this namespace, set net.ipv4.tcp_tw_reuse=1 (needs TCP timestamps), or spread connections over more source addresses (bind() to several local IPs) or more upstream addresses. Let the server close first where the protocol allows, so TIME-WAIT lands on its side."
        ),
    }
}
