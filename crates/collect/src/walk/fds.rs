//! Every fd of a process, and what its socket, pipe and anon-inode links
//! point at: the strategy that makes pass one cheap on a host of thousands
//! of idle daemons.
//!
//! The kernel gives the number of open fds as the size of /proc/PID/fd, and
//! fds are handed out lowest first, so the links are read by number from 0
//! until that many were found: one readlinkat per fd and no getdents pass
//! (which looks up, and may create, a dentry for every fd a second time).
//! A sparse table (bash's fd 255, a daemon that dup2()s high, a forked
//! child's inherited fd 10) runs out of its small allowance of misses and
//! the rest is listed with getdents, skipping the numbers already probed;
//! so is a kernel that reports no size and a process whose links we may
//! not read.

use super::pool::Progress;
use super::read::{failed, open_dir, open_path, read_at, Bufs, SMALL_CAP};
use crate::parse::{self, fd::Target};
use crate::CollectError;
use rustix::fd::OwnedFd;
use rustix::fs::{self as rfs, RawDir};
use std::fmt::Write as _;
use unwedge_model::{AnonFd, PipeFd, Process, SocketFd};

/// Reads every fd of the process at `dir` into `p` (`fd_count`, sockets,
/// pipes, anon inodes with a signalfd's mask), each list sorted by fd.
/// `count`: the size of /proc/PID/fd if already known.
pub(super) fn read_fds(
    dir: &OwnedFd,
    count: Option<u64>,
    p: &mut Process,
    b: &mut Bufs,
    prog: &Progress,
) -> Result<(), CollectError> {
    let fds = open_path(dir, c"fd").map_err(failed("/proc/PID/fd"))?;
    let count = match count {
        Some(c) => c,
        None => rfs::fstat(&fds).map_err(|e| CollectError::io("/proc/PID/fd", e.into()))?.st_size.max(0) as u64,
    };
    let probed = by_number(&fds, count, p, b, prog)?;
    if let Some(probed) = probed {
        listed(dir, probed, p, b, prog)?;
    }
    signalfd_masks(dir, p, b);
    p.sockets.sort_by_key(|s| s.fd);
    p.pipes.sort_by_key(|s| s.fd);
    p.anon_fds.sort_by_key(|a| a.fd);
    // Grown by doubling, a server's 100k socket fds would hold room for 130k.
    p.sockets.shrink_to_fit();
    Ok(())
}

/// Reads the links by number until `count` were found. `None` when that
/// read them all; else the table is sparse and the fds from the returned
/// number up are left to [`listed`].
fn by_number(
    fds: &OwnedFd,
    count: u64,
    p: &mut Process,
    b: &mut Bufs,
    prog: &Progress,
) -> Result<Option<u32>, CollectError> {
    if count == 0 {
        return Ok(Some(0));
    }
    // Every fd below `probed` was read or found missing by number.
    let (mut found, mut misses, mut probed) = (0u64, 0u64, 0u32);
    // A miss costs a failed lookup (~3 µs); a getdents of a small table,
    // about as much as two: on a host of idle daemons with sparse tables a
    // large allowance costs more than it saves.
    let allowance = 4 + count / 16;
    while found < count {
        b.path.clear();
        let _ = write!(b.path, "{probed}");
        // readlink never follows the target, so a dead NFS mount cannot hang it.
        match rfs::readlinkat_raw(fds, b.path.as_str(), &mut b.link[..]) {
            Ok(n) => {
                found += 1;
                add_fd(p, probed, &b.link[..n], fds, b.path.as_str());
                prog.tick();
            }
            Err(rustix::io::Errno::NOENT) => {
                misses += 1;
                if misses > allowance {
                    return Ok(Some(probed + 1));
                }
            }
            // Links we may not read (a protected init): list and count them as getdents sees them.
            Err(rustix::io::Errno::ACCESS) | Err(rustix::io::Errno::PERM) => {
                (p.fd_count, p.sockets, p.pipes, p.anon_fds) = (0, Vec::new(), Vec::new(), Vec::new());
                return Ok(Some(0));
            }
            Err(e) => return Err(CollectError::io("/proc/PID/fd", e.into())),
        }
        probed += 1;
    }
    Ok(None)
}

