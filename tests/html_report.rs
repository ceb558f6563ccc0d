//! `unwedge scan --html`: the page of a live CLOSE-WAIT leak whose process
//! calls itself `<script>x`, opened in headless Chromium (Debian's package,
//! installed by .ci/install-test-deps.sh). The finding titles are in the
//! DOM, the hostile name is text and not an element, the page's script ran
//! without a console error, nothing is fetched (the page forbids it, and
//! through a proxy that refuses everything the DOM is the same), a
//! screenshot is taken, and the embedded snapshots analyse again.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

/// Runs headless Chromium on the page (its own profile, no sandbox: CI runs as root).
fn browse(chrome: &Path, profile: &Path, page: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(chrome);
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .arg(format!("file://{}", page.display()));
    common::run_with_deadline(&mut cmd, Duration::from_secs(60)).finished()
}

/// Text as the DOM serialiser writes it.
fn dom_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Every `attr="…"` value in the page.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            &rest[..rest.find('"').unwrap_or(rest.len())]
        })
        .collect()
}

#[test]
fn the_html_report_of_a_hostile_leak_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        common::require("chromium (Debian package)", false);
        return;
    };
    let leaky = common::python("leaky_listener.py", &["--count", "12", "--name", "<script>x"]);
    let pid = leaky.ready["pid"].as_u64().unwrap();
    let port = leaky.ready["port"].as_u64().unwrap().to_string();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim_end(), "<script>x", "prctl(PR_SET_NAME) took");

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let snap = dir.path().join("snap.json");
    let out = common::run_with_deadline(
        common::unwedge()
            .args(["scan", "--json", "--port", &port, "--html"])
            .arg(&page)
            .arg("--save-snapshot")
            .arg(&snap),
        Duration::from_secs(60),
    )
    .finished();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let titles: Vec<String> =
        report["findings"].as_array().unwrap().iter().map(|f| f["title"].as_str().unwrap().to_string()).collect();
    assert!(titles.iter().any(|t| t.contains("<script>x")), "the leak is named after its comm: {titles:?}");

    // The file itself: escaped, self-contained.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script>x"), "the comm reached the page unescaped");
    assert!(html.contains("&lt;script&gt;x"));
    assert_eq!(html.matches("<script").count(), 3, "report JSON, snapshots JSON, the page's own script");
    assert!(attr_values(&html, "src").is_empty(), "nothing is loaded from anywhere");
    for href in attr_values(&html, "href") {
        assert!(href.starts_with('#'), "a link out of the page: {href}");
    }
    for fetch in ["http://", "https://", "url(", "@import", "fetch(", "XMLHttpRequest"] {
        assert!(!html.contains(fetch), "{fetch} in the page");
    }

    // In Chromium: the DOM has every title as text, the script ran, the console is clean.
    let profile = tempfile::tempdir().unwrap();
    let dom_run = browse(&chrome, profile.path(), &page, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom_run.stdout).into_owned();
    let log = String::from_utf8_lossy(&dom_run.stderr).into_owned();
    assert!(dom.contains("data-js=\"ok\""), "the page's script did not finish: {log}");
    for t in &titles {
        assert!(dom.contains(&dom_text(t)), "title missing from the DOM: {t}");
    }
    assert!(!dom.contains("<script>x"), "an element made of the comm");
    for bad in ["Uncaught", "Refused to", "Content Security Policy", "ERR_"] {
        assert!(!log.contains(bad), "{bad} in Chromium's log:\n{log}");
    }

    // A proxy that refuses every connection: nothing is lost, since nothing is fetched.
    let proxied = browse(&chrome, profile.path(), &page, &["--dump-dom", "--proxy-server=127.0.0.1:9"]);
    assert_eq!(String::from_utf8_lossy(&proxied.stdout), dom, "the page differs without a network");

    // A screenshot, wide and phone-sized (kept in target/ for a person to look at).
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (name, size) in [("html-report-desktop.png", "1280,2200"), ("html-report-phone.png", "390,1600")] {
        let png = shots.join(name);
        let _ = std::fs::remove_file(&png);
        browse(
            &chrome,
            profile.path(),
            &page,
            &[&format!("--screenshot={}", png.display()), &format!("--window-size={size}")],
        );
        let bytes = std::fs::read(&png).unwrap_or_default();
        assert!(bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG"), "{name}: no screenshot");
        eprintln!("screenshot: {}", png.display());
    }

    // The page is a bug report: its embedded snapshots analyse again.
    let again = common::run_with_deadline(
        common::unwedge().args(["scan", "--json", "--from-snapshot"]).arg(&page),
        Duration::from_secs(30),
    )
    .finished();
    assert_eq!(again.status.code(), Some(1), "{}", String::from_utf8_lossy(&again.stderr));
    let back: Value = serde_json::from_slice(&again.stdout).unwrap();
    let kinds = |r: &Value| r["findings"].as_array().unwrap().iter().map(|f| f["kind"].clone()).collect::<Vec<_>>();
    assert!(kinds(&back).contains(&Value::from("close_wait_leak")));

    // Without --save-snapshot the page has the report only, and says so when re-read.
    let bare = dir.path().join("bare.html");
    common::run_with_deadline(
        common::unwedge().args(["scan", "--port", &port, "--html"]).arg(&bare),
        Duration::from_secs(60),
    )
    .finished();
    let html = std::fs::read_to_string(&bare).unwrap();
    assert_eq!(html.matches("<script").count(), 2);
    let err = common::run_with_deadline(
        common::unwedge().args(["scan", "--from-snapshot"]).arg(&bare),
        Duration::from_secs(30),
    )
    .finished();
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("without embedded snapshots"));
}
