//! Says why a plain kill does not stop the process, and how to stop it now
//! and for good.

use super::judge::Judged;
use crate::{Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let pid = j.verdict.pid.unwrap_or(0);
    let who = ctx.proc_label(pid);
    let how = match (e.ignored, e.blocked_in_every_thread) {
        (true, true) => "ignores and blocks SIGTERM",
        (true, false) => "ignores SIGTERM",
        _ => "blocks SIGTERM in every thread and never reads it",
    };
    let why = if e.ignored {
        "Its disposition for SIGTERM is SIG_IGN, so the kernel discards every SIGTERM sent to it. Ignored dispositions survive execve(), so this is often inherited from whatever started it (nohup-like wrappers, a shell trap '' TERM, a parent that ignored it before forking)."
            .to_string()
    } else {
        format!(
            "Every one of its threads blocks SIGTERM, and it has no signalfd and no thread in sigwait to read it, so a SIGTERM stays pending forever{}. A blocked mask is inherited across fork() and execve(), so this is often the mask of the thread that launched it (see blocked_signal).",
            if e.sigterm_pending { " (one is pending right now: someone already tried)" } else { "" }
        )
    };
    let managed_txt = if e.managed_by_live_parent {
        let ppid = ctx.last.process(pid).map_or(0, |p| p.ppid);
        format!(
            " Its parent {} is alive and runs the same program or leads its process group, so this may be a worker its master shuts down some other way (info only).",
            ctx.proc_label(ppid)
        )
    } else {
        String::new()
    };
    Words {
        title: format!("{who} {how}: a plain kill will not stop it"),
        explanation: format!(
            "{why}{managed_txt} Service managers and deploy scripts stop processes with SIGTERM and wait: this one will sit out the whole timeout and then need SIGKILL, and while it lives it keeps its ports and files, so a restart can fail."
        ),
        fix: format!(
            "To stop it now: `unwedge stop {pid}` sends SIGTERM, waits a grace period, then SIGKILL (or kill -9 {pid}). \
In the program: do not ignore SIGTERM; if it must be blocked, consume it (signalfd, or a thread in sigwait) and shut down. \
If it inherited the mask or disposition from its launcher, start it with `unwedge exec -- CMD ARGS…` (empty mask, default dispositions) or fix the launcher to reset both before exec."
        ),
    }
}
