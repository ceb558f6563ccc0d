//! Decides which processes have work waiting untouched while none of their
//! threads ran during the interval, and which of those threads' waits say
//! something (not a sleep, a sigwait or an accept with nothing queued).

use crate::facts::index::FastSet;
use crate::facts::runtime;
use crate::facts::signals;
use crate::facts::syscalls::{Call, Class};
use crate::facts::threads;
use crate::facts::waits::{self, Summary};
use crate::{Ctx, Verdict};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use unwedge_model::evidence::{StuckThread, ThreadSummary, Work};
use unwedge_model::{Process, Severity, Socket, TcpState, Thread};

/// At most this many findings per process; the rest are listed in evidence.
const MAX_PER_PROCESS: usize = 4;
/// Other stuck threads named in each finding.
const MAX_OTHERS: usize = 8;

/// A stuck thread with its syscall decoded and its fds resolved once (a
/// pipe's holders cost a pass over every process).
pub struct Stuck<'a> {
    pub thread: &'a Thread,
    pub call: Call,
    pub fds: Vec<String>,
    /// The TCP connection among its fd arguments (not a listener): the peer it waits on.
    pub conn: Option<&'a Socket>,
    /// One of its fd arguments is a connection this process opened (its
    /// local port serves nothing): an upstream.
    pub upstream: bool,
    /// `conn` is an upstream that answered and has been silent for `--idle`
    /// since: an idle keep-alive connection, which never ends a read.
    pub idle_keepalive_upstream: bool,
}

/// One process's stuck threads, the work they keep waiting and what its
/// threads wait on: shared by the process's findings.
pub struct Stalled<'a> {
    pub p: &'a Process,
    /// Threads on a connection first, then those on any fd, then the main thread.
    pub stuck: Vec<Stuck<'a>>,
    pub waits: Summary,
}

pub struct Judged<'a> {
    pub verdict: Verdict<StuckThread>,
    pub process: Rc<Stalled<'a>>,
    /// Which of `process.stuck` the finding is about.
    pub index: usize,
}

impl<'a> Judged<'a> {
    pub fn stuck(&self) -> &Stuck<'a> {
        &self.process.stuck[self.index]
    }
}

pub fn judge<'a>(ctx: &Ctx<'a>) -> Vec<Judged<'a>> {
    let Some(first) = &ctx.first else { return Vec::new() };
    let with_work = socket_work_owners(ctx);
    let mut out = Vec::new();
    for p in &ctx.last.snap.processes {
        if p.state == 'Z' || p.threads.is_empty() {
            continue;
        }
        let Some(before) = first.process(p.pid).filter(|q| q.start_ticks == p.start_ticks) else { continue };
        let jvm = runtime::is_jvm(p);
        let arch = ctx.snap().arch.as_str();
        let unchanged = |i: usize, t: &Thread| {
            // A JVM's own threads wake on their timers whatever the service
            // does; its other threads may wake without working.
            if jvm && runtime::runtime_thread(p, t) {
                return true;
            }
            // /proc lists a process's threads in the same order both times:
            // look at the same index first (no quadratic search on a
            // 2,000-thread JVM).
            let same_slot = before.threads.get(i).filter(|b| b.tid == t.tid);
            same_slot.or_else(|| before.threads.iter().find(|b| b.tid == t.tid)).is_some_and(|tb| {
                waits::slept_through(tb, t) || (jvm && runtime::idle_in_place(arch, tb, t))
            })
        };
        // A thread that ran is the one doing the work (a busy event loop
        // whose helper threads idle in futex): the process is not stuck.
        if !p.threads.iter().enumerate().all(|(i, t)| unchanged(i, t)) {
            continue;
        }
        let work = waiting_work(ctx, p, before, with_work.contains(&p.pid));
        if work.is_empty() {
            continue;
        }
        let stuck = stuck_threads(ctx, p, before);
        if stuck.is_empty() {
            continue;
        }
        let process = Rc::new(Stalled { p, stuck, waits: waits::summarize(ctx, p) });
        // A JVM's threads are told by name in one finding (its parked pool
        // would fill the report otherwise).
        let max = if jvm { 1 } else { MAX_PER_PROCESS };
        out.extend((0..process.stuck.len().min(max)).map(|i| judged(ctx, &process, i, &work)));
    }
    out
}

