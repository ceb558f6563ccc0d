//! /proc/PID/limits: the "Max open files" (RLIMIT_NOFILE) and "Max
//! processes" (RLIMIT_NPROC) rows.

use super::dec;

/// Soft and hard limit; `None` inside means "unlimited".
pub fn parse_nofile(buf: &[u8]) -> Option<(Option<u64>, Option<u64>)> {
    row(buf, b"Max open files")
}

/// Soft and hard RLIMIT_NPROC; `None` inside means "unlimited".
pub fn parse_nproc(buf: &[u8]) -> Option<(Option<u64>, Option<u64>)> {
    row(buf, b"Max processes")
}

fn row(buf: &[u8], name: &[u8]) -> Option<(Option<u64>, Option<u64>)> {
    let line = buf.split(|&b| b == b'\n').find(|l| l.starts_with(name))?;
    let mut cols = line[name.len()..].split(|b| b.is_ascii_whitespace()).filter(|c| !c.is_empty());
    let soft = limit(cols.next()?)?;
    let hard = limit(cols.next()?)?;
    Some((soft, hard))
}

fn limit(col: &[u8]) -> Option<Option<u64>> {
    if col == b"unlimited" {
        Some(None)
    } else {
        dec(col).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured() {
        let text = b"Limit                     Soft Limit           Hard Limit           Units     \nMax processes             96365                96365                processes \nMax open files            20000                20000                files     \n";
        assert_eq!(parse_nofile(text), Some((Some(20000), Some(20000))));
        assert_eq!(parse_nproc(text), Some((Some(96365), Some(96365))));
        let unl = b"Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_nofile(unl), Some((None, None)));
        assert_eq!(parse_nofile(b"Max open files  12"), None);
        assert_eq!(parse_nofile(b""), None);
    }
}
