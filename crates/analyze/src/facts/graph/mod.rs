//! The wait graph: what each waiting thing waits on, typed, followed from
//! process to process until the wait ends — the one place every kind
//! reads "what does this wait on" from, instead of each working it out.
//!
//! - A thread waits on what its syscall and fd arguments show (`waits`:
//!   a lock, an upstream connection, a pipe, a DNS query, a sleep, the CPU).
//! - A connection waits on its other end: the peer owes an answer when this
//!   end spoke last (`requests::last_sender`, the one place that decides
//!   who sent last, from tcp_info's byte counters and data segments); the
//!   other end is a process of this host (`peers`: the reversed 4-tuple in
//!   any namespace, or the unix peer inode, `unix`) or another host.
//! - A connection still in a listener's queue waits on the processes that
//!   accept there.
//! - A process waits on what most of its threads wait on, or, for an event
//!   loop whose threads say nothing, on the connections that owe it an
//!   answer; a pool of sibling workers on what most of them wait on (`path`).
//!
//! Followed to the end (`path::follow`), the waits of a finding's process
//! become its `waits_on` (`hops`): the chain the report tells root first.
//! A path that comes back to a process already on it is a cycle across
//! processes, a deadlock no single process shows.
//!
//! Everything is computed on demand and kept: a host with no finding
//! never builds the peer tables, and a process's wait is worked out once
//! however many findings and paths pass through it.

pub mod hops;
pub mod path;
pub mod peers;
pub mod unix;

use crate::facts::index::FastMap;
use crate::Ctx;
use std::cell::RefCell;
use std::rc::Rc;

pub use path::{Next, Path, Via};

#[derive(Default)]
pub struct Graph {
    pub peers: peers::Peers,
    pub unix: unix::Unix,
    waits: RefCell<FastMap<u32, Option<Rc<Next>>>>,
}

impl Graph {
    /// What process `pid` waits on (worked out once).
    pub fn wait_of(&self, ctx: &Ctx, pid: u32) -> Option<Next> {
        if let Some(known) = self.waits.borrow().get(&pid) {
            return known.as_deref().cloned();
        }
        // Not held across the call: working out one wait may ask for others.
        let n = path::wait_of(ctx, pid).map(Rc::new);
        self.waits.borrow_mut().insert(pid, n.clone());
        n.as_deref().cloned()
    }

    /// The wait of the processes `pids` (one, or a pool), followed to its end.
    pub fn follow(&self, ctx: &Ctx, pids: &[u32]) -> Path {
        path::follow(ctx, pids)
    }
}
