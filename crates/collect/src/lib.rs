//! The only part of unwedge that reads the OS. It turns /proc and netlink
//! sock_diag into a plain [`Snapshot`]; it never decides what is wrong.

pub mod cgroups;
mod error;
mod look;
pub mod mounts;
pub mod netns;
pub mod parse;
pub mod proc_one;
pub mod sock_diag;
pub mod sys;
pub mod unix_diag;
pub mod walk;

pub use error::CollectError;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use unwedge_model::{HostTasks, Scan, Snapshot, Socket};
pub use walk::{CacheStats, Detail};

pub fn is_root() -> bool {
    sys::is_root()
}

/// One snapshot of the whole host: every process and every TCP socket (and
/// the unix sockets a finding can use) of every network namespace a process
/// lives in, every process read in full.
pub fn snapshot() -> Result<Snapshot, CollectError> {
    snapshot_within(walk::Budget { detail: Detail::Full, ..Default::default() })
}

/// [`snapshot`] within a budget: a process whose /proc files hang is put in
/// `skipped` ("timed out reading /proc"), and past `budget.until` the walk
/// reads no more processes (they are listed as skipped too).
pub fn snapshot_within(budget: walk::Budget) -> Result<Snapshot, CollectError> {
    snapshot_cached(budget, None)
}

/// A collector that keeps running (`serve`, `watch`): each snapshot reads
/// again only what can have changed since the last one (see
/// [`walk::cache`]): the fds and detail of a process that did not run come
/// from the cache, the rest is read whole every time.
#[derive(Default)]
pub struct Collector {
    cache: walk::ProcCache,
}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    /// One snapshot of the whole host, as [`snapshot_within`] takes it.
    pub fn snapshot(&mut self, budget: walk::Budget) -> Result<Snapshot, CollectError> {
        snapshot_cached(budget, Some(&mut self.cache))
    }

    /// `snap` brought up to date with a second look at what `plan` names
    /// (the processes read again, the sockets of one filtered dump per
    /// namespace), the rest as it was.
    pub fn look(
        &mut self,
        snap: Snapshot,
        plan: &unwedge_model::LookPlan,
        budget: walk::Budget,
    ) -> Result<Snapshot, CollectError> {
        look::look(snap, plan, budget, &mut self.cache)
    }

    /// What the cache did so far.
    pub fn stats(&self) -> walk::CacheStats {
        self.cache.stats
    }

    /// Processes held in the cache now.
    pub fn cached_processes(&self) -> usize {
        self.cache.len()
    }
}

