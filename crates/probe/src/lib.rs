//! Probes from the outside: TCP connect latency (`probe tcp`) and HTTP(S)
//! checks (`probe http`). Story 4 of FIELD-NOTES began as "tell me the TCP
//! latency to this ip:port" (measured with hping3, which hung under uWSGI);
//! a plain non-blocking connect() gives the same number without raw sockets.
//! Stories 3 and 1 (keep-alive starvation, missing Content-Type, slow TLS
//! teardown) are visible from the outside too.
//!
//! Layout: `target` parses what the user typed, `tcp`/`http`/`tls` do the
//! I/O and return plain data (`ProbeReport`), `stats` is arithmetic; the
//! rendering lives in `render::probe`, so `serve` can call these as a library.

pub mod http;
pub mod http_head;
pub mod stats;
pub mod target;
pub mod tcp;
pub mod tls;
pub mod x509;

use serde::Serialize;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use unwedge_model::evidence::{ConnectTimeout, SynRetransmit};
use unwedge_model::fmt;
use unwedge_model::{Evidence, Finding, Severity};

pub use stats::Summary;
use target::Host;

/// Which address family to use (`-4`/`-6`); `Any` takes the first resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

/// What a probe reports while it runs (live lines, progress); `serve`
/// passes a callback that ignores them.
pub enum Event<'a> {
    Resolved { addrs: &'a [SocketAddr], dns: Duration },
    Attempt(&'a Attempt),
    Progress(&'a str),
}

/// A connect that needed this long had its SYN retransmitted (Linux's first
/// SYN retransmission is at 1 s).
pub const SYN_RETRANSMIT_US: u64 = 900_000;

/// How one TCP connect ended. Refusals (RST) are told apart from silence.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Refused,
    Timeout,
    Unreachable,
    Error,
}

/// One TCP connect (an element of `attempts` in the contract).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attempt {
    pub seq: u32,
    pub ok: bool,
    pub connect_us: Option<u64>,
    pub error: Option<String>,
    pub outcome: Outcome,
    /// The remote address connected to.
    pub addr: String,
    /// Our ephemeral (or --source-port) port: names the 4-tuple in tcpdump.
    pub local_port: Option<u16>,
    /// What this connect was for in an HTTP probe ("request", "starvation_check").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
}

/// The probe JSON document (CONTRACT.md, "Probe findings"). HTTP probes fill
/// `timings` and `http`; TCP probes leave them out.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub unwedge_version: String,
    pub probe: &'static str,
    pub target: String,
    pub resolved: Vec<String>,
    /// Name resolution time; 0 for an address literal.
    pub dns_us: u64,
    pub attempts: Vec<Attempt>,
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<http::Timings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<http::HttpResult>,
    pub findings: Vec<Finding>,
}

impl ProbeReport {
    /// Exit status 1: a target failed, or a warning/critical finding.
    pub fn failed(&self) -> bool {
        self.summary.lost > 0
            || self.findings.iter().any(|f| f.severity.is_alarm())
            || self.http.as_ref().is_some_and(|h| h.error.is_some())
    }
}

/// Addresses of `host`, resolved once (in a thread, so that a stuck resolver
/// cannot outlive `timeout`), filtered by family. Errors are one line.
pub fn resolve(
    host: &Host,
    port: u16,
    family: Family,
    timeout: Duration,
) -> Result<(Vec<SocketAddr>, Duration), String> {
    let started = Instant::now();
    let addrs: Vec<SocketAddr> = match host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
        Host::Name(name) => {
            let (tx, rx) = mpsc::channel();
            let query = (name.clone(), port);
            // getaddrinfo has no timeout of its own; on timeout the thread is
            // abandoned (it ends with the process, which is about to report).
            std::thread::spawn(move || {
                let _ = tx.send(query.to_socket_addrs().map(|it| it.collect::<Vec<_>>()));
            });
            match rx.recv_timeout(timeout) {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => return Err(format!("cannot resolve '{name}': {}", resolver_error(&e))),
                Err(_) => return Err(format!("cannot resolve '{name}': no answer within {}", fmt::duration(timeout))),
            }
        }
    };
    let elapsed = started.elapsed();
    let mut seen = Vec::new();
    for a in addrs {
        let keep = match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        };
        if keep && !seen.contains(&a) {
            seen.push(a);
        }
    }
    if seen.is_empty() {
        let fam = match family {
            Family::V4 => "IPv4 ",
            Family::V6 => "IPv6 ",
            Family::Any => "",
        };
        return Err(format!("'{host}' has no {fam}address"));
    }
    Ok((seen, elapsed))
}

fn resolver_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    // glibc's text is "failed to lookup address information: Name or service not known".
    match text.split_once(": ") {
        Some((_, why)) if text.starts_with("failed to lookup") => why.to_string(),
        _ => text,
    }
}

