//! Lookups built once per snapshot and shared by every detector.
//!
//! At 100k sockets these maps dominate analysis time, so they use a fast
//! multiplicative hash for the kernel's integer keys (inodes, pids) instead
//! of SipHash, and a socket held by one process (nearly all of them) costs
//! no allocation.

use crate::facts::syscalls::{Call, Class};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use unwedge_model::{Process, Snapshot, Socket, TcpState};

/// FxHash-style hasher: the keys come from the kernel or a snapshot file the
/// user chose, so resistance to crafted collisions buys nothing here.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64)
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(n as u64)
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64)
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64)
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<IntHasher>>;

/// The pids holding an fd on one socket. Several (after fork) are listed
/// in `Index::many`, so an entry of the inode map stays 24 bytes: at a
/// million sockets the map is the largest thing a scan holds.
#[derive(Clone, Copy)]
enum Owners {
    None,
    One(u32),
    Many(u32),
}

/// What is known of one socket inode: the socket sock_diag listed (absent
/// when it is not TCP, e.g. a UNIX socket) and who holds it.
struct ByInode {
    /// Index into `snap.sockets`, or NO_SOCKET.
    socket: u32,
    owners: Owners,
}

const NO_SOCKET: u32 = u32::MAX;

/// Socket inodes are 32-bit (the kernel's get_next_ino(), and sock_diag's
/// idiag_inode): keyed so, an entry of the inode map is 16 bytes.
fn key(inode: u64) -> Option<u32> {
    u32::try_from(inode).ok()
}

pub struct Index<'a> {
    pub snap: &'a Snapshot,
    /// socket inode -> the socket and the pids that hold an fd on it
    /// (several after fork): one map, one insert per socket.
    inodes: FastMap<u32, ByInode>,
    /// The owner lists of sockets held by several processes.
    many: Vec<Vec<u32>>,
    pub by_pid: FastMap<u32, &'a Process>,
    /// Sockets not yet accepted, grouped by (netns, local port).
    pub queued: FastMap<(u64, u16), Vec<&'a Socket>>,
    /// LISTEN sockets, and the (netns, port) pairs they serve.
    pub listening: Vec<&'a Socket>,
    served: FastSet<(u64, u16)>,
}

