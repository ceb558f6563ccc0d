//! What every judge sees: the newest snapshot's index, the oldest one's
//! when the scan took two, the thresholds and the interval; and how a
//! judged result becomes a finding.

use crate::facts::index::Index;
use crate::Thresholds;
use unwedge_model::{Evidence, Finding, Process, Severity, Snapshot};

/// What every detector sees: the newest snapshot, and the oldest one when
/// the scan took two.
pub struct Ctx<'a> {
    pub last: Index<'a>,
    pub first: Option<Index<'a>>,
    pub t: &'a Thresholds,
    pub interval_ms: u64,
}

impl Ctx<'_> {
    /// A finding about process `pid` (or the host, for `None`), with its comm
    /// and, when not the host's, the network namespace filled in.
    pub fn finding(
        &self,
        severity: Severity,
        pid: Option<u32>,
        port: Option<u16>,
        netns: u64,
        evidence: impl Into<Evidence>,
    ) -> Finding {
        let mut f = Finding::new(severity, evidence);
        f.comm = pid.and_then(|p| self.last.process(p)).map(|p| p.comm.clone());
        f.pid = pid;
        f.port = port;
        f.netns = (netns != 0 && netns != self.last.snap.host_netns).then_some(netns);
        f
    }

    pub fn snap(&self) -> &Snapshot {
        self.last.snap
    }

    pub fn proc_label(&self, pid: u32) -> String {
        match self.last.process(pid) {
            Some(p) => describe(p),
            None => format!("pid {pid}"),
        }
    }
}

pub fn describe(p: &Process) -> String {
    format!("{} (pid {})", p.comm, p.pid)
}

/// A count of milliseconds for titles and explanations (one spelling for
/// all of unwedge: `unwedge_model::fmt`).
pub fn secs(ms: u64) -> String {
    unwedge_model::fmt::measured_ms(ms)
}
