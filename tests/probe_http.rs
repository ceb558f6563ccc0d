//! `unwedge probe http` against real software on loopback: Python's
//! http.server (single-threaded: keep-alive starvation; threading: silent),
//! a server without Content-Type, nginx over TLS, and a TLS server that never
//! answers close_notify.

mod common;
mod probe_support;

use probe_support::{kinds, port_of, probe, which};
use serde_json::Value;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn alarms(r: &Value) -> Vec<&Value> {
    r["findings"].as_array().unwrap().iter().filter(|f| f["severity"] != "info").collect()
}

#[test]
fn single_threaded_keepalive_server_starves() {
    // Story 3: one slot, held by an idle keep-alive connection.
    let srv = common::python("probe_http_server.py", &[]);
    let url = format!("http://127.0.0.1:{}/", port_of(&srv.ready));
    let run = probe(&["http", &url, "--starvation-wait", "1s", "--json"], LIMIT);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert_eq!(kinds(&r), ["keepalive_starvation"], "{r}");
    let f = &r["findings"][0];
    assert_eq!(f["severity"], "critical");
    assert!(f["pid"].is_null());
    let ev = &f["evidence"];
    assert!(ev["second_waited_us"].as_u64().unwrap() >= 900_000, "{ev}");
    assert!(ev["second_answered_after_first_closed_us"].as_u64().unwrap() < 1_000_000, "{ev}");
    assert!(ev["first_ttfb_us"].is_u64(), "{ev}");
    // Contract: HTTP adds timings.
    let t = &r["timings"];
    for k in ["dns_us", "connect_us", "ttfb_us", "total_us"] {
        assert!(t[k].is_u64(), "{k}: {t}");
    }
    assert!(t["tls_us"].is_null());
    assert_eq!(r["http"]["response"]["status"], 200);
    assert_eq!(r["attempts"].as_array().unwrap().len(), 2);
}

#[test]
fn starvation_in_human_output() {
    let srv = common::python("probe_http_server.py", &[]);
    let url = format!("http://127.0.0.1:{}/", port_of(&srv.ready));
    let run = probe(&["http", &url, "--starvation-wait", "500ms"], LIMIT);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("keepalive_starvation"), "{}", run.stdout);
    assert!(run.stdout.contains("Evidence:") && run.stdout.contains("Fix:"), "{}", run.stdout);
    assert!(run.stdout.contains("HTTP/1.1 200 OK"), "{}", run.stdout);
}

#[test]
fn threading_server_is_silent() {
    let srv = common::python("probe_http_server.py", &["--threading"]);
    let url = format!("http://127.0.0.1:{}/", port_of(&srv.ready));
    let run = probe(&["http", &url, "--json"], LIMIT);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert!(alarms(&r).is_empty(), "{r}");
    let k = &r["http"]["keepalive"];
    assert_eq!(k["checked"], true, "the check must have run: {k}");
    assert_eq!(k["second_answered_while_first_open"], true, "{k}");
}

#[test]
fn missing_content_type_is_flagged() {
    let srv = common::python("probe_http_server.py", &["--threading", "--no-content-type"]);
    let url = format!("http://127.0.0.1:{}/", port_of(&srv.ready));
    let run = probe(&["http", &url, "--json"], LIMIT);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    assert_eq!(kinds(&r), ["missing_content_type"], "{r}");
    assert_eq!(r["findings"][0]["severity"], "warning");
    assert_eq!(r["findings"][0]["evidence"]["body_bytes"], 27);
}

#[test]
fn tls_server_ignoring_close_notify_is_slow_to_shut_down() {
    if !common::require("openssl (apt-get install openssl)", which("openssl").is_some()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = probe_support::test_pki(dir.path()).expect("openssl");
    let srv = common::python("probe_tls_server.py", &[cert.to_str().unwrap(), key.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/", port_of(&srv.ready));
    let run = probe(&["http", &url, "--insecure", "--timeout", "1.5s", "--json"], LIMIT);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert_eq!(kinds(&r), ["slow_tls_shutdown"], "{r}");
    let close = &r["http"]["tls"]["close"];
    assert_eq!(close["outcome"], "no_answer", "{close}");
    assert!(r["timings"]["tls_us"].is_u64());
}

/// nginx over TLS with the test's certificate, on a free port.
fn start_nginx(
    nginx: &std::path::Path,
    dir: &std::path::Path,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> (common::Child, u16) {
    common::start_nginx(nginx, dir, 1, |port| {
        format!(
            " server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {};\n  ssl_certificate_key {};\n\
             location / {{ default_type text/plain; return 200 \"hello from nginx\\n\"; }}\n }}",
            cert.display(),
            key.display()
        )
    })
}

#[test]
fn nginx_tls_timings_without_slow_shutdown() {
    let nginx = which("nginx");
    if !common::require("nginx (apt-get install nginx-light)", nginx.is_some())
        || !common::require("openssl (apt-get install openssl)", which("openssl").is_some())
    {
        return;
    }
    let nginx = nginx.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = probe_support::test_pki(dir.path()).expect("openssl");
    let (nginx_guard, nginx_port) = start_nginx(&nginx, dir.path(), &cert, &key);
    let url = format!("https://127.0.0.1:{}/", nginx_port);
    let run = probe(&["http", &url, "--insecure", "--json"], LIMIT);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = run.json();
    assert!(alarms(&r).is_empty(), "{r}");
    assert!(r["timings"]["tls_us"].is_u64(), "{r}");
    let tls = &r["http"]["tls"];
    assert!(tls["protocol"].as_str().unwrap().starts_with("TLS 1."), "{tls}");
    assert!(tls["cipher"].is_string(), "{tls}");
    assert_eq!(tls["cert_subject"], "CN=localhost", "{tls}");
    assert!(tls["cert_days_left"].as_i64().unwrap() >= 0, "{tls}");
    assert_eq!(tls["verified"], false);
    let close = &tls["close"];
    assert!(["close_notify", "fin"].contains(&close["outcome"].as_str().unwrap()), "{close}");
    assert!(close["after_us"].as_u64().unwrap() < 1_000_000, "{close}");
    assert_eq!(r["http"]["response"]["content_type"], "text/plain");
    // Verified against the test CA, by name and by address.
    for url in [format!("https://localhost:{}/", nginx_port), url.clone()] {
        let run = probe(&["http", &url, "--cacert", ca.to_str().unwrap(), "--json"], LIMIT);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let r = run.json();
        assert_eq!(r["http"]["tls"]["verified"], true, "{r}");
        assert_eq!(r["http"]["tls"]["cert_issuer"], "CN=unwedge test CA", "{r}");
    }
    // With only the system's trust store the test CA is unknown: exit 1, said clearly.
    let run = probe(&["http", &url, "--json"], LIMIT);
    assert_eq!(run.code, 1);
    let err = run.json()["http"]["error"].as_str().unwrap().to_string();
    assert!(err.contains("certificate") && err.contains("--insecure"), "{err}");
    drop(nginx_guard);
}

#[test]
fn measure_idle_reads_the_servers_idle_timeout() {
    let srv = common::python("probe_http_server.py", &["--threading", "--idle-timeout", "0.5"]);
    let url = format!("http://127.0.0.1:{}/", port_of(&srv.ready));
    let run = probe(&["http", &url, "--measure-idle", "--max-wait", "5s", "--json"], LIMIT);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let idle = &run.json()["http"]["idle"];
    let us = idle["closed_after_us"].as_u64().unwrap_or_else(|| panic!("{idle}"));
    assert!((400_000..3_000_000).contains(&us), "{idle}");
    assert_eq!(idle["max_wait_ms"], 5000);
}
