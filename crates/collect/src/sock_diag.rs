//! TCP sockets of the calling thread's network namespace, from netlink
//! sock_diag (what `ss` reads), with tcp_info for every socket. Falls back to
//! /proc/net/tcp only when netlink is refused.
//!
//! One dump walks the kernel's TCP hash tables once for both families: the
//! inet_diag "compat" request (TCPDIAG_GETSOCK, `struct inet_diag_req`) dumps
//! with family AF_UNSPEC, where the newer SOCK_DIAG_BY_FAMILY request needs
//! one dump (one walk of every socket) per family. A kernel that refuses the
//! compat request gets the family dumps instead. Messages are decoded by
//! hand from the fixed `struct inet_diag_msg` layout and its attributes:
//! nothing is allocated per socket but the [`Socket`] itself.
//!
//! Two dumps: every state but LISTEN, then LISTEN alone with
//! INET_DIAG_SKMEMINFO as well, for each listener's own drop counter. The
//! kernel walks its listening hash only for the second and skips it for the
//! first, so the split costs nothing, and the 100k connections of a busy
//! host do not each carry a meminfo block nobody reads.

use crate::parse;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket as NlSocket, SocketAddr};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use unwedge_model::{Socket, TcpState, UdpSocket};

/// A dump that takes longer than this is abandoned, never waited on forever.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// Large enough for hundreds of messages per read; the kernel fills what it can.
pub(crate) const RECV_BUF: usize = 256 * 1024;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;
pub(crate) const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
/// include/uapi/linux/inet_diag.h: the compat request and reply type for TCP.
const TCPDIAG_GETSOCK: u16 = 18;
/// include/uapi/linux/sock_diag.h.
pub(crate) const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_msg`: family, state, timer, retrans, sockid (48), expires, rqueue, wqueue, uid, inode.
const INET_DIAG_MSG_LEN: usize = 72;
/// Attribute numbers of include/uapi/linux/inet_diag.h (4 is INET_DIAG_CONG:
/// asking for it instead of SKMEMINFO loses every listener's drop counter).
const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_SKMEMINFO: u16 = 7;
/// SK_MEMINFO_DROPS: index of the drop counter in the SKMEMINFO array.
const SK_MEMINFO_DROPS: usize = 8;
const INFO: u8 = 1 << (INET_DIAG_INFO - 1);
const SKMEMINFO: u8 = 1 << (INET_DIAG_SKMEMINFO - 1);
const LISTEN: u32 = 1 << 10;
/// Every state from ESTABLISHED (1) to CLOSING (11).
const ALL_STATES: u32 = 0xffe;
/// TCP_ESTABLISHED: for UDP, a connected socket.
const ESTABLISHED: u32 = 1 << 1;

pub(crate) fn open() -> io::Result<NlSocket> {
    let mut sock = NlSocket::new(NETLINK_SOCK_DIAG)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    let _ = sock.set_rx_buf_sz(RECV_BUF);
    crate::sys::set_recv_timeout(&sock, RECV_TIMEOUT)?;
    Ok(sock)
}

/// Every TCP socket (IPv4 and IPv6) in the current thread's network namespace.
pub fn dump(netns: u64) -> io::Result<Vec<Socket>> {
    let sock = open()?;
    let mut buf = vec![0u8; RECV_BUF];
    // Sized once from the kernel's own count: at 100k sockets a Vec grown by
    // doubling holds a quarter more than it needs.
    let mut out = Vec::with_capacity(expected_sockets().unwrap_or(0));
    let first = run(&sock, &compat_request(ALL_STATES & !LISTEN, INFO), netns, &mut buf, &mut out)
        .and_then(|()| run(&sock, &compat_request(LISTEN, INFO | SKMEMINFO), netns, &mut buf, &mut out));
    match first {
        Ok(()) => Ok(out),
        // Refused (not a dump that stalled: that would only stall again):
        // an older or trimmed kernel gets the dumps per family, on a fresh socket.
        Err(e) if out.is_empty() && !matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::ETIMEDOUT)) => {
            let sock = open()?;
            let tcp = libc::IPPROTO_TCP as u8;
            for family in [AF_INET, AF_INET6] {
                run(&sock, &family_request(family, tcp, INFO, ALL_STATES & !LISTEN), netns, &mut buf, &mut out)?;
                run(&sock, &family_request(family, tcp, INFO | SKMEMINFO, LISTEN), netns, &mut buf, &mut out)?;
            }
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

/// States a second look dumps besides ESTABLISHED: listeners, CLOSE-WAIT, half-open.
const LOOK_STATES: u32 = (1 << 8) | (1 << 3) | (1 << 12);
/// More ports than this and the look dumps every connection in those states
/// (a filter of 20 bytes a port stays well inside one request).
pub const MAX_LOOK_PORTS: usize = 256;
/// include/uapi/linux/inet_diag.h: the request attribute and the ops a port filter needs.
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const BC_JMP: u8 = 1;
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;

/// A second look at the sockets of this namespace that a finding can
/// compare (`unwedge_model::LookPlan`): every listener, and the CLOSE-WAIT,
/// half-open and ESTABLISHED connections on `ports` (local ports; past
/// [`MAX_LOOK_PORTS`], every one of those). The kernel filters, so a host
/// of 100k idle connections costs one walk of its hash table, not 100k
/// messages; listeners alone (no ports) cost no walk of it at all (they
/// have a table of their own).
pub fn dump_look(netns: u64, ports: &[u16]) -> io::Result<Vec<Socket>> {
    let sock = open()?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::new();
    run(&sock, &compat_request(LISTEN, INFO | SKMEMINFO), netns, &mut buf, &mut out)?;
    if ports.is_empty() {
        return Ok(out);
    }
    if ports.len() <= MAX_LOOK_PORTS {
        let mut req = compat_request((LOOK_STATES & !LISTEN) | ESTABLISHED, INFO);
        add_bytecode(&mut req, &port_filter(ports));
        run(&sock, &req, netns, &mut buf, &mut out)?;
    } else {
        run(&sock, &compat_request(LOOK_STATES & !LISTEN, INFO), netns, &mut buf, &mut out)?;
        run(&sock, &compat_request(ESTABLISHED, INFO), netns, &mut buf, &mut out)?;
    }
    Ok(out)
}

/// inet_diag bytecode accepting a socket whose local port is one of
/// `ports` (as `ss 'sport = :P or sport = :Q'` compiles it, with the
/// `>=`/`<=` pair every kernel knows): per port a block S_GE, S_LE, then a
/// jump to the end (accept); a failed test falls through to the next
/// block, or past the end (reject) after the last.
fn port_filter(ports: &[u16]) -> Vec<u8> {
    let op = |code: u8, yes: u8, no: u16| {
        let mut v = vec![code, yes];
        v.extend_from_slice(&no.to_ne_bytes());
        v
    };
    let total = ports.len() * 20 - 4;
    let mut bc = Vec::with_capacity(total);
    for (i, &p) in ports.iter().enumerate() {
        let last = i + 1 == ports.len();
        // Without the jump, the last block is 16 bytes: "no" lands 4 past the end.
        bc.extend(op(BC_S_GE, 8, 20));
        bc.extend(op(0, 0, p));
        bc.extend(op(BC_S_LE, 8, 12));
        bc.extend(op(0, 0, p));
        if !last {
            let at = bc.len();
            bc.extend(op(BC_JMP, 4, (total - at) as u16));
        }
    }
    bc
}

/// Appends INET_DIAG_REQ_BYTECODE to a request and fixes its length.
fn add_bytecode(req: &mut Vec<u8>, bc: &[u8]) {
    req.extend_from_slice(&((4 + bc.len()) as u16).to_ne_bytes());
    req.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    req.extend_from_slice(bc);
    let len = req.len() as u32;
    req[..4].copy_from_slice(&len.to_ne_bytes());
}

/// Connected UDP sockets to port 53 in the current thread's namespace: a
/// resolver's queries in flight (glibc and Go connect their query socket).
/// Only connected sockets are asked for, so a busy DNS server's own
/// unconnected socket costs nothing.
pub fn dump_dns() -> io::Result<Vec<UdpSocket>> {
    let sock = open()?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::new();
    for family in [AF_INET, AF_INET6] {
        sock.send(&family_request(family, libc::IPPROTO_UDP as u8, 0, ESTABLISHED), 0)?;
        loop {
            let n = sock.recv(&mut &mut buf[..], 0)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "netlink closed during dump"));
            }
            if decode_dns(&buf[..n], &mut out)? {
                break;
            }
        }
    }
    Ok(out)
}

/// TCP sockets in use plus TIME-WAIT in this namespace
/// (/proc/thread-self/net/sockstat), with some room for new ones.
fn expected_sockets() -> Option<usize> {
    let text = std::fs::read("/proc/thread-self/net/sockstat").ok()?;
    let n = parse::sockstat::tcp_sockets(&text)?;
    Some((n + n / 64 + 64).min(1 << 24) as usize)
}

pub(crate) fn header(len: usize, kind: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&(len as u32).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    v.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    v.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    v
}

/// `struct inet_diag_req`: family, src_len, dst_len, ext, sockid (48), states, dbs.
fn compat_request(states: u32, ext: u8) -> Vec<u8> {
    let mut v = header(NLMSG_HDRLEN + 60, TCPDIAG_GETSOCK);
    v.extend_from_slice(&[AF_INET, 0, 0, ext]);
    v.extend_from_slice(&[0u8; 48]);
    v.extend_from_slice(&states.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v
}

/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, sockid (48).
fn family_request(family: u8, protocol: u8, ext: u8, states: u32) -> Vec<u8> {
    let mut v = header(NLMSG_HDRLEN + 56, SOCK_DIAG_BY_FAMILY);
    v.extend_from_slice(&[family, protocol, ext, 0]);
    v.extend_from_slice(&states.to_ne_bytes());
    v.extend_from_slice(&[0u8; 48]);
    v
}

fn run(sock: &NlSocket, req: &[u8], netns: u64, buf: &mut [u8], out: &mut Vec<Socket>) -> io::Result<()> {
    sock.send(req, 0)?;
    loop {
        let n = sock.recv(&mut &mut buf[..], 0)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "netlink closed during dump"));
        }
        if decode_messages(&buf[..n], netns, out)? {
            return Ok(());
        }
    }
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Decodes one netlink read of a sock_diag dump into `out`. Ok(true): the
/// dump is done. Pure, so it is fuzzed with the bytes a hostile or buggy
/// kernel could send.
pub fn decode_messages(buf: &[u8], netns: u64, out: &mut Vec<Socket>) -> io::Result<bool> {
    each_message(buf, |body| {
        if let Some(s) = decode_socket(body, netns) {
            out.push(s);
        }
    })
}

/// Decodes one read of a UDP dump, keeping sockets whose peer port is 53.
/// Ok(true): the dump is done.
pub fn decode_dns(buf: &[u8], out: &mut Vec<UdpSocket>) -> io::Result<bool> {
    each_message(buf, |body| {
        if let Some(s) = decode_socket(body, 0).filter(|s| s.remote_port == 53) {
            out.push(UdpSocket {
                local: s.local,
                local_port: s.local_port,
                remote: s.remote,
                remote_port: s.remote_port,
                inode: s.inode,
                recv_q: s.recv_q,
            });
        }
    })
}

/// Calls `each` with the body of every socket message in one netlink read.
/// Ok(true): the dump is done.
pub(crate) fn each_message(buf: &[u8], mut each: impl FnMut(&[u8])) -> io::Result<bool> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {what}"));
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        let (Some(len), Some(kind)) = (u32_at(rest, 0), u16_at(rest, 4)) else {
            return Err(bad("truncated message header"));
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(bad("message length out of bounds"));
        }
        let body = &rest[NLMSG_HDRLEN..len];
        match kind {
            // The payload of DONE is the dump's own status: negative on failure.
            NLMSG_DONE => {
                return match u32_at(body, 0).map(|c| c as i32) {
                    Some(code) if code < 0 => Err(io::Error::from_raw_os_error(code.saturating_neg())),
                    _ => Ok(true),
                }
            }
            NLMSG_ERROR => match u32_at(body, 0).map(|c| c as i32) {
                Some(0) => {} // an acknowledgement
                Some(code) => return Err(io::Error::from_raw_os_error(code.saturating_neg())),
                None => return Err(bad("truncated error message")),
            },
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => each(body),
            _ => {}
        }
        // Messages are 4-byte aligned.
        off = off.saturating_add((len + 3) & !3);
    }
    Ok(false)
}

/// One `struct inet_diag_msg` and its attributes; `None` if too short or
/// of a family other than IPv4 and IPv6.
fn decode_socket(b: &[u8], netns: u64) -> Option<Socket> {
    let m = b.get(..INET_DIAG_MSG_LEN)?;
    let addr = |at: usize| -> Option<IpAddr> {
        match m[0] {
            AF_INET => Some(IpAddr::V4(Ipv4Addr::new(m[at], m[at + 1], m[at + 2], m[at + 3]))),
            AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&m[at..at + 16]).ok()?))),
            _ => None,
        }
    };
    let port = |at: usize| u16::from_be_bytes([m[at], m[at + 1]]);
    let (mut info, mut drops) = (None, None);
    let mut attrs = &b[INET_DIAG_MSG_LEN..];
    while let (Some(len), Some(kind)) = (u16_at(attrs, 0), u16_at(attrs, 2)) {
        let len = len as usize;
        if len < 4 || len > attrs.len() {
            break;
        }
        // The top two bits are the nested and byte-order flags.
        match kind & 0x3fff {
            INET_DIAG_INFO => info = parse::tcp_info::parse(&attrs[4..len]),
            // For a listener, every SYN or connection dropped at it
            // (tcp_listendrop), accept or SYN queue full.
            INET_DIAG_SKMEMINFO => drops = u32_at(&attrs[4..len], SK_MEMINFO_DROPS * 4),
            _ => {}
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or_default();
    }
    Some(Socket {
        netns,
        state: TcpState::from_kernel(m[1]),
        local: addr(8)?,
        local_port: port(4),
        remote: addr(24)?,
        remote_port: port(6),
        recv_q: u32_at(m, 56)?,
        send_q: u32_at(m, 60)?,
        uid: u32_at(m, 64)?,
        inode: u32_at(m, 68)? as u64,
        info,
        drops,
    })
}

/// The fallback: /proc/thread-self/net/tcp{,6}, which show the calling
/// thread's namespace.
pub fn read_proc_net_tcp(netns: u64) -> io::Result<Vec<Socket>> {
    let mut out = Vec::new();
    for file in ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] {
        let text = match std::fs::read(file) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.extend(text.split(|&b| b == b'\n').skip(1).filter_map(|l| parse::proc_net_tcp::parse_line(l, netns)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as the kernel writes it: one IPv4 socket with tcp_info, then DONE.
    fn reply() -> Vec<u8> {
        let mut msg = vec![0u8; INET_DIAG_MSG_LEN];
        msg[0] = AF_INET;
        msg[1] = 8; // CLOSE-WAIT
        msg[4..6].copy_from_slice(&8080u16.to_be_bytes());
        msg[6..8].copy_from_slice(&41000u16.to_be_bytes());
        msg[8..12].copy_from_slice(&[127, 0, 0, 1]);
        msg[24..28].copy_from_slice(&[127, 0, 0, 2]);
        msg[56..60].copy_from_slice(&1u32.to_ne_bytes());
        msg[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        msg[68..72].copy_from_slice(&4242u32.to_ne_bytes());
        let mut info = vec![0u8; 104];
        info[52..56].copy_from_slice(&2500u32.to_ne_bytes());
        // An attribute we skip, then INET_DIAG_INFO.
        msg.extend_from_slice(&8u16.to_ne_bytes());
        msg.extend_from_slice(&5u16.to_ne_bytes());
        msg.extend_from_slice(&[0; 4]);
        msg.extend_from_slice(&(4 + info.len() as u16).to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
        msg.extend_from_slice(&info);
        // INET_DIAG_CONG ("bbr"), which is not the drop counter.
        msg.extend_from_slice(&8u16.to_ne_bytes());
        msg.extend_from_slice(&4u16.to_ne_bytes());
        msg.extend_from_slice(b"bbr\0");
        // INET_DIAG_SKMEMINFO, spelled as the kernel's number (7) so that a
        // wrong constant fails here: nine u32, drops last.
        msg.extend_from_slice(&40u16.to_ne_bytes());
        msg.extend_from_slice(&7u16.to_ne_bytes());
        for v in 0..9u32 {
            msg.extend_from_slice(&(if v == 8 { 7 } else { 100 + v }).to_ne_bytes());
        }
        let mut out = header(NLMSG_HDRLEN + msg.len(), TCPDIAG_GETSOCK);
        out.extend_from_slice(&msg);
        let mut done = header(NLMSG_HDRLEN + 4, NLMSG_DONE);
        done.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&done);
        out
    }

    #[test]
    fn decodes_a_socket_and_the_end_of_the_dump() {
        let mut out = Vec::new();
        assert!(decode_messages(&reply(), 7, &mut out).unwrap());
        assert_eq!(out.len(), 1);
        let s = &out[0];
        assert_eq!(
            (s.state, s.local_port, s.remote_port, s.recv_q, s.uid, s.inode),
            (TcpState::CloseWait, 8080, 41000, 1, 1000, 4242)
        );
        assert_eq!((s.local.to_string(), s.remote.to_string(), s.netns), ("127.0.0.1".into(), "127.0.0.2".into(), 7));
        assert_eq!(s.info.map(|i| i.last_data_recv_ms), Some(2500));
        assert_eq!(s.drops, Some(7));
    }

    #[test]
    fn a_dns_query_in_flight() {
        let mut r = reply();
        // Peer port 53 (network order at offset 6 of the message).
        r[NLMSG_HDRLEN + 6..NLMSG_HDRLEN + 8].copy_from_slice(&53u16.to_be_bytes());
        let mut out = Vec::new();
        assert!(decode_dns(&r, &mut out).unwrap());
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].remote_port, out[0].inode, out[0].recv_q), (53, 4242, 1));
        let mut none = Vec::new();
        assert!(decode_dns(&reply(), &mut none).unwrap());
        assert!(none.is_empty(), "peer port 41000 is no DNS server");
    }

    #[test]
    fn errors_and_truncation() {
        let mut err = header(NLMSG_HDRLEN + 4, NLMSG_ERROR);
        err.extend_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(decode_messages(&err, 1, &mut Vec::new()).unwrap_err().raw_os_error(), Some(libc::EPERM));
        let r = reply();
        for cut in [3, 20, 100] {
            assert!(decode_messages(&r[..cut], 1, &mut Vec::new()).is_err(), "cut at {cut}");
        }
        // A message too short for inet_diag_msg is skipped, not read past.
        let mut short = header(NLMSG_HDRLEN + 8, SOCK_DIAG_BY_FAMILY);
        short.extend_from_slice(&[AF_INET; 8]);
        let mut out = Vec::new();
        assert!(!decode_messages(&short, 1, &mut out).unwrap());
        assert!(out.is_empty());
    }

    /// The filter as the kernel runs it (net/ipv4/inet_diag.c,
    /// inet_diag_bc_run): accepted when the program ends exactly at its end.
    fn run_filter(bc: &[u8], sport: u16) -> bool {
        let mut at = 0usize;
        let mut len = bc.len() as isize;
        while len > 0 {
            let (code, yes, no) = (bc[at], bc[at + 1] as isize, u16::from_ne_bytes([bc[at + 2], bc[at + 3]]) as isize);
            let port = || u16::from_ne_bytes([bc[at + 6], bc[at + 7]]);
            let ok = match code {
                BC_JMP => false,
                BC_S_GE => sport >= port(),
                BC_S_LE => sport <= port(),
                _ => panic!("op {code}"),
            };
            let step = if ok { yes } else { no };
            len -= step;
            at = at.wrapping_add(step as usize);
        }
        len == 0
    }

    #[test]
    fn a_port_filter_accepts_its_ports_only() {
        for ports in [vec![80u16], vec![80, 443, 8080], (1000..1256).collect::<Vec<u16>>()] {
            let bc = port_filter(&ports);
            assert_eq!(bc.len(), ports.len() * 20 - 4);
            for p in [1u16, 79, 80, 81, 443, 999, 1000, 1128, 1255, 1256, 8080, 65535] {
                assert_eq!(run_filter(&bc, p), ports.contains(&p), "{p} in {:?}", &ports[..ports.len().min(3)]);
            }
        }
    }

    /// The kernel refuses a malformed program (EINVAL); this one it runs:
    /// a listener on a port in the filter and one outside it, each with a
    /// connection, and only the first's connection comes back.
    #[test]
    fn the_kernel_takes_the_filter() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (pa, pb) = (a.local_addr().unwrap().port(), b.local_addr().unwrap().port());
        let _ca = std::net::TcpStream::connect(("127.0.0.1", pa)).unwrap();
        let _cb = std::net::TcpStream::connect(("127.0.0.1", pb)).unwrap();
        let (_sa, _) = a.accept().unwrap();
        let (_sb, _) = b.accept().unwrap();
        let got = dump_look(0, &[pa]).unwrap();
        let est: Vec<u16> = got.iter().filter(|s| s.state == TcpState::Established).map(|s| s.local_port).collect();
        assert!(est.contains(&pa), "{est:?}");
        assert!(!est.contains(&pb), "{est:?}");
        let listening: Vec<u16> = got.iter().filter(|s| s.state == TcpState::Listen).map(|s| s.local_port).collect();
        assert!(listening.contains(&pa) && listening.contains(&pb), "{listening:?}");
        // CLOSE-WAIT on the port asked for, not on another.
        drop(_ca);
        drop(_cb);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let closing =
            |got: &[Socket], port: u16| got.iter().any(|s| s.state == TcpState::CloseWait && s.local_port == port);
        let mut got = dump_look(0, &[pa]).unwrap();
        while !closing(&got, pa) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            got = dump_look(0, &[pa]).unwrap();
        }
        assert!(closing(&got, pa) && !closing(&got, pb), "{got:?}");
        // No port: the listeners alone.
        assert!(dump_look(0, &[]).unwrap().iter().all(|s| s.state == TcpState::Listen));
    }

    #[test]
    fn both_requests_are_the_sizes_the_kernel_expects() {
        assert_eq!(compat_request(LISTEN, INFO).len(), NLMSG_HDRLEN + 60);
        assert_eq!(family_request(AF_INET6, 17, 0, ESTABLISHED).len(), NLMSG_HDRLEN + 56);
    }
}
