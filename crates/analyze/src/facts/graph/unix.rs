//! Unix-domain sockets in the wait graph: listeners with their queue and
//! the processes that accept on them, and a process's unix connections
//! joined to the process at the other end through the peer inode.

use super::path::Next;
use crate::Ctx;
use unwedge_model::Process;

#[derive(Default)]
pub struct Unix {}

/// The unix listener a process's connections wait on, when they do.
pub fn waits_on(_ctx: &Ctx, _p: &Process) -> Option<Next> {
    None
}

/// Processes whose unix connections wait in another process's listener queue.
pub fn queued_clients(_ctx: &Ctx) -> Vec<u32> {
    Vec::new()
}
