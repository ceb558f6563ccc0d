//! The scan report: the JSON contract of `unwedge scan --json`
//! (docs/contract.md). Field names here are the wire names.

use crate::{Container, Evidence, Kind};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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

/// One finding. Its kind is its evidence's: the two cannot disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub tid: Option<u32>,
    pub port: Option<u16>,
    /// A unix listener's path (`@name` for an abstract one), where a TCP
    /// listener's finding has `port`.
    pub path: Option<String>,
    /// Inode of the network namespace, when it is not the host's.
    pub netns: Option<u64>,
    pub title: String,
    pub explanation: String,
    pub evidence: Evidence,
    pub fix: String,
    /// Unique within one report ("f3"); set by the analysis' second pass.
    pub id: String,
    /// Ids of findings that explain this one.
    pub caused_by: Vec<String>,
    /// Id of the group of sibling findings this one belongs to.
    pub group: Option<String>,
    /// The container (or systemd unit, or plain cgroup) the process runs in.
    pub container: Option<Container>,
    /// What its processes wait on, followed across processes to the end of
    /// the chain (empty when the wait stays inside one process).
    pub waits_on: Vec<crate::chain::Hop>,
}

impl Finding {
    /// A finding with no text yet; the caller fills title, explanation and fix.
    pub fn new(severity: Severity, evidence: impl Into<Evidence>) -> Finding {
        Finding {
            severity,
            pid: None,
            comm: None,
            tid: None,
            port: None,
            path: None,
            netns: None,
            title: String::new(),
            explanation: String::new(),
            evidence: evidence.into(),
            fix: String::new(),
            id: String::new(),
            caused_by: Vec::new(),
            group: None,
            container: None,
            waits_on: Vec::new(),
        }
    }

    pub fn kind(&self) -> Kind {
        self.evidence.kind()
    }
}

/// The wire form, field order as in the contract.
#[derive(Serialize)]
struct WireOut<'a> {
    kind: Kind,
    severity: Severity,
    pid: Option<u32>,
    comm: &'a Option<String>,
    tid: Option<u32>,
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    netns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: &'a Option<Container>,
    title: &'a str,
    explanation: &'a str,
    evidence: &'a Evidence,
    fix: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    id: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    caused_by: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    group: &'a Option<String>,
    #[serde(skip_serializing_if = "<[crate::chain::Hop]>::is_empty")]
    waits_on: &'a [crate::chain::Hop],
}

#[derive(Deserialize)]
struct WireIn {
    kind: Kind,
    severity: Severity,
    pid: Option<u32>,
    comm: Option<String>,
    tid: Option<u32>,
    port: Option<u16>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    netns: Option<u64>,
    #[serde(default)]
    container: Option<Container>,
    title: String,
    explanation: String,
    evidence: Value,
    fix: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    caused_by: Vec<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    waits_on: Vec<crate::chain::Hop>,
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireOut {
            kind: self.kind(),
            severity: self.severity,
            pid: self.pid,
            comm: &self.comm,
            tid: self.tid,
            port: self.port,
            path: &self.path,
            netns: self.netns,
            container: &self.container,
            title: &self.title,
            explanation: &self.explanation,
            evidence: &self.evidence,
            fix: &self.fix,
            id: &self.id,
            caused_by: &self.caused_by,
            group: &self.group,
            waits_on: &self.waits_on,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Finding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireIn::deserialize(d)?;
        let evidence = Evidence::from_json(w.kind, w.evidence).map_err(serde::de::Error::custom)?;
        Ok(Finding {
            severity: w.severity,
            pid: w.pid,
            comm: w.comm,
            tid: w.tid,
            port: w.port,
            path: w.path,
            netns: w.netns,
            title: w.title,
            explanation: w.explanation,
            evidence,
            fix: w.fix,
            id: w.id,
            caused_by: w.caused_by,
            group: w.group,
            container: w.container,
            waits_on: w.waits_on,
        })
    }
}

/// Sibling findings of one kind that fail the same way (docs/contract.md: "Links and groups").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub id: String,
    pub kind: Kind,
    /// Oldest process first.
    pub pids: Vec<u32>,
    /// The headline: how many processes of which program, failing how.
    pub title: String,
    /// The parent they share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    /// The program they run (the script for an interpreter).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub program: String,
    /// Age of each process, seconds, in the order of `pids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ages_s: Vec<u64>,
    /// The id of the finding that stands for all (the human report shows its evidence once).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub representative: String,
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
    /// Groups of sibling findings (docs/contract.md: "Links and groups").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

impl Report {
    pub fn has_alarm(&self) -> bool {
        self.findings.iter().any(|f| f.severity.is_alarm())
    }

    /// The report as stories, in the order every renderer tells them.
    pub fn story(&self) -> crate::story::Story<'_> {
        crate::story::Story::of(self)
    }
}

/// Most severe first; then grouped by process, then by port, so that a
/// process's findings stay together in every renderer.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.pid.cmp(&b.pid))
            .then(a.kind().name().cmp(b.kind().name()))
            .then(a.port.cmp(&b.port))
            .then(a.tid.cmp(&b.tid))
    });
}
