//! Finding kinds: the closed list of what unwedge can name, with each
//! kind's JSON name (the contract's `kind`), where it comes from and what it
//! is about. Adding a kind starts here: one line in `kinds!` below; the
//! compiler and `crates/analyze/tests/kinds.rs` then say what else it needs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which command raises a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `unwedge scan` (and serve, watch): a detector in crates/analyze.
    Scan,
    /// `unwedge probe`: a judgement on what the probe saw from outside.
    Probe,
    /// Both (keep-alive starvation is seen from inside and from outside).
    Both,
}

/// What a finding of this kind is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    Process,
    Listener,
    Thread,
    /// `pid: null`: a host or a network namespace.
    Host,
    /// A probe's target.
    Target,
}

macro_rules! kinds {
    ($($variant:ident => $name:literal, $source:ident, $about:ident;)*) => {
        /// Every finding kind. Serialised as its JSON name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($variant),* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The contract's `kind` string.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name),* }
            }

            pub fn from_name(s: &str) -> Option<Kind> {
                match s { $($name => Some(Kind::$variant),)* _ => None }
            }

            pub fn source(self) -> Source {
                match self { $(Kind::$variant => Source::$source),* }
            }

            pub fn about(self) -> About {
                match self { $(Kind::$variant => About::$about),* }
            }
        }
    };
}

kinds! {
    CloseWaitLeak => "close_wait_leak", Scan, Process;
    AcceptQueueOverflow => "accept_queue_overflow", Scan, Listener;
    AcceptStalled => "accept_stalled", Scan, Listener;
    KeepaliveStarvation => "keepalive_starvation", Both, Listener;
    FdExhaustion => "fd_exhaustion", Scan, Process;
    BlockedSignal => "blocked_signal", Scan, Process;
    SigtermBlocked => "sigterm_blocked", Scan, Process;
    StuckThread => "stuck_thread", Scan, Thread;
    OrphanPortHolder => "orphan_port_holder", Scan, Process;
    Zombie => "zombie", Scan, Process;
    ProcessStopped => "process_stopped", Scan, Process;
    UnansweredRequests => "unanswered_requests", Scan, Listener;
    PeerNotReading => "peer_not_reading", Scan, Process;
    EphemeralPortsExhausted => "ephemeral_ports_exhausted", Scan, Host;
    SynQueueOverflow => "syn_queue_overflow", Scan, Listener;
    ConntrackFull => "conntrack_full", Scan, Host;
    PidLimit => "pid_limit", Scan, Process;
    CpuThrottled => "cpu_throttled", Scan, Process;
    MemoryPressure => "memory_pressure", Scan, Process;
    ConnectTimeout => "connect_timeout", Probe, Target;
    SynRetransmit => "syn_retransmit", Probe, Target;
    MissingContentType => "missing_content_type", Probe, Target;
    SlowTlsShutdown => "slow_tls_shutdown", Probe, Target;
}

impl Kind {
    /// Kinds a scan detector raises (every one has a detector file).
    pub fn scan_kinds() -> impl Iterator<Item = Kind> {
        Kind::ALL.iter().copied().filter(|k| k.source() != Source::Probe)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `f.kind() == "close_wait_leak"`: tests and filters compare with the JSON name.
impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kind::from_name(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown finding kind '{s}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &k in Kind::ALL {
            assert!(seen.insert(k.name()), "{k:?} shares its name");
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.name()));
        }
    }
}
