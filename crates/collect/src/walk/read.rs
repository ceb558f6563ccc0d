//! Reading /proc by directory handle: every file is opened relative to an
//! open /proc/PID directory (openat, readlinkat: rustix), so the kernel
//! resolves one path component per call instead of four, and a pid reused
//! mid-read fails rather than reading another process. Each worker thread
//! reuses one set of scratch buffers.

use crate::parse;
use crate::CollectError;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, Mode, OFlags, RawDir};
use std::fmt::Write as _;
use std::io::{self, Read};

/// Enough for any status, stat, limits or syscall file.
pub(crate) const SMALL_CAP: usize = 64 * 1024;
/// getdents buffer: ~2,700 fd entries per call.
const DENTS_BUF: usize = 64 * 1024;
/// Socket, pipe and anon-inode links are short; a longer target (a file
/// path) is none of those, whatever its first 255 bytes say.
pub(super) const LINK_BUF: usize = 256;

/// Scratch buffers, one set per worker thread.
pub(super) struct Bufs {
    pub(super) file: Vec<u8>,
    pub(super) dents: Vec<u8>,
    pub(super) link: [u8; LINK_BUF],
    pub(super) path: String,
}

thread_local! {
    static BUFS: std::cell::RefCell<Bufs> = std::cell::RefCell::new(Bufs {
        file: Vec::with_capacity(4096),
        dents: Vec::with_capacity(DENTS_BUF),
        link: [0; LINK_BUF],
        path: String::with_capacity(64),
    });
}

pub(super) fn with_bufs<T>(f: impl FnOnce(&mut Bufs) -> T) -> T {
    BUFS.with(|b| f(&mut b.borrow_mut()))
}

/// Classifies a failed read of `what` (for `map_err`).
pub(super) fn failed(what: &'static str) -> impl Fn(io::Error) -> CollectError {
    move |e| CollectError::io(what, e)
}

/// A whole small file by path (for `proc_one`, which reads one process).
pub(crate) fn read_capped(path: &str, buf: &mut Vec<u8>, cap: usize) -> io::Result<()> {
    buf.clear();
    let f = std::fs::File::open(path)?;
    f.take(cap as u64).read_to_end(buf)?;
    Ok(())
}

pub(super) fn open_dir(at: impl AsFd, name: impl rustix::path::Arg) -> io::Result<OwnedFd> {
    Ok(rfs::openat(at, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// A directory as a handle to open its files from (O_PATH: nothing is read).
pub(super) fn open_path(at: impl AsFd, name: impl rustix::path::Arg) -> io::Result<OwnedFd> {
    Ok(rfs::openat(at, name, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// /proc (or /proc/PID/task) entry `id` as a directory handle.
pub(super) fn open_id(at: &OwnedFd, id: u32, path: &mut String) -> io::Result<OwnedFd> {
    path.clear();
    let _ = write!(path, "{id}");
    open_path(at, path.as_str())
}

/// A whole /proc file, at most `cap` bytes. A /proc file of one record
/// (stat, status, limits, syscall, stack…) comes whole in the first read
/// when it fits, so a read that did not fill the buffer is the end: no
/// second read just to see 0.
pub(super) fn read_at(dir: impl AsFd, name: impl rustix::path::Arg, buf: &mut Vec<u8>, cap: usize) -> io::Result<()> {
    buf.clear();
    let fd = rfs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    while buf.len() < cap {
        if buf.capacity() == buf.len() {
            buf.reserve((cap - buf.len()).min(buf.len().max(4096)));
        }
        let offered = buf.capacity() - buf.len();
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(buf)) {
            Ok(n) if n == 0 || n < offered => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(cap);
    Ok(())
}

pub(super) fn trimmed(buf: &[u8]) -> Option<String> {
    let s = parse::trim(buf);
    (!s.is_empty()).then(|| String::from_utf8_lossy(s).into_owned())
}

/// The numeric entries of directory `dir` (pids in /proc, tids in a task
/// directory), those listed before a read error, and that error if one came.
pub(super) fn list_ids(dir: &OwnedFd, dents: &mut Vec<u8>) -> (Vec<u32>, Option<io::Error>) {
    let mut ids = Vec::new();
    let mut raw = RawDir::new(dir, dents.spare_capacity_mut());
    while let Some(e) = raw.next() {
        match e {
            Ok(e) => {
                if let Some(id) = parse::dec(e.file_name().to_bytes()).and_then(|i| u32::try_from(i).ok()) {
                    ids.push(id);
                }
            }
            Err(e) => return (ids, Some(e.into())),
        }
    }
    (ids, None)
}

/// The process's task directory and the thread ids in it (those listed
/// before a read error, if one comes).
pub(super) fn task_ids(dir: &OwnedFd, b: &mut Bufs) -> Option<(OwnedFd, Vec<u32>)> {
    let task = open_dir(dir, c"task").ok()?;
    let (tids, _) = list_ids(&task, &mut b.dents);
    Some((task, tids))
}