impl<'a> Index<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        let mut inodes: FastMap<u32, ByInode> =
            FastMap::with_capacity_and_hasher(snap.sockets.len(), Default::default());
        let mut queued: FastMap<(u64, u16), Vec<&Socket>> = FastMap::default();
        let mut listening = Vec::new();
        for (i, s) in snap.sockets.iter().enumerate() {
            if s.state == TcpState::Listen {
                listening.push(s);
            }
            if s.inode != 0 {
                if let (Some(k), Ok(i)) = (key(s.inode), u32::try_from(i)) {
                    inodes.insert(k, ByInode { socket: i, owners: Owners::None });
                }
            }
            if is_queued_child(s) {
                queued.entry((s.netns, s.local_port)).or_default().push(s);
            }
        }
        let mut by_pid = FastMap::with_capacity_and_hasher(snap.processes.len(), Default::default());
        let mut many: Vec<Vec<u32>> = Vec::new();
        for p in &snap.processes {
            by_pid.insert(p.pid, p);
            for fd in &p.sockets {
                let Some(k) = key(fd.inode) else { continue };
                let e = inodes.entry(k).or_insert(ByInode { socket: NO_SOCKET, owners: Owners::None });
                match e.owners {
                    Owners::None => e.owners = Owners::One(p.pid),
                    Owners::One(first) if first != p.pid => {
                        e.owners = Owners::Many(many.len() as u32);
                        many.push(vec![first, p.pid]);
                    }
                    Owners::Many(i) => {
                        let v = &mut many[i as usize];
                        if !v.contains(&p.pid) {
                            v.push(p.pid);
                        }
                    }
                    Owners::One(_) => {}
                }
            }
        }
        let served = listening.iter().map(|l| (l.netns, l.local_port)).collect();
        Index { snap, inodes, many, by_pid, queued, listening, served }
    }

    /// The TCP socket with this inode, if sock_diag listed it.
    pub fn socket(&self, inode: u64) -> Option<&'a Socket> {
        let e = self.inodes.get(&key(inode)?)?;
        self.snap.sockets.get(e.socket as usize)
    }

    pub fn owners_of(&self, inode: u64) -> &[u32] {
        match key(inode).and_then(|k| self.inodes.get(&k)).map(|e| &e.owners) {
            Some(Owners::One(pid)) => std::slice::from_ref(pid),
            Some(Owners::Many(i)) => &self.many[*i as usize],
            _ => &[],
        }
    }

    /// The TCP socket behind fd `fd` of `p`, if sock_diag listed it.
    pub fn socket_of_fd(&self, p: &Process, fd: u32) -> Option<&'a Socket> {
        p.sockets.iter().find(|s| s.fd == fd).and_then(|s| self.socket(s.inode))
    }

    /// Something listens on the socket's local port in its namespace: a
    /// connection there is one a listener accepted (the server side), and
    /// its peer is a client. The one test of "served" every kind uses.
    pub fn is_served(&self, s: &Socket) -> bool {
        self.served.contains(&(s.netns, s.local_port))
    }

    /// A connection this host opened (its peer is an upstream): not a
    /// listener nor a half-open connection, with a peer, on a local port
    /// nothing here listens on. The one test of "outbound" every kind uses.
    pub fn is_outbound(&self, s: &Socket) -> bool {
        !matches!(s.state, TcpState::Listen | TcpState::SynRecv | TcpState::NewSynRecv | TcpState::Close)
            && s.remote_port != 0
            && !s.remote.is_unspecified()
            && !self.is_served(s)
    }

    /// The state of the socket behind an fd, if sock_diag listed it.
    pub fn state_of(&self, inode: u64) -> Option<TcpState> {
        self.socket(inode).map(|s| s.state)
    }

    pub fn process(&self, pid: u32) -> Option<&'a Process> {
        self.by_pid.get(&pid).copied()
    }

    pub fn listeners(&self) -> impl Iterator<Item = &'a Socket> + '_ {
        self.listening.iter().copied()
    }

    /// Fully established connections in `listener`'s accept queue.
    pub fn queued_for(&self, listener: &Socket) -> Vec<&'a Socket> {
        self.queued
            .get(&(listener.netns, listener.local_port))
            .map(|v| v.iter().copied().filter(|c| addr_matches(listener.local, c.local)).collect())
            .unwrap_or_default()
    }

    /// Established connections on `listener`'s port that an owner accepted.
    pub fn accepted_by(&self, listener: &Socket, pids: &[u32]) -> Vec<&'a Socket> {
        self.snap
            .sockets
            .iter()
            .filter(|s| {
                s.netns == listener.netns
                    && s.local_port == listener.local_port
                    && s.state == TcpState::Established
                    && s.inode != 0
                    && addr_matches(listener.local, s.local)
                    && self.owners_of(s.inode).iter().any(|o| pids.contains(o))
            })
            .collect()
    }

    /// The owners of `listener` that accept on it, in the order of `owners`
    /// (pre-fork servers: the master holds the socket only so that its
    /// workers inherit it; the one that stalls is the one that accepts):
    /// 1. those with a thread in accept()/accept4() on it;
    /// 2. else those holding connections accepted on it (established or
    ///    CLOSE-WAIT sockets on its address and port);
    /// 3. else the owners no other owner descends from (the workers, not
    ///    their master);
    /// 4. else every owner.
    ///
    /// A thread in poll/epoll_wait is not read as accepting: which fds an
    /// epoll set watches is not in the syscall's arguments.
    pub fn accepting(&self, listener: &Socket, owners: &[u32]) -> Vec<u32> {
        if owners.len() <= 1 {
            return owners.to_vec();
        }
        let arch = self.snap.arch.as_str();
        let in_accept: Vec<u32> = owners
            .iter()
            .copied()
            .filter(|&pid| {
                let Some(p) = self.process(pid) else { return false };
                let fds: Vec<u64> =
                    p.sockets.iter().filter(|s| s.inode == listener.inode).map(|s| s.fd as u64).collect();
                p.threads.iter().any(|t| {
                    Call::of(arch, t).is_some_and(|call| call.class == Class::Accept && fds.contains(&call.arg(0)))
                })
            })
            .collect();
        if !in_accept.is_empty() {
            return in_accept;
        }
        let mut holding: Vec<u32> = Vec::new();
        for s in &self.snap.sockets {
            if s.netns == listener.netns
                && s.local_port == listener.local_port
                && s.inode != 0
                && matches!(s.state, TcpState::Established | TcpState::CloseWait)
                && addr_matches(listener.local, s.local)
            {
                for &o in self.owners_of(s.inode) {
                    if owners.contains(&o) && !holding.contains(&o) {
                        holding.push(o);
                    }
                }
            }
        }
        if !holding.is_empty() {
            return owners.iter().copied().filter(|o| holding.contains(o)).collect();
        }
        let leaves: Vec<u32> = owners
            .iter()
            .copied()
            .filter(|&pid| !owners.iter().any(|&o| self.process(o).is_some_and(|p| p.ppid == pid)))
            .collect();
        if !leaves.is_empty() {
            return leaves;
        }
        owners.to_vec()
    }

    /// The process a listener finding is about: among the owners, the one
    /// highest in the process tree (the master of a pre-fork server).
    pub fn main_owner(&self, pids: &[u32]) -> Option<u32> {
        pids.iter()
            .copied()
            .find(|&pid| self.process(pid).is_none_or(|p| !pids.contains(&p.ppid)))
            .or_else(|| pids.first().copied())
    }
}

/// A connection the kernel completed but no application accepted yet: it
/// has no file (inode 0) and still has its peer (not an orphan being torn down).
pub fn is_queued_child(s: &Socket) -> bool {
    s.inode == 0 && matches!(s.state, TcpState::Established | TcpState::CloseWait)
}

/// A listener on 0.0.0.0 or :: takes connections to any local address; a
/// dual-stack :: listener sees IPv4 peers as ::ffff:a.b.c.d.
pub fn addr_matches(listen: IpAddr, local: IpAddr) -> bool {
    if listen.is_unspecified() {
        return true;
    }
    let canon = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(a),
        v4 => v4,
    };
    canon(listen) == canon(local)
}

/// "127.0.0.1:5000", "[::1]:5000": the model's one spelling of an endpoint.
pub use unwedge_model::fmt::endpoint;

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::SocketFd;

    #[test]
    fn owners_one_and_many_and_an_inode_map_entry_of_16_bytes() {
        let fd = |inode| SocketFd { fd: 3, inode };
        let p = |pid, socks: Vec<SocketFd>| Process { pid, sockets: socks, ..Default::default() };
        let snap = Snapshot {
            processes: vec![p(1, vec![fd(10), fd(11)]), p(2, vec![fd(11), fd(11)]), p(3, vec![fd(11)])],
            ..Default::default()
        };
        let idx = Index::new(&snap);
        assert_eq!(idx.owners_of(10), [1]);
        assert_eq!(idx.owners_of(11), [1, 2, 3]);
        assert!(idx.owners_of(12).is_empty());
        assert_eq!(std::mem::size_of::<(u32, ByInode)>(), 16);
    }
}
