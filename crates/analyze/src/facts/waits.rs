//! What the threads of one process wait on, in a few lines: a lock (futex),
//! an event loop, an upstream that does not answer, a DNS lookup, a full
//! pipe and who reads it, a peer that stopped reading. Shared by
//! `unanswered_requests` and `stuck_thread`, which say in one line what
//! most threads wait on ("7 of 8 worker threads wait on 127.0.0.1:5432
//! (idle 30.0 s)") instead of listing 200 identical threads.
//!
//! Kernel facts: the syscall and its arguments (/proc/PID/task/TID/syscall),
//! each fd argument resolved through /proc/PID/fd (a TCP socket from
//! sock_diag, a connected UDP socket to port 53 from the UDP dump, a pipe
//! and, from the mode of its /proc link, which end it is), tcp_info idle
//! times and byte counters, and the same thread in the first snapshot (a
//! wait that lasted the whole interval: same syscall, same arguments, no
//! context switch). An outbound connection is one whose local port nothing
//! listens on. A thread parked in poll or epoll cannot be tied to an fd from
//! outside; for those (and for Go, whose threads never block in a read) the
//! process's outbound connections that sent a request and got nothing back
//! stand in.

use crate::facts::index::{endpoint, Index};
use crate::facts::syscalls::{Call, Class};
use crate::facts::{pool, runtime, threads};
use crate::Ctx;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use unwedge_model::evidence::{PipeReader, ThreadSummary, ThreadsWait};
use unwedge_model::{Process, Socket, TcpState, Thread};

/// A connection an outbound request waited on at least this long counts.
const UPSTREAM_MIN_MS: u32 = 1000;
/// A DNS query unanswered this long is a resolver stall.
const DNS_MIN_MS: u64 = 1000;
/// Threads named in a finding.
const SAMPLES: usize = 8;

/// What one thread waits in.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    /// futex: a lock, condition variable or thread join.
    Lock,
    /// Sleeping or waiting for a signal on purpose (nanosleep, sigwait, pause).
    Idle,
    /// epoll, poll, select: an event loop, or fds we cannot see.
    Poll,
    Accept,
    /// Reading an outbound TCP connection: waiting on an upstream.
    Upstream {
        netns: u64,
        ip: IpAddr,
        port: u16,
        idle_ms: u32,
    },
    /// Reading a served connection: waiting for its client.
    Client,
    /// Waiting on a connected UDP socket to port 53 (or in poll while holding one).
    Dns {
        server: String,
    },
    /// Writing a pipe.
    PipeWrite {
        inode: u64,
    },
    /// Sending on a TCP connection; `zero_window`: the peer advertises none.
    Send {
        zero_window: bool,
    },
    Running,
    /// Anything else, by syscall name.
    Other,
}

pub struct ThreadWait<'a> {
    pub thread: &'a Thread,
    pub syscall: Option<String>,
    pub fds: Vec<String>,
    pub wait: Wait,
    /// Same syscall and arguments, no CPU and no context switch since the first snapshot.
    pub whole_interval: bool,
}

/// The process's threads and what they wait on, summarised.
#[derive(Default)]
pub struct Summary {
    pub total: usize,
    /// One line per kind of wait, most threads first ("6 in futex (a futex
    /// wait: …)"): the evidence's `thread_waits`.
    pub lines: Vec<String>,
    /// The upstream most threads wait on.
    pub upstream: Option<ThreadsWait>,
    /// A DNS lookup in flight the whole interval.
    pub resolver: Option<ThreadsWait>,
    /// Threads blocked writing a full pipe.
    pub pipe: Option<ThreadsWait>,
    /// Every thread at work on a lock while the connections to an upstream idle (`pool.rs`).
    pub pool: Option<ThreadsWait>,
    pub samples: Vec<ThreadSummary>,
    pub dominant: Dominant,
    /// Threads blocked sending on a zero window.
    pub zero_window_senders: usize,
    pub go_runtime: bool,
    /// Every thread idles: in accept, an event loop, a sleep or a signal wait.
    pub idle_only: bool,
    /// Every thread not idling waits in futex, whether or not an event loop polls.
    pub busy_all_lock: bool,
}

