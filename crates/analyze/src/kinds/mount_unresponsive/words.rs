//! Says which mount does not answer, who should (its FUSE daemon or its
//! server), and which threads wait on it as one group.

use super::judge::Judged;
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::MountUnresponsive;

/// "FUSE daemon fuselog (pid 812)" / "NFS server 10.0.0.5" / "FUSE daemon (not found)".
fn who_answers(e: &MountUnresponsive) -> String {
    if let Some(s) = &e.server {
        return format!("server {s}");
    }
    match e.daemon.as_slice() {
        [] => "FUSE daemon (unwedge found no process serving its connection)".into(),
        [d] => format!("FUSE daemon {} (pid {})", d.comm, d.pid),
        ds => format!(
            "FUSE daemon ({})",
            ds.iter().map(|d| format!("{} pid {}", d.comm, d.pid)).collect::<Vec<_>>().join(", ")
        ),
    }
}

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let who = j.verdict.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "a process".into());
    let interval = secs(ctx.interval_ms);
    let answers = who_answers(e);
    let f = &e.first;
    let behind = match e.behind.first() {
        None => String::new(),
        Some(b) => {
            let asleep = e.behind.iter().filter(|b| b.state == "D").count();
            // fdget_pos on the same file: the position lock its write holds.
            let same_pos_lock = e.behind.iter().filter(|b| b.file == f.file && b.wchan.as_deref().is_some_and(|w| w.contains("fdget_pos"))).count();
            let queued = if same_pos_lock > 0 {
                format!(
                    "; {same_pos_lock} wait in fdget_pos for the position lock of {}, which thread {} holds while its write waits",
                    f.file, f.tid
                )
            } else {
                b.wchan.as_ref().map(|w| format!("; the first of them waits in {w}")).unwrap_or_default()
            };
            format!(
                " {} more of its threads are blocked on this mount's files ({asleep} in uninterruptible sleep{queued}): one group behind that request, freed together when it is answered.",
                e.threads_blocked - 1
            )
        }
    };
    let waiting = e
        .fuse_waiting
        .map(|n| format!(" The FUSE connection counts {n} request{} waiting on its daemon.", if n == 1 { "" } else { "s" }))
        .unwrap_or_default();
    let stopped = e
        .daemon
        .iter()
        .find(|d| matches!(d.state.as_str(), "T" | "t"))
        .map(|d| format!(" The daemon {} (pid {}) is stopped (state {}): it runs no code.", d.comm, d.pid, d.state))
        .unwrap_or_default();
    let kind = if e.server.is_some() { "network filesystem" } else { "FUSE filesystem" };
    let fix = if e.server.is_some() {
        format!(
            "Find why {answers} does not answer (is it up, reachable: `rpcinfo -p`, `showmount -e`; the client's `nfsstat -rc` retransmissions). Keep request paths off network mounts: write logs locally or through a non-blocking writer, and mount with timeouts where data allows (`soft,timeo=…,retrans=…`: I/O then fails instead of hanging)."
        )
    } else {
        let abort = match e.fuse_connection {
            Some(id) => format!("`echo 1 > /sys/fs/fuse/connections/{id}/abort` (fusectl)"),
            None => format!("`fusermount3 -u -z {}`", e.mount_point),
        };
        format!(
            "Find why {answers} does not answer its request (its own threads and logs; if it is stopped, `kill -CONT` it). To free the blocked threads now, abort the connection: {abort}; their calls then fail with ENOTCONN. Keep the request path off FUSE mounts: write access logs locally or through a non-blocking writer that drops or buffers when the filesystem stalls."
        )
    };
    Words {
        title: format!(
            "{who}: thread {} waits in {} on {} ({} mount {}) whose {answers} has not answered for over {interval}",
            f.tid, f.syscall, f.file, e.fs_type, e.mount_point
        ),
        explanation: format!(
            "Thread {} ({}) of {who} sat in {} on {} for the whole {interval} between the snapshots without running (no CPU time, no context switch), {}: its request to the {kind} mounted on {} ({}, source {}) waits on the {answers}, which has not answered it.{behind}{waiting}{stopped} This is a file on a mount, not a pipe or a socket: nothing here waits for a reader, it waits for whoever serves the mount.",
            f.tid,
            f.name,
            f.syscall,
            f.file,
            f.wchan.as_ref().map(|w| format!("in the kernel's {w}")).unwrap_or_else(|| "in the kernel".into()),
            e.mount_point,
            e.fs_type,
            e.source,
        ),
        fix,
    }
}
