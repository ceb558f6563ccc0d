//! The report for a person at a terminal: grouped by process, most severe
//! first, wrapped to fit, coloured only when the writer supports it (the
//! caller wraps stdout in anstream, which honours NO_COLOR and pipes).

use crate::render::view::{self, container};
use anstyle::{AnsiColor, Style};
use serde_json::Value;
use std::io::{self, Write};
use unwedge_model::story::{About, Item};
use unwedge_model::{fmt, Container, Finding, Group, Report, Severity, SkipReason};

mod threads;

const WIDTH: usize = 100;
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn sev_style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        Severity::Warning => Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
        Severity::Info => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
    }
}

pub fn write(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let c = &r.coverage;
    writeln!(
        out,
        "{BOLD}unwedge {}{BOLD:#} on {} at {} (interval {}, took {})",
        r.unwedge_version,
        r.host,
        r.taken_at,
        fmt::measured_ms(r.interval_ms),
        fmt::measured_ms(r.duration_ms)
    )?;
    writeln!(
        out,
        "{DIM}scanned {} processes, {} threads, {} TCP sockets in {} network namespace{}{}{DIM:#}",
        c.processes,
        c.threads,
        c.sockets,
        c.netns,
        if c.netns == 1 { "" } else { "s" },
        if c.skipped.is_empty() {
            String::new()
        } else {
            format!("; {} processes not fully readable", c.skipped.len())
        }
    )?;
    // A process whose /proc reads hang is itself a clue (a hung FUSE or NFS
    // mount, a thread stuck in the kernel holding its mmap lock): name it.
    let hung: Vec<String> =
        c.skipped.iter().filter(|s| s.reason == SkipReason::TimedOut).map(|s| s.pid.to_string()).collect();
    if !hung.is_empty() {
        writeln!(
            out,
            "{DIM}reading /proc of pid {} timed out (stuck in the kernel: look for a hung FUSE or NFS mount); scanned without{DIM:#}",
            hung.join(", ")
        )?;
    }
    writeln!(out)?;
    let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    if r.findings.is_empty() {
        writeln!(out, "No problems found.")?;
    } else {
        let parts: Vec<String> = [Severity::Critical, Severity::Warning, Severity::Info]
            .into_iter()
            .filter(|&s| count(s) > 0)
            .map(|s| format!("{} {}", count(s), s.name()))
            .collect();
        let story = r.story();
        writeln!(
            out,
            "{BOLD}{} finding{}{BOLD:#}: {}",
            r.findings.len(),
            if r.findings.len() == 1 { "" } else { "s" },
            parts.join(", ")
        )?;
        if story.len() < r.findings.len() {
            let n = story.len();
            wrapped(
                out,
                "",
                &format!(
                    "told as {n} {} below: causes first, consequences beneath, alike findings once (--json lists each)",
                    if n == 1 { "story" } else { "stories" }
                ),
                "  ",
                DIM,
            )?;
        }
        // One header per process (or group), over all its stories.
        for section in &story.sections {
            writeln!(out)?;
            writeln!(out, "{BOLD}■ {}{BOLD:#}", header(&section.about))?;
            for item in &section.items {
                block(out, item, 0)?;
            }
        }
    }
    if !c.notes.is_empty() {
        writeln!(out)?;
        for n in &c.notes {
            wrapped(out, "note: ", n, "      ", DIM)?;
        }
    }
    Ok(())
}

/// The heading of a section: the group's processes, the process, or the host (per namespace).
fn header(about: &About) -> String {
    let place = |c: Option<&Container>| c.map(|c| format!(" {DIM}in {}{DIM:#}", container(c))).unwrap_or_default();
    match *about {
        About::Group(g) => match g.parent {
            Some(p) => format!("{} processes of {} (parent {p})", g.pids.len(), g.program),
            None => format!("{} processes of {}", g.pids.len(), g.program),
        },
        About::Process { pid, comm: Some(comm), container } => format!("{comm} (pid {pid}){}", place(container)),
        About::Process { pid, comm: None, container } => format!("pid {pid}{}", place(container)),
        About::Host { netns: Some(ns), container } => format!("network namespace {ns}{}", place(container)),
        About::Host { netns: None, container } => format!("host{}", place(container)),
    }
}