/// What most of the threads wait on.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dominant {
    Upstream,
    Pipe,
    Dns,
    ZeroWindow,
    /// Every thread at work waits on a lock while the process's
    /// connections to an upstream sit idle: a pool that lent them out.
    Pool,
    /// Every thread that is not idling in an event loop or accept waits in futex.
    Lock,
    #[default]
    Mixed,
}

/// The thread did not run between the two snapshots and sits in the same
/// call (a JVM's thread may have woken without working: `runtime::idle_in_place`).
pub fn unchanged(ctx: &Ctx, p: &Process, t: &Thread) -> bool {
    let Some(first) = &ctx.first else { return false };
    let Some(before) = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks) else { return false };
    let jvm = runtime::is_jvm(p);
    before
        .threads
        .iter()
        .find(|b| b.tid == t.tid)
        .is_some_and(|tb| slept_through(tb, t) || (jvm && runtime::idle_in_place(ctx.snap().arch.as_str(), tb, t)))
}

/// The same thread in both snapshots (`before`, `now`) slept the whole
/// interval: asleep both times, no CPU time, no context switch, in the
/// same syscall.
pub fn slept_through(before: &Thread, now: &Thread) -> bool {
    let asleep = |x: &Thread| matches!(x.state, 'S' | 'D');
    asleep(now)
        && asleep(before)
        && now.utime + now.stime == before.utime + before.stime
        && now.ctxt_switches == before.ctxt_switches
        && now.syscall.is_some()
        && now.syscall == before.syscall
}

/// An event loop that ran during the interval: a thread sleeping in
/// epoll_wait now (or in poll on at least `fds` fds, so the set can hold
/// the connections) that woke up between the snapshots. It keeps its
/// connections in its poll set and chose not to answer them.
pub fn live_event_loop(ctx: &Ctx, p: &Process, fds: usize) -> bool {
    let Some(first) = &ctx.first else { return false };
    let Some(before) = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks) else { return false };
    let arch = ctx.snap().arch.as_str();
    p.threads.iter().any(|t| {
        let polls = match Call::of(arch, t) {
            Some(call) if call.class == Class::EventLoop => true,
            Some(call) if call.class == Class::Poll => call.arg(1) as usize >= fds,
            _ => false,
        };
        polls
            && before
                .threads
                .iter()
                .find(|b| b.tid == t.tid)
                .is_some_and(|b| b.ctxt_switches != t.ctxt_switches || b.utime + b.stime != t.utime + t.stime)
    })
}

/// The Go runtime installs a handler for every signal, SIGURG (goroutine
/// preemption) included; C, Python and Java programs catch a handful.
pub fn is_go(p: &Process) -> bool {
    const SIGURG: u32 = 23;
    p.threads
        .first()
        .and_then(|t| t.signals)
        .is_some_and(|m| m.caught & crate::facts::signals::bit(SIGURG) != 0 && m.caught.count_ones() >= 30)
}

/// The connected UDP sockets to port 53 of the process's namespace, by inode.
fn dns_server(idx: &Index, p: &Process, inode: u64) -> Option<String> {
    let ns = p.netns;
    idx.snap
        .netns
        .iter()
        .filter(|n| n.inode == ns || ns == 0)
        .flat_map(|n| n.dns_sockets.iter())
        .find(|d| d.inode == inode)
        .map(|d| endpoint(d.remote, d.remote_port))
}

/// The DNS server a process has a query socket open to, if any.
fn held_dns(idx: &Index, p: &Process) -> Option<(u64, String)> {
    p.sockets.iter().find_map(|s| dns_server(idx, p, s.inode).map(|srv| (s.inode, srv)))
}

