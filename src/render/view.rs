//! One view of a finding's evidence for every renderer that shows it in
//! full (the human report, the HTML page): its threads, typed, from the
//! thread evidence (name, state, syscall, fds, signal masks, kernel and
//! user stacks, goroutines; a busy or starved thread's CPU shares and
//! hottest stacks), the rest of its fields as key/value pairs, and
//! how a container is named.
//! Built from the typed evidence, so that a renamed field fails to compile
//! instead of silently vanishing from a page; the renderers only lay it out.

use serde_json::{Map, Value};
use unwedge_model::evidence::{CpuThread, ThreadEvidence, ThreadSummary};
use unwedge_model::jvm::{JavaThread, JvmEvidence, LockAction};
use unwedge_model::stack::{PyFrame, PyThreads};
use unwedge_model::{fmt, stack, Container, Evidence, Frame, GoroutineGroup};

/// Goroutine groups shown per thread (the JSON has them all).
pub const GOROUTINE_GROUPS: usize = 3;
/// Folded frames shown per goroutine group (innermost: where it waits, and who called).
pub const GOROUTINE_FRAMES: usize = 5;

/// Which threads of the evidence a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The thread the finding is about.
    Thread,
    /// A zombie's parent: the thread that does not reap.
    ParentThread,
    /// The other stuck threads of a stuck thread's process, in brief.
    OtherStuck,
    /// A few threads of a process with unanswered requests, the most telling first, of `total`.
    Sample { total: usize },
    /// The threads whose signal masks a signal finding compares.
    Signal,
    /// What the accepting processes' threads are doing (the explanation tells it in words).
    Accepting,
    /// Threads busy on a CPU, or starved of one: their CPU shares and hottest stacks.
    Cpu,
}

impl Role {
    /// What one thread of the list is called.
    pub fn label(self) -> &'static str {
        match self {
            Role::Thread | Role::Sample { .. } | Role::Signal | Role::Cpu => "Thread",
            Role::ParentThread => "Parent thread",
            Role::OtherStuck => "Other stuck thread",
            Role::Accepting => "Accepting thread",
        }
    }
}

/// The threads of one evidence field.
#[derive(Debug)]
pub struct ThreadList<'a> {
    /// The field's name in the evidence (left out of the key/value fields).
    pub field: &'static str,
    pub role: Role,
    pub threads: Vec<ThreadView<'a>>,
}

/// One thread: a full thread block, or a summary (another stuck thread, a
/// sampled one), which has no masks, wchan or kernel stack.
#[derive(Debug, Default, Clone)]
pub struct ThreadView<'a> {
    pub tid: u32,
    pub name: &'a str,
    pub state: Option<&'a str>,
    pub syscall: Option<&'a str>,
    pub syscall_meaning: Option<&'a str>,
    pub args: &'a [String],
    /// The syscall's fd arguments, resolved.
    pub fds: &'a [String],
    pub wchan: Option<&'a str>,
    pub blocked: Option<&'a str>,
    pub pending: Option<&'a str>,
    pub cpu_ticks: Option<u64>,
    pub kernel_stack: &'a [String],
    /// Innermost first.
    pub user_stack: &'a [Frame],
    /// Why the user stack is missing or ends early.
    pub user_stack_note: Option<&'a str>,
    pub interpreter_hint: Option<&'a str>,
    /// Most numerous first.
    pub goroutines: &'a [GoroutineGroup],
    pub goroutines_note: Option<&'a str>,
    /// Its Python frames, innermost first.
    pub python: &'a [PyFrame],
    pub python_note: Option<&'a str>,
    pub holds_gil: Option<bool>,
    /// The process's Python threads by stack.
    pub python_threads: Option<&'a PyThreads>,
    /// The JVM's own view of it.
    pub java: Option<&'a JavaThread>,
    /// A busy or starved thread's CPU over the interval and where it burnt.
    pub cpu: Option<&'a CpuThread>,
}

