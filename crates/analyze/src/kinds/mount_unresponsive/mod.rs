//! `mount_unresponsive` — a threaded server whose handlers append an
//! access-log line to a file on a FUSE filesystem that stopped answering
//! (issue 22): one handler sits in write() waiting for the FUSE daemon's
//! answer (`request_wait_answer`), the others in D on the file position
//! lock behind it; no request is answered. Told before as "a write waiting
//! for buffer space (the reader is not reading)" — a pipe's story about a
//! file — with no stuck thread.
//!
//! Kernel facts (`facts/mounts.rs`): the fd argument of each blocked
//! thread's syscall resolved to its file and mount (`mnt_id` of
//! /proc/PID/fdinfo/FD, the mount's line of /proc/PID/mountinfo: type,
//! source, options, device); the thread's wchan and kernel stack — in
//! `request_wait_answer` (FUSE) or `rpc_wait_bit_killable` / `nfs_*` (NFS)
//! it waits on the daemon or server, in `fdget_pos`, `mutex_lock`, a
//! rwsem or a page lock it is queued behind that one; the same call and
//! arguments, no CPU time and no context switch, in both snapshots; for
//! FUSE the daemon (the process whose /dev/fuse fd names the mount's
//! connection in its fdinfo, `fuse_connection:`) and the requests waiting
//! on it (/sys/fs/fuse/connections/N/waiting, when fusectl is mounted).
//!
//! False alarm avoided: a FUSE filesystem (or NFS server) that answers
//! slowly but answers — under load threads queue on its files, but each
//! request is answered within the interval, so no thread waits on the
//! daemon in the same call in both snapshots. Threads queued behind a lock
//! alone never raise it: the request at the head of the queue must be the
//! one that waited the whole interval.

mod judge;
mod words;

use crate::Ctx;
use unwedge_model::Finding;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for j in judge::judge(ctx) {
        let words = words::words(ctx, &j);
        out.push(ctx.finding(j.verdict, words));
    }
}
