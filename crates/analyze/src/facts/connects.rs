//! Connects nothing answers: a process's outbound connections to one
//! destination that sat in SYN-SENT through the interval, their SYN
//! retransmitted — a black hole, or a firewall that drops SYNs. Read by
//! `connect_unanswered` (the finding), by `waits` (what a process's
//! threads or event loop wait on) and by the wait graph (an outbound
//! connection in SYN-SENT waits on its remote).
//!
//! Kernel facts: sock_diag's state (SYN-SENT) and tcp_info's `retransmits`
//! (SYNs sent again so far) in both snapshots, for the same socket inode
//! and 4-tuple; a SYN's retransmit timer starts at the kernel's initial RTO
//! (1 s) and never shrinks (linear for the first `tcp_syn_linear_timeouts`
//! retransmits since 6.7, doubling after), so N retransmits mean the first
//! SYN left at least N seconds ago (6.7+ counts the time itself:
//! `total_rto_time`). A connect answered within its first RTO never
//! retransmits; one answered late leaves SYN-SENT before the second
//! snapshot. A destination that is a listener on this host (in the same
//! network namespace) is told apart: its full queue, not a black hole,
//! drops the SYNs, and its own findings say so.

use crate::facts::index::{addr_matches, Index};
use crate::facts::syscalls::{Call, Class};
use crate::Ctx;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use unwedge_model::{Process, Socket, TcpInfo, TcpState};

/// The initial RTO of a SYN (TCP_TIMEOUT_INIT); its retransmit timer never
/// fires sooner than this after the last one.
const SYN_RTO_MIN_MS: u64 = 1000;

/// One destination a process's connects to get no answer from.
#[derive(Debug, Clone)]
pub struct Unanswered<'a> {
    pub netns: u64,
    pub peer: SocketAddr,
    /// Its connections to `peer` in SYN-SENT now.
    pub connecting: Vec<&'a Socket>,
    /// Of those, in SYN-SENT in both snapshots with the SYN retransmitted.
    pub whole_interval: usize,
    pub syn_retransmits: u8,
    /// How long ago the oldest one's first SYN left (see `first_syn_ago`).
    pub oldest_first_syn_ms: u64,
    /// Only a lower bound: the kernel gives no `total_rto_time`.
    pub lower_bound: bool,
    /// Threads blocked in connect() on one of them.
    pub threads_in_connect: Vec<u32>,
    /// The destination is a listener on this host (in the socket's network
    /// namespace).
    pub local: Option<&'a Socket>,
    /// That listener drops SYNs itself (its accept queue is full, or its
    /// drop counter rose during the interval): its own findings say why,
    /// this is no black hole.
    pub local_drops: bool,
}

/// The destinations of `p`'s connects that stayed unanswered through the
/// interval (at least one connection in SYN-SENT in both snapshots, its SYN
/// retransmitted), most connections first.
pub fn unanswered<'a>(ctx: &Ctx<'a>, p: &Process) -> Vec<Unanswered<'a>> {
    let Some(first) = &ctx.first else { return Vec::new() };
    let mut by_peer: BTreeMap<(u64, IpAddr, u16), Unanswered<'a>> = BTreeMap::new();
    for fd in &p.sockets {
        let Some(s) = ctx.last.socket(fd.inode) else { continue };
        if s.state != TcpState::SynSent {
            continue;
        }
        let e = by_peer.entry((s.netns, s.remote, s.remote_port)).or_insert_with(|| Unanswered {
            netns: s.netns,
            peer: SocketAddr::new(s.remote, s.remote_port),
            connecting: Vec::new(),
            whole_interval: 0,
            syn_retransmits: 0,
            oldest_first_syn_ms: 0,
            lower_bound: false,
            threads_in_connect: Vec::new(),
            local: local_listener(&ctx.last, s),
            local_drops: false,
        });
        e.connecting.push(s);
        let Some(now) = s.info.map(|i| i.retransmits) else { continue };
        let before = first
            .socket(fd.inode)
            .filter(|b| {
                b.state == TcpState::SynSent
                    && (b.local_port, b.remote, b.remote_port) == (s.local_port, s.remote, s.remote_port)
            })
            .and_then(|b| b.info);
        let Some(before) = before else { continue };
        if now == 0 {
            continue;
        }
        e.whole_interval += 1;
        e.syn_retransmits = e.syn_retransmits.max(now);
        let (age, bound) = first_syn_ago(s.info.unwrap_or_default(), before, ctx.interval_ms);
        if age > e.oldest_first_syn_ms {
            (e.oldest_first_syn_ms, e.lower_bound) = (age, bound);
        }
    }
    let mut out: Vec<Unanswered> = by_peer.into_values().filter(|u| u.whole_interval > 0).collect();
    if out.is_empty() {
        return out;
    }
    for u in &mut out {
        u.local_drops = u.local.is_some_and(|l| listener_drops(first, l));
    }
    let arch = ctx.snap().arch.as_str();
    for t in &p.threads {
        let Some(call) = Call::of(arch, t).filter(|c| c.class == Class::Connect) else { continue };
        let Some(s) = call.fd_numbers().find_map(|fd| ctx.last.socket_of_fd(p, fd)) else { continue };
        if let Some(u) = out.iter_mut().find(|u| u.connecting.iter().any(|c| c.inode == s.inode)) {
            u.threads_in_connect.push(t.tid);
        }
    }
    out.sort_by(|a, b| b.connecting.len().cmp(&a.connecting.len()).then(a.peer.cmp(&b.peer)));
    out
}

/// How long ago a connect's first SYN left, and whether that is only a
/// lower bound. Linux 6.7+ counts the time spent in retransmission
/// timeouts since the first fired (`total_rto_time`): add the initial RTO.
/// Before, each retransmit means at least one more RTO of at least 1 s,
/// and the first snapshot's retransmits happened before the interval.
fn first_syn_ago(now: TcpInfo, before: TcpInfo, interval_ms: u64) -> (u64, bool) {
    match now.total_rto_time_ms {
        Some(t) if t > 0 => (u64::from(t) + SYN_RTO_MIN_MS, false),
        _ => {
            let counted = u64::from(now.retransmits) * SYN_RTO_MIN_MS;
            (counted.max(interval_ms + u64::from(before.retransmits) * SYN_RTO_MIN_MS), true)
        }
    }
}

/// A listener drops connections itself: its accept queue is full (more
/// queued than its backlog allows), or its drop counter rose between the
/// snapshots.
fn listener_drops(first: &Index, l: &Socket) -> bool {
    let rose = match (first.socket(l.inode).and_then(|b| b.drops), l.drops) {
        (Some(before), Some(now)) => now > before,
        _ => false,
    };
    l.recv_q >= l.send_q.max(1) || rose
}

/// The listener on this host a connect goes to, if one is there.
pub fn local_listener<'a>(idx: &Index<'a>, s: &Socket) -> Option<&'a Socket> {
    idx.listeners().find(|l| l.netns == s.netns && l.local_port == s.remote_port && addr_matches(l.local, s.remote))
}

/// The SYN-SENT socket behind a thread blocked in connect(), if any.
pub fn connecting_socket<'a>(idx: &Index<'a>, p: &Process, call: &Call) -> Option<&'a Socket> {
    if call.class != Class::Connect {
        return None;
    }
    call.fd_numbers().filter_map(|fd| idx.socket_of_fd(p, fd)).find(|s| s.state == TcpState::SynSent)
}
