//! Lookups built once per snapshot and shared by every detector.

use std::collections::HashMap;
use std::net::IpAddr;
use unwedge_model::{Process, Snapshot, Socket, TcpState};

pub struct Index<'a> {
    pub snap: &'a Snapshot,
    /// socket inode -> pids that hold an fd on it (several after fork).
    pub owners: HashMap<u64, Vec<u32>>,
    pub by_pid: HashMap<u32, &'a Process>,
    /// socket inode -> socket, for sockets that have a file.
    pub by_inode: HashMap<u64, &'a Socket>,
    /// (netns, inode) of sockets not yet accepted, grouped by (netns, local port).
    pub queued: HashMap<(u64, u16), Vec<&'a Socket>>,
}

impl<'a> Index<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        let mut owners: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut by_pid = HashMap::with_capacity(snap.processes.len());
        for p in &snap.processes {
            by_pid.insert(p.pid, p);
            for s in &p.sockets {
                let v = owners.entry(s.inode).or_default();
                if v.last() != Some(&p.pid) {
                    v.push(p.pid);
                }
            }
        }
        let mut queued: HashMap<(u64, u16), Vec<&Socket>> = HashMap::new();
        let mut by_inode = HashMap::with_capacity(snap.sockets.len());
        for s in &snap.sockets {
            if s.inode != 0 {
                by_inode.insert(s.inode, s);
            }
            if is_queued_child(s) {
                queued.entry((s.netns, s.local_port)).or_default().push(s);
            }
        }
        Index { snap, owners, by_pid, by_inode, queued }
    }

    pub fn owners_of(&self, inode: u64) -> &[u32] {
        self.owners.get(&inode).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The state of the socket behind an fd, if sock_diag listed it.
    pub fn state_of(&self, inode: u64) -> Option<TcpState> {
        self.by_inode.get(&inode).map(|s| s.state)
    }

    pub fn process(&self, pid: u32) -> Option<&'a Process> {
        self.by_pid.get(&pid).copied()
    }

    pub fn listeners(&self) -> impl Iterator<Item = &'a Socket> {
        self.snap.sockets.iter().filter(|s| s.state == TcpState::Listen)
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

/// "127.0.0.1:5000", "[::1]:5000".
pub fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{port}"),
            None => format!("[{v6}]:{port}"),
        },
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}
