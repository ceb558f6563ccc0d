//! The cgroups a scan's processes are in, read once per cgroup directory
//! (never per process): the walk read each process's /proc/PID/cgroup, and
//! here every distinct directory those name, with its ancestors up to the
//! root (a Kubernetes pod's limit sits on the pod's cgroup, above its
//! containers'), has its controllers' limits read. Counters are read only
//! where a limit is set: a host with 300 unlimited systemd services costs
//! one small read per service and controller.
//!
//! v1, v2 and hybrid hosts: each /proc/PID/cgroup line names its hierarchy
//! by its controllers, and /proc/self/mountinfo says where each hierarchy is
//! mounted (and which part of it, inside a container).

use crate::parse::{self, cgroup::Mount};
use std::collections::{BTreeSet, HashMap};
use unwedge_model::{
    parent_path, CgroupDir, CgroupSet, Cgroups, Container, ContainerName, CpuStat, MemoryStat, PidsStat, Process,
};

/// More directories than this and the rest are not read (a note says so).
const MAX_DIRS: usize = 4096;
/// Container state files are small; a huge one is not read.
const STATE_FILE_CAP: usize = 4 << 20;

/// The controllers unwedge reads; other v1 hierarchies (devices, blkio,
/// name=systemd) only name the cgroup. (A frozen cgroup is read by the
/// walk, for the few processes that look stopped: `Process::frozen`.)
const READ: &[&str] = &["pids", "cpu", "memory"];

pub fn mounts() -> Vec<Mount> {
    std::fs::read("/proc/self/mountinfo").map(|b| parse::cgroup::mountinfo(&b)).unwrap_or_default()
}

/// Where the directory of `path` in the hierarchy of `controllers` ("" for
/// v2) is on disk, if that hierarchy is mounted and the path lies inside
/// the mounted part.
pub fn dir_of(mounts: &[Mount], controllers: &str, path: &str) -> Option<String> {
    let m = if controllers.is_empty() {
        mounts.iter().find(|m| m.controllers.is_none())?
    } else {
        let want: Vec<&str> = controllers.split(',').collect();
        mounts.iter().find(|m| m.controllers.as_ref().is_some_and(|c| want.iter().all(|w| c.iter().any(|x| x == w))))?
    };
    let rel = if m.root == "/" {
        path
    } else {
        let rest = path.strip_prefix(m.root.as_str())?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        rest
    };
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some(format!("{}{}", m.point, if rel == "/" { "" } else { rel }))
}

fn read(path: &str, buf: &mut Vec<u8>) -> bool {
    crate::walk::read_capped(path, buf, crate::walk::SMALL_CAP).is_ok()
}