fn classify_one<'a>(ctx: &Ctx, p: &Process, t: &'a Thread) -> ThreadWait<'a> {
    let idx = &ctx.last;
    let arch = idx.snap.arch.as_str();
    let whole_interval = unchanged(ctx, p, t);
    let Some(call) = Call::of(arch, t) else {
        let wait = if t.state == 'R' { Wait::Running } else { Wait::Other };
        return ThreadWait { thread: t, syscall: None, fds: Vec::new(), wait, whole_interval };
    };
    let fds = threads::fd_meanings(idx, p, t, &call);
    let fd0 = u32::try_from(call.arg(0)).ok();
    let sock = fd0.and_then(|fd| idx.socket_of_fd(p, fd));
    let udp_dns = fd0.and_then(|fd| p.sockets.iter().find(|s| s.fd == fd)).and_then(|s| dns_server(idx, p, s.inode));
    let pipe = fd0.and_then(|fd| p.pipes.iter().find(|q| q.fd == fd));
    let wait = match call.class {
        Class::Futex => Wait::Lock,
        Class::Accept => Wait::Accept,
        Class::Sleep | Class::SigWait | Class::SigSuspend => Wait::Idle,
        c if (c.reads() || c == Class::Send) && udp_dns.is_some() => Wait::Dns { server: udp_dns.unwrap_or_default() },
        Class::Poll | Class::Select if held_dns(idx, p).is_some() => {
            Wait::Dns { server: held_dns(idx, p).map(|d| d.1).unwrap_or_default() }
        }
        c if c.polls() => Wait::Poll,
        c if c.reads() => match sock {
            Some(s) if idx.is_outbound(s) => Wait::Upstream {
                netns: s.netns,
                ip: s.remote,
                port: s.remote_port,
                idle_ms: s.info.map(|i| i.last_data_recv_ms.min(i.last_data_sent_ms)).unwrap_or(0),
            },
            Some(_) => Wait::Client,
            None => Wait::Other,
        },
        Class::Send => match (sock, pipe) {
            (Some(s), _) => Wait::Send { zero_window: zero_window(s) },
            (None, Some(q)) => Wait::PipeWrite { inode: q.inode },
            _ => Wait::Other,
        },
        _ => Wait::Other,
    };
    ThreadWait { thread: t, syscall: Some(call.name), fds, wait, whole_interval }
}

/// The peer advertises a zero receive window and data waits to be sent.
pub fn zero_window(s: &Socket) -> bool {
    s.send_q > 0
        && s.info.is_some_and(|i| match i.snd_wnd {
            Some(w) => w == 0,
            // Before Linux 5.4 there is no snd_wnd: unanswered zero-window probes say it.
            None => i.probes > 0 && i.retransmits == 0,
        })
}

/// What each thread waits in; a JVM's own threads (`runtime`) are left out.
pub fn classify<'a>(ctx: &Ctx, p: &'a Process) -> Vec<ThreadWait<'a>> {
    p.threads.iter().filter(|t| !runtime::runtime_thread(p, t)).map(|t| classify_one(ctx, p, t)).collect()
}

/// Who holds the read end of pipe `inode` (other than the writer `p` itself when it also does).
fn pipe_readers<'a>(idx: &Index<'a>, inode: u64) -> Vec<&'a Process> {
    idx.snap.processes.iter().filter(|q| q.pipes.iter().any(|f| f.inode == inode && f.writes != Some(true))).collect()
}

