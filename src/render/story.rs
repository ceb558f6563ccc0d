//! The order in which a report reads as a story, shared by the watch view
//! and the HTML page: a cause first, its consequences beneath it (from
//! `caused_by`), and the findings of one group (sibling processes failing
//! the same way) as one item with its members. Renderers only format.

use std::collections::{BTreeMap, HashSet};
use unwedge_model::{Finding, Group};

/// One line of the story: a finding, or a group of them, at a depth.
#[derive(Debug)]
pub struct Item<'a> {
    /// 0 for a cause (or a finding nothing explains), 1 for its consequences, …
    pub depth: usize,
    /// The finding shown (a group's first, most severe, member).
    pub finding: &'a Finding,
    /// Its group and every member (the shown one first), when it has one.
    pub group: Option<(&'a Group, Vec<&'a Finding>)>,
    /// Ids of the findings this one's causes are (those in the report).
    pub caused_by: Vec<&'a str>,
}

/// `findings` (most severe first, as in a report) as a story. Every
/// finding appears once: a group member under its group, a finding with
/// several causes under the first one; links that form a cycle or point
/// outside the report are ignored.
pub fn order<'a>(findings: &'a [Finding], groups: &'a [Group]) -> Vec<Item<'a>> {
    // Units: a group's members make one unit, named by the group id.
    let unit_of = |f: &Finding| -> String {
        match &f.group {
            Some(g) if groups.iter().any(|x| &x.id == g) => format!("g:{g}"),
            _ => format!("f:{}", f.id),
        }
    };
    let ids: HashSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    let by_id: BTreeMap<&str, &Finding> = findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut units: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in findings {
        let u = unit_of(f);
        match units.iter_mut().find(|(k, _)| *k == u) {
            Some((_, members)) => members.push(f),
            None => units.push((u, vec![f])),
        }
    }
    // A unit's parent: the unit of the first cause (in the report) of any member.
    let parent: BTreeMap<&str, String> = units
        .iter()
        .filter_map(|(u, members)| {
            let cause = members
                .iter()
                .flat_map(|m| m.caused_by.iter())
                .filter(|c| ids.contains(c.as_str()))
                .map(|c| unit_of(by_id[c.as_str()]))
                .find(|cu| cu != u)?;
            Some((u.as_str(), cause))
        })
        .collect();
    let mut out = Vec::new();
    let mut done: HashSet<String> = HashSet::new();
    // Roots first in report order, each followed by its descendants; then
    // whatever a cycle kept from being reached.
    let roots: Vec<&str> = units.iter().map(|(u, _)| u.as_str()).filter(|u| !parent.contains_key(u)).collect();
    let all: Vec<&str> = units.iter().map(|(u, _)| u.as_str()).collect();
    for start in roots.into_iter().chain(all) {
        visit(start, 0, &units, &parent, groups, &ids, &mut done, &mut out);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn visit<'a>(
    unit: &str,
    depth: usize,
    units: &[(String, Vec<&'a Finding>)],
    parent: &BTreeMap<&str, String>,
    groups: &'a [Group],
    ids: &HashSet<&str>,
    done: &mut HashSet<String>,
    out: &mut Vec<Item<'a>>,
) {
    if !done.insert(unit.to_string()) {
        return;
    }
    let Some((_, members)) = units.iter().find(|(u, _)| u == unit) else { return };
    let head = members[0];
    let group = head.group.as_ref().and_then(|g| groups.iter().find(|x| &x.id == g)).map(|g| (g, members.clone()));
    let mut caused_by: Vec<&'a str> = Vec::new();
    for c in members.iter().flat_map(|m| m.caused_by.iter()) {
        if ids.contains(c.as_str()) && !caused_by.contains(&c.as_str()) {
            caused_by.push(c.as_str());
        }
    }
    out.push(Item { depth, finding: head, group, caused_by });
    for (child, _) in units.iter().filter(|(u, _)| parent.get(u.as_str()).is_some_and(|p| p == unit)) {
        visit(child, depth + 1, units, parent, groups, ids, done, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::fake::*;

    fn ids(items: &[Item]) -> Vec<(usize, String, usize)> {
        items.iter().map(|i| (i.depth, i.finding.id.clone(), i.group.as_ref().map_or(1, |g| g.1.len()))).collect()
    }

    #[test]
    fn causes_first_consequences_beneath() {
        let mut r = report(vec![stalled(1, 80, 5), close_wait(2, 90, 20), stuck(2, 3)]);
        // f1 stalled, f2 close_wait, f3 stuck: the close-wait pile is caused by the stuck thread.
        assert_eq!(r.findings[1].id, "f2");
        r.findings[1].caused_by = vec!["f3".into()];
        let items = order(&r.findings, &r.groups);
        assert_eq!(ids(&items), vec![(0, "f1".into(), 1), (0, "f3".into(), 1), (1, "f2".into(), 1)]);
        assert_eq!(items[2].caused_by, vec!["f3"]);
    }

    #[test]
    fn a_group_is_one_item_and_cycles_do_not_loop() {
        let mut r = report(vec![close_wait(10, 90, 20), close_wait(11, 90, 20), close_wait(12, 90, 20), stuck(5, 6)]);
        // Sorted by pid: f1 is the stuck thread of pid 5, f2..f4 the group.
        assert_eq!(r.findings[0].pid, Some(5));
        for f in &mut r.findings[1..] {
            f.group = Some("g1".into());
        }
        r.groups.push(Group {
            id: "g1".into(),
            kind: r.findings[1].kind(),
            pids: vec![10, 11, 12],
            title: "3 x".into(),
            parent: None,
            program: String::new(),
            ages_s: Vec::new(),
            representative: String::new(),
        });
        // A cycle: f1 caused by f3 (in the group), the group's f2 caused by f1.
        r.findings[0].caused_by = vec!["f3".into()];
        r.findings[1].caused_by = vec!["f1".into()];
        let items = order(&r.findings, &r.groups);
        assert_eq!(items.len(), 2);
        assert_eq!(items.iter().map(|i| i.group.as_ref().map_or(1, |g| g.1.len())).sum::<usize>(), 4);
        // An unknown cause is ignored.
        r.findings[0].caused_by = vec!["f99".into()];
        let items = order(&r.findings, &r.groups);
        assert_eq!(ids(&items), vec![(0, "f1".into(), 1), (1, "f2".into(), 3)]);
    }
}
