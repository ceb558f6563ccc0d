//! Unix-domain sockets of the calling thread's network namespace, from
//! netlink sock_diag AF_UNIX (what `ss -x` reads): nginx to PHP-FPM,
//! gunicorn and uWSGI, Docker's, PostgreSQL's and Redis's local sockets. A
//! unix listener's queue fills like a TCP one's, and its owners, the
//! clients queued on it and the processes at the far end of its accepted
//! connections are only visible here.
//!
//! The kernel keeps unix sockets per network namespace, like TCP ones.
//! Two dumps per namespace, both decoded by hand
//! ([`crate::parse::unix_diag`]; nothing is allocated per socket but the
//! [`UnixSocket`] itself, and a name is shared by every socket that carries
//! it: a listener's accepted connections all do):
//! - listeners and unconnected sockets (datagram servers), with name,
//!   socket file, queue lengths and a listener's queued clients (ICONS):
//!   always. The kernel walks every unix socket of the namespace for it
//!   but builds a message for few; at 50,000 sockets this costs ~9 ms of
//!   CPU (BENCHMARKS.md);
//! - connected sockets, with name, peer and queue lengths: in a full
//!   snapshot, and otherwise only where a listener has connections
//!   waiting ([`Connections`]). Asking the kernel for every connection's
//!   peer is what costs (~30 ms of CPU at 50,000 sockets, a quarter of a
//!   scan of the processes that hold them), and a host whose unix
//!   listeners keep up has nothing there a finding needs.
//!
//! A host with systemd and D-Bus has tens of thousands of unix sockets,
//! most of them idle: of those dumped, only the ones a finding can use are
//! kept (see [`keep`]).

use crate::parse::unix_diag::{self as parse, Message};
use crate::sock_diag;
use netlink_sys::Socket as NlSocket;
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;
use unwedge_model::{UnixKind, UnixSocket, UnixState, UnixVfs};

const AF_UNIX: u8 = libc::AF_UNIX as u8;
/// Socket states, in TCP's numbering (include/net/tcp_states.h), which
/// unix sockets use: LISTEN (10) and CLOSE (7: an unconnected socket, a
/// datagram server no client connect()ed to).
const UNCONNECTED: u32 = (1 << 10) | (1 << 7);
/// ESTABLISHED (1: a connection, or a datagram socket connect()ed, and a
/// datagram server once a client connected to it) and SYN_SENT (2).
const CONNECTED: u32 = (1 << 1) | (1 << 2);
/// include/uapi/linux/unix_diag.h, `udiag_show`.
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_VFS: u32 = 0x02;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_ICONS: u32 = 0x08;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
/// A listener has no peer, and an accepted connection shares its
/// listener's socket file (VFS); ICONS is sent for listeners only.
const SHOW_UNCONNECTED: u32 = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
const SHOW_CONNECTED: u32 = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
/// `struct unix_diag_req`: family, protocol, pad (u16), states, ino, show, cookie (two u32).
const REQ_LEN: usize = 24;
const LISTEN: u8 = 10;

/// Which connected sockets a namespace's dump includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// All of them (a full snapshot: `--save-snapshot`, `unwedge stop`).
    Always,
    /// Only where a listener of the namespace has connections waiting
    /// (the default scan): then its accepted connections name the
    /// processes at their far end.
    WhenQueued,
}

/// A namespace's dump: the sockets kept and how many the kernel returned.
#[derive(Debug, Default)]
pub struct Dump {
    pub sockets: Vec<UnixSocket>,
    /// Every socket the dumps returned, kept or not.
    pub seen: u32,
    /// Connected sockets were dumped too.
    pub connections: bool,
    /// Why the connected sockets asked for are missing.
    pub failed: Option<io::Error>,
    /// Names already met, so that the sockets carrying one share it.
    names: HashMap<Vec<u8>, Arc<str>>,
    scratch: String,
}

/// The unix sockets of the current thread's network namespace.
pub fn dump(netns: u64, connections: Connections) -> io::Result<Dump> {
    let sock = sock_diag::open()?;
    let mut buf = vec![0u8; sock_diag::RECV_BUF];
    let mut out = Dump::default();
    run(&sock, &request(UNCONNECTED, SHOW_UNCONNECTED), netns, &mut buf, &mut out)?;
    let queued = out.sockets.iter().any(|s| s.state == UnixState::Listen && s.recv_q > 0);
    if connections == Connections::Always || queued {
        // Its failure (a dump that stalled) leaves the listeners standing.
        let (kept, seen) = (out.sockets.len(), out.seen);
        match run(&sock, &request(CONNECTED, SHOW_CONNECTED), netns, &mut buf, &mut out) {
            Ok(()) => out.connections = true,
            Err(e) => {
                out.sockets.truncate(kept);
                out.seen = seen;
                out.failed = Some(e);
            }
        }
    }
    out.sockets.shrink_to_fit();
    out.names = HashMap::new();
    Ok(out)
}

