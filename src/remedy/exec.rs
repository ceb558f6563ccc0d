//! `unwedge exec`: reset what a launcher leaks into its children, then exec.
//!
//! fork() copies the calling thread's signal mask and execve() keeps it, as
//! it keeps every ignored disposition (POSIX). A worker thread that blocked
//! all signals therefore starts programs that never see SIGALRM or SIGTERM
//! (story 4: hping3 under uWSGI waited in poll() forever). Here the mask is
//! emptied and every disposition set to SIG_DFL, so CMD starts as if from a
//! fresh login shell.

use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// Every signal's disposition to SIG_DFL, then an empty mask. Dispositions
/// first, so that a signal pending in the mask takes its default action
/// rather than a handler that execve() would drop anyway.
pub fn reset_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue; // fixed by the kernel
        }
        // SAFETY: a zeroed sigaction is SIG_DFL with no flags and an empty mask.
        let rc = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if rc != 0 {
            // glibc refuses its internal signals 32 and 33 (EINVAL), yet an
            // ignored one is inherited like any other (seen under cargo test):
            // ask the kernel directly.
            raw_default(sig);
        }
    }
    // SAFETY: plain sigset manipulation on a local.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// rt_sigaction(sig, SIG_DFL) without libc's filter. An all-zero kernel
/// sigaction is SIG_DFL, no flags, empty mask, whatever the arch's field order.
fn raw_default(sig: i32) {
    let act = [0u64; 6];
    let sigset_size: usize = if cfg!(any(target_arch = "mips", target_arch = "mips64")) { 16 } else { 8 };
    // SAFETY: `act` is larger than any kernel sigaction and outlives the call; no old action is read back.
    unsafe {
        libc::syscall(libc::SYS_rt_sigaction, sig, act.as_ptr(), std::ptr::null_mut::<u64>(), sigset_size);
    }
}

/// Closes every descriptor above 2: close_range(2) on Linux 5.9+, else the
/// fds /proc lists, else every number below the fd limit.
pub fn close_fds_above_stderr() {
    // SAFETY: close_range only closes descriptors; none is in use by Rust
    // code after this point (we exec next).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if rc == 0 {
        return;
    }
    let listed: Option<Vec<i32>> = std::fs::read_dir("/proc/self/fd").ok().map(|dir| {
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).filter(|&fd| fd > 2).collect()
    });
    match listed {
        // The listing's own fd is in the list but already closed: close() then fails harmlessly.
        Some(fds) => fds.into_iter().for_each(|fd| unsafe {
            // SAFETY: see above.
            libc::close(fd);
        }),
        None => {
            // SAFETY: getrlimit writes into a local; close as above.
            let max = unsafe {
                let mut rl: libc::rlimit = std::mem::zeroed();
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
                    rl.rlim_cur.min(1 << 20) as i32
                } else {
                    1024
                }
            };
            for fd in 3..max {
                // SAFETY: see above.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Why CMD could not run, with the exit status a shell would use.
#[derive(Debug)]
pub struct ExecError {
    pub status: u8,
    pub message: String,
}

/// Resets signals (and fds if asked), then replaces this process with
/// `argv[0]`, looked up in PATH. Returns only on failure.
pub fn exec(argv: &[OsString], close_fds: bool) -> ExecError {
    let name = argv.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
    let cargs: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(cargs) = cargs else {
        return ExecError { status: 126, message: format!("{name}: an argument contains a NUL byte") };
    };
    if cargs.is_empty() || cargs[0].as_bytes().is_empty() {
        return ExecError { status: 127, message: format!("'{name}': command not found") };
    }
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    if close_fds {
        close_fds_above_stderr();
    }
    reset_signals();
    // SAFETY: argv is a NULL-terminated array of valid C strings that outlive the call.
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    let err = io::Error::last_os_error();
    // Past this point the signal state is reset; we only print and exit.
    describe_failure(&name, err)
}

/// The shell's wording and status: 127 for "not found", 126 for "found but
/// cannot run".
fn describe_failure(name: &str, err: io::Error) -> ExecError {
    let has_slash = name.contains('/');
    match err.raw_os_error() {
        Some(libc::ENOENT) if !has_slash => ExecError { status: 127, message: format!("{name}: command not found") },
        Some(libc::ENOENT) => {
            // A script whose #! interpreter is missing also fails with ENOENT.
            if std::path::Path::new(name).exists() {
                ExecError {
                    status: 126,
                    message: format!("{name}: cannot run: its interpreter (#! line) or loader was not found"),
                }
            } else {
                ExecError { status: 127, message: format!("{name}: No such file or directory") }
            }
        }
        Some(libc::EACCES) if std::path::Path::new(name).is_dir() => {
            ExecError { status: 126, message: format!("{name}: Is a directory") }
        }
        Some(libc::EACCES) => ExecError {
            status: 126,
            message: format!("{name}: Permission denied (not executable, or on a noexec mount)"),
        },
        _ => ExecError { status: 126, message: format!("{name}: cannot execute: {err}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_statuses() {
        let e = describe_failure("no-such-cmd", io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!((e.status, e.message.as_str()), (127, "no-such-cmd: command not found"));
        let e = describe_failure("/no/such/file", io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.status, 127);
        let e = describe_failure("/", io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!((e.status, e.message.as_str()), (126, "/: Is a directory"));
        let e = describe_failure("./x", io::Error::from_raw_os_error(libc::E2BIG));
        assert_eq!(e.status, 126);
    }
}
