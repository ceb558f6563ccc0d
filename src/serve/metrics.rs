//! `/metrics`: the latest report turned into Prometheus series.
//!
//! The text is rendered once per scan (and on a scan error), never per
//! scrape, so a scrape costs one copy of a string. Per-process and per-port
//! series are capped at the top N by value plus one `other` series with the
//! sum of the rest: a host with 5,000 leaky processes must not blow up the
//! TSDB of whoever scrapes it. Per-process series carry the process's
//! container (its name, unit or short id; "" where none is known), under
//! the same cap: the "other" series sums every container's rest.

use crate::build_info;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use unwedge_model::{Evidence, Kind, Report, Scan, TcpState};

/// What one scan contributes to `/metrics`, extracted once so that a later
/// scan error can re-render the same series with a new error count.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// (kind, severity) -> number of findings.
    pub findings: BTreeMap<(Kind, &'static str), i64>,
    pub close_wait: Vec<ProcValue>,
    pub blocked_pending: Vec<ProcValue>,
    pub stuck_threads: Vec<ProcValue>,
    /// Limit findings about a process's cgroup: (limit, value) where limit is
    /// "pids" (percent of pids.max), "cpu_throttled_periods" (percent of
    /// periods throttled), "memory" (percent of the memory limit).
    pub limits: Vec<(&'static str, ProcValue)>,
    /// port -> (queued, backlog), summed over every listener on that port
    /// (SO_REUSEPORT groups, other network namespaces).
    pub listeners: BTreeMap<u16, (i64, i64)>,
    /// A unix listener's path (`@name` for an abstract one) -> (queued,
    /// backlog), summed over the namespaces that have one by that name.
    pub unix_listeners: BTreeMap<String, (i64, i64)>,
    pub listen_overflows: Option<u64>,
    pub listen_drops: Option<u64>,
    pub syn_challenges: Option<u64>,
    pub scan_duration_s: f64,
    /// (kind, severity, kind of its cause) -> findings of that kind and
    /// severity whose first warning or critical cause (of another kind) is
    /// of that kind: what an alert needs to wait while the cause's alert
    /// is pending or firing.
    pub caused: BTreeMap<(Kind, &'static str, Kind), i64>,
    /// port -> seconds the oldest request read and not answered has waited
    /// (0 where none waits), for every port something listens on.
    pub oldest_unanswered: BTreeMap<u16, f64>,
}

/// The flight recorder's counts (`serve --record`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Recordings {
    pub written: u64,
    pub failed: u64,
    /// Bytes of the recordings in the directory now.
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcValue {
    pub pid: u32,
    pub comm: String,
    /// The container's label (name, unit, runtime:shortid, cgroup), or "".
    pub container: String,
    pub value: i64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    kind: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CausedLabels {
    kind: String,
    severity: String,
    caused_by_kind: String,
}

/// pid, comm and, where known, container: a process with no container
/// has no `container` label rather than an empty one.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct ProcLabels {
    pid: String,
    comm: String,
    container: String,
}

impl EncodeLabelSet for ProcLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        let mut v: Vec<(&str, &str)> = vec![("pid", &self.pid), ("comm", &self.comm)];
        if !self.container.is_empty() {
            v.push(("container", &self.container));
        }
        v.encode(encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct LimitLabels {
    limit: String,
    proc: ProcLabels,
}

impl EncodeLabelSet for LimitLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        vec![("limit", self.limit.as_str())].encode(encoder)?;
        self.proc.encode(encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PortLabels {
    port: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: String,
}

/// The facts `unwedge --version` prints (build.rs).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    commit: String,
    build_date: String,
    target: String,
    linkage: String,
}

impl Facts {
    pub fn new(report: &Report, scan: &Scan) -> Facts {
        let mut f = Facts { scan_duration_s: report.duration_ms as f64 / 1000.0, ..Facts::default() };
        let mut stuck: BTreeMap<u32, (String, String, i64)> = BTreeMap::new();
        let by_id: BTreeMap<&str, &unwedge_model::Finding> =
            report.findings.iter().map(|x| (x.id.as_str(), x)).collect();
        for x in &report.findings {
            *f.findings.entry((x.kind(), x.severity.name())).or_default() += 1;
            let cause = x
                .caused_by
                .iter()
                .filter_map(|id| by_id.get(id.as_str()))
                .find(|c| c.severity.is_alarm() && c.kind() != x.kind());
            if let Some(c) = cause {
                *f.caused.entry((x.kind(), x.severity.name(), c.kind())).or_default() += 1;
            }
            let (Some(pid), comm) = (x.pid, x.comm.clone().unwrap_or_default()) else { continue };
            let container = x.container.as_ref().map(|c| c.label()).unwrap_or_default();
            let pv = |value: i64| ProcValue { pid, comm: comm.clone(), container: container.clone(), value };
            match &x.evidence {
                Evidence::CloseWaitLeak(e) => f.close_wait.push(pv(e.close_wait as i64)),
                Evidence::BlockedSignal(e) => f.blocked_pending.push(pv(e.pending_blocked.len() as i64)),
                Evidence::StuckThread(_) => stuck.entry(pid).or_insert((comm, container, 0)).2 += 1,
                Evidence::PidLimit(e) if e.limit == "pids.max" => f.limits.push(("pids", pv(e.percent.round() as i64))),
                Evidence::CpuThrottled(e) => {
                    f.limits.push(("cpu_throttled_periods", pv(e.throttled_periods_pct.round() as i64)))
                }
                Evidence::MemoryPressure(e) => {
                    if let Some(p) = e.percent {
                        f.limits.push(("memory", pv(p.round() as i64)))
                    }
                }
                _ => {}
            }
        }
        f.stuck_threads = stuck
            .into_iter()
            .map(|(pid, (comm, container, value))| ProcValue { pid, comm, container, value })
            .collect();
        if let Some(last) = scan.snapshots.last() {
            for s in last.sockets.iter().filter(|s| s.state == TcpState::Listen) {
                // For a listener the kernel reports queued connections in
                // recv_q and the backlog in send_q.
                let e = f.listeners.entry(s.local_port).or_default();
                e.0 += i64::from(s.recv_q);
                e.1 += i64::from(s.send_q);
            }
            for s in last.unix_sockets.iter().filter(|s| s.state == unwedge_model::UnixState::Listen) {
                let Some(path) = &s.path else { continue };
                let e = f.unix_listeners.entry(path.to_string()).or_default();
                e.0 += i64::from(s.recv_q);
                e.1 += i64::from(s.send_q);
            }
            f.oldest_unanswered = unwedge_analyze::facts::requests::oldest_unanswered(last)
                .into_iter()
                .map(|(port, ms)| (port, ms as f64 / 1000.0))
                .collect();
            if let Some(ns) = last.netns.iter().find(|n| n.inode == last.host_netns) {
                f.listen_overflows = ns.listen_overflows;
                f.listen_drops = ns.listen_drops;
                f.syn_challenges = ns.syn_challenges;
            }
        }
        f
    }
}

/// Label values come from process names, which anyone can set: keep them
/// printable and free of the characters that end or escape a label value.
fn label(s: &str) -> String {
    s.chars().map(|c| if c == '"' || c == '\\' || c.is_control() { '_' } else { c }).collect()
}

/// The top `n` by value (ties: lowest pid), plus the sum of the rest as
/// pid="other" (comm and container "other") when there is a rest.
pub fn cap(mut v: Vec<ProcValue>, n: usize) -> Vec<(ProcLabelsOut, i64)> {
    v.sort_by(|a, b| b.value.cmp(&a.value).then(a.pid.cmp(&b.pid)));
    let rest: i64 = v.iter().skip(n).map(|p| p.value).sum();
    let spilled = v.len() > n;
    let mut out: Vec<(ProcLabelsOut, i64)> = v
        .into_iter()
        .take(n)
        .map(|p| {
            (ProcLabelsOut { pid: p.pid.to_string(), comm: label(&p.comm), container: label(&p.container) }, p.value)
        })
        .collect();
    if spilled {
        let other = || "other".to_string();
        out.push((ProcLabelsOut { pid: other(), comm: other(), container: other() }, rest));
    }
    out
}

/// The label values of one capped per-process series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcLabelsOut {
    pub pid: String,
    pub comm: String,
    pub container: String,
}

/// Encodes the registry for one scan's facts (or none before the first
/// scan), and the recorder's counts when it is on.
pub fn render(facts: Option<&Facts>, scan_errors: u64, top_n: usize, rec: Option<Recordings>) -> String {
    let mut reg = Registry::default();

    let build = Family::<BuildLabels, Gauge>::default();
    build
        .get_or_create(&BuildLabels {
            version: build_info::VERSION.into(),
            commit: build_info::GIT_COMMIT.into(),
            build_date: build_info::BUILD_DATE.into(),
            target: build_info::TARGET.into(),
            linkage: build_info::LINKAGE.into(),
        })
        .set(1);
    reg.register("unwedge_build_info", "unwedge version, git commit, build date, target and linkage; always 1", build);

    let errors = Counter::<u64>::default();
    errors.inc_by(scan_errors);
    reg.register("unwedge_scan_errors", "Background scans that failed", errors);

    if let Some(r) = rec {
        recordings(&mut reg, r);
    }
    if let Some(f) = facts {
        findings(&mut reg, f);
        processes(&mut reg, f, top_n);
        listeners(&mut reg, f, top_n);
        host_counters(&mut reg, f);
    }

    let mut out = String::new();
    encode(&mut out, &reg).expect("writing to a String cannot fail");
    out
}

/// The flight recorder's counts.
fn recordings(reg: &mut Registry, r: Recordings) {
    let written = Counter::<u64>::default();
    written.inc_by(r.written);
    reg.register("unwedge_recordings", "Incident recordings serve --record wrote since it started", written);
    let failed = Counter::<u64>::default();
    failed.inc_by(r.failed);
    reg.register(
        "unwedge_recording_errors",
        "Incident recordings that could not be written (disk full, larger than --record-max)",
        failed,
    );
    let bytes = Gauge::<i64>::default();
    bytes.set(i64::try_from(r.bytes).unwrap_or(i64::MAX));
    reg.register("unwedge_recording_bytes", "Bytes of the recordings in the --record directory", bytes);
}

/// The scan's duration, its findings by kind and severity, and their causes' kinds.
fn findings(reg: &mut Registry, f: &Facts) {
    let duration = Gauge::<f64, AtomicU64>::default();
    duration.set(f.scan_duration_s);
    reg.register(
        "unwedge_scan_duration_seconds",
        "Wall time of the latest scan, both snapshots and analysis",
        duration,
    );

    let findings = Family::<FindingLabels, Gauge>::default();
    // Zeros for every contract kind, so that "no finding" is a 0 on a
    // dashboard rather than a gap, and rate()/changes() work.
    for kind in Kind::scan_kinds().map(Kind::name) {
        for severity in ["info", "warning", "critical"] {
            findings.get_or_create(&FindingLabels { kind: kind.into(), severity: severity.into() }).set(0);
        }
    }
    for ((kind, severity), n) in &f.findings {
        findings.get_or_create(&FindingLabels { kind: kind.name().into(), severity: (*severity).into() }).set(*n);
    }
    reg.register("unwedge_findings", "Findings of the latest scan by kind and severity", findings);

    let caused = Family::<CausedLabels, Gauge>::default();
    for ((kind, severity, cause), n) in &f.caused {
        let l = CausedLabels {
            kind: kind.name().into(),
            severity: (*severity).into(),
            caused_by_kind: cause.name().into(),
        };
        caused.get_or_create(&l).set(*n);
    }
    reg.register(
        "unwedge_findings_caused",
        "Findings of the latest scan by kind and severity whose first warning or critical cause is of caused_by_kind (the report's caused_by): their alert waits while the cause's is pending or firing",
        caused,
    );
}

/// Per-process series, capped at the top N.
fn processes(reg: &mut Registry, f: &Facts, top_n: usize) {
    for (name, help, values) in [
        (
            "unwedge_close_wait_sockets",
            "CLOSE-WAIT sockets held by a process with a close_wait_leak finding",
            &f.close_wait,
        ),
        (
            "unwedge_blocked_pending_signals",
            "Signals pending but blocked in every thread, for processes with a blocked_signal finding",
            &f.blocked_pending,
        ),
        ("unwedge_stuck_threads", "Threads of a process with a stuck_thread finding", &f.stuck_threads),
    ] {
        let fam = Family::<ProcLabels, Gauge>::default();
        for (l, v) in cap(values.clone(), top_n) {
            fam.get_or_create(&ProcLabels { pid: l.pid, comm: l.comm, container: l.container }).set(v);
        }
        reg.register(name, help, fam);
    }

    // Limits around processes: capped per limit like the series above.
    let limits = Family::<LimitLabels, Gauge>::default();
    for which in ["pids", "cpu_throttled_periods", "memory"] {
        let values: Vec<ProcValue> = f.limits.iter().filter(|(w, _)| *w == which).map(|(_, v)| v.clone()).collect();
        for (l, v) in cap(values, top_n) {
            let proc = ProcLabels { pid: l.pid, comm: l.comm, container: l.container };
            limits.get_or_create(&LimitLabels { limit: which.into(), proc }).set(v);
        }
    }
    reg.register(
        "unwedge_limit_percent",
        "Processes with a pid_limit, cpu_throttled or memory_pressure finding: percent of pids.max in use (limit=pids), of CPU quota periods throttled (cpu_throttled_periods), of the memory limit in use (memory)",
        limits,
    );
}

/// Per-port series of the listeners, capped at the top N.
/// The queue and backlog gauges of listeners given in order (`(name,
/// queued, backlog)`, the fullest first): the first `top_n` by name, the
/// rest summed under "other".
fn queues_and_backlogs<N: ToString, L>(
    rows: &[(N, i64, i64)],
    top_n: usize,
    label: impl Fn(String) -> L,
) -> (Family<L, Gauge>, Family<L, Gauge>)
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
{
    let queue = Family::<L, Gauge>::default();
    let backlog = Family::<L, Gauge>::default();
    for (name, q, b) in rows.iter().take(top_n) {
        queue.get_or_create(&label(name.to_string())).set(*q);
        backlog.get_or_create(&label(name.to_string())).set(*b);
    }
    if rows.len() > top_n {
        let (q, b) = rows[top_n..].iter().fold((0, 0), |acc, p| (acc.0 + p.1, acc.1 + p.2));
        queue.get_or_create(&label("other".into())).set(q);
        backlog.get_or_create(&label("other".into())).set(b);
    }
    (queue, backlog)
}

fn listeners(reg: &mut Registry, f: &Facts, top_n: usize) {
    // Listeners: the ports with the fullest queues first.
    let mut ports: Vec<(u16, i64, i64)> = f.listeners.iter().map(|(p, (q, b))| (*p, *q, *b)).collect();
    ports.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let (queue, backlog) = queues_and_backlogs(&ports, top_n, |port| PortLabels { port });
    reg.register("unwedge_listen_queue", "Connections waiting in the accept queues of a port's listeners", queue);
    reg.register("unwedge_listen_backlog", "Accept queue size (backlog) of a port's listeners", backlog);

    // Unix listeners by path, the fullest queues first, as the ports.
    let mut paths: Vec<(&String, i64, i64)> = f.unix_listeners.iter().map(|(p, (q, b))| (p, *q, *b)).collect();
    paths.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let (queue, backlog) = queues_and_backlogs(&paths, top_n, |path| PathLabels { path });
    reg.register(
        "unwedge_unix_listen_queue",
        "Connections waiting in the accept queue of a unix listener, by path (@name: abstract)",
        queue,
    );
    reg.register(
        "unwedge_unix_listen_backlog",
        "Accept queue size (backlog) of a unix listener, by path; connect() fails with EAGAIN past backlog + 1",
        backlog,
    );

    // The oldest first; the rest folded into "other" at their oldest.
    let mut ages: Vec<(u16, f64)> = f.oldest_unanswered.iter().map(|(p, a)| (*p, *a)).collect();
    ages.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let oldest = Family::<PortLabels, Gauge<f64, AtomicU64>>::default();
    for (port, age) in ages.iter().take(top_n) {
        oldest.get_or_create(&PortLabels { port: port.to_string() }).set(*age);
    }
    if ages.len() > top_n {
        let rest = ages[top_n..].iter().map(|a| a.1).fold(0.0, f64::max);
        oldest.get_or_create(&PortLabels { port: "other".into() }).set(rest);
    }
    reg.register(
        "unwedge_oldest_unanswered_seconds",
        "Per listening port: how long the oldest request a server read and has not answered has waited (0: none); grows through a deadlock that fails no request",
        oldest,
    );
}

/// The host's TcpExt counters.
fn host_counters(reg: &mut Registry, f: &Facts) {
    for (name, help, v) in [
        (
            "unwedge_listen_overflows",
            "Host TcpExt ListenOverflows: SYNs dropped because an accept queue was full",
            f.listen_overflows,
        ),
        ("unwedge_listen_drops", "Host TcpExt ListenDrops: SYNs dropped at a listener", f.listen_drops),
        (
            "unwedge_syn_challenges",
            "Host TcpExt TCPSYNChallenge: SYNs that hit an existing connection's 4-tuple (CLOSE-WAIT collisions among them)",
            f.syn_challenges,
        ),
    ] {
        if let Some(v) = v {
            let c = Counter::<u64>::default();
            c.inc_by(v);
            reg.register(name, help, c);
        }
    }
}

/// The same exposition in the classic Prometheus text format (0.0.4), for
/// clients that do not ask for OpenMetrics (curl, `promtool check metrics`):
/// no `# EOF`, and a counter family is named after its `_total` sample.
pub fn to_classic_text(openmetrics: &str) -> String {
    let counters: Vec<&str> =
        openmetrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(&name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::evidence::{BlockedSignal, CloseWaitLeak, StuckThread};
    use unwedge_model::{Coverage, Finding, Severity};

    fn finding(pid: u32, evidence: impl Into<Evidence>) -> Finding {
        let mut f = Finding::new(Severity::Warning, evidence);
        f.pid = Some(pid);
        f.comm = Some(format!("w\"{pid}\n"));
        f
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            unwedge_version: "0".into(),
            host: "h".into(),
            taken_at: String::new(),
            interval_ms: 1000,
            duration_ms: 1200,
            coverage: Coverage::default(),
            findings,
            groups: Vec::new(),
        }
    }

    fn series<'a>(text: &'a str, metric: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(&format!("{metric}{{"))).collect()
    }

    #[test]
    fn cardinality_is_capped_with_an_other_series() {
        let mut fs = Vec::new();
        for pid in 1..=5000u32 {
            fs.push(finding(pid, CloseWaitLeak { close_wait: pid as usize, ..Default::default() }));
            fs.push(finding(pid, BlockedSignal { pending_blocked: vec!["SIGTERM".into()], ..Default::default() }));
            fs.push(finding(pid, StuckThread::default()));
        }
        let facts = Facts::new(&report(fs), &Scan::default());
        let n = 20;
        let text = render(Some(&facts), 0, n, None);
        for m in ["unwedge_close_wait_sockets", "unwedge_blocked_pending_signals", "unwedge_stuck_threads"] {
            let s = series(&text, m);
            assert_eq!(s.len(), n + 1, "{m}");
            assert!(s.iter().any(|l| l.contains("pid=\"other\"")), "{m}");
        }
        // The biggest leaks are named; the rest is summed into "other".
        let cw = series(&text, "unwedge_close_wait_sockets");
        // (A family's series come out in hash order, not in rank order.)
        let top = cw.iter().find(|l| l.contains("pid=\"5000\"")).expect("the biggest leak is named");
        assert!(top.ends_with(" 5000"), "{top}");
        assert!(!cw.iter().any(|l| l.contains("pid=\"4980\"")), "rank 21 must be folded into other");
        let rest: i64 = (1..=4980).sum();
        assert!(cw.iter().any(|l| l.contains("other") && l.ends_with(&format!(" {rest}"))));
        // Hostile comm values cannot break out of the label value.
        assert!(top.contains("comm=\"w_5000_\""), "{top}");
        let f = series(&text, "unwedge_findings");
        assert_eq!(f.len(), Kind::scan_kinds().count() * 3);
        assert!(f.contains(&"unwedge_findings{kind=\"close_wait_leak\",severity=\"warning\"} 5000"), "{f:?}");
    }

    #[test]
    fn per_process_series_carry_the_container_under_the_same_cap() {
        use unwedge_model::evidence::PidLimit;
        use unwedge_model::Container;
        let mut fs = Vec::new();
        for pid in 1..=30u32 {
            let mut x = finding(pid, CloseWaitLeak { close_wait: pid as usize, ..Default::default() });
            x.container = Container::from_cgroup(&format!("/system.slice/app{pid}.service"));
            fs.push(x);
            let mut y = finding(pid, PidLimit { limit: "pids.max".into(), percent: 100.0, ..Default::default() });
            y.container = Container::from_cgroup_or_bare("/batch");
            fs.push(y);
        }
        let text = render(Some(&Facts::new(&report(fs), &Scan::default())), 0, 5, None);
        let cw = series(&text, "unwedge_close_wait_sockets");
        assert_eq!(cw.len(), 6, "{cw:?}");
        assert!(cw.iter().any(|l| l.contains("container=\"app30.service\"") && l.ends_with(" 30")), "{cw:?}");
        assert!(cw.iter().any(|l| l.contains("container=\"other\"")), "{cw:?}");
        let plain = render(
            Some(&Facts::new(
                &report(vec![finding(7, CloseWaitLeak { close_wait: 9, ..Default::default() })]),
                &Scan::default(),
            )),
            0,
            5,
            None,
        );
        let line = series(&plain, "unwedge_close_wait_sockets");
        assert_eq!(line, vec!["unwedge_close_wait_sockets{pid=\"7\",comm=\"w_7_\"} 9"], "no container: no label");
        let lim = series(&text, "unwedge_limit_percent");
        assert_eq!(lim.len(), 6, "{lim:?}");
        assert!(lim.iter().all(|l| l.contains("limit=\"pids\"")), "{lim:?}");
        assert!(lim.iter().any(|l| l.contains("container=\"/batch\"") && l.ends_with(" 100")), "{lim:?}");
    }

    #[test]
    fn causes_of_another_kind_and_the_recorder() {
        let mut cause = finding(7, CloseWaitLeak { close_wait: 9, ..Default::default() });
        cause.id = "f1".into();
        let mut weak = finding(8, CloseWaitLeak::default());
        weak.id = "f2".into();
        weak.severity = Severity::Info;
        let mut effect = finding(7, StuckThread::default());
        effect.id = "f3".into();
        effect.severity = Severity::Critical;
        effect.caused_by = vec!["f2".into(), "f1".into()];
        let mut lone = finding(9, StuckThread::default());
        lone.id = "f4".into();
        lone.caused_by = vec!["f2".into()];
        let rec = Recordings { written: 3, failed: 1, bytes: 4096 };
        let text =
            render(Some(&Facts::new(&report(vec![cause, weak, effect, lone]), &Scan::default())), 0, 5, Some(rec));
        // The info cause is skipped for the warning one; a finding with only an info cause is its own.
        let caused = series(&text, "unwedge_findings_caused");
        assert_eq!(
            caused,
            vec!["unwedge_findings_caused{kind=\"stuck_thread\",severity=\"critical\",caused_by_kind=\"close_wait_leak\"} 1"]
        );
        assert!(text.contains("\nunwedge_recordings_total 3\n"), "{text}");
        assert!(text.contains("\nunwedge_recording_errors_total 1\n"), "{text}");
        assert!(text.contains("\nunwedge_recording_bytes 4096\n"), "{text}");
        assert!(!render(None, 0, 5, None).contains("unwedge_recording"));
    }

    #[test]
    fn before_the_first_scan_only_build_info_and_errors() {
        let text = render(None, 3, 10, None);
        assert!(text.contains("unwedge_build_info{version=\""));
        // The same facts as `unwedge --version`.
        let build = format!(
            "unwedge_build_info{{version=\"{}\",commit=\"{}\",build_date=\"{}\",target=\"{}\",linkage=\"{}\"}} 1",
            build_info::VERSION,
            build_info::GIT_COMMIT,
            build_info::BUILD_DATE,
            build_info::TARGET,
            build_info::LINKAGE
        );
        assert!(text.contains(&build), "{text}");
        assert!(text.contains("unwedge_scan_errors_total 3"));
        assert!(!text.contains("unwedge_findings{"));
        let classic = to_classic_text(&text);
        assert!(classic.contains("# TYPE unwedge_scan_errors_total counter\n"), "{classic}");
        assert!(classic.contains("# HELP unwedge_scan_errors_total "), "{classic}");
        assert!(classic.contains("# TYPE unwedge_build_info gauge\n"), "{classic}");
        assert!(!classic.contains("# EOF"));
    }
}
