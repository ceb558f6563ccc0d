//! Why a read of the host failed, classified where it failed: the walk
//! turns the class into the reason `coverage.skipped` gives (a vanished
//! process is no failure and gets no line), and a caller can tell a
//! permission problem from a hang without matching text.

use std::fmt;
use std::io;
use std::time::Duration;
use unwedge_model::SkipReason;

#[derive(Debug)]
pub enum CollectError {
    /// EACCES or EPERM: not ours to read (not root, or a protected process).
    PermissionDenied { what: &'static str, source: io::Error },
    /// ENOENT or ESRCH, or a pid reused since it was first read: the process
    /// or thread exited while being read.
    Vanished { what: &'static str, source: io::Error },
    /// No answer within `after`: a read stuck in the kernel (a hung FUSE or
    /// NFS mount), or a helper thread that never reported back.
    TimedOut { after: Duration },
    /// Read whole, but not in the format the kernel writes (`what` names the file).
    Malformed { what: &'static str },
    /// Any other I/O error.
    Io { what: &'static str, source: io::Error },
}

impl CollectError {
    /// Classifies an I/O error by its errno. `what` says what was being
    /// done ("cannot read /proc", "stat"); Display puts it first.
    pub fn io(what: &'static str, source: io::Error) -> CollectError {
        match source.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => CollectError::Vanished { what, source },
            Some(libc::EACCES) | Some(libc::EPERM) => CollectError::PermissionDenied { what, source },
            _ => CollectError::Io { what, source },
        }
    }

    /// The process (or thread) is gone, or its pid now names another.
    pub fn vanished(what: &'static str) -> CollectError {
        CollectError::Vanished { what, source: io::Error::from_raw_os_error(libc::ESRCH) }
    }

    /// What `coverage.skipped` says of a process this error kept from being
    /// read; `None` when it exited (not worth a line each: a busy host
    /// starts and ends processes all through a walk).
    pub fn skip_reason(&self) -> Option<SkipReason> {
        match self {
            CollectError::Vanished { .. } => None,
            CollectError::PermissionDenied { .. } => Some(SkipReason::PermissionDenied),
            CollectError::TimedOut { .. } => Some(SkipReason::TimedOut),
            CollectError::Malformed { .. } | CollectError::Io { .. } => Some(SkipReason::Unreadable),
        }
    }
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::PermissionDenied { what, source }
            | CollectError::Vanished { what, source }
            | CollectError::Io { what, source } => write!(f, "{what}: {source}"),
            CollectError::TimedOut { after } => write!(f, "no answer within {}", unwedge_model::fmt::duration(*after)),
            CollectError::Malformed { what } => write!(f, "malformed {what}"),
        }
    }
}

impl std::error::Error for CollectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CollectError::PermissionDenied { source, .. }
            | CollectError::Vanished { source, .. }
            | CollectError::Io { source, .. } => Some(source),
            CollectError::TimedOut { .. } | CollectError::Malformed { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> CollectError {
        CollectError::io("stat", io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn errno_classes() {
        assert!(matches!(os(libc::ENOENT), CollectError::Vanished { .. }));
        assert!(matches!(os(libc::ESRCH), CollectError::Vanished { .. }));
        assert!(matches!(os(libc::EACCES), CollectError::PermissionDenied { .. }));
        assert!(matches!(os(libc::EPERM), CollectError::PermissionDenied { .. }));
        assert!(matches!(os(libc::EIO), CollectError::Io { .. }));
        assert!(matches!(os(libc::EINVAL), CollectError::Io { .. }));
        // An error without an errno (a custom one) is no class but "other".
        let custom = CollectError::io("stat", io::Error::new(io::ErrorKind::InvalidData, "x"));
        assert!(matches!(custom, CollectError::Io { .. }));
    }

    #[test]
    fn what_coverage_says_of_each_class() {
        assert_eq!(os(libc::ENOENT).skip_reason(), None, "an exited process is no failure");
        assert_eq!(CollectError::vanished("stat").skip_reason(), None);
        assert_eq!(os(libc::EACCES).skip_reason(), Some(SkipReason::PermissionDenied));
        assert_eq!(os(libc::EPERM).skip_reason(), Some(SkipReason::PermissionDenied));
        assert_eq!(os(libc::EIO).skip_reason(), Some(SkipReason::Unreadable));
        let hung = CollectError::TimedOut { after: Duration::from_secs(1) };
        assert_eq!(hung.skip_reason(), Some(SkipReason::TimedOut));
        assert_eq!(CollectError::Malformed { what: "/proc/PID/stat" }.skip_reason(), Some(SkipReason::Unreadable));
    }

    #[test]
    fn the_line_a_person_reads() {
        assert_eq!(
            CollectError::io("cannot read /proc", io::Error::from_raw_os_error(libc::EACCES)).to_string(),
            "cannot read /proc: Permission denied (os error 13)"
        );
        assert_eq!(CollectError::Malformed { what: "/proc/PID/stat" }.to_string(), "malformed /proc/PID/stat");
        let hung = CollectError::TimedOut { after: Duration::from_secs(2) };
        assert_eq!(hung.to_string(), "no answer within 2.0 s");
    }
}
