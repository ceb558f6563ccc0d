//! One-value sysctl files and namespace links.

use super::{dec, trim};

/// net.ipv4.ip_local_port_range: "32768\t60999".
pub fn port_range(buf: &[u8]) -> Option<(u16, u16)> {
    let mut it = trim(buf).split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty());
    let lo = u16::try_from(dec(it.next()?)?).ok()?;
    let hi = u16::try_from(dec(it.next()?)?).ok()?;
    Some((lo, hi))
}

/// net.ipv4.ip_local_reserved_ports: "" or "8080,9000-9010".
pub fn port_list(buf: &[u8]) -> Vec<(u16, u16)> {
    trim(buf)
        .split(|&b| b == b',')
        .filter_map(|item| {
            let item = trim(item);
            let (lo, hi) = match item.iter().position(|&b| b == b'-') {
                Some(i) => (&item[..i], &item[i + 1..]),
                None => (item, item),
            };
            let lo = u16::try_from(dec(lo)?).ok()?;
            let hi = u16::try_from(dec(hi)?).ok()?;
            (lo <= hi).then_some((lo, hi))
        })
        .collect()
}

pub fn single(buf: &[u8]) -> Option<u64> {
    dec(trim(buf))
}

/// The inode in a namespace link such as "net:[4026531840]".
pub fn ns_inode(link: &[u8]) -> Option<u64> {
    let open = link.iter().position(|&b| b == b'[')?;
    let close = link.iter().rposition(|&b| b == b']')?;
    dec(link.get(open + 1..close)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(port_range(b"32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(port_range(b"32768"), None);
        assert_eq!(port_range(b"1 70000"), None);
        assert_eq!(single(b"60\n"), Some(60));
        assert_eq!(port_list(b"\n"), vec![]);
        assert_eq!(port_list(b"8080,9000-9010\n"), vec![(8080, 8080), (9000, 9010)]);
        assert_eq!(port_list(b"9-1,x"), vec![]);
        assert_eq!(ns_inode(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(ns_inode(b"net:]["), None);
    }
}
