//! `unwedge explain`: the list, one kind's page with its story, and an
//! unknown kind (one line, exit 2), on the real binary.

mod common;

use unwedge_model::Kind;

fn run(args: &[&str]) -> (String, String, i32) {
    let out = common::unwedge().args(args).output().expect("run unwedge");
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn the_list_has_one_line_per_kind() {
    let (out, err, code) = run(&["explain"]);
    assert_eq!(code, 0, "{err}");
    for k in Kind::ALL {
        let lines: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with(&format!("{k} "))).collect();
        assert_eq!(lines.len(), 1, "{k}: {lines:?}\n{out}");
        assert!(lines[0].len() > k.name().len() + 20, "{k}: no summary: {:?}", lines[0]);
    }
}

#[test]
fn a_kind_prints_its_page_and_its_story() {
    let (out, err, code) = run(&["explain", "blocked_signal"]);
    assert_eq!(code, 0, "{err}");
    for s in [
        "# `blocked_signal`",
        "## What it means",
        "## The kernel facts it rests on",
        "## The false alarms it avoids",
        "## The fix",
        "## The story behind it",
        "uWSGI",
    ] {
        assert!(out.contains(s), "{s:?} missing:\n{out}");
    }
    assert!(!out.contains("]("), "a markdown link left in:\n{out}");
    // As people type it.
    let (same, _, code) = run(&["explain", "Blocked-Signal"]);
    assert_eq!((code, same), (0, out));
}

#[test]
fn an_unknown_kind_is_one_line_and_exit_2() {
    let (out, err, code) = run(&["explain", "x"]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err, "unwedge: unknown kind 'x'; `unwedge explain` lists them\n");
}
