//! Says which limit stops fork() and pthread_create(), and where to raise it.

use super::judge::{Judged, Which};
use crate::{Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let (current, max) = (e.current, e.max);
    match j.which {
        Which::Cgroup => {
            let path = e.cgroup.as_deref().unwrap_or_default();
            let who = ctx.proc_label(j.verdict.pid.unwrap_or(0));
            let failures = e.fork_failures;
            Words {
                title: format!(
                    "cgroup {path} is at its pids.max ({current}/{max} tasks){}",
                    match failures {
                        Some(n) if n > 0 => format!(": {n} forks failed during the interval"),
                        _ => ": the next fork or thread fails".into(),
                    }
                ),
                explanation: format!(
                    "Every process and every thread in cgroup {path} (and below it) counts against its pids.max of {max}, and it holds {current} now. At the limit fork(), clone() and pthread_create() fail with EAGAIN (\"Resource temporarily unavailable\"): {who} cannot start a worker or a thread for a new connection, so clients wait or are refused while the host has room to spare. pids.events `max` counts the refusals{}.",
                    failures.map(|n| format!(" ({n} during the interval)")).unwrap_or_default()
                ),
                fix: format!(
                    "Raise the limit where it is set (systemd TasksMax= of the unit, docker run --pids-limit, the kubelet's podPidsLimit, or {path}/pids.max) or bound the program's workers and threads below it (a process or thread per connection grows with the load); look for leaked children or zombies that still count."
                ),
            }
        }
        Which::Host => {
            let (name, percent) = (&e.limit, e.percent);
            Words {
                title: format!(
                    "{current} tasks exist against {name} = {max} ({percent:.0}%): forks are about to fail host-wide"
                ),
                explanation: format!(
                    "Every process and thread takes a pid below kernel.pid_max and counts against kernel.threads-max. With {current} tasks the host is {percent:.0}% of the way to {name}: fork() and pthread_create() fail with EAGAIN for every program at once."
                ),
                fix: format!("Find the program that creates so many threads or processes (ps -eLf | awk '{{print $2}}' | uniq -c | sort -n) and bound it; raise {name} if the load is real."),
            }
        }
        Which::User => {
            let uid = e.uid.unwrap_or(0);
            let who = ctx.proc_label(j.verdict.pid.unwrap_or(0));
            Words {
                title: format!("user {uid} runs {current} tasks against the RLIMIT_NPROC of {who} ({max})"),
                explanation: format!(
                    "RLIMIT_NPROC (\"Max processes\") bounds the tasks — processes and threads — of one real user; {who} has a soft limit of {max} and user {uid} runs {current}. At the limit its fork() and pthread_create() fail with EAGAIN."
                ),
                fix: "Raise the limit (systemd LimitNPROC=, /etc/security/limits.conf nproc, ulimit -u) or bound the user's workers and threads.".into(),
            }
        }
    }
}
