//! Says that a process's connects to one destination get no answer, since
//! when, and what to bound and check.

use super::judge::Judged;
use crate::{secs, Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let who = j.verdict.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "a process".into());
    let (dest, n) = (&e.remote, e.unanswered_whole_interval);
    let oldest = format!("{} {}", if e.oldest_is_lower_bound { "at least" } else { "about" }, secs(e.oldest_first_syn_ms));
    let interval = secs(ctx.interval_ms);
    let blocked = match e.threads_in_connect.len() {
        0 => String::new(),
        1 => format!(" Thread {} is blocked in connect() on one of them.", e.threads_in_connect[0]),
        k => format!(" {k} of its threads are blocked in connect() on them."),
    };
    let gives_up = match e.syn_retries {
        Some(r) => format!(
            " The kernel fails such a connect (ETIMEDOUT) only once net.ipv4.tcp_syn_retries ({r}) rounds of backoff have passed (about 127 s with the default 6); until then whatever waits on it waits too."
        ),
        None => String::new(),
    };
    let plural = if n == 1 { "" } else { "s" };
    let here = match &e.local_listener {
        Some(pids) => {
            let who: Vec<String> = pids.iter().map(|&p| ctx.proc_label(p)).collect();
            format!(
                " {dest} is a listener on this host ({}) whose queue is neither full nor dropping: the SYNs are lost before they reach it, so a netfilter rule of that network namespace (iptables, nft) is where they go.",
                if who.is_empty() { "held by no process unwedge could read".to_string() } else { who.join(", ") }
            )
        }
        None => String::new(),
    };
    Words {
        title: format!(
            "{who}: {n} connect{plural} to {dest} got no answer, the oldest for {oldest} (SYN-SENT, SYN retransmitted up to {} times)",
            e.syn_retransmits
        ),
        explanation: format!(
            "{who} opened {connecting} connection{cplural} to {dest} that are still in SYN-SENT: the kernel sent the SYN and retransmitted it (up to {r} times) and nothing came back — no SYN-ACK, no reset, no ICMP error; {n} of them were in SYN-SENT in both snapshots, {interval} apart, and the oldest sent its first SYN {oldest} ago. A destination that is down answers with a reset (connection refused) and an unreachable one with an ICMP error; silence is a black hole: a firewall or security group that drops the SYNs, a route to nowhere, or a host that is gone.{here}{blocked}{gives_up}",
            connecting = e.connecting,
            cplural = if e.connecting == 1 { "" } else { "s" },
            r = e.syn_retransmits,
        ),
        fix: format!(
            "Check the path to {dest}: a firewall or security-group rule that drops SYNs to that port (iptables/nft DROP, a cloud security group), the route to it (`ip route get {ip}`), whether it is still at that address. Give connects to it a short timeout (nginx proxy_connect_timeout, a client's connect timeout, a socket deadline) so a black hole fails fast instead of holding requests for minutes, and fail over to another upstream where there is one.",
            ip = dest.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']'])).unwrap_or(dest),
        ),
    }
}
