//! The few system calls the collector makes outside /proc reads, in one
//! place. Everything goes through rustix's safe wrappers except reading
//! another process's RLIMIT_NOFILE: rustix's `prlimit` always *sets* a new
//! limit, and a scanner must never change its target, so that one call is
//! made raw here. This is the only `unsafe` in the collector.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

/// The calling process runs as root (effective uid 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Clock ticks per second, the unit of utime and starttime in /proc.
pub fn clock_ticks() -> u64 {
    rustix::param::clock_ticks_per_second().max(1)
}

/// A receive timeout on a socket, so no read waits forever.
pub fn set_recv_timeout(fd: impl AsFd, after: Duration) -> io::Result<()> {
    rustix::net::sockopt::set_socket_timeout(fd, rustix::net::sockopt::Timeout::Recv, Some(after))?;
    Ok(())
}

/// Moves the calling thread (only it) into the network namespace `ns`
/// (an open /proc/PID/ns/net).
pub fn enter_net_namespace(ns: impl AsFd) -> io::Result<()> {
    rustix::thread::move_into_link_name_space(ns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))?;
    Ok(())
}

/// `struct rlimit64`.
#[repr(C)]
#[derive(Default)]
struct Rlimit64 {
    cur: u64,
    max: u64,
}

/// The soft and hard RLIMIT_NOFILE of process `pid`, read without setting
/// anything (`prlimit(pid, RLIMIT_NOFILE, NULL, &old)`); `None` is
/// unlimited. One syscall where /proc/PID/limits costs an open, a read of
/// sixteen formatted lines and a close. Needs the rights of a ptrace-style
/// reader of `pid` (same uid, or CAP_SYS_RESOURCE): EPERM otherwise, and
/// the caller reads /proc/PID/limits instead.
pub fn nofile_limit(pid: u32) -> io::Result<(Option<u64>, Option<u64>)> {
    let mut old = Rlimit64::default();
    // SAFETY: prlimit64 with a NULL new limit only writes the old one into
    // `old`, a live, properly aligned `struct rlimit64` (two u64s).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            std::ptr::null::<Rlimit64>(),
            &mut old as *mut Rlimit64,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let finite = |v: u64| (v != u64::MAX).then_some(v);
    Ok((finite(old.cur), finite(old.max)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_limits_match_proc() {
        let (soft, hard) = nofile_limit(std::process::id()).unwrap();
        let text = std::fs::read(format!("/proc/{}/limits", std::process::id())).unwrap();
        assert_eq!(crate::parse::limits::parse_nofile(&text), Some((soft, hard)));
        // pid_max is at most 2^22: this pid never exists.
        assert_eq!(nofile_limit(u32::MAX >> 1).unwrap_err().raw_os_error(), Some(libc::ESRCH));
    }
}
