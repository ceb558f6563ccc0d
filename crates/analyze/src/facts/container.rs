//! The `container` object of every finding: which container, pod or
//! systemd unit the process runs in, from its cgroup path (parsed by
//! `unwedge_model::Container`) and the names the runtimes' state files gave.
//! A finding about a network namespace (`pid: null`) names a container
//! when the processes it is about — the owners of its sockets, or every
//! process in that namespace — all run in the same one.

use crate::facts::cgroups::Cgroups;
use crate::Ctx;
use unwedge_model::{Container, Evidence, Finding};

pub fn annotate(ctx: &Ctx, findings: &mut [Finding]) {
    let snap = ctx.snap();
    if snap.cgroups.sets.is_empty() {
        return;
    }
    let cg = Cgroups::new(snap);
    let of = |pid: u32| ctx.last.process(pid).and_then(|p| cg.container(p));
    for f in findings.iter_mut() {
        if f.container.is_some() {
            continue;
        }
        f.container = match f.pid {
            Some(pid) => of(pid),
            None => {
                let pids: Vec<u32> = match &f.evidence {
                    Evidence::EphemeralPortsExhausted(e) => e.owners.iter().map(|o| o.pid).collect(),
                    // Only a namespace that is not the host's belongs to one container.
                    _ => match f.netns {
                        Some(ns) => snap.processes.iter().filter(|p| p.netns == ns).map(|p| p.pid).collect(),
                        None => Vec::new(),
                    },
                };
                // A bare cgroup path says nothing about a namespace: only a
                // recognised container or unit is named here.
                common(pids.into_iter().map(of)).filter(|c| c.runtime.is_some() || c.pod_uid.is_some())
            }
        };
    }
}

/// The container all of them share, if they share one.
fn common(mut it: impl Iterator<Item = Option<Container>>) -> Option<Container> {
    let first = it.next()??;
    it.all(|c| c.as_ref() == Some(&first)).then_some(first)
}
