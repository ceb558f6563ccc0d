//! Limits that keep `unwedge serve` cheap and safe to expose: header size,
//! header-read time (slowloris), connection count, and the targets probes
//! may reach.

use std::net::IpAddr;
use std::time::Duration;

/// Request head (request line + headers) larger than this gets 431.
/// hyper's minimum read buffer is 8 KiB; 16 KiB fits any real client.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// A client must send its whole request head within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 512;
/// A connection is closed after this long (after its current response),
/// keep-alive or not; clients reconnect.
pub const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// SIGTERM to exit, including draining in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// An address range from `--allow-target`, e.g. `10.0.0.0/8` or `::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("invalid --allow-target '{s}': use an address or CIDR (127.0.0.0/8, 10.1.2.3, ::1/128)");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let net = canonical(net);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `::ffff:10.1.2.3` is 10.1.2.3: check mapped addresses against IPv4 rules,
/// so a mapped address cannot slip past an IPv4 allowlist.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The default `--allow-target`: loopback only.
pub fn loopback() -> Vec<Cidr> {
    vec![Cidr::parse("127.0.0.0/8").expect("valid"), Cidr::parse("::1/128").expect("valid")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.255.1.2".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()) && !one.contains("192.0.2.8".parse().unwrap()));
        assert!(Cidr::parse("::1/128").unwrap().contains("::1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "x", "10.0.0.0/", "::1/129", "1.2.3.4/-1"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(loopback().iter().any(|c| c.contains("127.0.0.2".parse().unwrap())));
        assert!(!loopback().iter().any(|c| c.contains("192.0.2.1".parse().unwrap())));
    }
}
