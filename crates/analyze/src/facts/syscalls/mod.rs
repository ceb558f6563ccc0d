//! Syscall numbers to names, for x86_64 and aarch64; the family of a
//! blocking syscall (`Class`), which is what the kinds decide on; and which
//! of its arguments are fds. /proc/PID/task/TID/syscall gives the number
//! and raw arguments; kinds decide on these, never on wchan names (those
//! change between kernels: a futex waiter shows `futex_do_wait` on 6.18
//! and `futex_wait_queue_me` before).

mod aarch64;
mod x86_64;

use unwedge_model::{SyscallLine, Thread};

/// The name of syscall `nr` on `arch` (`std::env::consts::ARCH` spelling).
/// `None` for an unknown arch or an unassigned number.
/// Snapshots recorded before they carried `arch` are read as this host's.
pub fn name(arch: &str, nr: u64) -> Option<&'static str> {
    let arch = if arch.is_empty() { std::env::consts::ARCH } else { arch };
    let table: &[&'static str] = match arch {
        "x86_64" => &x86_64::NAMES,
        "aarch64" => &aarch64::NAMES,
        _ => return None,
    };
    table.get(nr as usize).copied().filter(|n| !n.is_empty())
}

/// What a thread blocked in a syscall waits for, by the syscall's family:
/// the one list of which syscall is which that every kind decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// futex, futex_wait, futex_waitv: a mutex, condition variable,
    /// semaphore or thread join.
    Futex,
    /// epoll_wait, epoll_pwait, epoll_pwait2: an event loop.
    EventLoop,
    /// poll, ppoll (the second argument is the number of fds).
    Poll,
    /// select, pselect6.
    Select,
    /// read, readv, pread64, preadv, preadv2.
    Read,
    /// recvfrom, recvmsg, recvmmsg.
    Receive,
    /// write, writev, sendto, sendmsg, sendmmsg, sendfile, splice: waits
    /// for buffer space when the reader does not read.
    Send,
    /// accept, accept4.
    Accept,
    Connect,
    /// wait4, waitid.
    WaitChild,
    /// nanosleep, clock_nanosleep.
    Sleep,
    /// rt_sigtimedwait (sigwait, sigwaitinfo).
    SigWait,
    /// rt_sigsuspend, pause: waits for a signal handler to run.
    SigSuspend,
    /// flock, fcntl.
    FileLock,
    /// msgrcv, semop, semtimedop.
    SysvIpc,
    Other,
}

impl Class {
    pub fn of(name: &str) -> Class {
        match name {
            "futex" | "futex_wait" | "futex_waitv" => Class::Futex,
            "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => Class::EventLoop,
            "poll" | "ppoll" => Class::Poll,
            "select" | "pselect6" => Class::Select,
            "read" | "readv" | "pread64" | "preadv" | "preadv2" => Class::Read,
            "recvfrom" | "recvmsg" | "recvmmsg" => Class::Receive,
            "write" | "writev" | "sendto" | "sendmsg" | "sendmmsg" | "sendfile" | "splice" => Class::Send,
            "accept" | "accept4" => Class::Accept,
            "connect" => Class::Connect,
            "wait4" | "waitid" => Class::WaitChild,
            "nanosleep" | "clock_nanosleep" => Class::Sleep,
            "rt_sigtimedwait" => Class::SigWait,
            "rt_sigsuspend" | "pause" => Class::SigSuspend,
            "flock" | "fcntl" => Class::FileLock,
            "msgrcv" | "semop" | "semtimedop" => Class::SysvIpc,
            _ => Class::Other,
        }
    }

    /// A read or a socket receive: it waits for its peer (or the other
    /// end of its pipe) to send.
    pub fn reads(self) -> bool {
        matches!(self, Class::Read | Class::Receive)
    }

    /// Waiting for any of several fds: an event loop, poll or select.
    pub fn polls(self) -> bool {
        matches!(self, Class::EventLoop | Class::Poll | Class::Select)
    }

    /// What waiting in this family usually means, for the explanation.
    pub fn meaning(self) -> &'static str {
        match self {
            Class::Futex => "a futex wait: a mutex, condition variable, semaphore or thread join",
            Class::Poll | Class::Select => "waiting for any of several fds to become ready",
            Class::EventLoop => "an event loop waiting on its epoll set",
            Class::Read => "a read waiting for data",
            Class::Receive => "a socket receive waiting for data",
            Class::Send => "a write waiting for buffer space (the reader is not reading)",
            Class::Accept => "waiting for a new connection",
            Class::Connect => "waiting for a connection to be established",
            Class::WaitChild => "waiting for a child process to exit",
            Class::Sleep => "sleeping",
            Class::SigWait => "waiting for a signal (sigwait)",
            Class::SigSuspend => "waiting for a signal handler to run",
            Class::FileLock => "waiting for a file lock",
            Class::SysvIpc => "waiting on System V IPC",
            Class::Other => "blocked in the kernel",
        }
    }
}

/// What waiting in syscall `name` usually means (see [`Class::meaning`]).
pub fn meaning(name: &str) -> &'static str {
    Class::of(name).meaning()
}