pub fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// A probe finding: the contract's finding object with `pid: null`.
pub(crate) fn finding(
    evidence: impl Into<Evidence>,
    severity: Severity,
    port: u16,
    title: String,
    explanation: &str,
    fix: &str,
) -> Finding {
    let mut f = Finding::new(severity, evidence);
    f.port = Some(port);
    f.title = title;
    f.explanation = explanation.into();
    f.fix = fix.into();
    f
}

/// connect_timeout and syn_retransmit, from the attempts of any probe.
pub(crate) fn connect_findings(target: &str, port: u16, attempts: &[Attempt], timeout: Duration) -> Vec<Finding> {
    let mut out = Vec::new();
    let timed_out: Vec<u32> = attempts.iter().filter(|a| a.outcome == Outcome::Timeout).map(|a| a.seq).collect();
    if !timed_out.is_empty() {
        let all = timed_out.len() == attempts.len();
        out.push(finding(
            ConnectTimeout {
                timed_out_seqs: timed_out.clone(),
                attempts: attempts.len(),
                timeout_ms: timeout.as_millis() as u64,
            },
            if all { Severity::Critical } else { Severity::Warning },
            port,
            format!(
                "{} of {} connects to {target} got no answer within {}",
                timed_out.len(),
                attempts.len(),
                fmt::duration(timeout)
            ),
            "The SYN was sent and neither a SYN-ACK nor a refusal came back in time. On a host that \
             listens, that means the listener's accept queue is full (the kernel drops SYNs while it \
             is), a stale CLOSE-WAIT socket holds the same 4-tuple behind a firewall that drops the \
             challenge ACK, or a firewall drops the SYN.",
            "On the server run `unwedge scan --port PORT`: it names a full or stalled accept queue, \
             keep-alive starvation or a CLOSE-WAIT leak. Otherwise check firewalls between client and server.",
        ));
    }
    let slow: Vec<&Attempt> =
        attempts.iter().filter(|a| a.ok && a.connect_us.is_some_and(|u| u >= SYN_RETRANSMIT_US)).collect();
    if !slow.is_empty() {
        let times: Vec<u64> = slow.iter().filter_map(|a| a.connect_us).collect();
        out.push(finding(
            SynRetransmit {
                slow_seqs: slow.iter().map(|a| a.seq).collect(),
                connect_us: times.clone(),
                threshold_us: SYN_RETRANSMIT_US,
            },
            Severity::Warning,
            port,
            format!(
                "{} of {} connects to {target} succeeded only after {} or more: the SYN was retransmitted",
                slow.len(),
                attempts.len(),
                fmt::measured(Duration::from_micros(times.iter().copied().min().unwrap_or(0)))
            ),
            "Linux retransmits an unanswered SYN after 1 s, then 2 s, 4 s…; a connect that takes about \
             that long lost its first SYN (or its SYN-ACK). Common causes: the listener's accept queue was \
             full, the SYN hit a stale CLOSE-WAIT 4-tuple behind a firewall, or packet loss. Clients with \
             a 1 s timeout fail outright.",
            "On the server run `unwedge scan --port PORT` while this happens; if the queue is fine, look \
             for packet loss or a firewall dropping SYNs or SYN-ACKs.",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_needs_no_resolver() {
        let (a, _) = resolve(&Host::Ip("127.0.0.1".parse().unwrap()), 80, Family::Any, Duration::from_secs(1)).unwrap();
        assert_eq!(a, vec!["127.0.0.1:80".parse().unwrap()]);
        assert!(resolve(&Host::Ip("127.0.0.1".parse().unwrap()), 80, Family::V6, Duration::from_secs(1)).is_err());
    }

    fn att(seq: u32, outcome: Outcome, us: Option<u64>) -> Attempt {
        Attempt {
            seq,
            ok: outcome == Outcome::Ok,
            connect_us: us,
            error: None,
            outcome,
            addr: "127.0.0.1:1".into(),
            local_port: None,
            role: None,
        }
    }

    #[test]
    fn connect_findings_thresholds() {
        let t = Duration::from_secs(3);
        assert!(connect_findings("t", 1, &[att(1, Outcome::Ok, Some(899_999))], t).is_empty());
        let f = connect_findings("t", 1, &[att(1, Outcome::Ok, Some(1_020_000)), att(2, Outcome::Timeout, None)], t);
        let kinds: Vec<&str> = f.iter().map(|f| f.kind().name()).collect();
        assert_eq!(kinds, ["connect_timeout", "syn_retransmit"]);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f.iter().all(|f| f.pid.is_none() && f.port == Some(1)));
        let f = connect_findings("t", 1, &[att(1, Outcome::Timeout, None)], t);
        assert_eq!(f[0].severity, Severity::Critical);
        // Refusals are failures, not timeouts.
        assert!(connect_findings("t", 1, &[att(1, Outcome::Refused, Some(50))], t).is_empty());
    }
}
