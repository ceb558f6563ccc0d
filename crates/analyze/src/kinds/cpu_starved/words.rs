//! Says that the service waited for a CPU rather than computing, who held
//! its CPUs, and how to give it room.

use super::judge::Judged;
use crate::facts::cpu::cpus_words;
use crate::kinds::shared::{capitalised, cpu_thread_words, cpu_work_words};
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::CpuScope;

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let pid = j.verdict.pid.unwrap_or(0);
    let who = ctx.proc_label(pid);
    let interval = secs(ctx.interval_ms);
    let work = cpu_work_words(&e.waiting);
    let t = &e.threads[0];
    let waited = t.waiting_pct.unwrap_or(0.0);
    let cpus = match (&e.scope, &e.cpus_allowed) {
        (CpuScope::AllowedCpus, Some(list)) => cpus_words(list),
        _ => "the host's CPUs".to_string(),
    };
    let others = match e.took_cpus.len() {
        0 => "other processes".to_string(),
        1 => "another process".to_string(),
        n => format!("{n} other processes"),
    };
    let title = format!(
        "{who} got a CPU {:.0}% of the {interval} and waited for one {waited:.0}%: {others} held {cpus} while {work}",
        t.running_pct
    );
    let mut explanation = format!(
        "{} was runnable for {:.0}% of the {interval} between the two snapshots but on a CPU only {:.0}% of it: the rest ({waited:.0}%) it waited in the run queue for a CPU (schedstat run delay) while other tasks ran. Its work waits because it gets a fraction of a CPU, not because of its own code.",
        capitalised(&cpu_thread_words(t)),
        j.demand_pct,
        t.running_pct
    );
    if e.starved_threads > 1 {
        explanation.push_str(&format!(" {} of its threads waited like this.", e.starved_threads));
    }
    explanation.push_str(&match (&e.scope, &e.cpus_allowed, j.online) {
        (CpuScope::AllowedCpus, Some(list), Some(n)) => format!(
            " It may run only on {} (its Cpus_allowed_list: a cpuset, taskset or a container's CPU set), of the host's {n}.",
            cpus_words(list)
        ),
        (_, _, Some(n)) => format!(" It may run on any of the host's {n} CPUs."),
        _ => String::new(),
    });
    if e.took_cpus.is_empty() {
        explanation.push_str(&format!(
            " The processes that used {cpus} meanwhile were not in both snapshots (short-lived ones: a build, a job's children), so they cannot be named."
        ));
    } else {
        let list: Vec<String> = e
            .took_cpus
            .iter()
            .map(|p| {
                let cg = p.cgroup.as_deref().map(|c| format!(" in {c}")).unwrap_or_default();
                format!("{} (pid {}) {:.2} CPU{cg}", p.comm, p.pid, p.cpus)
            })
            .collect();
        explanation.push_str(&format!(
            " During the interval the other processes that may run there used {:.2} CPUs: {}.",
            e.taken_cpus,
            list.join(", ")
        ));
    }
    if let Some(h) = e.host_pressure_pct {
        explanation.push_str(&format!(
            " Some runnable task of the host waited for a CPU {h:.0}% of the interval (/proc/pressure/cpu)"
        ));
        match (&e.cgroup, e.cgroup_pressure_pct) {
            (Some(c), Some(p)) => explanation.push_str(&format!(", one in its cgroup {c} {p:.0}% (cpu.pressure).")),
            _ => explanation.push('.'),
        }
    }
    explanation.push_str(&format!(" Meanwhile {work}."));
    let fix = match (&e.scope, &e.cpus_allowed) {
        (CpuScope::AllowedCpus, Some(list)) => format!(
            "Give it CPUs of its own: widen the CPUs it may use (taskset -apc LIST {pid}, its cpuset's cpuset.cpus, docker --cpuset-cpus), or move the processes above off {}.",
            cpus_words(list)
        ),
        _ => "Give it CPU: stop, move or slow down the processes above (systemd CPUQuota= or CPUWeight=, a cgroup's cpu.max or cpu.weight; nice only counts within one cgroup or autogroup), raise this service's weight (systemd CPUWeight=, its cgroup's cpu.weight or cpu.shares), or add CPUs.".into(),
    };
    Words { title, explanation, fix }
}
