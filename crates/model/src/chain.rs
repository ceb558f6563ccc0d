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

/// What a hop waits on. Three kinds lead to other processes on this host
/// (`tcp`, `unix`, `pipe`: the next hop is theirs); the others end the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// Local processes at the other end of TCP connections (this host, any
    /// network namespace), or accepting on the listener they wait in.
    Tcp {
        /// The address waited on ("127.0.0.1:9000").
        peer: String,
        #[serde(flatten)]
        peers: Peers,
    },
    /// Local processes at the other end of unix-socket connections, or
    /// accepting on the listener they wait in.
    Unix {
        /// The listener's path, `@name` for an abstract one.
        path: String,
        #[serde(flatten)]
        peers: Peers,
    },
    /// The processes that read a full pipe.
    Pipe {
        inode: u64,
        #[serde(flatten)]
        peers: Peers,
    },
    /// A peer on another host: the chain leaves this one there.
    Remote { peer: String, connections: usize },
    /// Threads in futex (a lock, condition variable or join) whose holder
    /// the kernel does not name.
    Lock { threads: usize, of: usize },
    /// Threads asleep on purpose (nanosleep, clock_nanosleep).
    Sleep { threads: usize, of: usize, syscall: String },
    /// A DNS query in flight to this server.
    Dns { server: String },
    /// Threads running or waiting for a CPU.
    Cpu { threads: usize, of: usize },
    /// The process is stopped (its state letter: T, t).
    Stopped { state: String },
    /// Threads blocked sending to peers that stopped reading (zero window).
    PeersNotReading { threads: usize },
    /// At its file-descriptor limit: accept() and every new fd fail (EMFILE).
    FdLimit { open_fds: u32, soft_limit: u64 },
    /// Threads reading an upstream connection whose peer answered and owes
    /// nothing: an idle keep-alive connection read for an end that never comes.
    IdleUpstream { peer: String, threads: usize },
    /// Nothing the kernel shows: an event loop, a wait on shared memory.
    Unknown {
        /// In words: what the threads sit in ("1 in epoll_wait (…)").
        threads: Vec<String>,
    },
}

/// The processes at the far end of a hop that leads to other processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Peers {
    /// The processes waited on (holding the other ends, or accepting on
    /// the listener where they wait): the next hop's `pids`.
    pub pids: Vec<u32>,
    pub comm: String,
    /// Connections (or pipes) waited on.
    pub connections: usize,
    /// Of those, connections still waiting in the listener's accept queue.
    #[serde(default)]
    pub queued: usize,
    /// The listener's queue, when connections wait in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<Queue>,
    /// The processes waited on are already on the path: the waits form a
    /// cycle across processes (a cross-process deadlock), and the chain
    /// ends here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cycle: bool,
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
    /// The processes this hop leads to, for a hop that leads to some.
    pub fn peers(&self) -> Option<&Peers> {
        match self {
            Target::Tcp { peers, .. } | Target::Unix { peers, .. } | Target::Pipe { peers, .. } => Some(peers),
            _ => None,
        }
    }
}

