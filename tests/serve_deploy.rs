//! The deploy kit in deploy/: Prometheus rules pass `promtool check rules`
//! and their unit tests, the example config is valid, the dashboard only
//! queries metrics unwedge serves, and the unit and DaemonSet keep their
//! hardening. promtool comes from Debian's `prometheus` package
//! (.ci/install-test-deps.sh); without it those checks fail under
//! UNWEDGE_REQUIRE_LIVE=1 (CI) and are skipped loudly otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn promtool(args: &[&str], dir: &Path) -> bool {
    let installed = Command::new("promtool").arg("--version").output().is_ok();
    if !common::require(&format!("promtool for `promtool {}` (apt-get install prometheus)", args.join(" ")), installed)
    {
        return false;
    }
    let out = Command::new("promtool").args(args).current_dir(dir).output().expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

const ALERTS: &[&str] = &[
    "CloseWaitLeak",
    "AcceptQueueOverflow",
    "KeepaliveStarvation",
    "BlockedSignal",
    "StuckThread",
    "OrphanPortHolder",
    "FdExhaustion",
];

#[test]
fn alert_rules_check_and_pass_their_unit_tests() {
    let dir = deploy().join("prometheus");
    let rules = std::fs::read_to_string(dir.join("unwedge-rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("unwedge-rules.test.yml")).unwrap();
    for a in ALERTS {
        assert!(rules.contains(&format!("- alert: {a}\n")), "rule {a} missing");
        assert!(tests.contains(&format!("alertname: {a}\n")), "no unit test for {a}");
    }
    if promtool(&["check", "rules", "unwedge-rules.yml"], &dir) {
        promtool(&["test", "rules", "unwedge-rules.test.yml"], &dir);
        promtool(&["check", "config", "prometheus.yml"], &dir);
    }
}

/// Metric names a PromQL expression mentions (words starting with unwedge_).
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("unwedge_"))
        .map(String::from)
        .collect()
}

#[test]
fn dashboard_and_rules_query_only_metrics_unwedge_serves() {
    let served = [
        "unwedge_findings",
        "unwedge_close_wait_sockets",
        "unwedge_blocked_pending_signals",
        "unwedge_stuck_threads",
        "unwedge_listen_queue",
        "unwedge_listen_backlog",
        "unwedge_listen_overflows_total",
        "unwedge_listen_drops_total",
        "unwedge_syn_challenges_total",
        "unwedge_scan_duration_seconds",
        "unwedge_scan_errors_total",
        "unwedge_build_info",
    ];
    let text = std::fs::read_to_string(deploy().join("grafana/unwedge-dashboard.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            exprs.push(t["expr"].as_str().expect("expr").to_string());
        }
    }
    assert!(exprs.len() >= 8);
    let rules = std::fs::read_to_string(deploy().join("prometheus/unwedge-rules.yml")).unwrap();
    exprs.push(rules);
    for e in &exprs {
        for m in metric_names(e) {
            assert!(served.contains(&m.as_str()), "{m} is not a metric unwedge serves (in {e})");
        }
    }
}

#[test]
fn service_unit_and_daemonset_stay_hardened() {
    let unit = std::fs::read_to_string(deploy().join("systemd/unwedge.service")).unwrap();
    for line in [
        "CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH",
        "AmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "DynamicUser=yes",
        "ExecStart=/usr/local/bin/unwedge serve --listen 127.0.0.1:9464 --scan-interval 15s",
    ] {
        assert!(unit.lines().any(|l| l == line), "unwedge.service lacks {line}");
    }
    let ds = std::fs::read_to_string(deploy().join("kubernetes/daemonset.yaml")).unwrap();
    for needle in [
        "hostPID: true",
        "hostNetwork: true",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        "drop: [\"ALL\"]",
        "--token-file=/etc/unwedge/token",
    ] {
        assert!(ds.contains(needle), "daemonset.yaml lacks {needle}");
    }
}
