//! What the HTML page shows of the findings, ready for the template: the
//! report's story (unwedge_model::story, the order every renderer tells)
//! as sections per process, group or host, each finding an item with its
//! links to causes and consequences, its evidence fields and its threads
//! (render::view, the same typed view as the human report's).

use crate::render::view::{self, container, ThreadView, GOROUTINE_GROUPS};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use unwedge_model::story::{About, Item as StoryItem};
use unwedge_model::{Finding, Report};

/// Lists and tables show this many entries, then "… N more".
pub(super) const MAX_ROWS: usize = 50;
/// Nesting the page indents (deeper consequences are indented as this).
const MAX_INDENT: usize = 4;

#[derive(Serialize)]
pub(super) struct Section {
    heading: String,
    pid: Option<u32>,
    cmdline: Option<String>,
    worst: &'static str,
    items: Vec<Item>,
}

#[derive(Serialize)]
struct Item {
    /// The article's anchor: the id of the finding shown.
    id: String,
    depth: usize,
    severity: &'static str,
    kind: &'static str,
    tags: Vec<String>,
    /// Set when the finding is about another process than its section's.
    elsewhere: Option<String>,
    /// The group's title for a group, else the finding's.
    headline: String,
    title: String,
    explanation: String,
    fix: String,
    evidence: Vec<Field>,
    threads: Vec<Thread>,
    caused_by: Vec<Link>,
    leads_to: Vec<Link>,
    group: Option<GroupView>,
    /// The process's other stuck threads told with this one.
    also_stuck: Vec<Link>,
}

/// A finding named elsewhere on the page: its id and title, and the anchor
/// of the item that tells it (a group member or a process's other stuck
/// thread is told by its item's shown finding).
#[derive(Serialize)]
struct Link {
    id: String,
    anchor: String,
    title: String,
}

#[derive(Serialize)]
struct GroupView {
    title: String,
    processes: usize,
    members: Vec<Member>,
}

#[derive(Serialize)]
struct Member {
    id: String,
    pid: Option<u32>,
    comm: String,
    title: String,
}

/// One evidence field: a value, a list, or a table of objects.
#[derive(Serialize)]
struct Field {
    key: String,
    text: Option<String>,
    list: Vec<String>,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    more: usize,
}

#[derive(Serialize)]
struct Thread {
    head: String,
    fds: Vec<String>,
    facts: Vec<(String, String)>,
    stack: Vec<String>,
    user_stack: Vec<Frame>,
}

#[derive(Serialize)]
struct Frame {
    addr: String,
    function: String,
    place: String,
}

fn scalar(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => "—".into(),
        other => other.to_string(),
    }
}

