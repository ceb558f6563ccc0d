//! The scan report: the JSON contract of `unwedge scan --json`
//! (../shared/CONTRACT.md). Field names here are the wire names.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Warning and critical findings make the exit status 1.
    pub fn is_alarm(self) -> bool {
        self >= Severity::Warning
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub kind: String,
    pub severity: Severity,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub tid: Option<u32>,
    pub port: Option<u16>,
    /// Inode of the network namespace, when it is not the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<u64>,
    pub title: String,
    pub explanation: String,
    pub evidence: Value,
    pub fix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Coverage {
    pub processes: usize,
    pub threads: usize,
    pub sockets: usize,
    /// Network namespaces whose sockets were dumped.
    #[serde(default)]
    pub netns: usize,
    pub skipped: Vec<crate::Skipped>,
    /// Detectors that did not run, and how the data was read.
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub unwedge_version: String,
    pub host: String,
    /// RFC 3339, UTC.
    pub taken_at: String,
    pub interval_ms: u64,
    pub duration_ms: u64,
    pub coverage: Coverage,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn has_alarm(&self) -> bool {
        self.findings.iter().any(|f| f.severity.is_alarm())
    }
}

/// Most severe first; then grouped by process, then by port, so that a
/// process's findings stay together in every renderer.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.pid.cmp(&b.pid))
            .then(a.kind.cmp(&b.kind))
            .then(a.port.cmp(&b.port))
            .then(a.tid.cmp(&b.tid))
    });
}
