//! TCP sockets of the calling thread's network namespace, from netlink
//! sock_diag (what `ss` reads), with tcp_info for every socket. Falls back to
//! /proc/net/tcp only when netlink is refused.
//!
//! Two dumps per address family: every state but LISTEN, then LISTEN alone
//! with INET_DIAG_SKMEMINFO as well, for each listener's own drop counter.
//! The kernel walks its listening hash only for the second and skips it for
//! the first, so the split costs nothing, and the 100k connections of a
//! busy host do not each carry a meminfo block nobody reads.

use crate::parse;
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::{
    constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP},
    inet::{nlas::Nla, ExtensionFlags, InetRequest, SocketId, StateFlags},
    SockDiagMessage,
};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket as NlSocket, SocketAddr};
use std::io;
use std::os::fd::AsRawFd;
use unwedge_model::{Socket, TcpState, UdpSocket};

/// A dump that takes longer than this is abandoned, never waited on forever.
const RECV_TIMEOUT_S: libc::time_t = 5;
/// Large enough for hundreds of messages per read; the kernel fills what it can.
const RECV_BUF: usize = 256 * 1024;

/// Every TCP socket (IPv4 and IPv6) in the current thread's network namespace.
pub fn dump(netns: u64) -> io::Result<Vec<Socket>> {
    let mut out = Vec::new();
    let sock = open()?;
    let mut buf = vec![0u8; RECV_BUF];
    for family in [AF_INET, AF_INET6] {
        let not_listen = StateFlags::all().difference(StateFlags::LISTEN);
        dump_family(&sock, family, not_listen, ExtensionFlags::INFO, netns, &mut buf, &mut out)?;
        let ext = ExtensionFlags::INFO | ExtensionFlags::SKMEMINFO;
        dump_family(&sock, family, StateFlags::LISTEN, ext, netns, &mut buf, &mut out)?;
    }
    Ok(out)
}

fn open() -> io::Result<NlSocket> {
    let mut sock = NlSocket::new(NETLINK_SOCK_DIAG)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    let _ = sock.set_rx_buf_sz(RECV_BUF);
    set_recv_timeout(&sock)?;
    Ok(sock)
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
        request(&sock, family, IPPROTO_UDP, ExtensionFlags::empty(), StateFlags::ESTABLISHED)?;
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

fn request(
    sock: &NlSocket,
    family: u8,
    protocol: u8,
    extensions: ExtensionFlags,
    states: StateFlags,
) -> io::Result<()> {
    let mut hdr = NetlinkHeader::default();
    hdr.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut req = NetlinkMessage::new(
        hdr,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions,
            states,
            socket_id: if family == AF_INET { SocketId::new_v4() } else { SocketId::new_v6() },
        })
        .into(),
    );
    req.finalize();
    let mut req_buf = vec![0u8; req.buffer_len()];
    req.serialize(&mut req_buf);
    sock.send(&req_buf, 0)?;
    Ok(())
}

/// Decodes one read of a UDP dump, keeping sockets whose peer port is 53.
/// Ok(true): the dump is done.
pub fn decode_dns(buf: &[u8], out: &mut Vec<UdpSocket>) -> io::Result<bool> {
    let n = buf.len();
    let mut off = 0;
    while off < n {
        let msg = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[off..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {e}")))?;
        let len = msg.header.length as usize;
        match msg.payload {
            NetlinkPayload::Done(_) => return Ok(true),
            NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r))
                if r.header.socket_id.destination_port == 53 =>
            {
                let h = &r.header;
                out.push(UdpSocket {
                    local: h.socket_id.source_address,
                    local_port: h.socket_id.source_port,
                    remote: h.socket_id.destination_address,
                    remote_port: h.socket_id.destination_port,
                    inode: h.inode as u64,
                    recv_q: h.recv_queue,
                });
            }
            _ => {}
        }
        if len == 0 {
            break;
        }
        off = off.saturating_add((len + 3) & !3);
    }
    Ok(false)
}

fn set_recv_timeout(sock: &NlSocket) -> io::Result<()> {
    let tv = libc::timeval { tv_sec: RECV_TIMEOUT_S, tv_usec: 0 };
    // SAFETY: a valid fd and a timeval of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn dump_family(
    sock: &NlSocket,
    family: u8,
    states: StateFlags,
    extensions: ExtensionFlags,
    netns: u64,
    buf: &mut [u8],
    out: &mut Vec<Socket>,
) -> io::Result<()> {
    let mut hdr = NetlinkHeader::default();
    hdr.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut req = NetlinkMessage::new(
        hdr,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions,
            states,
            socket_id: if family == AF_INET { SocketId::new_v4() } else { SocketId::new_v6() },
        })
        .into(),
    );
    req.finalize();
    let mut req_buf = vec![0u8; req.buffer_len()];
    req.serialize(&mut req_buf);
    sock.send(&req_buf, 0)?;

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

/// Decodes one netlink read of a sock_diag dump into `out`. Ok(true): the
/// dump is done. Pure, so it is fuzzed with the bytes a hostile or buggy
/// kernel could send.
pub fn decode_messages(buf: &[u8], netns: u64, out: &mut Vec<Socket>) -> io::Result<bool> {
    let n = buf.len();
    let mut off = 0;
    while off < n {
        let msg = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[off..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {e}")))?;
        let len = msg.header.length as usize;
        match msg.payload {
            NetlinkPayload::Done(_) => return Ok(true),
            NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                let h = &r.header;
                let info = r.nlas.iter().find_map(|nla| match nla {
                    Nla::TcpInfo(bytes) => parse::tcp_info::parse(bytes),
                    _ => None,
                });
                // SK_MEMINFO_DROPS: for a listener, every SYN or connection
                // dropped at it (tcp_listendrop), accept or SYN queue full.
                let drops = r.nlas.iter().find_map(|nla| match nla {
                    Nla::MemInfo(m) => Some(m.drops),
                    _ => None,
                });
                out.push(Socket {
                    netns,
                    state: TcpState::from_kernel(h.state),
                    local: h.socket_id.source_address,
                    local_port: h.socket_id.source_port,
                    remote: h.socket_id.destination_address,
                    remote_port: h.socket_id.destination_port,
                    recv_q: h.recv_queue,
                    send_q: h.send_queue,
                    inode: h.inode as u64,
                    uid: h.uid,
                    info,
                    drops,
                });
            }
            _ => {}
        }
        // Messages are 4-byte aligned; a zero length would loop forever.
        if len == 0 {
            break;
        }
        off = off.saturating_add((len + 3) & !3);
    }
    Ok(false)
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
