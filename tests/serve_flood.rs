//! Live: one peer cannot take every connection slot of `unwedge serve`.
//! A flood of connections holding half a request line comes from 127.0.0.2
//! (all of 127/8 is loopback on Linux); the scrape, standing for Prometheus
//! on another host, comes from 127.0.0.1 and must be answered meanwhile.

mod serve_support;

use serve_support::{connect_from, request_from, Server};
use std::io::{ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

/// More than the server's global cap (512).
const FLOOD: usize = 700;
/// `limits::MAX_CONNECTIONS_PER_SOURCE` in the server.
const PER_SOURCE: usize = 64;
const FLOODER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const SCRAPER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// Has the server closed (or reset) its end of `s`? `s` is non-blocking.
fn closed(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.peek(&mut b) {
        // 0: FIN. Bytes: the server answered (408?): not held either way.
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    }
}

fn held(flood: &[TcpStream]) -> usize {
    flood.iter().filter(|s| !closed(s)).count()
}

fn get(path: &str, server: &Server) -> (u16, Duration) {
    let t = Instant::now();
    let r = request_from(SCRAPER, server.addr, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    (r.status, t.elapsed())
}

#[test]
fn one_source_flooding_half_requests_does_not_lock_out_the_scrape() {
    let server = Server::start(&[]);
    assert_eq!(get("/healthz", &server).0, 200, "serving before the flood");

    // The flood: each connection sends half a request line and holds it.
    let started = Instant::now();
    let mut flood = Vec::with_capacity(FLOOD);
    let mut connect_errors = 0;
    for _ in 0..FLOOD {
        // A SYN dropped by a full accept queue costs a 1 s retransmit: the
        // server's backlog (1024) holds the whole flood however slow it accepts.
        assert!(started.elapsed() < Duration::from_secs(1), "{} loopback connects took over 1 s", flood.len());
        match connect_from(FLOODER, server.addr) {
            Ok(mut s) => {
                // Fails if the server already closed it: that is the point.
                let _ = s.write_all(b"GET /heal");
                s.set_nonblocking(true).unwrap();
                flood.push(s);
            }
            Err(_) => connect_errors += 1,
        }
    }
    let connected = started.elapsed();

    // The server closes every connection beyond the per-source cap at once.
    let deadline = started + Duration::from_secs(3);
    while held(&flood) > PER_SOURCE && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let held_before = held(&flood);
    assert_eq!(
        held_before,
        PER_SOURCE,
        "the flooder holds {held_before} of {} connections ({connect_errors} failed to connect) {:?} after the flood began, \
         want exactly the per-source cap",
        flood.len(),
        started.elapsed()
    );

    // Meanwhile another source is served, promptly, again and again.
    let mut times = Vec::new();
    for _ in 0..5 {
        for path in ["/metrics", "/healthz"] {
            let (status, took) = get(path, &server);
            assert_eq!(status, 200, "{path} from {SCRAPER} during the flood");
            assert!(took < Duration::from_secs(2), "{path} took {took:?} during the flood");
            times.push(took);
        }
    }
    // One more from the flooder is closed at once, unanswered.
    let t = Instant::now();
    let mut extra = connect_from(FLOODER, server.addr).expect("connect");
    extra.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut buf = Vec::new();
    let res = std::io::Read::read_to_end(&mut extra, &mut buf);
    let refused_in = t.elapsed();
    assert!(
        buf.is_empty() && (res.is_ok() || res.as_ref().is_err_and(|e| e.kind() == ErrorKind::ConnectionReset)),
        "a connection over the cap was not just closed: {res:?} {:?}",
        String::from_utf8_lossy(&buf)
    );
    assert!(refused_in < Duration::from_secs(2), "over-cap connection closed after {refused_in:?}");
    // Still held afterwards: all of the above happened during the flood.
    let held_after = held(&flood);
    assert_eq!(held_after, PER_SOURCE, "the flood ended early ({:?} in)", started.elapsed());
    let max = times.iter().max().unwrap();
    let sum: Duration = times.iter().sum();
    eprintln!(
        "flood: {} connects in {connected:?}, {held_before} held; {} scrapes from {SCRAPER}: mean {:?}, max {max:?}; \
         over-cap connection closed in {refused_in:?}; all within {:?} of the flood's start",
        flood.len(),
        times.len(),
        sum / times.len() as u32,
        started.elapsed()
    );

    // Released, the flooder's slots are free again.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = connect_from(FLOODER, server.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut buf);
        if buf.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the flooder's slots were not freed within 5 s of closing");
        std::thread::sleep(Duration::from_millis(50));
    }
}
