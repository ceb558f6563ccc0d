//! Every scan kind has its Prometheus series: a real `unwedge serve` on a
//! free loopback port, after its first background scan, exports
//! `unwedge_findings{kind="<name>",severity=…}` for each of
//! `Kind::scan_kinds()` — zero when there is no such finding, so a dashboard
//! shows 0 rather than a gap. The other per-kind checks (detector file,
//! registry, fixture pair) are in crates/analyze/tests/kinds.rs, its page in tests/docs.rs.

mod serve_support;

use serve_support::Server;
use std::time::{Duration, Instant};
use unwedge_model::Kind;

#[test]
fn every_scan_kind_has_a_findings_series() {
    let server = Server::start(&[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let m = server.get("/metrics");
        assert_eq!(m.status, 200, "{m:?}");
        if m.body.contains("unwedge_findings{") {
            break m.body;
        }
        assert!(Instant::now() < deadline, "no unwedge_findings series 30 s after start:\n{}", m.body);
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut missing = Vec::new();
    for kind in Kind::scan_kinds() {
        for severity in ["info", "warning", "critical"] {
            let series = format!("unwedge_findings{{kind=\"{}\",severity=\"{severity}\"}}", kind.name());
            if !body.lines().any(|l| l.starts_with(&series)) {
                missing.push(series);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "/metrics lacks {missing:?}: src/serve/metrics.rs must export a zero for every Kind::scan_kinds(), not a list of its own"
    );
}
