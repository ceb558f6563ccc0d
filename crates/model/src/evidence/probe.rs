//! Evidence of the probe kinds (`unwedge probe`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConnectTimeout {
    pub timed_out_seqs: Vec<u32>,
    pub attempts: usize,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SynRetransmit {
    pub slow_seqs: Vec<u32>,
    pub connect_us: Vec<u64>,
    pub threshold_us: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MissingContentType {
    pub status: u16,
    pub body_bytes: u64,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SlowTlsShutdown {
    pub outcome: String,
    pub after_us: Option<u64>,
    pub waited_us: u64,
    pub threshold_us: u64,
}

// A probe is run by hand, once: nothing of it is trended.
macro_rules! not_measured {
    ($($ty:ty),*) => {
        $(
            impl super::Measure for $ty {
                fn measure(&self) -> Option<(&'static str, u64)> {
                    None
                }
            }
        )*
    };
}
not_measured!(ConnectTimeout, SynRetransmit, MissingContentType, SlowTlsShutdown);
