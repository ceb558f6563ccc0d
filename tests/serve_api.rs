//! Live tests of `unwedge serve` on loopback: a real server on a free port,
//! real scenario processes, raw HTTP/1.1 over std TcpStream (every read has
//! a timeout, every poll a deadline).

mod common;
mod serve_support;

use common::{python, unwedge, wait_until};
use serde_json::Value;
use serve_support::{request, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every sample line of a Prometheus text exposition must be
/// `name{labels} value`; returns the sample lines.
fn check_exposition(text: &str) -> Vec<&str> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(c) = line.strip_prefix("# ") {
            assert!(c.starts_with("HELP ") || c.starts_with("TYPE ") || c == "EOF", "bad comment line: {line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in {line}"
        );
        if name_end < series.len() {
            let labels = &series[name_end..];
            assert!(labels.ends_with('}'), "unclosed labels in {line}");
            for pair in labels[1..labels.len() - 1].split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line}"));
                assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad label name in {line}");
                assert!(!v.trim_end_matches('"').contains('"'), "unescaped quote in {line}");
            }
        }
        samples.push(line);
    }
    samples
}

#[test]
fn leaky_listener_shows_in_scan_and_metrics() {
    let server = Server::start(&[]);
    let leaky = python("leaky_listener.py", &["--count", "40"]);
    let pid = leaky.ready["pid"].as_u64().expect("pid");

    let h = server.get("/healthz");
    assert_eq!(h.status, 200, "{h:?}");
    assert_eq!(h.json()["status"], "ok");

    let mut report = Value::Null;
    let found = wait_until(Duration::from_secs(30), || {
        let r = server.get("/v1/scan");
        if r.status != 200 {
            assert_eq!(r.status, 503, "{r:?}");
            return false;
        }
        report = r.json();
        common::findings(&report, "close_wait_leak").iter().any(|f| f["pid"] == pid)
    });
    assert!(found, "no close_wait_leak for pid {pid} in /v1/scan within 30 s: {report}");
    assert!(report["unwedge_version"].is_string() && report["coverage"]["processes"].as_u64() > Some(0));

    // Filters keep only the findings about that process / port.
    let port = leaky.ready["port"].as_u64().unwrap();
    for q in [format!("pid={pid}"), format!("port={port}")] {
        let r = server.get(&format!("/v1/scan?{q}"));
        assert_eq!(r.status, 200);
        let fs = r.json()["findings"].as_array().cloned().unwrap();
        assert!(!fs.is_empty(), "{q}");
        assert!(fs.iter().all(|f| f["pid"] == pid || f["port"] == port), "{q}: {fs:?}");
    }
    // `/`: the same report as a page, with the charts of the last hour.
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(page.head.contains("content-type: text/html; charset=utf-8"), "{}", page.head);
    assert!(page.head.contains("content-security-policy: default-src 'none'"), "{}", page.head);
    let body = if page.head.contains("transfer-encoding: chunked") { dechunk(&page.body) } else { page.body.clone() };
    assert!(body.contains(&format!("(pid {pid}) holds")), "the leak's title on the page");
    assert!(body.contains("<svg") && body.contains("CLOSE-WAIT sockets"), "charts on the page");
    assert!(body.contains("id=\"unwedge-report\""));
    for bad in ["pid=0", "pid=x", "port=70000", "nope=1"] {
        let r = server.get(&format!("/v1/scan?{bad}"));
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert!(r.json()["error"].is_string());
    }

    let m = server.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(m.head.contains("content-type: text/plain; version=0.0.4"), "{}", m.head);
    let samples = check_exposition(&m.body);
    assert!(
        samples.iter().any(|l| l.starts_with("unwedge_findings{kind=\"close_wait_leak\",") && !l.ends_with(" 0")),
        "{}",
        m.body
    );
    // A `container` label follows where the process has one (a unit, a cgroup).
    let cw = format!("unwedge_close_wait_sockets{{pid=\"{pid}\",comm=\"python3\"");
    let line = samples.iter().find(|l| l.starts_with(&cw)).unwrap_or_else(|| panic!("no {cw} in\n{}", m.body));
    assert!(line.ends_with(" 40"), "{line}");
    for name in
        ["unwedge_build_info{", "unwedge_scan_duration_seconds ", "unwedge_scan_errors_total ", "unwedge_listen_queue{"]
    {
        assert!(samples.iter().any(|l| l.starts_with(name)), "no {name} in\n{}", m.body);
    }

    // Prometheus asks for OpenMetrics and gets it.
    let om = server.get_with("/metrics", "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5");
    assert!(om.head.contains("content-type: application/openmetrics-text"), "{}", om.head);
    assert!(om.body.trim_end().ends_with("# EOF"));
    check_exposition(&om.body);

    promtool_check_metrics(&m.body);
}

