//! One process's /proc files, read on demand through the same capped reads
//! and parsers as the walk: for the remedies, which must re-check a pid
//! right before acting on it (is it still the process the snapshot saw? a
//! thread? stopped? where does it sleep?). No judgement here either.

use crate::parse;
use crate::walk::{read_capped, SMALL_CAP};
use std::io;

/// /proc/PID/stat. `ENOENT`/`ESRCH` when the process is gone.
pub fn stat(pid: u32) -> io::Result<parse::stat::Stat> {
    let mut buf = Vec::new();
    read_capped(&format!("/proc/{pid}/stat"), &mut buf, SMALL_CAP)?;
    parse::stat::parse(&buf).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))
}

/// /proc/PID/status. A thread id resolves here too (it is not listed in
/// /proc), and its `tgid` then names the process it belongs to.
pub fn status(pid: u32) -> io::Result<parse::status::Status> {
    let mut buf = Vec::new();
    read_capped(&format!("/proc/{pid}/status"), &mut buf, SMALL_CAP)?;
    Ok(parse::status::parse(&buf))
}

/// The kernel function the process's main thread sleeps in; `None` when it
/// runs, is gone, or the kernel hides it ("0").
pub fn wchan(pid: u32) -> Option<String> {
    let mut buf = Vec::new();
    read_capped(&format!("/proc/{pid}/wchan"), &mut buf, SMALL_CAP).ok()?;
    let w = parse::trim(&buf);
    (!w.is_empty() && w != b"0").then(|| String::from_utf8_lossy(w).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process() {
        let me = std::process::id();
        let st = stat(me).unwrap();
        assert_eq!(st.pid, me);
        assert_eq!(status(me).unwrap().tgid, Some(me));
        // pid_max is at most 2^22: this pid never exists.
        assert_eq!(stat(u32::MAX).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
