//! Signal numbers, names and the sets of /proc/PID/task/TID/status, decoded
//! the way `kill -l` prints them on Linux (x86_64 and aarch64 share the
//! numbering). A mask has bit N-1 set for signal N, signals 1..=64.
//!
//! Real-time signals: the kernel's range is 32..=64, but glibc keeps 32 and
//! 33 for itself (thread cancellation, setxid), so programs see SIGRTMIN =
//! 34. Names follow that: SIGRTMIN, SIGRTMIN+1 … SIGRTMIN+15, SIGRTMAX-14 …
//! SIGRTMAX; 32 and 33 are SIG32 and SIG33.

use crate::facts::syscalls::{Call, Class};
use unwedge_model::{Process, SignalMasks, Snapshot};

pub const SIGKILL: u32 = 9;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const SIGSTOP: u32 = 19;

const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The bit of signal `sig` in a mask.
pub const fn bit(sig: u32) -> u64 {
    1u64 << (sig - 1)
}

pub fn name(sig: u32) -> String {
    match sig {
        1..=31 => NAMES[sig as usize - 1].to_string(),
        34 => "SIGRTMIN".into(),
        35..=49 => format!("SIGRTMIN+{}", sig - 34),
        50..=63 => format!("SIGRTMAX-{}", 64 - sig),
        64 => "SIGRTMAX".into(),
        _ => format!("SIG{sig}"),
    }
}

/// Signal numbers in `mask`, ascending.
pub fn members(mask: u64) -> impl Iterator<Item = u32> {
    (1..=64u32).filter(move |&s| mask & bit(s) != 0)
}

pub fn names(mask: u64) -> Vec<String> {
    members(mask).map(name).collect()
}

/// A short reading of a mask for people: the names when few, "all except …"
/// when most are set (a uWSGI worker's `fffffffe7ffbfeff`).
pub fn describe(mask: u64) -> String {
    let n = mask.count_ones();
    if n == 0 {
        "none".into()
    } else if n > 40 {
        format!("all except {}", names(!mask).join(", "))
    } else {
        names(mask).join(", ")
    }
}

/// `0x0000000000002000`, as /proc prints it.
pub fn hex(mask: u64) -> String {
    format!("{mask:016x}")
}

/// Signals whose default action is to do nothing: pending and blocked, they
/// harm no one unless a handler waits for them.
pub const DEFAULT_IGNORED: u64 = bit(SIGCHLD) | bit(18) | bit(23) | bit(28);

/// The masks of every thread, or `None` when any thread's were unreadable
/// (kernel threads have none, zombies and racing exits may lack some).
pub fn thread_masks(p: &Process) -> Option<Vec<(u32, SignalMasks)>> {
    if p.threads.is_empty() || p.state == 'Z' {
        return None;
    }
    p.threads.iter().map(|t| t.signals.map(|m| (t.tid, m))).collect()
}

/// Signals blocked in every thread: a process-directed signal in this set
/// can be delivered to no one.
pub fn blocked_everywhere(masks: &[(u32, SignalMasks)]) -> u64 {
    masks.iter().fold(!0u64, |acc, (_, m)| acc & m.blocked)
}

/// Signals the process consumes synchronously, so blocking them is by
/// design: those a signalfd reads (all of them when the signalfd's mask was
/// unreadable) and, when a thread sits in rt_sigtimedwait (sigwait,
/// sigwaitinfo), all of them, as its wait set lives in user memory.
/// `None` when we could not see: its fds or a thread's syscall were
/// unreadable (not root), so a signalfd or sigwait may be hiding.
pub fn consumed(p: &Process, snap: &Snapshot) -> Option<u64> {
    if snap.skipped.iter().any(|s| s.pid == p.pid) || p.threads.iter().any(|t| t.syscall.is_none()) {
        return None;
    }
    let mut set = 0u64;
    for a in p.anon_fds.iter().filter(|a| a.kind == "[signalfd]") {
        set |= a.sigmask.unwrap_or(!0);
    }
    let sigwait = p.threads.iter().any(|t| Call::of(&snap.arch, t).is_some_and(|c| c.class == Class::SigWait));
    if sigwait {
        set = !0;
    }
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bit_has_the_kill_l_name() {
        let all: Vec<String> = (1..=64).map(name).collect();
        assert_eq!(all[0], "SIGHUP");
        assert_eq!(all[8], "SIGKILL");
        assert_eq!(all[13], "SIGALRM");
        assert_eq!(all[14], "SIGTERM");
        assert_eq!(all[30], "SIGSYS");
        assert_eq!(all[31], "SIG32");
        assert_eq!(all[32], "SIG33");
        assert_eq!(all[33], "SIGRTMIN");
        assert_eq!(all[36], "SIGRTMIN+3");
        assert_eq!(all[48], "SIGRTMIN+15");
        assert_eq!(all[49], "SIGRTMAX-14");
        assert_eq!(all[63], "SIGRTMAX");
        let mut uniq = all.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 64, "every name is distinct");
        // Bit N-1 is signal N, for every bit.
        for sig in 1..=64u32 {
            assert_eq!(names(1u64 << (sig - 1)), vec![name(sig)]);
        }
        assert_eq!(members(!0).count(), 64);
        assert_eq!(names(0), Vec::<String>::new());
    }

    #[test]
    fn captured_masks() {
        // tests/fixtures/captures/uwsgi-hping3-sigalrm.txt: hping3's SigBlk, ShdPnd, SigCgt.
        let blk = 0xfffffffe7ffbfeffu64;
        assert_eq!(describe(blk), "all except SIGKILL, SIGSTOP, SIG32, SIG33");
        assert_eq!(names(0x2000), vec!["SIGALRM"]);
        assert_eq!(names(0x86002), vec!["SIGINT", "SIGALRM", "SIGTERM", "SIGTSTP"]);
        // The orphaned proxy ignores SIGPIPE and SIGXFSZ, as every Python does.
        assert_eq!(describe(0x1001000), "SIGPIPE, SIGXFSZ");
        assert_eq!(hex(0x2000), "0000000000002000");
        assert_eq!(names(bit(37) | bit(64)), vec!["SIGRTMIN+3", "SIGRTMAX"]);
    }
}
