//! Finding kinds: the closed list of what unwedge can name. The one table
//! of kinds is `for_each_kind!` below: a line per kind declares its JSON
//! name (the contract's `kind`, also the name of its evidence file and of
//! its folder in crates/analyze/src/kinds/), its variant, where it comes
//! from, what it is about, its evidence type(s) and the `for` duration of
//! its Prometheus alert. `Kind` (here), the `Evidence` enum (evidence/mod.rs)
//! and analyze's registry of detectors are generated from it, so adding a
//! kind starts with one line there; the compiler and
//! `crates/analyze/tests/kinds.rs` then say what else it needs.

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

/// The table of kinds, handed to `$callback!` as one line per kind:
///
/// ```text
/// json_name: Variant, Source, About, [EvidenceType, ...], alert_for;
/// ```
///
/// `alert_for` is the `for:` duration of the kind's Prometheus alert
/// ("5m"), or `-` for a kind no alert watches (the probe kinds: a probe is
/// run by hand). A caller may pass tokens to put before the lines:
/// `for_each_kind!(path::to::callback; tokens...)`.
/// [`for_each_scan_kind!`] hands over the scan kinds only.
#[macro_export]
macro_rules! for_each_kind {
    ($($callback:ident)::+ $(; $($before:tt)*)?) => {
        $($callback)::+! {
            $($($before)*)?
            // json name:            variant,                 source, about,    evidence,                                          alert for
            close_wait_leak:           CloseWaitLeak,           Scan,  Process,  [CloseWaitLeak],                                    "5m";
            accept_queue_overflow:     AcceptQueueOverflow,     Scan,  Listener, [AcceptQueueOverflow],                              "2m";
            accept_stalled:            AcceptStalled,           Scan,  Listener, [AcceptStalled],                                    "2m";
            keepalive_starvation:      KeepaliveStarvation,     Both,  Listener, [KeepaliveStarvation, ProbedKeepaliveStarvation],   "2m";
            fd_exhaustion:             FdExhaustion,            Scan,  Process,  [FdExhaustion],                                     "5m";
            blocked_signal:            BlockedSignal,           Scan,  Process,  [BlockedSignal],                                    "5m";
            sigterm_blocked:           SigtermBlocked,          Scan,  Process,  [SigtermBlocked],                                   "5m";
            stuck_thread:              StuckThread,             Scan,  Thread,   [StuckThread],                                      "5m";
            orphan_port_holder:        OrphanPortHolder,        Scan,  Process,  [OrphanPortHolder],                                 "10m";
            zombie:                    Zombie,                  Scan,  Process,  [Zombie],                                           "10m";
            process_stopped:           ProcessStopped,          Scan,  Process,  [ProcessStopped],                                   "2m";
            unanswered_requests:       UnansweredRequests,      Scan,  Listener, [UnansweredRequests],                               "2m";
            peer_not_reading:          PeerNotReading,          Scan,  Process,  [PeerNotReading],                                   "5m";
            ephemeral_ports_exhausted: EphemeralPortsExhausted, Scan,  Host,     [EphemeralPortsExhausted],                          "5m";
            syn_queue_overflow:        SynQueueOverflow,        Scan,  Listener, [SynQueueOverflow],                                 "2m";
            conntrack_full:            ConntrackFull,           Scan,  Host,     [ConntrackFull],                                    "5m";
            pid_limit:                 PidLimit,                Scan,  Process,  [PidLimit],                                         "5m";
            cpu_throttled:             CpuThrottled,            Scan,  Process,  [CpuThrottled],                                     "10m";
            memory_pressure:           MemoryPressure,          Scan,  Process,  [MemoryPressure],                                   "5m";
            busy_thread:               BusyThread,              Scan,  Thread,   [BusyThread],                                       "2m";
            cpu_starved:               CpuStarved,              Scan,  Process,  [CpuStarved],                                       "2m";
            connect_timeout:           ConnectTimeout,          Probe, Target,   [ConnectTimeout],                                   -;
            syn_retransmit:            SynRetransmit,           Probe, Target,   [SynRetransmit],                                    -;
            missing_content_type:      MissingContentType,      Probe, Target,   [MissingContentType],                               -;
            slow_tls_shutdown:         SlowTlsShutdown,         Probe, Target,   [SlowTlsShutdown],                                  -;
        }
    };
}