/// Reads one directory: the limit of each controller its hierarchy
/// carries, and that controller's counters only when the limit is set.
fn read_dir(base: &str, controllers: &str, path: &str, buf: &mut Vec<u8>) -> CgroupDir {
    use parse::cgroup::{cpu_max, key_value, max_or_value, psi, v1_memory_limit, v1_quota};
    let v2 = controllers.is_empty();
    let has = |c: &str| v2 || controllers.split(',').any(|x| x == c);
    let f = |name: &str| format!("{base}/{name}");
    let mut d = CgroupDir { controllers: controllers.into(), path: path.into(), ..Default::default() };

    if has("pids") && read(&f("pids.max"), buf) {
        if let Some(Some(max)) = max_or_value(buf) {
            let current = if read(&f("pids.current"), buf) { parse::sysctl::single(buf).unwrap_or(0) } else { 0 };
            let events_max = if read(&f("pids.events"), buf) { key_value(buf, "max") } else { None };
            d.pids = Some(PidsStat { current, max: Some(max), events_max });
        }
    }

    if has("cpu") {
        let limit = if v2 {
            if read(&f("cpu.max"), buf) {
                cpu_max(buf)
            } else {
                None
            }
        } else if read(&f("cpu.cfs_quota_us"), buf) {
            v1_quota(buf).map(|q| {
                let period = if read(&f("cpu.cfs_period_us"), buf) {
                    parse::sysctl::single(buf).unwrap_or(100_000)
                } else {
                    100_000
                };
                (q, period)
            })
        } else {
            None
        };
        if let Some((Some(quota), period)) = limit {
            let mut c = CpuStat { quota_us: Some(quota), period_us: period, ..Default::default() };
            if read(&f("cpu.stat"), buf) {
                c.nr_periods = key_value(buf, "nr_periods").unwrap_or(0);
                c.nr_throttled = key_value(buf, "nr_throttled").unwrap_or(0);
                c.throttled_us = if v2 {
                    key_value(buf, "throttled_usec").unwrap_or(0)
                } else {
                    key_value(buf, "throttled_time").unwrap_or(0) / 1000
                };
            }
            d.cpu = Some(c);
            // Its tasks' wait for a CPU: a quota, or a cpuset, too small for the load.
            if v2 && read(&f("cpu.pressure"), buf) {
                d.cpu_pressure = psi(buf);
            }
        }
    }

    if has("memory") {
        let (limit, high) = if v2 {
            let max = if read(&f("memory.max"), buf) { max_or_value(buf).flatten() } else { None };
            let high = if read(&f("memory.high"), buf) { max_or_value(buf).flatten() } else { None };
            (max, high)
        } else {
            (if read(&f("memory.limit_in_bytes"), buf) { v1_memory_limit(buf).flatten() } else { None }, None)
        };
        if limit.is_some() || high.is_some() {
            let mut m = MemoryStat { limit, high, ..Default::default() };
            let usage_file = if v2 { "memory.current" } else { "memory.usage_in_bytes" };
            if read(&f(usage_file), buf) {
                m.usage = parse::sysctl::single(buf).unwrap_or(0);
            }
            // memory.stat is the costly file (the kernel flushes its
            // statistics first): only where usage is near the limit, the
            // only case its anon / cache split decides anything.
            let near = limit.or(high).is_some_and(|l| m.usage as f64 >= 0.9 * l as f64);
            if near && read(&f("memory.stat"), buf) {
                let (anon, file) = if v2 { ("anon", "file") } else { ("total_rss", "total_cache") };
                m.anon = key_value(buf, anon);
                m.file = key_value(buf, file);
            }
            if v2 {
                if read(&f("memory.events"), buf) {
                    m.events_high = key_value(buf, "high");
                    m.events_max = key_value(buf, "max");
                    m.events_oom = key_value(buf, "oom");
                    m.oom_kill = key_value(buf, "oom_kill");
                }
                if read(&f("memory.pressure"), buf) {
                    d.memory_pressure = psi(buf);
                }
                if read(&f("cpu.pressure"), buf) {
                    d.cpu_pressure = psi(buf);
                }
            } else {
                if read(&f("memory.failcnt"), buf) {
                    m.failcnt = parse::sysctl::single(buf);
                }
                if read(&f("memory.oom_control"), buf) {
                    m.oom_kill = key_value(buf, "oom_kill");
                    m.under_oom = key_value(buf, "under_oom").map(|v| v != 0);
                }
            }
            d.memory = Some(m);
        }
    }

    d
}

