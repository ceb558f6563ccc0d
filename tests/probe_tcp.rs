//! `unwedge probe tcp` against real loopback listeners: healthy, refused,
//! a full accept queue, and bad targets.

mod common;
mod probe_support;

use probe_support::{kinds, port_of, probe};
use std::net::TcpListener;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn healthy_listener_is_fast_and_silent() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = l.local_addr().unwrap().to_string();
    let run = probe(&["tcp", &target, "-c", "3", "-i", "0.02", "--json"], LIMIT);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    // The contract's fields.
    assert_eq!(r["target"], target.as_str());
    assert_eq!(r["resolved"][0], "127.0.0.1");
    let s = &r["summary"];
    assert_eq!((s["sent"].as_u64(), s["ok"].as_u64(), s["lost"].as_u64()), (Some(3), Some(3), Some(0)));
    for k in ["min_us", "median_us", "p95_us", "max_us", "stddev_us"] {
        assert!(s[k].is_u64(), "{k}: {s}");
    }
    assert!(s["median_us"].as_u64().unwrap() < 100_000, "loopback connect took {s}");
    let a = r["attempts"].as_array().unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a[0]["seq"], 1);
    assert_eq!(a[0]["ok"], true);
    assert!(a[0]["error"].is_null());
    assert!(r["findings"].as_array().unwrap().is_empty());
    assert!(r.get("timings").is_none(), "timings are HTTP only");
}

#[test]
fn human_output_has_live_lines_and_summary() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = l.local_addr().unwrap().to_string();
    let run = probe(&["tcp", &target, "-c", "2", "-i", "10ms"], LIMIT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("seq=1 time=") && run.stdout.contains("seq=2 time="), "{}", run.stdout);
    assert!(run.stdout.contains("2 connects, 2 ok, 0 lost"), "{}", run.stdout);
    assert!(run.stdout.contains("min/median/p95/max/stddev"), "{}", run.stdout);
}

#[test]
fn refusal_is_told_apart_from_timeout() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let run = probe(&["tcp", &format!("127.0.0.1:{port}"), "-c", "2", "-i", "0.01", "--json"], LIMIT);
    assert_eq!(run.code, 1, "a failed target exits 1: {}", run.stderr);
    let r = run.json();
    for a in r["attempts"].as_array().unwrap() {
        assert_eq!(a["outcome"], "refused", "{a}");
        assert_eq!(a["ok"], false);
        assert!(a["error"].as_str().unwrap().contains("refused"));
    }
    assert_eq!(r["summary"]["lost"], 2);
    assert!(kinds(&r).is_empty(), "a refusal is not a timeout: {r}");
}

#[test]
fn full_accept_queue_times_out() {
    // backlog 1, never accepts, queue filled by the scenario's own clients.
    let srv = common::python("probe_full_backlog.py", &[]);
    let target = format!("127.0.0.1:{}", port_of(&srv.ready));
    let run = probe(&["tcp", &target, "-c", "2", "-i", "0.01", "--timeout", "1.3s", "--json"], LIMIT);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    let k = kinds(&r);
    assert!(k.iter().any(|k| k == "connect_timeout" || k == "syn_retransmit"), "{r}");
    let f = &r["findings"][0];
    assert!(f["pid"].is_null() && f["port"].as_u64().is_some(), "{f}");
    for field in ["severity", "title", "explanation", "evidence", "fix"] {
        assert!(!f[field].is_null(), "{field} missing in {f}");
    }
}

#[test]
fn bad_targets_exit_2_with_one_line() {
    for bad in ["nohost:80", "1.2.3.4:99999", "[::1", "", "127.0.0.1", "http://127.0.0.1:80/"] {
        let run = probe(&["tcp", bad, "--timeout", "2s"], LIMIT);
        assert_eq!(run.code, 2, "{bad:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{bad:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("unwedge: "), "{bad:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{bad:?}: {}", run.stdout);
    }
    for bad in ["", "127.0.0.1:80", "ftp://x/", "http://[::1/", "http://h:99999/"] {
        let run = probe(&["http", bad], LIMIT);
        assert_eq!(run.code, 2, "{bad:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{bad:?}: {}", run.stderr);
    }
    let run = probe(&["tcp", "127.0.0.1:1", "-i", "-1"], LIMIT);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = probe(&["tcp", "127.0.0.1:1", "--timeout", "0"], LIMIT);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn source_port_reuses_one_four_tuple() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = l.local_addr().unwrap().to_string();
    let src = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let run = probe(&["tcp", &target, "-c", "2", "-i", "0.01", "--source-port", &src, "--json"], LIMIT);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for a in run.json()["attempts"].as_array().unwrap() {
        assert_eq!(a["local_port"].to_string(), src, "{a}");
    }
}

#[test]
fn ipv6_loopback() {
    let l = TcpListener::bind("[::1]:0");
    if !common::require("an IPv6 loopback (::1)", l.is_ok()) {
        return;
    }
    let l = l.unwrap();
    let target = format!("[::1]:{}", l.local_addr().unwrap().port());
    let run = probe(&["tcp", &target, "-c", "1", "-6", "--json"], LIMIT);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["resolved"][0], "::1");
    let run = probe(&["tcp", &target, "-c", "1", "-4"], LIMIT);
    assert_eq!(run.code, 2, "an IPv6 literal with -4 is bad input: {}", run.stderr);
}