pub fn summarize(ctx: &Ctx, p: &Process) -> Summary {
    let waits = classify(ctx, p);
    let mut sum = Summary { total: waits.len(), go_runtime: is_go(p), ..Default::default() };
    if waits.is_empty() {
        return sum;
    }
    sum.lines = lines(&waits);
    // Threads reading an outbound connection, whether or not most do.
    let reads_upstream = waits.iter().any(|w| matches!(w.wait, Wait::Upstream { .. }));
    sum.upstream = upstream(p, &waits).or_else(|| unanswered_outbound(ctx, p));
    // A DNS lookup in flight for over a second.
    if let Some(w) = waits.iter().find(|w| matches!(w.wait, Wait::Dns { .. }) && w.whole_interval) {
        if let (true, Wait::Dns { server }) = (ctx.interval_ms >= DNS_MIN_MS, &w.wait) {
            let conf = p.resolv_conf.as_ref().or(ctx.snap().resolv_conf.as_ref()).cloned();
            let (tid, comm) = (w.thread.tid, w.thread.comm.clone());
            sum.resolver =
                Some(ThreadsWait::Resolver { tid, comm, waited_ms: ctx.interval_ms, server: server.clone(), conf });
        }
    }
    sum.pipe = full_pipe(ctx, p, &waits);
    sum.zero_window_senders = waits.iter().filter(|w| w.wait == Wait::Send { zero_window: true }).count();
    let busy: Vec<&ThreadWait> =
        waits.iter().filter(|w| !matches!(w.wait, Wait::Poll | Wait::Accept | Wait::Idle)).collect();
    // "Every thread waits on a lock" only when no thread idles in an event
    // loop either: Redis's helper threads sit in futex while its loop polls.
    // A handler just started (running, or reading its client's request) is
    // not part of the picture: new connections keep arriving at a hung server.
    sum.busy_all_lock = busy.iter().any(|w| w.wait == Wait::Lock)
        && busy.iter().all(|w| matches!(w.wait, Wait::Lock | Wait::Client | Wait::Running));
    let locked = sum.busy_all_lock && !waits.iter().any(|w| w.wait == Wait::Poll);
    sum.idle_only = busy.is_empty();
    sum.pool = pool::idle_pool(ctx, p, &waits, sum.go_runtime);
    sum.dominant = if sum.pipe.is_some() {
        Dominant::Pipe
    } else if sum.resolver.is_some() {
        Dominant::Dns
    } else if sum.upstream.is_some() && reads_upstream {
        Dominant::Upstream
    } else if sum.zero_window_senders > 0 {
        Dominant::ZeroWindow
    } else if sum.pool.is_some() {
        Dominant::Pool
    } else if locked {
        Dominant::Lock
    } else if sum.upstream.is_some() {
        Dominant::Upstream
    } else {
        Dominant::Mixed
    };
    sum.samples = samples(p, &waits);
    sum
}

/// One line per kind of wait, most threads first.
fn lines(waits: &[ThreadWait]) -> Vec<String> {
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for w in waits {
        let key = match (&w.wait, w.syscall.as_deref()) {
            (Wait::Running, _) => "running".to_string(),
            (Wait::Upstream { ip, port, .. }, Some(n)) => {
                format!("{n} on an upstream connection to {}", endpoint(*ip, *port))
            }
            (Wait::Dns { server }, Some(n)) => format!("{n} on a DNS query to {server}"),
            (Wait::PipeWrite { inode }, Some(n)) => format!("{n} on pipe:[{inode}] (writing)"),
            (Wait::Send { zero_window: true }, Some(n)) => format!("{n} to a peer whose receive window is zero"),
            (Wait::Client, Some(n)) => format!("{n} on a client connection (waiting for the client)"),
            (_, Some(n)) => format!("{n} ({})", Class::of(n).meaning()),
            (_, None) => "not in a syscall".to_string(),
        };
        *groups.entry(key).or_default() += 1;
    }
    let mut lines: Vec<(usize, String)> = groups.into_iter().map(|(k, n)| (n, k)).collect();
    lines.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    lines.into_iter().map(|(n, k)| format!("{n} in {k}")).collect()
}

/// Most threads reading one outbound connection, idle for at least a second.
fn upstream(p: &Process, waits: &[ThreadWait]) -> Option<ThreadsWait> {
    let mut by_peer: BTreeMap<(u64, IpAddr, u16), (usize, u32, bool)> = BTreeMap::new();
    for w in waits {
        if let Wait::Upstream { netns, ip, port, idle_ms } = w.wait {
            let e = by_peer.entry((netns, ip, port)).or_insert((0, u32::MAX, false));
            e.0 += 1;
            e.1 = e.1.min(idle_ms);
            e.2 |= w.thread.tid == p.pid;
        }
    }
    let (&(netns, ip, port), &(n, idle, main)) = by_peer.iter().max_by_key(|(_, v)| v.0)?;
    // The main thread of a worker pool accepts; "of N worker threads" leaves it out.
    let (of, worker_threads) = if main || waits.len() == 1 { (waits.len(), false) } else { (waits.len() - 1, true) };
    (n * 2 > of && idle >= UPSTREAM_MIN_MS).then(|| ThreadsWait::Upstream {
        threads: n,
        of,
        worker_threads,
        netns,
        peer: SocketAddr::new(ip, port),
        idle_ms: idle,
    })
}