/// Every thread is unchanged here; keep those whose wait says something,
/// the most telling first.
fn stuck_threads<'a>(ctx: &Ctx<'a>, p: &'a Process, before: &Process) -> Vec<Stuck<'a>> {
    let arch = ctx.last.snap.arch.as_str();
    let jvm = runtime::is_jvm(p);
    // An event loop that woke during the interval (a JVM's dispatcher
    // times its epoll_wait out every second) is alive, not stuck.
    let woke = |t: &Thread| before.threads.iter().find(|b| b.tid == t.tid).is_none_or(|b| b.ctxt_switches != t.ctxt_switches);
    let mut stuck: Vec<Stuck> = p
        .threads
        .iter()
        .filter(|t| !runtime::runtime_thread(p, t))
        .filter_map(|t| {
            let call = Call::of(arch, t)?;
            // Sigwait threads wait by design; a sleeping thread chose to sleep; a
            // thread in accept on a listener with nothing queued is ready for work
            // that has not come (the CLOSE-WAIT sockets are its handlers' business).
            let by_design = matches!(call.class, Class::SigWait | Class::Sleep)
                || (call.class == Class::Accept && idle_listener(ctx, p, call.arg(0)))
                || (jvm && call.class.polls() && woke(t));
            if by_design {
                return None;
            }
            let fds = threads::fd_meanings(&ctx.last, p, t, &call);
            let conn = threads::waited_connection(&ctx.last, p, &call);
            let upstream =
                call.fd_numbers().any(|fd| ctx.last.socket_of_fd(p, fd).is_some_and(|s| ctx.last.is_outbound(s)));
            let idle_keepalive_upstream = conn.is_some_and(|c| {
                let answered = c.info.and_then(|i| i.bytes_received).is_some_and(|b| b > 0);
                let idle = c.info.is_some_and(|i| i.last_data_recv_ms >= ctx.t.idle_ms);
                ctx.last.is_outbound(c) && answered && idle
            });
            Some(Stuck { thread: t, call, fds, conn, upstream, idle_keepalive_upstream })
        })
        .collect();
    // Threads on a connection tell most (and survive the second pass when
    // other findings explain the work), then those on any fd, then the main thread.
    // A JVM's deadlocked threads first, when it said so (`--stacks attach`);
    // then its largest pool of like-named threads (handler-1, handler-2…):
    // its main thread and timers wait by design.
    let deadlocked = runtime::deadlocked_tids(p);
    let pool = |t: &Thread| if jvm { usize::MAX - same_stem(p, &t.comm) } else { 0 };
    stuck.sort_by_key(|s| {
        let in_cycle = deadlocked.iter().position(|&t| t == s.thread.tid).unwrap_or(usize::MAX);
        (in_cycle, s.conn.is_none(), s.fds.is_empty(), pool(s.thread), s.thread.tid != p.pid, s.thread.tid)
    });
    stuck
}

/// Threads of `p` named as `comm` is but for a trailing number: a pool.
fn same_stem(p: &Process, comm: &str) -> usize {
    let stem = |c: &str| c.trim_end_matches(|ch: char| ch.is_ascii_digit()).len();
    let n = stem(comm);
    if n == comm.len() {
        return 1;
    }
    p.threads.iter().filter(|t| stem(&t.comm) == n && t.comm.len() > n && t.comm.get(..n) == comm.get(..n)).count()
}

fn summary(p: &Process, s: &Stuck) -> ThreadSummary {
    threads::summary(p, s.thread, s.call.name.clone(), s.fds.clone())
}

fn judged<'a>(ctx: &Ctx, process: &Rc<Stalled<'a>>, i: usize, work: &[Work]) -> Judged<'a> {
    let (p, st) = (process.p, &process.stuck[i]);
    // A pool of 200 idle workers would drown the evidence: name the first few.
    let others: Vec<ThreadSummary> = process
        .stuck
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, s)| summary(p, s))
        .take(MAX_OTHERS)
        .collect();
    let w = &process.waits;
    let ev = StuckThread {
        thread: threads::evidence(&ctx.last, p, st.thread),
        unchanged_for_ms: ctx.interval_ms,
        work: work.to_vec(),
        stuck_threads_in_process: process.stuck.len(),
        other_stuck_threads: others,
        cmdline: p.cmdline.clone(),
        on_connection: st.conn.is_some(),
        // What most threads wait on, in one line (an upstream, a DNS lookup, a full pipe).
        waits_on: w
            .upstream
            .clone()
            .or_else(|| w.resolver.clone())
            .or_else(|| w.pipe.clone())
            .or_else(|| w.pool.clone()),
        jvm: runtime::jvm_evidence(ctx, p),
    };
    let port = served_port(ctx, p, &st.call.fds().collect::<Vec<_>>());
    let mut verdict = Verdict::new(Severity::Warning, Some(p.pid), port, p.netns, ev);
    verdict.tid = Some(st.thread.tid);
    Judged { verdict, process: Rc::clone(process), index: i }
}

