//! `serve --record DIR`, live: a CLOSE-WAIT leak starts on this host while
//! serve records, and is then "fixed" by killing the process. The
//! recording (DIR/ID/: its page and its snapshots, 0600) stays listed and
//! served; its page opens in headless Chromium and names the cause; `scan
//! --from-snapshot DIR/ID` gives the same finding; /metrics counts it. And a full disk (a tmpfs the
//! test mounts): no file, torn or whole, and serve goes on serving.

mod common;
mod serve_support;

use serde_json::Value;
use serve_support::Server;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

/// The DOM of `page` as headless Chromium builds it (its own profile, no sandbox: CI runs as root).
fn dom(chrome: &Path, profile: &Path, page: &Path) -> String {
    let mut cmd = Command::new(chrome);
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()));
    let out = common::run_with_deadline(&mut cmd, Duration::from_secs(120)).finished();
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The recordings serve lists.
fn recordings(server: &Server) -> Vec<Value> {
    let r = server.get("/v1/recordings");
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["recordings"].as_array().cloned().unwrap_or_default()
}

/// Bytes of the files under `dir`, at any depth.
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                bytes_under(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_incident_killed_by_hand_leaves_its_recording() {
    let Some(chrome) = chromium() else {
        common::require("chromium (Debian package)", false);
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recordings");
    let rec_arg = rec.to_str().unwrap();
    // A short cooldown: this host's other incidents (other tests) must not use up the burst.
    let server = Server::start(&["--record", rec_arg, "--record-max", "2G", "--record-cooldown", "1s"]);
    assert_eq!(mode(&rec), 0o700, "the directory serve made");
    let leaky = common::python("leaky_listener.py", &["--count", "12"]);
    let pid = leaky.ready["pid"].as_u64().unwrap();
    let who = format!("(pid {pid})");

    // Recorded once the leak is seen: a recording whose page names the process.
    let mut found: Option<(String, Value)> = None;
    let seen = common::wait_until(Duration::from_secs(180), || {
        for r in recordings(&server) {
            let id = r["id"].as_str().unwrap().to_string();
            if !r["kinds"].as_array().unwrap().iter().any(|k| k == "close_wait_leak") {
                continue;
            }
            let page = server.get(&format!("/v1/recordings/{id}"));
            if page.status == 200 && page.body.contains(&who) {
                assert!(page.head.contains("content-type: text/html"), "{}", page.head);
                assert!(page.head.contains("content-security-policy:"), "{}", page.head);
                found = Some((id, r));
                return true;
            }
        }
        false
    });
    assert!(seen, "no recording of the leak of pid {pid} within 180 s: {:?}", recordings(&server));
    let (id, meta) = found.unwrap();
    for key in ["id", "time", "headline", "kinds", "bytes"] {
        assert!(!meta[key].is_null(), "{key} missing in {meta}");
    }

    // "Fixed" the usual way: killed. The evidence stays.
    drop(leaky);
    let gone = common::wait_until(Duration::from_secs(120), || {
        let scan = server.get("/v1/scan");
        scan.status == 200 && !scan.body.contains(&format!("\"pid\":{pid},"))
    });
    assert!(gone, "serve still reports pid {pid} after it was killed");
    assert!(recordings(&server).iter().any(|r| r["id"] == id.as_str()), "the recording is no longer listed");
    let page = server.get(&format!("/v1/recordings/{id}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&who));

    let recording = rec.join(&id);
    assert_eq!(mode(&recording), 0o700);
    let file = recording.join("page.html");
    let snapshots = recording.join("snapshots.json.gz");
    for f in [&file, &snapshots] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(bytes_under(&recording), meta["bytes"].as_u64().unwrap());
    let gz = server.get(&format!("/v1/recordings/{id}/snapshots.json.gz"));
    assert_eq!(gz.status, 200);
    assert!(gz.head.contains("content-type: application/gzip"), "{}", gz.head);
    let html = dom(&chrome, &dir.path().join("profile"), &file);
    assert!(html.contains("close_wait_leak"), "the page in Chromium does not name the cause");
    assert!(html.contains(&who), "the page in Chromium does not name pid {pid}");

    // Today's detectors on the recording: the same finding.
    let (report, code) =
        common::scan_json(&["--from-snapshot", recording.to_str().unwrap(), "--pid", &pid.to_string()]);
    assert_eq!(code, 1, "{report}");
    let f = common::findings(&report, "close_wait_leak");
    assert!(f.iter().any(|f| f["pid"] == pid && f["severity"] == "warning"), "{report}");

    // /metrics is rendered with each scan; recordings land in between: wait for the two to agree.
    let metric = |body: &str, name: &str| -> Option<u64> {
        body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    let mut last = String::new();
    let agree = common::wait_until(Duration::from_secs(60), || {
        last = server.get("/metrics").body;
        metric(&last, "unwedge_recording_bytes") == Some(bytes_under(&rec))
    });
    assert!(agree, "unwedge_recording_bytes is not what {} holds ({}):\n{last}", rec.display(), bytes_under(&rec));
    assert!(metric(&last, "unwedge_recordings_total").is_some_and(|n| n >= 1), "{last}");
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "unwedge-test", dir.path().to_str()?])
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_leaves_no_file_and_serve_keeps_serving() {
    let fs = Tmpfs::mount("64k");
    if !common::require("root, to mount a tmpfs", fs.is_some()) {
        return;
    }
    let fs = fs.unwrap();
    let mnt = fs.dir.path();
    // Fill it: a few KiB left, far less than a recording's page.
    let filler = mnt.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 60 * 1024]);
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/analyze/src/kinds/close_wait_leak/bad.json");
    let server = Server::start(&["--from-snapshot", fixture, "--record", mnt.to_str().unwrap(), "--record-max", "1M"]);
    let failed = common::wait_until(Duration::from_secs(60), || {
        server.get("/metrics").body.lines().any(|l| l == "unwedge_recording_errors_total 1")
    });
    assert!(failed, "no failed recording counted: {}", server.get("/metrics").body);
    // Whole or absent: nothing but the filler, no temporary file left.
    let names: Vec<String> =
        std::fs::read_dir(mnt).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["filler"], "a torn or temporary file was left");
    assert!(recordings(&server).is_empty());
    for path in ["/healthz", "/metrics", "/v1/scan", "/"] {
        assert_eq!(server.get(path).status, 200, "{path} after the failed recording");
    }
    let scans = |s: &Server| s.get("/healthz").json()["scans"].as_u64().unwrap();
    let before = scans(&server);
    assert!(common::wait_until(Duration::from_secs(30), || scans(&server) > before), "scans stopped");
    drop(server);
}
