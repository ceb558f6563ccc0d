//! cgroup files: /proc/PID/cgroup, the cgroup mounts of
//! /proc/self/mountinfo, and the controllers' small files (one value,
//! "max", "key value" lines, PSI). Samples are from this project's machine
//! (Debian 12 userland, Linux 6.18, hybrid: v1 controllers plus an empty
//! v2 at /sys/fs/cgroup/unified) unless a comment says otherwise.

use super::{dec, trim};
use unwedge_model::{CgroupEntry, Psi};

/// /proc/PID/cgroup: "hierarchy-id:controllers:path" per line. A v2 line
/// is "0::/path" (controllers empty). Lines that do not parse are skipped.
pub fn proc_cgroup(buf: &[u8]) -> Vec<CgroupEntry> {
    let mut out = Vec::new();
    for line in buf.split(|&b| b == b'\n') {
        let mut it = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(ctl), Some(path)) = (it.next(), it.next(), it.next()) else { continue };
        if dec(id).is_none() || !path.starts_with(b"/") {
            continue;
        }
        // v1 lines with no controllers name a hierarchy we cannot use.
        if ctl.is_empty() && id != b"0" {
            continue;
        }
        out.push(CgroupEntry {
            controllers: String::from_utf8_lossy(ctl).into_owned(),
            path: String::from_utf8_lossy(path).into_owned(),
        });
    }
    out
}

/// A cgroup filesystem mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// None for cgroup2; for v1 the super options that name controllers
    /// ("cpu", "cpuacct", "name=systemd").
    pub controllers: Option<Vec<String>>,
    /// The hierarchy path mounted there ("/" on the host; a container's
    /// own cgroup when the mount is a bind of it).
    pub root: String,
    pub point: String,
}

/// The known v1 controller names; other super options ("rw", "xattr",
/// "release_agent=…", "nsdelegate") are mount flags.
const CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "blkio",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The cgroup and cgroup2 mounts of a mountinfo file:
/// "36 25 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu".
pub fn mountinfo(buf: &[u8]) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in buf.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let Some((pre, post)) = text.split_once(" - ") else { continue };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (root, point) = (unescape(pre[3]), unescape(pre[4]));
        match post[0] {
            "cgroup2" => out.push(Mount { controllers: None, root, point }),
            "cgroup" => {
                let ctl: Vec<String> = post[2]
                    .split(',')
                    .filter(|o| CONTROLLERS.contains(o) || o.starts_with("name="))
                    .map(String::from)
                    .collect();
                if !ctl.is_empty() {
                    out.push(Mount { controllers: Some(ctl), root, point });
                }
            }
            _ => {}
        }
    }
    out
}

/// mountinfo writes space, tab, newline and backslash as \040 etc.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A value file that may say "max" (pids.max, memory.max, memory.high):
/// Some(None) for "max", Some(Some(n)) for a number.
pub fn max_or_value(buf: &[u8]) -> Option<Option<u64>> {
    let t = trim(buf);
    if t == b"max" {
        return Some(None);
    }
    dec(t).map(Some)
}

/// v1 memory.limit_in_bytes: unlimited is the page counter's maximum
/// (9223372036854771712 on 4 KiB pages); anything that large is no limit.
pub fn v1_memory_limit(buf: &[u8]) -> Option<Option<u64>> {
    let n = dec(trim(buf))?;
    Some((n < 1 << 62).then_some(n))
}

/// v1 cpu.cfs_quota_us: "-1" is no quota.
pub fn v1_quota(buf: &[u8]) -> Option<Option<u64>> {
    let t = trim(buf);
    if t == b"-1" {
        return Some(None);
    }
    dec(t).map(Some)
}

/// v2 cpu.max: "max 100000" or "5000 100000" -> (quota, period).
pub fn cpu_max(buf: &[u8]) -> Option<(Option<u64>, u64)> {
    let mut it = trim(buf).split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty());
    let quota = max_or_value(it.next()?)?;
    let period = dec(it.next()?)?;
    Some((quota, period))
}

/// The value of `key` in a "key value" per line file (cpu.stat,
/// memory.events, pids.events, memory.stat, memory.oom_control, cgroup.events).
pub fn key_value(buf: &[u8], key: &str) -> Option<u64> {
    buf.split(|&b| b == b'\n').find_map(|line| {
        let mut it = line.split(|&b| b == b' ').filter(|s| !s.is_empty());
        (it.next()? == key.as_bytes()).then(|| dec(trim(it.next()?)))?
    })
}

