//! Decides which listeners hold requests read and never answered across the
//! interval while nothing else on them made progress, which process holds
//! them, and what its threads wait on.

use crate::facts::graph::hops;
use crate::facts::index::{addr_matches, endpoint, FastMap, FastSet};
use crate::facts::requests::{awaits_answer, sent, unchanged, unread_request, MIN_UNANSWERED};
use crate::facts::runtime;
use crate::facts::waits::{self, Dominant};
use crate::{Ctx, Verdict};
use std::net::IpAddr;
use unwedge_model::evidence::{UnansweredRequests, WaitingRequest};
use unwedge_model::{Severity, Socket, TcpState};

/// A send this much newer than the oldest waiting request is progress
/// (timestamps are in jiffies: a tie is no proof either way).
const PROGRESS_SLACK_MS: u32 = 1000;
const SHOWN: usize = 5;

pub struct Judged {
    pub verdict: Verdict<UnansweredRequests>,
    /// What most of the holder's threads wait on.
    pub dominant: Dominant,
    pub zero_window_senders: usize,
    /// Every thread of the holder idles (accept, an event loop, a sleep).
    pub idle_only: bool,
    /// Its event loop ran and keeps the connections in its poll set.
    pub parked: bool,
    /// Of the unanswered connections, those whose clients went silent
    /// after sending while the holder waits to read more from them.
    pub partial: usize,
    /// Unanswered connections the finding's process holds.
    pub held_by_pid: usize,
    /// The processes of the listener's other connections, where the
    /// unanswered ones belong to several (one per connection).
    pub other_holders: Vec<u32>,
}

/// A request read and unanswered, or never read, for `timeout_ms`.
fn candidate(s: &Socket, timeout_ms: u32) -> bool {
    s.inode != 0
        && (awaits_answer(s) || unread_request(s))
        && s.info.is_some_and(|i| i.last_data_recv_ms >= timeout_ms)
}

type Key = (u64, u16);
type Tuple = (IpAddr, u16, IpAddr, u16);

fn tuple(s: &Socket) -> Tuple {
    (s.local, s.local_port, s.remote, s.remote_port)
}

/// Server-side sockets the application closed (TIME-WAIT and the FIN states).
fn closed_by_server(s: &Socket) -> bool {
    matches!(
        s.state,
        TcpState::TimeWait | TcpState::FinWait1 | TcpState::FinWait2 | TcpState::LastAck | TcpState::Closing
    )
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let Some(first) = &ctx.first else { return Vec::new() };
    let timeout = ctx.t.answer_timeout_ms;
    // First pass: listeners with at least two candidates. Nearly every
    // socket of a busy host fails `candidate` on its first test.
    let mut count: FastMap<Key, usize> = FastMap::default();
    for s in &ctx.snap().sockets {
        if matches!(s.state, TcpState::Established | TcpState::CloseWait)
            && candidate(s, timeout)
            && ctx.last.is_served(s)
        {
            *count.entry((s.netns, s.local_port)).or_default() += 1;
        }
    }
    count.retain(|_, n| *n >= MIN_UNANSWERED);
    if count.is_empty() {
        return Vec::new();
    }
    // The listeners' own addresses: a connection on another local address
    // that happens to use the port (an ephemeral port of an outbound
    // connection, on a host with many) is not theirs.
    let mut addrs: FastMap<Key, Vec<IpAddr>> = FastMap::default();
    for l in ctx.last.listeners().filter(|l| count.contains_key(&(l.netns, l.local_port))) {
        addrs.entry((l.netns, l.local_port)).or_default().push(l.local);
    }
    let theirs = |s: &Socket| addrs.get(&(s.netns, s.local_port)).is_none_or(|a| a.iter().any(|l| addr_matches(*l, s.local)));
    let mut conns: FastMap<Key, Vec<&Socket>> = FastMap::default();
    let mut closed_now: FastMap<Key, Vec<Tuple>> = FastMap::default();
    for s in &ctx.snap().sockets {
        let key = (s.netns, s.local_port);
        if !count.contains_key(&key) || !theirs(s) {
            continue;
        }
        if s.inode != 0 && matches!(s.state, TcpState::Established | TcpState::CloseWait) {
            conns.entry(key).or_default().push(s);
        } else if s.inode == 0 && closed_by_server(s) {
            closed_now.entry(key).or_default().push(tuple(s));
        }
    }
    let mut closed_before: FastSet<(Key, Tuple)> = FastSet::default();
    for s in &first.snap.sockets {
        let key = (s.netns, s.local_port);
        if s.inode == 0 && closed_by_server(s) && count.contains_key(&key) {
            closed_before.insert((key, tuple(s)));
        }
    }
    let mut keys: Vec<Key> = count.keys().copied().collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let list = conns.remove(&key).unwrap_or_default();
        let closed =
            closed_now.get(&key).map_or(0, |v| v.iter().filter(|t| !closed_before.contains(&(key, **t))).count());
        out.extend(listener(ctx, key, &list, closed));
    }
    out
}

