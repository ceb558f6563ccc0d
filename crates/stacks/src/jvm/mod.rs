//! Inside a JVM: its native threads say little (every Java thread parks
//! in the same futex), so unwedge reads what HotSpot itself publishes.
//! Without asking the JVM anything, its hsperfdata counters ([`hsperf`]:
//! threads, safepoints, monitor contention, GC); and, only when asked
//! (`--stacks attach`), its own thread dump over its attach socket
//! ([`attach`], parsed by [`dump`]): Java frames, the monitors each thread
//! holds and waits for, and the JVM's deadlock verdict. The dump costs
//! the JVM one brief safepoint, as `jstack` does; nothing here ever
//! ptraces or stops it.
//!
//! The JVM's files live in its own mount namespace, under its own pid
//! (NSpid): they are reached through /proc/PID/root.

pub mod attach;
pub mod dump;
pub mod hsperf;

use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use unwedge_model::jvm::{JvmCounters, JvmProcess};

/// What /proc/PID/status says of a target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The pid in the target's own pid namespace (the last NSpid field):
    /// the JVM names its files by it.
    pub nspid: u32,
    pub euid: u32,
    pub egid: u32,
    /// State letter: 'S', 'R', 'T', 'Z'…
    pub state: char,
    /// Signals with a handler, and ignored ones (bit n-1 for signal n).
    pub sig_caught: u64,
    pub sig_ignored: u64,
}

impl Status {
    /// Parses /proc/PID/status; None when a field unwedge needs is missing.
    pub fn parse(text: &str, pid: u32) -> Option<Status> {
        let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
        let second = |k: &str| field(k)?.split_whitespace().nth(1)?.parse().ok();
        let mask = |k: &str| u64::from_str_radix(field(k)?, 16).ok();
        Some(Status {
            // Kernels before 4.1 have no NSpid: the pid is the only one.
            nspid: match field("NSpid:") {
                Some(ns) => ns.split_whitespace().last()?.parse().ok()?,
                None => pid,
            },
            euid: second("Uid:")?,
            egid: second("Gid:")?,
            state: field("State:")?.chars().next()?,
            sig_caught: mask("SigCgt:")?,
            sig_ignored: mask("SigIgn:")?,
        })
    }

    pub fn catches(&self, sig: i32) -> bool {
        (1..=64).contains(&sig) && self.sig_caught & (1 << (sig - 1)) != 0 && self.sig_ignored & (1 << (sig - 1)) == 0
    }
}

pub fn status(pid: u32) -> io::Result<Status> {
    let text = read_small(&format!("/proc/{pid}/status"), 64 << 10)?;
    Status::parse(&String::from_utf8_lossy(&text), pid)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "an unreadable /proc status"))
}

/// A small file, at most `cap` bytes.
fn read_small(path: &str, cap: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(cap as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Where a JVM's hsperfdata file is, and its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Hsperf {
    /// The file as the JVM sees it ("/tmp/hsperfdata_app/1").
    pub path: String,
    /// Its inode, as the JVM's memory map names it.
    pub inode: u64,
    pub counters: JvmCounters,
}

/// How long the maps of a process may take to read: /proc/PID/maps takes
/// the target's mmap lock, which a thread stuck in the kernel can hold.
const MAPS_WAIT: Duration = Duration::from_millis(500);

/// Reads the hsperfdata of process `pid`, or says why not. The file is
/// found in the process's own memory map (the JVM maps it), so it is that
/// JVM's file and no stale one left by an earlier process with the same
/// pid; it is opened through /proc/PID/root (the JVM's mount namespace)
/// without following symlinks, and only a regular file with the mapped
/// inode is read. `Ok(None)`: the process maps no hsperfdata file (not a
/// HotSpot JVM, or one run with -XX:-UsePerfData or -XX:+PerfDisableSharedMem).
pub fn read_hsperf(pid: u32) -> Result<Option<Hsperf>, String> {
    let st = status(pid).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let maps = with_timeout("hsperf-maps", MAPS_WAIT, move || {
        crate::mem::read_file(&format!("/proc/{pid}/maps"), 64 << 20).map_err(|e| e.to_string())
    })
    .map_err(|e| format!("/proc/{pid}/maps: {e}"))?;
    let Some((path, m)) = find_hsperf_mapping(&crate::maps::parse(&maps), st.nspid) else {
        return Ok(None);
    };
    let bytes = match read_mapped(pid, &path, m.inode) {
        Ok(b) => b,
        Err(first) => {
            // Deleted from /tmp since (a cleaner), or not reachable by path:
            // the mapping itself (root only).
            let by_map = format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end);
            read_checked(&by_map, m.inode, false).map_err(|e| format!("{path}: {first}; {by_map}: {e}"))?
        }
    };
    counters_of(path, m.inode, &bytes).map(Some)
}