/// Threads blocked writing a pipe for the whole interval: the pipe is full.
fn full_pipe(ctx: &Ctx, p: &Process, waits: &[ThreadWait]) -> Option<ThreadsWait> {
    let mut pipes: BTreeMap<u64, usize> = BTreeMap::new();
    for w in waits {
        if let (Wait::PipeWrite { inode }, true) = (&w.wait, w.whole_interval) {
            *pipes.entry(*inode).or_default() += 1;
        }
    }
    let (&inode, &threads) = pipes.iter().max_by_key(|(_, n)| **n)?;
    let readers = pipe_readers(&ctx.last, inode)
        .into_iter()
        .filter(|r| r.pid != p.pid)
        .map(|r| PipeReader { pid: r.pid, comm: r.comm.clone(), state: r.state })
        .collect();
    Some(ThreadsWait::Pipe { threads, inode, readers })
}

/// A few threads, the most telling first: on a peer, a pipe or DNS, then
/// locks, then the rest.
fn samples(p: &Process, waits: &[ThreadWait]) -> Vec<ThreadSummary> {
    let rank = |w: &ThreadWait| match w.wait {
        Wait::Upstream { .. } | Wait::PipeWrite { .. } | Wait::Dns { .. } | Wait::Send { .. } => 0,
        Wait::Lock => 1,
        Wait::Client | Wait::Other => 2,
        Wait::Accept | Wait::Poll | Wait::Idle => 3,
        Wait::Running => 4,
    };
    // A JVM's deadlocked threads (its own verdict, `--stacks attach`) tell most.
    let deadlocked = runtime::deadlocked_tids(p);
    let mut order: Vec<&ThreadWait> = waits.iter().collect();
    // A JVM's main thread (named as the launcher) waits by design: last.
    let main = |w: &ThreadWait| runtime::is_jvm(p) && w.thread.comm == p.comm;
    order.sort_by_key(|w| (!deadlocked.contains(&w.thread.tid), rank(w), main(w), w.thread.tid));
    let mut samples: Vec<ThreadSummary> = order
        .into_iter()
        .take(SAMPLES)
        .map(|w| {
            let running = if w.thread.state == 'R' { "running" } else { "-" };
            let syscall = w.syscall.clone().unwrap_or_else(|| running.into());
            threads::summary(p, w.thread, syscall, w.fds.clone())
        })
        .collect();
    // A Go process's goroutines (read once, on whichever thread a finding
    // reported first) go with the first sample: they name what its
    // scheduler threads do not.
    if let (Some(first), Some(with)) = (
        samples.first_mut(),
        p.threads
            .iter()
            .find_map(|t| t.user_stack.as_ref().filter(|u| u.goroutines.is_some() || u.goroutines_note.is_some())),
    ) {
        first.goroutines = with.goroutines.clone().filter(|g| !g.is_empty());
        first.goroutines_note = with.goroutines_note.clone();
    }
    // So do a Python process's thread groups.
    if let (Some(first), Some(py)) = (samples.first_mut(), runtime::python_threads(p)) {
        first.python_threads = Some(py.clone());
    }
    samples
}

