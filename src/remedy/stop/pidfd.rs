//! One process, pinned: a pidfd where the kernel has them (5.3+), so a
//! signal can never reach a process that reused the pid; else the start
//! time from the snapshot, re-checked right before each kill().

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;
use unwedge_collect::proc_one;

/// Poll period while waiting without pidfds; exits are timed to about this precision.
const POLL: Duration = Duration::from_millis(10);

pub struct Handle {
    pub pid: u32,
    start_ticks: u64,
    pidfd: Option<OwnedFd>,
}

impl Handle {
    /// `None` when the process is already gone (or its pid now names another).
    pub fn open(pid: u32, start_ticks: u64) -> Option<Handle> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
        let pidfd = if fd >= 0 {
            // SAFETY: the kernel just returned this fd to us; nothing else owns it.
            Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
        } else if io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            return None;
        } else {
            None // ENOSYS on old kernels: fall back to start-time checks
        };
        let h = Handle { pid, start_ticks, pidfd };
        // The pidfd pins whatever process has the pid now; make sure it is
        // the one the snapshot saw.
        h.same_process().then_some(h)
    }

    fn same_process(&self) -> bool {
        proc_one::stat(self.pid).is_ok_and(|st| st.starttime == self.start_ticks)
    }

    /// Sends `sig` (0: only checks that it could be sent).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        let rc = match &self.pidfd {
            // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                )
            },
            None => {
                if !self.same_process() {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(self.pid as libc::pid_t, sig) as libc::c_long }
            }
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Exited: reaped, or a zombie (it runs no code and holds no fds).
    pub fn exited(&self) -> bool {
        if let Some(fd) = &self.pidfd {
            // A pidfd polls readable once the process has exited.
            let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd, zero timeout.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n >= 0 {
                return n > 0;
            }
        }
        match proc_one::stat(self.pid) {
            Ok(st) => st.starttime != self.start_ticks || matches!(st.state, 'Z' | 'X'),
            Err(_) => true,
        }
    }

    /// The one-letter state now, while it is still this process.
    pub fn state(&self) -> Option<char> {
        proc_one::stat(self.pid).ok().filter(|st| st.starttime == self.start_ticks).map(|st| st.state)
    }

    /// Where it sleeps now, for a D-state note.
    pub fn wchan(&self) -> Option<String> {
        proc_one::wchan(self.pid)
    }
}

/// Waits up to `left` for one of `handles` to exit. pidfds wake us the
/// moment one exits, so exits are timed to the millisecond; without them
/// (or with any handle missing), it sleeps one /proc poll period.
pub fn wait_any<'h>(handles: impl Iterator<Item = Option<&'h Handle>>, left: Duration) {
    let mut fds = Vec::new();
    let mut all_pidfds = true;
    for h in handles {
        match h.and_then(|h| h.pidfd.as_ref()) {
            Some(fd) => fds.push(libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }),
            None => all_pidfds = false,
        }
    }
    if all_pidfds {
        let ms = left.as_millis().clamp(1, 100) as i32;
        // SAFETY: a slice of valid pollfds and its length.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    } else {
        std::thread::sleep(POLL.min(left));
    }
}
