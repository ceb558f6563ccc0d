//! Shared by the `unwedge serve` tests: start a server on a free loopback
//! port (its address is read from its stderr line) and speak raw HTTP/1.1
//! to it over std TcpStream, every read with a timeout.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `unwedge serve`; SIGKILLed on drop unless it already exited.
pub struct Server {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    pub started: Instant,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_unwedge"));
        cmd.arg("serve").args(["--listen", "127.0.0.1:0", "--scan-interval", "1s"]).args(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0);
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start unwedge serve");
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let text = rx.recv_timeout(Duration::from_secs(10)).expect("serve printed its address within 10 s");
        let addr = text.parse().unwrap_or_else(|e| panic!("bad address '{text}': {e}"));
        Server { child, addr, started }
    }

    pub fn get(&self, path: &str) -> Resp {
        request(self.addr, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    }

    pub fn get_with(&self, path: &str, header: &str) -> Resp {
        request(self.addr, &format!("GET {path} HTTP/1.1\r\nHost: t\r\n{header}\r\nConnection: close\r\n\r\n"))
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request on a fresh connection; the server closes it (Connection: close).
pub fn request(addr: SocketAddr, raw: &str) -> Resp {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).expect("send request");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read response (10 s limit)");
    parse(&buf)
}

/// A TCP connection to `to` from the local address `src` (any of 127/8 is
/// loopback on Linux: a second "host" for per-source limits).
pub fn connect_from(src: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = socket2::Socket::new(socket2::Domain::for_address(to), socket2::Type::STREAM, None)?;
    s.bind(&SocketAddr::new(src, 0).into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(s.into())
}

/// As `request`, from the local address `src`.
pub fn request_from(src: IpAddr, addr: SocketAddr, raw: &str) -> Resp {
    let mut s = connect_from(src, addr).unwrap_or_else(|e| panic!("connect from {src} to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).expect("send request");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read response (10 s limit)");
    parse(&buf)
}

pub fn parse(buf: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head in {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    Resp { status, head: head.to_ascii_lowercase(), body: body.to_string() }
}
