//! A wait followed across processes to its end: a finding's `waits_on`,
//! hop by hop from the processes it is about to what they all wait on in
//! the end (docs/contract.md: "Wait chains"). The analysis builds it from
//! the kernel's facts (crates/analyze/src/facts/graph); every renderer
//! spells it with [`line`], so the path reads the same everywhere.

use crate::fmt::measured_ms;
use serde::{Deserialize, Serialize};

/// One step of a chain: who waits, on what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hop {
    /// The processes that wait: one, or a pool of sibling workers.
    pub pids: Vec<u32>,
    /// Their name (`comm`).
    pub comm: String,
    /// How many of `pids` wait on `on` (the others wait on something else,
    /// or nothing).
    pub waiting: usize,
    /// What they wait on.
    pub on: Target,
    /// How long, where the kernel shows it: since their request was sent
    /// on the connection, or at least the interval for a wait seen the
    /// same in both snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
}

/// What a hop waits on: its `type`, and the keys that type has (the
/// others are absent). Three types lead to other processes of this host
/// (`tcp`, `unix`, `pipe`: the next hop is about `pids`); the others end
/// the chain.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: TargetKind,
    /// `tcp`: the address waited on; `remote`, `idle_upstream`: the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// `unix`: the listener's path, `@name` for an abstract one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `pipe`: its inode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// `tcp`, `unix`, `pipe`: the processes waited on (holding the other
    /// ends, or accepting on the listener where the connections wait):
    /// the next hop's `pids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// Connections (or pipes) waited on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    /// Of those, connections still waiting in the listener's accept queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued: Option<usize>,
    /// The listener's queue, when connections wait in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<Queue>,
    /// The processes waited on are already on the path: the waits form a
    /// cycle across processes (a cross-process deadlock), and the chain
    /// ends here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cycle: bool,
    /// `lock`, `sleep`, `cpu`: threads waiting so, of `of`;
    /// `peers_not_reading`, `idle_upstream`: threads blocked so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<usize>,
    /// `sleep`: the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// `dns`: the nameserver queried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `stopped`: the state letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `fd_limit`: fds open, and the soft limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_fds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit: Option<u64>,
    /// `mount`: the filesystem type (`fuse.sshfs`, `nfs4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_type: Option<String>,
    /// `unknown`: in words, what the threads sit in ("1 in epoll_wait (…)").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<String>,
}

/// The kinds of wait a hop can end in, or lead on through.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Local processes at the other ends of TCP connections (this host, any
    /// network namespace), or accepting on the listener they wait in.
    Tcp,
    /// The same over unix sockets.
    Unix,
    /// The processes that read a full pipe.
    Pipe,
    /// A peer on another host: the chain leaves this one there.
    Remote,
    /// Threads in futex (a lock, condition variable or join) whose holder
    /// the kernel does not name.
    Lock,
    /// Threads asleep on purpose (nanosleep, clock_nanosleep).
    Sleep,
    /// A DNS query in flight.
    Dns,
    /// Threads running or waiting for a CPU.
    Cpu,
    /// The process is stopped (T, t; D when frozen).
    Stopped,
    /// At its file-descriptor limit: accept() and every new fd fail (EMFILE).
    FdLimit,
    /// Threads reading an upstream connection whose peer answered and owes
    /// nothing: an idle keep-alive connection read for an end that never comes.
    IdleUpstream,
    /// Threads blocked sending to peers that stopped reading (zero window).
    PeersNotReading,
    /// Connects to `peer` that get no answer: SYN-SENT, the SYN retransmitted
    /// (see `connect_unanswered`).
    Connecting,
    /// Threads blocked on files of a FUSE or network mount (`path`: its
    /// mount point) whose daemon or server does not answer (see
    /// `mount_unresponsive`).
    Mount,
    /// Nothing the kernel shows: an event loop, a wait on shared memory.
    #[default]
    Unknown,
}

/// A listener's accept queue.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Queue {
    /// Connections waiting to be accepted.
    pub queued: u32,
    /// Its limit.
    pub backlog: u32,
    /// Full: a TCP listener drops new SYNs; a unix one refuses new
    /// connect()s (EAGAIN) once it holds backlog + 1.
    pub full: bool,
}

impl Target {
    pub fn new(kind: TargetKind) -> Target {
        Target { kind, ..Default::default() }
    }

    /// It leads to other processes of this host (`pids`).
    pub fn leads_on(&self) -> bool {
        matches!(self.kind, TargetKind::Tcp | TargetKind::Unix | TargetKind::Pipe)
    }

    /// "TCP 127.0.0.1:9000", "unix:/run/php/fpm.sock", "pipe:[123]".
    pub fn via(&self) -> Option<String> {
        let peer = self.peer.as_deref().unwrap_or("?");
        match self.kind {
            TargetKind::Tcp => Some(format!("TCP {peer}")),
            TargetKind::Unix => Some(format!("unix:{}", self.path.as_deref().unwrap_or("?"))),
            TargetKind::Pipe => Some(format!("pipe:[{}]", self.inode.unwrap_or(0))),
            _ => None,
        }
    }

