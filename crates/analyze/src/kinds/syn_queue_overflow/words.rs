//! Says that new SYNs are dropped or answered with cookies, whether a flood
//! or a burst fills the queue, and what to raise or filter.

use super::judge::Judged;
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::{SynPattern, SynQueueOverflow};
use unwedge_model::Severity;

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let (Some(addr), Some(backlog)) = (&e.listen, j.backlog) else { return burst(ctx, e) };
    let (lim, peers) = (e.limit.unwrap_or(0), e.peers.unwrap_or(0));
    let half = e.syn_recv.unwrap_or(0).max(e.half_open_in_first_snapshot.unwrap_or(0));
    let dropping = j.verdict.severity == Severity::Critical;
    let cookies = e.syncookies;
    let who = j.verdict.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "its owner".into());
    let title = format!(
        "SYN queue of {addr} is full ({half}/{lim} half-open from {peers} peers): {}",
        match (dropping, cookies) {
            (true, _) => "new SYNs are dropped",
            (false, Some(c)) if c > 0 => "new SYNs get syncookies",
            _ => "new SYNs are dropped or answered with cookies",
        }
    );
    let what = match e.pattern {
        Some(SynPattern::Flood) => format!(
            "They come from {peers} different addresses and {} of the earlier ones completed: a SYN flood (spoofed or unreachable sources), not clients of {who}.",
            e.completed.map(|c| c.to_string()).unwrap_or_else(|| "none known".into())
        ),
        Some(SynPattern::Burst) => format!(
            "They come from {peers} addresses{}: a burst of real clients faster than the handshakes complete (a slow or lossy path makes each stay half-open longer).",
            e.completed.map(|c| format!(" and {c} of the earlier ones completed")).unwrap_or_default()
        ),
        None => format!("They come from {peers} addresses (one snapshot: whether they complete, a burst, or never do, a flood, is not known)."),
    };
    let action = match cookies {
        Some(0) => "net.ipv4.tcp_syncookies is 0, so the kernel drops every further SYN and clients retransmit after 1 s, 3 s, 7 s… until connect() times out".to_string(),
        Some(2) => "net.ipv4.tcp_syncookies is 2: every SYN gets a cookie".to_string(),
        _ => format!(
            "with net.ipv4.tcp_syncookies on, the kernel answers further SYNs with cookies: those clients still connect, without TCP options such as window scaling{}",
            e.reqq_full_do_cookies_rise.filter(|&c| c > 0).map(|c| format!(" ({c} cookies during the interval)")).unwrap_or_default()
        ),
    };
    let explanation = format!(
        "A listener keeps one request socket per SYN it answered until the client's ACK completes the handshake; the kernel calls its SYN queue full at the listener's backlog ({backlog}{}). {addr} has {half} half-open connections against a limit of {lim}. {what} {action}.",
        if cookies == Some(0) { ", or three quarters of net.ipv4.tcp_max_syn_backlog without syncookies" } else { "" },
    );
    let fix = if e.pattern == Some(SynPattern::Flood) {
        "Keep net.ipv4.tcp_syncookies=1 (the default) so a flood cannot keep clients out; filter the flood upstream (rate-limit SYNs per source, SYNPROXY in iptables/nftables, the provider's DDoS protection). A bigger backlog only buys time.".into()
    } else {
        "Raise the listener's backlog (listen(fd, N); nginx `listen … backlog=N`) together with net.core.somaxconn and net.ipv4.tcp_max_syn_backlog, keep net.ipv4.tcp_syncookies=1, and find why handshakes are slow to complete (a lossy path, a client that connects in bursts: spread or pool its connections).".into()
    };
    Words { title, explanation, fix }
}

fn burst(ctx: &Ctx, e: &SynQueueOverflow) -> Words {
    Words {
        title: format!(
            "a SYN queue overflowed during the {} interval: {} SYNs dropped, {} answered with cookies",
            secs(ctx.interval_ms),
            e.reqq_full_drop_rise.unwrap_or(0),
            e.reqq_full_do_cookies_rise.unwrap_or(0)
        ),
        explanation: "The namespace's TcpExt TCPReqQFullDrop / TCPReqQFullDoCookies counters rose between the two snapshots: some listener's SYN queue (half-open connections) was full, so SYNs were dropped (clients retransmit after 1 s, 3 s, 7 s) or answered with syncookies. No listener was at its limit at the moment of either snapshot, so this was a burst or a short flood.".into(),
        fix: "Run `unwedge scan` again while it happens to find the listener; keep net.ipv4.tcp_syncookies=1, and raise the busy listener's backlog with net.core.somaxconn and net.ipv4.tcp_max_syn_backlog if the bursts are real clients.".into(),
    }
}
