//! Pure parsers over the bytes the kernel wrote. No I/O here: every parser
//! takes `&[u8]` and returns `None` (or skips a line) on anything malformed,
//! so hostile or truncated text can never panic a scan. Fuzzed.

pub mod cgroup;
pub mod conntrack;
pub mod container_state;
pub mod fd;
pub mod fdinfo;
pub mod freezer;
pub mod limits;
pub mod netstat;
pub mod proc_net_tcp;
pub mod resolv;
pub mod sockstat;
pub mod stack;
pub mod stat;
pub mod status;
pub mod sysctl;
pub mod tcp_info;
pub mod unix_diag;

/// Parses an unsigned decimal, without allocating.
pub(crate) fn dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(n)
}

/// Parses an unsigned hexadecimal (no 0x prefix), as in status masks and /proc/net/tcp.
pub(crate) fn hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        let d = (b as char).to_digit(16)?;
        n = (n << 4) | d as u64;
    }
    Some(n)
}

pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(dec(b"123"), Some(123));
        assert_eq!(dec(b""), None);
        assert_eq!(dec(b"-1"), None);
        assert_eq!(dec(b"99999999999999999999"), None);
        assert_eq!(hex(b"fffffffe7ffbfeff"), Some(0xfffffffe7ffbfeff));
        assert_eq!(hex(b"1fffffffffffffffff"), None);
        assert_eq!(hex(b"xyz"), None);
        assert_eq!(trim(b"  a b \n"), b"a b");
    }
}
