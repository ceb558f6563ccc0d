//! Shared by the golden tests of the HTML page and of `/metrics`: the
//! recorded fixtures to render, found by a walk of crates/analyze (the
//! incidents and edge cases at crates/analyze/tests/fixtures/*.json, and
//! the bad half of each kind's pair, `kinds/<kind>/bad.json`, wherever that
//! kinds folder lives), and the masking of what varies between runs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A recorded fixture: its snapshot name and file, and whether the file is
/// the bad half of a kind's pair (so must raise an alarm).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fixture {
    pub name: String,
    pub path: PathBuf,
    pub bad_kind: bool,
}

impl Fixture {
    /// The path from the checkout's root, for snapshot descriptions.
    pub fn shown(&self) -> String {
        self.path.strip_prefix(root()).unwrap_or(&self.path).display().to_string()
    }
}

/// Every fixture, sorted by name; panics on two with one name (a kind
/// folder in two places would be checked twice under one snapshot).
pub fn fixtures() -> Vec<Fixture> {
    let top = root().join("crates/analyze/tests/fixtures");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&top).expect("crates/analyze/tests/fixtures") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.push(Fixture { name: format!("fixture-{stem}"), path: p, bad_kind: false });
        }
    }
    let mut bad = Vec::new();
    walk(&root().join("crates/analyze"), &mut bad);
    for p in bad {
        let kind_dir = p.parent().unwrap();
        if kind_dir.parent().and_then(Path::file_name).is_some_and(|n| n == "kinds") {
            let kind = kind_dir.file_name().unwrap().to_string_lossy().into_owned();
            out.push(Fixture { name: format!("kind-{kind}"), path: p, bad_kind: true });
        }
    }
    out.sort();
    for w in out.windows(2) {
        assert_ne!(w[0].name, w[1].name, "two fixtures named {}: {:?} and {:?}", w[0].name, w[0].path, w[1].path);
    }
    out
}

/// Every `bad.json` under `dir` (target folders left out).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                walk(&p, out);
            }
        } else if p.file_name().is_some_and(|n| n == "bad.json") {
            out.push(p);
        }
    }
}

/// Fails when a snapshot of `test` (its `test__name.snap` files in
/// tests/snapshots) has no fixture any more: it would never be checked again.
pub fn no_orphan_snapshots(test: &str, fixtures: &[Fixture]) {
    let names: Vec<String> = fixtures.iter().map(|f| format!("{test}__{}.snap", f.name)).collect();
    for e in std::fs::read_dir(root().join("tests/snapshots")).unwrap() {
        let file = e.unwrap().file_name().to_string_lossy().into_owned();
        if file.starts_with(&format!("{test}__")) && file.ends_with(".snap") {
            assert!(names.contains(&file), "tests/snapshots/{file} belongs to no fixture any more: delete it");
        }
    }
}
