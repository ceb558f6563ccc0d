//! Decides which network namespaces' connection-tracking tables are full
//! or drop new flows.

use crate::facts::cgroups::{pct, rise};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::ConntrackFull;
use unwedge_model::Severity;

pub struct Judged {
    pub verdict: Verdict<ConntrackFull>,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = Vec::new();
    for ns in &ctx.snap().netns {
        let Some(ct) = ns.conntrack else { continue };
        if ct.max == 0 {
            continue; // no limit
        }
        let before = ctx
            .first
            .as_ref()
            .and_then(|f| f.snap.netns.iter().find(|n| n.inode == ns.inode))
            .and_then(|n| n.conntrack);
        let r = |a: fn(&unwedge_model::Conntrack) -> Option<u64>| before.and_then(|b| rise(a(&b), a(&ct)));
        let (drop, early, insert_failed) = (r(|c| c.drop), r(|c| c.early_drop), r(|c| c.insert_failed));
        let percent = pct(ct.count as f64, ct.max as f64);
        let dropped = drop.unwrap_or(0) > 0;
        if !(percent >= ctx.t.conntrack_warning || dropped || early.unwrap_or(0) > 0) {
            continue;
        }
        let severity = if dropped { Severity::Critical } else { Severity::Warning };
        let ev = ConntrackFull {
            count: ct.count,
            max: ct.max,
            percent,
            drop_rise: drop,
            early_drop_rise: early,
            insert_failed_rise: insert_failed,
            interval_ms: ctx.interval_ms,
        };
        out.push(Judged { verdict: Verdict::new(severity, None, None, ns.inode, ev) });
    }
    out
}