/// The limits of every cgroup that `sets` name (and their ancestors).
pub fn read_all(sets: Vec<CgroupSet>, processes: &[Process], notes: &mut Vec<String>) -> Cgroups {
    let mounts = mounts();
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    for e in sets.iter().flat_map(|s| &s.entries) {
        if !(e.is_v2() || READ.iter().any(|c| e.has(c))) {
            continue;
        }
        let mut p = e.path.as_str();
        while p != "/" && !p.is_empty() {
            wanted.insert((e.controllers.clone(), p.to_string()));
            p = parent_path(p).unwrap_or("/");
        }
    }
    let mut buf = Vec::with_capacity(4096);
    let mut dirs = Vec::new();
    let mut skipped = 0;
    for (controllers, path) in &wanted {
        if dirs.len() >= MAX_DIRS {
            skipped += 1;
            continue;
        }
        let Some(base) = dir_of(&mounts, controllers, path) else { continue };
        let d = read_dir(&base, controllers, path, &mut buf);
        if d.pids.is_some() || d.cpu.is_some() || d.memory.is_some() {
            dirs.push(d);
        }
    }
    if skipped > 0 {
        notes.push(format!("{skipped} cgroup directories beyond the first {MAX_DIRS} were not read"));
    }
    hybrid_memory_pressure(&sets, &mounts, &mut dirs, &mut buf);
    let used: BTreeSet<u32> = processes.iter().filter_map(|p| p.cgroup).collect();
    let sets: Vec<CgroupSet> = sets.into_iter().filter(|s| used.contains(&s.id)).collect();
    let names = container_names(&sets);
    Cgroups { sets, dirs, names }
}