/// Reads the same JVM's hsperfdata again, by the path and inode an earlier
/// read found, without its memory map (the map of a JVM with 500 threads
/// is 1,200 lines); a full [`read_hsperf`] when the file is no longer
/// that one. The caller knows `pid` is still the same process (its start
/// time in /proc/PID/stat).
pub fn reread_hsperf(pid: u32, prev: &Hsperf) -> Result<Option<Hsperf>, String> {
    match read_mapped(pid, &prev.path, prev.inode) {
        Ok(bytes) => counters_of(prev.path.clone(), prev.inode, &bytes).map(Some),
        Err(_) => read_hsperf(pid),
    }
}

/// A JVM's hsperfdata in the snapshot's form (`Process::jvm`): the
/// counters and where they are, or why not. `prev`: what an earlier read
/// of the same process found, to open the file again without its memory
/// map. The caller knows `pid` is a JVM and still the same process.
pub fn process_facts(pid: u32, prev: Option<&JvmProcess>) -> JvmProcess {
    let known = prev.and_then(|p| Some((p.hsperf_path.clone()?, p.hsperf_inode?)));
    let read = match known {
        Some((path, inode)) => reread_hsperf(pid, &Hsperf { path, inode, counters: JvmCounters::default() }),
        None => read_hsperf(pid),
    };
    match read {
        Ok(Some(h)) => JvmProcess {
            hsperf_path: Some(h.path),
            hsperf_inode: Some(h.inode),
            counters: Some(h.counters),
            ..Default::default()
        },
        Ok(None) => JvmProcess {
            note: Some("no hsperfdata: the JVM runs with -XX:-UsePerfData or -XX:+PerfDisableSharedMem".into()),
            ..Default::default()
        },
        Err(e) => JvmProcess { note: Some(format!("hsperfdata not read: {e}")), ..Default::default() },
    }
}

fn counters_of(path: String, inode: u64, bytes: &[u8]) -> Result<Hsperf, String> {
    let data = hsperf::parse(bytes).map_err(|e| format!("{path}: {e}"))?;
    if !data.accessible {
        return Err(format!("{path}: the JVM has not made its counters accessible (starting or exiting)"));
    }
    Ok(Hsperf { path, inode, counters: hsperf::counters(&data) })
}

/// The mapping of an hsperfdata file named after `nspid`: its path as the
/// process sees it, without a " (deleted)" mark.
pub fn find_hsperf_mapping(maps: &[crate::maps::Mapping], nspid: u32) -> Option<(String, crate::maps::Mapping)> {
    let name = nspid.to_string();
    maps.iter().find_map(|m| {
        let p = m.path.as_deref()?;
        let p = p.strip_suffix(" (deleted)").unwrap_or(p);
        let (dir, file) = p.rsplit_once('/')?;
        let dir_name = dir.rsplit('/').next()?;
        (m.inode != 0 && file == name && dir_name.starts_with("hsperfdata_")).then(|| (p.to_string(), m.clone()))
    })
}

