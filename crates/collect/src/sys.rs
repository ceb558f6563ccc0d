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

/// The limits the collector reads of a process; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// RLIMIT_NOFILE, soft and hard.
    pub nofile: (Option<u64>, Option<u64>),
    /// RLIMIT_NPROC, soft.
    pub nproc_soft: Option<u64>,
}

/// One resource limit of `pid`, read without setting anything
/// (`prlimit(pid, resource, NULL, &old)`).
fn get_limit(pid: u32, resource: libc::c_int) -> io::Result<(Option<u64>, Option<u64>)> {
    let mut old = Rlimit64::default();
    // SAFETY: prlimit64 with a NULL new limit only writes the old one into
    // `old`, a live, properly aligned `struct rlimit64` (two u64s).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            pid as libc::pid_t,
            resource,
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

/// RLIMIT_NOFILE and RLIMIT_NPROC of process `pid`: two syscalls where
/// /proc/PID/limits costs an open, a read of sixteen formatted lines and a
/// close. Needs the rights of a ptrace-style reader of `pid` (same uid, or
/// CAP_SYS_RESOURCE): EPERM otherwise, and the caller reads
/// /proc/PID/limits (world-readable) instead.
pub fn limits(pid: u32) -> io::Result<Limits> {
    Ok(Limits {
        nofile: get_limit(pid, libc::RLIMIT_NOFILE as libc::c_int)?,
        nproc_soft: get_limit(pid, libc::RLIMIT_NPROC as libc::c_int)?.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_limits_match_proc() {
        let l = limits(std::process::id()).unwrap();
        let text = std::fs::read(format!("/proc/{}/limits", std::process::id())).unwrap();
        assert_eq!(crate::parse::limits::parse_nofile(&text), Some(l.nofile));
        assert_eq!(crate::parse::limits::parse_nproc(&text).map(|n| n.0), Some(l.nproc_soft));
        // pid_max is at most 2^22: this pid never exists.
        assert_eq!(limits(u32::MAX >> 1).unwrap_err().raw_os_error(), Some(libc::ESRCH));
    }
}
