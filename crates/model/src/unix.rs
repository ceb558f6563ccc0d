//! Unix-domain sockets as sock_diag AF_UNIX shows them (what `ss -x` reads).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A unix-domain socket, from sock_diag AF_UNIX (what `ss -x` reads).
///
/// Dumped: listeners and unconnected sockets always; connected ones in a
/// namespace whose `NetNs::unix_connections` says so. Of those, kept:
/// every listener; every socket with a name (a path or an abstract name:
/// listeners, datagram servers, and the server ends of accepted
/// connections, which carry their listener's name); every socket with
/// bytes queued, whose peer closed, or that waits in a listener's queue.
/// Left out: an unnamed socket with nothing queued and a live peer (the
/// client end of an idle connection, whose server end names it as `peer`,
/// and idle socketpairs), and unnamed unconnected ones. `NetNs::unix_seen`
/// counts every socket dumped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnixSocket {
    pub netns: u64,
    /// The inode a process's fd link names (`socket:[N]`).
    pub inode: u64,
    pub kind: UnixKind,
    pub state: UnixState,
    /// The bound path, or `@name` for an abstract name (the kernel's NULs
    /// shown as `@`, as `ss` does). An accepted connection carries its
    /// listener's name; `None` for an unnamed socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Arc<str>>,
    /// The other end's inode. `Some(0)`: the connection waits in a
    /// listener's queue, not yet accepted (the kernel's socket for the
    /// server end has no inode yet), or the other end was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<u64>,
    /// For LISTEN: connections waiting to be accepted (the kernel admits
    /// one more than the backlog). Otherwise bytes not yet read (a datagram
    /// socket: the size of the next datagram).
    pub recv_q: u32,
    /// For LISTEN: the backlog (listen()'s argument capped by
    /// net.core.somaxconn). Otherwise memory of what this end sent that
    /// the other end has not read yet (bytes, kernel overhead included).
    pub send_q: u32,
    /// For LISTEN: the inodes of the clients whose connections wait in the
    /// queue, oldest first, at most [`UnixSocket::PENDING_KEPT`] (`recv_q`
    /// counts them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<u64>,
    /// The socket file's inode and device, for a listener or an
    /// unconnected socket bound to a path (the file `path` names now may
    /// be another one: unlinked and bound again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vfs: Option<UnixVfs>,
    /// `sk_shutdown`: 1 no more receiving, 2 no more sending; 3 on a
    /// connection whose other end closed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shutdown: u8,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

impl UnixSocket {
    /// How many of a listener's waiting clients `pending` names.
    pub const PENDING_KEPT: usize = 32;
}

/// The file a unix socket is bound to (UNIX_DIAG_VFS).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnixVfs {
    pub inode: u64,
    pub dev: u32,
}

/// The socket type of a unix socket.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum UnixKind {
    Stream,
    Seqpacket,
    Dgram,
    Unknown,
}

impl UnixKind {
    /// SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5.
    pub fn from_kernel(n: u8) -> UnixKind {
        match n {
            1 => UnixKind::Stream,
            2 => UnixKind::Dgram,
            5 => UnixKind::Seqpacket,
            _ => UnixKind::Unknown,
        }
    }
}

/// A unix socket's state: the kernel keeps it in TCP's numbering.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum UnixState {
    /// TCP_LISTEN (10).
    #[serde(rename = "LISTEN")]
    Listen,
    /// TCP_ESTABLISHED (1): connected (a datagram socket: connect()ed).
    #[serde(rename = "ESTABLISHED")]
    Established,
    /// TCP_SYN_SENT (2).
    #[serde(rename = "CONNECTING")]
    Connecting,
    /// TCP_CLOSE (7): not connected (a datagram server, or a stream
    /// socket not yet connected); `ss` prints UNCONN.
    #[serde(rename = "UNCONNECTED")]
    Unconnected,
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

impl UnixState {
    pub fn from_kernel(n: u8) -> UnixState {
        match n {
            10 => UnixState::Listen,
            1 => UnixState::Established,
            2 => UnixState::Connecting,
            7 => UnixState::Unconnected,
            _ => UnixState::Unknown,
        }
    }
}
