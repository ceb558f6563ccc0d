//! Says that the service waited for a CPU rather than computing, who held
//! its CPUs, and how to give it room.

use super::judge::Judged;
use crate::facts::cpu::cpus_words;
use crate::kinds::shared::{capitalised, cpu_thread_words, cpu_work_words};
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::{CpuScope, CpuTaker};

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
    let title = format!(
        "{who} got a CPU {:.0}% of the {interval} and waited for one {waited:.0}%: other processes held {cpus} while {work}",
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
        let list: Vec<String> = takers_in_words(&e.took_cpus);
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

/// The processes that took the CPUs, those of one program in one cgroup
/// told together ("6 × spin (pids 10, 11, …) 0.72 CPU in /batch"), most
/// CPU first.
fn takers_in_words(took: &[CpuTaker]) -> Vec<String> {
    let mut groups: Vec<(&str, Option<&str>, Vec<u32>, f64)> = Vec::new();
    for p in took {
        match groups.iter_mut().find(|g| g.0 == p.comm && g.1 == p.cgroup.as_deref()) {
            Some(g) => {
                g.2.push(p.pid);
                g.3 += p.cpus;
            }
            None => groups.push((&p.comm, p.cgroup.as_deref(), vec![p.pid], p.cpus)),
        }
    }
    groups.sort_by(|a, b| b.3.total_cmp(&a.3));
    groups
        .iter()
        .map(|(comm, cg, pids, cpus)| {
            let cg = cg.map(|c| format!(" in {c}")).unwrap_or_default();
            match pids.as_slice() {
                [pid] => format!("{comm} (pid {pid}) {cpus:.2} CPU{cg}"),
                _ => {
                    let shown: Vec<String> = pids.iter().take(3).map(u32::to_string).collect();
                    let more = if pids.len() > 3 { ", …" } else { "" };
                    format!("{} × {comm} (pids {}{more}) {cpus:.2} CPU{cg}", pids.len(), shown.join(", "))
                }
            }
        })
        .collect()
}
