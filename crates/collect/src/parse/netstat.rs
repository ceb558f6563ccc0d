//! /proc/net/netstat: TcpExt counters, as header/value line pairs.

use super::dec;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpExt {
    pub listen_overflows: Option<u64>,
    pub listen_drops: Option<u64>,
    pub syn_challenges: Option<u64>,
    pub challenge_acks: Option<u64>,
    pub reqq_full_drop: Option<u64>,
    pub reqq_full_do_cookies: Option<u64>,
    pub syncookies_sent: Option<u64>,
}

pub fn parse(buf: &[u8]) -> TcpExt {
    let mut out = TcpExt::default();
    let lines: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
    for pair in lines.windows(2) {
        let (names, values) = (pair[0], pair[1]);
        if !names.starts_with(b"TcpExt:") || !values.starts_with(b"TcpExt:") {
            continue;
        }
        let names = names[7..].split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty());
        let values = values[7..].split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty());
        for (name, value) in names.zip(values) {
            match name {
                b"ListenOverflows" => out.listen_overflows = dec(value),
                b"ListenDrops" => out.listen_drops = dec(value),
                b"TCPSYNChallenge" => out.syn_challenges = dec(value),
                b"TCPChallengeACK" => out.challenge_acks = dec(value),
                b"TCPReqQFullDrop" => out.reqq_full_drop = dec(value),
                b"TCPReqQFullDoCookies" => out.reqq_full_do_cookies = dec(value),
                b"SyncookiesSent" => out.syncookies_sent = dec(value),
                _ => {}
            }
        }
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        let text = b"TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits TCPChallengeACK TCPSYNChallenge TCPReqQFullDoCookies TCPReqQFullDrop\nTcpExt: 4 17 19 5 7 3 11 13\nIpExt: InNoRoutes\nIpExt: 0\n";
        let t = parse(text);
        assert_eq!((t.syncookies_sent, t.reqq_full_do_cookies, t.reqq_full_drop), (Some(4), Some(11), Some(13)));
        assert_eq!(t.listen_overflows, Some(17));
        assert_eq!(t.listen_drops, Some(19));
        assert_eq!((t.challenge_acks, t.syn_challenges), (Some(7), Some(3)));
        assert_eq!(parse(b"TcpExt: ListenOverflows\n"), TcpExt::default());
    }
}
