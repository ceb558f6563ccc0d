//! The mounts that blocked file I/O sits on, as /proc/PID/mountinfo lists
//! them, and the FUSE connections behind them: what names "a write to a
//! file on a FUSE mount whose daemon does not answer" instead of a pipe's
//! story told about a file.

use serde::{Deserialize, Serialize};

/// One line of /proc/PID/mountinfo. Mount ids are the kernel's, unique on
/// the host whatever the mount namespace (the `mnt_id:` of
/// /proc/PID/fdinfo/FD names the same id).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    /// The device (st_dev) of its superblock, as `major:minor`.
    pub major: u32,
    pub minor: u32,
    /// Where it is mounted, as the first process found in its mount
    /// namespace sees it (octal escapes decoded).
    pub mount_point: String,
    /// "fuse.sshfs", "nfs4", "ext4".
    pub fs_type: String,
    /// What was mounted: "server:/export" for NFS, the FUSE daemon's
    /// `fsname` ("sshfs#host:", "fuselog").
    pub source: String,
    /// The superblock options ("rw,vers=4.2,addr=10.0.0.5"; for FUSE
    /// "rw,user_id=0,group_id=0").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub super_options: String,
    /// The FUSE connection behind a FUSE mount (type fuse, fuse.* or fuseblk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuse: Option<FuseConnection>,
}

impl Mount {
    /// FUSE: the kernel hands every request to a daemon in user space.
    pub fn is_fuse(&self) -> bool {
        self.fs_type == "fuse" || self.fs_type == "fuseblk" || self.fs_type.starts_with("fuse.")
    }

    /// A filesystem whose requests go to a server over the network.
    pub fn is_network(&self) -> bool {
        matches!(
            self.fs_type.as_str(),
            "nfs" | "nfs4" | "cifs" | "smb3" | "smbfs" | "9p" | "ceph" | "glusterfs" | "afs" | "lustre"
        )
    }

    /// The server a network filesystem talks to: `addr=` of its superblock
    /// options (NFS, CIFS), else the host part of its source ("srv:/export").
    pub fn server(&self) -> Option<String> {
        if !self.is_network() {
            return None;
        }
        let addr = self.super_options.split(',').find_map(|o| o.strip_prefix("addr=")).filter(|a| !a.is_empty());
        addr.map(str::to_string).or_else(|| {
            let host = self.source.trim_start_matches("//").split([':', '/']).next().unwrap_or("");
            (!host.is_empty()).then(|| host.to_string())
        })
    }

    /// The number the kernel gives this mount's FUSE connection (its
    /// directory in /sys/fs/fuse/connections, the `fuse_connection:` of the
    /// daemon's /dev/fuse fdinfo): the superblock's device number.
    pub fn fuse_connection_id(&self) -> u64 {
        (u64::from(self.major) << 20) | u64::from(self.minor)
    }
}

/// /sys/fs/fuse/connections/N (fusectl, when it is mounted).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct FuseConnection {
    pub id: u64,
    /// `waiting`: requests sent to the daemon or queued for it and not yet
    /// answered. `None` when fusectl is not mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<u32>,
}

/// An fd on /dev/fuse: the process holding it serves a FUSE connection.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct FuseDevFd {
    pub fd: u32,
    /// `fuse_connection:` of its fdinfo (Linux 6.x kernels print it): the
    /// connection it serves. `None` on kernels that do not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_servers() {
        let nfs = Mount {
            fs_type: "nfs4".into(),
            source: "10.0.0.5:/export".into(),
            super_options: "rw,vers=4.2,rsize=1048576,addr=10.0.0.5,local_lock=none".into(),
            ..Default::default()
        };
        assert!(nfs.is_network() && !nfs.is_fuse());
        assert_eq!(nfs.server().as_deref(), Some("10.0.0.5"));
        let cifs = Mount { fs_type: "cifs".into(), source: "//files/share".into(), ..Default::default() };
        assert_eq!(cifs.server().as_deref(), Some("files"));
        let fuse = Mount { fs_type: "fuse.sshfs".into(), major: 0, minor: 53, ..Default::default() };
        assert!(fuse.is_fuse() && fuse.server().is_none());
        assert_eq!(fuse.fuse_connection_id(), 53);
        let blk = Mount { fs_type: "fuseblk".into(), major: 8, minor: 17, ..Default::default() };
        assert_eq!(blk.fuse_connection_id(), (8 << 20) | 17);
    }
}
