//! Decides which listeners' SYN queues are (or were) at their limit, whether
//! the half-open connections look like a flood or a burst, and which
//! namespaces' counters rose with no listener at its limit.

use crate::facts::cgroups::rise;
use crate::facts::index::{addr_matches, endpoint, FastMap};
use crate::{Ctx, Verdict};
use std::collections::HashSet;
use std::net::IpAddr;
use unwedge_model::evidence::{SynPattern, SynQueueOverflow};
use unwedge_model::{NetNs, Severity, Snapshot, Socket, TcpState};

pub struct Judged {
    pub verdict: Verdict<SynQueueOverflow>,
    /// The listener's backlog (its send-q); `None` for a namespace's burst.
    pub backlog: Option<u32>,
}

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

fn tuple(s: &Socket) -> Tuple {
    (s.local, s.local_port, s.remote, s.remote_port)
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let snap = ctx.snap();
    let now = by_port(snap);
    let before = ctx.first.as_ref().map(|f| by_port(f.snap));
    let mut out = Vec::new();
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
        out.push(listener(ctx, l, ns, lim, &half, &earlier, full_now));
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
        let ev = SynQueueOverflow {
            syncookies: ns.syncookies,
            max_syn_backlog: ns.max_syn_backlog,
            reqq_full_drop_rise: r.drop,
            reqq_full_do_cookies_rise: r.cookies,
            syncookies_sent_rise: r.sent,
            interval_ms: ctx.interval_ms,
            ..Default::default()
        };
        let severity = if r.drop.unwrap_or(0) > 0 { Severity::Critical } else { Severity::Warning };
        out.push(Judged { verdict: Verdict::new(severity, None, None, ns.inode, ev), backlog: None });
    }
    out
}

/// A listener whose SYN queue is at `lim` now (`full_now`) or was in the
/// first snapshot: its `half` open connections now and `earlier`.
fn listener(
    ctx: &Ctx,
    l: &Socket,
    ns: Option<&NetNs>,
    lim: u32,
    half: &[&Socket],
    earlier: &[&Socket],
    full_now: bool,
) -> Judged {
    let r = rises(ctx, l.netns);
    let drops_rise =
        ctx.first.as_ref().and_then(|f| f.socket(l.inode)).and_then(|b| rise(b.drops.map(u64::from), l.drops.map(u64::from)));
    // Which of the first snapshot's half-open connections completed:
    // the same 4-tuple now established (accepted or queued).
    let completed = ctx.first.as_ref().map(|_| {
        let then: HashSet<Tuple> = earlier.iter().map(|s| tuple(s)).collect();
        ctx.snap()
            .sockets
            .iter()
            .filter(|s| !half_open(s) && s.netns == l.netns && s.local_port == l.local_port)
            .filter(|s| then.contains(&tuple(s)))
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
            SynPattern::Flood
        } else {
            SynPattern::Burst
        }
    });
    let cookies = ns.and_then(|n| n.syncookies);
    let owners = ctx.last.owners_of(l.inode).to_vec();
    let pid = ctx.last.main_owner(&owners);
    let dropping = r.drop.unwrap_or(0) > 0 || (cookies == Some(0) && full_now);
    let severity = if dropping { Severity::Critical } else { Severity::Warning };
    let ev = SynQueueOverflow {
        listen: Some(endpoint(l.local, l.local_port)),
        syn_recv: Some(half.len() as u32),
        limit: Some(lim),
        peers: Some(peers),
        completed,
        half_open_in_first_snapshot: ctx.first.as_ref().map(|_| earlier.len() as u32),
        pattern,
        syncookies: cookies,
        max_syn_backlog: ns.and_then(|n| n.max_syn_backlog),
        reqq_full_drop_rise: r.drop,
        reqq_full_do_cookies_rise: r.cookies,
        syncookies_sent_rise: r.sent,
        listener_drops_rise: drops_rise,
        interval_ms: ctx.interval_ms,
        owners,
    };
    Judged { verdict: Verdict::new(severity, pid, Some(l.local_port), l.netns, ev), backlog: Some(l.send_q) }
}
