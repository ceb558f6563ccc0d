//! One HTTP/1.1 exchange over our own connection: connect (+ TLS), write
//! the request, read the head and the body as the response frames it, with
//! every read bounded. Returns what happened, timed; judges nothing.

use super::HttpOpts;
use crate::error::ExchangeError;
use crate::http_head::{framing, keeps_alive, parse_head, Chunked, Framing, Head};
use crate::report::{IdleResult, ResponseInfo, TlsInfo};
use crate::target::Url;
use crate::tcp::connect_once;
use crate::tls::{self, Conn};
use crate::{us, Attempt};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use unwedge_model::fmt;

/// A response read off a connection.
pub(super) struct Exchange {
    pub head: Head,
    pub framing: Framing,
    pub body_bytes: u64,
    /// Request written -> first response byte.
    pub ttfb: Duration,
    /// When the first response byte arrived.
    pub first_byte_at: Instant,
    pub done_at: Instant,
    /// The server closed (or will close) the connection after this response.
    pub closed: bool,
    /// Why the body was not read to its end (a cap below), if it was not.
    pub body_cut: Option<String>,
}

/// A probe reads this much of a body and no more (an endless stream, a
/// 100 GB download): enough for its timings, bounded for the host.
const MAX_BODY_BYTES: u64 = 8 << 20;
const MAX_BODY_TIME: Duration = Duration::from_secs(10);

pub(super) fn request_bytes(url: &Url) -> Vec<u8> {
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
pub(super) fn exchange(
    conn: &mut Conn,
    req: &[u8],
    first_byte_wait: Duration,
    gap: Duration,
) -> Result<Exchange, ExchangeError> {
    let sent_at = Instant::now();
    let deadline = sent_at + first_byte_wait;
    tls::set_timeouts(conn.tcp(), deadline).map_err(ExchangeError::Socket)?;
    conn.write_all(req)
        .and_then(|_| conn.flush())
        .map_err(|err| ExchangeError::Io { doing: "sending the request", err })?;
    let mut chunk = [0u8; 16 * 1024];
    let (head, rest, first_byte_at) = read_head(conn, &mut chunk, deadline, first_byte_wait)?;
    let framing = framing(false, &head)?;
    let body = read_body(conn, &mut chunk, framing, rest, gap)?;
    let keep = keeps_alive(&head, framing);
    Ok(Exchange {
        framing,
        body_bytes: body.bytes,
        ttfb: first_byte_at - sent_at,
        first_byte_at,
        done_at: Instant::now(),
        closed: body.server_closed || !keep || body.cut.is_some(),
        body_cut: body.cut,
        head,
    })
}

/// Reads up to the end of the response's head, by `deadline`, dropping
/// interim 1xx heads. Returns the head, the bytes read past it, and when
/// the first byte came.
fn read_head(
    conn: &mut Conn,
    chunk: &mut [u8],
    deadline: Instant,
    first_byte_wait: Duration,
) -> Result<(Head, Vec<u8>, Instant), ExchangeError> {
    let mut buf = Vec::with_capacity(8192);
    let mut first_byte_at = None;
    let mut interim = 0u64;
    let late =
        |buf: &[u8], interim: u64| ExchangeError::NoResponse { waited: first_byte_wait, received: buf.len(), interim };
    let (head, used) = 'head: loop {
        match tls::set_timeouts(conn.tcp(), deadline) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(late(&buf, interim)),
            Err(e) => return Err(ExchangeError::Socket(e)),
            Ok(()) => {}
        }
        match conn.read(chunk) {
            Ok(0) => return Err(ExchangeError::Closed { mid_head: !buf.is_empty() }),
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
            Err(err) => return Err(ExchangeError::Io { doing: "reading the response", err }),
        }
    };
    Ok((head, buf[used..].to_vec(), first_byte_at.unwrap_or_else(Instant::now)))
}

/// What reading a body gave.
struct Body {
    bytes: u64,
    server_closed: bool,
    /// Why it was not read to its end (a cap), if it was not.
    cut: Option<String>,
}

/// Reads the body as `framing` frames it, `rest` (read with the head)
/// first; each read waits at most `gap`, the whole at most the caps.
fn read_body(
    conn: &mut Conn,
    chunk: &mut [u8],
    framing: Framing,
    mut rest: Vec<u8>,
    gap: Duration,
) -> Result<Body, ExchangeError> {
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
                return Err(ExchangeError::ClosedInBody { body_bytes: body });
            }
            break;
        }
        let gap_ends = Instant::now() + gap;
        match tls::set_timeouts(conn.tcp(), gap_ends.min(body_deadline)) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue, // the body deadline passed: cut above
            Err(e) => return Err(ExchangeError::Socket(e)),
            Ok(()) => {}
        }
        match conn.read(chunk) {
            Ok(0) => server_closed = true,
            // rustls reports a close without close_notify as UnexpectedEof.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => server_closed = true,
            Ok(n) => rest.extend_from_slice(&chunk[..n]),
            Err(e) if timed_out(&e) && Instant::now() < gap_ends => {} // the body deadline: cut above
            Err(e) if timed_out(&e) => return Err(ExchangeError::Stalled(gap)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(ExchangeError::Io { doing: "reading the body", err }),
        }
    }
    if framing == Framing::Chunked {
        body = chunked.body;
    }
    Ok(Body { bytes: body, server_closed, cut: body_cut })
}

pub(super) fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// A connection as [`open`] left it: the attempt, and the connection or why not.
pub(super) struct Opened {
    pub attempt: Attempt,
    pub conn: Option<Conn>,
    pub tls: Option<TlsInfo>,
    pub error: Option<ExchangeError>,
}

/// Connect (+ TLS) to `addr`.
pub(super) fn open(
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
        let msg = c.error.unwrap_or_else(|| "failed".into());
        let error = Some(ExchangeError::Connect { addr, msg });
        return Opened { attempt, conn: None, tls: None, error };
    };
    let _ = stream.set_nodelay(true);
    match config {
        None => Opened { attempt, conn: Some(Conn::Plain(stream)), tls: None, error: None },
        Some(cfg) => {
            match tls::handshake(stream, cfg, &opts.url.host, !opts.insecure, Instant::now() + handshake_wait) {
                Ok((s, info)) => Opened { attempt, conn: Some(Conn::Tls(Box::new(s))), tls: Some(info), error: None },
                Err(e) => Opened { attempt, conn: None, tls: None, error: Some(ExchangeError::Handshake(e)) },
            }
        }
    }
}

pub(super) fn response_info(x: &Exchange) -> ResponseInfo {
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

/// Waits (bounded by `max_wait`) for the server to close an idle connection.
pub(super) fn measure_idle(conn: &mut Conn, since: Instant, max_wait: Duration) -> IdleResult {
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

    /// `exchange` over a real loopback socket against canned responses.
    fn canned(response: &'static [u8], close: bool) -> Result<Exchange, ExchangeError> {
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
        let e = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nabc", true).err().unwrap().to_string();
        assert!(e.contains("before the end of the body"), "{e}");
        let e = canned(b"", true).err().unwrap().to_string();
        assert!(e.contains("without a response"), "{e}");
    }
}
