//! Latency accuracy (story 4's chaos-engineering use) inside a private
//! network namespace made by the test (`unshare -n`: its own loopback,
//! nothing leaves it). No netem here, so netfilter injects the faults:
//! - SYN drops (iptables statistic): the retransmitted SYN arrives ~1 s later;
//! - a 50 ms SYN-ACK delay (NFQUEUE + tests/scenarios/probe_nfqueue_delay.py).
//!
//! Needs root, unshare, ip and iptables; without them each test fails under
//! UNWEDGE_REQUIRE_LIVE=1 (CI) and is skipped loudly otherwise.

mod common;
mod probe_support;

use probe_support::{kinds, run_limited, which};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// Runs the netns scenario; None (see `common::require`) when it cannot run here.
fn netns(mode: &str, args: &[&str]) -> Option<Value> {
    if !common::require("root (for a network namespace and iptables)", common::is_root()) {
        return None;
    }
    for tool in ["unshare", "ip", "iptables", "python3"] {
        if !common::require(&format!("{tool} on PATH or in /usr/sbin, /sbin"), which(tool).is_some()) {
            return None;
        }
    }
    let mut cmd = Command::new(which("unshare").unwrap());
    cmd.arg("-n")
        .arg("bash")
        .arg(common::scenario_path("probe_netns.sh"))
        .arg(mode)
        .arg(env!("CARGO_BIN_EXE_unwedge"))
        .args(args);
    // iptables and nginx live in sbin, which a test runner's PATH may lack.
    let path = format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path);
    let run = run_limited(cmd, Duration::from_secs(30));
    let set_up = !(run.code == 77 || run.stderr.contains("Operation not permitted") && run.stdout.is_empty());
    if !common::require(
        &format!("a network namespace with iptables (setting it up said: {})", run.stderr.trim()),
        set_up,
    ) {
        return None;
    }
    assert!(run.code == 0 || run.code == 1, "scenario failed ({}): {}\n{}", run.code, run.stdout, run.stderr);
    Some(run.json())
}

fn times(r: &Value) -> Vec<u64> {
    r["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["connect_us"].as_u64().expect("every connect succeeded"))
        .collect()
}

#[test]
fn plain_loopback_is_sub_millisecond() {
    let Some(r) = netns("none", &["-c", "5", "-i", "0.02"]) else { return };
    assert!(kinds(&r).is_empty(), "{r}");
    let med = r["summary"]["median_us"].as_u64().unwrap();
    assert!(med < 1_000, "median {med} us on a bare loopback");
}

#[test]
fn dropped_syns_show_as_syn_retransmit_at_one_second() {
    let Some(r) = netns("drop", &["-c", "4", "-i", "0.02"]) else { return };
    let t = times(&r);
    // Every other connect loses its first SYN (see probe_netns.sh).
    for (i, us) in t.iter().enumerate() {
        if i % 2 == 0 {
            assert!((900_000..1_600_000).contains(us), "attempt {} took {us} us: {t:?}", i + 1);
        } else {
            assert!(*us < 100_000, "attempt {} took {us} us: {t:?}", i + 1);
        }
    }
    assert_eq!(kinds(&r), ["syn_retransmit"], "{r}");
    assert_eq!(r["findings"][0]["evidence"]["slow_seqs"], serde_json::json!([1, 3]));
}

#[test]
fn fifty_ms_syn_ack_delay_reads_fifty_ms() {
    let Some(r) = netns("delay", &["-c", "7", "-i", "0.02"]) else { return };
    let med = r["summary"]["median_us"].as_u64().unwrap();
    assert!((50_000..=60_000).contains(&med), "median {med} us, attempts {:?}", times(&r));
    assert!(kinds(&r).is_empty(), "{r}");
}
