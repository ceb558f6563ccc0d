//! Nothing secret leaves in what is shared: a process runs with a
//! credential of every pattern of `unwedge_model::redact` in its command
//! line (and ignores SIGTERM, so that its finding, sigterm_blocked, shows
//! that command line). No output unwedge produces holds any of them: the
//! human and JSON reports, `scan --html` and `--save-snapshot`, `watch`,
//! serve's /v1/scan, page, metrics and recordings, `stop --capture` and its
//! report; every file it writes is 0600. With `--no-redact` they are all
//! there, and the page's header says so.

mod common;
mod serve_support;

use serve_support::Server;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// Every secret carries this, so one search finds any of them.
const MARK: &str = "hunter2";

/// One argument per pattern.
const ARGS: &[&str] = &[
    "--db-password=hunter2a",
    "--password",
    "hunter2b",
    "API_TOKEN=hunter2c",
    "APP_SECRET_VALUE=hunter2d",
    "postgres://app:hunter2e@db:5432/shop",
    "https://api.example/x?user=bob&token=hunter2f",
    "-Djavax.net.ssl.keyStorePassword=hunter2g",
    "Authorization: Bearer hunter2h",
    "mysql",
    "-phunter2i",
    "curl",
    "-u",
    "admin:hunter2j",
];

fn secret_process() -> common::Child {
    let mut args = vec!["ignore"];
    args.extend_from_slice(ARGS);
    common::python("sigterm_modes.py", &args)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `what` holds no secret, and (non-vacuous) shows the redaction when `redacted` is expected.
fn clean(what: &str, text: &str) {
    assert!(!text.contains(MARK), "{what} holds a secret:\n{}", &text[text.find(MARK).unwrap().saturating_sub(200)..]);
}

fn run(args: &[&str]) -> (String, String) {
    let out = common::run_with_deadline(common::unwedge().args(args), Duration::from_secs(180)).finished();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn no_output_holds_a_credential_from_a_command_line() {
    let victim = secret_process();
    let pid = victim.pid().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (html, snap) = (dir.path().join("report.html"), dir.path().join("snap.json"));

    let (human, _) = run(&["scan", "--pid", &pid, "--color", "never"]);
    assert!(human.contains("sigterm_blocked"), "{human}");
    clean("scan (human)", &human);
    let (json, _) = run(&["scan", "--pid", &pid, "--json"]);
    assert!(json.contains("‹redacted›"), "the finding's cmdline shows no redaction: {json}");
    clean("scan --json", &json);
    run(&["scan", "--pid", &pid, "--html", html.to_str().unwrap(), "--save-snapshot", snap.to_str().unwrap()]);
    for f in [&html, &snap] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
        clean(&f.display().to_string(), &std::fs::read_to_string(f).unwrap());
    }
    assert!(std::fs::read_to_string(&html).unwrap().contains("--db-password=‹redacted›"));
    let (events, _) = run(&["watch", "--json", "--count", "1", "--pid", &pid]);
    assert!(events.contains("sigterm_blocked"), "{events}");
    clean("watch --json", &events);

    let rec = dir.path().join("rec");
    let server = Server::start(&["--record", rec.to_str().unwrap(), "--record-cooldown", "1s", "--record-max", "2G"]);
    let mut recorded = String::new();
    let ok = common::wait_until(Duration::from_secs(180), || {
        let list = server.get("/v1/recordings");
        for r in list.json()["recordings"].as_array().cloned().unwrap_or_default() {
            let page = server.get(&format!("/v1/recordings/{}", r["id"].as_str().unwrap()));
            if page.body.contains(&format!("(pid {pid})")) {
                recorded = page.body;
                return true;
            }
        }
        false
    });
    assert!(ok, "no recording of pid {pid}");
    clean("a recording (API)", &recorded);
    for path in ["/v1/scan", "/", "/metrics", "/v1/recordings", &format!("/v1/scan?pid={pid}")] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        clean(path, &r.body);
    }
    for e in std::fs::read_dir(&rec).unwrap() {
        let recording = e.unwrap().path();
        assert_eq!(mode(&recording), 0o700, "{}", recording.display());
        let page = recording.join("page.html");
        assert_eq!(mode(&page), 0o600);
        clean(&page.display().to_string(), &std::fs::read_to_string(&page).unwrap());
        let gz = recording.join("snapshots.json.gz");
        assert_eq!(mode(&gz), 0o600);
        // The snapshots, as scan --from-snapshot --no-redact reads them back: verbatim, and clean.
        let (verbatim, _) = run(&["scan", "--from-snapshot", recording.to_str().unwrap(), "--no-redact", "--json"]);
        clean(&gz.display().to_string(), &verbatim);
    }
    drop(server);

    let capture = dir.path().join("capture.html");
    let (stopped, _) = run(&["stop", &pid, "--grace", "1s", "--json", "--capture", capture.to_str().unwrap()]);
    clean("stop --json", &stopped);
    assert!(stopped.contains("‹redacted›"), "stop's report shows the targets' command line: {stopped}");
    assert_eq!(mode(&capture), 0o600);
    let captured = std::fs::read_to_string(&capture).unwrap();
    assert!(captured.contains("sigterm_blocked"));
    clean("stop --capture", &captured);
}

#[test]
fn no_redact_keeps_everything_and_says_so() {
    let victim = secret_process();
    let pid = victim.pid().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (html, snap) = (dir.path().join("report.html"), dir.path().join("snap.json"));
    let args = ["scan", "--pid", &pid, "--no-redact", "--html", html.to_str().unwrap(), "--save-snapshot"];
    run(&[&args[..], &[snap.to_str().unwrap()]].concat());
    let saved = std::fs::read_to_string(&snap).unwrap();
    for secret in ["hunter2a", "hunter2b", "hunter2e", "hunter2h", "hunter2i", "hunter2j"] {
        assert!(saved.contains(secret), "--no-redact lost {secret}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Not redacted (--no-redact)"), "the page's header does not say so");
    assert!(page.contains("hunter2a"));
    // Loaded again without --no-redact, a verbatim snapshot is redacted.
    let (json, _) = run(&["scan", "--from-snapshot", snap.to_str().unwrap(), "--pid", &pid, "--json"]);
    assert!(json.contains("sigterm_blocked"), "{json}");
    clean("scan --from-snapshot of a --no-redact snapshot", &json);
    // And the redacted page says nothing of it.
    let (_, _) = run(&["scan", "--pid", &pid, "--html", html.to_str().unwrap()]);
    assert!(!std::fs::read_to_string(&html).unwrap().contains("Not redacted"));
}