/// A PSI file: "some avg10=0.09 avg60=1.22 avg300=1.02 total=4613541" and
/// the same for "full".
pub fn psi(buf: &[u8]) -> Option<Psi> {
    let mut p = Psi::default();
    let mut seen = (false, false);
    for line in buf.split(|&b| b == b'\n') {
        let text = std::str::from_utf8(line).ok()?;
        let mut it = text.split_ascii_whitespace();
        let which = it.next();
        let (mut avg10, mut total) = (None, None);
        for f in it {
            if let Some(v) = f.strip_prefix("avg10=") {
                avg10 = v.parse::<f64>().ok().filter(|x| x.is_finite());
            } else if let Some(v) = f.strip_prefix("total=") {
                total = v.parse::<u64>().ok();
            }
        }
        let (Some(a), Some(t)) = (avg10, total) else { continue };
        match which {
            Some("some") => (p.some_avg10, p.some_total_us, seen.0) = (a, t, true),
            Some("full") => (p.full_avg10, p.full_total_us, seen.1) = (a, t, true),
            _ => {}
        }
    }
    (seen.0 || seen.1).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_hybrid_and_v2() {
        // This machine: v1 controllers, name=systemd, the empty v2 line.
        let text =
            b"9:name=systemd:/\n8:pids:/\n4:memory:/process_api/774baaad080d53eef10d080ef424c21b\n1:cpu:/\n0::/\n";
        let e = proc_cgroup(text);
        assert_eq!(e.len(), 5);
        assert_eq!(
            e[2],
            CgroupEntry { controllers: "memory".into(), path: "/process_api/774baaad080d53eef10d080ef424c21b".into() }
        );
        assert!(e[4].is_v2() && e[4].path == "/");
        // A pure v2 host (Debian 12 default) has the one line.
        let v2 = proc_cgroup(b"0::/system.slice/nginx.service\n");
        assert_eq!(v2, vec![CgroupEntry { controllers: String::new(), path: "/system.slice/nginx.service".into() }]);
        // A path may contain colons (containerd's systemd driver on v1).
        let c = proc_cgroup(b"5:cpu,cpuacct:/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:ab\n");
        assert_eq!(c[0].controllers, "cpu,cpuacct");
        assert!(c[0].path.ends_with(":cri-containerd:ab"));
        assert!(proc_cgroup(b"garbage\nx:y\n3::/\n").is_empty());
    }

    #[test]
    fn mounts() {
        let text = b"31 24 0:27 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755\n\
36 31 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu\n\
37 31 0:32 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n\
38 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
39 31 0:34 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n\
40 31 0:35 /docker/abc /sys/fs/cgroup/my\\040dir rw - cgroup cgroup rw,memory\n";
        let m = mountinfo(text);
        assert_eq!(m.len(), 5);
        assert_eq!(
            m[0],
            Mount { controllers: Some(vec!["cpu".into()]), root: "/".into(), point: "/sys/fs/cgroup/cpu".into() }
        );
        assert_eq!(m[1].controllers, Some(vec!["name=systemd".into()]));
        assert_eq!(m[2].controllers, Some(vec!["cpu".into(), "cpuacct".into()]));
        assert_eq!(m[3], Mount { controllers: None, root: "/".into(), point: "/sys/fs/cgroup/unified".into() });
        assert_eq!(m[4].root, "/docker/abc");
        assert_eq!(m[4].point, "/sys/fs/cgroup/my dir");
    }

    #[test]
    fn values() {
        assert_eq!(max_or_value(b"max\n"), Some(None));
        assert_eq!(max_or_value(b"64\n"), Some(Some(64)));
        assert_eq!(max_or_value(b"-1"), None);
        assert_eq!(v1_memory_limit(b"9223372036854771712\n"), Some(None));
        assert_eq!(v1_memory_limit(b"67108864\n"), Some(Some(64 << 20)));
        assert_eq!(v1_quota(b"-1\n"), Some(None));
        assert_eq!(v1_quota(b"5000\n"), Some(Some(5000)));
        assert_eq!(cpu_max(b"max 100000\n"), Some((None, 100000)));
        assert_eq!(cpu_max(b"5000 100000\n"), Some((Some(5000), 100000)));
        assert_eq!(cpu_max(b"5000"), None);
        let stat = b"nr_periods 120\nnr_throttled 96\nthrottled_time 4500000000\nnr_bursts 0\n";
        assert_eq!(key_value(stat, "nr_throttled"), Some(96));
        assert_eq!(key_value(stat, "throttled_time"), Some(4_500_000_000));
        assert_eq!(key_value(stat, "nr_period"), None, "whole keys only");
        let oom = b"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(key_value(oom, "oom_kill"), Some(3));
        assert_eq!(key_value(b"max 7\n", "max"), Some(7));
    }

    #[test]
    fn pressure() {
        let text = b"some avg10=0.09 avg60=1.22 avg300=1.02 total=4613541\nfull avg10=0.07 avg60=0.58 avg300=0.43 total=2052174\n";
        let p = psi(text).unwrap();
        assert_eq!((p.some_avg10, p.full_avg10), (0.09, 0.07));
        assert_eq!((p.some_total_us, p.full_total_us), (4613541, 2052174));
        assert_eq!(psi(b""), None);
        assert_eq!(psi(b"some avg10=nan total=1\n"), None);
    }
}
