//! Per-kind evidence: typed structs serialised to the contract's `evidence`
//! object. One file per scan kind, named as the kind; the kind table
//! (`for_each_kind!` in kind.rs) ties each struct to its kind. Renderers
//! and metrics read these fields, never JSON keys.

// One evidence file per scan kind, named as the kind (the table in
// kind.rs); the probe kinds' evidence is in probe.rs, a thread's in thread.rs.
macro_rules! evidence_files {
    ($($name:ident: $variant:ident, $source:ident, $about:ident, [$($ev:ident),+], $alert:tt;)*) => {
        $(
            mod $name;
            pub use $name::*;
        )*
    };
}
crate::for_each_scan_kind!(evidence_files);

mod probe;
mod thread;

pub use probe::*;
pub use thread::*;

use crate::Kind;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// The one number of a finding that says "worse" or "better" from one
/// scan to the next (CLOSE-WAIT sockets, queued connections, open fds…),
/// with its evidence field name: what `unwedge watch` trends. Every
/// evidence type says it, beside its fields (`None`: nothing to trend).
pub trait Measure {
    fn measure(&self) -> Option<(&'static str, u64)>;
}

macro_rules! define_evidence {
    ($($name:ident: $variant:ident, $source:ident, $about:ident, [$($ev:ident),+], $alert:tt;)*) => {
        /// A finding's evidence, one variant per evidence type (named as
        /// the type); the variant decides the finding's kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Evidence { $($($ev($ev)),+),* }

        impl Evidence {
            pub fn kind(&self) -> Kind {
                match self { $($(Evidence::$ev(_) => Kind::$variant),+),* }
            }

            /// Reads the evidence of a finding of `kind` back from JSON
            /// (a report file). A kind with two evidence shapes tries each.
            pub fn from_json(kind: Kind, v: Value) -> Result<Evidence, serde_json::Error> {
                let mut last = None;
                $($(
                    if kind == Kind::$variant {
                        match serde_json::from_value::<$ev>(v.clone()) {
                            Ok(e) => return Ok(Evidence::$ev(e)),
                            Err(e) => last = Some(e),
                        }
                    }
                )+)*
                Err(last.unwrap_or_else(|| serde::de::Error::custom(format!("no evidence type for kind {kind}"))))
            }
        }

        impl Evidence {
            /// See [`Measure`].
            pub fn measure(&self) -> Option<(&'static str, u64)> {
                match self { $($(Evidence::$ev(e) => e.measure()),+),* }
            }
        }

        impl Serialize for Evidence {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $($(Evidence::$ev(e) => e.serialize(s)),+),* }
            }
        }

        $($(
            impl From<$ev> for Evidence {
                fn from(e: $ev) -> Evidence {
                    Evidence::$ev(e)
                }
            }
        )+)*
    };
}

crate::for_each_kind!(define_evidence);

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
            Evidence::CrossProcessDeadlock(e) => &e.pids,
            _ => &[],
        }
    }
}
