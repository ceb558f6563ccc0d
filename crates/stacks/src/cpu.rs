//! The /proc reads behind "busy" and "starved": a thread's schedstat (time
//! on a CPU and time runnable but waiting for one), a process's total CPU
//! ticks and allowed CPUs, the CPUs online and the host's CPU pressure.
//! The parsers are pure (fuzzed); the read functions are thin, and belong
//! to the collector: they live here until it takes them (the snapshot
//! fields they fill are in `unwedge_model`: `Thread::schedstat`,
//! `Process::cpu_ticks_total`, `Process::cpus_allowed`,
//! `Snapshot::online_cpus`, `Snapshot::cpu_pressure`).

use unwedge_model::SchedStat;

/// /proc/PID/task/TID/schedstat: "RUN_NS WAIT_NS SLICES\n".
pub fn parse_schedstat(buf: &[u8]) -> Option<SchedStat> {
    let text = std::str::from_utf8(buf).ok()?;
    let mut it = text.split_ascii_whitespace().map(|f| f.parse::<u64>().ok());
    let s = SchedStat { run_ns: it.next()??, wait_ns: it.next()??, slices: it.next()?? };
    it.next().is_none().then_some(s)
}

/// utime + stime (fields 14 and 15) of /proc/PID/stat, in clock ticks.
/// The comm (field 2) may hold spaces and parentheses: fields are counted
/// after its last ')'.
pub fn parse_stat_ticks(buf: &[u8]) -> Option<u64> {
    let close = buf.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&buf[close + 1..]).ok()?;
    // Field 3 (state) is the first after the comm; utime is field 14.
    let mut it = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = it.next()?.parse().ok()?;
    let stime: u64 = it.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// The `Cpus_allowed_list:` of /proc/PID/status ("0-3,8"), as written.
pub fn parse_cpus_allowed(status: &[u8]) -> Option<String> {
    status.split(|&b| b == b'\n').find_map(|l| {
        let v = std::str::from_utf8(l.strip_prefix(b"Cpus_allowed_list:")?).ok()?.trim();
        (!unwedge_model::cpu::cpu_list(v).is_empty()).then(|| v.to_string())
    })
}

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
    parse_schedstat(&std::fs::read(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?)
}

/// The process's utime + stime, all threads together.
pub fn read_process_ticks(pid: u32) -> Option<u64> {
    parse_stat_ticks(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// The process's allowed CPUs when narrower than those online.
pub fn read_cpus_allowed(pid: u32, online: Option<u32>) -> Option<String> {
    let list = parse_cpus_allowed(&std::fs::read(format!("/proc/{pid}/status")).ok()?)?;
    let n = unwedge_model::cpu::cpu_list(&list).len() as u32;
    online.is_none_or(|o| n < o).then_some(list)
}

/// CPUs online, from /sys/devices/system/cpu/online.
pub fn read_online_cpus() -> Option<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    let n = unwedge_model::cpu::cpu_list(&text).len() as u32;
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat() {
        // Captured on this host (kernel 6.18): a shell on a busy 2-CPU VM.
        let s = parse_schedstat(b"52888138 191950679 165\n").unwrap();
        assert_eq!((s.run_ns, s.wait_ns, s.slices), (52888138, 191950679, 165));
        assert_eq!(parse_schedstat(b"1 2\n"), None, "truncated");
        assert_eq!(parse_schedstat(b"1 2 3 4\n"), None, "not the format we know");
        assert_eq!(parse_schedstat(b"a b c\n"), None);
        assert_eq!(parse_schedstat(b""), None);
    }

    #[test]
    fn stat_ticks() {
        let line = b"4242 (my (odd) comm) R 1 4242 4242 0 -1 4194304 120 0 0 0 1234 56 0 0 20 0 1 0 9999 1000 10\n";
        assert_eq!(parse_stat_ticks(line), Some(1290));
        assert_eq!(parse_stat_ticks(b"1 (x) S 0 1"), None, "truncated");
        assert_eq!(parse_stat_ticks(b"no parenthesis"), None);
    }

    #[test]
    fn status_fields() {
        let status = b"Name:\tnode\nTgid:\t88\nNSpid:\t88\t7\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n";
        assert_eq!(parse_cpus_allowed(status).as_deref(), Some("0-1"));
        assert_eq!(parse_nspid(status), Some(7), "the innermost namespace's pid");
        assert_eq!(parse_cpus_allowed(b"Cpus_allowed_list:\tgarbage\n"), None);
        assert_eq!(parse_nspid(b"Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        // Our own main thread: schedstat exists where CONFIG_SCHED_INFO does.
        if std::path::Path::new(&format!("/proc/{me}/task/{me}/schedstat")).exists() {
            assert!(read_schedstat(me, me).unwrap().run_ns > 0);
        }
        assert!(read_process_ticks(me).is_some());
        assert!(read_online_cpus().unwrap() >= 1);
    }
}