/// Whether the hops cross a process boundary or leave the host: what makes
/// them a chain worth telling (a wait inside one process is its finding's
/// own evidence).
pub fn crosses(hops: &[Hop]) -> bool {
    hops.iter().any(|h| h.on.peers().is_some() || matches!(h.on, Target::Remote { .. }))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The state a chain ends in, in a few words ("asleep in clock_nanosleep").
fn end_words(on: &Target, pool: bool) -> Option<String> {
    let share = |threads: usize, of: usize| {
        if pool || threads == of {
            String::new()
        } else {
            format!("{threads} of {of} threads ")
        }
    };
    Some(match on {
        Target::Lock { threads, of } => {
            format!("{}waiting on a lock (futex), holder unknown", share(*threads, *of))
        }
        Target::Sleep { threads, of, syscall } => format!("{}asleep in {syscall}", share(*threads, *of)),
        Target::Cpu { threads, of } => format!("{}running", share(*threads, *of)),
        Target::Dns { server } => format!("waiting on DNS server {server}"),
        Target::Stopped { state } => format!("stopped (state {state})"),
        Target::PeersNotReading { threads } => {
            format!("{} sending to peers that stopped reading", plural(*threads, "thread", "threads"))
        }
        Target::Unknown { .. } => "waiting on nothing the kernel shows".into(),
        Target::FdLimit { open_fds, soft_limit } => {
            format!("at its file-descriptor limit, {open_fds} of {soft_limit} open: accept() fails (EMFILE)")
        }
        Target::IdleUpstream { peer, .. } => {
            format!("reading an idle keep-alive connection to {peer} that already answered")
        }
        Target::Tcp { .. } | Target::Unix { .. } | Target::Pipe { .. } | Target::Remote { .. } => return None,
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
    match &last.on {
        Target::Remote { peer, .. } => format!("remote {peer}, on another host"),
        on => match on.peers() {
            Some(p) => match p.pids.as_slice() {
                [pid] => format!("{} ({pid})", p.comm),
                _ => format!("{} pool", p.comm),
            },
            None => who(last),
        },
    }
}

/// The note after a listener whose queue holds connections: "← queue
/// full (5/4): new connect()s refused (EAGAIN)".
fn queue_words(on: &Target) -> String {
    let (Some(p), unix) = (on.peers(), matches!(on, Target::Unix { .. })) else { return String::new() };
    match p.queue {
        Some(q) if q.full && unix => format!(
            " ← queue full ({}/{}): new connect()s refused (EAGAIN), or blocked if blocking",
            q.queued, q.backlog
        ),
        Some(q) if q.full => format!(" ← queue full ({}/{}): new SYNs dropped", q.queued, q.backlog),
        Some(q) if p.queued > 0 => format!(" ← {} of theirs queued, unaccepted ({}/{})", p.queued, q.queued, q.backlog),
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
        let via = match &h.on {
            Target::Tcp { peer, .. } => format!("tcp {peer}"),
            Target::Unix { path, .. } => format!("unix:{path}"),
            Target::Pipe { inode, .. } => format!("pipe:[{inode}]"),
            Target::Remote { peer, .. } => {
                let silent = h.since_ms.map(|ms| format!(", not answered for {}", measured_ms(ms))).unwrap_or_default();
                out.push_str(&format!(" → remote {peer} (another host{silent})"));
                break;
            }
            _ => break,
        };
        let Some(p) = h.on.peers() else { break };
        let next = match hops.get(i + 1) {
            Some(n) if !p.cycle => who(n),
            _ => match p.pids.as_slice() {
                [pid] => format!("{} ({pid})", p.comm),
                _ => format!("{} pool", p.comm),
            },
        };
        out.push_str(&format!(" → {via} → {next}{}", queue_words(&h.on)));
        if p.cycle {
            out.push_str(": back where the chain started, a cross-process deadlock");
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(pids: &[u32], comm: &str, queue: Option<Queue>, cycle: bool) -> Peers {
        Peers { pids: pids.to_vec(), comm: comm.into(), connections: 3, queued: 1, queue, cycle }
    }

    #[test]
    fn a_chain_reads_as_one_line_root_last() {
        let q = Queue { queued: 5, backlog: 4, full: true };
        let hops = vec![
            Hop {
                pids: vec![1238],
                comm: "nginx".into(),
                waiting: 1,
                on: Target::Unix { path: "/run/php/fpm.sock".into(), peers: peers(&[1240, 1241], "php-fpm8.2", Some(q), false) },
                since_ms: None,
            },
            Hop {
                pids: vec![1240, 1241],
                comm: "php-fpm8.2".into(),
                waiting: 2,
                on: Target::Sleep { threads: 2, of: 2, syscall: "clock_nanosleep".into() },
                since_ms: Some(19_000),
            },
        ];
        assert_eq!(
            line(&hops),
            "nginx (1238) → unix:/run/php/fpm.sock → php-fpm8.2 pool (2 of 2 workers asleep 19.0 s in clock_nanosleep) ← queue full (5/4): new connect()s refused (EAGAIN), or blocked if blocking"
        );
        assert!(crosses(&hops));
        assert!(!crosses(&hops[1..]));
        let json = serde_json::to_value(&hops[0]).unwrap();
        assert_eq!(json["on"]["type"], "unix");
        assert_eq!(json["on"]["pids"], serde_json::json!([1240, 1241]));
        assert_eq!(json["on"]["queue"]["backlog"], 4);
        assert!(json["on"].get("cycle").is_none());
        let back: Hop = serde_json::from_value(json).unwrap();
        assert_eq!(back, hops[0]);
    }

    #[test]
    fn a_cycle_and_a_remote_end_the_line() {
        let cycle = vec![
            Hop {
                pids: vec![10],
                comm: "a".into(),
                waiting: 1,
                on: Target::Tcp { peer: "127.0.0.1:8002".into(), peers: peers(&[20], "b", None, false) },
                since_ms: Some(5000),
            },
            Hop {
                pids: vec![20],
                comm: "b".into(),
                waiting: 1,
                on: Target::Tcp { peer: "127.0.0.1:8001".into(), peers: peers(&[10], "a", None, true) },
                since_ms: Some(4000),
            },
        ];
        assert_eq!(
            line(&cycle),
            "a (10) → tcp 127.0.0.1:8002 → b (20) → tcp 127.0.0.1:8001 → a (10): back where the chain started, a cross-process deadlock"
        );
        let remote = vec![Hop {
            pids: vec![10],
            comm: "app".into(),
            waiting: 1,
            on: Target::Remote { peer: "10.0.3.7:5432".into(), connections: 4 },
            since_ms: Some(41_000),
        }];
        assert_eq!(line(&remote), "app (10) → remote 10.0.3.7:5432 (another host, not answered for 41.0 s)");
    }
}