fn run(sock: &NlSocket, req: &[u8], netns: u64, buf: &mut [u8], out: &mut Dump) -> io::Result<()> {
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

fn request(states: u32, show: u32) -> Vec<u8> {
    let mut v = sock_diag::header(sock_diag::NLMSG_HDRLEN + REQ_LEN, sock_diag::SOCK_DIAG_BY_FAMILY);
    v.extend_from_slice(&[AF_UNIX, 0, 0, 0]);
    v.extend_from_slice(&states.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes()); // ino: only for a single-socket query
    v.extend_from_slice(&show.to_ne_bytes());
    v.extend_from_slice(&[0xff; 8]); // cookie: INET_DIAG_NOCOOKIE, unused by a dump
    v
}

/// Decodes one netlink read of an AF_UNIX dump into `out`. Ok(true): the
/// dump is done. Pure, so it is fuzzed with the bytes a hostile or buggy
/// kernel could send.
pub fn decode_messages(buf: &[u8], netns: u64, out: &mut Dump) -> io::Result<bool> {
    sock_diag::each_message(buf, |body| {
        if let Some(m) = parse::message(body) {
            out.seen = out.seen.saturating_add(1);
            if keep(&m) {
                let s = out.socket(&m, netns);
                out.sockets.push(s);
            }
        }
    })
}

/// Whether a socket is worth a place in the snapshot: a listener; a named
/// socket (a datagram server, the server end of an accepted connection,
/// which carries its listener's name); anything queued; a connection whose
/// other end closed or is not yet accepted (peer 0). What is left is an
/// unnamed socket with nothing queued and a live peer (an idle client
/// end, whose server end names it, or an idle socketpair) or none at all:
/// on a desktop or systemd host, about half of all unix sockets.
fn keep(m: &Message) -> bool {
    m.state == LISTEN
        || m.name.is_some()
        || m.rqlen.is_some_and(|(r, w)| r > 0 || w > 0)
        || m.shutdown != 0
        || m.peer == Some(0)
}

impl Dump {
    fn socket(&mut self, m: &Message, netns: u64) -> UnixSocket {
        let path = m.name.and_then(|raw| {
            if let Some(p) = self.names.get(raw) {
                return Some(p.clone());
            }
            if !parse::name(raw, &mut self.scratch) {
                return None;
            }
            let p: Arc<str> = Arc::from(self.scratch.as_str());
            self.names.insert(raw.to_vec(), p.clone());
            Some(p)
        });
        let (recv_q, send_q) = m.rqlen.unwrap_or_default();
        UnixSocket {
            netns,
            inode: m.inode as u64,
            kind: UnixKind::from_kernel(m.kind),
            state: UnixState::from_kernel(m.state),
            path,
            peer: m.peer.map(u64::from),
            recv_q,
            send_q,
            pending: match m.icons {
                Some(raw) if m.state == LISTEN && !raw.is_empty() => {
                    parse::icons(raw).take(UnixSocket::PENDING_KEPT).collect()
                }
                _ => Vec::new(),
            },
            vfs: m.vfs.map(|(inode, dev)| UnixVfs { inode: inode as u64, dev }),
            shutdown: m.shutdown,
        }
    }
}

/// The unix socket inodes whose holders a finding can be about, beyond
/// TCP's: for every listener with connections waiting, the listener, the
/// clients queued on it, its accepted connections (same namespace and
/// name) and the clients at their far end. A host whose unix listeners
/// keep up adds nothing.
pub fn worth_reading(unix: &[UnixSocket]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut busy: HashSet<(u64, &str)> = HashSet::new();
    for s in unix.iter().filter(|s| s.state == UnixState::Listen && s.recv_q > 0) {
        out.push(s.inode);
        out.extend(s.pending.iter().copied().filter(|&i| i != 0));
        if let Some(p) = s.path.as_deref() {
            busy.insert((s.netns, p));
        }
    }
    if busy.is_empty() {
        return out;
    }
    for s in unix.iter().filter(|s| s.state != UnixState::Listen) {
        if s.path.as_deref().is_some_and(|p| busy.contains(&(s.netns, p))) {
            out.push(s.inode);
            out.extend(s.peer.filter(|&i| i != 0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::unix_diag::*;

    fn attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
        out.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize((out.len() + 3) & !3, 0);
    }

    /// One message as `unix_diag` writes it (attributes in the kernel's order).
    fn msg(kind: u8, state: u8, inode: u32, name: Option<&[u8]>, peer: Option<u32>, rq: (u32, u32)) -> Vec<u8> {
        let mut b = vec![AF_UNIX, kind, state, 0];
        b.extend_from_slice(&inode.to_ne_bytes());
        b.extend_from_slice(&[0; 8]);
        if let Some(n) = name {
            attr(&mut b, UNIX_DIAG_NAME, n);
        }
        if let Some(p) = peer {
            attr(&mut b, UNIX_DIAG_PEER, &p.to_ne_bytes());
        }
        let mut q = rq.0.to_ne_bytes().to_vec();
        q.extend_from_slice(&rq.1.to_ne_bytes());
        attr(&mut b, UNIX_DIAG_RQLEN, &q);
        attr(&mut b, UNIX_DIAG_SHUTDOWN, &[0]);
        let mut out = sock_diag::header(sock_diag::NLMSG_HDRLEN + b.len(), sock_diag::SOCK_DIAG_BY_FAMILY);
        out[6..8].copy_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI, as the kernel sets it
        out.extend_from_slice(&b);
        out
    }

    fn done() -> Vec<u8> {
        let mut d = sock_diag::header(sock_diag::NLMSG_HDRLEN + 4, 3);
        d.extend_from_slice(&0u32.to_ne_bytes());
        d
    }

    #[test]
    fn keeps_what_a_finding_can_use_and_shares_names() {
        let mut r = Vec::new();
        r.extend(msg(1, 1, 10, Some(b"/run/php/fpm.sock\0"), Some(20), (0, 0))); // accepted: named
        r.extend(msg(1, 1, 11, Some(b"/run/php/fpm.sock\0"), Some(21), (5, 0))); // accepted, unread
        r.extend(msg(1, 1, 20, None, Some(10), (0, 0))); // the idle client end: left out
        r.extend(msg(1, 1, 21, None, Some(11), (0, 768))); // a client whose request waits: kept
        r.extend(msg(1, 1, 22, None, Some(0), (0, 0))); // queued, not yet accepted: kept
        r.extend(msg(2, 7, 23, None, None, (0, 0))); // an unnamed, unconnected datagram socket
        r.extend(msg(5, 10, 24, Some(b"\0db\0x"), None, (0, 128))); // an abstract seqpacket listener
        r.extend(done());
        let mut d = Dump::default();
        assert!(decode_messages(&r, 9, &mut d).unwrap());
        assert_eq!(d.seen, 7);
        let kept: Vec<u64> = d.sockets.iter().map(|s| s.inode).collect();
        assert_eq!(kept, [10, 11, 21, 22, 24]);
        let (a, b) = (&d.sockets[0], &d.sockets[1]);
        assert_eq!(a.path.as_deref(), Some("/run/php/fpm.sock"));
        assert!(Arc::ptr_eq(a.path.as_ref().unwrap(), b.path.as_ref().unwrap()), "one name, shared");
        assert_eq!(
            (b.recv_q, b.peer, b.netns, b.kind, b.state),
            (5, Some(21), 9, UnixKind::Stream, UnixState::Established)
        );
        let l = &d.sockets[4];
        assert_eq!(
            (l.path.as_deref(), l.kind, l.state, l.send_q),
            (Some("@db@x"), UnixKind::Seqpacket, UnixState::Listen, 128)
        );
    }

    /// Real dumps (kernel 6.18) of the two requests, recorded with their
    /// facts by testdata/record-unix-diag.py in a namespace of its own.
    #[test]
    fn a_recorded_dump() {
        let facts: serde_json::Value = serde_json::from_str(include_str!("../testdata/unix-diag.json")).unwrap();
        let n = |v: &serde_json::Value| v.as_u64().unwrap();
        let mut d = Dump::default();
        assert!(decode_messages(include_bytes!("../testdata/unix-diag-unconnected.bin"), 3, &mut d).unwrap());
        assert_eq!(d.seen as u64, n(&facts["unconnected"]));
        assert!(d.sockets.iter().all(|s| matches!(s.state, UnixState::Listen | UnixState::Unconnected)));
        assert!(decode_messages(include_bytes!("../testdata/unix-diag-connected.bin"), 3, &mut d).unwrap());
        assert_eq!(d.seen as u64, n(&facts["unconnected"]) + n(&facts["connected"]));
        let by = |inode: u64| d.sockets.iter().find(|s| s.inode == inode);
        let dropped = |inode: u64| by(inode).is_none();

        // The full listener: one more queued than its backlog, and who waits.
        let f = &facts["full_listener"];
        let l = by(n(&f["inode"])).expect("the listener");
        let queued: Vec<u64> = f["queued"].as_array().unwrap().iter().map(n).collect();
        assert_eq!((l.state, l.kind, l.path.as_deref()), (UnixState::Listen, UnixKind::Stream, f["path"].as_str()));
        assert_eq!((l.recv_q as u64, l.send_q as u64), (n(&f["backlog"]) + 1, n(&f["backlog"])));
        assert_eq!(l.pending, queued);
        assert_eq!(l.vfs.map(|v| v.inode), Some(n(&f["vfs_inode"])));
        for q in &queued {
            assert_eq!(by(*q).and_then(|s| s.peer), Some(0), "a queued client, not yet accepted");
        }

        // An accepted connection: the server end carries the listener's name
        // and the client's inode; the client is kept for what it sent.
        let a = &facts["accepted"];
        let server = by(n(&a["server"])).expect("the server end");
        assert_eq!(server.peer, Some(n(&a["client"])));
        assert_eq!(server.recv_q as u64, n(&a["unread"]));
        assert_eq!(server.path, by(n(&a["listener"])).unwrap().path);
        let client = by(n(&a["client"])).expect("the client, bytes in flight");
        assert_eq!((client.peer, client.path.as_deref()), (Some(n(&a["server"])), None));
        assert!(client.send_q > 0);

        // Abstract seqpacket: listener and server end kept, the idle client not.
        let s = &facts["seqpacket"];
        let sl = by(n(&s["listener"])).unwrap();
        assert_eq!(
            (sl.kind, sl.state, sl.path.as_deref()),
            (UnixKind::Seqpacket, UnixState::Listen, s["name"].as_str())
        );
        assert_eq!(by(n(&s["server"])).unwrap().peer, Some(n(&s["client"])));
        assert!(dropped(n(&s["client"])));

        // Datagram servers are named; an idle client and an idle socketpair are not.
        let dg = by(n(&facts["dgram"]["server"])).unwrap();
        assert_eq!((dg.kind, dg.state), (UnixKind::Dgram, UnixState::Established), "a client connected to it");
        let quiet = by(n(&facts["dgram"]["unconnected"])).unwrap();
        assert_eq!((quiet.kind, quiet.state), (UnixKind::Dgram, UnixState::Unconnected));
        assert!(quiet.vfs.is_some(), "the socket file, asked for unconnected sockets");
        assert!(dropped(n(&facts["dgram"]["client"])));
        assert!(facts["socketpair"].as_array().unwrap().iter().all(|i| dropped(n(i))));

        // The client hung up: the server end is shut both ways, its peer gone.
        let gone = by(n(&facts["peer_closed"])).unwrap();
        assert_eq!((gone.shutdown, gone.peer), (3, Some(0)));
        assert!(d.sockets.iter().all(|s| s.netns == 3));
    }

    #[test]
    fn an_error_ends_the_dump_with_its_errno() {
        let mut err = sock_diag::header(sock_diag::NLMSG_HDRLEN + 4, 2);
        err.extend_from_slice(&(-libc::ENOENT).to_ne_bytes());
        let e = decode_messages(&err, 1, &mut Dump::default()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let r = msg(1, 10, 5, Some(b"/x\0"), None, (1, 1));
        assert!(!decode_messages(&r, 1, &mut Dump::default()).unwrap(), "no DONE yet");
        assert!(decode_messages(&r[..r.len() - 2], 1, &mut Dump::default()).is_err());
    }

    #[test]
    fn the_requests_are_what_the_kernel_expects() {
        let r = request(UNCONNECTED, SHOW_UNCONNECTED);
        assert_eq!(r.len(), sock_diag::NLMSG_HDRLEN + REQ_LEN);
        assert_eq!(r[sock_diag::NLMSG_HDRLEN], libc::AF_UNIX as u8);
        // TCP_LISTEN and TCP_CLOSE; TCP_ESTABLISHED and TCP_SYN_SENT.
        assert_eq!((UNCONNECTED, CONNECTED), (0x480, 0x6));
        // NAME VFS ICONS RQLEN; NAME PEER RQLEN.
        assert_eq!((SHOW_UNCONNECTED, SHOW_CONNECTED), (0x1b, 0x15));
    }

    #[test]
    fn a_full_listener_names_its_queue_and_its_workers() {
        let path: Arc<str> = Arc::from("/run/fpm.sock");
        let sock = |inode, state, path: Option<Arc<str>>, peer, recv_q| UnixSocket {
            netns: 1,
            inode,
            kind: UnixKind::Stream,
            state,
            path,
            peer,
            recv_q,
            send_q: 0,
            pending: Vec::new(),
            vfs: None,
            shutdown: 0,
        };
        let mut l = sock(1, UnixState::Listen, Some(path.clone()), None, 3);
        l.pending = vec![30, 0, 31];
        let all = vec![
            l,
            sock(2, UnixState::Established, Some(path.clone()), Some(40), 0),
            sock(3, UnixState::Established, Some("/other".into()), Some(41), 0),
            sock(4, UnixState::Listen, Some("/other".into()), None, 0),
        ];
        let mut w = worth_reading(&all);
        w.sort_unstable();
        assert_eq!(w, [1, 2, 30, 31, 40]);
        assert!(worth_reading(&all[1..]).is_empty(), "no listener with a queue: nothing more to read");
    }
}
