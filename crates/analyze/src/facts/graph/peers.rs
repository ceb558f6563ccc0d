//! The other end of a TCP connection when it is on this host: the socket
//! whose 4-tuple is this one's reversed, in the same network namespace for
//! a loopback address and in any namespace for another (a container's veth
//! address reached from the host, or the reverse). That end is either held
//! by a process (an accepted connection: its owners are the peer) or still
//! waits, without a file, in the accept queue of a listener (the processes
//! that accept on it are the peer).
//!
//! The lookups go through tables built on first use (`Peers`): a healthy
//! host, where no finding follows a wait, never pays for them, and one
//! that follows a few upstreams pays for those ports' connections only.

use crate::facts::index::{addr_matches, is_queued_child, FastMap, IntHasher};
use crate::Ctx;
use std::cell::{OnceCell, RefCell};
use std::collections::hash_map::Entry;
use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use unwedge_model::{Socket, TcpState};

/// (namespace, local, local port, remote, remote port); the namespace is 0
/// unless the local address is a loopback one (which never leaves it).
type Key = (u64, IpAddr, u16, IpAddr, u16);

/// An IPv4 address seen through a dual-stack socket (::ffff:a.b.c.d) as
/// the IPv4 one, so both ends of a connection spell it alike.
fn canon(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(a),
        v4 => v4,
    }
}

fn key(netns: u64, local: IpAddr, lport: u16, remote: IpAddr, rport: u16) -> Key {
    let (local, remote) = (canon(local), canon(remote));
    let ns = if local.is_loopback() { netns } else { 0 };
    (ns, local, lport, remote, rport)
}

/// Where the other end of a connection is.
#[derive(Debug, Clone, Copy)]
pub enum End<'a> {
    /// Held by processes: an accepted connection (or the client's end, seen
    /// from a server).
    Held(&'a Socket),
    /// Not accepted yet: it waits in this listener's queue.
    Queued { end: &'a Socket, listener: &'a Socket },
}

/// The other ends looked up so far. Every lookup is for a connection
/// whose local port is an upstream's port, and a scan follows few of
/// those: a port's connections are gathered on its first lookup (one pass
/// over the sockets), and only past [`PORTS_BEFORE_ALL`] ports is one table
/// of every connection on the host built.
#[derive(Default)]
pub struct Peers {
    by_port: RefCell<FastMap<u16, Rc<Table>>>,
    all: OnceCell<Rc<Table>>,
}

/// Ports looked up one by one before a table of every connection pays.
const PORTS_BEFORE_ALL: usize = 8;

/// Every connection by its 4-tuple's fingerprint (12 bytes an entry, where
/// the tuple itself took ~50): a lookup checks the socket it lands on, and
/// the rare connection whose fingerprint another already has waits in
/// `clashes`.
#[derive(Default)]
struct Table {
    by_print: FastMap<u64, u32>,
    clashes: Vec<(Key, u32)>,
}

fn key_of(s: &Socket) -> Key {
    key(s.netns, s.local, s.local_port, s.remote, s.remote_port)
}

fn fingerprint(k: &Key) -> u64 {
    let mut h = IntHasher::default();
    h.write_u64(k.0);
    for a in [k.1, k.3] {
        match a {
            IpAddr::V4(v4) => h.write_u64(u64::from(u32::from(v4))),
            IpAddr::V6(v6) => {
                let x = u128::from(v6);
                h.write_u64((x >> 64) as u64);
                h.write_u64(x as u64);
            }
        }
    }
    h.write_u64((u64::from(k.2) << 16) | u64::from(k.4));
    h.finish()
}

impl Table {
    /// The live connections of `socks` that `keep` keeps.
    fn build(socks: &[Socket], keep: impl Fn(&Socket) -> bool) -> Table {
        let mut t = Table::default();
        for (i, s) in socks.iter().enumerate() {
            let live = !matches!(s.state, TcpState::Listen | TcpState::TimeWait | TcpState::Close);
            let Ok(i) = u32::try_from(i) else { break };
            if !live || s.remote_port == 0 || !keep(s) {
                continue;
            }
            let k = key_of(s);
            match t.by_print.entry(fingerprint(&k)) {
                Entry::Vacant(e) => {
                    e.insert(i);
                }
                // The first socket with a tuple answers for it.
                Entry::Occupied(e) if key_of(&socks[*e.get() as usize]) != k => {
                    if !t.clashes.iter().any(|(c, _)| *c == k) {
                        t.clashes.push((k, i));
                    }
                }
                Entry::Occupied(_) => {}
            }
        }
        t
    }

