//! File waits on a FUSE or network mount: a thread blocked in read, write,
//! fsync (any call whose first fd argument is a file) on a file whose mount
//! hands requests to a daemon (FUSE) or a server (NFS, CIFS, 9p, Ceph),
//! and its role — the one whose request waits on the daemon or server, or
//! one queued behind it on the file position lock, the inode lock or a
//! page lock. Read by `mount_unresponsive`, by `waits` (what a process's
//! threads wait on) and by the wait graph (a thread waits on a mount).
//!
//! Kernel facts: the fd argument's target and `mnt_id` (/proc/PID/fd,
//! /proc/PID/fdinfo), the mount's line of /proc/PID/mountinfo (type,
//! source, superblock options, device), the thread's wchan and kernel
//! stack — `request_wait_answer` (FUSE), `rpc_wait_bit_killable`,
//! `nfs_*`, `rpc_*` (NFS) for the waiter on the server; `fdget_pos`,
//! `mutex_lock`, `rwsem_down_*`, `folio_lock` for those behind it — and the
//! /dev/fuse fds of the daemons with the connection each serves (fdinfo
//! `fuse_connection:`). Wchan names change between kernels: they decide
//! only the role, never whether the thread waits on the mount (its fd's
//! mount says that).

use crate::facts::syscalls::Call;
use crate::facts::waits;
use crate::Ctx;
use std::collections::BTreeMap;
use unwedge_model::{Mount, Process, Snapshot, Thread};

/// What a thread blocked on a mount's file waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Its own request to the daemon or server.
    Request,
    /// A lock held by a thread whose request waits (the file position
    /// lock, the inode lock, a page lock).
    Behind,
    /// Neither: the kernel showed no wchan nor stack (not root), or frames
    /// unwedge does not know.
    Unknown,
}

/// A thread's blocked call on a file of a FUSE or network mount.
#[derive(Debug, Clone)]
pub struct FileWait<'a> {
    pub thread: &'a Thread,
    pub syscall: String,
    pub fd: u32,
    pub file: &'a str,
    pub mount: &'a Mount,
    pub role: Role,
}

/// Frames (innermost first) of a wait on the daemon or the server.
const REQUEST_FRAMES: &[&str] = &[
    "request_wait_answer",
    "fuse_simple_request",
    "__fuse_simple_request",
    "rpc_wait_bit_killable",
    "__rpc_execute",
    "rpc_execute",
    "nfs_wait_bit_killable",
];
/// Frame prefixes of a lock queue (what a thread behind the first one sits in).
const LOCK_FRAMES: &[&str] = &[
    "fdget_pos",
    "__fdget_pos",
    "mutex_lock",
    "__mutex_lock",
    "rwsem_down_",
    "down_write",
    "down_read",
    "__folio_lock",
    "folio_lock",
    "__lock_page",
    "inode_lock",
];

fn name_of(frame: &str) -> &str {
    frame.split(['+', ' ']).next().unwrap_or(frame)
}

/// The role a thread's wchan and kernel stack show.
pub fn role(t: &Thread) -> Role {
    let top = t.wchan.as_deref().or_else(|| t.stack.as_ref().and_then(|s| s.first()).map(|f| name_of(f)));
    let stack: Vec<&str> = t.stack.iter().flatten().map(|f| name_of(f)).collect();
    if top.is_none() && stack.is_empty() {
        return Role::Unknown;
    }
    let is_request = |f: &str| REQUEST_FRAMES.contains(&f) || f.starts_with("nfs_") || f.starts_with("nfs4_");
    let is_lock = |f: &str| LOCK_FRAMES.iter().any(|l| f.starts_with(l));
    match top {
        Some(f) if is_lock(f) => Role::Behind,
        Some(f) if is_request(f) => Role::Request,
        // A sleep below a request frame (NFS waiting on writeback is
        // `folio_wait_bit_common` above `nfs_file_fsync`).
        _ if stack.iter().any(|f| is_request(f)) => Role::Request,
        _ => Role::Unknown,
    }
}

/// The mount with id `id` among the snapshot's.
pub fn mount(snap: &Snapshot, id: u32) -> Option<&Mount> {
    snap.mounts.iter().find(|m| m.id == id)
}

/// The thread's call waits on a file of a FUSE or network mount.
pub fn file_wait<'a>(snap: &'a Snapshot, t: &'a Thread, call: &Call) -> Option<FileWait<'a>> {
    let fd = call.fd_numbers().next()?;
    let target = t.fd_args.iter().find(|f| f.fd == fd && f.target.starts_with('/'))?;
    let m = mount(snap, target.mnt_id?)?;
    (m.is_fuse() || m.is_network()).then(|| FileWait {
        thread: t,
        syscall: call.name.clone(),
        fd,
        file: target.target.as_str(),
        mount: m,
        role: role(t),
    })
}

