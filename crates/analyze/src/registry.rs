//! The detector of each finding kind. The match is exhaustive: a kind added
//! to `unwedge_model::Kind` does not compile until it is given a detector
//! here (or is marked as a probe kind), and `tests/kinds.rs` then asks for
//! its fixture pair and its line in the README.

use crate::Ctx;
use unwedge_model::{Finding, Kind};

/// Appends the findings of one kind.
pub type Detect = fn(&Ctx, &mut Vec<Finding>);

pub fn detector(kind: Kind) -> Option<Detect> {
    use crate::*;
    Some(match kind {
        Kind::CloseWaitLeak => close_wait_leak::detect,
        Kind::AcceptQueueOverflow => accept_queue_overflow::detect,
        Kind::AcceptStalled => accept_stalled::detect,
        Kind::KeepaliveStarvation => keepalive_starvation::detect,
        Kind::FdExhaustion => fd_exhaustion::detect,
        Kind::BlockedSignal => blocked_signal::detect,
        Kind::SigtermBlocked => sigterm_blocked::detect,
        Kind::StuckThread => stuck_thread::detect,
        Kind::OrphanPortHolder => orphan_port_holder::detect,
        Kind::Zombie => zombie::detect,
        Kind::ProcessStopped => process_stopped::detect,
        Kind::UnansweredRequests => unanswered_requests::detect,
        Kind::PeerNotReading => peer_not_reading::detect,
        Kind::EphemeralPortsExhausted => ephemeral_ports_exhausted::detect,
        Kind::SynQueueOverflow => syn_queue_overflow::detect,
        Kind::ConntrackFull => conntrack_full::detect,
        Kind::PidLimit => pid_limit::detect,
        Kind::CpuThrottled => cpu_throttled::detect,
        Kind::MemoryPressure => memory_pressure::detect,
        // Raised by `unwedge probe` from outside, not by a scan.
        Kind::ConnectTimeout | Kind::SynRetransmit | Kind::MissingContentType | Kind::SlowTlsShutdown => return None,
    })
}
