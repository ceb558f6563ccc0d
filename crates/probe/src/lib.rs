//! Probes from the outside: TCP connect latency (`probe tcp`) and HTTP(S)
//! checks (`probe http`). Story 4 (docs/stories.md) began as "tell me the TCP
//! latency to this ip:port" (measured with hping3, which hung under uWSGI);
//! a plain non-blocking connect() gives the same number without raw sockets.
//! Stories 3 and 1 (keep-alive starvation, missing Content-Type, slow TLS
//! teardown) are visible from the outside too.
//!
//! Layout:
//! - `target` parses what the user typed; `http_head` and `x509` parse what
//!   a server sends (pure, fuzzed);
//! - `tcp`, `tls` and `http` do the I/O (`http::exchange` one request,
//!   `http::starvation` the keep-alive experiment) and record plain data,
//!   the `report` (the probe JSON document);
//! - `judge` turns what was recorded into findings, pure; `stats` is arithmetic;
//! - `error`: why a probe could not run (`ProbeError`) or an exchange failed.
//!
//! Rendering lives in the binary, so `serve` calls these as a library.

pub mod error;
pub mod http;
pub mod http_head;
pub mod judge;
pub mod report;
pub mod stats;
pub mod target;
pub mod tcp;
pub mod tls;
pub mod x509;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use error::{ExchangeError, ProbeError};
pub use report::{
    Attempt, CloseResult, HttpResult, IdleResult, KeepAliveCheck, Outcome, ProbeReport, ResponseInfo, Timings, TlsInfo,
};
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

/// Addresses of `host`, resolved once (in a thread, so that a stuck resolver
/// cannot outlive `timeout`), filtered by family.
pub fn resolve(
    host: &Host,
    port: u16,
    family: Family,
    timeout: Duration,
) -> Result<(Vec<SocketAddr>, Duration), ProbeError> {
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
                Ok(Err(e)) => return Err(ProbeError::Resolve { host: name.clone(), msg: resolver_error(&e) }),
                Err(_) => return Err(ProbeError::ResolveTimeout { host: name.clone(), waited: timeout }),
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
        return Err(ProbeError::NoAddress { host: host.clone(), family });
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

/// Microseconds, as the contract's `*_us` fields count.
pub fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_needs_no_resolver() {
        let (a, _) = resolve(&Host::Ip("127.0.0.1".parse().unwrap()), 80, Family::Any, Duration::from_secs(1)).unwrap();
        assert_eq!(a, vec!["127.0.0.1:80".parse().unwrap()]);
        let e = resolve(&Host::Ip("127.0.0.1".parse().unwrap()), 80, Family::V6, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, ProbeError::NoAddress { family: Family::V6, .. }), "{e:?}");
        assert_eq!(e.to_string(), "'127.0.0.1' has no IPv6 address");
    }
}
