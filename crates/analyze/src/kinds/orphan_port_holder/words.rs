//! Says which port the leftover keeps from the next instance, why it is a
//! leftover, and how to free the port for good.

use super::judge::Judged;
use crate::{Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let who = ctx.proc_label(j.verdict.pid.unwrap_or(0));
    let addrs = e.listening.join(", ");
    let pgid = e.pgid;
    let leader_gone = if e.group_leader_zombie {
        "is dead (a zombie its parent has not reaped yet)"
    } else {
        "no longer exists"
    };
    Words {
        title: format!(
            "{who} is a leftover worker still listening on {addrs}: its parent and its process group {pgid} are gone"
        ),
        explanation: format!(
            "{who} belongs to process group {pgid}, whose leader (normally the master that forked it) {leader_gone}, and it was re-parented to {new_parent} (pid {ppid}). \
It still holds the listening socket it inherited from that master, so a new instance of the service cannot bind {addrs} (bind fails with EADDRINUSE) and connections still land in this leftover's accept queue. \
It is a leftover, not a process left running on purpose, because {reason}. \
Leftovers like this often also ignore or block SIGTERM, or wait forever on a thread (see sigterm_blocked and stuck_thread for this pid).",
            reason = e.why_leftover.as_deref().unwrap_or("it matches the leftover pattern"),
            new_parent = e.parent_comm.as_deref().unwrap_or("init or a subreaper"),
            ppid = e.ppid,
        ),
        fix: format!(
            "Free the port: `unwedge stop --port {port}` (SIGTERM, then SIGKILL after a grace period, every holder), or kill the whole leftover group: kill -TERM -- -{pgid}, then kill -KILL -- -{pgid} if it is still there. \
In the service: make workers die with their master (prctl(PR_SET_PDEATHSIG, SIGTERM) right after fork, or watch a pipe from the master), close the listening socket in children that do not accept on it, \
and run it under a supervisor that kills the whole cgroup on stop (systemd KillMode=control-group, the default).",
            port = j.verdict.port.unwrap_or(0),
        ),
    }
}