/// The listener's accepted connections: those unanswered across the whole
/// interval, and the severity when nothing else on it made progress.
struct Unanswered<'a> {
    stuck: Vec<&'a Socket>,
    /// Of those, never even read.
    unread: usize,
    oldest_ms: u32,
    /// Accepted during the interval.
    fresh: Vec<&'a Socket>,
    /// Of those, carrying a request with no answer yet.
    new_unanswered: usize,
    severity: Severity,
}

/// `list`: the accepted connections on the listener's port; `closed_during`:
/// those the server closed during the interval.
fn unanswered<'a>(ctx: &Ctx, list: &[&'a Socket], closed_during: usize) -> Option<Unanswered<'a>> {
    let first = ctx.first.as_ref()?;
    let before = |s: &Socket| first.socket(s.inode).filter(|b| tuple(b) == tuple(s));
    // Unanswered across the whole interval: no counter moved.
    let stuck: Vec<&Socket> = list
        .iter()
        .copied()
        .filter(|s| candidate(s, ctx.t.answer_timeout_ms))
        .filter(|s| {
            let Some(b) = before(s) else { return false };
            // Unread in both snapshots: the same bytes still queued.
            let unread = unread_request(s) && unread_request(b) && b.recv_q == s.recv_q;
            unchanged(b, s) && (awaits_answer(b) || unread)
        })
        // A process-per-connection server's backend that ran during the
        // interval works on its request (a long query burns CPU or waits on
        // disk); one that sleeps without running (a lock wait) does not.
        .filter(|s| !own_process_works(ctx, s.inode))
        .collect();
    if stuck.len() < MIN_UNANSWERED {
        return None;
    }
    let oldest_ms = stuck.iter().filter_map(|s| s.info).map(|i| i.last_data_recv_ms).max().unwrap_or(0);
    let youngest = stuck.iter().filter_map(|s| s.info).map(|i| i.last_data_recv_ms).min().unwrap_or(0);
    // Progress: anything answered during the interval, or sent after the
    // youngest waiting request arrived (while every one of them already
    // waited). Sends between the oldest and the youngest are no proof: a
    // database answers a client's login, then the client's query waits on
    // the same lock as the oldest.
    let answered = list.iter().any(|s| {
        let Some(i) = s.info else { return false };
        let now = sent(&i).unwrap_or(0);
        let grew = match before(s).and_then(|b| b.info) {
            Some(bi) => now > sent(&bi).unwrap_or(0) || i.bytes_acked > bi.bytes_acked,
            // Accepted during the interval and already answered.
            None => now > 0,
        };
        grew || (now > 0 && i.last_data_sent_ms.saturating_add(PROGRESS_SLACK_MS) < youngest)
    });
    if answered || closed_during > 0 {
        return None;
    }
    let fresh: Vec<&Socket> = list.iter().copied().filter(|s| before(s).is_none()).collect();
    // New requests the server got nothing out for: read and set aside, or
    // not even read (every worker busy with an older one).
    let new_unanswered = fresh
        .iter()
        .filter(|s| {
            s.info.is_some_and(|i| i.bytes_received.unwrap_or(0) > 0 && sent(&i) == Some(0))
                && (s.recv_q > 0 || awaits_answer(s))
        })
        .count();
    let severity = if new_unanswered > 0 {
        Severity::Critical
    } else if stuck.len() * 2 > list.len() {
        Severity::Warning
    } else {
        return None;
    };
    let unread = stuck.iter().filter(|s| unread_request(s)).count();
    Some(Unanswered { stuck, unread, oldest_ms, fresh, new_unanswered, severity })
}