/// The longest wait chain told in a story (its own finding's, a member's
/// or a consequence's): the path from the first waiter to where it ends.
fn story_chain<'a>(b: &Item<'a>) -> &'a [unwedge_model::chain::Hop] {
    let mut best: &'a [unwedge_model::chain::Hop] = &b.finding.waits_on;
    for m in &b.members {
        if m.waits_on.len() > best.len() {
            best = &m.waits_on;
        }
    }
    for c in &b.consequences {
        let x = story_chain(c);
        if x.len() > best.len() {
            best = x;
        }
    }
    best
}

fn block(out: &mut dyn Write, b: &Item, depth: usize) -> io::Result<()> {
    if depth == 0 {
        let chain = story_chain(b);
        let path = (!chain.is_empty()).then(|| unwedge_model::chain::line(chain));
        match b.group {
            Some(g) => group_block(out, g, b, path.as_deref())?,
            None => {
                finding_with(out, b.finding, path.as_deref())?;
                if b.members.len() > 1 {
                    let tids: Vec<String> = b
                        .members
                        .iter()
                        .filter(|m| m.id != b.finding.id)
                        .filter_map(|m| m.tid)
                        .map(|t| t.to_string())
                        .collect();
                    writeln!(
                        out,
                        "    {DIM}(thread{} {} of this process {} stuck too: see --json){DIM:#}",
                        if tids.len() == 1 { "" } else { "s" },
                        tids.join(", "),
                        if tids.len() == 1 { "is" } else { "are" }
                    )?;
                }
            }
        }
    } else {
        consequence(out, b, depth)?;
    }
    if !b.consequences.is_empty() {
        if depth == 0 {
            writeln!(out, "    {BOLD}Consequences{BOLD:#} (caused by the above; each is a finding in --json):")?;
        }
        for c in &b.consequences {
            block(out, c, depth + 1)?;
        }
    }
    Ok(())
}

/// A consequence, in brief: what it is and its title, beneath its cause.
fn consequence(out: &mut dyn Write, b: &Item, depth: usize) -> io::Result<()> {
    let f = b.finding;
    let pad = "  ".repeat(depth + 1);
    let st = sev_style(f.severity);
    let mut tags = vec![f.kind().name().to_string()];
    if let Some(p) = f.port {
        tags.push(format!("port {p}"));
    }
    if let Some(p) = &f.path {
        tags.push(format!("unix:{p}"));
    }
    match (b.group, f.pid, &f.comm) {
        (Some(g), _, _) => tags.push(format!("{} processes", g.pids.len())),
        (None, Some(pid), Some(comm)) => tags.push(format!("{comm} (pid {pid})")),
        _ => {}
    }
    writeln!(out, "{pad}▸ {st}{}{st:#} {DIM}{}{DIM:#}", f.severity.name().to_uppercase(), tags.join("  "))?;
    let title = b.group.map(|g| g.title.as_str()).unwrap_or(&f.title);
    wrapped(out, &format!("{pad}  "), title, &format!("{pad}  "), Style::new())
}

