//! Golden tests of `/metrics`: `unwedge serve --from-snapshot F` for every
//! recorded fixture (see golden_support), scraped once its first scan is in,
//! against tests/snapshots/. A renamed series, a changed label or a count
//! that moved shows as a diff to review.
//!
//! Normalised: the series of one family are sorted (the encoder writes them
//! in hash order); masked: the build facts (version, commit, build date) and
//! the scan's own duration, the only values that change between two runs.
//!
//! To accept a deliberate change: `INSTA_UPDATE=always cargo test --test
//! golden_metrics`, then review `git diff tests/snapshots`.

mod common;
mod golden_support;
mod serve_support;

use serve_support::Server;
use std::time::Duration;

/// Sorted series within each family; build facts and scan duration masked.
fn normalise(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut samples: Vec<String> = Vec::new();
    let flush = |out: &mut Vec<String>, samples: &mut Vec<String>| {
        samples.sort();
        out.append(samples);
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut out, &mut samples);
            out.push(line.to_string());
        } else if line.starts_with("unwedge_build_info{") {
            samples.push("unwedge_build_info{[build facts]} 1".into());
        } else if let Some(rest) = line.strip_prefix("unwedge_scan_duration_seconds ") {
            assert!(rest.parse::<f64>().is_ok(), "{line}");
            samples.push("unwedge_scan_duration_seconds [duration]".into());
        } else if !line.is_empty() {
            samples.push(line.to_string());
        }
    }
    flush(&mut out, &mut samples);
    out.join("\n") + "\n"
}

#[test]
fn normalise_sorts_series_and_masks_build_and_duration() {
    let text = "# HELP a x\n# TYPE a gauge\na{p=\"2\"} 1\na{p=\"1\"} 5\n# HELP unwedge_build_info b\n\
        unwedge_build_info{version=\"9\",commit=\"abc\"} 1\nunwedge_scan_duration_seconds 0.25\n# EOF\n";
    assert_eq!(
        normalise(text),
        "# HELP a x\n# TYPE a gauge\na{p=\"1\"} 5\na{p=\"2\"} 1\n# HELP unwedge_build_info b\n\
         unwedge_build_info{[build facts]} 1\nunwedge_scan_duration_seconds [duration]\n# EOF\n"
    );
}

/// /metrics once the first scan of the fixture is in.
fn metrics(path: &std::path::Path) -> String {
    let server = Server::start(&["--from-snapshot", path.to_str().unwrap()]);
    let mut body = String::new();
    let ready = common::wait_until(Duration::from_secs(30), || {
        let r = server.get("/metrics");
        body = r.body;
        r.status == 200 && body.contains("unwedge_findings{")
    });
    assert!(ready, "no scan in /metrics within 30 s: {body}");
    body
}

#[test]
fn metrics_of_every_recorded_fixture() {
    let fixtures = golden_support::fixtures();
    assert!(fixtures.len() >= 20, "found only {} fixtures: {fixtures:?}", fixtures.len());
    let mut failed = Vec::new();
    for f in &fixtures {
        let result = std::panic::catch_unwind(|| {
            let text = normalise(&metrics(&f.path));
            insta::with_settings!({ description => f.shown(), omit_expression => true }, {
                insta::assert_snapshot!(f.name.as_str(), text);
            });
        });
        if result.is_err() {
            failed.push(f.name.clone());
        }
    }
    assert!(failed.is_empty(), "/metrics changed for {failed:?} (the diffs are above); if intended: INSTA_UPDATE=always cargo test --test golden_metrics, and review git diff tests/snapshots");
    golden_support::no_orphan_snapshots("golden_metrics", &fixtures);
}