    fn get(&self, socks: &[Socket], k: &Key) -> Option<u32> {
        let i = *self.by_print.get(&fingerprint(k))?;
        if socks.get(i as usize).is_some_and(|s| key_of(s) == *k) {
            return Some(i);
        }
        self.clashes.iter().find(|(c, _)| c == k).map(|&(_, i)| i)
    }
}

impl Peers {
    /// The table holding the connections whose local port is `port`.
    fn table(&self, socks: &[Socket], port: u16) -> Rc<Table> {
        if let Some(all) = self.all.get() {
            return all.clone();
        }
        let mut by_port = self.by_port.borrow_mut();
        if let Some(t) = by_port.get(&port) {
            return t.clone();
        }
        if by_port.len() >= PORTS_BEFORE_ALL {
            by_port.clear();
            return self.all.get_or_init(|| Rc::new(Table::build(socks, |_| true))).clone();
        }
        let t = Rc::new(Table::build(socks, |s| s.local_port == port));
        by_port.insert(port, t.clone());
        t
    }

    /// The other end of `s`, when it is on this host.
    pub fn end_of<'a>(&self, ctx: &Ctx<'a>, s: &Socket) -> Option<End<'a>> {
        let snap = ctx.last.snap;
        let table = self.table(&snap.sockets, s.remote_port);
        let i = table.get(&snap.sockets, &key(s.netns, s.remote, s.remote_port, s.local, s.local_port))?;
        let end = snap.sockets.get(i as usize)?;
        if end.inode != 0 {
            return Some(End::Held(end));
        }
        if !is_queued_child(end) {
            return None;
        }
        let listener = ctx
            .last
            .listeners()
            .filter(|l| l.netns == end.netns && l.local_port == end.local_port && addr_matches(l.local, end.local))
            .max_by_key(|l| !l.local.is_unspecified())?;
        Some(End::Queued { end, listener })
    }
}

/// The local processes waited on through a set of connections: who holds
/// their other ends, and which of those wait unaccepted in a queue.
#[derive(Debug, Default, Clone)]
pub struct Across {
    /// The holders of the other ends, or the processes accepting on the
    /// listener where they wait; in pid order.
    pub pids: Vec<u32>,
    pub connections: usize,
    pub queued: usize,
    /// The listener they wait in (queued, backlog), when some do.
    pub listener: Option<(u32, u32)>,
    /// Some waited queued in both snapshots (the queue did not move).
    pub queued_whole_interval: bool,
    /// On some, the other end left their bytes unread across the interval.
    pub unread_whole_interval: bool,
}

/// The local processes at the other ends of `conns` (connections of
/// `waiter`): `None` when no end is on this host.
pub fn across<'a>(ctx: &Ctx<'a>, waiter: u32, conns: &[&'a Socket]) -> Option<Across> {
    let mut out = Across::default();
    for s in conns {
        let Some(end) = ctx.graph.peers.end_of(ctx, s) else { continue };
        out.connections += 1;
        match end {
            End::Held(e) => {
                out.pids.extend(ctx.last.owners_of(e.inode).iter().copied().filter(|&p| p != waiter));
                let before = ctx.first.as_ref().and_then(|f| f.socket(e.inode));
                out.unread_whole_interval |= e.recv_q > 0 && before.is_some_and(|b| b.recv_q == e.recv_q);
            }
            End::Queued { end, listener } => {
                let owners = ctx.last.owners_of(listener.inode);
                out.pids.extend(ctx.last.accepting(listener, owners));
                out.queued += 1;
                out.listener = Some((listener.recv_q, listener.send_q));
                let before = ctx.first.as_ref().and_then(|f| {
                    f.queued_for(listener).into_iter().find(|b| {
                        b.remote == end.remote && b.remote_port == end.remote_port && b.local_port == end.local_port
                    })
                });
                out.queued_whole_interval |= before.is_some();
            }
        }
    }
    out.pids.sort_unstable();
    out.pids.dedup();
    (out.connections > 0 && !out.pids.is_empty()).then_some(out)
}

/// The endpoint `s` connects to.
pub fn remote(s: &Socket) -> SocketAddr {
    SocketAddr::new(canon(s.remote), s.remote_port)
}
