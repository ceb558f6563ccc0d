//! The order in which a report is told, computed once from the typed report
//! for every renderer (the human report, the HTML page and serve's page,
//! watch's view), so that they cannot disagree on what comes first.
//!
//! Findings nothing else in the report explains come first, most severe
//! first, each followed by what it causes (from `caused_by`), chains
//! nested; a group of sibling findings is one item, shown through its
//! representative; the stuck threads of one process are one item; and the
//! items about one process (or group, or host) are told together, in the
//! order of the first. Every finding is told exactly once.

use crate::{Container, Evidence, Finding, Group, Kind, Report, Severity};

/// How deep consequences nest; a finding deeper still is told as a story of its own.
pub const MAX_DEPTH: usize = 4;

/// A report as stories, in the order every renderer tells them.
#[derive(Debug)]
pub struct Story<'a> {
    pub sections: Vec<Section<'a>>,
}

/// The stories about one process, one group of processes or the host.
#[derive(Debug)]
pub struct Section<'a> {
    pub about: About<'a>,
    /// Its stories, in report order of telling (each a cause and what it causes).
    pub items: Vec<Item<'a>>,
}

/// What a section is about.
#[derive(Debug, Clone, Copy)]
pub enum About<'a> {
    /// Sibling processes failing the same way.
    Group(&'a Group),
    Process {
        pid: u32,
        comm: Option<&'a str>,
        container: Option<&'a Container>,
    },
    /// Host-wide findings, per network namespace (each has its own limits).
    Host {
        netns: Option<u64>,
        container: Option<&'a Container>,
    },
}

impl About<'_> {
    /// Whether two stories are told under one heading: the same process,
    /// the same namespace, or groups of the same processes (siblings of one
    /// parent running one program, as many of them).
    pub fn same_as(&self, other: &About) -> bool {
        match (self, other) {
            (About::Group(a), About::Group(b)) => {
                a.pids.len() == b.pids.len() && a.program == b.program && a.parent == b.parent
            }
            (
                About::Process { pid: a, comm: ca, container: xa },
                About::Process { pid: b, comm: cb, container: xb },
            ) => a == b && ca == cb && xa == xb,
            (About::Host { netns: a, container: xa }, About::Host { netns: b, container: xb }) => a == b && xa == xb,
            _ => false,
        }
    }
}

/// One story: a finding (or a group of them) and, beneath it, what it causes.
#[derive(Debug)]
pub struct Item<'a> {
    /// The finding shown: a group's representative, or the one of a
    /// process's stuck threads that waits on a connection.
    pub finding: &'a Finding,
    pub group: Option<&'a Group>,
    /// Every finding this item tells, the shown one included: a group's
    /// members, a process's stuck threads, or the finding alone.
    pub members: Vec<&'a Finding>,
    /// Ids of the findings in the report that explain this one (its own members left out).
    pub caused_by: Vec<&'a str>,
    /// The findings it causes, each a story told beneath it.
    pub consequences: Vec<Item<'a>>,
}

impl<'a> Item<'a> {
    /// The most severe of the item, its members and its consequences.
    pub fn severity(&self) -> Severity {
        self.consequences
            .iter()
            .map(Item::severity)
            .chain(self.members.iter().map(|m| m.severity))
            .fold(self.finding.severity, Severity::max)
    }

    /// What the item is about, for its section.
    pub fn about(&self) -> About<'a> {
        let f: &'a Finding = self.finding;
        match (self.group, f.pid) {
            (Some(g), _) => About::Group(g),
            (None, Some(pid)) => About::Process { pid, comm: f.comm.as_deref(), container: f.container.as_ref() },
            (None, None) => About::Host { netns: f.netns, container: f.container.as_ref() },
        }
    }

    /// The item and its consequences, depth first, with their depth below this one.
    fn walk<'s>(&'s self, depth: usize, out: &mut Vec<(usize, &'s Item<'a>)>) {
        out.push((depth, self));
        for c in &self.consequences {
            c.walk(depth + 1, out);
        }
    }
}

