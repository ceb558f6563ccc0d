//! `GET /v1/probe/tcp` and `/v1/probe/http`: `unwedge probe` as a service
//! (story 4's latency service), without becoming an open proxy or a port
//! scanner for whoever reaches it:
//! - the target is resolved first and the address the probe will use is
//!   checked against `--allow-target` (default loopback); outside it the
//!   answer is 403 and no packet is sent to it;
//! - the probe then connects to that checked address, never re-resolving the
//!   name (a DNS answer that changes in between cannot redirect it);
//! - count, interval and timeouts are capped, and each client gets a few
//!   probes at a time and a bounded rate of them.

use super::respond::{error, json_body, params, Resp};
use super::State;
use hyper::header::{self, HeaderValue};
use hyper::StatusCode;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use unwedge_probe::target::{parse_host_port, parse_url, Host, HostPort};
use unwedge_probe::{self as probe, Family, ProbeError};

pub const MAX_COUNT: u32 = 20;
pub const MAX_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_COUNT: u32 = 5;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);
const MAX_INTERVAL: Duration = Duration::from_secs(1);
const STARVATION_WAIT: Duration = Duration::from_secs(2);
/// Probes one client may run at once, and in all.
pub const PER_CLIENT_CONCURRENT: u32 = 2;
const GLOBAL_CONCURRENT: u32 = 16;
/// Token bucket per client: a burst of this many probes...
pub const BURST: f64 = 10.0;
/// ... refilled at this many per second.
const REFILL_PER_S: f64 = 1.0;
/// Clients remembered; beyond this, idle ones with a full bucket are forgotten.
const MAX_CLIENTS: usize = 4096;

/// Per-client concurrency and rate limits for probes.
#[derive(Default)]
pub struct Gate {
    inner: Mutex<GateInner>,
}

#[derive(Default)]
struct GateInner {
    clients: HashMap<IpAddr, Bucket>,
    running: u32,
}

struct Bucket {
    running: u32,
    tokens: f64,
    at: Instant,
}

/// A probe slot; frees itself on drop (also when the probe panics).
pub struct Permit {
    state: Arc<State>,
    ip: IpAddr,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Permit({})", self.ip)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut g = self.state.probes.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.running = g.running.saturating_sub(1);
        if let Some(b) = g.clients.get_mut(&self.ip) {
            b.running = b.running.saturating_sub(1);
        }
    }
}

impl Gate {
    /// A slot for `ip`, or why not (429: too many at once, or too often).
    fn admit(state: &Arc<State>, ip: IpAddr, now: Instant) -> Result<Permit, &'static str> {
        let ip = super::limits::client_key(ip);
        let mut g = state.probes.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.clients.len() >= MAX_CLIENTS {
            g.clients.retain(|_, b| b.running > 0 || refill(b, now) < BURST);
        }
        if g.running >= GLOBAL_CONCURRENT {
            return Err("too many probes are running: try again shortly");
        }
        let b = g.clients.entry(ip).or_insert(Bucket { running: 0, tokens: BURST, at: now });
        b.tokens = refill(b, now);
        b.at = now;
        if b.running >= PER_CLIENT_CONCURRENT {
            return Err("too many probes from this client at once");
        }
        if b.tokens < 1.0 {
            return Err("probe rate limit for this client reached: try again shortly");
        }
        b.tokens -= 1.0;
        b.running += 1;
        g.running += 1;
        Ok(Permit { state: state.clone(), ip })
    }
}

fn refill(b: &Bucket, now: Instant) -> f64 {
    (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * REFILL_PER_S).min(BURST)
}

/// Why a probe request is refused: a status and one line.
struct Reject(StatusCode, String);

impl Reject {
    fn bad(msg: impl Into<String>) -> Reject {
        Reject(StatusCode::BAD_REQUEST, msg.into())
    }

