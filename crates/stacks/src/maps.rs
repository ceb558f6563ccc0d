//! /proc/PID/maps and /proc/PID/task/TID/syscall, parsed. Pure: the
//! fuzz targets run these on arbitrary bytes.

/// One line of /proc/PID/maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// File offset of `start`.
    pub offset: u64,
    pub dev: (u32, u32),
    pub inode: u64,
    /// The file ("/usr/lib/x86_64-linux-gnu/libc.so.6"), a pseudo-name
    /// ("[stack]", "[vdso]") or `None` for anonymous memory. A file deleted
    /// since it was mapped keeps its " (deleted)" suffix.
    pub path: Option<String>,
}

impl Mapping {
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// A real file (not "[heap]", "[vdso]" or anonymous memory).
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.as_deref().is_some_and(|p| p.starts_with('/'))
    }
}

/// Parses /proc/PID/maps; malformed lines are skipped.
pub fn parse(text: &[u8]) -> Vec<Mapping> {
    text.split(|&b| b == b'\n').filter_map(line).collect()
}

fn line(l: &[u8]) -> Option<Mapping> {
    let l = std::str::from_utf8(l).ok()?;
    // Six fields, the last (the path) may contain spaces.
    let mut rest = l;
    let mut field = || {
        let r = rest.trim_start_matches(' ');
        let end = r.find(' ').unwrap_or(r.len());
        let (f, tail) = r.split_at(end);
        rest = tail;
        (!f.is_empty()).then_some(f)
    };
    let range = field()?;
    let perms = field()?.as_bytes();
    let offset = u64::from_str_radix(field()?, 16).ok()?;
    let (maj, min) = field()?.split_once(':')?;
    let inode: u64 = field()?.parse().ok()?;
    let path = rest.trim_start_matches(' ');
    let (start, end) = range.split_once('-')?;
    let (start, end) = (u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?);
    if start >= end || perms.len() < 4 {
        return None;
    }
    Some(Mapping {
        start,
        end,
        read: perms[0] == b'r',
        write: perms[1] == b'w',
        exec: perms[2] == b'x',
        offset,
        dev: (u32::from_str_radix(maj, 16).ok()?, u32::from_str_radix(min, 16).ok()?),
        inode,
        path: (!path.is_empty()).then(|| path.to_string()),
    })
}

/// Where a thread is, from /proc/PID/task/TID/syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// "running": on a CPU or runnable; the kernel gives no registers.
    Running,
    /// Blocked in syscall `nr`; `sp`/`pc` are its user stack pointer and the
    /// instruction after the syscall.
    Syscall { nr: u64, sp: u64, pc: u64 },
    /// "-1 sp pc": not in a syscall but not running either (stopped, or
    /// interrupted in user space): its registers are saved and still.
    Stopped { sp: u64, pc: u64 },
}

/// Parses a syscall line; `None` for malformed text.
pub fn parse_syscall(text: &[u8]) -> Option<Where> {
    let text = std::str::from_utf8(text).ok()?.trim();
    if text == "running" {
        return Some(Where::Running);
    }
    let f: Vec<&str> = text.split_ascii_whitespace().collect();
    let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
    match f.as_slice() {
        ["-1", sp, pc] => Some(Where::Stopped { sp: hex(sp)?, pc: hex(pc)? }),
        [nr, _, _, _, _, _, _, sp, pc] => Some(Where::Syscall { nr: nr.parse().ok()?, sp: hex(sp)?, pc: hex(pc)? }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let text = b"55d4c7a00000-55d4c7a01000 r--p 00000000 fd:01 1311 /usr/bin/story one\n\
7f1c2a600000-7f1c2a628000 r-xp 00028000 fd:01 2466 /usr/lib/x86_64-linux-gnu/libc.so.6\n\
7ffd1e3f0000-7ffd1e411000 rw-p 00000000 00:00 0                          [stack]\n\
7f1c2a800000-7f1c2a801000 rw-p 00000000 00:00 0 \n\
garbage\n\
7f-7e r-xp 0 0:0 0\n";
        let m = parse(text);
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!(m[0].path.as_deref(), Some("/usr/bin/story one"), "paths keep their spaces");
        assert!(m[1].exec && !m[1].write && m[1].offset == 0x28000 && m[1].dev == (0xfd, 1) && m[1].is_file());
        assert_eq!(m[2].path.as_deref(), Some("[stack]"));
        assert!(!m[2].is_file() && m[3].path.is_none());
    }

    #[test]
    fn syscall_lines() {
        // From tests/fixtures/captures/orphan-proxy-futex.txt (kernel 6.18 x86_64): recvfrom(5, …).
        assert_eq!(
            parse_syscall(b"45 0x5 0x7fcf80018150 0x10000 0x0 0x0 0x0 0x7fcf853fe8c0 0x7fcf85fcb974\n"),
            Some(Where::Syscall { nr: 45, sp: 0x7fcf853fe8c0, pc: 0x7fcf85fcb974 })
        );
        assert_eq!(parse_syscall(b"running\n"), Some(Where::Running));
        assert_eq!(parse_syscall(b"-1 0x7ffc 0x4010"), Some(Where::Stopped { sp: 0x7ffc, pc: 0x4010 }));
        assert_eq!(parse_syscall(b"7 0x1 0x2"), None);
        assert_eq!(parse_syscall(b""), None);
    }
}
