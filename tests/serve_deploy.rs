//! The deploy kit in deploy/: the Prometheus rules are what `unwedge
//! generate rules` makes from the kind table (an alert per kind, each with
//! a runbook that is a page of the repository), pass `promtool check
//! rules` and their unit tests (a firing and a silent case per kind), the
//! example config is valid, the dashboard shows every kind and only
//! queries metrics unwedge serves, and the unit and DaemonSet keep their
//! hardening and record incidents. promtool comes from Debian's `prometheus` package
//! (.ci/install-test-deps.sh); without it those checks fail under
//! UNWEDGE_REQUIRE_LIVE=1 (CI) and are skipped loudly otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use unwedge_model::Kind;

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

/// The alerts no kind covers (the rest are one per kind, from the table).
const SPECIAL_ALERTS: &[&str] = &[
    "CloseWaitCollisions",
    "ListenOverflows",
    "OldestRequestUnanswered",
    "UnwedgeScanFailing",
    "UnwedgeRecordingFailing",
];

/// `CloseWaitLeak` for `close_wait_leak`.
fn alert_name(kind: Kind) -> String {
    kind.name().split('_').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect()
}

fn generate(args: &[&str]) -> String {
    let out = common::unwedge().arg("generate").arg("rules").args(args).output().expect("run unwedge");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn alert_rules_are_generated_from_the_kind_table_and_pass_their_unit_tests() {
    let dir = deploy().join("prometheus");
    let rules = std::fs::read_to_string(dir.join("unwedge-rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("unwedge-rules.test.yml")).unwrap();
    let regenerate = "regenerate: unwedge generate rules > deploy/prometheus/unwedge-rules.yml; unwedge generate rules --tests > deploy/prometheus/unwedge-rules.test.yml";
    assert!(
        rules == generate(&[]),
        "deploy/prometheus/unwedge-rules.yml is not what the kind table gives ({regenerate})"
    );
    assert!(tests == generate(&["--tests"]), "deploy/prometheus/unwedge-rules.test.yml is stale ({regenerate})");
    let mut alerts: Vec<String> = Vec::new();
    for kind in Kind::scan_kinds() {
        let name = alert_name(kind);
        let rule = rules
            .split("- alert: ")
            .find(|r| r.starts_with(&format!("{name}\n")))
            .unwrap_or_else(|| panic!("no alert for {kind}"));
        assert!(rule.contains(&format!("kind=\"{kind}\"")), "{name}'s expr does not name kind=\"{kind}\"");
        assert!(rule.contains(&format!("for: {}\n", kind.alert_for().unwrap())), "{name}: for");
        for a in ["summary: ", "description: ", "runbook_url: "] {
            assert!(rule.contains(a), "{name} has no {a}");
        }
        assert!(
            rule.contains("unwedge_findings_caused") && rule.contains("ALERTS{"),
            "{name} does not wait for its cause"
        );
        // A firing case (exp_alerts naming it) and a silent one (exp_alerts: []).
        let firing = format!("alertname: {name}\n        exp_alerts:\n          - exp_labels:");
        let silent = format!("alertname: {name}\n        exp_alerts: []");
        assert!(tests.contains(&firing) && tests.contains(&silent), "{name}: a firing and a silent test");
        alerts.push(name);
    }
    for a in SPECIAL_ALERTS {
        assert!(rules.contains(&format!("- alert: {a}\n")), "rule {a} missing");
        assert!(tests.contains(&format!("alertname: {a}\n")), "no unit test for {a}");
        alerts.push(a.to_string());
    }
    assert_eq!(rules.matches("- alert: ").count(), alerts.len(), "an alert neither per kind nor special");
    if promtool(&["check", "rules", "unwedge-rules.yml"], &dir) {
        promtool(&["test", "rules", "unwedge-rules.test.yml"], &dir);
        promtool(&["check", "config", "prometheus.yml"], &dir);
    }
}

/// The `runbook_url: "…"` values of a rules file.
fn runbooks(rules: &str) -> Vec<&str> {
    rules.lines().filter_map(|l| l.trim().strip_prefix("runbook_url: \"")).map(|v| v.trim_end_matches('"')).collect()
}

#[test]
fn every_rule_has_a_runbook_that_is_a_page_in_the_repository() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let rules = std::fs::read_to_string(deploy().join("prometheus/unwedge-rules.yml")).unwrap();
    let urls = runbooks(&rules);
    assert_eq!(urls.len(), rules.matches("- alert: ").count(), "a rule without a runbook_url");
    for url in &urls {
        assert!(root.join(url).is_file(), "runbook_url {url} is no file in the repository");
    }
    for kind in Kind::scan_kinds() {
        assert!(urls.contains(&kind.doc_page()), "{kind}'s runbook is not its page {}", kind.doc_page());
    }
    // With a base, every link is that base and the same path.
    let base = "https://git.example.com/unwedge/blob/main/";
    let based = generate(&["--runbook-base", base]);
    let with_base = runbooks(&based);
    assert_eq!(with_base.len(), urls.len());
    for (b, u) in with_base.iter().zip(&urls) {
        assert_eq!(*b, format!("{base}{u}"));
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
        "unwedge_findings_caused",
        "unwedge_oldest_unanswered_seconds",
        "unwedge_recordings_total",
        "unwedge_recording_errors_total",
        "unwedge_recording_bytes",
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
    // Every kind on the dashboard: findings grouped by kind, no kind left out.
    assert!(
        exprs.iter().any(|e| e.starts_with("sum by (kind) (unwedge_findings{") && !e.contains("kind=")),
        "no panel shows every kind"
    );
    assert!(
        exprs.iter().any(|e| e.contains("unwedge_oldest_unanswered_seconds")),
        "no panel of the oldest unanswered request"
    );
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
        "ExecStart=/usr/local/bin/unwedge serve --listen 127.0.0.1:9464 --scan-interval 15s --record /var/lib/unwedge/recordings --record-max 256M",
        "StateDirectory=unwedge",
        "StateDirectoryMode=0700",
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
        "--record=/var/lib/unwedge/recordings",
        "--record-max=256M",
        "mountPath: /var/lib/unwedge/recordings",
        "path: /var/lib/unwedge/recordings",
    ] {
        assert!(ds.contains(needle), "daemonset.yaml lacks {needle}");
    }
}