/// A mount one of a process's threads sent a request to that went
/// unanswered the whole interval, with every thread of the process blocked
/// on its files.
#[derive(Debug, Clone)]
pub struct Stalled<'a> {
    pub mount: &'a Mount,
    /// The thread whose request waited (same call, no context switch, in
    /// both snapshots).
    pub first: FileWait<'a>,
    /// The process's other threads blocked on files of the mount, those
    /// queued on a lock first.
    pub behind: Vec<FileWait<'a>>,
}

/// The mounts `p`'s threads wait on with one request unanswered the whole
/// interval: the kernel's wchan or stack shows a thread waiting on the
/// daemon or server, and that thread did not run between the snapshots.
pub fn stalled<'a>(ctx: &Ctx<'a>, p: &'a Process) -> Vec<Stalled<'a>> {
    let snap = ctx.last.snap;
    let arch = snap.arch.as_str();
    let mut by_mount: BTreeMap<u32, Vec<FileWait<'a>>> = BTreeMap::new();
    for t in &p.threads {
        let Some(call) = Call::of(arch, t) else { continue };
        if let Some(w) = file_wait(snap, t, &call) {
            by_mount.entry(w.mount.id).or_default().push(w);
        }
    }
    let mut out = Vec::new();
    for (_, mut all) in by_mount {
        let Some(i) = all.iter().position(|w| w.role == Role::Request && waits::unchanged(ctx, p, w.thread)) else {
            continue;
        };
        let first = all.remove(i);
        all.sort_by_key(|w| (w.role != Role::Behind, w.thread.tid));
        out.push(Stalled { mount: first.mount, first, behind: all });
    }
    out
}

/// How a FUSE mount's daemon was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// The kernel names the connection in the fdinfo of the daemon's /dev/fuse fd.
    Connection,
    /// The kernel does not, and one process holds /dev/fuse on the whole host.
    OnlyHolder,
}

impl FoundBy {
    pub fn words(self) -> &'static str {
        match self {
            FoundBy::Connection => "fuse_connection",
            FoundBy::OnlyHolder => "only holder of /dev/fuse",
        }
    }
}

/// The processes serving a FUSE mount's connection, and how they were found.
pub fn fuse_daemons<'a>(snap: &'a Snapshot, m: &Mount) -> (Vec<&'a Process>, Option<FoundBy>) {
    if !m.is_fuse() {
        return (Vec::new(), None);
    }
    let conn = m.fuse_connection_id();
    let serving: Vec<&Process> =
        snap.processes.iter().filter(|p| p.fuse_devs.iter().any(|d| d.connection == Some(conn))).collect();
    if !serving.is_empty() {
        return (serving, Some(FoundBy::Connection));
    }
    let holders: Vec<&Process> = snap.processes.iter().filter(|p| !p.fuse_devs.is_empty()).collect();
    // A kernel that names no connection: one holder on the host is the only candidate.
    let named = holders.iter().any(|p| p.fuse_devs.iter().any(|d| d.connection.is_some()));
    match holders.as_slice() {
        [one] if !named => (vec![*one], Some(FoundBy::OnlyHolder)),
        _ => (Vec::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(wchan: Option<&str>, stack: &[&str]) -> Thread {
        Thread {
            wchan: wchan.map(str::to_string),
            stack: (!stack.is_empty()).then(|| stack.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn roles_from_kernel_6_18() {
        // A write on FUSE whose daemon does not answer, and one queued on the file position lock.
        let first = thread(
            Some("request_wait_answer"),
            &["request_wait_answer+0x16a/0x280", "__fuse_simple_request+0x120/0x330", "fuse_perform_write+0x35c/0x7f0"],
        );
        assert_eq!(role(&first), Role::Request);
        let behind = thread(Some("fdget_pos"), &["fdget_pos+0x82/0x170", "ksys_write+0x28/0xf0"]);
        assert_eq!(role(&behind), Role::Behind);
        // NFS fsync waiting on writeback: the sleep is generic, the frames below are NFS.
        let nfs = thread(Some("folio_wait_bit_common"), &["folio_wait_bit_common+0x1/0x2", "nfs_file_fsync+0x1/0x2"]);
        assert_eq!(role(&nfs), Role::Request);
        assert_eq!(role(&thread(Some("rpc_wait_bit_killable"), &[])), Role::Request);
        assert_eq!(role(&thread(None, &[])), Role::Unknown);
    }
}