    /// A probe that could not run, by kind: the target's name is the
    /// target's problem (502, or 504 when the resolver is silent); TLS that
    /// cannot be set up is this host's (500: its trust store).
    fn probe(e: ProbeError) -> Reject {
        let status = match &e {
            ProbeError::BadTarget(_) => StatusCode::BAD_REQUEST,
            ProbeError::Resolve { .. } | ProbeError::NoAddress { .. } => StatusCode::BAD_GATEWAY,
            ProbeError::ResolveTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProbeError::Tls(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Reject(status, e.to_string())
    }

    fn into_resp(self) -> Resp {
        error(self.0, &self.1)
    }
}

fn too_many(msg: &str) -> Resp {
    let mut r = error(StatusCode::TOO_MANY_REQUESTS, msg);
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn duration_param(v: &str, name: &str, max: Duration) -> Result<Duration, Reject> {
    match unwedge_model::duration::parse(v) {
        Ok(d) if !d.is_zero() || name == "interval" => Ok(d.min(max)),
        Ok(_) => Err(Reject::bad(format!("{name} must be more than 0"))),
        Err(e) => Err(Reject::bad(format!("{name}: {e}"))),
    }
}

fn bool_param(v: &str, name: &str) -> Result<bool, Reject> {
    match v {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(Reject::bad(format!("{name} must be true or false"))),
    }
}

/// Resolves `host` once and checks the address the probe will use.
fn resolve_checked(
    state: &State,
    host: &Host,
    port: u16,
    timeout: Duration,
) -> Result<(SocketAddr, Vec<SocketAddr>, Duration), Reject> {
    let (addrs, dns) = probe::resolve(host, port, Family::Any, timeout).map_err(Reject::probe)?;
    let addr = addrs[0];
    if !state.cfg.allow.iter().any(|c| c.contains(addr.ip())) {
        let name = match host {
            Host::Ip(_) => String::new(),
            Host::Name(n) => format!("{n} resolves to "),
        };
        return Err(Reject(
            StatusCode::FORBIDDEN,
            format!("{name}{} is outside --allow-target: not probed", addr.ip()),
        ));
    }
    Ok((addr, addrs, dns))
}

pub async fn tcp(state: Arc<State>, peer: SocketAddr, query: &str) -> Resp {
    let mut target = None;
    let mut count = DEFAULT_COUNT;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut interval = DEFAULT_INTERVAL;
    for (k, v) in params(query) {
        let r = match k.as_str() {
            "target" => parse_host_port(&v)
                .map(|t| target = Some((v.clone(), t)))
                .map_err(|e| Reject::bad(format!("target: {e}"))),
            "count" => match v.parse::<u32>() {
                Ok(n) if n >= 1 => {
                    count = n.min(MAX_COUNT);
                    Ok(())
                }
                _ => Err(Reject::bad("count must be a number from 1 (at most 20 are sent)")),
            },
            "timeout" => duration_param(&v, "timeout", MAX_TIMEOUT).map(|d| timeout = d),
            "interval" => duration_param(&v, "interval", MAX_INTERVAL).map(|d| interval = d),
            _ => Err(Reject::bad(format!("unknown parameter '{k}' (target, count, timeout, interval)"))),
        };
        if let Err(reject) = r {
            return reject.into_resp();
        }
    }
    let Some((text, target)) = target else {
        return error(StatusCode::BAD_REQUEST, "target=HOST:PORT is required");
    };
    let permit = match Gate::admit(&state, peer.ip(), Instant::now()) {
        Ok(p) => p,
        Err(msg) => return too_many(msg),
    };
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let (addr, addrs, dns) = resolve_checked(&state, &target.host, target.port, timeout)?;
        let opts = probe::tcp::TcpOpts {
            // The checked address, so the probe does not resolve again.
            target: HostPort { host: Host::Ip(addr.ip()), port: addr.port() },
            count,
            interval,
            timeout,
            source_port: None,
            family: Family::Any,
        };
        let mut report = probe::tcp::probe_tcp(&opts, &mut |_| {}).map_err(Reject::probe)?;
        report.target = text;
        report.resolved = addrs.iter().map(|a| a.ip().to_string()).collect();
        report.dns_us = probe::us(dns);
        Ok::<_, Reject>(json_body(StatusCode::OK, &report))
    });
    match job.await {
        Ok(Ok(r)) => r,
        Ok(Err(reject)) => reject.into_resp(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the probe failed"),
    }
}

pub async fn http(state: Arc<State>, peer: SocketAddr, query: &str) -> Resp {
    let mut url = None;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut starvation_check = true;
    let mut insecure = false;
    for (k, v) in params(query) {
        let r = match k.as_str() {
            "url" => parse_url(&v).map(|u| url = Some(u)).map_err(|e| Reject::bad(format!("url: {e}"))),
            "timeout" => duration_param(&v, "timeout", MAX_TIMEOUT).map(|d| timeout = d),
            "starvation_check" => bool_param(&v, "starvation_check").map(|b| starvation_check = b),
            "insecure" => bool_param(&v, "insecure").map(|b| insecure = b),
            _ => Err(Reject::bad(format!("unknown parameter '{k}' (url, timeout, starvation_check, insecure)"))),
        };
        if let Err(reject) = r {
            return reject.into_resp();
        }
    }
    let Some(url) = url else {
        return error(StatusCode::BAD_REQUEST, "url=http://HOST[:PORT]/PATH is required");
    };
    let permit = match Gate::admit(&state, peer.ip(), Instant::now()) {
        Ok(p) => p,
        Err(msg) => return too_many(msg),
    };
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let (addr, addrs, dns) = resolve_checked(&state, &url.host, url.port, timeout)?;
        let opts = probe::http::HttpOpts {
            url,
            timeout,
            starvation_wait: STARVATION_WAIT,
            starvation_check,
            // Up to a minute per request: not offered here.
            measure_idle: false,
            max_wait: STARVATION_WAIT,
            insecure,
            cacert: None,
            family: Family::Any,
        };
        // The checked address, so the probe does not resolve again.
        let mut report =
            probe::http::probe_http_at(&opts, Some((vec![addr], dns)), &mut |_| {}).map_err(Reject::probe)?;
        report.resolved = addrs.iter().map(|a| a.ip().to_string()).collect();
        Ok::<_, Reject>(json_body(StatusCode::OK, &report))
    });
    match job.await {
        Ok(Ok(r)) => r,
        Ok(Err(reject)) => reject.into_resp(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the probe failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::{limits, Config};

    fn state() -> Arc<State> {
        Arc::new(State::new(Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            scan_interval: Duration::from_secs(15),
            token: None,
            allow: limits::loopback(),
            metrics_public: false,
            top_n: 10,
            input: unwedge_pipeline::Input::Live {
                interval: Duration::from_secs(1),
                until: None,
                record: false,
                keep_secrets: false,
            },
            thresholds: Default::default(),
            stacks: unwedge_pipeline::StackMode::Off,
            record: None,
            keep_secrets: false,
            continuous: false,
        }))
    }

    #[test]
    fn per_client_concurrency_and_rate() {
        let s = state();
        let t0 = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let p1 = Gate::admit(&s, a, t0).unwrap();
        let p2 = Gate::admit(&s, a, t0).unwrap();
        assert!(Gate::admit(&s, a, t0).unwrap_err().contains("at once"));
        // Another client is not affected.
        let other = Gate::admit(&s, "10.0.0.2".parse().unwrap(), t0).unwrap();
        drop((p1, p2, other));
        // The burst: 10 in all (2 used above), then 1 per second.
        for _ in 0..8 {
            drop(Gate::admit(&s, a, t0).unwrap());
        }
        assert!(Gate::admit(&s, a, t0).unwrap_err().contains("rate limit"));
        drop(Gate::admit(&s, a, t0 + Duration::from_millis(1100)).unwrap());
        assert!(Gate::admit(&s, a, t0 + Duration::from_millis(1200)).is_err());
    }

    #[test]
    fn an_ipv6_64_is_one_client() {
        let s = state();
        let t0 = Instant::now();
        let _p1 = Gate::admit(&s, "2001:db8::1".parse().unwrap(), t0).unwrap();
        let _p2 = Gate::admit(&s, "2001:db8::2".parse().unwrap(), t0).unwrap();
        assert!(Gate::admit(&s, "2001:db8::ffff:3".parse().unwrap(), t0).is_err());
        assert!(Gate::admit(&s, "2001:db8:0:1::1".parse().unwrap(), t0).is_ok());
    }

    #[test]
    fn global_cap() {
        let s = state();
        let t0 = Instant::now();
        let held: Vec<Permit> =
            (0..GLOBAL_CONCURRENT).map(|i| Gate::admit(&s, IpAddr::from([10, 1, 0, i as u8]), t0).unwrap()).collect();
        assert!(Gate::admit(&s, "10.2.0.1".parse().unwrap(), t0).unwrap_err().contains("too many probes are running"));
        drop(held);
        assert!(Gate::admit(&s, "10.2.0.1".parse().unwrap(), t0).is_ok());
    }

    #[test]
    fn probe_errors_map_to_statuses_by_kind() {
        let status = |e| Reject::probe(e).0;
        let host = || "h.invalid".to_string();
        assert_eq!(status(ProbeError::BadTarget("x".into())), StatusCode::BAD_REQUEST);
        assert_eq!(status(ProbeError::Resolve { host: host(), msg: "unknown".into() }), StatusCode::BAD_GATEWAY);
        let silent = ProbeError::ResolveTimeout { host: host(), waited: Duration::from_secs(3) };
        assert_eq!(status(silent), StatusCode::GATEWAY_TIMEOUT);
        let v6 = ProbeError::NoAddress { host: Host::Name(host()), family: Family::V6 };
        assert_eq!(status(v6), StatusCode::BAD_GATEWAY);
        assert_eq!(
            status(ProbeError::Tls("no trusted CA certificates found".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        // The message is the probe's own line.
        let r = Reject::probe(ProbeError::Resolve { host: host(), msg: "Name or service not known".into() });
        assert_eq!(r.1, "cannot resolve 'h.invalid': Name or service not known");
    }
}
