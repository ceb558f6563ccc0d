//! Says how full the table is, what a full table does to new flows, and how to make room.

use super::judge::Judged;
use crate::{Ctx, Words};

pub fn words(_ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let percent = e.percent;
    Words {
        title: format!(
            "connection-tracking table {} ({} of {} entries, {percent:.0}%){}",
            if percent >= 100.0 { "is full" } else { "is nearly full" },
            e.count,
            e.max,
            match (e.drop_rise, e.early_drop_rise) {
                (Some(d), _) if d > 0 => format!(": {d} new flows dropped during the interval"),
                (_, Some(x)) if x > 0 => format!(": {x} entries evicted early during the interval"),
                _ => String::new(),
            }
        ),
        explanation: format!(
            "Netfilter tracks every flow (TCP, UDP, ICMP) that passes a stateful rule, NAT or Docker/Kubernetes port mapping, in one table per namespace limited by net.netfilter.nf_conntrack_max ({}). With {} entries, a new flow first evicts an entry that never saw a reply (early_drop) and, when there is none, its first packet is dropped (\"nf_conntrack: table full, dropping packet\" in dmesg): clients' SYNs vanish and connect() times out after retries, while established connections carry on. Entries outlive their flows (TIME-WAIT 120 s, ESTABLISHED 5 days, UDP 30-120 s), so many short connections fill it.",
            e.max, e.count
        ),
        fix: "Raise net.netfilter.nf_conntrack_max (in the host's namespace; each entry costs ~320 bytes) and net.netfilter.nf_conntrack_buckets with it; shorten timeouts that hold dead flows (nf_conntrack_tcp_timeout_time_wait, _established); exempt traffic that needs no tracking (iptables -t raw … -j NOTRACK / CT --notrack, e.g. a busy local DNS or loopback); find what opens so many flows (`conntrack -L | awk '{print $5}' | sort | uniq -c | sort -n`), often a client without keep-alive.".into(),
    }
}
