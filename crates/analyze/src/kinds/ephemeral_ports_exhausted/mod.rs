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

mod judge;
mod words;

use crate::Ctx;
use unwedge_model::Finding;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for j in judge::judge(ctx) {
        let words = words::words(ctx, &j);
        out.push(ctx.finding(j.verdict, words));
    }
}
