//! Decides which processes are near their soft RLIMIT_NOFILE, and what
//! holds their fds.

use crate::facts::requests::never_answered;
use crate::{Ctx, Verdict};
use unwedge_model::evidence::FdExhaustion;
use unwedge_model::{Severity, TcpState};

pub struct Judged {
    pub verdict: Verdict<FdExhaustion>,
    /// Share of the soft limit in use, unrounded.
    pub pct: f64,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let mut out = Vec::new();
    for p in &ctx.snap().processes {
        let Some(soft) = p.nofile_soft.filter(|&s| s > 0) else { continue };
        if p.fd_count == 0 {
            continue;
        }
        let pct = p.fd_count as f64 * 100.0 / soft as f64;
        if pct < ctx.t.fd_warning {
            continue;
        }
        let severity = if pct >= ctx.t.fd_critical { Severity::Critical } else { Severity::Warning };
        let state = |st: TcpState| p.sockets.iter().filter(|fd| ctx.last.state_of(fd.inode) == Some(st)).count();
        let unanswered = p
            .sockets
            .iter()
            .filter_map(|fd| ctx.last.socket(fd.inode))
            .filter(|s| s.state == TcpState::Established && ctx.last.is_served(s))
            .filter(|s| s.info.is_some_and(|i| never_answered(&i)))
            .count();
        let ev = FdExhaustion {
            open_fds: p.fd_count,
            soft_limit: soft,
            hard_limit: p.nofile_hard,
            percent: (pct * 10.0).round() / 10.0,
            sockets: p.sockets.len(),
            close_wait_sockets: state(TcpState::CloseWait),
            listening_sockets: state(TcpState::Listen),
            unanswered_connections: unanswered,
            partial_requests: crate::facts::partial::held(ctx, p),
        };
        out.push(Judged { verdict: Verdict::new(severity, Some(p.pid), None, p.netns, ev), pct });
    }
    out
}