/// The syscall a thread sits in, decoded from /proc/PID/task/TID/syscall.
#[derive(Debug, Clone)]
pub struct Call {
    /// Its name, or "syscall N" for a number this arch's table lacks.
    pub name: String,
    pub class: Class,
    pub line: SyscallLine,
}

impl Call {
    /// `None` when the thread's syscall was not read, or it is running in user space.
    pub fn of(arch: &str, t: &Thread) -> Option<Call> {
        let line = SyscallLine::parse(t.syscall.as_deref()?)?;
        let name = name(arch, line.nr).map(str::to_string).unwrap_or_else(|| format!("syscall {}", line.nr));
        Some(Call { class: Class::of(&name), name, line })
    }

    /// Argument `i` (0-5), raw.
    pub fn arg(&self, i: usize) -> u64 {
        self.line.args[i]
    }

    /// The arguments that are fds, in order.
    pub fn fds(&self) -> impl Iterator<Item = u64> + '_ {
        fd_arg_positions(&self.name).iter().map(|&i| self.line.args[i])
    }

    /// The fd arguments that fit an fd number (the others are garbage).
    pub fn fd_numbers(&self) -> impl Iterator<Item = u32> + '_ {
        self.fds().filter_map(|a| u32::try_from(a).ok())
    }
}

/// Positions of the arguments that are fds, for the syscalls a thread
/// blocks in (and a few it may linger in).
fn fd_arg_positions(name: &str) -> &'static [usize] {
    match name {
        "sendfile" | "tee" => &[0, 1],
        "splice" | "copy_file_range" => &[0, 2],
        "read" | "write" | "readv" | "writev" | "pread64" | "pwrite64" | "preadv" | "pwritev" | "preadv2"
        | "pwritev2" | "recvfrom" | "recvmsg" | "recvmmsg" | "sendto" | "sendmsg" | "sendmmsg" | "accept"
        | "accept4" | "connect" | "shutdown" | "fsync" | "fdatasync" | "flock" | "fcntl" | "ioctl" | "epoll_wait"
        | "epoll_pwait" | "epoll_pwait2" | "epoll_ctl" | "getdents64" | "sync_file_range" | "ftruncate"
        | "fallocate" | "close" => &[0],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_numbers() {
        // From arch/x86/entry/syscalls/syscall_64.tbl.
        let cases = [
            (0, "read"),
            (7, "poll"),
            (45, "recvfrom"),
            (61, "wait4"),
            (128, "rt_sigtimedwait"),
            (202, "futex"),
            (232, "epoll_wait"),
            (281, "epoll_pwait"),
            (288, "accept4"),
            (435, "clone3"),
            (449, "futex_waitv"),
            (455, "futex_wait"),
        ];
        for (nr, n) in cases {
            assert_eq!(name("x86_64", nr), Some(n), "x86_64 {nr}");
        }
        assert_eq!(name("x86_64", 335), None, "unassigned gap");
        assert_eq!(name("x86_64", 10_000), None);
        assert_eq!(name("mips", 0), None);
    }

    #[test]
    fn aarch64_numbers() {
        // From include/uapi/asm-generic/unistd.h as arm64 configures it.
        let cases = [
            (63, "read"),
            (73, "ppoll"),
            (98, "futex"),
            (137, "rt_sigtimedwait"),
            (202, "accept"),
            (207, "recvfrom"),
            (22, "epoll_pwait"),
            (25, "fcntl"),
            (79, "newfstatat"),
            (260, "wait4"),
            (435, "clone3"),
            (449, "futex_waitv"),
        ];
        for (nr, n) in cases {
            assert_eq!(name("aarch64", nr), Some(n), "aarch64 {nr}");
        }
        assert_eq!(name("aarch64", 244), None, "arch-specific range is empty on arm64");
    }

    #[test]
    fn tables_are_full() {
        let x = (0..1000).filter(|&n| name("x86_64", n).is_some()).count();
        let a = (0..1000).filter(|&n| name("aarch64", n).is_some()).count();
        assert!(x > 370 && a > 310, "x86_64 {x}, aarch64 {a}");
        assert_eq!(fd_arg_positions("recvfrom"), &[0]);
        assert_eq!(fd_arg_positions("splice"), &[0, 2]);
        assert!(fd_arg_positions("futex").is_empty());
    }

    #[test]
    fn every_class_names_syscalls_of_the_tables() {
        let mut seen = Vec::new();
        for arch in ["x86_64", "aarch64"] {
            for nr in 0..1000 {
                if let Some(c) = name(arch, nr).map(Class::of) {
                    if !seen.contains(&c) {
                        seen.push(c);
                    }
                }
            }
        }
        assert_eq!(seen.len(), 16, "a class none of whose names is a syscall: {seen:?}");
        assert_eq!(Class::of("recvmmsg"), Class::Receive);
        assert!(Class::of("pread64").reads() && !Class::of("futex").reads());
        assert_eq!(meaning("sendfile"), "a write waiting for buffer space (the reader is not reading)");
    }
}
