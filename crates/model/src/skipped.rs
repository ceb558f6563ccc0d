//! What a scan could not read, and why: the report's `coverage.skipped`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Skipped {
    pub pid: u32,
    pub reason: SkipReason,
}

/// Why a process is in `coverage.skipped`; serialised as the words a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    PermissionDenied,
    Unreadable,
    /// Its /proc reads hung (a thread stuck in the kernel holding its mmap lock).
    TimedOut,
    /// The scan's deadline came before it was read.
    DeadlineReached,
    /// Its fds could not be listed (the rest was read).
    Fds(Box<SkipReason>),
    /// A reason this version does not know (a snapshot from a newer one).
    Other(String),
}

impl SkipReason {
    pub fn text(&self) -> String {
        match self {
            SkipReason::PermissionDenied => "permission denied".into(),
            SkipReason::Unreadable => "unreadable".into(),
            SkipReason::TimedOut => "timed out reading /proc".into(),
            SkipReason::DeadlineReached => "not read: scan deadline reached".into(),
            SkipReason::Fds(r) => format!("fds: {}", r.text()),
            SkipReason::Other(s) => s.clone(),
        }
    }

    pub fn parse(s: &str) -> SkipReason {
        match s {
            "permission denied" => SkipReason::PermissionDenied,
            "unreadable" => SkipReason::Unreadable,
            "timed out reading /proc" => SkipReason::TimedOut,
            "not read: scan deadline reached" => SkipReason::DeadlineReached,
            _ => match s.strip_prefix("fds: ") {
                Some(rest) => SkipReason::Fds(Box::new(SkipReason::parse(rest))),
                None => SkipReason::Other(s.into()),
            },
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for SkipReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for SkipReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SkipReason::parse(&String::deserialize(d)?))
    }
}