/// For threads we cannot tie to an fd (Go parks its threads in futex and
/// epoll; libpq waits in poll): the process's outbound connections that sent
/// a request, had it acknowledged, and got nothing back for over a second,
/// when most of them go to one peer.
fn unanswered_outbound(ctx: &Ctx, p: &Process) -> Option<ThreadsWait> {
    let idx = &ctx.last;
    let mut by_peer: BTreeMap<(u64, IpAddr, u16), (usize, u32)> = BTreeMap::new();
    let mut outbound_total = 0;
    for fd in &p.sockets {
        let Some(s) = idx.socket(fd.inode) else { continue };
        if s.state != TcpState::Established || !idx.is_outbound(s) {
            continue;
        }
        outbound_total += 1;
        let Some(i) = s.info else { continue };
        let (Some(acked), Some(rcvd)) = (i.bytes_acked, i.bytes_received) else { continue };
        // We spoke last (strictly: a tie on loopback is no proof), everything was acknowledged, nothing came back.
        let spoke_last = acked > 0 && (rcvd == 0 || i.last_data_sent_ms < i.last_data_recv_ms);
        if spoke_last && s.send_q == 0 && s.recv_q == 0 && i.last_data_sent_ms >= UPSTREAM_MIN_MS {
            let e = by_peer.entry((s.netns, s.remote, s.remote_port)).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.max(i.last_data_sent_ms);
        }
    }
    let (&(netns, ip, port), &(n, oldest)) = by_peer.iter().max_by_key(|(_, v)| v.0)?;
    (n * 2 > outbound_total.max(1) || n >= 2).then(|| ThreadsWait::UnansweredUpstream {
        connections: n,
        outbound: outbound_total,
        netns,
        peer: SocketAddr::new(ip, port),
        oldest_ms: oldest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::index::Index;
    use crate::Thresholds;
    use unwedge_model::{NetNs, ResolvConf, Snapshot, SocketFd, UdpSocket};

    /// A process whose only thread sits in poll(fds, 1, 5000) while it holds a
    /// UDP socket connected to 10.0.0.2:53: glibc's resolver waiting for an answer.
    fn resolver_snapshot(taken_at_ms: u64) -> Snapshot {
        let t = Thread {
            tid: 50,
            comm: "app".into(),
            state: 'S',
            ctxt_switches: Some(3),
            syscall: Some("7 0x7ffd1000 0x1 0x1388 0x0 0x0 0x0 0x7ffd0ff0 0x7f0000001234".into()),
            ..Default::default()
        };
        let p = Process {
            pid: 50,
            comm: "app".into(),
            netns: 1,
            sockets: vec![SocketFd { fd: 5, inode: 77 }],
            threads: vec![t],
            ..Default::default()
        };
        let dns = UdpSocket {
            local: "10.0.0.9".parse().unwrap(),
            local_port: 40000,
            remote: "10.0.0.2".parse().unwrap(),
            remote_port: 53,
            inode: 77,
            recv_q: 0,
        };
        Snapshot {
            taken_at_ms,
            arch: "x86_64".into(),
            host_netns: 1,
            netns: vec![NetNs { inode: 1, dns_sockets: vec![dns], ..Default::default() }],
            processes: vec![p],
            resolv_conf: Some(ResolvConf {
                nameservers: vec!["10.0.0.2".into()],
                timeout_s: 5,
                attempts: 2,
                rotate: false,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_dns_query_unanswered_for_the_interval_names_the_resolver() {
        let (a, b) = (resolver_snapshot(0), resolver_snapshot(1500));
        let t = Thresholds::default();
        let ctx = Ctx { last: Index::new(&b), first: Some(Index::new(&a)), t: &t, interval_ms: 1500 };
        let sum = summarize(&ctx, &b.processes[0]);
        let line = sum.resolver.expect("a resolver stall").to_string();
        assert!(line.contains("thread 50 (app) has waited over 1.5 s for a DNS answer from 10.0.0.2:53"), "{line}");
        assert!(
            line.contains("nameserver 10.0.0.2, timeout 5 s, attempts 2: one lookup can take up to 10 s"),
            "{line}"
        );
        assert_eq!(sum.dominant, Dominant::Dns);
        // The thread woke up in between (a new attempt): not a stall of the whole interval.
        let mut c = resolver_snapshot(1500);
        c.processes[0].threads[0].ctxt_switches = Some(4);
        let ctx = Ctx { last: Index::new(&c), first: Some(Index::new(&a)), t: &t, interval_ms: 1500 };
        assert!(summarize(&ctx, &c.processes[0]).resolver.is_none());
    }
}
