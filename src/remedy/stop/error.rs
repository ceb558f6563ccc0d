//! Why `unwedge stop` did not start: classified, so a caller (or a test) can
//! tell a refusal from a missing pid or a permission problem without
//! matching text. `Display` is the one line the binary prints (exit 2).

use std::fmt;
use unwedge_collect::CollectError;

#[derive(Debug)]
pub enum StopError {
    /// No process has this pid.
    NotFound { pid: u32 },
    /// The pid is a thread id: /proc resolves it, but it is not a process.
    Thread { tid: u32, tgid: u32 },
    /// A kernel thread (kthreadd or one of its children).
    KernelThread { pid: u32, comm: String },
    /// No LISTEN socket on this port in any network namespace.
    NotListening { port: u16 },
    /// A LISTEN socket exists, but no process whose fds we can read holds it.
    NoVisibleHolder { port: u16, is_root: bool },
    /// A target unwedge never signals: init, itself, or one of its ancestors.
    Refused { pid: u32, why: Refusal, via: Option<Via> },
    /// The kernel would refuse the signal (checked before any is sent).
    Permission { pid: u32, comm: String, uid: u32 },
    /// The snapshot could not be taken.
    Collect(CollectError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Init,
    Myself,
    Ancestor { comm: String },
}

/// How a refused process came to be a target of `--port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub port: u16,
    /// The target's reason ("holds LISTEN 127.0.0.1:8080", …).
    pub reason: String,
}

impl fmt::Display for StopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopError::NotFound { pid } => write!(f, "no process with pid {pid}"),
            StopError::Thread { tid, tgid } => write!(f, "{tid} is a thread of process {tgid}: stop {tgid} instead"),
            StopError::KernelThread { pid, comm } => {
                write!(f, "pid {pid} ({comm}) is a kernel thread: signals cannot stop it")
            }
            StopError::NotListening { port } => {
                write!(f, "nothing listens on TCP port {port} (no LISTEN socket in any network namespace)")
            }
            StopError::NoVisibleHolder { port, is_root } => {
                let hint = if *is_root { "" } else { " (run as root to see other users' fds)" };
                write!(f, "port {port} has a LISTEN socket, but no visible process holds it{hint}")
            }
            StopError::Refused { pid, why, via } => {
                f.write_str("refusing to stop ")?;
                match why {
                    Refusal::Init => {
                        f.write_str("pid 1 (init): stopping it would take the whole system or container down")?
                    }
                    Refusal::Myself => write!(f, "pid {pid}: that is this unwedge itself")?,
                    Refusal::Ancestor { comm } => write!(
                        f,
                        "pid {pid} ({comm}): it is an ancestor of this unwedge (stopping it would end this session)"
                    )?,
                }
                match via {
                    Some(Via { port, reason }) => write!(f, " (it {reason}, port {port})"),
                    None => Ok(()),
                }
            }
            StopError::Permission { pid, comm, uid } => {
                write!(f, "permission denied: cannot signal {comm} (pid {pid}, uid {uid}); run as root or as uid {uid}")
            }
            StopError::Collect(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StopError {}