    /// "php-fpm8.2 (1240)", "php-fpm8.2 pool": the processes it leads to.
    fn peers_name(&self) -> String {
        let comm = self.comm.as_deref().unwrap_or("?");
        match self.pids.as_slice() {
            [pid] => format!("{comm} ({pid})"),
            _ => format!("{comm} pool"),
        }
    }
}

/// Whether the hops cross a process boundary or leave the host: what makes
/// them a chain worth telling (a wait inside one process is its finding's
/// own evidence).
pub fn crosses(hops: &[Hop]) -> bool {
    hops.iter().any(|h| h.on.leads_on() || h.on.kind == TargetKind::Remote)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The state a chain ends in, in a few words ("asleep in clock_nanosleep").
fn end_words(on: &Target, pool: bool) -> Option<String> {
    let (threads, of) = (on.threads.unwrap_or(0), on.of.unwrap_or(0));
    let share = if pool || threads == of { String::new() } else { format!("{threads} of {of} threads ") };
    Some(match on.kind {
        TargetKind::Lock => format!("{share}waiting on a lock (futex), holder unknown"),
        TargetKind::Sleep => format!("{share}asleep in {}", on.syscall.as_deref().unwrap_or("a sleep")),
        TargetKind::Cpu => format!("{share}running"),
        TargetKind::Dns => format!("waiting on DNS server {}", on.server.as_deref().unwrap_or("?")),
        TargetKind::Stopped => format!("stopped (state {})", on.state.as_deref().unwrap_or("T")),
        TargetKind::PeersNotReading => {
            format!("{} sending to peers that stopped reading", plural(threads, "thread", "threads"))
        }
        TargetKind::Unknown => "waiting on nothing the kernel shows".into(),
        TargetKind::FdLimit => format!(
            "at its file-descriptor limit, {} of {} open: accept() fails (EMFILE)",
            on.open_fds.unwrap_or(0),
            on.soft_limit.unwrap_or(0)
        ),
        TargetKind::IdleUpstream => format!(
            "reading an idle keep-alive connection to {} that already answered",
            on.peer.as_deref().unwrap_or("?")
        ),
        TargetKind::Connecting => format!(
            "connecting to {}: {} SYN-SENT, no answer",
            on.peer.as_deref().unwrap_or("?"),
            plural(on.connections.unwrap_or(0), "connect", "connects")
        ),
        TargetKind::Mount => format!(
            "{share}blocked on files of the {} mount {} that does not answer",
            on.fs_type.as_deref().unwrap_or("?"),
            on.path.as_deref().unwrap_or("?")
        ),
        TargetKind::Tcp | TargetKind::Unix | TargetKind::Pipe | TargetKind::Remote => return None,
    })
}

/// "nginx (1238)", "php-fpm8.2 pool (2 of 2 workers asleep 19.0 s in
/// clock_nanosleep)": who waits at a hop, with the state the chain ends
/// in when it ends there.
fn who(h: &Hop) -> String {
    let pool = h.pids.len() > 1;
    let base = match h.pids.as_slice() {
        [pid] => format!("{} ({pid})", h.comm),
        _ => format!("{} pool", h.comm),
    };
    let since = h.since_ms.map(|ms| format!(" {}", measured_ms(ms))).unwrap_or_default();
    let end = end_words(&h.on, pool).map(|w| match w.split_once(" in ") {
        // "asleep 19.0 s in clock_nanosleep": the time where it reads naturally.
        Some((a, b)) if !since.is_empty() => format!("{a}{since} in {b}"),
        _ if !since.is_empty() => format!("{w} for{since}"),
        _ => w,
    });
    match (pool, end) {
        (true, Some(e)) => format!("{base} ({} of {} workers {e})", h.waiting, h.pids.len()),
        (true, None) => format!("{base} ({} processes)", h.pids.len()),
        (false, Some(e)) => format!("{base} ({e})"),
        (false, None) => base,
    }
}

/// Where the chain ends, in words: the last hop's processes and their state
/// ("php-fpm8.2 pool (2 of 2 workers asleep in clock_nanosleep)"), or the
/// remote peer it leaves the host for.
pub fn end(hops: &[Hop]) -> String {
    let Some(last) = hops.last() else { return String::new() };
    match last.on.kind {
        TargetKind::Remote => format!("remote {}, on another host", last.on.peer.as_deref().unwrap_or("?")),
        _ if last.on.leads_on() => last.on.peers_name(),
        _ => who(last),
    }
}

/// The note after a listener whose queue holds connections: "← queue
/// full (5/4): new connect()s refused (EAGAIN)".
fn queue_words(on: &Target) -> String {
    let unix = on.kind == TargetKind::Unix;
    match on.queue {
        Some(q) if q.full && unix => format!(
            " ← queue full ({}/{}): new connect()s refused (EAGAIN), or blocked if blocking",
            q.queued, q.backlog
        ),
        Some(q) if q.full => format!(" ← queue full ({}/{}): new SYNs dropped", q.queued, q.backlog),
        Some(q) if on.queued.unwrap_or(0) > 0 => {
            format!(" ← {} waiting unaccepted in its queue ({}/{})", on.queued.unwrap_or(0), q.queued, q.backlog)
        }
        _ => String::new(),
    }
}

/// The path in one line, as the report prints it:
/// `nginx (1238) → unix:/run/php/fpm.sock → php-fpm8.2 pool (2 of 2
/// workers asleep in clock_nanosleep) ← queue full (5/4): …`.
pub fn line(hops: &[Hop]) -> String {
    let Some(first) = hops.first() else { return String::new() };
    let mut out = who(first);
    for (i, h) in hops.iter().enumerate() {
        if h.on.kind == TargetKind::Remote {
            let silent = h.since_ms.map(|ms| format!(", not answered for {}", measured_ms(ms))).unwrap_or_default();
            out.push_str(&format!(" → remote {} (another host{silent})", h.on.peer.as_deref().unwrap_or("?")));
            break;
        }
        let Some(via) = h.on.via() else { break };
        let via = via.strip_prefix("TCP ").map(|p| format!("tcp {p}")).unwrap_or(via);
        let next = match hops.get(i + 1) {
            Some(n) if !h.on.cycle => who(n),
            _ => h.on.peers_name(),
        };
        out.push_str(&format!(" → {via} → {next}{}", queue_words(&h.on)));
        if h.on.cycle {
            out.push_str(": back where the chain started, a cross-process deadlock");
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leads(kind: TargetKind, pids: &[u32], comm: &str, queue: Option<Queue>, cycle: bool) -> Target {
        Target {
            kind,
            pids: pids.to_vec(),
            comm: Some(comm.into()),
            connections: Some(3),
            queued: Some(1),
            queue,
            cycle,
            ..Default::default()
        }
    }

    #[test]
    fn a_chain_reads_as_one_line_root_last() {
        let q = Queue { queued: 5, backlog: 4, full: true };
        let fpm = Target {
            path: Some("/run/php/fpm.sock".into()),
            ..leads(TargetKind::Unix, &[1240, 1241], "php-fpm8.2", Some(q), false)
        };
        let sleep = Target {
            threads: Some(2),
            of: Some(2),
            syscall: Some("clock_nanosleep".into()),
            ..Target::new(TargetKind::Sleep)
        };
        let hops = vec![
            Hop { pids: vec![1238], comm: "nginx".into(), waiting: 1, on: fpm, since_ms: None },
            Hop { pids: vec![1240, 1241], comm: "php-fpm8.2".into(), waiting: 2, on: sleep, since_ms: Some(19_000) },
        ];
        assert_eq!(
            line(&hops),
            "nginx (1238) → unix:/run/php/fpm.sock → php-fpm8.2 pool (2 of 2 workers asleep 19.0 s in clock_nanosleep) ← queue full (5/4): new connect()s refused (EAGAIN), or blocked if blocking"
        );
        assert_eq!(end(&hops), "php-fpm8.2 pool (2 of 2 workers asleep 19.0 s in clock_nanosleep)");
        assert!(crosses(&hops));
        assert!(!crosses(&hops[1..]));
        let json = serde_json::to_value(&hops[0]).unwrap();
        assert_eq!(json["on"]["type"], "unix");
        assert_eq!(json["on"]["pids"], serde_json::json!([1240, 1241]));
        assert_eq!(json["on"]["queue"]["backlog"], 4);
        assert!(json["on"].get("cycle").is_none() && json["on"].get("threads").is_none());
        let back: Hop = serde_json::from_value(json).unwrap();
        assert_eq!(back, hops[0]);
    }

    #[test]
    fn a_cycle_and_a_remote_end_the_line() {
        let to = |port: u16, pid: u32, comm: &str, cycle: bool| Target {
            peer: Some(format!("127.0.0.1:{port}")),
            ..leads(TargetKind::Tcp, &[pid], comm, None, cycle)
        };
        let cycle = vec![
            Hop { pids: vec![10], comm: "a".into(), waiting: 1, on: to(8002, 20, "b", false), since_ms: Some(5000) },
            Hop { pids: vec![20], comm: "b".into(), waiting: 1, on: to(8001, 10, "a", true), since_ms: Some(4000) },
        ];
        assert_eq!(
            line(&cycle),
            "a (10) → tcp 127.0.0.1:8002 → b (20) → tcp 127.0.0.1:8001 → a (10): back where the chain started, a cross-process deadlock"
        );
        let remote =
            Target { peer: Some("10.0.3.7:5432".into()), connections: Some(4), ..Target::new(TargetKind::Remote) };
        let hops = vec![Hop { pids: vec![10], comm: "app".into(), waiting: 1, on: remote, since_ms: Some(41_000) }];
        assert_eq!(line(&hops), "app (10) → remote 10.0.3.7:5432 (another host, not answered for 41.0 s)");
        assert_eq!(end(&hops), "remote 10.0.3.7:5432, on another host");
    }
}