fn read_mapped(pid: u32, path: &str, inode: u64) -> io::Result<Vec<u8>> {
    read_checked(&format!("/proc/{pid}/root{path}"), inode, true)
}

/// Opens `path` read-only (not following a final symlink when
/// `nofollow`, never blocking on a FIFO), checks it is a regular file
/// with `inode` and at most [`hsperf::MAX_FILE`] bytes, and reads it.
fn read_checked(path: &str, inode: u64, nofollow: bool) -> io::Result<Vec<u8>> {
    let c = CString::new(path).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the path"))?;
    let mut flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    // SAFETY: a NUL-terminated path; the fd is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let meta = file.metadata()?;
    use std::os::unix::fs::MetadataExt;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file"));
    }
    if meta.ino() != inode {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not the file the process maps"));
    }
    if meta.len() > hsperf::MAX_FILE as u64 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} bytes, more than read", meta.len())));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(hsperf::MAX_FILE as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Runs `f` on a helper thread and waits `limit` for it; past that the
/// helper is left behind (it holds nothing but its own result).
fn with_timeout<T: Send + 'static>(
    name: &str,
    limit: Duration,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| format!("no thread to read it: {e}"))?;
    rx.recv_timeout(limit)
        .map_err(|_| format!("did not answer within {} ms (a thread stuck in the kernel?)", limit.as_millis()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let text = "Name:\tjava\nState:\tS (sleeping)\nPid:\t4242\nNSpid:\t4242\t7\nUid:\t0\t1000\t1000\t1000\n\
                    Gid:\t0\t1001\t1001\t1001\nSigIgn:\t0000000000000000\nSigCgt:\t2000000181005ccf\n";
        let s = Status::parse(text, 4242).unwrap();
        assert_eq!((s.nspid, s.euid, s.egid, s.state), (7, 1000, 1001, 'S'));
        assert!(s.catches(libc::SIGQUIT), "HotSpot catches SIGQUIT");
        assert!(!s.catches(libc::SIGALRM));
        assert!(!s.catches(0) && !s.catches(65));
        let no_ns = text.replace("NSpid:\t4242\t7\n", "");
        assert_eq!(Status::parse(&no_ns, 4242).unwrap().nspid, 4242);
        assert_eq!(Status::parse("Name:\tx\n", 1), None);
        let ignored = text.replace("SigIgn:\t0000000000000000", "SigIgn:\t0000000000000004");
        assert!(!Status::parse(&ignored, 1).unwrap().catches(libc::SIGQUIT));
    }

    #[test]
    fn hsperf_mapping() {
        let maps = crate::maps::parse(
            b"7f0000000000-7f0000008000 rw-s 00000000 00:20 123 /tmp/hsperfdata_app/7\n\
              7f0000010000-7f0000018000 rw-s 00000000 00:20 124 /tmp/hsperfdata_app/77\n\
              7f0000020000-7f0000028000 r--p 00000000 08:01 9 /usr/lib/jvm/lib/server/libjvm.so\n",
        );
        let (path, m) = find_hsperf_mapping(&maps, 7).unwrap();
        assert_eq!((path.as_str(), m.inode), ("/tmp/hsperfdata_app/7", 123));
        assert_eq!(find_hsperf_mapping(&maps, 77).unwrap().1.inode, 124);
        assert!(find_hsperf_mapping(&maps, 8).is_none());
        let deleted =
            crate::maps::parse(b"7f0000000000-7f0000008000 rw-s 00000000 00:20 5 /tmp/hsperfdata_u/3 (deleted)\n");
        assert_eq!(find_hsperf_mapping(&deleted, 3).unwrap().0, "/tmp/hsperfdata_u/3");
        let elsewhere = crate::maps::parse(b"7f0000000000-7f0000008000 rw-s 00000000 00:20 5 /data/3\n");
        assert!(find_hsperf_mapping(&elsewhere, 3).is_none());
    }
}
