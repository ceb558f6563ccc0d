//! Load on `unwedge serve`: N concurrent keep-alive clients on loopback hit
//! /metrics and /v1/scan (alternating) for a fixed time; prints requests,
//! errors and latency percentiles per path. Run through bench/serve_load.sh,
//! which also starts the server and reports its peak RSS.
//!
//!   cargo run --release --example serve_load -- ADDR [CLIENTS] [SECONDS] [TOKEN]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const PATHS: [&str; 2] = ["/metrics", "/v1/scan"];

/// Reads one response (Content-Length framed); returns the status code.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    let len: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr =
        args.first().expect("usage: serve_load ADDR [CLIENTS] [SECONDS] [TOKEN]").parse().expect("ADDR");
    let clients: usize = args.get(1).map_or(200, |x| x.parse().expect("CLIENTS"));
    let secs: u64 = args.get(2).map_or(10, |x| x.parse().expect("SECONDS"));
    let auth = args.get(3).map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let auth = auth.clone();
            std::thread::spawn(move || {
                let mut lat: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
                let mut errors = 0u64;
                let mut buf = Vec::new();
                let mut conn: Option<TcpStream> = None;
                let mut k = i;
                while Instant::now() < deadline {
                    let which = k % 2;
                    k += 1;
                    let t = Instant::now();
                    let res = (|| -> std::io::Result<u16> {
                        if conn.is_none() {
                            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
                            s.set_read_timeout(Some(Duration::from_secs(10)))?;
                            s.set_nodelay(true)?;
                            conn = Some(s);
                        }
                        let s = conn.as_mut().expect("connected");
                        s.write_all(format!("GET {} HTTP/1.1\r\nHost: b\r\n{auth}\r\n", PATHS[which]).as_bytes())?;
                        read_response(s, &mut buf)
                    })();
                    match res {
                        Ok(200) => lat[which].push(t.elapsed().as_micros() as u32),
                        _ => {
                            errors += 1;
                            conn = None;
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    let mut errors = 0;
    for w in workers {
        let (lat, e) = w.join().expect("worker");
        errors += e;
        for (a, l) in all.iter_mut().zip(lat) {
            a.extend(l);
        }
    }
    println!("clients {clients}, {secs} s, errors {errors}");
    for (path, mut l) in PATHS.iter().zip(all) {
        l.sort_unstable();
        let p = |q: f64| l.get(((l.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0) as f64 / 1000.0;
        println!(
            "{path:10} requests {:7}  {:6.0}/s  p50 {:6.2} ms  p99 {:6.2} ms  max {:7.2} ms",
            l.len(),
            l.len() as f64 / secs as f64,
            p(0.5),
            p(0.99),
            p(1.0)
        );
    }
    if errors > 0 {
        std::process::exit(1);
    }
}
