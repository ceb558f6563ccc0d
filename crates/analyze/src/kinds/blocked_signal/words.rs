//! Says which signal never arrives, how the mask was inherited, and how to
//! start the program with an empty mask.

use super::judge::Judged;
use crate::facts::signals::{self, bit, SIGTERM};
use crate::{Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let pid = j.verdict.pid.unwrap_or(0);
    let who = ctx.proc_label(pid);
    let names = signals::names(j.pending | j.handled).join(", ");
    let title = if j.pending != 0 {
        format!("{who} never receives {}: pending, but blocked in every thread", signals::names(j.pending).join(", "))
    } else {
        format!("{who} has a handler for {names} but every thread blocks it: the handler can never run")
    };
    let doing = j
        .main_call
        .as_ref()
        .map(|c| format!(" Its main thread waits in {}: {}.", c.name, c.class.meaning()))
        .unwrap_or_default();
    let origin = match &j.verdict.evidence.inherited_from {
        Some(i) => format!(
            " The mask came from its parent: {} (pid {}) thread {} ({}) blocks exactly the same set, so this process was started from that thread.",
            i.comm, i.pid, i.tid, i.thread
        ),
        None => String::new(),
    };
    let term = if j.blocked_everywhere & bit(SIGTERM) != 0 {
        " SIGTERM is blocked as well, so a plain kill does nothing either."
    } else {
        ""
    };
    Words {
        title,
        explanation: format!(
            "A blocked signal stays pending until some thread unblocks it; a handler for it never runs. {who} installed handlers it relies on (for SIGALRM: alarm() or setitimer() timeouts that end a wait), \
but every one of its threads blocks {names}.{doing} The signal mask is per thread and is inherited: fork() copies the mask of the thread that called it, and execve() keeps it (POSIX), \
so a program started from a thread that blocks signals — uWSGI blocks all of them in every worker thread but the first, many thread pools do the same — starts with them blocked and never notices.{origin}{term} \
With N such threads only about 1 in N launches works, which makes the hang look random."
        ),
        fix: format!(
            "Now: this process will not recover; stop it with `unwedge stop {pid}` (SIGTERM, then SIGKILL after a grace period) or kill -9 {pid}, and start the command with `unwedge exec -- CMD ARGS…`, which runs it with an empty signal mask and default dispositions. \
For good, reset the mask in the launcher between fork and exec: C: posix_spawnattr_setsigmask() with an empty set plus POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF; \
Python: os.posix_spawn(..., setsigmask=()) or subprocess.Popen(..., preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, [])), or launch from a thread that blocks nothing; \
Rust: std::process::Command already empties the mask in the child; Go: os/exec restores the mask the Go program itself started with, so start the Go service with an empty mask. \
Where the launcher cannot be changed, the child can clear its own mask at start (sigprocmask(SIG_SETMASK, empty)), or measure what it needs another way (a plain connect() instead of hping3)."
        ),
    }
}
