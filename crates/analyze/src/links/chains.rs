//! Links the findings along a wait chain (the `waits_on` the judges took
//! from the wait graph): a finding whose processes wait on other processes
//! of this host that have findings of their own is caused by those, the
//! next ones toward the end of the chain, so the story is told from where
//! the wait ends. Every finding about a process caught in a cross-process
//! deadlock is caused by the deadlock instead (the two sides of a cycle
//! linked to each other would form a loop).

use unwedge_model::chain::Hop;
use unwedge_model::{Evidence, Finding, Kind};

/// Kinds that say why a process does not answer, so a wait on it is their consequence.
fn explains(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::AcceptStalled
            | Kind::AcceptQueueOverflow
            | Kind::KeepaliveStarvation
            | Kind::UnansweredRequests
            | Kind::StuckThread
            | Kind::ProcessStopped
            | Kind::FdExhaustion
            | Kind::PeerNotReading
            | Kind::CpuThrottled
            | Kind::MemoryPressure
            | Kind::PidLimit
            | Kind::CrossProcessDeadlock
    )
}

/// The hop where the finding's own processes wait (a listener finding's
/// path starts with its clients).
fn own_hop(f: &Finding) -> usize {
    let Some(pid) = f.pid else { return 0 };
    f.waits_on.iter().position(|h| h.pids.contains(&pid)).unwrap_or(0)
}

/// The findings explaining the next processes down the chain from `f`.
fn next_causes(f: &Finding, findings: &[Finding]) -> Vec<String> {
    let hops: &[Hop] = &f.waits_on[own_hop(f)..];
    let own: Vec<u32> = hops.first().map(|h| h.pids.clone()).unwrap_or_default();
    for h in hops {
        if !h.on.leads_on() || h.on.cycle {
            break;
        }
        let found: Vec<&Finding> = findings
            .iter()
            .filter(|g| g.id != f.id && explains(g.kind()) && g.kind() != Kind::CrossProcessDeadlock)
            // Other processes only: a finding's own process's findings are
            // linked to it by `causes` (a listener finding's path starts
            // with its clients, so its own process is down the chain).
            .filter(|g| g.pid.is_some_and(|pid| h.on.pids.contains(&pid) && !own.contains(&pid) && g.pid != f.pid))
            .collect();
        if found.is_empty() {
            continue;
        }
        // Their roots: those no other of them explains.
        let ids: Vec<String> = found
            .iter()
            .filter(|g| !g.caused_by.iter().any(|c| found.iter().any(|o| &o.id == c)))
            .map(|g| g.id.clone())
            .collect();
        return ids;
    }
    Vec::new()
}

pub fn link_chains(findings: &mut [Finding]) {
    // (pids of a deadlock, its id)
    let deadlocks: Vec<(Vec<u32>, String)> = findings
        .iter()
        .filter_map(|f| match &f.evidence {
            Evidence::CrossProcessDeadlock(e) => Some((e.pids.clone(), f.id.clone())),
            _ => None,
        })
        .collect();
    let pid_of: Vec<(String, Option<u32>)> = findings.iter().map(|f| (f.id.clone(), f.pid)).collect();
    let mut next: Vec<Vec<String>> = vec![Vec::new(); findings.len()];
    for (i, f) in findings.iter().enumerate() {
        let in_cycle = deadlocks.iter().any(|(pids, _)| f.pid.is_some_and(|p| pids.contains(&p)));
        if !in_cycle && !f.waits_on.is_empty() && f.kind() != Kind::CrossProcessDeadlock {
            next[i] = next_causes(f, findings);
        }
    }
    for (i, f) in findings.iter_mut().enumerate() {
        if f.kind() == Kind::CrossProcessDeadlock {
            continue;
        }
        let Some((pids, id)) = deadlocks.iter().find(|(pids, _)| f.pid.is_some_and(|p| pids.contains(&p))) else {
            for id in std::mem::take(&mut next[i]) {
                if id != f.id && !f.caused_by.contains(&id) {
                    f.caused_by.push(id);
                }
            }
            continue;
        };
        // A side of a deadlock: its causes among the other sides would
        // loop; what its own process explains stays, the rest is the deadlock.
        let other_side =
            |c: &String| pid_of.iter().any(|(x, p)| x == c && p.is_some_and(|p| pids.contains(&p) && Some(p) != f.pid));
        f.caused_by.retain(|c| !other_side(c));
        if f.caused_by.is_empty() {
            f.caused_by.push(id.clone());
        }
    }
}