/// [`for_each_kind!`] restricted to the kinds a scan raises (source `Scan`
/// or `Both`): what crates/analyze generates its `mod` lines and registry
/// from, and the model its per-kind evidence files.
#[macro_export]
macro_rules! for_each_scan_kind {
    ($callback:ident) => {
        $crate::for_each_kind! { $crate::__scan_kinds_only; $callback [] }
    };
}

/// Drops the probe kinds from the table, one line at a time, then hands the
/// rest to the callback.
#[doc(hidden)]
#[macro_export]
macro_rules! __scan_kinds_only {
    ($callback:ident [$($kept:tt)*]) => {
        $callback! { $($kept)* }
    };
    ($callback:ident [$($kept:tt)*]
        $name:ident: $variant:ident, Probe, $about:ident, [$($ev:ident),+], $alert:tt; $($rest:tt)*) => {
        $crate::__scan_kinds_only! { $callback [$($kept)*] $($rest)* }
    };
    ($callback:ident [$($kept:tt)*]
        $name:ident: $variant:ident, $source:ident, $about:ident, [$($ev:ident),+], $alert:tt; $($rest:tt)*) => {
        $crate::__scan_kinds_only! {
            $callback [$($kept)* $name: $variant, $source, $about, [$($ev),+], $alert;] $($rest)*
        }
    };
}

/// `"5m"` as `Some("5m")`, `-` as `None`.
macro_rules! alert_for {
    (-) => {
        None
    };
    ($duration:literal) => {
        Some($duration)
    };
}

macro_rules! define_kinds {
    ($($name:ident: $variant:ident, $source:ident, $about:ident, [$($ev:ident),+], $alert:tt;)*) => {
        /// Every finding kind. Serialised as its JSON name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($variant),* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The contract's `kind` string.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => stringify!($name)),* }
            }

            pub fn from_name(s: &str) -> Option<Kind> {
                match s { $(stringify!($name) => Some(Kind::$variant),)* _ => None }
            }

            pub fn source(self) -> Source {
                match self { $(Kind::$variant => Source::$source),* }
            }

            pub fn about(self) -> About {
                match self { $(Kind::$variant => About::$about),* }
            }

            /// The `for:` duration of the kind's Prometheus alert ("5m"):
            /// how long a finding must persist before it alerts. `None`
            /// for the probe kinds.
            pub fn alert_for(self) -> Option<&'static str> {
                match self { $(Kind::$variant => alert_for!($alert)),* }
            }

            /// The kind's page in the documentation, from the repository's root.
            pub fn doc_page(self) -> &'static str {
                match self { $(Kind::$variant => concat!("docs/kinds/", stringify!($name), ".md")),* }
            }
        }
    };
}

for_each_kind!(define_kinds);

impl Kind {
    /// Kinds a scan detector raises (every one has a folder in crates/analyze/src/kinds/).
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

    #[test]
    fn every_scan_kind_has_an_alert_duration_and_no_probe_kind_does() {
        for &k in Kind::ALL {
            let d = k.alert_for();
            assert_eq!(d.is_some(), k.source() != Source::Probe, "{k}: {d:?}");
            if let Some(d) = d {
                assert!(crate::duration::parse(d).is_ok(), "{k}: alert for {d:?}");
            }
        }
    }

    #[test]
    fn the_scan_only_table_is_the_scan_kinds() {
        macro_rules! names {
            ($($name:ident: $variant:ident, $source:ident, $about:ident, [$($ev:ident),+], $alert:tt;)*) => {
                [$(stringify!($name)),*]
            };
        }
        let table: Vec<&str> = for_each_scan_kind!(names).to_vec();
        let scan: Vec<&str> = Kind::scan_kinds().map(Kind::name).collect();
        assert_eq!(table, scan);
    }
}