fn snapshot_cached(budget: walk::Budget, mut cache: Option<&mut walk::ProcCache>) -> Result<Snapshot, CollectError> {
    let self_pid = std::process::id();
    let mut snap = Snapshot {
        taken_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        uptime_s: read_uptime().unwrap_or(0.0),
        clk_tck: sys::clock_ticks(),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        arch: std::env::consts::ARCH.into(),
        ..Default::default()
    };
    snap.resolv_conf = std::fs::read("/etc/resolv.conf").ok().map(|b| parse::resolv::parse(&b));
    snap.host_netns = std::fs::read_link("/proc/thread-self/ns/net")
        .ok()
        .and_then(|l| parse::sysctl::ns_inode(l.as_os_str().as_encoded_bytes()))
        .unwrap_or(0);

    // The socket dumps and the /proc walk are independent: run them on
    // both cores at once, the host's namespace first, then the others
    // processes are in now.
    let host_ns = snap.host_netns;
    let until = budget.until;
    let connections = match budget.detail {
        Detail::Full => unix_diag::Connections::Always,
        Detail::Needed => unix_diag::Connections::WhenQueued,
    };
    let host_dump = std::thread::Builder::new().name("sock-diag".into()).spawn(move || {
        let mut notes = Vec::new();
        let (ns, sockets, unix) = netns::collect_here_with_unix(host_ns, connections, &mut notes);
        let early = netns::collect_foreign(host_ns, until, connections);
        (ns, sockets, unix, notes, early)
    });
    let mut walk = walk::walk_cached(self_pid, budget, walk::read_job, cache.as_deref_mut())?;
    if walk.denied_fds > 0 {
        snap.notes.push(format!(
            "{} processes' fds were not readable: their sockets have no owner here (run as root, or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH)",
            walk.denied_fds
        ));
    }
    // Read while the host's socket dump still runs on the other core.
    snap.cgroups = cgroups::read_all(std::mem::take(&mut walk.cgroup_sets), &walk.processes, &mut snap.notes);
    snap.tasks = host_tasks();
    snap.memory_pressure = std::fs::read("/proc/pressure/memory").ok().and_then(|b| parse::cgroup::psi(&b));
    snap.cpu_pressure = std::fs::read("/proc/pressure/cpu").ok().and_then(|b| parse::cgroup::psi(&b));
    let online = std::fs::read("/sys/devices/system/cpu/online").ok();
    let online = online.as_deref().map(parse::trim).and_then(|t| std::str::from_utf8(t).ok());
    snap.online_cpus = online.map(|t| unwedge_model::cpu::cpu_list(t).len() as u32).filter(|&n| n > 0);
    keep_narrow_cpu_lists(&mut walk.processes, online);

    // One representative process per foreign namespace.
    let mut foreign: BTreeMap<u64, u32> = BTreeMap::new();
    for p in &walk.processes {
        if p.netns != 0 && p.netns != snap.host_netns {
            foreign.entry(p.netns).or_insert(p.pid);
        }
    }
    let (host, sockets, unix, mut early) = match host_dump.map(|h| h.join()) {
        Ok(Ok((ns, sockets, unix, notes, early))) => {
            snap.notes.extend(notes);
            (ns, sockets, unix, early)
        }
        // No thread to spare, or it panicked: dump here instead.
        _ => {
            let (ns, sockets, unix) = netns::collect_here_with_unix(snap.host_netns, connections, &mut snap.notes);
            (ns, sockets, unix, BTreeMap::new())
        }
    };
    snap.netns.push(host);
    snap.sockets = sockets;
    snap.unix_sockets = unix;
    for (inode, pid) in foreign {
        // Dumped during the walk, or now: a namespace that appeared since,
        // or whose early dump failed through another process (which may
        // have moved on; the same one would fail again).
        let collected = match early.remove(&inode) {
            Some((early_pid, done)) if done.is_ok() || early_pid == pid => done,
            _ => netns::collect_in(pid, inode, budget.until, connections),
        };
        match collected {
            Ok((ns, mut socks, unix, notes)) => {
                snap.netns.push(ns);
                snap.unix_sockets.extend(unix);
                // Never two copies of a million sockets: the smaller list moves into the larger.
                if socks.len() > snap.sockets.len() {
                    socks.splice(0..0, snap.sockets.drain(..));
                    snap.sockets = socks;
                } else {
                    snap.sockets.extend(socks);
                }
                snap.notes.extend(notes);
            }
            Err(e) => snap.notes.push(format!("netns {inode} (of pid {pid}) not scanned: {e}")),
        }
    }
    snap.sockets.shrink_to_fit();

    // Pass two, now that the sockets are known: the rest of each process a
    // finding can be about.
    let pids = match budget.detail {
        Detail::Full => walk.processes.iter().filter(|p| p.brief).map(|p| p.pid).collect(),
        Detail::Needed => worth_reading_in_full(&walk, &snap),
    };
    walk::add_detail_cached(&mut walk, &pids, budget, walk::read_full, cache.as_deref_mut().map(|c| &mut c.stats))?;
    if let Some(c) = cache {
        c.rebuild(&walk.processes, &walk.info);
    }
    snap.processes = walk.processes;
    snap.skipped = walk.skipped;
    read_resolvers(&mut snap);
    mounts::read(&mut snap);
    Ok(snap)
}

/// Keeps a process's allowed CPUs only where they are fewer than those
/// online (taskset, a cpuset): where it competes for a part of the host.
fn keep_narrow_cpu_lists(processes: &mut [unwedge_model::Process], online: Option<&str>) {
    let Some(online) = online else {
        // Without the online list nothing says which lists are narrower.
        processes.iter_mut().for_each(|p| p.cpus_allowed = None);
        return;
    };
    let all = unwedge_model::cpu::cpu_list(online).len();
    for p in processes {
        // Nearly every process may use every CPU: the same text, not counted.
        let wide =
            p.cpus_allowed.as_deref().is_none_or(|l| l == online || unwedge_model::cpu::cpu_list(l).len() >= all);
        if wide {
            p.cpus_allowed = None;
        }
    }
}

