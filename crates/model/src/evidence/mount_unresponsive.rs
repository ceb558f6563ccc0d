use serde::{Deserialize, Serialize};

/// Threads of a process blocked in file I/O on a FUSE or network mount
/// whose daemon or server has not answered one request for the whole
/// interval, and the threads queued behind that one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountUnresponsive {
    /// Where it is mounted, as the process sees it.
    pub mount_point: String,
    /// "fuse.sshfs", "nfs4".
    pub fs_type: String,
    /// What was mounted ("10.0.0.5:/export", a FUSE daemon's fsname).
    pub source: String,
    pub mount_id: u32,
    /// A network filesystem's server (NFS/CIFS `addr=`, else the source's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// A FUSE mount's daemon: the processes whose /dev/fuse fd serves its
    /// connection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daemon: Vec<MountDaemon>,
    /// How the daemon was found: "fuse_connection" (the kernel names the
    /// connection in the fdinfo of the daemon's /dev/fuse fd), or
    /// "only holder of /dev/fuse" (a kernel that does not, and one process
    /// holding /dev/fuse on the whole host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_found_by: Option<String>,
    /// The FUSE connection's number (its /sys/fs/fuse/connections/N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuse_connection: Option<u64>,
    /// Requests queued for or read by the FUSE daemon and not answered
    /// (/sys/fs/fuse/connections/N/waiting), where fusectl is mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuse_waiting: Option<u32>,
    /// The request of `first` went unanswered at least this long (the
    /// interval: it sat in the same call, no context switch, both times).
    pub unanswered_for_ms: u64,
    /// The thread whose request waits on the daemon or server
    /// (wchan or kernel stack in `request_wait_answer`, `rpc_wait_bit_killable`, …).
    pub first: FileWaiter,
    /// Threads queued behind it on the same file or mount (the file
    /// position lock `fdget_pos`, the inode lock, a page lock): one group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub behind: Vec<FileWaiter>,
    /// Threads of the process blocked in file I/O on this mount.
    pub threads_blocked: usize,
    pub cmdline: String,
}

/// A thread blocked on a file of the mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileWaiter {
    pub tid: u32,
    pub name: String,
    /// Its state letter (S, D).
    pub state: String,
    pub syscall: String,
    /// The file its fd argument is ("/mnt/logs/access.log").
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wchan: Option<String>,
}

/// A process serving a FUSE mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountDaemon {
    pub pid: u32,
    pub comm: String,
    /// Its state letter (S, T when stopped).
    pub state: String,
}

impl super::Measure for MountUnresponsive {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("threads_blocked", self.threads_blocked as u64))
    }
}