/// The local port the finding concerns: that of the thread's own socket when
/// it is a served port (something listens on it), else the process's first
/// served port with work waiting, so `--port` finds it.
fn served_port(ctx: &Ctx, p: &Process, fds: &[u64]) -> Option<u16> {
    let port_of =
        |fd: &unwedge_model::SocketFd| ctx.last.socket(fd.inode).filter(|s| ctx.last.is_served(s)).map(|s| s.local_port);
    p.sockets.iter().filter(|s| fds.contains(&(s.fd as u64))).find_map(port_of).or_else(|| {
        p.sockets.iter().filter_map(|fd| ctx.last.socket(fd.inode).map(|s| (fd, s))).find_map(|(fd, s)| {
            let busy = match s.state {
                TcpState::Listen => !ctx.last.queued_for(s).is_empty(),
                TcpState::CloseWait => true,
                _ => s.recv_q > 0,
            };
            if busy {
                port_of(fd)
            } else {
                None
            }
        })
    })
}

/// fd `fd` of `p` is a listener with an empty accept queue.
fn idle_listener(ctx: &Ctx, p: &Process, fd: u64) -> bool {
    p.sockets
        .iter()
        .find(|s| s.fd as u64 == fd)
        .and_then(|s| ctx.last.socket(s.inode))
        .is_some_and(|l| l.state == TcpState::Listen && ctx.last.queued_for(l).is_empty())
}

/// Work that waited, untouched, in both snapshots: what a stuck thread is
/// keeping from being done. Only server-side sockets (on a port something
/// listens on) count: a client's pooled connection may sit in CLOSE-WAIT, or
/// hold a GOAWAY it reads on next use, for as long as the pool likes.
fn waiting_work(ctx: &Ctx, p: &Process, before: &Process, has_socket_work: bool) -> Vec<Work> {
    let first = ctx.first.as_ref().expect("two snapshots");
    let mut work = Vec::new();
    let mut close_wait = 0;
    let sockets = if has_socket_work { p.sockets.as_slice() } else { &[] };
    for fd in sockets {
        let (Some(now), Some(then)) = (ctx.last.socket(fd.inode), first.socket(fd.inode)) else {
            continue;
        };
        if !first.owners_of(fd.inode).contains(&before.pid) {
            continue;
        }
        match now.state {
            TcpState::Listen => {
                // Connections queued in both snapshots, not merely a queue that is never empty.
                let old: HashSet<(IpAddr, u16)> =
                    first.queued_for(then).iter().map(|c| (c.remote, c.remote_port)).collect();
                let waiting =
                    ctx.last.queued_for(now).iter().filter(|c| old.contains(&(c.remote, c.remote_port))).count();
                if waiting > 0 {
                    work.push(Work::AcceptQueue { waiting, listen: SocketAddr::new(now.local, now.local_port) });
                }
            }
            _ if !ctx.last.is_served(now) => {}
            TcpState::CloseWait if then.state == TcpState::CloseWait => close_wait += 1,
            // Same byte count both times: nobody read from it during the interval.
            TcpState::Established if now.recv_q > 0 && then.recv_q == now.recv_q => work.push(Work::UnreadBytes {
                bytes: now.recv_q,
                fd: fd.fd,
                local: SocketAddr::new(now.local, now.local_port),
                remote: SocketAddr::new(now.remote, now.remote_port),
            }),
            _ => {}
        }
    }
    if close_wait > 0 {
        work.push(Work::CloseWait { sockets: close_wait });
    }
    let pending = |q: &Process| {
        q.threads.iter().filter_map(|t| t.signals).fold(0u64, |a, m| a | ((m.pending | m.shared_pending) & !m.ignored))
    };
    let sigs = pending(p) & pending(before) & !signals::bit(signals::SIGCHLD);
    if sigs != 0 {
        // Never explained by another finding: the thread's wait is blocked_signal's hang itself.
        work.push(Work::PendingSignal { signals: signals::names(sigs) });
    }
    work
}

/// Pids holding a socket that may be waiting work (a listener with a queue,
/// a served socket in CLOSE-WAIT or with unread bytes): found from the
/// sockets, so that the per-fd checks run only for the few processes that
/// can have any (analysis of a 100k-socket host stays within its budget).
fn socket_work_owners(ctx: &Ctx) -> FastSet<u32> {
    let mut pids = FastSet::default();
    for s in &ctx.snap().sockets {
        let maybe = match s.state {
            TcpState::Listen => s.recv_q > 0,
            TcpState::CloseWait => true,
            TcpState::Established => s.recv_q > 0,
            _ => false,
        };
        if maybe && s.inode != 0 && (s.state == TcpState::Listen || ctx.last.is_served(s)) {
            pids.extend(ctx.last.owners_of(s.inode).iter().copied());
        }
    }
    pids
}
