//! `syn_queue_overflow` — a listener's SYN queue (half-open connections,
//! SYN-RECV) is full: new SYNs are dropped, or answered with syncookies,
//! and clients see connect() take 1 s, 3 s, 7 s or time out, while the
//! server looks idle.
//!
//! Kernel facts: sock_diag lists each half-open connection (a request
//! socket) as SYN-RECV on the listener's port, and the listener's backlog
//! (min of listen()'s argument and net.core.somaxconn) as its send-q. The
//! kernel calls the SYN queue full when it holds as many request sockets as
//! the backlog (tcp_conn_request: inet_csk_reqsk_queue_is_full); then with
//! net.ipv4.tcp_syncookies=1 it answers with a cookie (TcpExt
//! TCPReqQFullDoCookies, SyncookiesSent) and otherwise drops the SYN
//! (TCPReqQFullDrop). Without syncookies it also keeps the last quarter of
//! tcp_max_syn_backlog for peers it has seen before. Every drop at a
//! listener counts in its own SK_MEMINFO_DROPS. A flood (spoofed or dead
//! sources) leaves half-open connections from many peers that never
//! complete; a burst of real clients completes them.
//!
//! False alarms avoided: the TcpExt counters are cumulative since boot, so
//! only their rise during the interval counts; a listener with a few
//! half-open connections below its limit (its healthy twin: a busy server
//! whose handshakes complete) is silent; a full accept queue that drops
//! SYNs is `accept_queue_overflow`'s, not this one's.

use crate::facts::cgroups::rise;
use crate::facts::index::{addr_matches, endpoint, FastMap};
use crate::Ctx;
use std::collections::HashSet;
use std::net::IpAddr;
use unwedge_model::evidence::SynQueueOverflow;
use unwedge_model::{Finding, NetNs, Severity, Snapshot, Socket, TcpState};

fn half_open(s: &Socket) -> bool {
    matches!(s.state, TcpState::SynRecv | TcpState::NewSynRecv)
}

/// Half-open connections per (netns, local port).
fn by_port(snap: &Snapshot) -> FastMap<(u64, u16), Vec<&Socket>> {
    let mut m: FastMap<(u64, u16), Vec<&Socket>> = FastMap::default();
    for s in snap.sockets.iter().filter(|s| half_open(s)) {
        m.entry((s.netns, s.local_port)).or_default().push(s);
    }
    m
}

fn for_listener<'a>(m: &FastMap<(u64, u16), Vec<&'a Socket>>, l: &Socket) -> Vec<&'a Socket> {
    m.get(&(l.netns, l.local_port))
        .map(|v| v.iter().copied().filter(|s| addr_matches(l.local, s.local)).collect())
        .unwrap_or_default()
}

/// The SYN queue's effective limit: the backlog, and without syncookies
/// also three quarters of tcp_max_syn_backlog.
fn limit(l: &Socket, ns: Option<&NetNs>) -> u32 {
    let mut lim = l.send_q;
    if let Some(ns) = ns {
        if ns.syncookies == Some(0) {
            if let Some(m) = ns.max_syn_backlog {
                lim = lim.min(m - m / 4);
            }
        }
    }
    lim
}

#[derive(Default, Clone, Copy)]
struct Rises {
    drop: Option<u64>,
    cookies: Option<u64>,
    sent: Option<u64>,
}

impl Rises {
    fn any(&self) -> bool {
        self.drop.unwrap_or(0) > 0 || self.cookies.unwrap_or(0) > 0
    }
}

fn rises(ctx: &Ctx, inode: u64) -> Rises {
    let Some(first) = ctx.first.as_ref() else { return Rises::default() };
    let a = first.snap.netns.iter().find(|n| n.inode == inode);
    let b = ctx.snap().netns.iter().find(|n| n.inode == inode);
    let (Some(a), Some(b)) = (a, b) else { return Rises::default() };
    Rises {
        drop: rise(a.reqq_full_drop, b.reqq_full_drop),
        cookies: rise(a.reqq_full_do_cookies, b.reqq_full_do_cookies),
        sent: rise(a.syncookies_sent, b.syncookies_sent),
    }
}

