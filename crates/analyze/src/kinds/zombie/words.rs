//! Says how many children a parent leaves unreaped, why that harms, and who must reap them.

use super::judge::Judged;
use crate::{Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let (n, ppid) = (j.verdict.evidence.count, j.ppid);
    let who = ctx.proc_label(ppid);
    let doing = j
        .main_call
        .as_ref()
        .map(|c| format!(" Its main thread is in {}: {}.", c.name, c.class.meaning()))
        .unwrap_or_default();
    let explanation = format!(
        "A child that exits stays a zombie, holding its pid and exit status, until its parent collects it with wait() or waitpid(). {who} has {n} such children, the oldest started {} ago; it is not reaping them, \
so its SIGCHLD or wait logic is not running: it is blocked elsewhere or forgot these children.{doing} Each zombie keeps a pid: enough of them exhaust pid_max or the user's RLIMIT_NPROC and fork() fails with EAGAIN.{}",
        unwedge_model::fmt::age(std::time::Duration::try_from_secs_f64(j.oldest_s).unwrap_or_default()),
        if ppid == 1 { " The parent is PID 1: in a container, the entrypoint is not an init that reaps adopted orphans." } else { "" }
    );
    let fix = if ppid == 1 {
        "Run an init that reaps as PID 1 (docker run --init, tini, dumb-init, or systemd); zombies adopted by it are then collected. The zombies themselves cannot be killed: they are already dead.".into()
    } else {
        format!(
            "Zombies cannot be killed (they are already dead); their parent must reap them. In the program: call waitpid() for every child (a SIGCHLD handler looping waitpid(-1, WNOHANG), or Python subprocess .wait()/.communicate()), \
or set SIGCHLD to SIG_IGN if exit statuses are not needed (the kernel then reaps automatically). Right now: if {who} is itself stuck, stopping it (`unwedge stop {ppid}`) re-parents the zombies to init, which reaps them."
        )
    };
    Words { title: format!("{who} leaves {n} exited children unreaped (zombies)"), explanation, fix }
}
