//! What the analysis needs of the first snapshot of a pair, so a scan can
//! drop the rest of it as soon as it is taken instead of holding two whole
//! snapshots (at 100k sockets most of a snapshot is idle ESTABLISHED
//! connections nobody compares).
//!
//! Detectors read the first snapshot only to see whether a state lasted:
//! - sockets: listeners (accept_queue_overflow, accept_stalled,
//!   keepalive_starvation, orphan_port_holder, stuck_thread,
//!   syn_queue_overflow's drop counter), half-open connections
//!   (syn_queue_overflow), connections waiting unaccepted (inode 0),
//!   CLOSE-WAIT (close_wait_leak,
//!   stuck_thread), ESTABLISHED with unread bytes (stuck_thread) or unsent
//!   ones (peer_not_reading's zero window), and every socket on a local
//!   port where at least two connections await an answer (read or not)
//!   (unanswered_requests compares the byte counters of every accepted
//!   connection on such a port and counts those the server closed; with
//!   fewer than two awaiting in the first snapshot it reports nothing
//!   there), and each connection whose request awaits its answer
//!   (busy_thread and cpu_starved: a request left unanswered across the
//!   interval) — a host's idle connections, client or server side, are dropped;
//! - processes: pid, parentage, group, state, start time, per thread the
//!   CPU time and schedstat, context switches, syscall and signal masks, signalfds, and
//!   the fds on the sockets kept (who held them);
//! - namespace counters, cgroups, host pressure, time, arch, skipped and
//!   notes (all kept: small).
//!
//! A detector that compares anything else must keep it here; the test in
//! `tests/fixtures.rs` analyses every recorded pair with and without this.

use crate::facts::index::{is_queued_child, FastMap, FastSet};
use crate::facts::requests::{awaits_answer, unread_request, MIN_UNANSWERED};
use unwedge_model::{Snapshot, Socket, TcpState};

fn compared(s: &Socket, asked: &FastSet<(u64, u16)>) -> bool {
    matches!(s.state, TcpState::Listen | TcpState::CloseWait | TcpState::SynRecv | TcpState::NewSynRecv)
        || is_queued_child(s)
        || (s.state == TcpState::Established && (s.recv_q > 0 || s.send_q > 0))
        || asked.contains(&(s.netns, s.local_port))
        || (s.inode != 0 && awaits_answer(s))
}

/// Local ports with requests awaiting an answer, as unanswered_requests
/// counts them (whether something listens there now or not: it may by
/// the second snapshot).
fn asked_ports(sockets: &[Socket]) -> FastSet<(u64, u16)> {
    let mut awaiting: FastMap<(u64, u16), usize> = FastMap::default();
    for s in sockets {
        if s.inode != 0 && (awaits_answer(s) || unread_request(s)) {
            *awaiting.entry((s.netns, s.local_port)).or_default() += 1;
        }
    }
    awaiting.into_iter().filter(|(_, n)| *n >= MIN_UNANSWERED).map(|(k, _)| k).collect()
}

/// Drops from `snap` what no detector compares (see the module header).
pub fn keep_for_comparison(snap: &mut Snapshot) {
    let asked = asked_ports(&snap.sockets);
    snap.sockets.retain(|s| compared(s, &asked));
    snap.sockets.shrink_to_fit();
    trim_processes(&mut snap.processes, &snap.sockets);
}

/// What [`keep_for_comparison`] would leave of `snap`, as a copy: `snap`
/// stays whole (a continuous scan compares the next snapshot with this
/// copy, and analyses `snap` itself now). Borrowed mutably only to copy
/// the rest of it without its sockets and processes.
pub fn kept_copy(snap: &mut Snapshot) -> Snapshot {
    let asked = asked_ports(&snap.sockets);
    let sockets = std::mem::take(&mut snap.sockets);
    let processes = std::mem::take(&mut snap.processes);
    let mut out = snap.clone();
    out.sockets = sockets.iter().filter(|s| compared(s, &asked)).cloned().collect();
    out.processes = processes.clone();
    trim_processes(&mut out.processes, &out.sockets);
    snap.sockets = sockets;
    snap.processes = processes;
    out
}

fn trim_processes(processes: &mut [unwedge_model::Process], sockets: &[Socket]) {
    let mut kept: Vec<u64> = sockets.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
    kept.sort_unstable();
    for p in processes {
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