/// The processes a finding can be about, beyond those whose own state
/// already says so (`walk.want_detail`: a thread blocking or with a signal
/// pending, stopped or in D, SIGTERM ignored): holders of a TCP socket
/// (every socket finding, stuck threads with work waiting) or of a DNS
/// query's UDP socket (a thread waiting on a resolver), parents of zombies
/// (`zombie` describes the parent's main thread), children of a stopped
/// process (`process_stopped` names those blocked writing to it), and
/// socket holders in a namespace that could not be dumped (their sockets
/// may be TCP); and, around a unix listener with connections waiting, its
/// owners, queued clients, workers and their clients
/// (`unix_diag::worth_reading`). What the rest lack — cmdline, per-thread
/// CPU times, wchan, syscall, stack — no detector reads for a process it
/// does not report.
fn worth_reading_in_full(walk: &walk::Walk, snap: &Snapshot) -> Vec<u32> {
    let mut inet: Vec<u64> = snap.sockets.iter().map(|s: &Socket| s.inode).filter(|&i| i != 0).collect();
    inet.extend(snap.netns.iter().flat_map(|n| n.dns_sockets.iter().map(|d| d.inode)));
    inet.extend(unix_diag::worth_reading(&snap.unix_sockets));
    inet.sort_unstable();
    let mut parents: Vec<u32> = walk
        .processes
        .iter()
        .filter(|p| p.state == 'Z' || p.threads.iter().any(|t| matches!(t.state, 'T' | 't' | 'D')))
        .map(|p| if p.state == 'Z' { p.ppid } else { p.pid })
        .collect();
    parents.sort_unstable();
    let dumped = |ns: u64| ns == 0 || snap.netns.iter().any(|n| n.inode == ns);
    walk.processes
        .iter()
        .filter(|p| p.brief)
        .filter(|p| {
            walk.want_detail.binary_search(&p.pid).is_ok()
                || (p.state != 'Z' && parents.binary_search(&p.pid).is_ok())
                || parents.binary_search(&p.ppid).is_ok()
                || p.sockets.iter().any(|s| inet.binary_search(&s.inode).is_ok())
                || (!p.sockets.is_empty() && !dumped(p.netns))
        })
        .map(|p| p.pid)
        .collect()
}

/// The resolv.conf a process with a DNS query in flight sees, read through
/// /proc/PID/root (its mount namespace: a container's own file), kept where
/// it differs from the host's. Only those few processes are read.
fn read_resolvers(snap: &mut Snapshot) {
    let dns: std::collections::HashSet<u64> =
        snap.netns.iter().flat_map(|n| n.dns_sockets.iter().map(|d| d.inode)).collect();
    if dns.is_empty() {
        return;
    }
    let host = snap.resolv_conf.clone();
    let pids: Vec<u32> =
        snap.processes.iter().filter(|p| p.sockets.iter().any(|s| dns.contains(&s.inode))).map(|p| p.pid).collect();
    // A root on a hung NFS or FUSE mount would block the open forever: read
    // on a helper thread and give up on it after a second.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::Builder::new().name("resolv-conf".into()).spawn(move || {
        for pid in pids {
            let mut buf = Vec::new();
            let path = format!("/proc/{pid}/root/etc/resolv.conf");
            if walk::read_capped(&path, &mut buf, walk::SMALL_CAP).is_ok()
                && tx.send((pid, parse::resolv::parse(&buf))).is_err()
            {
                return;
            }
        }
    });
    if reader.is_err() {
        return;
    }
    let until = Instant::now() + std::time::Duration::from_secs(1);
    while let Ok((pid, rc)) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        if Some(&rc) != host.as_ref() {
            if let Some(p) = snap.processes.iter_mut().find(|p| p.pid == pid) {
                p.resolv_conf = Some(rc);
            }
        }
    }
}

