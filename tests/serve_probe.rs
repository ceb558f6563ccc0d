//! Live tests of the probe endpoints of `unwedge serve`: they work on
//! loopback targets, refuse targets outside --allow-target (by address and
//! by a name's resolved address) before sending anything, cap their inputs,
//! and limit each client.

mod common;
mod serve_support;

use common::python;
use serve_support::Server;
use std::time::{Duration, Instant};

#[test]
fn tcp_probe_measures_a_loopback_listener() {
    let server = Server::start(&[]);
    let idle = python("idle_listener.py", &[]);
    let port = idle.ready["port"].as_u64().unwrap();
    let r = server.get(&format!("/v1/probe/tcp?target=127.0.0.1:{port}&count=3&interval=0"));
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["probe"], "tcp");
    assert_eq!(v["target"], format!("127.0.0.1:{port}"));
    assert_eq!(v["summary"]["sent"], 3);
    assert_eq!(v["summary"]["ok"], 3, "{v}");
    assert!(v["summary"]["median_us"].as_u64().is_some());

    // count is capped at 20; a name is resolved, then the address is checked.
    let r = server.get(&format!("/v1/probe/tcp?target=localhost:{port}&count=500&interval=0&timeout=60s"));
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["summary"]["sent"], 20, "{v}");
    assert_eq!(v["target"], format!("localhost:{port}"));
    assert!(v["attempts"].as_array().unwrap().iter().all(|a| {
        let addr = a["addr"].as_str().unwrap();
        addr.starts_with("127.") || addr.starts_with("[::1]")
    }));
}

#[test]
fn targets_outside_the_allowlist_are_refused_before_any_packet() {
    let server = Server::start(&[]);
    // TEST-NET-1: a connect would hang until the timeout; a refusal is immediate.
    for q in [
        "/v1/probe/tcp?target=192.0.2.1:80",
        "/v1/probe/tcp?target=[2001:db8::1]:80",
        "/v1/probe/tcp?target=[::ffff:192.0.2.1]:80",
        "/v1/probe/http?url=http%3A%2F%2F192.0.2.1%2F",
    ] {
        let t = Instant::now();
        let r = server.get(q);
        assert_eq!(r.status, 403, "{q}: {r:?}");
        assert!(r.json()["error"].as_str().unwrap().contains("--allow-target"), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(1), "{q} took {:?}: was something sent?", t.elapsed());
    }

    // A name that resolves to a disallowed address is refused too.
    let strict = Server::start(&["--allow-target", "10.0.0.0/8"]);
    let idle = python("idle_listener.py", &[]);
    let port = idle.ready["port"].as_u64().unwrap();
    for q in [format!("/v1/probe/tcp?target=localhost:{port}"), format!("/v1/probe/http?url=http://localhost:{port}/")]
    {
        let r = strict.get(&q);
        assert_eq!(r.status, 403, "{q}: {r:?}");
        assert!(r.json()["error"].as_str().unwrap().contains("localhost resolves to"), "{r:?}");
    }
    let r = strict.get(&format!("/v1/probe/tcp?target=127.0.0.1:{port}"));
    assert_eq!(r.status, 403);
}

#[test]
fn bad_probe_parameters_are_400() {
    let server = Server::start(&[]);
    for q in [
        "/v1/probe/tcp",
        "/v1/probe/tcp?target=nohost",
        "/v1/probe/tcp?target=127.0.0.1:80&count=0",
        "/v1/probe/tcp?target=127.0.0.1:80&count=x",
        "/v1/probe/tcp?target=127.0.0.1:80&timeout=0",
        "/v1/probe/tcp?target=127.0.0.1:80&timeout=soon",
        "/v1/probe/tcp?target=127.0.0.1:80&evil=1",
        "/v1/probe/http",
        "/v1/probe/http?url=ftp://127.0.0.1/",
        "/v1/probe/http?url=http://127.0.0.1/&insecure=maybe",
    ] {
        let r = server.get(q);
        assert_eq!(r.status, 400, "{q}: {r:?}");
        assert!(r.json()["error"].is_string());
    }
}

#[test]
fn http_probe_names_keepalive_starvation_through_the_api() {
    let server = Server::start(&[]);
    let healthy = python("healthy_keepalive.py", &[]);
    let port = healthy.ready["port"].as_u64().unwrap();
    let r = server.get(&format!("/v1/probe/http?url=http%3A%2F%2F127.0.0.1%3A{port}%2F"));
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["http"]["response"]["status"], 200, "{v}");
    assert!(common::alarms(&v).is_empty(), "healthy server: {v}");

    // One connection at a time: the probe's idle keep-alive connection holds it.
    let starved = python("probe_http_server.py", &[]);
    let port = starved.ready["port"].as_u64().unwrap();
    let r = server.get(&format!("/v1/probe/http?url=http://127.0.0.1:{port}/"));
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert!(!common::findings(&v, "keepalive_starvation").is_empty(), "{v}");
}

#[test]
fn each_client_is_rate_and_concurrency_limited() {
    let server = Server::start(&[]);
    let idle = python("idle_listener.py", &[]);
    let port = idle.ready["port"].as_u64().unwrap();
    // Concurrency: three slow probes (3 connects 1 s apart, ~2 s each) sent at
    // once from one client, which may run two at a time: at least one is
    // refused with 429, at least one runs. (Which one loses the race is
    // not ours to fix, so no particular request is expected to win.)
    let addr = server.addr;
    let slow = format!("/v1/probe/tcp?target=127.0.0.1:{port}&count=3&interval=1s");
    let concurrent: Vec<_> = (0..3)
        .map(|_| {
            let q = slow.clone();
            std::thread::spawn(move || {
                serve_support::request(addr, &format!("GET {q} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = concurrent.into_iter().map(|b| b.join().unwrap()).collect();
    assert!(statuses.contains(&429), "a third concurrent probe from one client was not refused: {statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    let quick = format!("/v1/probe/tcp?target=127.0.0.1:{port}&count=1");
    // Rate: a burst of 10, then 1 per second. 25 quick probes in well under
    // 15 s must meet a 429.
    let t = Instant::now();
    let statuses: Vec<u16> = (0..25).map(|_| server.get(&quick).status).collect();
    assert!(t.elapsed() < Duration::from_secs(14), "too slow to test the rate: {:?}", t.elapsed());
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
}