/// A group of sibling processes, once: the headline, the processes and
/// their ages, then one representative's evidence and the fix.
fn group_block(out: &mut dyn Write, g: &Group, b: &Item, path: Option<&str>) -> io::Result<()> {
    let f = b.finding;
    let sev = b.members.iter().map(|m| m.severity).fold(f.severity, Severity::max);
    let st = sev_style(sev);
    let mut tags = vec![f.kind().name().to_string()];
    if let Some(p) = f.port {
        tags.push(format!("port {p}"));
    }
    if let Some(p) = &f.path {
        tags.push(format!("unix:{p}"));
    }
    tags.push(format!("{} processes, {} findings", g.pids.len(), b.members.len()));
    writeln!(out, "  {st}{:<8}{st:#} {DIM}{}{DIM:#}", sev.name().to_uppercase(), tags.join("  "))?;
    wrapped(out, "    ", &g.title, "    ", BOLD)?;
    if let Some(p) = path {
        wrapped(out, "    Path: ", p, "          ", Style::new())?;
    }
    let list: Vec<String> = g
        .pids
        .iter()
        .enumerate()
        .map(|(i, p)| match g.ages_s.get(i) {
            Some(a) => format!("{p} ({a} s old)"),
            None => p.to_string(),
        })
        .collect();
    wrapped(out, "    Processes: ", &list.join(", "), "               ", Style::new())?;
    let who = match (&f.comm, f.pid) {
        (Some(c), Some(p)) => format!("{c} (pid {p})"),
        (_, Some(p)) => format!("pid {p}"),
        _ => "one".into(),
    };
    writeln!(out, "    {DIM}The others look the same. One of them in detail, {who}:{DIM:#}")?;
    body(out, f, true)
}

pub fn finding(out: &mut dyn Write, f: &Finding) -> io::Result<()> {
    finding_with(out, f, None)
}

/// A finding with, under its title, the path of the wait chain its story tells.
fn finding_with(out: &mut dyn Write, f: &Finding, path: Option<&str>) -> io::Result<()> {
    let st = sev_style(f.severity);
    let mut tags = vec![f.kind().name().to_string()];
    if let Some(p) = f.port {
        tags.push(format!("port {p}"));
    }
    if let Some(p) = &f.path {
        tags.push(format!("unix:{p}"));
    }
    if let Some(t) = f.tid {
        tags.push(format!("thread {t}"));
    }
    if let Some(ns) = f.netns {
        tags.push(format!("netns {ns}"));
    }
    writeln!(out, "  {st}{:<8}{st:#} {DIM}{}{DIM:#}", f.severity.name().to_uppercase(), tags.join("  "))?;
    wrapped(out, "    ", &f.title, "    ", BOLD)?;
    if let Some(p) = path {
        wrapped(out, "    Path: ", p, "          ", Style::new())?;
    }
    body(out, f, false)
}

/// Items of an evidence list shown (the JSON has them all): the story
/// must fit on one screen.
const LIST_ITEMS: usize = 3;
/// Entries of an evidence map (counts per peer, per port) shown, the largest first.
const MAP_ITEMS: usize = 6;

/// Explanation, evidence, threads and fix of one finding (its title, or
/// a group's headline, comes before). In a group (`in_group`) the kernel
/// stack is cut shorter: the group must fit on one screen.
fn body(out: &mut dyn Write, f: &Finding, in_group: bool) -> io::Result<()> {
    wrapped(out, "    Why: ", &f.explanation, "         ", Style::new())?;
    if let Some(map) = view::fields(&f.evidence) {
        writeln!(out, "    Evidence:")?;
        // The thread list below counts and shows what the threads wait in.
        let sampled = view::threads(&f.evidence)
            .iter()
            .any(|l| matches!(l.role, view::Role::Sample { .. }) && !l.threads.is_empty());
        for (k, v) in &map {
            if sampled && matches!(k.as_str(), "thread_waits" | "threads_total") {
                continue;
            }
            // Zero counts and false flags say nothing the story does not
            // (the JSON keeps every field): the story must fit on one screen.
            if v.is_null() || v.as_u64() == Some(0) || v.as_bool() == Some(false) {
                continue;
            }
            match v {
                // Lists (examples, peers): one item per line, a few at most.
                Value::Array(items) if !items.is_empty() && !items.iter().all(|i| i.is_number()) => {
                    writeln!(out, "      {k}:")?;
                    for item in items.iter().take(LIST_ITEMS) {
                        wrapped(out, "        - ", &inline(item), "          ", Style::new())?;
                    }
                    if items.len() > LIST_ITEMS {
                        writeln!(out, "        … {} more (--json lists them)", items.len() - LIST_ITEMS)?;
                    }
                }
                // Maps (peers, ports: counts): the largest few.
                Value::Object(map) if map.len() > MAP_ITEMS => {
                    let mut entries: Vec<(&String, &Value)> = map.iter().filter(|(_, x)| !x.is_null()).collect();
                    entries.sort_by(|a, b| b.1.as_f64().unwrap_or(0.0).total_cmp(&a.1.as_f64().unwrap_or(0.0)));
                    let shown: Vec<String> =
                        entries.iter().take(MAP_ITEMS).map(|(k, x)| format!("{k}={}", scalar(x))).collect();
                    let text = format!("{} … {} more (--json lists them)", shown.join(", "), entries.len() - MAP_ITEMS);
                    wrapped(out, &format!("      {k}: "), &text, "        ", Style::new())?
                }
                Value::Object(_) => wrapped(out, &format!("      {k}: "), &inline(v), "        ", Style::new())?,
                other => {
                    let text = scalar(other);
                    let text = if text.chars().count() > WIDTH * 3 {
                        format!("{}…", text.chars().take(WIDTH * 3).collect::<String>())
                    } else {
                        text
                    };
                    wrapped(out, &format!("      {k}: "), &text, "        ", Style::new())?;
                }
            }
        }
    }
    threads::jvm(out, &f.evidence)?;
    threads::write(out, &f.evidence, if in_group { 4 } else { 8 }, in_group)?;
    wrapped(out, "    Fix: ", &f.fix, "         ", Style::new())?;
    Ok(())
}

