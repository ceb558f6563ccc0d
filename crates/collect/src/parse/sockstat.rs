//! /proc/net/sockstat: how many TCP sockets a dump will list, to size its
//! buffer once.

use super::dec;

/// `inuse` plus `tw` of the `TCP:` line.
pub fn tcp_sockets(buf: &[u8]) -> Option<u64> {
    let line = buf.split(|&b| b == b'\n').find_map(|l| l.strip_prefix(b"TCP:"))?;
    let mut words = line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
    let (mut inuse, mut tw) = (None, None);
    while let (Some(k), Some(v)) = (words.next(), words.next()) {
        match k {
            b"inuse" => inuse = dec(v),
            b"tw" => tw = dec(v),
            _ => {}
        }
    }
    inuse?.checked_add(tw.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured() {
        // Debian 12, kernel 6.18, the 105k-socket farm up.
        let text = b"sockets: used 105122\nTCP: inuse 105099 orphan 0 tw 44 alloc 105102 mem 392\nUDP: inuse 0 mem 0\n";
        assert_eq!(tcp_sockets(text), Some(105143));
        assert_eq!(tcp_sockets(b"TCP: inuse x\n"), None);
        assert_eq!(tcp_sockets(b""), None);
    }
}
