//! Story 1 in Rust: `wait_for_filter` joins the filter thread, which reads
//! an upstream that never answers; the client's request waits unread.
//! Built by the tests with `rustc -O` (no debug info).
//! Usage: story1_proxy_rs UPSTREAM_PORT
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

#[inline(never)]
fn relay_upstream_filter(mut up: TcpStream) -> usize {
    let _ = up.write_all(b"GET /big.pdf HTTP/1.1\r\nHost: origin\r\n\r\n");
    let mut buf = [0u8; 4096];
    up.read(&mut buf).unwrap_or(0)
}

#[inline(never)]
fn wait_for_filter(t: thread::JoinHandle<usize>) -> usize {
    let n = t.join().unwrap_or(0);
    eprintln!("filter done: {n}");
    n
}

fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|a| a.parse().ok()).expect("UPSTREAM_PORT");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("READY {{\"port\": {}}}", l.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    let (client, _) = l.accept().unwrap();
    let t = thread::Builder::new()
        .name("ssl-filter".into())
        .spawn(move || relay_upstream_filter(TcpStream::connect(("127.0.0.1", port)).unwrap()))
        .unwrap();
    wait_for_filter(t);
    drop(client);
}
