//! /proc/PID/stat and /proc/PID/task/TID/stat.
//!
//! The comm field is free text in parentheses that may itself hold spaces,
//! parentheses and newlines (a process can name itself `a) S 1 (b`), so the
//! line is split at the *last* `)`, as procps and the procfs crate do.

use super::dec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    pub flags: u64,
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u64,
    pub starttime: u64,
}

/// PF_KTHREAD in the flags field: a kernel thread, with no fds or sockets.
pub const PF_KTHREAD: u64 = 0x0020_0000;

pub fn parse(buf: &[u8]) -> Option<Stat> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = dec(super::trim(&buf[..open]))? as u32;
    let comm = String::from_utf8_lossy(&buf[open + 1..close]).into_owned();
    // Fields from 3 (state) on; index 0 here is field 3 of proc(5).
    let mut rest = buf[close + 1..].split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty());
    let mut fields: [&[u8]; 20] = [&[]; 20];
    for slot in fields.iter_mut() {
        *slot = rest.next()?;
    }
    let state = *fields[0].first()? as char;
    Some(Stat {
        pid,
        comm,
        state,
        ppid: dec(fields[1])? as u32,
        pgrp: signed_as_u32(fields[2])?,
        session: signed_as_u32(fields[3])?,
        flags: dec(fields[6])?,
        utime: dec(fields[11])?,
        stime: dec(fields[12])?,
        num_threads: dec(fields[17])?,
        starttime: dec(fields[19])?,
    })
}

/// pgrp and session are 0 for kernel threads; never negative in practice,
/// but a negative value must not fail the parse.
fn signed_as_u32(f: &[u8]) -> Option<u32> {
    match f {
        [b'-', ..] => Some(0),
        _ => dec(f).map(|n| n as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // From tests/fixtures/captures/uwsgi-hping3-sigalrm.txt (Debian 12, kernel 6.18).
    const HPING3: &[u8] = b"30002 (hping3) S 29984 29966 29966 0 -1 4194560 193 0 2 0 0 0 0 0 20 0 1 0 1538564 11952128 1410 18446744073709551615 94646856212480 94646856304381 140723663709696 0 0 0 2147221247 0 548866 1 0 0 17 1 0 0 0 0 0 94646856350000 94646856358960 94647264735232 140723663710751 140723663710787 140723663710787 140723663712231 0\n";

    #[test]
    fn captured_hping3() {
        let s = parse(HPING3).unwrap();
        assert_eq!(s.pid, 30002);
        assert_eq!(s.comm, "hping3");
        assert_eq!(s.state, 'S');
        assert_eq!((s.ppid, s.pgrp, s.session), (29984, 29966, 29966));
        assert_eq!(s.starttime, 1538564);
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.flags & PF_KTHREAD, 0);
    }

    #[test]
    fn hostile_comm_names() {
        for comm in ["a b", "x) S 1 (y", "((", "))", "new\nline", ") R 0 0 0", ""] {
            let line = format!("77 ({comm}) R 5 6 7 0 -1 4194560 1 0 0 0 11 22 0 0 20 0 3 0 999 0 0");
            let s = parse(line.as_bytes()).unwrap_or_else(|| panic!("comm {comm:?}"));
            assert_eq!(s.comm, comm);
            assert_eq!((s.pid, s.state, s.ppid, s.pgrp, s.session), (77, 'R', 5, 6, 7));
            assert_eq!((s.utime, s.stime, s.num_threads, s.starttime), (11, 22, 3, 999));
        }
    }

    #[test]
    fn truncated_or_garbage() {
        assert!(parse(b"").is_none());
        assert!(parse(b"12 (x").is_none());
        assert!(parse(b"12 (x) S 1 2").is_none());
        assert!(parse(b") (").is_none());
        assert!(parse(&HPING3[..60]).is_none());
    }
}
