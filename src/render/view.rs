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
#[derive(Debug, Default)]
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
            ..ThreadView::default()
        }
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
