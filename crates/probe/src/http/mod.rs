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
//!
//! This file runs the steps in order and records what each saw; `exchange`
//! is one request on one connection, `starvation` the keep-alive experiment,
//! and the findings come from `crate::judge` over the recorded results.

mod exchange;
mod starvation;

use crate::report::{HttpResult, KeepAliveCheck, Timings};
use crate::target::{Scheme, Url};
use crate::tls::{self, Conn};
use crate::{judge, resolve, stats, us, Event, Family, ProbeError, ProbeReport};
use exchange::{exchange, measure_idle, open, request_bytes, response_info};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use unwedge_model::{fmt, Finding};

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

/// Live events for a person at a terminal (the caller decides where they go).
pub type Progress<'a> = &'a mut dyn FnMut(Event<'_>);

/// Runs the probe. An error (resolution, TLS setup) means it could not run;
/// a target that fails to answer is data in the report.
pub fn probe_http(opts: &HttpOpts, progress: Progress<'_>) -> Result<ProbeReport, ProbeError> {
    probe_http_at(opts, None, progress)
}

/// [`probe_http`] with the name already resolved (addresses, resolution
/// time): `serve` resolves first, checks the address against its allowlist,
/// and the probe must then connect there without resolving again.
pub fn probe_http_at(
    opts: &HttpOpts,
    resolved: Option<(Vec<SocketAddr>, Duration)>,
    progress: Progress<'_>,
) -> Result<ProbeReport, ProbeError> {
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
    let mut run = Run {
        opts,
        addr: addrs[0],
        config,
        req: request_bytes(&opts.url),
        result: HttpResult {
            url: opts.url.to_string(),
            method: "GET",
            error: None,
            response: None,
            tls: None,
            keepalive: KeepAliveCheck::default(),
            idle: None,
            notes: Vec::new(),
        },
        timings: Timings { dns_us: us(dns), ..Default::default() },
        attempts: Vec::new(),
    };
    let (mut conn_a, a_done_at) = run.first_request(started, progress);
    let conn_b = run.keepalive_check(&mut conn_a, progress);
    // Connections still open, oldest first.
    let mut open_conns: Vec<(Conn, Instant)> = Vec::new();
    if let (Some((c, _)), Some(t)) = (conn_a.take(), a_done_at) {
        open_conns.push((c, t));
    }
    open_conns.extend(conn_b);
    run.close_and_idle(open_conns, progress);

    let Run { result, timings, attempts, .. } = run;
    let mut findings = judge_http(opts, &timings, &result, &attempts);
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

/// One run of the probe: where it goes, and what it recorded so far.
struct Run<'o> {
    opts: &'o HttpOpts,
    addr: SocketAddr,
    config: Option<std::sync::Arc<rustls::ClientConfig>>,
    req: Vec<u8>,
    result: HttpResult,
    timings: Timings,
    attempts: Vec<crate::Attempt>,
}

impl Run<'_> {
    /// The request on connection A. Returns A when the server keeps it
    /// open (with its time to first byte), and when its response ended.
    fn first_request(
        &mut self,
        started: Instant,
        progress: Progress<'_>,
    ) -> (Option<(Conn, Duration)>, Option<Instant>) {
        let opts = self.opts;
        let a = open(self.addr, 1, "request", opts, self.config.clone(), opts.timeout);
        progress(Event::Attempt(&a.attempt));
        self.timings.connect_us = a.attempt.connect_us.filter(|_| a.attempt.ok);
        self.attempts.push(a.attempt);
        self.result.tls = a.tls;
        self.timings.tls_us = self.result.tls.as_ref().map(|t| t.handshake_us);
        let mut conn = match (a.conn, a.error) {
            (Some(conn), _) => conn,
            (None, e) => {
                self.result.error = e.map(|e| e.to_string());
                return (None, None);
            }
        };
        match exchange(&mut conn, &self.req, opts.timeout, opts.timeout) {
            Ok(x) => {
                self.timings.ttfb_us = Some(us(x.ttfb));
                self.timings.total_us = Some(us(x.done_at - started));
                let info = response_info(&x);
                if let Some(cut) = &x.body_cut {
                    self.result.notes.push(format!("{cut}: body_bytes and total time cover what was read"));
                }
                self.result.response = Some(info);
                ((!x.closed).then_some((conn, x.ttfb)), Some(x.done_at))
            }
            Err(e) => {
                self.result.error = Some(e.to_string());
                (None, None)
            }
        }
    }

    /// Keep-alive starvation: B while A idles, when the first response
    /// allows the experiment. Returns B if the server keeps it open, with
    /// when it was answered.
    fn keepalive_check(
        &mut self,
        conn_a: &mut Option<(Conn, Duration)>,
        progress: Progress<'_>,
    ) -> Option<(Conn, Instant)> {
        if self.result.error.is_some() {
            return None;
        }
        let opts = self.opts;
        let skipped = &mut self.result.keepalive.skipped;
        match &*conn_a {
            None if self.result.response.as_ref().is_some_and(|r| !r.body_complete) => {
                *skipped = Some("the body was too long to read to its end, so connection 1 could not idle".into());
                return None;
            }
            None => {
                *skipped = Some(
                    "the server closes the connection after each response, so idle connections cannot hold its slots"
                        .into(),
                );
                return None;
            }
            Some(_) if !opts.starvation_check => {
                *skipped = Some("--no-starvation-check".into());
                return None;
            }
            Some((_, ttfb)) if *ttfb * 2 > opts.starvation_wait => {
                *skipped = Some(format!(
                    "the first response took {}, too slow to tell starvation apart within --starvation-wait {}",
                    fmt::measured(*ttfb),
                    fmt::duration(opts.starvation_wait)
                ));
                return None;
            }
            Some(_) => {}
        }
        progress(Event::Progress(&format!(
            "keep-alive check: connection 1 idles; waiting up to {} for connection 2 to be answered…",
            fmt::duration(opts.starvation_wait)
        )));
        let (check, b) = starvation::run(opts, self.addr, self.config.clone(), &self.req, conn_a, progress);
        self.result.keepalive = check;
        progress(Event::Attempt(&b.opened_attempt));
        self.attempts.push(b.opened_attempt.clone());
        let b_done = b.answered_at.unwrap_or_else(Instant::now);
        if let (Some(e), None) = (&b.error, b.answered_at) {
            self.result.error = Some(format!("a second request got no answer: {e}"));
        }
        b.conn.map(|c| (c, b_done))
    }

    /// TLS close on a connection still open; --measure-idle takes the
    /// oldest. Whatever is left is closed at once.
    fn close_and_idle(&mut self, mut open_conns: Vec<(Conn, Instant)>, progress: Progress<'_>) {
        let opts = self.opts;
        let result = &mut self.result;
        let mut idle_conn = if opts.measure_idle && !open_conns.is_empty() { Some(open_conns.remove(0)) } else { None };
        if let Some(info) = result.tls.as_mut() {
            match open_conns.pop() {
                Some((Conn::Tls(mut s), _)) => {
                    progress(Event::Progress("TLS close: sent close_notify, waiting for the server to close…"));
                    info.close = Some(tls::measure_close(&mut s, opts.timeout));
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
                None if result.error.is_none() => result
                    .notes
                    .push("idle time not measured: the server closed the connection after its response".into()),
                None => {}
            }
        }
        for (c, _) in open_conns {
            c.close_now();
        }
    }
}

/// The judgements over what the probe recorded (pure: `crate::judge`).
fn judge_http(opts: &HttpOpts, timings: &Timings, result: &HttpResult, attempts: &[crate::Attempt]) -> Vec<Finding> {
    let url = &opts.url;
    let mut out = Vec::new();
    if let Some(r) = &result.response {
        out.extend(judge::missing_content_type(url, r));
    }
    out.extend(judge::keepalive_starvation(url, &result.keepalive, timings.ttfb_us, opts.starvation_wait));
    if let Some(c) = result.tls.as_ref().and_then(|t| t.close.as_ref()) {
        out.extend(judge::slow_tls_shutdown(url, c, opts.timeout));
    }
    out.extend(judge::connect_findings(&url.host_header(), url.port, attempts, opts.timeout));
    out
}
