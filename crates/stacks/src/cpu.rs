//! The /proc reads the sampler makes for itself: a thread's schedstat
//! around its window (time on a CPU, and runnable but waiting for one),
//! and the pid a process has in its own namespace (its perf map's name).
//! The snapshot's CPU facts (every thread's schedstat, a process's ticks
//! and allowed CPUs, the CPUs online, CPU pressure) are the collector's.

use unwedge_model::SchedStat;

/// The pid a process has in its own pid namespace (the last `NSpid:` field
/// of /proc/PID/status): the number in the perf map file name it writes.
pub fn parse_nspid(status: &[u8]) -> Option<u32> {
    status.split(|&b| b == b'\n').find_map(|l| {
        let v = std::str::from_utf8(l.strip_prefix(b"NSpid:")?).ok()?;
        v.split_ascii_whitespace().last()?.parse().ok()
    })
}

/// The thread's schedstat, or `None` (it ended, or the kernel has no
/// CONFIG_SCHED_INFO).
pub fn read_schedstat(pid: u32, tid: u32) -> Option<SchedStat> {
    SchedStat::parse(&std::fs::read(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nspid() {
        let status = b"Name:\tnode\nTgid:\t88\nNSpid:\t88\t7\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n";
        assert_eq!(parse_nspid(status), Some(7), "the innermost namespace's pid");
        assert_eq!(parse_nspid(b"Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_thread() {
        let me = std::process::id();
        // Our own main thread: schedstat exists where CONFIG_SCHED_INFO does.
        if std::path::Path::new(&format!("/proc/{me}/task/{me}/schedstat")).exists() {
            assert!(read_schedstat(me, me).unwrap().run_ns > 0);
        }
    }
}
