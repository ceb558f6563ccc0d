//! The second analysis pass, over the typed findings of every detector:
//! drop findings that another one already explains better, give each
//! finding its id, link consequences to their cause (`caused_by`) and fold
//! sibling processes that fail the same way into one group. Detectors never
//! see each other's findings; everything that relates one finding to
//! another lives here.
//!
//! Suppression:
//! - `accept_stalled` gives way to `keepalive_starvation` on the same
//!   listener: the more specific diagnosis of the same stalled queue.
//! - `stuck_thread` findings whose waiting work is all named by another
//!   finding about the process (its CLOSE-WAIT sockets by `close_wait_leak`,
//!   its queue by `accept_stalled` / `keepalive_starvation`) are kept only
//!   for threads blocked on a TCP connection: those say which connection
//!   holds things up; a Go runtime thread parked in futex says nothing.
//!
//! Causes, only where the evidence shows the link (docs/contract.md: "Links and
//! groups"); each link runs from a kind to one below it in this order, so
//! the links can form no cycle:
//! `process_stopped` > `keepalive_starvation` > `stuck_thread` >
//! `close_wait_leak` > `fd_exhaustion` > `busy_thread` > `cpu_starved` >
//! `accept_stalled` > `accept_queue_overflow`.
//! - everything about a stopped process (its stuck threads, CLOSE-WAIT
//!   sockets, unreaped children), and a listener whose accepting processes
//!   are all stopped, is caused by its `process_stopped`;
//! - CLOSE-WAIT sockets pile up because the threads of that process that
//!   would close them are stuck (`stuck_thread` with CLOSE-WAIT work);
//! - a process at its fd limit whose fds are mostly CLOSE-WAIT sockets is
//!   there because of its `close_wait_leak`;
//! - a stalled (or full) queue whose accepting processes are all at their
//!   fd limit (critical `fd_exhaustion`: accept() fails with EMFILE);
//! - a stalled (or full) queue whose accepting processes all have threads
//!   busy on a CPU the whole interval (`busy_thread`), or all wait for a
//!   CPU (`cpu_starved`), is their consequence;
//! - a full queue on a listener whose stall is named is its consequence;
//! - a thread stuck reading a connection of a listener starved by keep-alive
//!   is the slot that connection holds (the keep-alive starvation of
//!   docs/stories.md, seen from the thread).
//!
//! Groups: findings of one kind about sibling processes — the same parent,
//! the same program, and (for stuck threads) the same wait — share a group
//! when there are at least two such processes: N forked workers stuck the
//! same way are one story, not N.
//! - `unanswered_requests` and `stuck_thread` are `caused_by` the finding
//!   about what their threads wait on: the listener finding on the upstream
//!   port they wait on, the reader of their full pipe, and (for unanswered
//!   requests) their own process's stuck threads, peers not reading, its
//!   being stopped, or its threads busy on or starved of a CPU.
//!
//! One file per concern: `suppress`, `ids`, `causes` (including what the
//! threads wait on), `groups`.

mod causes;
mod groups;
mod ids;
mod suppress;

pub use groups::program;

use crate::Ctx;
use unwedge_model::{sort_findings, Finding, Group};

pub struct Linked {
    pub findings: Vec<Finding>,
    pub groups: Vec<Group>,
}

pub fn second_pass(ctx: &Ctx, mut findings: Vec<Finding>) -> Linked {
    suppress::suppress_explained(&mut findings);
    sort_findings(&mut findings);
    ids::number_findings(&mut findings);
    causes::link_causes(&mut findings);
    causes::link_waits(&mut findings);
    let mut groups = groups::group_siblings(ctx, &mut findings);
    ids::number_groups(&mut findings, &mut groups);
    Linked { findings, groups }
}
