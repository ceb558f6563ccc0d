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

mod judge;
mod words;

use crate::Ctx;
use unwedge_model::Finding;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for j in judge::judge(ctx) {
        let words = words::words(ctx, &j);
        out.push(ctx.finding(j.verdict, words));
    }
}