fn listener(ctx: &Ctx, key: Key, list: &[&Socket], closed_during: usize) -> Option<Judged> {
    let u = unanswered(ctx, list, closed_during)?;
    // The process the finding is about: the one holding most unanswered connections.
    let mut holders: Vec<(u32, usize)> = Vec::new();
    for s in &u.stuck {
        for &pid in ctx.last.owners_of(s.inode) {
            match holders.iter_mut().find(|h| h.0 == pid) {
                Some(h) => h.1 += 1,
                None => holders.push((pid, 1)),
            }
        }
    }
    holders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let (pid, held_by_pid) = *holders.first()?;
    let p = ctx.last.process(pid)?;
    let (netns, port) = key;
    let listeners: Vec<&Socket> = ctx.last.listeners().filter(|l| l.netns == netns && l.local_port == port).collect();
    let mut owners: Vec<u32> = listeners.iter().flat_map(|l| ctx.last.owners_of(l.inode).iter().copied()).collect();
    owners.sort();
    owners.dedup();
    let sum = waits::summarize(ctx, p);
    let blocked_loop = crate::facts::event_loop::blocked(ctx, p);
    // An event loop that runs and keeps these connections in its poll set
    // parks them on purpose (BLPOP, long polling), awaits what never comes,
    // or waits for the rest of requests not yet complete: the kernel cannot
    // tell which, so it is said without an alarm. Not for Go, whose
    // netpoller holds every connection whatever the goroutines do; nor for
    // a loop whose connects or files do not answer (that is the cause); nor
    // where requests sit unread: a loop that kept them would read them.
    let waits_elsewhere = sum.connecting.is_some() || sum.mount.is_some() || blocked_loop.is_some();
    let parked = !sum.go_runtime && !waits_elsewhere && u.unread == 0 && waits::live_event_loop(ctx, p, held_by_pid);
    let partial = crate::facts::partial::held(ctx, p).map_or(0, |h| h.connections);
    // Requests nobody read, and every thread at work on a lock: the
    // handlers are stuck, whatever the event loop (a JVM's dispatcher) does.
    let dominant = match sum.dominant {
        Dominant::Mixed if u.unread > 0 && sum.busy_all_lock => Dominant::Lock,
        d => d,
    };
    let severity = if parked { Severity::Info } else { u.severity };
    let ev = UnansweredRequests {
        listen: listeners.first().map(|l| endpoint(l.local, l.local_port)).unwrap_or_else(|| format!("port {port}")),
        unanswered: u.stuck.len(),
        unread: u.unread,
        oldest_wait_ms: u.oldest_ms as u64,
        answer_timeout_ms: ctx.t.answer_timeout_ms as u64,
        connections: list.len(),
        answered_since_oldest: 0,
        accepted_during_interval: u.fresh.len(),
        new_unanswered: u.new_unanswered,
        clients_gave_up: u.stuck.iter().filter(|s| s.state == TcpState::CloseWait).count(),
        waiting: waiting(ctx, &u.stuck),
        holders: holders.iter().map(|h| h.0).collect(),
        owners,
        thread_waits: sum.lines.clone(),
        upstream: sum.upstream.clone(),
        resolver: sum.resolver.clone(),
        pipe: sum.pipe.clone(),
        pool: sum.pool.clone(),
        jvm: runtime::jvm_evidence(ctx, p),
        threads_total: sum.total,
        threads: sum.samples.clone(),
        go_runtime: sum.go_runtime,
        cmdline: p.cmdline.clone(),
        event_loop_blocked: blocked_loop.map(Box::new),
        connecting: sum.connecting.clone().map(Box::new),
        mount: sum.mount.clone().map(Box::new),
    };
    let mut verdict = Verdict::new(severity, Some(pid), Some(port), netns, ev);
    verdict.waits_on = hops::of(ctx, &ctx.graph.follow(ctx, &[pid]));
    Some(Judged {
        verdict,
        dominant,
        zero_window_senders: sum.zero_window_senders,
        idle_only: sum.idle_only,
        parked,
        partial,
        held_by_pid,
        other_holders: if holders.len() > 1 { other_holders(ctx, list, &u.stuck, &holders) } else { Vec::new() },
    })
}

