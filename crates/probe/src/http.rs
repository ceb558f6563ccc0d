//! `probe http`: one HTTP/1.1 request with exact timings, then the checks
//! that see stories 1 and 3 from the outside:
//! - keep-alive starvation (story 3): keep connection A idle after its
//!   response, send the same request on a new connection B; a server whose
//!   only slot A holds answers B only once A closes.
//! - a body without Content-Type (story 1's second bug).
//! - slow TLS teardown (story 1): time from our close_notify to the server's close.
//!
//! We speak HTTP/1.1 over our own sockets (httparse for the head) because a
//! pooled client hides which connection carries which request.

use super::target::{Scheme, Url};
use super::tcp::connect_once;
use super::tls::{self, CloseResult, Conn, TlsInfo};
use super::{connect_findings, finding, resolve, stats, us, Attempt, Event, Family, ProbeReport};
use serde::Serialize;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use unwedge_model::evidence::{MissingContentType, ProbedKeepaliveStarvation, SlowTlsShutdown};
use unwedge_model::fmt;
use unwedge_model::{Finding, Severity};

#[derive(Debug, Clone)]
pub struct HttpOpts {
    pub url: Url,
    /// Each network step (connect, handshake, first byte, each body read).
    pub timeout: Duration,
    pub starvation_wait: Duration,
    pub starvation_check: bool,
    pub measure_idle: bool,
    pub max_wait: Duration,
    pub insecure: bool,
    pub cacert: Option<PathBuf>,
    pub family: Family,
}

/// `timings` in the probe contract, for the first request.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Timings {
    pub dns_us: u64,
    pub connect_us: Option<u64>,
    pub tls_us: Option<u64>,
    /// From the request written to the first byte of the response.
    pub ttfb_us: Option<u64>,
    /// From the start of resolution to the last byte of the body.
    pub total_us: Option<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResponseInfo {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body_bytes: u64,
    /// `content-length`, `chunked`, `until-close` or `none`.
    pub framing: &'static str,
    /// Whether the server keeps the connection open after this response.
    pub keep_alive: bool,
    /// False when the probe stopped reading a body longer than it reads
    /// (8 MiB or 10 s); `body_bytes` then counts what was read.
    pub body_complete: bool,
}

