//! What the analysis needs of the first snapshot of a pair, so a scan can
//! drop the rest of it as soon as it is taken instead of holding two whole
//! snapshots (at 100k sockets most of a snapshot is idle ESTABLISHED
//! connections nobody compares).
//!
//! Detectors read the first snapshot only to see whether a state lasted:
//! - sockets: listeners (accept_queue_overflow, accept_stalled,
//!   keepalive_starvation, orphan_port_holder, stuck_thread), connections
//!   waiting unaccepted (inode 0), CLOSE-WAIT (close_wait_leak,
//!   stuck_thread), ESTABLISHED with unread bytes (stuck_thread) or unsent
//!   ones (peer_not_reading's zero window), and every socket on a port
//!   something listens on (unanswered_requests compares the byte counters
//!   of accepted connections and counts those the server closed) — a
//!   client's outbound connections are dropped;
//! - processes: pid, parentage, group, state, start time, per thread the
//!   CPU time, context switches, syscall and signal masks, signalfds, and
//!   the fds on the sockets kept (who held them);
//! - namespace counters, time, arch, skipped and notes.
//!
//! A detector that compares anything else must keep it here; the test in
//! `tests/fixtures.rs` analyses every recorded pair with and without this.

use crate::index::{is_queued_child, FastSet};
use unwedge_model::{Snapshot, Socket, TcpState};

fn compared(s: &Socket, served: &FastSet<(u64, u16)>) -> bool {
    matches!(s.state, TcpState::Listen | TcpState::CloseWait)
        || is_queued_child(s)
        || (s.state == TcpState::Established && (s.recv_q > 0 || s.send_q > 0))
        || served.contains(&(s.netns, s.local_port))
}

/// Drops from `snap` what no detector compares (see the module header).
pub fn keep_for_comparison(snap: &mut Snapshot) {
    let served: FastSet<(u64, u16)> =
        snap.sockets.iter().filter(|s| s.state == TcpState::Listen).map(|s| (s.netns, s.local_port)).collect();
    snap.sockets.retain(|s| compared(s, &served));
    snap.sockets.shrink_to_fit();
    let mut kept: Vec<u64> = snap.sockets.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
    kept.sort_unstable();
    for p in &mut snap.processes {
        p.sockets.retain(|s| kept.binary_search(&s.inode).is_ok());
        p.sockets.shrink_to_fit();
        p.anon_fds.retain(|a| a.kind == "[signalfd]");
        p.pipes = Vec::new();
        p.cmdline = String::new();
        for t in &mut p.threads {
            t.wchan = None;
            t.stack = None;
            t.fd_args = Vec::new();
        }
    }
}
