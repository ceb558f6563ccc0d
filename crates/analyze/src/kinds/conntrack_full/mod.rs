//! `conntrack_full` — the connection-tracking table is full: the kernel
//! drops the first packet of every new flow ("nf_conntrack: table full,
//! dropping packet" in dmesg), so new connections time out — through NAT,
//! a stateful firewall, Docker's port mapping — while established ones work.
//!
//! Kernel facts: net.netfilter.nf_conntrack_count is the namespace's
//! entries, nf_conntrack_max the limit (global: a child namespace reads it
//! and may not set it); once count passes max, a new flow first evicts an
//! unassured entry (early_drop) and otherwise is dropped (drop), both in
//! /proc/net/stat/nf_conntrack per CPU, cumulative. Read from inside each
//! namespace, as its sockets are.
//!
//! False alarms avoided: a host without nf_conntrack loaded (no sysctl) is
//! silent; the drop counters count only when they rise during the
//! interval; insert_failed alone rises on harmless races (two packets of a
//! new UDP flow on two CPUs) and raises nothing; a table well below max
//! (its healthy twin: a busy NAT host at half its table) is silent.

use crate::facts::cgroups::{pct, rise};
use crate::Ctx;
use unwedge_model::evidence::ConntrackFull;
use unwedge_model::{Finding, Severity};

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
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
        let mut f = ctx.finding(severity, None, None, ns.inode, ev);
        f.title = format!(
            "connection-tracking table {} ({} of {} entries, {percent:.0}%){}",
            if percent >= 100.0 { "is full" } else { "is nearly full" },
            ct.count,
            ct.max,
            match (drop, early) {
                (Some(d), _) if d > 0 => format!(": {d} new flows dropped during the interval"),
                (_, Some(e)) if e > 0 => format!(": {e} entries evicted early during the interval"),
                _ => String::new(),
            }
        );
        f.explanation = format!(
            "Netfilter tracks every flow (TCP, UDP, ICMP) that passes a stateful rule, NAT or Docker/Kubernetes port mapping, in one table per namespace limited by net.netfilter.nf_conntrack_max ({}). With {} entries, a new flow first evicts an entry that never saw a reply (early_drop) and, when there is none, its first packet is dropped (\"nf_conntrack: table full, dropping packet\" in dmesg): clients' SYNs vanish and connect() times out after retries, while established connections carry on. Entries outlive their flows (TIME-WAIT 120 s, ESTABLISHED 5 days, UDP 30-120 s), so many short connections fill it.",
            ct.max, ct.count
        );
        f.fix = "Raise net.netfilter.nf_conntrack_max (in the host's namespace; each entry costs ~320 bytes) and net.netfilter.nf_conntrack_buckets with it; shorten timeouts that hold dead flows (nf_conntrack_tcp_timeout_time_wait, _established); exempt traffic that needs no tracking (iptables -t raw … -j NOTRACK / CT --notrack, e.g. a busy local DNS or loopback); find what opens so many flows (`conntrack -L | awk '{print $5}' | sort | uniq -c | sort -n`), often a client without keep-alive.".into();
        out.push(f);
    }
}