/// An evidence value on one line: objects as `key=value, …`.
fn inline(v: &Value) -> String {
    match v {
        Value::Object(map) => map
            .iter()
            .filter(|(_, x)| !x.is_null())
            .map(|(k, x)| format!("{k}={}", scalar(x)))
            .collect::<Vec<_>>()
            .join(", "),
        other => scalar(other),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Word-wraps `text` to WIDTH columns, the first line after `first`.
fn wrapped(out: &mut dyn Write, first: &str, text: &str, rest: &str, style: Style) -> io::Result<()> {
    let mut line = String::from(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            writeln!(out, "{style}{line}{style:#}")?;
            line = String::from(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    writeln!(out, "{style}{line}{style:#}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::evidence::{
        AcceptQueueOverflow, CloseWaitLeak, FdExhaustion, StuckThread, ThreadEvidence, ThreadSummary,
    };
    use unwedge_model::{Coverage, Evidence};

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            unwedge_version: "0.1.0".into(),
            host: "h".into(),
            taken_at: "2026-11-24T12:00:00Z".into(),
            interval_ms: 1000,
            duration_ms: 1040,
            coverage: Coverage { processes: 3, threads: 4, sockets: 5, netns: 1, ..Default::default() },
            findings,
            groups: Vec::new(),
        }
    }

    fn f(ev: impl Into<Evidence>, sev: Severity, pid: Option<u32>) -> Finding {
        let mut f = Finding::new(sev, ev);
        f.pid = pid;
        f.comm = pid.map(|_| "srv".into());
        f.port = Some(5000);
        f.title = "a title".into();
        f.explanation = "word ".repeat(60);
        f.fix = "close it".into();
        f
    }

    fn leak() -> CloseWaitLeak {
        CloseWaitLeak { close_wait: 60, ..Default::default() }
    }

    #[test]
    fn a_long_evidence_map_shows_its_largest_entries() {
        let mut ev = leak();
        ev.peers = (1..=600).map(|i| (format!("10.0.{}.{}", i / 250, i % 250), if i == 77 { 9 } else { 1 })).collect();
        let mut out = Vec::new();
        write(&mut out, &report(vec![f(ev, Severity::Critical, Some(7))])).unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text.lines().find(|l| l.contains("peers:")).unwrap();
        assert!(line.contains("peers: 10.0.0.77=9, "), "{line}");
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("10.0.0.102=1 … 594 more (--json lists them)"), "{text}");
        assert!(text.lines().count() < 40, "{text}");
    }

    #[test]
    fn groups_by_process_and_wraps() {
        let r = report(vec![
            f(leak(), Severity::Critical, Some(7)),
            f(
                AcceptQueueOverflow::Burst { listen_overflows_rise: 3, listen_drops_rise: 3, interval_ms: 1000 },
                Severity::Warning,
                None,
            ),
            f(
                FdExhaustion {
                    open_fds: 90,
                    soft_limit: 100,
                    hard_limit: None,
                    percent: 90.0,
                    sockets: 80,
                    close_wait_sockets: 60,
                    listening_sockets: 1,
                    unanswered_connections: 0,
                    partial_requests: None,
                },
                Severity::Warning,
                Some(7),
            ),
        ]);
        let mut buf = Vec::new();
        write(&mut buf, &r).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("3 findings") && text.contains(": 1 critical, 2 warning"), "{text}");
        let srv = text.find("■ srv (pid 7)").unwrap();
        let host = text.find("■ host").unwrap();
        assert!(srv < host, "most severe group first");
        assert_eq!(text.matches("■ srv (pid 7)").count(), 1, "one group per process");
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH + 20), "{text}");
        assert!(text.contains("close_wait: 60") && !text.contains("hard_limit:"), "nulls are left out: {text}");
    }

    #[test]
    fn process_header_names_the_container() {
        let mut x = f(leak(), Severity::Critical, Some(7));
        x.container = Container::from_cgroup(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-3f2a1bc4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80.scope",
        );
        let mut y = f(leak(), Severity::Warning, Some(8));
        y.container = Container::from_cgroup("/system.slice/nginx.service");
        let mut z = f(leak(), Severity::Info, Some(9));
        z.container = Container::from_cgroup_or_bare("/batch");
        let mut buf = Vec::new();
        write(&mut buf, &report(vec![x, y, z])).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.contains("in containerd container 3f2a1bc4d5e6, pod uid 1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"),
            "{text}"
        );
        assert!(text.contains("in unit nginx.service"), "{text}");
        assert!(text.contains("in cgroup /batch"), "{text}");
        let named = Container {
            name: Some("web".into()),
            pod: Some("web-5d8f".into()),
            namespace: Some("shop".into()),
            ..Container::from_cgroup("/docker/3f2a1bc4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80")
                .unwrap()
        };
        assert_eq!(container(&named), "docker container web (3f2a1bc4d5e6), pod shop/web-5d8f");
    }

    #[test]
    fn thread_details() {
        let ev = StuckThread {
            work: vec![unwedge_model::evidence::Work::Reported("5 bytes wait unread on fd 4".into())],
            thread: ThreadEvidence {
                tid: 8,
                name: "upstream-pump".into(),
                state: "S".into(),
                syscall: Some("recvfrom".into()),
                syscall_meaning: Some("a socket receive waiting for data".into()),
                fds: vec!["fd 5: TCP 127.0.0.1:41234 -> 127.0.0.1:80 ESTAB, idle 12.0 s".into()],
                wchan: Some("wait_woken".into()),
                stack: Some(vec!["wait_woken+0x89/0x90".into(), "sk_wait_data+0x172/0x190".into()]),
                user_stack: Some(
                    [
                        ("__libc_recv", "/lib/libc.so.6"),
                        ("relay.isra.0", "/opt/p"),
                        ("main", "/opt/p"),
                        ("_start", "/opt/p"),
                    ]
                    .iter()
                    .map(|(f, m)| unwedge_model::Frame {
                        addr: "0x1".into(),
                        function: Some(f.to_string()),
                        module: Some(m.to_string()),
                        ..Default::default()
                    })
                    .collect(),
                ),
                user_stack_note: Some("unwinding stopped at 0x1".into()),
                ..Default::default()
            },
            other_stuck_threads: vec![ThreadSummary {
                tid: 7,
                name: "python3".into(),
                state: String::new(),
                syscall: "futex".into(),
                fds: vec![],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut x = f(ev, Severity::Warning, Some(7));
        x.tid = Some(8);
        let mut buf = Vec::new();
        write(&mut buf, &report(vec![x])).unwrap();
        let raw = String::from_utf8(buf).unwrap();
        // Drop ANSI styling: the test reads the words.
        let mut text = String::new();
        let mut in_esc = false;
        for c in raw.chars() {
            match (in_esc, c) {
                (false, '\x1b') => in_esc = true,
                (true, 'm') => in_esc = false,
                (true, _) => {}
                (false, c) => text.push(c),
            }
        }
        assert!(text.contains("Thread 8 (upstream-pump), state S, in recvfrom"), "{text}");
        assert!(text.contains("fd 5: TCP 127.0.0.1:41234 -> 127.0.0.1:80 ESTAB, idle 12.0 s"), "{text}");
        assert!(text.contains("wchan: wait_woken") && text.contains("sk_wait_data+0x172/0x190"), "{text}");
        assert!(text.contains("Thread 7 (python3), in futex"), "{text}");
        assert!(text.contains("user stack: recv ← relay ← main ← …"), "folded, cut where it ended early: {text}");
        assert!(text.contains("user stack: unwinding stopped at 0x1"), "{text}");
        assert!(!text.contains("\"tid\""), "thread objects are not dumped as JSON: {text}");
    }

    #[test]
    fn goroutine_groups_beside_the_thread() {
        let fr = |names: &[&str]| -> Vec<unwedge_model::Frame> {
            names
                .iter()
                .map(|n| unwedge_model::Frame {
                    addr: "0x1".into(),
                    function: Some(n.to_string()),
                    module: Some("/srv/api".into()),
                    ..Default::default()
                })
                .collect()
        };
        let group = |count, reason: Option<&str>, names: &[&str]| unwedge_model::GoroutineGroup {
            count,
            wait_reason: reason.map(String::from),
            frames: fr(names),
        };
        let locked = [
            "runtime.gopark",
            "runtime.semacquire1",
            "sync.runtime_SemacquireMutex",
            "sync.(*Mutex).lockSlow",
            "sync.(*Mutex).Lock",
            "main.handler",
            "net/http.HandlerFunc.ServeHTTP",
            "runtime.goexit",
        ];
        let ev = StuckThread {
            thread: ThreadEvidence {
                tid: 8,
                name: "api".into(),
                state: "S".into(),
                syscall: Some("epoll_wait".into()),
                user_stack: Some(fr(&["runtime.epollwait", "runtime.netpoll", "runtime.findRunnable"])),
                goroutines: Some(vec![
                    group(10, Some("semacquire"), &locked),
                    group(2, Some("IO wait"), &["runtime.gopark", "internal/poll.(*FD).Accept", "main.main"]),
                    group(1, Some("chan receive"), &["runtime.gopark", "runtime.chanrecv1", "main.wait"]),
                    group(1, Some("select"), &["runtime.gopark", "runtime.selectgo", "main.tick"]),
                    group(1, None, &["runtime.gopark", "main.other"]),
                ]),
                goroutines_note: Some("1 goroutines ran while they were read and are not shown".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut x = f(ev, Severity::Warning, Some(7));
        x.tid = Some(8);
        let mut buf = Vec::new();
        write(&mut buf, &report(vec![x])).unwrap();
        let raw = String::from_utf8(buf).unwrap();
        let text: String = raw.split('\x1b').map(|p| p.split_once('m').map_or(p, |(_, r)| r)).collect();
        assert!(
            text.contains("goroutines: 10 × sync.(*Mutex).Lock ← main.handler ← net/http.HandlerFunc.ServeHTTP"),
            "{text}"
        );
        assert!(text.contains("goroutines: 1 × runtime.chanrecv1 ← main.wait (chan receive)"), "{text}");
        assert!(!text.contains("main.tick"), "three groups at most: {text}");
        assert!(text.contains("2 more groups (2 goroutines) in --json"), "{text}");
        assert!(text.contains("1 goroutines ran while"), "{text}");
    }

    #[test]
    fn healthy() {
        let mut buf = Vec::new();
        write(&mut buf, &report(vec![])).unwrap();
        assert!(String::from_utf8(buf).unwrap().contains("No problems found."));
    }
}