impl<'a> ThreadView<'a> {
    pub fn full(t: &'a ThreadEvidence) -> ThreadView<'a> {
        ThreadView {
            tid: t.tid,
            name: &t.name,
            state: Some(&t.state),
            syscall: t.syscall.as_deref(),
            syscall_meaning: t.syscall_meaning.as_deref(),
            args: t.args.as_deref().unwrap_or_default(),
            fds: &t.fds,
            wchan: t.wchan.as_deref(),
            blocked: t.blocked.as_deref(),
            pending: t.pending.as_deref(),
            cpu_ticks: Some(t.cpu_ticks),
            kernel_stack: t.stack.as_deref().unwrap_or_default(),
            user_stack: t.user_stack.as_deref().unwrap_or_default(),
            user_stack_note: t.user_stack_note.as_deref(),
            interpreter_hint: t.interpreter_hint.as_deref(),
            goroutines: t.goroutines.as_deref().unwrap_or_default(),
            goroutines_note: t.goroutines_note.as_deref(),
            python: &t.python,
            python_note: t.python_note.as_deref(),
            holds_gil: t.holds_gil,
            python_threads: t.python_threads.as_ref(),
            java: t.java.as_ref(),
            cpu: None,
        }
    }

    pub fn summary(t: &'a ThreadSummary) -> ThreadView<'a> {
        ThreadView {
            tid: t.tid,
            name: &t.name,
            state: Some(t.state.as_str()).filter(|s| !s.is_empty()),
            syscall: Some(&t.syscall),
            fds: &t.fds,
            user_stack: t.user_stack.as_deref().unwrap_or_default(),
            goroutines: t.goroutines.as_deref().unwrap_or_default(),
            goroutines_note: t.goroutines_note.as_deref(),
            python: &t.python,
            holds_gil: t.holds_gil,
            python_threads: t.python_threads.as_ref(),
            java: t.java.as_ref(),
            ..ThreadView::default()
        }
    }

    /// Its name, state and call only (the rest told elsewhere).
    pub fn summary_head(t: &ThreadView<'a>) -> ThreadView<'a> {
        ThreadView { tid: t.tid, name: t.name, state: t.state, syscall: t.syscall, ..ThreadView::default() }
    }

    pub fn cpu(t: &'a CpuThread) -> ThreadView<'a> {
        ThreadView { tid: t.tid, name: &t.name, state: Some(&t.state), cpu: Some(t), ..ThreadView::default() }
    }

    /// "Thread 8 (upstream-pump), state S, in recvfrom (a socket receive …)";
    /// "Thread 7 (node), the event loop, state R".
    pub fn head(&self, label: &str) -> String {
        let mut head = format!("{label} {} ({})", self.tid, self.name);
        if let Some(role) = self.cpu.and_then(|c| c.role.as_deref()) {
            head.push_str(&format!(", {role}"));
        }
        if let Some(st) = self.state {
            head.push_str(&format!(", state {st}"));
        }
        if let Some(sc) = self.syscall {
            head.push_str(&format!(", in {sc}"));
            if let Some(m) = self.syscall_meaning {
                head.push_str(&format!(" ({m})"));
            }
        }
        head
    }
}

/// The user stack on one line, innermost first, library frames folded
/// ("pthread_join ← wait_for_filter ← handle_client ← main"), "← …" where
/// the note says it ends early; None without frames.
pub fn folded_user_stack(t: &ThreadView) -> Option<String> {
    if t.user_stack.is_empty() {
        return None;
    }
    let cut = if t.user_stack_note.is_some() { " ← …" } else { "" };
    Some(format!("{}{cut}", stack::fold(t.user_stack).join(" ← ")))
}

/// One goroutine group on one line, folded as user stacks are
/// ("10 × sync.(*Mutex).Lock ← main.handler ← … (semacquire)").
pub fn goroutine_line(g: &GoroutineGroup) -> String {
    let folded = stack::fold(&g.frames);
    let mut line =
        format!("{} × {}", g.count, folded.iter().take(GOROUTINE_FRAMES).cloned().collect::<Vec<_>>().join(" ← "));
    if folded.len() > GOROUTINE_FRAMES {
        line.push_str(" ← …");
    }
    if let Some(r) = &g.wait_reason {
        line.push_str(&format!(" ({r})"));
    }
    line
}

/// The groups beyond the first GOROUTINE_GROUPS: how many, and how many goroutines.
pub fn more_goroutines(t: &ThreadView) -> Option<(usize, u32)> {
    let rest = t.goroutines.get(GOROUTINE_GROUPS..).filter(|r| !r.is_empty())?;
    Some((rest.len(), rest.iter().map(|g| g.count).sum()))
}

/// Python groups shown per thread (the JSON has them all).
pub const PYTHON_GROUPS: usize = 3;
/// Java frames shown per thread.
pub const JAVA_FRAMES: usize = 4;

/// The thread's Python frames on one line, the interpreter's library
/// folded to the call the program made ("Queue.get (queue.py:171) ←
/// Pool.get (app.py:30) ← handle_request (app.py:41)"), and whether it
/// holds the GIL; None without frames.
pub fn python_line(t: &ThreadView) -> Option<String> {
    if t.python.is_empty() {
        return None;
    }
    let gil = if t.holds_gil == Some(true) { " (holds the GIL)" } else { "" };
    Some(format!("{}{gil}", stack::fold_python_own(t.python).join(" ← ")))
}

/// A Python process's largest thread groups, one line each, then who
/// holds the GIL.
pub fn python_group_lines(py: &PyThreads, shown: usize) -> Vec<String> {
    let mut out: Vec<String> = py
        .groups
        .iter()
        .take(shown)
        .map(|g| {
            let folded = stack::fold_python_own(&g.frames);
            let mut line = format!("{} × {}", g.count, folded.iter().take(4).cloned().collect::<Vec<_>>().join(" ← "));
            if folded.len() > 4 {
                line.push_str(" ← …");
            }
            line
        })
        .collect();
    let rest: u32 = py.groups.iter().skip(shown).map(|g| g.count).sum();
    if rest > 0 {
        out.push(format!("{} more groups ({rest} threads) in the JSON", py.groups.len() - shown));
    }
    let threads = if py.total == 1 { "1 thread".to_string() } else { format!("{} threads", py.total) };
    out.push(match py.gil_holder {
        Some(tid) => format!("CPython {}, {threads}; thread {tid} holds the GIL", py.version),
        None => format!("CPython {}, {threads}; no thread holds the GIL", py.version),
    });
    if let Some(n) = &py.note {
        out.push(n.clone());
    }
    out
}

/// Hot stacks shown per thread (the JSON has up to five).
pub const HOT_STACKS: usize = 3;
/// Folded frames shown per hot stack.
pub const HOT_FRAMES: usize = 8;

/// A CPU thread's facts, one (label, text) per line: its shares of the
/// interval, its hottest stacks, and what limits its samples.
pub fn cpu_lines(t: &CpuThread) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut share = format!("on a CPU {:.0}% of the interval", t.running_pct);
    if let Some(w) = t.waiting_pct {
        share.push_str(&format!(", runnable but waiting for one {w:.0}%"));
    }
    out.push(("CPU", share));
    let Some(p) = &t.cpu_profile else { return out };
    if p.samples > 0 {
        out.push((
            "samples",
            format!("{} in {} at {} Hz, after the second snapshot", p.samples, fmt::measured_ms(p.window_ms), p.hz),
        ));
    }
    for h in p.stacks.iter().take(HOT_STACKS) {
        out.push(("hot", format!("{:.0}% {}", h.share(p) * 100.0, h.folded(HOT_FRAMES))));
    }
    if let Some(n) = &p.note {
        out.push(("samples", n.clone()));
    }
    out
}

/// The JVM's view of a thread: its state and innermost Java frames on one
/// line, then the monitors it waits for and holds.
pub fn java_lines(j: &JavaThread) -> Vec<String> {
    let mut frames: Vec<String> = j.frames.iter().take(JAVA_FRAMES).map(|f| f.display()).collect();
    if j.frames.len() > JAVA_FRAMES {
        frames.push("…".into());
    }
    let state = j.state.as_deref().unwrap_or("no state");
    let mut out =
        vec![if frames.is_empty() { state.to_string() } else { format!("{state}: {}", frames.join(" ← ")) }];
    let lock = |l: &unwedge_model::jvm::JavaLock| {
        let obj = l.object.as_deref().map(|o| format!("<{o}>")).unwrap_or_else(|| "a lock".into());
        match &l.class {
            Some(c) => format!("{obj} (a {c})"),
            None => obj,
        }
    };
    if let Some(w) = j.waiting_for() {
        let verb = match w.action {
            LockAction::WaitingToLock | LockAction::WaitingToRelock => "waits to lock",
            LockAction::ParkingFor => "parked waiting for",
            _ => "waits on",
        };
        out.push(format!("{verb} {}", lock(w)));
    }
    let held: Vec<String> = j.holds().map(lock).collect();
    if !held.is_empty() {
        out.push(format!("holds {}", held.join(", ")));
    }
    out
}

/// The JVM facts of a finding's evidence, where it is about a JVM.
pub fn jvm(ev: &Evidence) -> Option<&JvmEvidence> {
    match ev {
        Evidence::UnansweredRequests(e) => e.jvm.as_ref(),
        Evidence::StuckThread(e) => e.jvm.as_ref(),
        _ => None,
    }
}

/// A JVM's facts as lines: what it is and what was left out, its counters
/// over the interval, its threads blocked on monitors, its deadlock verdict.
pub fn jvm_lines(j: &JvmEvidence) -> Vec<String> {
    let mut out = vec![format!(
        "{}; {} of its own threads (GC, compilers, VM) left out",
        j.vm.as_deref().unwrap_or("a HotSpot JVM"),
        j.housekeeping_threads
    )];
    if let Some(i) = &j.interval {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(j.live_threads.map(|n| format!("{n} live Java threads")));
        parts.extend(i.contended_lock_attempts.map(|n| format!("{n} contended monitor entries")));
        parts.extend(i.futile_wakeups.map(|n| format!("{n} futile monitor wake-ups")));
        parts.extend(i.safepoints.map(|n| format!("{n} safepoints")));
        parts.push(format!("{} collections", i.gc_invocations));
        out.push(format!("hsperfdata over {}: {}", unwedge_model::fmt::measured_ms(i.ms), parts.join(", ")));
    }
    if !j.monitor_enter.is_empty() {
        out.push(format!("entering a Java monitor (native stack): {}", j.monitor_enter.join(", ")));
    }
    for d in &j.deadlocks {
        out.push("Java-level deadlock (the JVM's own verdict, confirmed by the threads' stacks):".into());
        out.extend(d.cycle.iter().map(|w| format!("  {}", w.describe())));
    }
    if let Some(n) = &j.note {
        out.push(n.clone());
    }
    out
}

fn cpu_threads<'a>(field: &'static str, ts: &'a [CpuThread]) -> ThreadList<'a> {
    ThreadList { field, role: Role::Cpu, threads: ts.iter().map(ThreadView::cpu).collect() }
}

fn full<'a>(field: &'static str, role: Role, ts: impl IntoIterator<Item = &'a ThreadEvidence>) -> ThreadList<'a> {
    ThreadList { field, role, threads: ts.into_iter().map(ThreadView::full).collect() }
}

fn summaries<'a>(field: &'static str, role: Role, ts: &'a [ThreadSummary]) -> ThreadList<'a> {
    ThreadList { field, role, threads: ts.iter().map(ThreadView::summary).collect() }
}

/// The threads of a finding's evidence, list by list in the evidence's
/// field order (a list may be empty: its field still is not a key/value).
pub fn threads(ev: &Evidence) -> Vec<ThreadList<'_>> {
    match ev {
        Evidence::StuckThread(e) => vec![
            full("thread", Role::Thread, [&e.thread]),
            summaries("other_stuck_threads", Role::OtherStuck, &e.other_stuck_threads),
        ],
        Evidence::PeerNotReading(e) => vec![full("thread", Role::Thread, [&e.thread])],
        Evidence::Zombie(e) => vec![full("parent_thread", Role::ParentThread, &e.parent_thread)],
        Evidence::BlockedSignal(e) => vec![full("threads", Role::Signal, &e.threads)],
        Evidence::SigtermBlocked(e) => vec![full("threads", Role::Signal, &e.threads)],
        Evidence::UnansweredRequests(e) => {
            vec![summaries("threads", Role::Sample { total: e.threads_total }, &e.threads)]
        }
        Evidence::AcceptStalled(e) => vec![summaries("accepting_threads", Role::Accepting, &e.accepting_threads)],
        Evidence::BusyThread(e) => vec![cpu_threads("threads", &e.threads)],
        Evidence::CpuStarved(e) => vec![cpu_threads("threads", &e.threads)],
        _ => Vec::new(),
    }
}

/// The evidence's other fields, in its own order, as serialised (the
/// generic key/value listing both renderers show); None when the evidence
/// is not an object.
pub fn fields(ev: &Evidence) -> Option<Map<String, Value>> {
    let Ok(Value::Object(mut map)) = serde_json::to_value(ev) else { return None };
    for list in threads(ev) {
        let gone = map.shift_remove(list.field);
        // A list with threads is always serialised: a renamed field shows here.
        debug_assert!(gone.is_some() || list.threads.is_empty(), "no evidence field {}", list.field);
    }
    // A JVM's facts are told as lines of their own (`jvm_lines`).
    if jvm(ev).is_some() {
        map.shift_remove("jvm");
    }
    Some(map)
}

/// "docker container web (3f2a1bc4d5e6), pod shop/web-5d8f", "unit
/// nginx.service", "cgroup /batch".
pub fn container(c: &Container) -> String {
    let short = |id: &str| id.chars().take(12).collect::<String>();
    let mut s = match (&c.runtime, &c.name, &c.id) {
        (Some(r), _, _) if r == "systemd" => format!("unit {}", c.unit.as_deref().unwrap_or(&c.cgroup)),
        (r, Some(n), Some(id)) => format!("{} container {n} ({})", r.as_deref().unwrap_or("a"), short(id)),
        (r, None, Some(id)) => format!("{} container {}", r.as_deref().unwrap_or("a"), short(id)),
        _ if c.pod_uid.is_some() || c.pod.is_some() => "a pod's own cgroup".into(),
        _ => format!("cgroup {}", c.cgroup),
    };
    match (&c.namespace, &c.pod, &c.pod_uid) {
        (Some(ns), Some(pod), _) => s.push_str(&format!(", pod {ns}/{pod}")),
        (None, Some(pod), _) => s.push_str(&format!(", pod {pod}")),
        (_, None, Some(uid)) => s.push_str(&format!(", pod uid {uid}")),
        _ => {}
    }
    s
}

/// The command line of the process the evidence is about, where it has one.
pub fn cmdline(ev: &Evidence) -> Option<&str> {
    let c = match ev {
        Evidence::StuckThread(e) => &e.cmdline,
        Evidence::UnansweredRequests(e) => &e.cmdline,
        Evidence::PeerNotReading(e) => &e.cmdline,
        Evidence::BlockedSignal(e) => &e.cmdline,
        Evidence::SigtermBlocked(e) => &e.cmdline,
        Evidence::ProcessStopped(e) => &e.cmdline,
        Evidence::OrphanPortHolder(e) => &e.cmdline,
        Evidence::BusyThread(e) => &e.cmdline,
        Evidence::CpuStarved(e) => &e.cmdline,
        _ => return None,
    };
    Some(c.as_str()).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::evidence::{BlockedSignal, PeerNotReading, StuckThread, UnansweredRequests};

    fn thread(tid: u32) -> ThreadEvidence {
        ThreadEvidence { tid, name: format!("t{tid}"), state: "S".into(), ..Default::default() }
    }

    fn summary(tid: u32) -> ThreadSummary {
        ThreadSummary { tid, name: format!("t{tid}"), syscall: "futex".into(), ..Default::default() }
    }

    /// Every thread the evidence holds is in a list, and no thread is left among its fields.
    #[test]
    fn every_thread_field_is_a_thread_list_and_not_a_field() {
        let evidences: Vec<Evidence> = vec![
            StuckThread { thread: thread(1), other_stuck_threads: vec![summary(2)], ..Default::default() }.into(),
            PeerNotReading { thread: thread(3), ..Default::default() }.into(),
            BlockedSignal { threads: vec![thread(4), thread(5)], ..Default::default() }.into(),
            UnansweredRequests { threads: vec![summary(6)], threads_total: 9, ..Default::default() }.into(),
        ];
        for ev in &evidences {
            let lists = threads(ev);
            let all = serde_json::to_value(ev).unwrap();
            for l in &lists {
                assert!(all.get(l.field).is_some(), "{:?}: no field {}", ev.kind(), l.field);
            }
            let rest = fields(ev).unwrap();
            for (k, v) in &rest {
                let holds_thread = |x: &Value| x.get("tid").is_some();
                let thread_like = holds_thread(v) || v.as_array().is_some_and(|a| a.iter().any(holds_thread));
                assert!(!thread_like, "{:?}: field {k} holds a thread but is listed as a field", ev.kind());
            }
        }
        let tids: Vec<u32> = threads(&evidences[0]).iter().flat_map(|l| l.threads.iter().map(|t| t.tid)).collect();
        assert_eq!(tids, vec![1, 2]);
        assert_eq!(threads(&evidences[3])[0].role, Role::Sample { total: 9 });
    }

    #[test]
    fn heads_and_goroutines() {
        let mut t = thread(8);
        t.syscall = Some("read".into());
        t.syscall_meaning = Some("a read".into());
        assert_eq!(ThreadView::full(&t).head("Thread"), "Thread 8 (t8), state S, in read (a read)");
        assert_eq!(ThreadView::summary(&summary(9)).head("Other stuck thread"), "Other stuck thread 9 (t9), in futex");
        let fr = |n: &str| Frame { addr: "0x1".into(), function: Some(n.into()), ..Default::default() };
        let frames: Vec<Frame> = ["main.a", "main.b", "main.c", "main.d", "main.e", "main.f"].map(fr).to_vec();
        let g = GoroutineGroup { count: 4, wait_reason: Some("select".into()), frames };
        assert_eq!(goroutine_line(&g), "4 × main.a ← main.b ← main.c ← main.d ← main.e ← … (select)");
        let groups = vec![g.clone(), g.clone(), g.clone(), g.clone(), g];
        let v = ThreadView { goroutines: &groups, ..ThreadView::default() };
        assert_eq!(more_goroutines(&v), Some((2, 8)));
    }
}