impl<'a> Story<'a> {
    pub fn of(r: &'a Report) -> Story<'a> {
        let mut roots = Builder { r, used: vec![false; r.findings.len()] }.roots();
        // Stable: among equals, the report's order (most severe, then by process).
        roots.sort_by_key(|x| std::cmp::Reverse(x.severity()));
        let mut sections: Vec<Section<'a>> = Vec::new();
        for item in roots {
            let about = item.about();
            match sections.iter_mut().find(|s| s.about.same_as(&about)) {
                Some(s) => s.items.push(item),
                None => sections.push(Section { about, items: vec![item] }),
            }
        }
        Story { sections }
    }

    /// How many stories: fewer than findings when some are told beneath others or together.
    pub fn len(&self) -> usize {
        self.sections.iter().map(|s| s.items.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// Every item in reading order, with its depth (0 for a story's cause).
    pub fn walk(&self) -> Vec<(usize, &Item<'a>)> {
        self.sections.iter().flat_map(Section::walk).collect()
    }
}

impl<'a> Section<'a> {
    /// Its items in reading order, with their depth (0 for a story's cause).
    pub fn walk(&self) -> Vec<(usize, &Item<'a>)> {
        let mut out = Vec::new();
        for i in &self.items {
            i.walk(0, &mut out);
        }
        out
    }
}

/// Builds the items, marking each finding as told once it is.
struct Builder<'a> {
    r: &'a Report,
    used: Vec<bool>,
}

impl<'a> Builder<'a> {
    fn present(&self, id: &str) -> bool {
        !id.is_empty() && self.r.findings.iter().any(|f| f.id == id)
    }

    /// The cause a finding is told beneath: its first cause in the report.
    fn parent_of(&self, f: &'a Finding) -> Option<&'a str> {
        f.caused_by.iter().find(|c| **c != f.id && self.present(c)).map(String::as_str)
    }

    /// The stories, unsorted: from every finding nothing explains, then
    /// (causes that form a loop, chains deeper than MAX_DEPTH) from every
    /// finding not yet told, without consequences.
    fn roots(mut self) -> Vec<Item<'a>> {
        let n = self.r.findings.len();
        let mut roots = Vec::new();
        for i in 0..n {
            if !self.used[i] && self.parent_of(&self.r.findings[i]).is_none() {
                roots.extend(self.make(i, true, 0));
            }
        }
        for i in 0..n {
            roots.extend(self.make(i, false, 0));
        }
        roots
    }

    /// The item of finding `i` (None when it is already told), and with
    /// `follow` the items of the findings it causes beneath it.
    fn make(&mut self, i: usize, follow: bool, depth: usize) -> Option<Item<'a>> {
        if self.used[i] {
            return None;
        }
        let r = self.r;
        let findings = &r.findings;
        let (finding, group, members) = self.members(i);
        for (j, x) in findings.iter().enumerate() {
            if members.iter().any(|m| std::ptr::eq(*m, x)) {
                self.used[j] = true;
            }
        }
        let mut consequences = Vec::new();
        if follow && depth < MAX_DEPTH {
            // `used` changes as consequences are told: read it afresh for each.
            for (j, c) in findings.iter().enumerate() {
                let explained = !self.used[j] && self.parent_of(c).is_some_and(|p| members.iter().any(|m| m.id == p));
                if explained {
                    consequences.extend(self.make(j, follow, depth + 1));
                }
            }
        }
        let mut caused_by: Vec<&'a str> = Vec::new();
        for c in members.iter().flat_map(|m| m.caused_by.iter()) {
            let own = members.iter().any(|m| &m.id == c);
            if !own && self.present(c) && !caused_by.contains(&c.as_str()) {
                caused_by.push(c);
            }
        }
        Some(Item { finding, group, members, caused_by, consequences })
    }

    /// The finding shown for finding `i`, its group, and every finding told with it.
    fn members(&self, i: usize) -> (&'a Finding, Option<&'a Group>, Vec<&'a Finding>) {
        let r = self.r;
        let findings = &r.findings;
        let f = &findings[i];
        let group = f.group.as_ref().and_then(|g| r.groups.iter().find(|x| &x.id == g));
        match group {
            Some(g) => {
                let members: Vec<&Finding> = findings.iter().filter(|x| x.group.as_ref() == Some(&g.id)).collect();
                let rep = members.iter().copied().find(|x| x.id == g.representative).unwrap_or(f);
                (rep, Some(g), members)
            }
            // The stuck threads of one process are one story: each finding
            // already lists the others; the one on a connection tells most.
            None if f.kind() == Kind::StuckThread => {
                let same: Vec<&Finding> = findings
                    .iter()
                    .enumerate()
                    .filter(|(j, x)| {
                        !self.used[*j]
                            && x.kind() == Kind::StuckThread
                            && x.pid == f.pid
                            && x.group.is_none()
                            && x.caused_by == f.caused_by
                    })
                    .map(|(_, x)| x)
                    .collect();
                let on_conn = |x: &&Finding| matches!(&x.evidence, Evidence::StuckThread(e) if e.on_connection);
                let primary = same.iter().copied().find(on_conn).unwrap_or(f);
                (primary, None, same)
            }
            None => (f, None, vec![f]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{CloseWaitLeak, StuckThread};
    use crate::Coverage;

    fn f(id: &str, sev: Severity, pid: Option<u32>, ev: impl Into<Evidence>) -> Finding {
        let mut f = Finding::new(sev, ev);
        f.id = id.into();
        f.pid = pid;
        f
    }

    fn leak(id: &str, sev: Severity, pid: u32) -> Finding {
        f(id, sev, Some(pid), CloseWaitLeak::default())
    }

    fn stuck(id: &str, pid: u32, tid: u32, on_connection: bool) -> Finding {
        let mut x = f(id, Severity::Warning, Some(pid), StuckThread { on_connection, ..Default::default() });
        x.tid = Some(tid);
        x
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            unwedge_version: "0".into(),
            host: "h".into(),
            taken_at: String::new(),
            interval_ms: 1000,
            duration_ms: 1,
            coverage: Coverage::default(),
            findings,
            groups: Vec::new(),
        }
    }

    /// (depth, shown id, members) of every item in reading order.
    fn told(r: &Report) -> Vec<(usize, &str, usize)> {
        r.story().walk().iter().map(|(d, i)| (*d, i.finding.id.as_str(), i.members.len())).collect()
    }

    #[test]
    fn causes_first_consequences_beneath_most_severe_story_first() {
        let mut r = report(vec![
            leak("f1", Severity::Warning, 1),
            leak("f2", Severity::Warning, 2),
            stuck("f3", 3, 4, false),
            leak("f4", Severity::Critical, 5),
        ]);
        // f3 causes f2, and f2 causes f4 (critical): the chain outranks f1.
        r.findings[1].caused_by = vec!["f3".into()];
        r.findings[3].caused_by = vec!["f2".into(), "f1".into()];
        assert_eq!(told(&r), vec![(0, "f3", 1), (1, "f2", 1), (2, "f4", 1), (0, "f1", 1)]);
        let s = r.story();
        assert_eq!(s.len(), 2, "two stories");
        let (_, f4) = s.walk()[2];
        assert_eq!(f4.caused_by, vec!["f2", "f1"], "every cause in the report, the first one its parent");
        assert_eq!(f4.severity(), Severity::Critical);
        assert_eq!(s.sections[0].items[0].severity(), Severity::Critical, "a story is as severe as its worst");
    }

    #[test]
    fn a_group_is_one_item_shown_through_its_representative() {
        let mut r = report(vec![
            leak("f1", Severity::Warning, 10),
            leak("f2", Severity::Warning, 11),
            stuck("f3", 5, 6, false),
        ]);
        for x in &mut r.findings[..2] {
            x.group = Some("g1".into());
        }
        r.groups.push(Group {
            id: "g1".into(),
            kind: Kind::CloseWaitLeak,
            pids: vec![10, 11],
            title: "2 x".into(),
            parent: Some(1),
            program: "w".into(),
            ages_s: Vec::new(),
            representative: "f2".into(),
        });
        r.findings[0].caused_by = vec!["f3".into()];
        // A member nothing explains makes the whole group a story of its own.
        assert_eq!(told(&r), vec![(0, "f2", 2), (0, "f3", 1)]);
        r.findings[1].caused_by = vec!["f3".into()];
        assert_eq!(told(&r), vec![(0, "f3", 1), (1, "f2", 2)]);
        let s = r.story();
        assert!(matches!(s.sections[0].about, About::Process { pid: 5, .. }));
        // Not a root: a group told beneath its cause heads no section.
        assert_eq!(s.sections.len(), 1);
    }

    #[test]
    fn cycles_and_unknown_causes_still_tell_every_finding_once() {
        let mut r = report(vec![leak("f1", Severity::Warning, 1), leak("f2", Severity::Warning, 2)]);
        r.findings[0].caused_by = vec!["f2".into()];
        r.findings[1].caused_by = vec!["f1".into(), "f99".into()];
        assert_eq!(told(&r), vec![(0, "f1", 1), (0, "f2", 1)]);
        r.findings[0].caused_by = vec!["f99".into(), "f1".into()];
        r.findings[1].caused_by = vec![];
        assert_eq!(told(&r), vec![(0, "f1", 1), (0, "f2", 1)], "unknown and own ids are no cause");
        assert!(r.story().walk()[0].1.caused_by.is_empty());
    }

    #[test]
    fn a_process_stuck_threads_are_one_story_shown_by_the_one_on_a_connection() {
        let r = report(vec![stuck("f1", 7, 7, false), stuck("f2", 7, 8, true), stuck("f3", 9, 9, false)]);
        assert_eq!(told(&r), vec![(0, "f2", 2), (0, "f3", 1)]);
    }

    #[test]
    fn chains_deeper_than_max_depth_go_on_as_stories_of_their_own() {
        let n = MAX_DEPTH + 3;
        let mut fs: Vec<Finding> = (1..=n as u32).map(|i| leak(&format!("f{i}"), Severity::Warning, i)).collect();
        // f2 caused by f1, f3 by f2, …
        for (i, x) in fs.iter_mut().enumerate().skip(1) {
            x.caused_by = vec![format!("f{i}")];
        }
        let r = report(fs);
        let t = told(&r);
        assert_eq!(t.len(), n);
        assert_eq!(t.iter().map(|x| x.0).max(), Some(MAX_DEPTH));
        assert_eq!(t[MAX_DEPTH + 1], (0, "f6", 1));
    }

    #[test]
    fn the_stories_of_one_process_are_told_together() {
        let mut host = f("f2", Severity::Critical, None, CloseWaitLeak::default());
        host.netns = Some(4);
        let r = report(vec![leak("f1", Severity::Critical, 7), host, leak("f3", Severity::Warning, 7)]);
        let s = r.story();
        assert_eq!(s.sections.len(), 2);
        assert_eq!(s.sections[0].items.len(), 2, "f1 and f3 under pid 7");
        assert!(matches!(s.sections[1].about, About::Host { netns: Some(4), .. }));
        assert_eq!(told(&r), vec![(0, "f1", 1), (0, "f3", 1), (0, "f2", 1)]);
    }
}