/// The fds from `from` up, as getdents lists them.
fn listed(dir: &OwnedFd, from: u32, p: &mut Process, b: &mut Bufs, prog: &Progress) -> Result<(), CollectError> {
    let fds = open_dir(dir, c"fd").map_err(failed("/proc/PID/fd"))?;
    let mut raw = RawDir::new(&fds, b.dents.spare_capacity_mut());
    while let Some(e) = raw.next() {
        let e = e.map_err(|e| CollectError::io("/proc/PID/fd", e.into()))?;
        let name = e.file_name();
        let Some(fd) = parse::dec(name.to_bytes()).and_then(|f| u32::try_from(f).ok()) else {
            continue;
        };
        if fd < from {
            continue;
        }
        if let Ok(n) = rfs::readlinkat_raw(&fds, name, &mut b.link[..]) {
            add_fd(p, fd, &b.link[..n], &fds, name);
        } else {
            p.fd_count += 1; // closed since listed, or unreadable: it was open
        }
        prog.tick();
    }
    Ok(())
}

/// Which signals a signalfd reads tells a deliberate SIGTERM block from a hang.
fn signalfd_masks(dir: &OwnedFd, p: &mut Process, b: &mut Bufs) {
    for i in 0..p.anon_fds.len() {
        if p.anon_fds[i].kind != "[signalfd]" {
            continue;
        }
        b.path.clear();
        let _ = write!(b.path, "fdinfo/{}", p.anon_fds[i].fd);
        if read_at(dir, b.path.as_str(), &mut b.file, SMALL_CAP).is_ok() {
            p.anon_fds[i].sigmask = parse::fdinfo::signalfd_mask(&b.file);
        }
    }
}

fn add_fd(p: &mut Process, fd: u32, link: &[u8], fds: &OwnedFd, name: impl rustix::path::Arg) {
    p.fd_count += 1;
    match parse::fd::classify(link) {
        Target::Socket(inode) => p.sockets.push(SocketFd { fd, inode }),
        Target::Anon(kind) => {
            p.anon_fds.push(AnonFd { fd, kind: String::from_utf8_lossy(kind).into_owned(), sigmask: None })
        }
        Target::Pipe(inode) => {
            // The link's own mode is the open mode (r-x read end, -wx
            // write end): which end a blocked writer's reader holds.
            let writes = rfs::statat(fds, name, rfs::AtFlags::SYMLINK_NOFOLLOW).ok().map(|st| st.st_mode & 0o200 != 0);
            p.pipes.push(PipeFd { fd, inode, writes })
        }
        Target::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::read::open_dir;
    use super::super::read_brief;
    use super::*;

    /// fds 0-2, a socket, and the same socket dup'ed to 40 and 300: more
    /// gaps than the by-number read allows, so the rest is listed; every fd
    /// is counted once and both high numbers are seen.
    #[test]
    fn a_sparse_fd_table_is_read_whole_and_once() {
        use std::io::BufRead;
        let script = "import os,socket,sys,time\ns=socket.socket()\nos.dup2(s.fileno(),40)\nos.dup2(s.fileno(),300)\n\
                      print(sorted(int(f) for f in os.listdir('/proc/self/fd')),flush=True)\ntime.sleep(30)";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // The child's own listing includes the fd its listdir opened.
        let expected = line.trim().trim_matches(['[', ']']).split(", ").count() as u32 - 1;
        let proc = open_dir(rfs::CWD, c"/proc").unwrap();
        let one = read_brief(&proc, child.id(), 0, &Progress::default());
        let _ = child.kill();
        let _ = child.wait();
        let p = one.result.unwrap();
        assert_eq!(p.fd_count, expected, "{line}");
        let fds: Vec<u32> = p.sockets.iter().map(|s| s.fd).collect();
        assert_eq!(fds.len(), 3, "{fds:?}");
        assert!(fds.ends_with(&[40, 300]), "{fds:?}");
    }
}