/// On a hybrid host the memory limit is a v1 directory's, but PSI exists
/// only in the v2 tree: read the v2 memory.pressure (and cpu.pressure) of
/// the sets whose memory is limited.
fn hybrid_memory_pressure(sets: &[CgroupSet], mounts: &[Mount], dirs: &mut Vec<CgroupDir>, buf: &mut Vec<u8>) {
    let limited: BTreeSet<String> =
        dirs.iter().filter(|d| !d.controllers.is_empty() && d.memory.is_some()).map(|d| d.path.clone()).collect();
    if limited.is_empty() {
        return;
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    for s in sets {
        let Some(mem) = s.entries.iter().find(|e| !e.is_v2() && e.has("memory")) else { continue };
        let in_limited =
            std::iter::successors(Some(mem.path.as_str()), |p| parent_path(p)).any(|p| limited.contains(p));
        let Some(v2) = s.entries.iter().find(|e| e.is_v2()) else { continue };
        if !in_limited || v2.path == "/" || !done.insert(v2.path.clone()) {
            continue;
        }
        let Some(base) = dir_of(mounts, "", &v2.path) else { continue };
        if !read(&format!("{base}/memory.pressure"), buf) {
            continue;
        }
        let Some(p) = parse::cgroup::psi(buf) else { continue };
        let cpu = if read(&format!("{base}/cpu.pressure"), buf) { parse::cgroup::psi(buf) } else { None };
        match dirs.iter_mut().find(|d| d.controllers.is_empty() && d.path == v2.path) {
            Some(d) => (d.memory_pressure, d.cpu_pressure) = (Some(p), cpu),
            None => dirs.push(CgroupDir {
                controllers: String::new(),
                path: v2.path.clone(),
                memory_pressure: Some(p),
                cpu_pressure: cpu,
                ..Default::default()
            }),
        }
    }
}

/// Container names, pods and namespaces from the runtimes' state files,
/// for the containers the cgroup paths name. Local files only.
fn container_names(sets: &[CgroupSet]) -> Vec<ContainerName> {
    let mut seen: HashMap<String, Option<String>> = HashMap::new();
    for e in sets.iter().flat_map(|s| &s.entries) {
        if let Some(c) = Container::from_cgroup(&e.path) {
            if let Some(id) = c.id {
                seen.entry(id).or_insert(c.runtime);
            }
        }
    }
    let mut out = Vec::new();
    for (id, runtime) in seen {
        if let Some(n) = state_file_name(&id, runtime.as_deref()) {
            out.push(n);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn read_state(path: &str) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() as usize > STATE_FILE_CAP {
        return None;
    }
    std::fs::read(path).ok()
}

fn state_file_name(id: &str, runtime: Option<&str>) -> Option<ContainerName> {
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tries: &[(&str, &str)] = &[
        ("docker", "/var/lib/docker/containers/{id}/config.v2.json"),
        ("containerd", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json"),
        ("docker", "/run/containerd/io.containerd.runtime.v2.task/moby/{id}/config.json"),
        ("cri-o", "/run/containers/storage/overlay-containers/{id}/userdata/config.json"),
        ("cri-o", "/var/lib/containers/storage/overlay-containers/{id}/userdata/config.json"),
    ];
    for (rt, pattern) in tries {
        if runtime.is_some_and(|r| r != *rt && !(r == "podman" && *rt == "cri-o")) {
            continue;
        }
        let path = pattern.replace("{id}", id);
        if let Some(text) = read_state(&path) {
            let rt = if runtime == Some("podman") { "podman" } else { rt };
            if let Some(n) = parse::container_state::name(id, rt, &text) {
                return Some(n);
            }
        }
    }
    if runtime == Some("podman") {
        for path in [
            "/var/lib/containers/storage/overlay-containers/containers.json",
            "/run/containers/storage/overlay-containers/containers.json",
        ] {
            if let Some(text) = read_state(path) {
                if let Some(n) = parse::container_state::storage_name(id, &text) {
                    return Some(n);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ctl: Option<&[&str]>, root: &str, point: &str) -> Mount {
        Mount {
            controllers: ctl.map(|c| c.iter().map(|s| s.to_string()).collect()),
            root: root.into(),
            point: point.into(),
        }
    }

    #[test]
    fn directories_on_disk() {
        let mounts = vec![
            m(Some(&["cpu", "cpuacct"]), "/", "/sys/fs/cgroup/cpu,cpuacct"),
            m(Some(&["pids"]), "/", "/sys/fs/cgroup/pids"),
            m(None, "/", "/sys/fs/cgroup/unified"),
            m(Some(&["memory"]), "/docker/abc", "/sys/fs/cgroup/memory"),
        ];
        assert_eq!(dir_of(&mounts, "pids", "/a/b").as_deref(), Some("/sys/fs/cgroup/pids/a/b"));
        assert_eq!(dir_of(&mounts, "cpu,cpuacct", "/").as_deref(), Some("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(dir_of(&mounts, "", "/x.service").as_deref(), Some("/sys/fs/cgroup/unified/x.service"));
        // Inside a container whose memory hierarchy is bind-mounted from its own cgroup.
        assert_eq!(dir_of(&mounts, "memory", "/docker/abc/sub").as_deref(), Some("/sys/fs/cgroup/memory/sub"));
        assert_eq!(dir_of(&mounts, "memory", "/docker/abcd"), None, "not under the mounted root");
        assert_eq!(dir_of(&mounts, "freezer", "/x"), None, "not mounted");
        assert_eq!(dir_of(&mounts, "pids", "/../../x"), None);
    }

    /// This host: the test creates a pids cgroup (v1 here, or v2 on a
    /// unified host), puts itself in it, and reads it as the scan does.
    #[test]
    fn reads_a_live_pids_cgroup() {
        let mounts = mounts();
        let Some(root) = dir_of(&mounts, "pids", "/").or_else(|| dir_of(&mounts, "", "/")) else {
            eprintln!("no pids hierarchy mounted: skipped");
            return;
        };
        let v2 = dir_of(&mounts, "pids", "/").is_none();
        let name = format!("/unwedge-unit-{}", std::process::id());
        let dir = format!("{root}{name}");
        if std::fs::create_dir(&dir).is_err() {
            eprintln!("cannot create {dir} (not root?): skipped");
            return;
        }
        let ok = std::fs::write(format!("{dir}/pids.max"), "7").is_ok();
        let ctl = if v2 { "" } else { "pids" };
        let mut buf = Vec::new();
        let d = read_dir(&dir, ctl, &name, &mut buf);
        let _ = std::fs::remove_dir(&dir);
        if ok {
            assert_eq!(d.pids, Some(PidsStat { current: 0, max: Some(7), events_max: Some(0) }), "{d:?}");
        }
    }
}