/// The keep-alive starvation check.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct KeepAliveCheck {
    pub checked: bool,
    /// Why the check did not run (the server closes after each response…).
    pub skipped: Option<String>,
    /// B's wait for its first response byte while A idled (capped by the wait).
    pub second_waited_us: Option<u64>,
    /// B answered while A was still open.
    pub second_answered_while_first_open: Option<bool>,
    /// Time from A's close to B's first response byte.
    pub second_answered_after_first_closed_us: Option<u64>,
    pub second_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IdleResult {
    /// How long the server kept the idle connection open (null: past max_wait).
    pub closed_after_us: Option<u64>,
    pub max_wait_ms: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HttpResult {
    pub url: String,
    pub method: &'static str,
    /// Why the request failed (connect, TLS, no response…); null when it did not.
    pub error: Option<String>,
    pub response: Option<ResponseInfo>,
    pub tls: Option<TlsInfo>,
    pub keepalive: KeepAliveCheck,
    pub idle: Option<IdleResult>,
    pub notes: Vec<String>,
}

/// Live events for a person at a terminal (the caller decides where they go).
pub type Progress<'a> = &'a mut dyn FnMut(Event<'_>);

pub use super::http_head::{framing, keeps_alive, parse_head, Chunked, Framing, Head};

// ------------------------------------------------------------------------- I/O

/// A response read off a connection.
struct Exchange {
    head: Head,
    framing: Framing,
    body_bytes: u64,
    /// Request written -> first response byte.
    ttfb: Duration,
    /// When the first response byte arrived.
    first_byte_at: Instant,
    done_at: Instant,
    /// The server closed (or will close) the connection after this response.
    closed: bool,
    /// Why the body was not read to its end (a cap below), if it was not.
    body_cut: Option<String>,
}

/// A probe reads this much of a body and no more (an endless stream, a
/// 100 GB download): enough for its timings, bounded for the host.
const MAX_BODY_BYTES: u64 = 8 << 20;
const MAX_BODY_TIME: Duration = Duration::from_secs(10);

fn request_bytes(url: &Url) -> Vec<u8> {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: unwedge/{}\r\nAccept: */*\r\n\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Sends the request and reads the full response. `first_byte_wait` bounds
/// the wait for the head; `gap` bounds each later read.
fn exchange(conn: &mut Conn, req: &[u8], first_byte_wait: Duration, gap: Duration) -> Result<Exchange, String> {
    let sent_at = Instant::now();
    let deadline = sent_at + first_byte_wait;
    tls::set_timeouts(conn.tcp(), deadline).map_err(|e| format!("socket: {e}"))?;
    conn.write_all(req).and_then(|_| conn.flush()).map_err(|e| io_text("sending the request", &e))?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16 * 1024];
    let mut first_byte_at = None;
    let mut interim = 0u64;
    let late = |buf: &[u8], interim: u64| {
        let within = fmt::duration(first_byte_wait);
        if !buf.is_empty() {
            format!("no complete response head within {within} ({} bytes received)", buf.len())
        } else if interim > 0 {
            format!("only {interim} interim (1xx) responses within {within}")
        } else {
            format!("no response within {within}")
        }
    };
    let (head, used) = 'head: loop {
        match tls::set_timeouts(conn.tcp(), deadline) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(late(&buf, interim)),
            Err(e) => return Err(format!("socket: {e}")),
            Ok(()) => {}
        }
        match conn.read(&mut chunk) {
            Ok(0) => {
                return Err(if buf.is_empty() {
                    "the server closed the connection without a response".into()
                } else {
                    "the server closed the connection in the middle of the response head".into()
                })
            }
            Ok(n) => {
                first_byte_at.get_or_insert_with(Instant::now);
                buf.extend_from_slice(&chunk[..n]);
                // Interim 1xx heads (103 Early Hints…) precede the answer:
                // drop them and parse on; each consumes bytes, so this ends.
                while let Some((head, used)) = parse_head(&buf)? {
                    if (100..200).contains(&head.status) && head.status != 101 {
                        buf.drain(..used);
                        interim += 1;
                        continue;
                    }
                    break 'head (head, used);
                }
            }
            Err(e) if timed_out(&e) => return Err(late(&buf, interim)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_text("reading the response", &e)),
        }
    };
    let first_byte_at = first_byte_at.unwrap_or_else(Instant::now);
    let framing = framing(false, &head)?;
    let mut rest = buf[used..].to_vec();
    let mut body = 0u64;
    let mut chunked = Chunked::default();
    let mut server_closed = false;
    let body_deadline = Instant::now() + MAX_BODY_TIME;
    let mut body_cut = None;
    loop {
        // Account for what is already buffered.
        if !rest.is_empty() {
            match framing {
                Framing::Length(n) => body += (rest.len() as u64).min(n - body.min(n)),
                Framing::Chunked => {
                    chunked.feed(&rest)?;
                }
                Framing::UntilClose => body += rest.len() as u64,
                Framing::None => {}
            }
            rest.clear();
        }
        let complete = match framing {
            Framing::None => true,
            Framing::Length(n) => body >= n,
            Framing::Chunked => chunked.done(),
            Framing::UntilClose => server_closed,
        };
        if !complete && !server_closed {
            // Stop at the caps; the connection is dropped, never reused.
            if body >= MAX_BODY_BYTES {
                body_cut = Some(format!("stopped reading the body after {} MiB", MAX_BODY_BYTES >> 20));
                break;
            }
            if Instant::now() >= body_deadline {
                body_cut =
                    Some(format!("stopped reading the body after {} (it had not ended)", fmt::duration(MAX_BODY_TIME)));
                break;
            }
        }
        if complete || server_closed {
            if !complete {
                return Err(format!(
                    "the server closed the connection after {body} body bytes, before the end of the body"
                ));
            }
            break;
        }
        let gap_ends = Instant::now() + gap;
        match tls::set_timeouts(conn.tcp(), gap_ends.min(body_deadline)) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue, // the body deadline passed: cut above
            Err(e) => return Err(format!("socket: {e}")),
            Ok(()) => {}
        }
        match conn.read(&mut chunk) {
            Ok(0) => server_closed = true,
            // rustls reports a close without close_notify as UnexpectedEof.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => server_closed = true,
            Ok(n) => rest.extend_from_slice(&chunk[..n]),
            Err(e) if timed_out(&e) && Instant::now() < gap_ends => {} // the body deadline: cut above
            Err(e) if timed_out(&e) => return Err(format!("the body stalled for {}", fmt::duration(gap))),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_text("reading the body", &e)),
        }
    }
    if framing == Framing::Chunked {
        body = chunked.body;
    }
    let keep = keeps_alive(&head, framing);
    Ok(Exchange {
        framing,
        body_bytes: body,
        ttfb: first_byte_at - sent_at,
        first_byte_at,
        done_at: Instant::now(),
        closed: server_closed || !keep || body_cut.is_some(),
        body_cut,
        head,
    })
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn io_text(what: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => format!("{what}: the server reset the connection"),
        io::ErrorKind::BrokenPipe => format!("{what}: the server had closed the connection"),
        _ => format!("{what}: {e}"),
    }
}

/// Connect (+ TLS) to `addr`. Returns the attempt and, on success, the connection.
struct Opened {
    attempt: Attempt,
    conn: Option<Conn>,
    tls: Option<TlsInfo>,
    error: Option<String>,
}

fn open(
    addr: SocketAddr,
    seq: u32,
    role: &'static str,
    opts: &HttpOpts,
    config: Option<Arc<rustls::ClientConfig>>,
    handshake_wait: Duration,
) -> Opened {
    let c = connect_once(addr, None, opts.timeout);
    let mut attempt = c.attempt(seq, addr);
    attempt.role = Some(role);
    let Some(stream) = c.stream else {
        let error = Some(format!("connect to {addr}: {}", c.error.as_deref().unwrap_or("failed")));
        return Opened { attempt, conn: None, tls: None, error };
    };
    let _ = stream.set_nodelay(true);
    match config {
        None => Opened { attempt, conn: Some(Conn::Plain(stream)), tls: None, error: None },
        Some(cfg) => {
            match tls::handshake(stream, cfg, &opts.url.host, !opts.insecure, Instant::now() + handshake_wait) {
                Ok((s, info)) => Opened { attempt, conn: Some(Conn::Tls(Box::new(s))), tls: Some(info), error: None },
                Err(e) => Opened { attempt, conn: None, tls: None, error: Some(e) },
            }
        }
    }
}

/// What connection B's thread reports.
struct SecondResult {
    opened_attempt: Attempt,
    answered_at: Option<Instant>,
    error: Option<String>,
    conn: Option<Conn>,
}

/// Runs the probe. Errors (bad resolution, TLS setup) are one line, exit 2;
/// a target that fails to answer is data in the report.
pub fn probe_http(opts: &HttpOpts, progress: Progress<'_>) -> Result<ProbeReport, String> {
    probe_http_at(opts, None, progress)
}

/// [`probe_http`] with the name already resolved (addresses, resolution
/// time): `serve` resolves first, checks the address against its allowlist,
/// and the probe must then connect there without resolving again.
pub fn probe_http_at(
    opts: &HttpOpts,
    resolved: Option<(Vec<SocketAddr>, Duration)>,
    progress: Progress<'_>,
) -> Result<ProbeReport, String> {
    let started = Instant::now();
    let config = match opts.url.scheme {
        Scheme::Https => Some(tls::client_config(opts.insecure, opts.cacert.as_deref())?),
        Scheme::Http => None,
    };
    let (addrs, dns) = match resolved {
        Some((addrs, dns)) if !addrs.is_empty() => (addrs, dns),
        _ => resolve(&opts.url.host, opts.url.port, opts.family, opts.timeout)?,
    };
    progress(Event::Resolved { addrs: &addrs, dns });
    let addr = addrs[0];
    let mut result = HttpResult {
        url: opts.url.to_string(),
        method: "GET",
        error: None,
        response: None,
        tls: None,
        keepalive: KeepAliveCheck::default(),
        idle: None,
        notes: Vec::new(),
    };
    let mut timings = Timings { dns_us: us(dns), ..Default::default() };
    let mut attempts = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    let req = request_bytes(&opts.url);

    // Request on connection A.
    let a = open(addr, 1, "request", opts, config.clone(), opts.timeout);
    progress(Event::Attempt(&a.attempt));
    timings.connect_us = a.attempt.connect_us.filter(|_| a.attempt.ok);
    attempts.push(a.attempt);
    result.tls = a.tls;
    timings.tls_us = result.tls.as_ref().map(|t| t.handshake_us);
    let mut conn_a = None;
    let mut a_done_at = None;
    match (a.conn, a.error) {
        (Some(mut conn), _) => match exchange(&mut conn, &req, opts.timeout, opts.timeout) {
            Ok(x) => {
                timings.ttfb_us = Some(us(x.ttfb));
                timings.total_us = Some(us(x.done_at - started));
                let info = response_info(&x);
                if let Some(cut) = &x.body_cut {
                    result.notes.push(format!("{cut}: body_bytes and total time cover what was read"));
                }
                if let Some(f) = content_type_finding(&opts.url, &info) {
                    findings.push(f);
                }
                result.response = Some(info);
                a_done_at = Some(x.done_at);
                if !x.closed {
                    conn_a = Some((conn, x.ttfb));
                }
            }
            Err(e) => result.error = Some(e),
        },
        (None, e) => result.error = e,
    }

    // Keep-alive starvation: B while A idles.
    let mut conn_b = None;
    if result.error.is_none() {
        match &conn_a {
            None if result.response.as_ref().is_some_and(|r| !r.body_complete) => {
                result.keepalive.skipped =
                    Some("the body was too long to read to its end, so connection 1 could not idle".into())
            }
            None => {
                result.keepalive.skipped = Some(
                    "the server closes the connection after each response, so idle connections cannot hold its slots"
                        .into(),
                )
            }
            Some(_) if !opts.starvation_check => result.keepalive.skipped = Some("--no-starvation-check".into()),
            Some((_, ttfb)) if *ttfb * 2 > opts.starvation_wait => {
                result.keepalive.skipped = Some(format!(
                    "the first response took {}, too slow to tell starvation apart within --starvation-wait {}",
                    fmt::measured(*ttfb),
                    fmt::duration(opts.starvation_wait)
                ))
            }
            Some(_) => {
                progress(Event::Progress(&format!(
                    "keep-alive check: connection 1 idles; waiting up to {} for connection 2 to be answered…",
                    fmt::duration(opts.starvation_wait)
                )));
                let (check, b, finding) = starvation_check(opts, addr, config.clone(), &req, &mut conn_a, progress);
                result.keepalive = check;
                progress(Event::Attempt(&b.opened_attempt));
                attempts.push(b.opened_attempt.clone());
                let b_done = b.answered_at.unwrap_or_else(Instant::now);
                conn_b = b.conn.map(|c| (c, b_done));
                findings.extend(finding);
                if let (Some(e), None) = (&b.error, b.answered_at) {
                    result.error = Some(format!("a second request got no answer: {e}"));
                }
            }
        }
    }

    // TLS close on a connection still open; --measure-idle takes the oldest.
    let mut open_conns: Vec<(Conn, Instant)> = Vec::new();
    if let (Some((c, _)), Some(t)) = (conn_a.take(), a_done_at) {
        open_conns.push((c, t));
    }
    if let Some((c, t)) = conn_b.take() {
        open_conns.push((c, t));
    }
    let mut idle_conn = if opts.measure_idle && !open_conns.is_empty() { Some(open_conns.remove(0)) } else { None };
    if let Some(info) = result.tls.as_mut() {
        match open_conns.pop() {
            Some((Conn::Tls(mut s), _)) => {
                progress(Event::Progress("TLS close: sent close_notify, waiting for the server to close…"));
                let close = tls::measure_close(&mut s, opts.timeout);
                if let Some(f) = tls_close_finding(&opts.url, &close, opts.timeout) {
                    findings.push(f);
                }
                info.close = Some(close);
            }
            _ if result.error.is_none() => result.notes.push(if opts.measure_idle && idle_conn.is_some() {
                "TLS close not measured: --measure-idle used the only open connection".into()
            } else {
                "TLS close not measured: the server closed the connection after its response".into()
            }),
            _ => {}
        }
    }
    if opts.measure_idle {
        match idle_conn.take() {
            Some((mut conn, since)) => {
                progress(Event::Progress(&format!(
                    "measuring how long the server keeps an idle connection (up to {})…",
                    fmt::duration(opts.max_wait)
                )));
                result.idle = Some(measure_idle(&mut conn, since, opts.max_wait));
            }
            None if result.error.is_none() => {
                result.notes.push("idle time not measured: the server closed the connection after its response".into())
            }
            None => {}
        }
    }
    for (c, _) in open_conns {
        c.close_now();
    }

    findings.extend(connect_findings(&opts.url.host_header(), opts.url.port, &attempts, opts.timeout));
    unwedge_model::sort_findings(&mut findings);
    let times: Vec<u64> = attempts.iter().filter(|a| a.ok).filter_map(|a| a.connect_us).collect();
    Ok(ProbeReport {
        unwedge_version: env!("CARGO_PKG_VERSION").into(),
        probe: "http",
        target: opts.url.to_string(),
        resolved: addrs.iter().map(|a| a.ip().to_string()).collect(),
        dns_us: us(dns),
        summary: stats::summarize(attempts.len() as u32, &times),
        attempts,
        timings: Some(timings),
        http: Some(result),
        findings,
    })
}

/// B in a thread (its handshake may itself be starved); A is closed if B is
/// not answered within --starvation-wait, then B gets --timeout more.
fn starvation_check(
    opts: &HttpOpts,
    addr: SocketAddr,
    config: Option<Arc<rustls::ClientConfig>>,
    req: &[u8],
    conn_a: &mut Option<(Conn, Duration)>,
    progress: Progress<'_>,
) -> (KeepAliveCheck, SecondResult, Option<Finding>) {
    let (tx, rx) = mpsc::channel();
    let b_opts = opts.clone();
    let req = req.to_vec();
    // B's own deadline covers both phases, so the thread always ends.
    let b_budget = opts.starvation_wait + opts.timeout;
    let b_started = Instant::now();
    std::thread::spawn(move || {
        let o = open(addr, 2, "starvation_check", &b_opts, config, b_budget);
        let mut res = SecondResult { opened_attempt: o.attempt, answered_at: None, error: o.error, conn: None };
        if let Some(mut conn) = o.conn {
            let left = b_budget.saturating_sub(b_started.elapsed()).max(Duration::from_millis(1));
            match exchange(&mut conn, &req, left, b_opts.timeout) {
                Ok(x) => {
                    res.answered_at = Some(x.first_byte_at);
                    if !x.closed {
                        res.conn = Some(conn);
                    }
                }
                Err(e) => res.error = Some(e),
            }
        }
        let _ = tx.send(res);
    });
    let mut check = KeepAliveCheck { checked: true, ..Default::default() };
    let recv_deadline = b_started + opts.starvation_wait;
    if let Ok(b) = rx.recv_timeout(recv_deadline.saturating_duration_since(Instant::now())) {
        // Answered (or failed) while A was still open: spare capacity.
        check.second_answered_while_first_open = Some(b.answered_at.is_some());
        check.second_waited_us = b.answered_at.map(|t| us(t - b_started));
        check.second_error = b.error.clone();
        return (check, b, None);
    }
    // B is still waiting: close A and see whether that frees B.
    progress(Event::Progress("keep-alive check: connection 2 got no answer; closing connection 1…"));
    check.second_answered_while_first_open = Some(false);
    let waited = b_started.elapsed();
    check.second_waited_us = Some(us(waited));
    let a_ttfb = conn_a.as_ref().map(|(_, t)| *t);
    // Timed from just before the close: the server may answer B before close() returns.
    let a_closed_at = Instant::now();
    if let Some((c, _)) = conn_a.take() {
        c.close_now();
    }
    // recv_timeout cannot hang: B's thread is bounded by its budget.
    let b = match rx.recv_timeout(b_budget + Duration::from_secs(1)) {
        Ok(b) => b,
        Err(_) => {
            check.second_error = Some("the second connection's check did not finish".into());
            let attempt = Attempt {
                seq: 2,
                ok: false,
                connect_us: None,
                error: check.second_error.clone(),
                outcome: super::Outcome::Error,
                addr: addr.to_string(),
                local_port: None,
                role: Some("starvation_check"),
            };
            return (check, SecondResult { opened_attempt: attempt, answered_at: None, error: None, conn: None }, None);
        }
    };
    check.second_error = b.error.clone();
    let Some(answered_at) = b.answered_at else {
        return (check, b, None);
    };
    let after = answered_at.saturating_duration_since(a_closed_at);
    check.second_answered_after_first_closed_us = Some(us(after));
    // "As soon as A closes": a server that is merely slow answers B late
    // whether or not A is open, so a late answer is not blamed on keep-alive.
    if after > STARVATION_RELEASE {
        return (check, b, None);
    }
    let f = finding(
        ProbedKeepaliveStarvation {
            first_ttfb_us: a_ttfb.map(us),
            second_waited_us: us(waited),
            second_answered_after_first_closed_us: us(after),
            starvation_wait_ms: opts.starvation_wait.as_millis() as u64,
        },
        Severity::Critical,
        opts.url.port,
        format!(
            "{} serves one connection at a time: a second request waited {} while an idle keep-alive connection held the slot",
            opts.url.host_header(),
            fmt::measured(waited)
        ),
        "After answering connection 1 the server kept it open (HTTP/1.1 keep-alive) and did not answer \
         connection 2 until connection 1 was closed; it then answered within milliseconds. A load \
         balancer or client pool that keeps idle connections therefore blocks every other client: \
         their requests wait in the kernel's accept queue, never reach a handler (no log line) and time out.",
        "Let the server serve more connections than its idle keep-alive clients hold (a concurrency cap \
         must not count idle connections), or disable keep-alive (`Connection: close`; Go: \
         SetKeepAlivesEnabled(false)), or give it a short idle timeout. On the server, \
         `unwedge scan --port PORT` shows the stalled accept queue and the idle connections.",
    );
    (check, b, Some(f))
}

/// How soon after A closes B must be answered to blame A's idle connection.
const STARVATION_RELEASE: Duration = Duration::from_secs(1);

fn response_info(x: &Exchange) -> ResponseInfo {
    ResponseInfo {
        version: format!("HTTP/1.{}", x.head.minor),
        status: x.head.status,
        reason: x.head.reason.clone(),
        headers: x.head.headers.clone(),
        content_type: x.head.header("content-type").map(str::to_string),
        body_bytes: x.body_bytes,
        framing: x.framing.name(),
        keep_alive: !x.closed,
        body_complete: x.body_cut.is_none(),
    }
}

fn content_type_finding(url: &Url, r: &ResponseInfo) -> Option<Finding> {
    if r.body_bytes == 0 || r.content_type.as_deref().is_some_and(|v| !v.is_empty()) {
        return None;
    }
    Some(finding(
        MissingContentType { status: r.status, body_bytes: r.body_bytes, url: url.to_string() },
        Severity::Warning,
        url.port,
        format!("{} answered {} with a {}-byte body and no Content-Type", url, r.status, r.body_bytes),
        "Without Content-Type, browsers and proxies guess the type (MIME sniffing): binaries such as \
         executables or PDFs get rendered as text, and a proxy that guesses internally may not forward \
         its guess (story 1 of the field notes).",
        "Send a Content-Type with every response that has a body (e.g. nginx: `types` / `default_type`; \
         a proxy should forward the type it determined).",
    ))
}

fn tls_close_finding(url: &Url, c: &CloseResult, waited: Duration) -> Option<Finding> {
    const SLOW_US: u64 = 1_000_000;
    let slow = match c.outcome {
        "no_answer" => true,
        "error" => false,
        _ => c.after_us.is_some_and(|u| u > SLOW_US),
    };
    if !slow {
        return None;
    }
    let title = match c.after_us {
        Some(u) => format!(
            "{url}: the server took {} to close after the client's close_notify",
            fmt::measured(Duration::from_micros(u))
        ),
        None => {
            format!("{url}: the server did not close within {} of the client's close_notify", fmt::duration(waited))
        }
    };
    Some(finding(
        SlowTlsShutdown {
            outcome: c.outcome.into(),
            after_us: c.after_us,
            waited_us: c.waited_us,
            threshold_us: SLOW_US,
        },
        Severity::Warning,
        url.port,
        title,
        "A client (or a proxy in front of this server) that closes with close_notify and waits for the \
         server's answer stays blocked this long per connection: in story 1 a proxy's processes piled \
         up waiting for the origin's TLS connection to close after transfers that took 0.5 s.",
        "Make the server close (or answer close_notify) promptly when its peer closes; on the client \
         side, do not wait for the peer's close_notify (or disable keep-alive towards this server).",
    ))
}

/// Waits (bounded by `max_wait`) for the server to close an idle connection.
fn measure_idle(conn: &mut Conn, since: Instant, max_wait: Duration) -> IdleResult {
    let deadline = Instant::now() + max_wait;
    let mut buf = [0u8; 4096];
    let closed = loop {
        if tls::set_timeouts(conn.tcp(), deadline).is_err() {
            break false;
        }
        match conn.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if timed_out(&e) => break false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
    };
    IdleResult { closed_after_us: closed.then(|| us(since.elapsed())), max_wait_ms: max_wait.as_millis() as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn parses_heads() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        let (h, len) =
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX:  y \r\n\r\nbody").unwrap().unwrap();
        assert_eq!((h.minor, h.status, h.reason.as_str(), len), (1, 200, "OK", 53));
        assert_eq!(h.header("content-type"), Some("text/plain"));
        assert_eq!(h.header("x"), Some("y"));
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "A: b\r\n".repeat(200));
        assert!(parse_head(many.as_bytes()).is_err());
        assert!(parse_head(&vec![b'a'; crate::http_head::MAX_HEAD + 1]).is_err());
        // Non-UTF-8 values are shown, not fatal.
        let (h, _) = parse_head(b"HTTP/1.0 404 \xff\r\nServer: \xfe\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.status, 404);
    }

    #[test]
    fn hostile_heads_never_panic() {
        let sample: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        for i in 0..sample.len() {
            for b in [0u8, b'\n', b':', 0xff] {
                let mut m = sample.to_vec();
                m[i] = b;
                if let Ok(Some((h, _))) = parse_head(&m) {
                    let _ = framing(false, &h).map(|f| keeps_alive(&h, f));
                }
            }
        }
    }

    #[test]
    fn framing_rules() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::Length(10)));
        assert_eq!(framing(true, &h), Ok(Framing::None));
        assert!(keeps_alive(&h, Framing::Length(10)));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::Chunked));
        let h = head("HTTP/1.1 204 No\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::None));
        let h = head("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::UntilClose));
        assert!(!keeps_alive(&h, Framing::UntilClose));
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(keeps_alive(&h, Framing::Length(1)));
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n");
        assert!(!keeps_alive(&h, Framing::Length(1)));
        for bad in
            ["Content-Length: -1", "Content-Length: 1\r\nContent-Length: 2", "Content-Length: 99999999999999999999999"]
        {
            let h = head(&format!("HTTP/1.1 200 OK\r\n{bad}\r\n\r\n"));
            assert!(framing(false, &h).is_err(), "{bad}");
        }
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::Length(3)));
    }

    #[test]
    fn chunked_decoding() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        // Every split point gives the same answer.
        for split in 0..body.len() {
            let mut c = Chunked::default();
            let n1 = c.feed(&body[..split]).unwrap();
            let n2 = c.feed(&body[split..]).unwrap();
            assert!(c.done());
            assert_eq!(c.body, 23);
            assert_eq!(n1 + n2, body.len() - 4, "split {split}");
        }
        for bad in [&b"x\r\n"[..], b"4\r\nWikiXX\r\n", b"1234567890123456\r\n", &[b'1'; 5000]] {
            assert!(Chunked::default().feed(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut c = Chunked::default();
        c.feed(b"fffffffffffffff\r\n").unwrap();
        assert!(!c.done());
    }

    /// `exchange` over a real loopback socket against canned responses.
    fn canned(response: &'static [u8], close: bool) -> Result<Exchange, String> {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req);
            s.write_all(response).unwrap();
            if !close {
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        let mut conn = Conn::Plain(std::net::TcpStream::connect(addr).unwrap());
        let url = crate::target::parse_url(&format!("http://{addr}/")).unwrap();
        let x = exchange(&mut conn, &request_bytes(&url), Duration::from_secs(2), Duration::from_secs(2));
        server.join().unwrap();
        x
    }

    #[test]
    fn exchange_framings() {
        let x = canned(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!((x.head.status, x.body_bytes, x.framing, x.closed), (200, 5, Framing::Chunked, false));
        let x = canned(b"HTTP/1.0 200 OK\r\n\r\n0123456789", true).unwrap();
        assert_eq!((x.body_bytes, x.framing, x.closed), (10, Framing::UntilClose, true));
        let x = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false).unwrap();
        assert_eq!((x.body_bytes, x.closed), (3, false));
        let e = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nabc", true).err().unwrap();
        assert!(e.contains("before the end of the body"), "{e}");
        let e = canned(b"", true).err().unwrap();
        assert!(e.contains("without a response"), "{e}");
    }

    #[test]
    fn content_type_check() {
        let url = crate::target::parse_url("http://h:1/").unwrap();
        let mut r = ResponseInfo {
            version: "HTTP/1.1".into(),
            status: 200,
            reason: "OK".into(),
            headers: vec![],
            content_type: None,
            body_bytes: 10,
            framing: "content-length",
            keep_alive: true,
            body_complete: true,
        };
        assert_eq!(content_type_finding(&url, &r).unwrap().kind(), "missing_content_type");
        r.body_bytes = 0;
        assert!(content_type_finding(&url, &r).is_none());
        r.body_bytes = 1;
        r.content_type = Some("text/plain".into());
        assert!(content_type_finding(&url, &r).is_none());
    }

    #[test]
    fn tls_close_thresholds() {
        let url = crate::target::parse_url("https://h/").unwrap();
        let c = |outcome, after_us| CloseResult { outcome, after_us, waited_us: 0 };
        let w = Duration::from_secs(3);
        assert!(tls_close_finding(&url, &c("close_notify", Some(300)), w).is_none());
        assert!(tls_close_finding(&url, &c("fin", Some(1_500_000)), w).is_some());
        assert!(tls_close_finding(&url, &c("no_answer", None), w).is_some());
    }
}