/// `promtool check metrics` on the real output, when promtool is installed
/// (Debian package `prometheus`, see .ci/install-test-deps.sh).
fn promtool_check_metrics(text: &str) {
    let installed = Command::new("promtool").arg("--version").output().is_ok();
    if !common::require("promtool for `promtool check metrics` (apt-get install prometheus)", installed) {
        return;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scan_is_503_until_the_first_scan_and_routes_are_checked() {
    let server = Server::start(&[]);
    let r = server.get("/v1/scan");
    // Every scan takes two snapshots 1 s apart, so an answer within the
    // first 900 ms cannot have a report yet.
    if server.started.elapsed() < Duration::from_millis(900) {
        assert_eq!(r.status, 503, "{r:?}");
        assert!(r.head.contains("retry-after:"));
        assert!(r.json()["error"].as_str().unwrap().contains("first scan"));
    }
    // /metrics answers at once, before any scan.
    assert_eq!(server.get("/metrics").status, 200);

    let o = server.get("/v1/openapi.json");
    assert_eq!(o.status, 200);
    let doc = o.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for route in ["/", "/metrics", "/healthz", "/v1/scan", "/v1/openapi.json", "/v1/probe/tcp", "/v1/probe/http"] {
        assert!(doc["paths"][route]["get"].is_object(), "{route}");
    }

    assert_eq!(server.get("/nope").status, 404);
    let post =
        request(server.addr, "POST /v1/scan HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(post.status, 405);
    let body =
        request(server.addr, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(body.status, 413);
}

fn refused(args: &[&str]) -> String {
    let out = unwedge().arg("serve").args(args).stdin(Stdio::null()).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    err
}

#[test]
fn unsafe_or_broken_configurations_refuse_to_start() {
    let err = refused(&["--listen", "0.0.0.0:0"]);
    assert!(err.contains("--token-file"), "{err}");
    let err = refused(&["--listen", "[::]:0"]);
    assert!(err.contains("--token-file"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let err = refused(&["--listen", "127.0.0.1:0", "--token-file", empty.to_str().unwrap()]);
    assert!(err.contains("is empty"), "{err}");
    let missing = dir.path().join("missing");
    let err = refused(&["--listen", "0.0.0.0:0", "--token-file", missing.to_str().unwrap()]);
    assert!(err.contains("cannot read token file"), "{err}");

    let err = refused(&["--listen", "127.0.0.1:0", "--allow-target", "10.0.0.0/33"]);
    assert!(err.contains("--allow-target"), "{err}");
    refused(&["--listen", "127.0.0.1:0", "--scan-interval", "100ms"]);
}

#[test]
fn token_is_required_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("token");
    std::fs::write(&tf, "s3cret-token\n").unwrap();
    let server = Server::start(&["--token-file", tf.to_str().unwrap()]);
    for path in ["/", "/healthz", "/metrics", "/v1/scan", "/v1/openapi.json"] {
        let none = server.get(path);
        assert_eq!(none.status, 401, "{path}: {none:?}");
        assert!(none.head.contains("www-authenticate: bearer"));
        assert_eq!(server.get_with(path, "Authorization: Bearer s3cret-toke").status, 401, "{path}");
        assert_eq!(server.get_with(path, "Authorization: Bearer s3cret-token2").status, 401, "{path}");
        assert_eq!(server.get_with(path, "Authorization: Basic s3cret-token").status, 401, "{path}");
        let ok = server.get_with(path, "Authorization: Bearer s3cret-token");
        assert!(ok.status == 200 || matches!(path, "/v1/scan" | "/") && ok.status == 503, "{path}: {ok:?}");
    }

    let public = Server::start(&["--token-file", tf.to_str().unwrap(), "--metrics-public"]);
    assert_eq!(public.get("/metrics").status, 200);
    assert_eq!(public.get("/healthz").status, 200);
    assert_eq!(public.get("/v1/scan").status, 401);
    assert_eq!(public.get("/").status, 401, "the page needs the token as /v1/scan does");
    assert_eq!(public.get("/v1/openapi.json").status, 401);
}

#[test]
fn sigterm_exits_within_two_seconds_even_with_an_idle_keepalive_client() {
    let mut server = Server::start(&[]);
    // An idle keep-alive connection must not hold the shutdown up.
    let mut idle = TcpStream::connect(server.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let sent = Instant::now();
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = common::wait_with_deadline(&mut server.child, Duration::from_secs(2));
    assert!(status.is_some(), "still running 2 s after SIGTERM");
    assert_eq!(status.unwrap().code(), Some(0));
    eprintln!("exited {:?} after SIGTERM", sent.elapsed());
}

#[test]
fn oversized_header_is_refused_not_hung() {
    let server = Server::start(&[]);
    let big = "x".repeat(64 * 1024);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server may close before reading it all: a write error is fine.
    let _ = s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n").as_bytes());
    let mut buf = Vec::new();
    let started = Instant::now();
    let res = s.read_to_end(&mut buf);
    assert!(started.elapsed() < Duration::from_secs(5), "the server hung on a huge header");
    let text = String::from_utf8_lossy(&buf);
    match res {
        Ok(_) => assert!(buf.is_empty() || text.starts_with("HTTP/1.1 431"), "{text}"),
        // A reset (unread data at close) is a closed connection too.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert_eq!(server.get("/healthz").status, 200, "still serving");
}

#[test]
fn slowloris_is_cut_off_while_others_are_served() {
    let server = Server::start(&[]);
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(12))).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n").unwrap();
    let started = Instant::now();
    // Others are served meanwhile.
    for _ in 0..5 {
        assert_eq!(server.get("/healthz").status, 200);
    }
    let mut buf = Vec::new();
    let res = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(res.is_ok() || res.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset), "{res:?}");
    // hyper answers 408 or just closes; either way within the 5 s header timeout (plus slack).
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(waited >= Duration::from_secs(4) && waited < Duration::from_secs(9), "cut off after {waited:?}");
}

/// A real Prometheus server on loopback, killed on drop.
struct Prometheus {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Undoes HTTP/1.1 chunked transfer coding (Prometheus uses it for larger answers).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

fn prom_get(addr: SocketAddr, path: &str) -> Option<Value> {
    let r = request(addr, &format!("GET {path} HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n"));
    let body = if r.head.contains("transfer-encoding: chunked") { dechunk(&r.body) } else { r.body };
    serde_json::from_str(&body).ok()
}

#[test]
fn real_prometheus_scrapes_the_leak_and_loads_the_rules() {
    let installed = Command::new("prometheus").arg("--version").output().is_ok();
    if !common::require("prometheus (apt-get install prometheus)", installed) {
        return;
    }
    let server = Server::start(&[]);
    let leaky = python("leaky_listener.py", &["--count", "30"]);
    let pid = leaky.ready["pid"].as_u64().unwrap();

    let dir = tempfile::tempdir().unwrap();
    // A free port for Prometheus (it cannot report one it picked itself).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/unwedge-rules.yml");
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: unwedge\n    static_configs: [{{targets: [\"{}\"]}}]\n",
        rules.display(),
        server.addr
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start prometheus");
    let prom = Prometheus { child, addr: format!("127.0.0.1:{port}").parse().unwrap(), _dir: dir };

    let query = format!("/api/v1/query?query=unwedge_close_wait_sockets%7Bpid%3D%22{pid}%22%7D");
    let mut last = None;
    let found = wait_until(Duration::from_secs(45), || {
        if TcpStream::connect_timeout(&prom.addr, Duration::from_millis(200)).is_err() {
            return false;
        }
        last = prom_get(prom.addr, &query);
        last.as_ref().and_then(|v| v["data"]["result"][0]["value"][1].as_str().map(String::from)).as_deref()
            == Some("30")
    });
    assert!(found, "Prometheus did not get unwedge_close_wait_sockets=30 for pid {pid} within 45 s: {last:?}");

    // The deploy rules load, and CloseWaitLeak (one alert per kind and
    // instance, labelled with its kind) is pending for this serve: it fires
    // after its 5 minute `for:`; promtool test rules covers firing.
    let instance = server.addr.to_string();
    let mut alerts = None;
    let pending = wait_until(Duration::from_secs(20), || {
        alerts = prom_get(prom.addr, "/api/v1/alerts");
        alerts.as_ref().and_then(|v| v["data"]["alerts"].as_array()).is_some_and(|a| {
            a.iter().any(|x| {
                x["labels"]["alertname"] == "CloseWaitLeak"
                    && x["labels"]["kind"] == "close_wait_leak"
                    && x["labels"]["instance"].as_str() == Some(&*instance)
                    && x["annotations"]["runbook_url"] == "docs/kinds/close_wait_leak.md"
            })
        })
    });
    assert!(pending, "no CloseWaitLeak alert for {instance}: {alerts:?}");
    drop(leaky);
}

/// Serve fed recorded snapshots (`--from-snapshot`): /v1/scan equals what
/// `unwedge scan` says of the same file with the same thresholds, and
/// /metrics is that real detector output — counts per kind and severity,
/// and per-process CLOSE-WAIT series taken from the typed evidence.
#[test]
fn metrics_come_from_the_same_pipeline_as_scan() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/analyze/tests/fixtures/live-incidents.json");
    let f = fixture.to_str().unwrap();
    for extra in [&[][..], &["--close-wait-min", "1000", "--close-wait-critical", "1000", "--interval", "2s"][..]] {
        let server = Server::start(&[&["--from-snapshot", f][..], extra].concat());
        let mut served = Value::Null;
        assert!(
            wait_until(Duration::from_secs(10), || {
                let r = server.get("/v1/scan");
                served = if r.status == 200 { r.json() } else { Value::Null };
                r.status == 200
            }),
            "no scan within 10 s"
        );
        let out = unwedge().args([&["scan", "--json", "--from-snapshot", f][..], extra].concat()).output().unwrap();
        let scanned: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(served["findings"], scanned["findings"], "serve and scan analyse the same file alike");
        let leaks = common::findings(&scanned, "close_wait_leak");
        assert_eq!(leaks.is_empty(), !extra.is_empty(), "--close-wait-min reaches the detector: {leaks:?}");

        let metrics = server.get("/metrics").body;
        let mut counts = std::collections::BTreeMap::new();
        for x in scanned["findings"].as_array().unwrap() {
            *counts.entry((x["kind"].as_str().unwrap(), x["severity"].as_str().unwrap())).or_insert(0) += 1;
        }
        for ((kind, severity), n) in counts {
            let line = format!("unwedge_findings{{kind=\"{kind}\",severity=\"{severity}\"}} {n}\n");
            assert!(metrics.contains(&line), "missing {line:?} in\n{metrics}");
        }
        for leak in leaks {
            let container = serde_json::from_value::<Option<unwedge_model::Container>>(leak["container"].clone())
                .unwrap()
                .map(|c| format!(",container=\"{}\"", c.label()))
                .unwrap_or_default();
            let line = format!(
                "unwedge_close_wait_sockets{{pid=\"{}\",comm=\"{}\"{container}}} {}\n",
                leak["pid"],
                leak["comm"].as_str().unwrap(),
                leak["evidence"]["close_wait"]
            );
            assert!(metrics.contains(&line), "missing {line:?} in\n{metrics}");
        }
    }
}
