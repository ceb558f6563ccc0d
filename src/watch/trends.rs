//! The counts behind "is it getting worse": for every process and listener
//! that a finding names, one sample per cycle of its queue depth, CLOSE-WAIT
//! sockets, unanswered requests, stuck threads and open fds, kept in ring
//! buffers. Counts come from the scan itself where it has them (so a count
//! keeps moving after its finding resolves: the leak drained to 0, the
//! process gone), else from the findings' evidence.

use super::{measure, MAX_SERIES_ENTITIES, TREND_POINTS};
use std::collections::{BTreeMap, HashSet, VecDeque};
use unwedge_model::{About, Evidence, Kind, Report, Scan, TcpState};

/// A process or a listener a finding named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    Process(u32),
    /// `netns` None is the host's namespace.
    Listener {
        port: u16,
        netns: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    QueueDepth,
    CloseWait,
    Unanswered,
    StuckThreads,
    OpenFds,
}

impl Metric {
    pub const ALL: [Metric; 5] =
        [Metric::QueueDepth, Metric::CloseWait, Metric::Unanswered, Metric::StuckThreads, Metric::OpenFds];

    pub fn label(self) -> &'static str {
        match self {
            Metric::QueueDepth => "accept queue",
            Metric::CloseWait => "CLOSE-WAIT",
            Metric::Unanswered => "unanswered",
            Metric::StuckThreads => "stuck threads",
            Metric::OpenFds => "open fds",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One entity's history.
#[derive(Debug, Clone)]
pub struct Series {
    pub entity: Entity,
    /// "leaky_listener (pid 4242)", "port 5000".
    pub label: String,
    /// Unix ms of the last cycle a current finding named it.
    pub last_hot_ms: u64,
    /// A finding of the latest cycle names it.
    pub hot: bool,
    pub first_seen_ms: u64,
    /// Metrics its findings are about; others show only once non-zero.
    wanted: [bool; 5],
    /// One ring per metric; None: not known in that cycle (process gone).
    samples: [VecDeque<Option<u64>>; 5],
    /// Latest limit to show beside a value (a listener's backlog, a soft fd limit).
    pub limit: [Option<u64>; 5],
}

impl Series {
    /// The samples of `m`, oldest first.
    pub fn samples(&self, m: Metric) -> &VecDeque<Option<u64>> {
        &self.samples[m.index()]
    }

    /// Metrics worth a line: those its findings are about, and the trouble
    /// counts (CLOSE-WAIT, unanswered, stuck) that were non-zero in the
    /// window. Open fds and queue depth of a healthy one say nothing.
    pub fn shown(&self) -> Vec<Metric> {
        Metric::ALL
            .into_iter()
            .filter(|&m| {
                self.wanted[m.index()]
                    || (!matches!(m, Metric::OpenFds | Metric::QueueDepth)
                        && self.samples[m.index()].iter().any(|s| s.unwrap_or(0) > 0))
            })
            .collect()
    }
}

pub struct Trends {
    keep_ms: u64,
    series: BTreeMap<Entity, Series>,
}

impl Trends {
    pub fn new(keep_ms: u64) -> Trends {
        Trends { keep_ms, series: BTreeMap::new() }
    }

    /// Series, those named by a current finding first, then by first appearance.
    pub fn series(&self) -> Vec<&Series> {
        let mut v: Vec<&Series> = self.series.values().collect();
        v.sort_by_key(|s| (!s.hot, s.first_seen_ms, s.entity));
        v
    }

    /// Samples held in all (the bounded-memory test).
    #[cfg(test)]
    pub fn points(&self) -> usize {
        self.series.values().map(|s| s.samples.iter().map(VecDeque::len).sum::<usize>()).sum()
    }

    pub fn observe(&mut self, at_ms: u64, scan: Option<&Scan>, report: &Report) {
        for s in self.series.values_mut() {
            s.hot = false;
        }
        // Which entities the findings name now, with the metrics they are about.
        for f in &report.findings {
            let mut named = Vec::new();
            if let Some(pid) = f.pid {
                let want = match f.kind() {
                    Kind::CloseWaitLeak => Some(Metric::CloseWait),
                    Kind::StuckThread => Some(Metric::StuckThreads),
                    Kind::FdExhaustion => Some(Metric::OpenFds),
                    _ => None,
                };
                let label = match &f.comm {
                    Some(c) => format!("{c} ({pid})"),
                    None => format!("pid {pid}"),
                };
                named.push((Entity::Process(pid), label, want));
            }
            if let (Some(port), About::Listener) = (f.port, f.kind().about()) {
                let want = if f.kind() == "unanswered_requests" { Metric::Unanswered } else { Metric::QueueDepth };
                named.push((Entity::Listener { port, netns: f.netns }, format!("port {port}"), Some(want)));
            }
            for (entity, label, want) in named {
                if !self.series.contains_key(&entity) {
                    if self.series.len() >= MAX_SERIES_ENTITIES {
                        continue;
                    }
                    self.series.insert(
                        entity,
                        Series {
                            entity,
                            label: String::new(),
                            last_hot_ms: at_ms,
                            hot: true,
                            first_seen_ms: at_ms,
                            wanted: [false; 5],
                            samples: Default::default(),
                            limit: [None; 5],
                        },
                    );
                }
                let s = self.series.get_mut(&entity).expect("inserted above");
                s.label = label;
                s.last_hot_ms = at_ms;
                s.hot = true;
                if let Some(m) = want {
                    s.wanted[m.index()] = true;
                }
            }
        }
        let keep = self.keep_ms;
        self.series.retain(|_, s| at_ms.saturating_sub(s.last_hot_ms) <= keep);
        if self.series.is_empty() {
            return;
        }
        let counts = Counts::new(scan, report, &self.series);
        for s in self.series.values_mut() {
            for m in Metric::ALL {
                let (value, limit) = counts.get(s.entity, m);
                let ring = &mut s.samples[m.index()];
                if ring.len() == TREND_POINTS {
                    ring.pop_front();
                }
                ring.push_back(value);
                if limit.is_some() {
                    s.limit[m.index()] = limit;
                }
            }
        }
    }
}

/// One cycle's counts for the followed entities.
struct Counts {
    /// From the scan, when there is one.
    scan: Option<ScanCounts>,
    /// From the findings: (entity, metric) -> value.
    findings: BTreeMap<(Entity, Metric), u64>,
}

#[derive(Default)]
struct ScanCounts {
    /// pid -> (CLOSE-WAIT sockets, open fds, soft limit); absent: the process is gone.
    procs: BTreeMap<u32, (u64, u64, Option<u64>)>,
    /// (port, netns) -> (queued, backlog); absent: no such listener any more.
    listeners: BTreeMap<(u16, u64), (u64, u64)>,
    host_netns: u64,
}

impl Counts {
    fn new(scan: Option<&Scan>, report: &Report, series: &BTreeMap<Entity, Series>) -> Counts {
        let mut findings: BTreeMap<(Entity, Metric), u64> = BTreeMap::new();
        for f in &report.findings {
            let value = measure(f).map(|(_, v)| v).unwrap_or(1);
            match (&f.evidence, f.pid) {
                (Evidence::CloseWaitLeak(_), Some(pid)) => {
                    findings.insert((Entity::Process(pid), Metric::CloseWait), value);
                }
                (Evidence::StuckThread(_), Some(pid)) => {
                    *findings.entry((Entity::Process(pid), Metric::StuckThreads)).or_default() += 1;
                }
                (Evidence::FdExhaustion(_), Some(pid)) => {
                    findings.insert((Entity::Process(pid), Metric::OpenFds), value);
                }
                _ => {}
            }
            if let (Some(port), About::Listener) = (f.port, f.kind().about()) {
                let m = if f.kind() == "unanswered_requests" { Metric::Unanswered } else { Metric::QueueDepth };
                let e = findings.entry((Entity::Listener { port, netns: f.netns }, m)).or_default();
                *e = (*e).max(value);
            }
        }
        let scan = scan.and_then(|s| s.snapshots.last()).map(|last| {
            let mut c = ScanCounts { host_netns: last.host_netns, ..ScanCounts::default() };
            let pids: HashSet<u32> = series
                .keys()
                .filter_map(|e| match e {
                    Entity::Process(p) => Some(*p),
                    _ => None,
                })
                .collect();
            let ports: HashSet<u16> = series
                .keys()
                .filter_map(|e| match e {
                    Entity::Listener { port, .. } => Some(*port),
                    _ => None,
                })
                .collect();
            let mut close_wait: HashSet<u64> = HashSet::new();
            for s in &last.sockets {
                match s.state {
                    TcpState::CloseWait if !pids.is_empty() => {
                        close_wait.insert(s.inode);
                    }
                    TcpState::Listen if ports.contains(&s.local_port) => {
                        // For a listener the kernel reports queued connections in recv_q, the backlog in send_q.
                        let e = c.listeners.entry((s.local_port, s.netns)).or_default();
                        e.0 += u64::from(s.recv_q);
                        e.1 += u64::from(s.send_q);
                    }
                    _ => {}
                }
            }
            for p in last.processes.iter().filter(|p| pids.contains(&p.pid)) {
                let cw = p.sockets.iter().filter(|s| close_wait.contains(&s.inode)).count() as u64;
                c.procs.insert(p.pid, (cw, u64::from(p.fd_count), p.nofile_soft));
            }
            c
        });
        Counts { scan, findings }
    }

    /// The value of `m` for `e` this cycle, and a limit to show beside it.
    fn get(&self, e: Entity, m: Metric) -> (Option<u64>, Option<u64>) {
        let from_findings = self.findings.get(&(e, m)).copied();
        let Some(scan) = &self.scan else {
            return (Some(from_findings.unwrap_or(0)), None);
        };
        match (e, m) {
            (Entity::Process(pid), Metric::CloseWait) => (scan.procs.get(&pid).map(|c| c.0), None),
            (Entity::Process(pid), Metric::OpenFds) => match scan.procs.get(&pid) {
                Some(c) => (Some(c.1), c.2),
                None => (None, None),
            },
            (Entity::Listener { port, netns }, Metric::QueueDepth) => {
                match scan.listeners.get(&(port, netns.unwrap_or(scan.host_netns))) {
                    Some(&(q, backlog)) => (Some(q), Some(backlog)),
                    None => (None, None),
                }
            }
            (Entity::Process(pid), _) if !scan.procs.contains_key(&pid) => (None, None),
            // Counts only the findings know (stuck threads, unanswered requests).
            _ => (Some(from_findings.unwrap_or(0)), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::*;
    use super::*;

    #[test]
    fn follows_named_entities_and_keeps_counting_after_resolution() {
        let mut t = Trends::new(10_000);
        t.observe(0, None, &report(vec![]));
        assert_eq!(t.points(), 0, "nothing named, nothing kept");
        t.observe(1_000, None, &report(vec![close_wait(7, 5000, 20)]));
        t.observe(2_000, None, &report(vec![close_wait(7, 5000, 40)]));
        t.observe(3_000, None, &report(vec![]));
        let s = t.series();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].label, "leaky (7)");
        assert!(!s[0].hot);
        let cw: Vec<Option<u64>> = s[0].samples(Metric::CloseWait).iter().copied().collect();
        assert_eq!(cw, vec![Some(20), Some(40), Some(0)]);
        assert_eq!(s[0].shown(), vec![Metric::CloseWait]);
        // Forgotten once it was cold for longer than keep.
        t.observe(12_000, None, &report(vec![]));
        assert_eq!(t.series().len(), 1);
        t.observe(12_001, None, &report(vec![]));
        assert_eq!(t.series().len(), 0);
    }

    #[test]
    fn listeners_and_stuck_threads() {
        let mut t = Trends::new(10_000);
        t.observe(1, None, &report(vec![stalled(3, 8080, 5), stuck(3, 4), stuck(3, 5)]));
        let s = t.series();
        let listener = s.iter().find(|s| matches!(s.entity, Entity::Listener { port: 8080, .. })).unwrap();
        assert_eq!(listener.samples(Metric::QueueDepth).back(), Some(&Some(5)));
        let process = s.iter().find(|s| s.entity == Entity::Process(3)).unwrap();
        assert_eq!(process.samples(Metric::StuckThreads).back(), Some(&Some(2)));
        assert_eq!(process.shown(), vec![Metric::StuckThreads]);
    }
}