fn inline(v: &Json) -> String {
    match v {
        Json::Object(m) => m
            .iter()
            .filter(|(_, x)| !x.is_null())
            .map(|(k, x)| format!("{k}: {}", inline(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Json::Array(a) => a.iter().map(inline).collect::<Vec<_>>().join(", "),
        other => scalar(other),
    }
}

/// One field of the generic key/value listing (render::view::fields).
fn field(key: &str, v: &Json) -> Option<Field> {
    let mut f =
        Field { key: key.to_string(), text: None, list: Vec::new(), columns: Vec::new(), rows: Vec::new(), more: 0 };
    match v {
        Json::Null => return None,
        Json::Array(items) if items.is_empty() => return None,
        Json::Array(items) if items.iter().all(|i| i.is_object()) => {
            for i in items {
                for k in i.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !f.columns.contains(k) {
                        f.columns.push(k.clone());
                    }
                }
            }
            for i in items.iter().take(MAX_ROWS) {
                let cell = |c: &String| i.get(c).filter(|x| !x.is_null()).map(inline).unwrap_or_default();
                f.rows.push(f.columns.iter().map(cell).collect());
            }
            f.more = items.len().saturating_sub(MAX_ROWS);
        }
        // A few short values (signal names, ports) read best on one line; sentences get a list.
        Json::Array(items)
            if items.len() <= 8 && items.iter().all(|i| !i.is_array() && !i.is_object() && scalar(i).len() <= 24) =>
        {
            f.text = Some(items.iter().map(scalar).collect::<Vec<_>>().join(", "));
        }
        Json::Array(items) => {
            f.list = items.iter().take(MAX_ROWS).map(inline).collect();
            f.more = items.len().saturating_sub(MAX_ROWS);
        }
        // Maps such as local_ports {port: count} or peers {addr: count}: a two-column table.
        Json::Object(m) if m.values().all(|x| !x.is_object() && !x.is_array()) && m.len() > 3 => {
            f.columns = vec!["".into(), "".into()];
            for (k, x) in m.iter().take(MAX_ROWS) {
                f.rows.push(vec![k.clone(), scalar(x)]);
            }
            f.more = m.len().saturating_sub(MAX_ROWS);
        }
        other => f.text = Some(inline(other)),
    }
    Some(f)
}

/// One thread block, from the typed thread view.
fn thread(label: &str, t: &ThreadView) -> Thread {
    let mut facts: Vec<(String, String)> = Vec::new();
    let mut fact = |k: &str, v: String| facts.push((k.to_string(), v));
    for (k, v) in [("wchan", t.wchan), ("SigBlk", t.blocked), ("SigPnd", t.pending)] {
        if let Some(v) = v {
            fact(k, v.to_string());
        }
    }
    if let Some(n) = t.cpu_ticks {
        fact("CPU ticks", n.to_string());
    }
    if !t.args.is_empty() {
        fact("args", t.args.join(", "));
    }
    if let Some(n) = t.user_stack_note {
        fact("user stack", n.to_string());
    }
    if let Some(h) = t.interpreter_hint {
        fact("interpreter frames", h.to_string());
    }
    // A Go process's largest goroutine groups, folded as in the text report.
    for g in t.goroutines.iter().take(GOROUTINE_GROUPS) {
        fact("goroutines", view::goroutine_line(g));
    }
    if let Some((more, n)) = view::more_goroutines(t) {
        fact("goroutines", format!("{more} more groups ({n} goroutines) in the JSON"));
    }
    if let Some(n) = t.goroutines_note {
        fact("goroutines", n.to_string());
    }
    // A runtime's own frames: Python's, and the JVM's view.
    if let Some(py) = view::python_line(t) {
        fact("python", py);
    }
    if let Some(n) = t.python_note {
        fact("python", n.to_string());
    }
    for l in t
        .python_threads
        .filter(|p| p.total > 1)
        .map(|p| view::python_group_lines(p, view::PYTHON_GROUPS))
        .unwrap_or_default()
    {
        fact("python threads", l);
    }
    for l in t.java.map(view::java_lines).unwrap_or_default() {
        fact("java", l);
    }
    let hottest = t.cpu.and_then(|c| c.cpu_profile.as_ref()).and_then(|p| p.stacks.first());
    for (k, v) in t.cpu.map(view::cpu_lines).unwrap_or_default() {
        fact(k, v);
    }
    // A busy thread's frames are those of its hottest stack.
    let frames = hottest.map_or(t.user_stack, |h| h.frames.as_slice());
    let user_stack = frames
        .iter()
        .map(|fr| {
            let file = fr.file.as_ref().map(|f| match fr.line {
                Some(l) => format!("{f}:{l}"),
                None => f.clone(),
            });
            Frame {
                addr: fr.addr.clone(),
                function: fr.function.clone().unwrap_or_else(|| "?".into()),
                place: file.or_else(|| fr.module.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Thread { head: t.head(label), fds: t.fds.to_vec(), facts, stack: t.kernel_stack.to_vec(), user_stack }
}

fn evidence(f: &Finding) -> (Vec<Field>, Vec<Thread>) {
    let fields = view::fields(&f.evidence).unwrap_or_default();
    let threads =
        view::threads(&f.evidence).iter().flat_map(|l| l.threads.iter().map(|t| thread(l.role.label(), t))).collect();
    let mut fields: Vec<Field> = fields.iter().filter_map(|(k, v)| field(k, v)).collect();
    // A JVM's facts, as the text report tells them.
    if let Some(j) = view::jvm(&f.evidence) {
        let list: Vec<String> = view::jvm_lines(j).into_iter().map(|l| l.trim_start().to_string()).collect();
        fields.push(Field { key: "jvm".into(), text: None, list, columns: Vec::new(), rows: Vec::new(), more: 0 });
    }
    (fields, threads)
}

fn tags(f: &Finding) -> Vec<String> {
    let mut t = Vec::new();
    if let Some(p) = f.port {
        t.push(format!("port {p}"));
    }
    if let Some(tid) = f.tid {
        t.push(format!("thread {tid}"));
    }
    if let Some(ns) = f.netns {
        t.push(format!("netns {ns}"));
    }
    t
}

fn who(f: &Finding) -> String {
    match (f.pid, &f.comm) {
        (Some(pid), Some(c)) => format!("{c} (pid {pid})"),
        (Some(pid), None) => format!("pid {pid}"),
        (None, _) => "host".into(),
    }
}

/// A section's heading and the process it is about.
fn heading(about: &About, r: &Report) -> (String, Option<u32>, Option<String>) {
    let place = |c: Option<&unwedge_model::Container>| c.map(|c| format!(" in {}", container(c))).unwrap_or_default();
    match *about {
        About::Group(g) => (format!("{} ({} processes)", g.title, g.pids.len()), None, None),
        About::Process { pid, comm, container } => {
            let who = comm.map_or(format!("pid {pid}"), |c| format!("{c} (pid {pid})"));
            let cmdline = r.findings.iter().filter(|x| x.pid == Some(pid)).find_map(|x| view::cmdline(&x.evidence));
            (format!("{who}{}", place(container)), Some(pid), cmdline.map(str::to_string))
        }
        About::Host { netns: Some(ns), container } => {
            (format!("Network namespace {ns}{}", place(container)), None, None)
        }
        About::Host { netns: None, container } => (format!("Host{}", place(container)), None, None),
    }
}

/// Cross-references between the page's items.
struct Links<'a> {
    /// Finding id -> the anchor of the item that tells it.
    anchor: BTreeMap<&'a str, &'a str>,
    title: BTreeMap<&'a str, &'a str>,
    /// Finding id -> the findings it causes.
    leads_to: BTreeMap<&'a str, Vec<&'a Finding>>,
}

impl<'a> Links<'a> {
    fn new(r: &'a Report, walk: &[(usize, &StoryItem<'a>)]) -> Links<'a> {
        let mut anchor = BTreeMap::new();
        for (_, it) in walk {
            for m in &it.members {
                anchor.insert(m.id.as_str(), it.finding.id.as_str());
            }
        }
        let mut leads_to: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in &r.findings {
            for c in &f.caused_by {
                leads_to.entry(c.as_str()).or_default().push(f);
            }
        }
        let title = r.findings.iter().map(|f| (f.id.as_str(), f.title.as_str())).collect();
        Links { anchor, title, leads_to }
    }

    fn link(&self, id: &str) -> Link {
        Link {
            id: id.to_string(),
            anchor: self.anchor.get(id).copied().unwrap_or(id).to_string(),
            title: self.title.get(id).copied().unwrap_or_default().to_string(),
        }
    }

    /// The findings the item's members cause, outside the item.
    fn consequences(&self, it: &StoryItem) -> Vec<Link> {
        let mut out: Vec<Link> = Vec::new();
        for m in &it.members {
            for c in self.leads_to.get(m.id.as_str()).into_iter().flatten() {
                let own = it.members.iter().any(|x| x.id == c.id);
                if !own && !out.iter().any(|l| l.id == c.id) {
                    out.push(self.link(&c.id));
                }
            }
        }
        out
    }
}

fn item(it: &StoryItem, depth: usize, section_pid: Option<u32>, links: &Links) -> Item {
    let f = it.finding;
    let (evidence, threads) = evidence(f);
    let group = it.group.map(|g| GroupView {
        title: g.title.clone(),
        processes: g.pids.len(),
        members: it
            .members
            .iter()
            .map(|m| Member {
                id: m.id.clone(),
                pid: m.pid,
                comm: m.comm.clone().unwrap_or_default(),
                title: m.title.clone(),
            })
            .collect(),
    });
    let also_stuck = match it.group {
        Some(_) => Vec::new(),
        None => it.members.iter().filter(|m| m.id != f.id).map(|m| links.link(&m.id)).collect(),
    };
    Item {
        id: f.id.clone(),
        depth: depth.min(MAX_INDENT),
        severity: f.severity.name(),
        kind: f.kind().name(),
        tags: tags(f),
        elsewhere: (it.group.is_none() && section_pid.is_some() && f.pid != section_pid).then(|| who(f)),
        headline: it.group.map_or_else(|| f.title.clone(), |g| g.title.clone()),
        title: f.title.clone(),
        explanation: f.explanation.clone(),
        fix: f.fix.clone(),
        evidence,
        threads,
        caused_by: it.caused_by.iter().map(|id| links.link(id)).collect(),
        leads_to: links.consequences(it),
        group,
        also_stuck,
    }
}

/// The page's sections, in the report's story order.
pub(super) fn sections(r: &Report) -> Vec<Section> {
    let story = r.story();
    let links = Links::new(r, &story.walk());
    story
        .sections
        .iter()
        .map(|s| {
            let (heading, pid, cmdline) = heading(&s.about, r);
            let worst = s.items.iter().map(StoryItem::severity).max().map_or("info", |x| x.name());
            let items = s.walk().into_iter().map(|(depth, it)| item(it, depth, pid, &links)).collect();
            Section { heading, pid, cmdline, worst, items }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::view::Role;
    use unwedge_model::evidence::{AcceptStalled, ThreadSummary};

    #[test]
    fn threads_come_from_the_typed_view_with_their_role() {
        let ev = AcceptStalled {
            listen: "0.0.0.0:80".into(),
            queued: 3,
            backlog: 8,
            waiting_whole_interval: 3,
            waiting: Vec::new(),
            accepted_during_interval: 0,
            established_connections_held: 0,
            owners: vec![7],
            accepting: vec![7],
            accepting_threads: vec![ThreadSummary {
                tid: 9,
                name: "acc".into(),
                syscall: "accept4".into(),
                ..Default::default()
            }],
            event_loop_blocked: None,
            waits_on: Vec::new(),
        };
        let f = Finding::new(unwedge_model::Severity::Warning, ev);
        let (fields, threads) = evidence(&f);
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].head, format!("{} 9 (acc), in accept4", Role::Accepting.label()));
        assert!(fields.iter().all(|x| x.key != "accepting_threads"), "a thread list is not a field");
    }
}
