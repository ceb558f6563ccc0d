//! Decides which processes have connects to one destination that stayed in
//! SYN-SENT, retransmitting, through the interval.

use crate::facts::connects;
use crate::facts::index::endpoint;
use crate::{Ctx, Verdict};
use unwedge_model::evidence::ConnectUnanswered;
use unwedge_model::{Severity, TcpState};

pub struct Judged {
    pub verdict: Verdict<ConnectUnanswered>,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    if ctx.first.is_none() {
        return Vec::new();
    }
    // Only processes holding a SYN-SENT socket: few on any host.
    let mut pids: Vec<u32> = ctx
        .snap()
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::SynSent && s.inode != 0)
        .flat_map(|s| ctx.last.owners_of(s.inode).iter().copied())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let mut out = Vec::new();
    for pid in pids {
        let Some(p) = ctx.last.process(pid) else { continue };
        // A listener on this host that drops them itself is told by its own findings.
        for u in connects::unanswered(ctx, p).into_iter().filter(|u| !u.local_drops) {
            let syn_retries = ctx.snap().netns.iter().find(|n| n.inode == u.netns).and_then(|n| n.syn_retries);
            let ev = ConnectUnanswered {
                remote: endpoint(u.peer.ip(), u.peer.port()),
                connecting: u.connecting.len(),
                unanswered_whole_interval: u.whole_interval,
                syn_retransmits: u.syn_retransmits,
                oldest_first_syn_ms: u.oldest_first_syn_ms,
                oldest_is_lower_bound: u.lower_bound,
                syn_retries,
                threads_in_connect: u.threads_in_connect.clone(),
                local_listener: u.local.map(|l| ctx.last.owners_of(l.inode).to_vec()),
                cmdline: p.cmdline.clone(),
            };
            out.push(Judged { verdict: Verdict::new(Severity::Warning, Some(pid), None, u.netns, ev) });
        }
    }
    out
}
