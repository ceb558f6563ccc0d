//! Per-kind evidence: typed structs serialised to the contract's `evidence`
//! object. One file per kind; `evidences!` below ties each struct to its
//! kind. Renderers and metrics read these fields, never JSON keys.

mod accept_queue_overflow;
mod accept_stalled;
mod blocked_signal;
mod close_wait_leak;
mod conntrack_full;
mod cpu_throttled;
mod ephemeral_ports_exhausted;
mod fd_exhaustion;
mod keepalive_starvation;
mod memory_pressure;
mod orphan_port_holder;
mod peer_not_reading;
mod pid_limit;
mod probe;
mod process_stopped;
mod sigterm_blocked;
mod stuck_thread;
mod syn_queue_overflow;
mod thread;
mod unanswered_requests;
mod zombie;

pub use accept_queue_overflow::*;
pub use accept_stalled::*;
pub use blocked_signal::*;
pub use close_wait_leak::*;
pub use conntrack_full::*;
pub use cpu_throttled::*;
pub use ephemeral_ports_exhausted::*;
pub use fd_exhaustion::*;
pub use keepalive_starvation::*;
pub use memory_pressure::*;
pub use orphan_port_holder::*;
pub use peer_not_reading::*;
pub use pid_limit::*;
pub use probe::*;
pub use process_stopped::*;
pub use sigterm_blocked::*;
pub use stuck_thread::*;
pub use syn_queue_overflow::*;
pub use thread::*;
pub use unanswered_requests::*;
pub use zombie::*;

use crate::Kind;
use serde::{Serialize, Serializer};
use serde_json::Value;

macro_rules! evidences {
    ($($variant:ident($ty:ty) => $kind:ident;)*) => {
        /// A finding's evidence; the variant decides the finding's kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Evidence { $($variant($ty)),* }

        impl Evidence {
            pub fn kind(&self) -> Kind {
                match self { $(Evidence::$variant(_) => Kind::$kind),* }
            }

            /// Reads the evidence of a finding of `kind` back from JSON
            /// (a report file). A kind with two evidence shapes tries each.
            pub fn from_json(kind: Kind, v: Value) -> Result<Evidence, serde_json::Error> {
                let mut last = None;
                $(
                    if kind == Kind::$kind {
                        match serde_json::from_value::<$ty>(v.clone()) {
                            Ok(e) => return Ok(Evidence::$variant(e)),
                            Err(e) => last = Some(e),
                        }
                    }
                )*
                Err(last.unwrap_or_else(|| serde::de::Error::custom(format!("no evidence type for kind {kind}"))))
            }
        }

        impl Serialize for Evidence {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $(Evidence::$variant(e) => e.serialize(s)),* }
            }
        }

        $(
            impl From<$ty> for Evidence {
                fn from(e: $ty) -> Evidence {
                    Evidence::$variant(e)
                }
            }
        )*
    };
}

evidences! {
    CloseWaitLeak(CloseWaitLeak) => CloseWaitLeak;
    AcceptQueueOverflow(AcceptQueueOverflow) => AcceptQueueOverflow;
    AcceptStalled(AcceptStalled) => AcceptStalled;
    KeepaliveStarvation(KeepaliveStarvation) => KeepaliveStarvation;
    ProbedKeepaliveStarvation(ProbedKeepaliveStarvation) => KeepaliveStarvation;
    FdExhaustion(FdExhaustion) => FdExhaustion;
    BlockedSignal(BlockedSignal) => BlockedSignal;
    SigtermBlocked(SigtermBlocked) => SigtermBlocked;
    StuckThread(StuckThread) => StuckThread;
    OrphanPortHolder(OrphanPortHolder) => OrphanPortHolder;
    Zombie(Zombie) => Zombie;
    ProcessStopped(ProcessStopped) => ProcessStopped;
    UnansweredRequests(UnansweredRequests) => UnansweredRequests;
    PeerNotReading(PeerNotReading) => PeerNotReading;
    EphemeralPortsExhausted(EphemeralPortsExhausted) => EphemeralPortsExhausted;
    SynQueueOverflow(SynQueueOverflow) => SynQueueOverflow;
    ConntrackFull(ConntrackFull) => ConntrackFull;
    PidLimit(PidLimit) => PidLimit;
    CpuThrottled(CpuThrottled) => CpuThrottled;
    MemoryPressure(MemoryPressure) => MemoryPressure;
    ConnectTimeout(ConnectTimeout) => ConnectTimeout;
    SynRetransmit(SynRetransmit) => SynRetransmit;
    MissingContentType(MissingContentType) => MissingContentType;
    SlowTlsShutdown(SlowTlsShutdown) => SlowTlsShutdown;
}

impl Evidence {
    /// The thread blocks of this evidence, labelled as the human report shows them.
    pub fn thread_blocks(&self) -> Vec<(&'static str, &ThreadEvidence)> {
        match self {
            Evidence::StuckThread(e) => vec![("Thread", &e.thread)],
            Evidence::Zombie(e) => e.parent_thread.iter().map(|t| ("Parent thread", t)).collect(),
            Evidence::BlockedSignal(e) => e.threads.iter().map(|t| ("Thread", t)).collect(),
            Evidence::SigtermBlocked(e) => e.threads.iter().map(|t| ("Thread", t)).collect(),
            Evidence::PeerNotReading(e) => vec![("Thread", &e.thread)],
            _ => Vec::new(),
        }
    }

    /// Every process holding the listening socket, for listener findings.
    pub fn owners(&self) -> &[u32] {
        match self {
            Evidence::AcceptStalled(e) => &e.owners,
            Evidence::KeepaliveStarvation(e) => &e.owners,
            Evidence::UnansweredRequests(e) => &e.owners,
            Evidence::AcceptQueueOverflow(AcceptQueueOverflow::Listener { owners, .. }) => owners,
            Evidence::SynQueueOverflow(e) => &e.owners,
            _ => &[],
        }
    }
}
