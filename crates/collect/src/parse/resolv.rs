//! /etc/resolv.conf (resolv.conf(5)): the nameservers glibc's stub resolver
//! asks, in order, and how long it waits for each (`options timeout:N`,
//! default 5 s) and how many rounds it makes (`options attempts:N`, default
//! 2). A thread stuck in a lookup waits up to timeout × attempts × servers.

use unwedge_model::ResolvConf;

/// glibc's limits: at most 3 nameservers are used; timeout and attempts are capped.
const MAXNS: usize = 3;
const MAX_TIMEOUT: u32 = 30;
const MAX_ATTEMPTS: u32 = 5;

pub fn parse(b: &[u8]) -> ResolvConf {
    let mut rc = ResolvConf { nameservers: Vec::new(), timeout_s: 5, attempts: 2, rotate: false };
    for line in b.split(|&c| c == b'\n') {
        let line = String::from_utf8_lossy(line);
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ns) = words.next().filter(|w| w.parse::<std::net::IpAddr>().is_ok()) {
                    if rc.nameservers.len() < MAXNS {
                        rc.nameservers.push(ns.to_string());
                    }
                }
            }
            Some("options") => {
                for opt in words {
                    if let Some(v) = opt.strip_prefix("timeout:").and_then(|v| v.parse::<u32>().ok()) {
                        rc.timeout_s = v.clamp(1, MAX_TIMEOUT);
                    } else if let Some(v) = opt.strip_prefix("attempts:").and_then(|v| v.parse::<u32>().ok()) {
                        rc.attempts = v.clamp(1, MAX_ATTEMPTS);
                    } else if opt == "rotate" {
                        rc.rotate = true;
                    }
                }
            }
            _ => {}
        }
    }
    rc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_options() {
        let rc = parse(
            b"# generated\nsearch example\nnameserver 10.0.0.2\nnameserver ::1\nnameserver bogus\n\
            nameserver 10.0.0.3\nnameserver 10.0.0.4\noptions rotate timeout:2 attempts:9 ndots:5\n",
        );
        assert_eq!(rc.nameservers, ["10.0.0.2", "::1", "10.0.0.3"]);
        assert_eq!((rc.timeout_s, rc.attempts, rc.rotate), (2, 5, true));
        let rc = parse(b"");
        assert!(rc.nameservers.is_empty());
        assert_eq!((rc.timeout_s, rc.attempts), (5, 2), "glibc's defaults");
        let rc = parse(b"\xff\xfe options timeout:0\n");
        assert_eq!(rc.timeout_s, 5, "a garbled line is ignored");
    }
}
