//! Golden tests of the human report: every recorded fixture (the bad half
//! of each kind's pair in crates/analyze/src/kinds/<kind>/, and the
//! fixtures in crates/analyze/tests/fixtures/) rendered by the real binary, `unwedge scan
//! --from-snapshot F --color never`, against tests/snapshots/. A change of
//! wording or layout then shows as a diff to review, not by accident.
//!
//! Only what changes from run to run is redacted: the scan's own duration
//! ("took 0.01 s") and the version. Pids, ports and times come from the
//! recorded file and stay as they are.
//!
//! To accept a deliberate change: `INSTA_UPDATE=always cargo test --test
//! golden_human`, then review `git diff tests/snapshots`. Under CI (CI=true)
//! insta writes nothing and a difference fails.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (snapshot name, fixture file, whether it must raise an alarm).
fn fixtures() -> Vec<(String, PathBuf, Option<bool>)> {
    let dir = root().join("crates/analyze/tests/fixtures");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((format!("fixture-{stem}"), p, None));
        }
    }
    for e in std::fs::read_dir(root().join("crates/analyze/src/kinds")).unwrap() {
        let p = e.unwrap().path().join("bad.json");
        if p.exists() {
            let kind = p.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
            out.push((format!("kind-{kind}"), p, Some(true)));
        }
    }
    out.sort();
    out
}

/// The duration of the scan itself and the version are the only parts of
/// the report that change between two renderings of the same file.
fn redact(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(first) = lines.first_mut() {
        let version = format!("unwedge {} on ", env!("CARGO_PKG_VERSION"));
        if let Some(rest) = first.strip_prefix(&version) {
            *first = format!("unwedge [version] on {rest}");
        }
        if let Some(i) = first.find(", took ") {
            if let Some(j) = first[i..].find(')') {
                first.replace_range(i + ", took ".len()..i + j, "[duration]");
            }
        }
    }
    lines.join("\n") + "\n"
}

fn render(path: &Path) -> (String, Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unwedge"))
        .args(["scan", "--color", "never", "--from-snapshot"])
        .arg(path)
        .env("NO_COLOR", "1")
        .output()
        .expect("run unwedge");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn redaction_keeps_all_but_the_duration_and_version() {
    let got = redact(&format!(
        "unwedge {} on vm at 2026-01-01T00:00:00Z (interval 1.0 s, took 0.37 s)\nsecond line took 3 s)\n",
        env!("CARGO_PKG_VERSION")
    ));
    assert_eq!(
        got,
        "unwedge [version] on vm at 2026-01-01T00:00:00Z (interval 1.0 s, took [duration])\nsecond line took 3 s)\n"
    );
}

#[test]
fn human_report_of_every_recorded_fixture() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 10, "found only {} fixtures: {fixtures:?}", fixtures.len());
    let mut failed = Vec::new();
    for (name, path, alarm) in &fixtures {
        let (stdout, code, stderr) = render(path);
        let result = std::panic::catch_unwind(|| {
            assert_eq!(stderr, "", "{name}: unwedge wrote to stderr");
            match alarm {
                Some(true) => assert_eq!(code, Some(1), "{name}: a bad fixture must exit 1 (an alarm)"),
                _ => assert!(matches!(code, Some(0 | 1)), "{name}: exit {code:?}"),
            }
            assert!(!stdout.contains('\x1b'), "{name}: colour codes with --color never and NO_COLOR=1");
            insta::with_settings!({ description => path.strip_prefix(root()).unwrap().display().to_string(), omit_expression => true }, {
                insta::assert_snapshot!(name.as_str(), redact(&stdout));
            });
        });
        if result.is_err() {
            failed.push(name.clone());
        }
    }
    assert!(failed.is_empty(), "human report changed for {failed:?} (the diffs are above); if intended: INSTA_UPDATE=always cargo test --test golden_human, and review git diff tests/snapshots");

    // A snapshot whose fixture is gone would never be checked again.
    let names: Vec<String> = fixtures.iter().map(|(n, _, _)| format!("golden_human__{n}.snap")).collect();
    for e in std::fs::read_dir(root().join("tests/snapshots")).unwrap() {
        let file = e.unwrap().file_name().to_string_lossy().into_owned();
        if file.starts_with("golden_human__") && file.ends_with(".snap") {
            assert!(names.contains(&file), "tests/snapshots/{file} belongs to no fixture any more: delete it");
        }
    }
}
