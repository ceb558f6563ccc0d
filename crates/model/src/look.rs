//! What a second look re-reads: the few processes and connections a
//! continuous scan could not judge from its comparison with the previous
//! snapshot (see docs/architecture.md, "Continuous mode"). The analysis
//! decides it (`unwedge_analyze::look_plan`); the collector reads it.

/// Processes to read again, and the local ports whose ESTABLISHED
/// connections to dump again, per network namespace; listeners,
/// CLOSE-WAIT and half-open sockets of those namespaces are always dumped
/// again (one filtered dump).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookPlan {
    /// Sorted.
    pub pids: Vec<u32>,
    /// (network namespace, local port), sorted.
    pub ports: Vec<(u64, u16)>,
}

impl LookPlan {
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
    }
}
