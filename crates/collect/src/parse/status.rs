//! /proc/PID/status and /proc/PID/task/TID/status: the thread group, the
//! uid and the signal sets; and the CPUs a process may run on.

use super::{dec, hex};
use unwedge_model::SignalMasks;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `Name:`, the comm (the kernel escapes `\n` and `\\` here, unlike in stat).
    pub name: Option<String>,
    /// The one-letter state of `State:` ("S (sleeping)" -> 'S').
    pub state: Option<char>,
    /// The thread group (process) id: differs from the pid for a thread.
    pub tgid: Option<u32>,
    /// Real uid.
    pub uid: Option<u32>,
    /// `None` when the Sig* lines were missing (truncated text).
    pub signals: Option<SignalMasks>,
    /// voluntary + nonvoluntary context switches: unchanged means the thread
    /// never woke up in between, which CPU ticks (10 ms grain) cannot tell.
    pub ctxt_switches: Option<u64>,
    /// TracerPid: the process ptrace-attached to it (gdb, strace); 0 is none.
    pub tracer_pid: Option<u32>,
}

pub fn parse(buf: &[u8]) -> Status {
    let mut st = Status::default();
    let mut m = SignalMasks::default();
    let mut seen = 0u8;
    for line in buf.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (key, val) = (&line[..colon], super::trim(&line[colon + 1..]));
        let slot = match key {
            b"Name" => {
                // Only a tab follows the colon: a name may start or end with spaces.
                let raw = line[colon + 1..].strip_prefix(b"\t").unwrap_or(&line[colon + 1..]);
                st.name = Some(String::from_utf8_lossy(raw).into_owned());
                continue;
            }
            b"State" => {
                st.state = val.first().map(|&b| b as char);
                continue;
            }
            b"Tgid" => {
                st.tgid = dec(val).and_then(|t| u32::try_from(t).ok());
                continue;
            }
            b"TracerPid" => {
                st.tracer_pid = dec(val).and_then(|t| u32::try_from(t).ok()).filter(|&t| t != 0);
                continue;
            }
            b"Uid" => {
                st.uid = val.split(|b| b.is_ascii_whitespace()).next().and_then(dec).map(|u| u as u32);
                continue;
            }
            b"voluntary_ctxt_switches" | b"nonvoluntary_ctxt_switches" => {
                if let Some(n) = dec(val) {
                    st.ctxt_switches = Some(st.ctxt_switches.unwrap_or(0) + n);
                }
                continue;
            }
            b"SigPnd" => &mut m.pending,
            b"ShdPnd" => &mut m.shared_pending,
            b"SigBlk" => &mut m.blocked,
            b"SigIgn" => &mut m.ignored,
            b"SigCgt" => &mut m.caught,
            _ => continue,
        };
        if let Some(v) = hex(val) {
            *slot = v;
            seen += 1;
        }
    }
    if seen == 5 {
        st.signals = Some(m);
    }
    st
}

/// The `Cpus_allowed_list:` of a status ("0-3,8"), as written, when it is
/// a CPU list (taskset, a cpuset and sched_setaffinity narrow it). Apart
/// from [`parse`]: only a process's status needs it, not every thread's.
pub fn cpus_allowed_list(buf: &[u8]) -> Option<&str> {
    buf.split(|&b| b == b'\n').find_map(|l| {
        let v = std::str::from_utf8(super::trim(l.strip_prefix(b"Cpus_allowed_list:")?)).ok()?;
        (!v.is_empty() && !unwedge_model::cpu::cpu_list(v).is_empty()).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_hping3_masks() {
        // From tests/fixtures/captures/uwsgi-hping3-sigalrm.txt: SIGALRM (14) pending and blocked.
        let text = b"Name:\thping3\nState:\tS (sleeping)\nTgid:\t30002\nUid:\t0\t0\t0\t0\nSigQ:\t9/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000002000\nSigBlk:\tfffffffe7ffbfeff\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000086002\n";
        let st = parse(text);
        assert_eq!((st.tgid, st.uid, st.state), (Some(30002), Some(0), Some('S')));
        assert_eq!(st.name.as_deref(), Some("hping3"));
        let m = st.signals.unwrap();
        assert_eq!(m.shared_pending, 1 << 13);
        assert_eq!(m.blocked, 0xfffffffe7ffbfeff);
        assert_eq!(m.caught, 0x86002);
        assert_eq!(st.tracer_pid, None);
        assert_eq!(parse(b"TracerPid:\t4711\n").tracer_pid, Some(4711));
        assert_eq!(parse(b"TracerPid:\t0\n").tracer_pid, None);
        let st = parse(b"voluntary_ctxt_switches:\t11\nnonvoluntary_ctxt_switches:\t2\n");
        assert_eq!(st.ctxt_switches, Some(13));
    }

    #[test]
    fn allowed_cpus() {
        let status = b"Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";
        assert_eq!(cpus_allowed_list(status), Some("0-1"));
        assert_eq!(cpus_allowed_list(b"Cpus_allowed_list:\t1,3-4\n"), Some("1,3-4"));
        assert_eq!(cpus_allowed_list(b"Cpus_allowed_list:\tgarbage\n"), None);
        assert_eq!(cpus_allowed_list(b"Cpus_allowed_list:\t\n"), None);
        assert_eq!(cpus_allowed_list(b"Name:\tx\n"), None);
    }

    #[test]
    fn truncated() {
        let st = parse(b"Uid:\t1000\t1000\nSigPnd:\t00\n");
        assert_eq!(st.uid, Some(1000));
        assert_eq!(st.signals, None);
        assert_eq!(parse(b"").uid, None);
        assert_eq!(parse(b"Tgid:\t99999999999\n").tgid, None);
    }
}
