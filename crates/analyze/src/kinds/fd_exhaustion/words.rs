//! Says what a process at its fd limit can no longer do, and what to free or raise.

use super::judge::Judged;
use crate::{Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let (e, pct) = (&j.verdict.evidence, j.pct);
    let pid = j.verdict.pid.unwrap_or(0);
    let who = ctx.proc_label(pid);
    let soft = e.soft_limit;
    let there = if e.open_fds as u64 >= soft {
        format!("{who} has reached it.")
    } else {
        format!("{who} is {pct:.0}% of the way there.")
    };
    let held = match (&e.partial_requests, e.unanswered_connections) {
        (Some(pr), _) => format!(
            " What holds them: {} client connections whose client sent a few bytes (at most {}{}) and nothing since — each silent for at least {}, the oldest {} — and that it never answered: it waits for the rest of those requests ({}), so slowloris-like clients pin its fds{}.",
            pr.connections,
            pr.bytes_max,
            match pr.segments_max {
                Some(1) => " in one segment".to_string(),
                Some(n) => format!(" in {n} segments"),
                None => String::new(),
            },
            crate::secs(pr.idle_since_ms),
            crate::secs(pr.oldest_ms),
            if pr.server_waits_in == "thread reading" {
                "a thread blocks reading each"
            } else {
                "its event loop runs and keeps them, busy with nothing else"
            },
            if e.unanswered_connections > pr.connections {
                format!("; {} client connections in all sent it bytes it never answered", e.unanswered_connections)
            } else {
                String::new()
            }
        ),
        (None, 0) => String::new(),
        (None, n) => format!(" {n} of its fds are client connections that sent it bytes it never answered."),
    };
    let slow = if e.unanswered_connections > 0 {
        " Time out clients that hold a connection without finishing their request (nginx client_header_timeout / client_body_timeout, a read deadline), so they cannot pin every fd."
    } else {
        ""
    };
    Words {
        title: format!("{who} uses {} of its {soft} file descriptors ({pct:.0}%)", e.open_fds),
        explanation: format!(
            "When a process reaches its soft RLIMIT_NOFILE every call that makes an fd fails with EMFILE: accept() can no longer take connections{}, so they wait in the kernel's accept queue until it overflows and new clients time out; opening files, pipes and outbound connections fails too. {there}{held}",
            if e.listening_sockets > 0 { " from its listeners" } else { "" },
        ),
        fix: format!(
            "Find what the fds are (ls -l /proc/{pid}/fd | sort by target) and close leaked ones{}.{slow} If the load is real, raise the limit (systemd LimitNOFILE=, ulimit -n, nginx worker_rlimit_nofile, or setrlimit up to the hard limit {}).",
            if e.close_wait_sockets > 0 {
                format!(" ({} are CLOSE-WAIT sockets: see close_wait_leak)", e.close_wait_sockets)
            } else {
                String::new()
            },
            e.hard_limit.map(|h| h.to_string()).unwrap_or_else(|| "unlimited".into())
        ),
    }
}
