//! `probe tcp`: connect latency with a plain non-blocking connect() and
//! poll() against a deadline. No raw sockets, no root, no signals: the time
//! from connect() to writable is one SYN/SYN-ACK round trip (story 4), and a
//! refusal (RST) is told apart from silence.

use crate::judge::connect_findings;
use crate::{resolve, stats, target::HostPort, us, Attempt, Event, Family, Outcome, ProbeError, ProbeReport};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TcpOpts {
    pub target: HostPort,
    pub count: u32,
    pub interval: Duration,
    pub timeout: Duration,
    pub source_port: Option<u16>,
    pub family: Family,
}

/// The result of one connect: the stream when it succeeded.
pub struct Connected {
    pub outcome: Outcome,
    pub elapsed: Duration,
    pub error: Option<String>,
    pub local_port: Option<u16>,
    pub stream: Option<TcpStream>,
}

impl Connected {
    pub fn attempt(&self, seq: u32, addr: SocketAddr) -> Attempt {
        Attempt {
            seq,
            ok: self.outcome == Outcome::Ok,
            // A refusal's time is a round trip too (SYN -> RST); a timeout has none.
            connect_us: match self.outcome {
                Outcome::Ok | Outcome::Refused => Some(us(self.elapsed)),
                _ => None,
            },
            error: self.error.clone(),
            outcome: self.outcome,
            addr: addr.to_string(),
            local_port: self.local_port,
            role: None,
        }
    }
}

/// One TCP connect to `addr` that cannot take longer than `timeout`.
pub fn connect_once(addr: SocketAddr, source_port: Option<u16>, timeout: Duration) -> Connected {
    let fail = |outcome, error: String, elapsed| Connected {
        outcome,
        elapsed,
        error: Some(error),
        local_port: None,
        stream: None,
    };
    let socket = match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => s,
        Err(e) => return fail(Outcome::Error, format!("socket: {e}"), Duration::ZERO),
    };
    if let Err(e) = socket.set_nonblocking(true) {
        return fail(Outcome::Error, format!("set non-blocking: {e}"), Duration::ZERO);
    }
    if let Some(p) = source_port {
        let local: SocketAddr = match addr {
            SocketAddr::V4(_) => SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), p),
            SocketAddr::V6(_) => SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), p),
        };
        // SO_REUSEADDR lets the same source port be used again at once: the
        // point of --source-port is to hit one 4-tuple on purpose.
        let _ = socket.set_reuse_address(true);
        if let Err(e) = socket.bind(&SockAddr::from(local)) {
            return fail(Outcome::Error, format!("cannot bind source port {p}: {e}"), Duration::ZERO);
        }
    }
    let started = Instant::now();
    let deadline = started + timeout;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            if let Err(e) = wait_writable(&socket, deadline) {
                let elapsed = started.elapsed();
                return if e.kind() == io::ErrorKind::TimedOut {
                    fail(
                        Outcome::Timeout,
                        format!("no answer within {}", unwedge_model::fmt::duration(timeout)),
                        elapsed,
                    )
                } else {
                    fail(Outcome::Error, format!("poll: {e}"), elapsed)
                };
            }
            match socket.take_error() {
                Ok(None) => {}
                Ok(Some(e)) => return classify(e, started.elapsed()),
                Err(e) => return fail(Outcome::Error, format!("SO_ERROR: {e}"), started.elapsed()),
            }
        }
        Err(e) => return classify(e, started.elapsed()),
    }
    let elapsed = started.elapsed();
    let local_port = socket.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.port());
    if source_port.is_some() {
        // Abortive close (RST, no TIME_WAIT) so the next attempt can reuse the 4-tuple.
        let _ = socket.set_linger(Some(Duration::ZERO));
    }
    let _ = socket.set_nonblocking(false);
    Connected { outcome: Outcome::Ok, elapsed, error: None, local_port, stream: Some(socket.into()) }
}

fn classify(e: io::Error, elapsed: Duration) -> Connected {
    let (outcome, text) = match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => (Outcome::Refused, "connection refused (RST)".to_string()),
        Some(libc::ETIMEDOUT) => (Outcome::Timeout, "timed out (kernel gave up on SYN retransmits)".to_string()),
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH) => (Outcome::Unreachable, e.to_string()),
        _ => (Outcome::Error, e.to_string()),
    };
    Connected { outcome, elapsed, error: Some(text), local_port: None, stream: None }
}

/// poll() for POLLOUT until `deadline`; EINTR is retried with the time left.
fn wait_writable(socket: &Socket, deadline: Instant) -> io::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let mut pfd = libc::pollfd { fd: socket.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        // Round up so that a sub-millisecond remainder still waits.
        let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            return Ok(());
        }
    }
}

/// Runs the probe; `on_event` sees the resolution and each attempt as it
/// completes (live lines). An error (resolution) means the probe could not run.
pub fn probe_tcp(opts: &TcpOpts, on_event: &mut dyn FnMut(Event<'_>)) -> Result<ProbeReport, ProbeError> {
    let (addrs, dns) = resolve(&opts.target.host, opts.target.port, opts.family, opts.timeout)?;
    on_event(Event::Resolved { addrs: &addrs, dns });
    let addr = addrs[0];
    let mut attempts = Vec::with_capacity(opts.count as usize);
    let started = Instant::now();
    for seq in 1..=opts.count {
        if seq > 1 {
            // Like ping: attempts start `interval` apart, or at once after a slow one.
            let due = started + opts.interval * (seq - 1);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let c = connect_once(addr, opts.source_port, opts.timeout);
        let a = c.attempt(seq, addr);
        drop(c.stream);
        on_event(Event::Attempt(&a));
        attempts.push(a);
    }
    let times: Vec<u64> = attempts.iter().filter(|a| a.ok).filter_map(|a| a.connect_us).collect();
    let target = opts.target.to_string();
    let findings = connect_findings(&target, opts.target.port, &attempts, opts.timeout);
    let mut findings = findings;
    unwedge_model::sort_findings(&mut findings);
    Ok(ProbeReport {
        unwedge_version: env!("CARGO_PKG_VERSION").into(),
        probe: "tcp",
        target,
        resolved: addrs.iter().map(|a| a.ip().to_string()).collect(),
        dns_us: us(dns),
        summary: stats::summarize(opts.count, &times),
        attempts,
        timings: None,
        http: None,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn ok_and_refused_on_loopback() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = connect_once(addr, None, Duration::from_secs(2));
        assert_eq!(c.outcome, Outcome::Ok);
        assert!(c.elapsed < Duration::from_secs(1));
        assert!(c.local_port.is_some());
        drop(l);
        let c = connect_once(addr, None, Duration::from_secs(2));
        assert_eq!(c.outcome, Outcome::Refused, "{:?}", c.error);
        let a = c.attempt(1, addr);
        assert!(!a.ok && a.connect_us.is_some());
    }
}
