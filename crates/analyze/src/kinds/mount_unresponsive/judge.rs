//! Decides which processes have a thread whose request to a FUSE daemon or
//! network file server went unanswered the whole interval, and gathers the
//! threads queued behind it and the daemon or server.

use crate::facts::mounts::{self, FileWait};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::{FileWaiter, MountDaemon, MountUnresponsive};
use unwedge_model::Severity;

/// Threads named behind the first one.
const MAX_BEHIND: usize = 8;

pub struct Judged {
    pub verdict: Verdict<MountUnresponsive>,
}

fn waiter(w: &FileWait) -> FileWaiter {
    FileWaiter {
        tid: w.thread.tid,
        name: w.thread.comm.clone(),
        state: w.thread.state.to_string(),
        syscall: w.syscall.clone(),
        file: w.file.to_string(),
        wchan: w.thread.wchan.clone(),
    }
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    if ctx.first.is_none() || ctx.snap().mounts.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in &ctx.snap().processes {
        for st in mounts::stalled(ctx, p) {
            let m = st.mount;
            let (daemons, found_by) = mounts::fuse_daemons(ctx.snap(), m);
            let ev = MountUnresponsive {
                mount_point: m.mount_point.clone(),
                fs_type: m.fs_type.clone(),
                source: m.source.clone(),
                mount_id: m.id,
                server: m.server(),
                daemon: daemons
                    .iter()
                    .map(|d| MountDaemon { pid: d.pid, comm: d.comm.clone(), state: d.state.to_string() })
                    .collect(),
                daemon_found_by: found_by.map(|f| f.words().to_string()),
                fuse_connection: m.is_fuse().then(|| m.fuse_connection_id()),
                fuse_waiting: m.fuse.and_then(|f| f.waiting),
                unanswered_for_ms: ctx.interval_ms,
                first: waiter(&st.first),
                behind: st.behind.iter().take(MAX_BEHIND).map(waiter).collect(),
                threads_blocked: 1 + st.behind.len(),
                cmdline: p.cmdline.clone(),
            };
            out.push(Judged { verdict: Verdict::new(Severity::Warning, Some(p.pid), None, p.netns, ev) });
        }
    }
    out
}
