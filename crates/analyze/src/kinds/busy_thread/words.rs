//! Says which threads computed the whole interval, what waited on them,
//! where they burn, and what to do in their runtime.

use super::judge::{Judged, Runtime};
use crate::kinds::shared::{capitalised, cpu_thread_words, cpu_work_words, where_it_burns};
use crate::{secs, Ctx, Words};
use unwedge_model::evidence::CpuThread;

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let pid = j.verdict.pid.unwrap_or(0);
    let who = ctx.proc_label(pid);
    let interval = secs(ctx.interval_ms);
    let work = cpu_work_words(&e.waiting);
    let first = &e.threads[0];
    let title = if e.busy_threads == 1 {
        format!("{who}: {} ran on a CPU {:.0}% of the {interval} while {work}", cpu_thread_words(first), first.running_pct)
    } else {
        format!("{who}: {} threads ran on a CPU the whole {interval} while {work}", e.busy_threads)
    };
    let mut explanation = format!(
        "{} was on a CPU for {:.0}% of the {interval} between the two snapshots{}: it computed without pause.",
        capitalised(&cpu_thread_words(first)),
        first.running_pct,
        share_source(first)
    );
    if e.busy_threads > 1 {
        let rest: Vec<String> = e.threads[1..]
            .iter()
            .map(|t| format!("{} {:.0}%", cpu_thread_words(t), t.running_pct))
            .collect();
        explanation.push_str(&format!(" {} of its threads were busy: {}.", e.busy_threads, rest.join(", ")));
    }
    explanation.push_str(match j.runtime {
        Runtime::NodeEventLoop => " Node runs all of a process's JavaScript on that one thread: while it computes, the process accepts no connection, reads no request and answers none. CPU-bound JavaScript blocks every other request.",
        Runtime::JvmGc => " They are the JVM's garbage collector threads: collections ran back to back the whole interval, and the application's threads stop at each one (GC thrash, typically a heap too small for what it holds).",
        Runtime::Other => " While it computes, it serves nothing else.",
    });
    explanation.push_str(&format!(" Meanwhile {work}."));
    if let (Some(c), Some(n)) = (e.process_cpus, e.cpus) {
        explanation.push_str(&format!(" The whole process used {c:.2} of the {n} CPUs it may use."));
    }
    explanation.push_str(&where_it_burns(&e.threads));
    Words { title, explanation, fix: fix(j, pid) }
}

/// Where the shares come from, said once.
fn share_source(t: &CpuThread) -> String {
    match t.waiting_pct {
        Some(w) => format!(" and waited for one {w:.0}% (schedstat)"),
        None => " (clock ticks of its stat: this kernel has no schedstat)".into(),
    }
}

/// What the hottest samples say about a regular expression: its pattern,
/// when node wrote its perf map (V8 names the code `RegExp:(a+)+$`), or
/// that V8's regular expression code runs (`Builtins_RegExpPrototypeTest`,
/// `v8::internal::RegExpImpl::IrregexpExec`).
enum Regexp {
    Pattern(String),
    Engine(String),
}

fn regexp(threads: &[CpuThread]) -> Option<Regexp> {
    let hot = threads.first()?.cpu_profile.as_ref()?.stacks.first()?;
    let names = || hot.frames.iter().filter_map(|f| f.function.as_deref());
    if let Some(p) = names().find_map(|n| n.strip_prefix("RegExp:")) {
        return Some(Regexp::Pattern(p.trim().to_string()));
    }
    // The JavaScript call that runs it ("Builtins_RegExpPrototypeTest": RegExp.prototype.test), else V8's engine.
    let builtin = names().find_map(|n| {
        let b = n.strip_prefix("Builtins_")?;
        let (class, method) = ["RegExp", "String"].iter().find_map(|c| Some((*c, b.strip_prefix(c)?.strip_prefix("Prototype")?)))?;
        let mut m = method.chars();
        let first = m.next()?.to_lowercase();
        (b.contains("RegExp") || ["Match", "MatchAll", "Replace", "ReplaceAll", "Search", "Split"].contains(&method))
            .then(|| format!("{class}.prototype.{}{}", first.collect::<String>(), m.as_str()))
    });
    if let Some(b) = builtin {
        return Some(Regexp::Engine(b));
    }
    let engine = names().find(|n| n.contains("RegExp") || n.contains("Irregexp"));
    if let Some(e) = engine {
        return Some(Regexp::Engine(unwedge_model::cpu::without_arguments(e).to_string()));
    }
    // CPython's re module: its matcher is sre_ucs1_match, sre_ucs2_search, …
    let sre = names().find(|n| n.starts_with("sre_") && (n.contains("match") || n.contains("search")))?;
    Some(Regexp::Engine(format!("Python's re module, {sre}")))
}

fn fix(j: &Judged, pid: u32) -> String {
    let e = &j.verdict.evidence;
    match j.runtime {
        Runtime::NodeEventLoop => {
            let backtracks = "a pattern with nested quantifiers or overlapping alternatives backtracks exponentially on input that almost matches: rewrite it, bound its input's length, or run it with a linear-time engine (re2). ";
            let found = match regexp(&e.threads) {
                Some(Regexp::Pattern(re)) => format!("The hottest code is the regular expression /{re}/: {backtracks}"),
                Some(Regexp::Engine(f)) => format!(
                    "The hottest samples run a regular expression ({f}; node --perf-basic-prof names the pattern): {backtracks}"
                ),
                None => "Find the hot JavaScript (the samples above; node --perf-basic-prof names JIT-compiled functions, node --cpu-prof profiles them). ".into(),
            };
            format!(
                "{found}Take CPU-heavy work off the event loop (worker_threads, a child process) or bound it, and run several processes (cluster, pm2 -i N) so that one busy loop does not stop every request."
            )
        }
        Runtime::JvmGc => format!(
            "Check the heap (jstat -gcutil {pid} 1s, jcmd {pid} GC.heap_info): give the JVM a larger heap (-Xmx) or find what fills it (jcmd {pid} GC.class_histogram, a heap dump)."
        ),
        Runtime::Other => {
            let tid = e.threads.first().map_or(pid, |t| t.tid);
            let found = match regexp(&e.threads) {
                Some(Regexp::Engine(f) | Regexp::Pattern(f)) => format!(
                    "The hottest samples run a regular expression ({f}): a pattern with nested quantifiers or overlapping alternatives backtracks exponentially on input that almost matches; rewrite it, bound its input's length, or use a linear-time engine (re2). "
                ),
                None => format!(
                    "Find what it computes (the samples above, or perf top -t {tid}): an endless loop, a regular expression backtracking on its input, a spin on a lock. "
                ),
            };
            let python = if ctx_python(e) {
        format!(" py-spy top --pid {pid} names the Python functions that run.")
    } else {
        String::new()
    };
            format!(
                "{found}Bound the work one request may cause (input limits, a timeout that stops the computation), and run more workers or threads so that one busy request does not hold every client.{python}"
            )
        }
    }
}

/// The busy process runs CPython (its command line starts with it).
fn ctx_python(e: &unwedge_model::evidence::BusyThread) -> bool {
    let exe = e.cmdline.split_whitespace().next().unwrap_or("");
    exe.rsplit('/').next().is_some_and(|n| n.starts_with("python"))
}
