//! `fd_exhaustion` — the end state of every leak: at RLIMIT_NOFILE accept()
//! fails with EMFILE, the accept queue fills and new clients time out.
//!
//! Kernel facts: the count of /proc/PID/fd entries against the soft limit
//! from /proc/PID/limits; what holds them: CLOSE-WAIT sockets, and accepted
//! connections whose request was received and never answered (tcp_info
//! bytes_received > 0, bytes_acked 0) — slow clients pinning fds. False alarm avoided: unlimited or unreadable
//! limits, and processes whose fds we could not list, never trigger.

use crate::facts::requests::never_answered;
use crate::Ctx;
use unwedge_model::evidence::FdExhaustion;
use unwedge_model::{Finding, Severity, TcpState};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    let snap = ctx.snap();
    for p in &snap.processes {
        let Some(soft) = p.nofile_soft.filter(|&s| s > 0) else { continue };
        if p.fd_count == 0 {
            continue;
        }
        let pct = p.fd_count as f64 * 100.0 / soft as f64;
        if pct < ctx.t.fd_warning {
            continue;
        }
        let severity = if pct >= ctx.t.fd_critical { Severity::Critical } else { Severity::Warning };
        let close_wait = p.sockets.iter().filter(|fd| ctx.last.state_of(fd.inode) == Some(TcpState::CloseWait)).count();
        let listens = p.sockets.iter().filter(|fd| ctx.last.state_of(fd.inode) == Some(TcpState::Listen)).count();
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
            close_wait_sockets: close_wait,
            listening_sockets: listens,
            unanswered_connections: unanswered,
        };
        let mut f = ctx.finding(severity, Some(p.pid), None, p.netns, ev);
        let who = ctx.proc_label(p.pid);
        f.title = format!("{who} uses {} of its {soft} file descriptors ({pct:.0}%)", p.fd_count);
        let there = if p.fd_count as u64 >= soft {
            format!("{who} has reached it.")
        } else {
            format!("{who} is {pct:.0}% of the way there.")
        };
        let held = if unanswered > 0 {
            format!(" {unanswered} of its fds are client connections whose request it received and never answered.")
        } else {
            String::new()
        };
        f.explanation = format!(
            "When a process reaches its soft RLIMIT_NOFILE every call that makes an fd fails with EMFILE: accept() can no longer take connections{}, so they wait in the kernel's accept queue until it overflows and new clients time out; opening files, pipes and outbound connections fails too. {there}{held}",
            if listens > 0 { " from its listeners" } else { "" },
        );
        let slow = if unanswered > 0 {
            " Time out clients that hold a connection without finishing their request (nginx client_header_timeout / client_body_timeout, a read deadline), so they cannot pin every fd."
        } else {
            ""
        };
        f.fix = format!(
            "Find what the fds are (ls -l /proc/{}/fd | sort by target) and close leaked ones{}.{slow} If the load is real, raise the limit (systemd LimitNOFILE=, ulimit -n, nginx worker_rlimit_nofile, or setrlimit up to the hard limit {}).",
            p.pid,
            if close_wait > 0 { format!(" ({close_wait} are CLOSE-WAIT sockets: see close_wait_leak)") } else { String::new() },
            p.nofile_hard.map(|h| h.to_string()).unwrap_or_else(|| "unlimited".into())
        );
        out.push(f);
    }
}
