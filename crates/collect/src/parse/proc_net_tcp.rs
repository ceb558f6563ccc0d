//! /proc/net/tcp and /proc/net/tcp6: the slow fallback when netlink
//! sock_diag is refused. It has no tcp_info and, for listeners, no backlog.

use super::{dec, hex};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use unwedge_model::{Socket, TcpState};

pub fn parse_line(line: &[u8], netns: u64) -> Option<Socket> {
    let mut f = line.split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty());
    let _sl = f.next()?;
    let (local, local_port) = addr(f.next()?)?;
    let (remote, remote_port) = addr(f.next()?)?;
    let state = TcpState::from_kernel(hex(f.next()?)? as u8);
    let queues = f.next()?;
    let colon = queues.iter().position(|&b| b == b':')?;
    let tx = hex(&queues[..colon])? as u32;
    let rx = hex(&queues[colon + 1..])? as u32;
    let _timer = f.next()?;
    let _retr = f.next()?;
    let uid = dec(f.next()?)? as u32;
    let _timeout = f.next()?;
    let inode = dec(f.next()?)?;
    Some(Socket {
        netns,
        state,
        local,
        local_port,
        remote,
        remote_port,
        recv_q: rx,
        send_q: tx,
        inode,
        uid,
        info: None,
        drops: None,
    })
}

/// "0100007F:1F90": the address words as the kernel printed them, in host
/// byte order (this parser runs on the host that wrote them).
fn addr(field: &[u8]) -> Option<(IpAddr, u16)> {
    let colon = field.iter().position(|&b| b == b':')?;
    let (a, p) = (&field[..colon], &field[colon + 1..]);
    let port = u16::try_from(hex(p)?).ok()?;
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from((hex(a)? as u32).to_ne_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let word = hex(&a[i * 8..i * 8 + 8])? as u32;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    #[test]
    fn v4_and_v6() {
        let l = b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";
        let s = parse_line(l, 1).unwrap();
        assert_eq!(s.local, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(s.local_port, 8080);
        assert_eq!(s.state, TcpState::Listen);
        assert_eq!((s.recv_q, s.inode), (3, 12345));
        let l6 = b"   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 08 00000000:00000001 00:00000000 00000000  1000        0 999 1";
        let s = parse_line(l6, 1).unwrap();
        assert_eq!(s.local, "::1".parse::<IpAddr>().unwrap());
        assert_eq!((s.state, s.uid, s.recv_q), (TcpState::CloseWait, 1000, 1));
        assert!(parse_line(b"  sl  local_address rem_address   st tx_queue", 1).is_none());
        assert!(parse_line(b"", 1).is_none());
    }
}