/// Tasks (threads included) that exist, from /proc/loadavg's
/// "running/total", against kernel.pid_max and kernel.threads-max.
fn host_tasks() -> Option<HostTasks> {
    let load = std::fs::read_to_string("/proc/loadavg").ok()?;
    let tasks = load.split_whitespace().nth(3)?.split_once('/')?.1.parse().ok()?;
    let num = |p: &str| std::fs::read(p).ok().and_then(|b| parse::sysctl::single(&b));
    Some(HostTasks {
        tasks,
        pid_max: num("/proc/sys/kernel/pid_max"),
        threads_max: num("/proc/sys/kernel/threads-max"),
    })
}

pub(crate) fn read_uptime() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/uptime").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Two snapshots `interval` apart (one if it is zero).
pub fn scan(interval: Duration) -> Result<Scan, CollectError> {
    scan_until(interval, None)
}

/// [`scan`] that finishes by `until` with what it has: the walks stop
/// reading processes at `until`, and a second snapshot that could not
/// start before it is not taken (a note says so).
pub fn scan_until(interval: Duration, until: Option<Instant>) -> Result<Scan, CollectError> {
    scan_with(&ScanOptions { interval, until, ..Default::default() })
}

/// How [`scan_with`] takes its snapshots.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanOptions {
    /// Between the starts of the two snapshots; zero takes one.
    pub interval: Duration,
    /// Finish by then with what there is.
    pub until: Option<Instant>,
    /// Read every process in full, or only those a finding can be about.
    pub detail: Detail,
    /// Applied to the first snapshot as soon as it is taken, before the
    /// second: what the analysis keeps for its comparison
    /// (`unwedge_analyze::keep_for_comparison`), so that a scan does not
    /// hold two whole snapshots at once.
    pub trim_first: Option<fn(&mut Snapshot)>,
    /// Keep command lines verbatim (`--no-redact`) instead of redacting
    /// what looks like a credential (`unwedge_model::redact`).
    pub keep_secrets: bool,
    /// Applied to the first snapshot after `trim_first`, before the wait:
    /// what other readers add while it is fresh (the pipeline reads each
    /// JVM's hsperfdata counters, to compare them with the last snapshot's).
    pub after_first: Option<fn(&mut Snapshot)>,
}

/// [`scan_until`] with every option.
pub fn scan_with(o: &ScanOptions) -> Result<Scan, CollectError> {
    let (interval, until) = (o.interval, o.until);
    let budget = walk::Budget { until, detail: o.detail, keep_secrets: o.keep_secrets, ..Default::default() };
    let started = Instant::now();
    let mut first = snapshot_within(budget)?;
    if let (false, Some(trim)) = (interval.is_zero(), o.trim_first) {
        trim(&mut first);
    }
    if let (false, Some(add)) = (interval.is_zero(), o.after_first) {
        add(&mut first);
    }
    let mut snapshots = vec![first];
    if !interval.is_zero() {
        // Snapshots start `interval` apart (each process is read at about the
        // same offset into its snapshot), so the wait excludes the first
        // snapshot's own time: a whole scan costs interval + one snapshot.
        let second_at = started + interval;
        if until.is_some_and(|u| second_at.max(Instant::now()) >= u) {
            snapshots[0]
                .notes
                .push("deadline too close for a second snapshot: findings that need two were skipped".into());
        } else {
            std::thread::sleep(second_at.saturating_duration_since(Instant::now()));
            snapshots.push(snapshot_within(budget)?);
        }
    }
    Ok(Scan { snapshots })
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::Process;

    #[test]
    fn only_narrow_cpu_lists_are_kept() {
        let p = |pid, l: Option<&str>| Process { pid, cpus_allowed: l.map(String::from), ..Default::default() };
        let mut ps = vec![p(1, Some("0-3")), p(2, Some("1")), p(3, Some("0,1,2,3")), p(4, None), p(5, Some("2-3"))];
        keep_narrow_cpu_lists(&mut ps, Some("0-3"));
        let kept: Vec<(u32, Option<&str>)> = ps.iter().map(|p| (p.pid, p.cpus_allowed.as_deref())).collect();
        assert_eq!(kept, [(1, None), (2, Some("1")), (3, None), (4, None), (5, Some("2-3"))]);
        keep_narrow_cpu_lists(&mut ps, None);
        assert!(ps.iter().all(|p| p.cpus_allowed.is_none()), "nothing to compare with");
    }
}
