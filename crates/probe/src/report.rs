//! The probe report: the JSON document of docs/contract.md ("Probe reports"),
//! plain data. The probes fill it, `judge` reads it, the binary renders it.

use crate::stats::Summary;
use serde::Serialize;
use unwedge_model::Finding;

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

/// The probe JSON document (docs/contract.md, "Probe reports"). HTTP probes fill
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
    pub timings: Option<Timings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpResult>,
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

/// What the handshake negotiated and who the server says it is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TlsInfo {
    pub protocol: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub handshake_us: u64,
    /// False under --insecure: the chain was not checked.
    pub verified: bool,
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
    /// RFC 3339, UTC.
    pub cert_not_after: Option<String>,
    pub cert_days_left: Option<i64>,
    /// How the server answered our close_notify (null when not measured).
    pub close: Option<CloseResult>,
}

/// How the server reacted to our close_notify.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CloseResult {
    /// `close_notify` (answered in kind), `fin` (closed without it), `reset`,
    /// `no_answer` (still open after `waited_us`), `error`.
    pub outcome: &'static str,
    pub after_us: Option<u64>,
    pub waited_us: u64,
}