/// The oldest unanswered connections, as evidence.
fn waiting(ctx: &Ctx, stuck: &[&Socket]) -> Vec<WaitingRequest> {
    let mut shown = stuck.to_vec();
    shown.sort_by_key(|s| std::cmp::Reverse(s.info.map_or(0, |i| i.last_data_recv_ms)));
    shown
        .iter()
        .take(SHOWN)
        .map(|s| {
            let i = s.info.unwrap_or_default();
            WaitingRequest {
                peer: endpoint(s.remote, s.remote_port),
                state: s.state.name().into(),
                waiting_ms: i.last_data_recv_ms as u64,
                bytes_received: i.bytes_received.unwrap_or(0),
                bytes_sent: sent(&i).unwrap_or(0),
                pid: ctx.last.owners_of(s.inode).first().copied().unwrap_or(0),
                unread_bytes: if unread_request(s) { s.recv_q } else { 0 },
            }
        })
        .collect()
}

/// The listener's other connections, each its own process: on a database,
/// the session holding the lock the others wait on ("… idle in
/// transaction") is among them.
fn other_holders(ctx: &Ctx, list: &[&Socket], stuck: &[&Socket], holders: &[(u32, usize)]) -> Vec<u32> {
    let stuck_inodes: FastSet<u64> = stuck.iter().map(|w| w.inode).collect();
    let mut others: Vec<u32> = list
        .iter()
        .filter(|s| !stuck_inodes.contains(&s.inode))
        .filter_map(|s| match ctx.last.owners_of(s.inode) {
            [pid] if !holders.iter().any(|h| h.0 == *pid) => Some(*pid),
            _ => None,
        })
        .collect();
    others.sort_unstable();
    others.dedup();
    others
}

/// Whether the one process holding this connection alone ran during the
/// interval (CPU time grew, or a thread is running or in disk wait now):
/// a process-per-connection backend working on its request.
fn own_process_works(ctx: &Ctx, inode: u64) -> bool {
    let Some(first) = &ctx.first else { return false };
    let [pid] = ctx.last.owners_of(inode) else { return false };
    let Some(p) = ctx.last.process(*pid) else { return false };
    let Some(before) = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks) else { return false };
    let ticks = |q: &unwedge_model::Process| q.threads.iter().map(|t| t.utime + t.stime).sum::<u64>();
    let ran = ticks(p) > ticks(before) || p.threads.iter().any(|t| matches!(t.state, 'R' | 'D'));
    // Asked last, and stopping at a second connection: a server holding
    // thousands is asked once per connection it holds.
    ran && p.sockets.iter().filter(|f| ctx.last.state_of(f.inode) == Some(TcpState::Established)).nth(1).is_none()
}