type Tuple = (IpAddr, u16, IpAddr, u16);

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let snap = ctx.snap();
    let now = by_port(snap);
    let before = ctx.first.as_ref().map(|f| by_port(f.snap));
    let mut blamed_ns = Vec::new();
    for l in ctx.last.listeners() {
        let ns = snap.netns.iter().find(|n| n.inode == l.netns);
        let lim = limit(l, ns);
        let half = for_listener(&now, l);
        let earlier = before.as_ref().map(|b| for_listener(b, l)).unwrap_or_default();
        let full_now = lim > 0 && half.len() as u32 >= lim;
        let full_before = lim > 0 && earlier.len() as u32 >= lim;
        if !(full_now || full_before) {
            continue;
        }
        blamed_ns.push(l.netns);
        let r = rises(ctx, l.netns);
        let drops_rise = ctx
            .first
            .as_ref()
            .and_then(|f| f.socket(l.inode))
            .and_then(|b| rise(b.drops.map(u64::from), l.drops.map(u64::from)));
        // Which of the first snapshot's half-open connections completed:
        // the same 4-tuple now established (accepted or queued).
        let completed = ctx.first.as_ref().map(|_| {
            let then: HashSet<Tuple> =
                earlier.iter().map(|s| (s.local, s.local_port, s.remote, s.remote_port)).collect();
            snap.sockets
                .iter()
                .filter(|s| !half_open(s) && s.netns == l.netns && s.local_port == l.local_port)
                .filter(|s| then.contains(&(s.local, s.local_port, s.remote, s.remote_port)))
                .count() as u32
        });
        let peers = half.iter().map(|s| s.remote).collect::<HashSet<_>>().len() as u32;
        // A flood: the half-open connections come from many addresses and
        // those of the first snapshot never completed. One snapshot cannot
        // tell: no pattern then.
        let many_peers = peers >= 2 && peers * 2 >= half.len() as u32;
        let pattern = completed.map(|c| {
            let few_complete = !earlier.is_empty() && c * 10 <= earlier.len() as u32;
            if many_peers && few_complete {
                "flood"
            } else {
                "burst"
            }
        });
        let cookies = ns.and_then(|n| n.syncookies);
        let owners = ctx.last.owners_of(l.inode).to_vec();
        let pid = ctx.last.main_owner(&owners);
        let dropping = r.drop.unwrap_or(0) > 0 || (cookies == Some(0) && full_now);
        let severity = if dropping { Severity::Critical } else { Severity::Warning };
        let addr = endpoint(l.local, l.local_port);
        let ev = SynQueueOverflow {
            listen: Some(addr.clone()),
            syn_recv: Some(half.len() as u32),
            limit: Some(lim),
            peers: Some(peers),
            completed,
            half_open_in_first_snapshot: ctx.first.as_ref().map(|_| earlier.len() as u32),
            pattern: pattern.map(String::from),
            syncookies: cookies,
            max_syn_backlog: ns.and_then(|n| n.max_syn_backlog),
            reqq_full_drop_rise: r.drop,
            reqq_full_do_cookies_rise: r.cookies,
            syncookies_sent_rise: r.sent,
            listener_drops_rise: drops_rise,
            interval_ms: ctx.interval_ms,
            owners,
        };
        let mut f = ctx.legacy_finding(severity, pid, Some(l.local_port), l.netns, ev);
        let who = pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "its owner".into());
        f.title = format!(
            "SYN queue of {addr} is full ({}/{lim} half-open from {peers} peers): {}",
            half.len().max(earlier.len()),
            match (dropping, cookies) {
                (true, _) => "new SYNs are dropped",
                (false, Some(c)) if c > 0 => "new SYNs get syncookies",
                _ => "new SYNs are dropped or answered with cookies",
            }
        );
        let what = if pattern == Some("flood") {
            format!(
                "They come from {peers} different addresses and {} of the earlier ones completed: a SYN flood (spoofed or unreachable sources), not clients of {who}.",
                completed.map(|c| c.to_string()).unwrap_or_else(|| "none known".into())
            )
        } else if pattern == Some("burst") {
            format!(
                "They come from {peers} addresses{}: a burst of real clients faster than the handshakes complete (a slow or lossy path makes each stay half-open longer).",
                completed.map(|c| format!(" and {c} of the earlier ones completed")).unwrap_or_default()
            )
        } else {
            format!("They come from {peers} addresses (one snapshot: whether they complete, a burst, or never do, a flood, is not known).")
        };
        let action = match cookies {
            Some(0) => "net.ipv4.tcp_syncookies is 0, so the kernel drops every further SYN and clients retransmit after 1 s, 3 s, 7 s… until connect() times out".to_string(),
            Some(2) => "net.ipv4.tcp_syncookies is 2: every SYN gets a cookie".to_string(),
            _ => format!(
                "with net.ipv4.tcp_syncookies on, the kernel answers further SYNs with cookies: those clients still connect, without TCP options such as window scaling{}",
                r.cookies.filter(|&c| c > 0).map(|c| format!(" ({c} cookies during the interval)")).unwrap_or_default()
            ),
        };
        f.explanation = format!(
            "A listener keeps one request socket per SYN it answered until the client's ACK completes the handshake; the kernel calls its SYN queue full at the listener's backlog ({}{}). {addr} has {} half-open connections against a limit of {lim}. {what} {action}.",
            l.send_q,
            if cookies == Some(0) { ", or three quarters of net.ipv4.tcp_max_syn_backlog without syncookies" } else { "" },
            half.len().max(earlier.len()),
        );
        f.fix = if pattern == Some("flood") {
            "Keep net.ipv4.tcp_syncookies=1 (the default) so a flood cannot keep clients out; filter the flood upstream (rate-limit SYNs per source, SYNPROXY in iptables/nftables, the provider's DDoS protection). A bigger backlog only buys time.".into()
        } else {
            "Raise the listener's backlog (listen(fd, N); nginx `listen … backlog=N`) together with net.core.somaxconn and net.ipv4.tcp_max_syn_backlog, keep net.ipv4.tcp_syncookies=1, and find why handshakes are slow to complete (a lossy path, a client that connects in bursts: spread or pool its connections).".into()
        };
        out.push(f);
    }
    // Counters that rose with no listener full at either snapshot: a burst between them.
    for ns in &snap.netns {
        if blamed_ns.contains(&ns.inode) {
            continue;
        }
        let r = rises(ctx, ns.inode);
        if !r.any() {
            continue;
        }
        let dropped = r.drop.unwrap_or(0);
        let ev = SynQueueOverflow {
            syncookies: ns.syncookies,
            max_syn_backlog: ns.max_syn_backlog,
            reqq_full_drop_rise: r.drop,
            reqq_full_do_cookies_rise: r.cookies,
            syncookies_sent_rise: r.sent,
            interval_ms: ctx.interval_ms,
            ..Default::default()
        };
        let severity = if dropped > 0 { Severity::Critical } else { Severity::Warning };
        let mut f = ctx.legacy_finding(severity, None, None, ns.inode, ev);
        f.title = format!(
            "a SYN queue overflowed during the {} interval: {dropped} SYNs dropped, {} answered with cookies",
            crate::secs(ctx.interval_ms),
            r.cookies.unwrap_or(0)
        );
        f.explanation = "The namespace's TcpExt TCPReqQFullDrop / TCPReqQFullDoCookies counters rose between the two snapshots: some listener's SYN queue (half-open connections) was full, so SYNs were dropped (clients retransmit after 1 s, 3 s, 7 s) or answered with syncookies. No listener was at its limit at the moment of either snapshot, so this was a burst or a short flood.".into();
        f.fix = "Run `unwedge scan` again while it happens to find the listener; keep net.ipv4.tcp_syncookies=1, and raise the busy listener's backlog with net.core.somaxconn and net.ipv4.tcp_max_syn_backlog if the bursts are real clients.".into();
        out.push(f);
    }
}
