//! What every scan kind must have, checked for each of `Kind::scan_kinds()`
//! so that adding a line to the kind table (`unwedge_model::for_each_kind!`)
//! tells the newcomer what else it needs: its folder src/kinds/<kind>/ with
//! a mod.rs whose //! header states its kernel facts and the false alarm it
//! avoids (its healthy twin), a judge.rs that decides and a words.rs that
//! says it, and a recorded fixture pair (bad.json, healthy.json) that the
//! detector gets right; its registry entry follows from the table. (Its
//! Prometheus series is checked from the binary's side, in
//! tests/kinds_metrics.rs; its page in docs/ by the docs' own test.)

use std::path::{Path, PathBuf};
use unwedge_analyze::{analyze, kinds, Thresholds};
use unwedge_model::{Finding, Kind, Scan};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn kinds_dir() -> PathBuf {
    crate_dir().join("src/kinds")
}

fn rel(p: &Path) -> String {
    let root = crate_dir().join("../..").canonicalize().unwrap();
    p.strip_prefix(&root).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string())
}

fn load(path: &Path) -> Scan {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{} is not a snapshot file: {e}", path.display()))
}

fn findings(path: &Path) -> Vec<Finding> {
    analyze(&load(path), &Thresholds::default()).findings
}

fn summary(f: &[Finding]) -> Vec<String> {
    f.iter().map(|f| format!("{} {} pid {:?} port {:?}", f.kind(), f.severity.name(), f.pid, f.port)).collect()
}

/// Collects every complaint, so one run lists all a new kind still lacks.
#[derive(Default)]
struct Missing(Vec<String>);

impl Missing {
    fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.0.push(msg());
        }
    }

    fn assert_none(self, what: &str) {
        assert!(self.0.is_empty(), "{what}:\n- {}", self.0.join("\n- "));
    }
}

#[test]
fn every_scan_kind_has_a_folder_with_its_kernel_facts_false_alarm_judge_and_words() {
    let mut m = Missing::default();
    for kind in Kind::scan_kinds() {
        let name = kind.name();
        let dir = kinds_dir().join(name);
        let path = dir.join("mod.rs");
        let Ok(text) = std::fs::read_to_string(&path) else {
            m.0.push(format!(
                "{name}: no {} (one folder per kind, named as its JSON kind: mod.rs, judge.rs, words.rs, bad.json, healthy.json)",
                rel(&path)
            ));
            continue;
        };
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
            .filter_map(|l| l.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        m.check(header.contains(&format!("`{name}`")), || {
            format!("{name}: the //! header of {} does not open by naming `{name}`", rel(&path))
        });
        m.check(header.contains("Kernel facts"), || {
            format!(
                "{name}: the //! header of {} has no \"Kernel facts:\" (what the kernel shows that this rests on)",
                rel(&path)
            )
        });
        let lower = header.to_lowercase();
        m.check(lower.contains("false alarm") || lower.contains("twin"), || {
            format!(
                "{name}: the //! header of {} names no healthy twin (\"False alarm avoided: …\"): which healthy process looks alike and why it stays silent",
                rel(&path)
            )
        });
        for (file, what) in [
            ("judge.rs", "decides: returns typed verdicts (severity, pid, port, evidence), no prose"),
            ("words.rs", "turns a verdict into title, explanation and fix"),
        ] {
            let p = dir.join(file);
            m.check(p.exists(), || format!("{name}: no {} (it {what})", rel(&p)));
        }
    }
    m.assert_none("kind folders");
}

#[test]
fn every_scan_kind_is_in_the_registry() {
    let mut m = Missing::default();
    for kind in Kind::scan_kinds() {
        m.check(kinds::detector(kind).is_some(), || {
            format!(
                "{}: kinds::detector returns None: its line in the kind table (crates/model/src/kind.rs) must say Scan or Both",
                kind.name()
            )
        });
    }
    m.assert_none("registry");
}

#[test]
fn every_scan_kind_has_a_fixture_pair_the_detector_gets_right() {
    let mut m = Missing::default();
    for kind in Kind::scan_kinds() {
        let name = kind.name();
        let dir = kinds_dir().join(name);
        let (bad, healthy) = (dir.join("bad.json"), dir.join("healthy.json"));
        let how = "record it live with crates/analyze/tools/record.py (see the README there)";
        for p in [&bad, &healthy] {
            m.check(p.exists(), || format!("{name}: no fixture {}: {how}", rel(p)));
            if let Ok(meta) = std::fs::metadata(p) {
                m.check(meta.len() < 100_000, || {
                    format!(
                        "{name}: {} is {} bytes: trim it to the scenario with trim.py (< 100 KB)",
                        rel(p),
                        meta.len()
                    )
                });
            }
        }
        if bad.exists() {
            let f = findings(&bad);
            m.check(f.iter().any(|f| f.kind() == kind), || {
                format!("{name}: {} raises no {name} (got {:?})", rel(&bad), summary(&f))
            });
        }
        if healthy.exists() {
            let f = findings(&healthy);
            let wrong: Vec<&Finding> = f.iter().filter(|f| f.kind() == kind || f.severity.is_alarm()).collect();
            m.check(wrong.is_empty(), || {
                format!(
                    "{name}: the healthy twin {} raises {:?}: it must raise no {name} and no warning or critical at all",
                    rel(&healthy),
                    wrong.iter().map(|f| format!("{} {}", f.kind(), f.severity.name())).collect::<Vec<_>>()
                )
            });
        }
    }
    m.assert_none("fixture pairs");
}

#[test]
fn kind_folders_are_named_after_scan_kinds() {
    let mut m = Missing::default();
    for e in std::fs::read_dir(kinds_dir()).unwrap() {
        let e = e.unwrap();
        if !e.file_type().unwrap().is_dir() {
            continue;
        }
        let dir = e.file_name().to_string_lossy().into_owned();
        m.check(Kind::scan_kinds().any(|k| k.name() == dir), || {
            format!("src/kinds/{dir} is not a scan kind's name (a typo, or a kind that was renamed)")
        });
    }
    m.assert_none("kind folders");
}

/// The typed evidence serialises to the contract's JSON and reads back to
/// the same value: serialise each bad fixture's findings, parse them as
/// `Finding`, serialise again, and the text must not change.
#[test]
fn evidence_round_trips_through_json() {
    let mut m = Missing::default();
    let mut seen = Vec::new();
    for kind in Kind::scan_kinds() {
        let bad = kinds_dir().join(kind.name()).join("bad.json");
        if !bad.exists() {
            continue; // reported by the fixture-pair test
        }
        for f in findings(&bad) {
            let first = serde_json::to_string_pretty(&f).unwrap();
            let back: Finding = match serde_json::from_str(&first) {
                Ok(b) => b,
                Err(e) => {
                    m.0.push(format!(
                        "{} from {}: does not parse back as a Finding: {e}\n{first}",
                        f.kind(),
                        rel(&bad)
                    ));
                    continue;
                }
            };
            let second = serde_json::to_string_pretty(&back).unwrap();
            m.check(first == second, || {
                format!(
                    "{} from {}: JSON changed on a round trip:\n{first}\n--- became ---\n{second}",
                    f.kind(),
                    rel(&bad)
                )
            });
            seen.push(f.kind());
        }
    }
    m.assert_none("evidence round trip");
    for kind in Kind::scan_kinds() {
        assert!(seen.contains(&kind), "{kind}: no finding of it was round-tripped");
    }
}
