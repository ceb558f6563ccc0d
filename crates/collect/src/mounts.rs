//! The mounts under blocked file I/O: a thread blocked reading, writing
//! or syncing a file names the mount its fd is on (`mnt_id` of its fdinfo,
//! read with the thread); this reads /proc/PID/mountinfo once per mount
//! namespace that holds such a mount, keeps only those mounts, and for a
//! FUSE mount reads how many requests wait on its daemon
//! (/sys/fs/fuse/connections/N/waiting, where fusectl is mounted).
//!
//! Mount ids are unique on the host, so whichever namespace lists a mount
//! first gives its line. The reads run on a helper thread bounded by a
//! second: mountinfo takes the namespace's lock, which a stuck mount(2) or
//! umount(2) may hold.

use crate::parse;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use unwedge_model::{FuseConnection, Mount, Snapshot};

/// A mountinfo larger than this (a host of tens of thousands of mounts)
/// is read this far: the mounts that matter are usually early.
const MOUNTINFO_CAP: usize = 4 << 20;

/// Fills `snap.mounts` with the mounts the threads' fd arguments are on.
pub fn read(snap: &mut Snapshot) {
    let mut wanted: BTreeSet<u32> = BTreeSet::new();
    let mut pids: Vec<u32> = Vec::new();
    for p in &snap.processes {
        let ids: Vec<u32> = p.threads.iter().flat_map(|t| t.fd_args.iter().filter_map(|f| f.mnt_id)).collect();
        if !ids.is_empty() {
            wanted.extend(ids);
            pids.push(p.pid);
        }
    }
    if wanted.is_empty() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let want = wanted.clone();
    let reader = std::thread::Builder::new().name("mountinfo".into()).spawn(move || {
        let mut seen_ns: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut left = want;
        for pid in pids {
            if left.is_empty() {
                return;
            }
            // One read per mount namespace.
            let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/mnt")) else { continue };
            if !seen_ns.insert(ns.into_os_string().into_encoded_bytes()) {
                continue;
            }
            let mut buf = Vec::new();
            if crate::walk::read_capped(&format!("/proc/{pid}/mountinfo"), &mut buf, MOUNTINFO_CAP).is_err() {
                continue;
            }
            for m in parse::mountinfo::parse(&buf) {
                if left.remove(&m.id) && tx.send(m).is_err() {
                    return;
                }
            }
        }
    });
    if reader.is_err() {
        return;
    }
    let until = Instant::now() + Duration::from_secs(1);
    let mut found: BTreeMap<u32, Mount> = BTreeMap::new();
    while let Ok(m) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        found.insert(m.id, m);
    }
    for m in found.values_mut().filter(|m| m.is_fuse()) {
        let id = m.fuse_connection_id();
        let mut buf = Vec::new();
        let path = format!("/sys/fs/fuse/connections/{id}/waiting");
        let waiting = crate::walk::read_capped(&path, &mut buf, 64)
            .ok()
            .and_then(|_| parse::dec(parse::trim(&buf)))
            .and_then(|n| u32::try_from(n).ok());
        m.fuse = Some(FuseConnection { id, waiting });
    }
    snap.mounts = found.into_values().collect();
}
