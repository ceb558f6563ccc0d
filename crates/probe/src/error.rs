//! Why a probe could not run, and why one HTTP exchange failed. Classified,
//! so callers decide by kind (the CLI exits 2; `serve` picks an HTTP status);
//! `Display` is the one line a person reads.

use crate::target::Host;
use crate::Family;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use unwedge_model::fmt::duration;

/// A probe that cannot start. A target that fails to answer is not one of
/// these: that is data in the report.
#[derive(Debug)]
pub enum ProbeError {
    /// What was given is not a target (`HOST:PORT`, an http(s) URL).
    BadTarget(String),
    /// The resolver answered with an error (no such name, …).
    Resolve { host: String, msg: String },
    /// The resolver did not answer within the probe's timeout.
    ResolveTimeout { host: String, waited: Duration },
    /// The name has no address of the family asked for (`-4`, `-6`).
    NoAddress { host: Host, family: Family },
    /// TLS cannot be set up on this host: its trust store or `--cacert`.
    Tls(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::BadTarget(msg) | ProbeError::Tls(msg) => f.write_str(msg),
            ProbeError::Resolve { host, msg } => write!(f, "cannot resolve '{host}': {msg}"),
            ProbeError::ResolveTimeout { host, waited } => {
                write!(f, "cannot resolve '{host}': no answer within {}", duration(*waited))
            }
            ProbeError::NoAddress { host, family } => {
                let fam = match family {
                    Family::V4 => "IPv4 ",
                    Family::V6 => "IPv6 ",
                    Family::Any => "",
                };
                write!(f, "'{host}' has no {fam}address")
            }
        }
    }
}

impl std::error::Error for ProbeError {}

/// Why an HTTP request got no (complete) response. Recorded in the report
/// (`http.error`, `keepalive.second_error`) as its one line.
#[derive(Debug)]
pub enum ExchangeError {
    /// The TCP connect failed (refused, timed out…).
    Connect { addr: SocketAddr, msg: String },
    /// The TLS handshake failed or got no answer.
    Handshake(String),
    /// No complete response head within the wait.
    NoResponse { waited: Duration, received: usize, interim: u64 },
    /// The server closed before the end of the response head.
    Closed { mid_head: bool },
    /// The server closed before the end of the body.
    ClosedInBody { body_bytes: u64 },
    /// No body bytes for this long.
    Stalled(Duration),
    /// The response is not HTTP/1.x as RFC 9112 frames it.
    Malformed(String),
    /// A read or write failed.
    Io { doing: &'static str, err: io::Error },
    /// Setting socket timeouts failed.
    Socket(io::Error),
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Connect { addr, msg } => write!(f, "connect to {addr}: {msg}"),
            ExchangeError::Handshake(msg) | ExchangeError::Malformed(msg) => f.write_str(msg),
            ExchangeError::NoResponse { waited, received, interim } => {
                let within = duration(*waited);
                if *received > 0 {
                    write!(f, "no complete response head within {within} ({received} bytes received)")
                } else if *interim > 0 {
                    write!(f, "only {interim} interim (1xx) responses within {within}")
                } else {
                    write!(f, "no response within {within}")
                }
            }
            ExchangeError::Closed { mid_head: false } => {
                f.write_str("the server closed the connection without a response")
            }
            ExchangeError::Closed { mid_head: true } => {
                f.write_str("the server closed the connection in the middle of the response head")
            }
            ExchangeError::ClosedInBody { body_bytes } => {
                write!(f, "the server closed the connection after {body_bytes} body bytes, before the end of the body")
            }
            ExchangeError::Stalled(gap) => write!(f, "the body stalled for {}", duration(*gap)),
            ExchangeError::Io { doing, err } => match err.kind() {
                io::ErrorKind::ConnectionReset => write!(f, "{doing}: the server reset the connection"),
                io::ErrorKind::BrokenPipe => write!(f, "{doing}: the server had closed the connection"),
                _ => write!(f, "{doing}: {err}"),
            },
            ExchangeError::Socket(e) => write!(f, "socket: {e}"),
        }
    }
}

impl std::error::Error for ExchangeError {}

impl From<String> for ExchangeError {
    /// The framing parsers (`http_head`) say what is malformed in one line.
    fn from(msg: String) -> Self {
        ExchangeError::Malformed(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines people (and tests/bad_input.rs) read, unchanged by the types.
    #[test]
    fn lines() {
        let name = |n: &str| n.to_string();
        let e = ProbeError::Resolve { host: name("x.invalid"), msg: "Name or service not known".into() };
        assert_eq!(e.to_string(), "cannot resolve 'x.invalid': Name or service not known");
        let e = ProbeError::ResolveTimeout { host: name("h"), waited: Duration::from_secs(3) };
        assert_eq!(e.to_string(), "cannot resolve 'h': no answer within 3.0 s");
        let e = ProbeError::NoAddress { host: Host::Ip("::1".parse().unwrap()), family: Family::V4 };
        assert_eq!(e.to_string(), "'[::1]' has no IPv4 address");
        let e = ExchangeError::NoResponse { waited: Duration::from_secs(1), received: 0, interim: 2 };
        assert_eq!(e.to_string(), "only 2 interim (1xx) responses within 1.0 s");
        let e = ExchangeError::Io { doing: "reading the body", err: io::ErrorKind::ConnectionReset.into() };
        assert_eq!(e.to_string(), "reading the body: the server reset the connection");
    }
}
