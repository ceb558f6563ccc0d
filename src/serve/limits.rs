//! Limits that keep `unwedge serve` cheap and safe to expose: header size,
//! header-read time (slowloris), connection count (per source and in all),
//! and the targets probes may reach.

use std::collections::HashMap;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Request head (request line + headers) larger than this gets 431.
/// hyper's minimum read buffer is 8 KiB; 16 KiB fits any real client.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// A client must send its whole request head within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections one source (see [`client_key`]) may hold at once; more from it
/// are closed at accept, before anything is read. An eighth of
/// `MAX_CONNECTIONS`: a peer holding all of its slots with half-sent heads
/// (each lives up to `HEADER_READ_TIMEOUT`, and it can reconnect for ever)
/// leaves 448 to everyone else, Prometheus's scrape included.
pub const MAX_CONNECTIONS_PER_SOURCE: usize = 64;
/// A connection is closed after this long (after its current response),
/// keep-alive or not; clients reconnect.
pub const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// SIGTERM to exit, including draining in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// Connections the kernel queues for `accept` (capped by
/// net.core.somaxconn). std's 128 overflows when a flood outruns the accept
/// loop for a moment, and then every source's SYN is dropped alike (a 1 s
/// retransmit for the scrape too): the per-source cap acts only at accept.
pub const LISTEN_BACKLOG: i32 = 1024;

/// Sets `LISTEN_BACKLOG` on a listening socket (on Linux, listen(2) again
/// on a listening socket only changes its backlog).
pub fn widen_backlog(listener: &TcpListener) -> std::io::Result<()> {
    socket2::SockRef::from(listener).listen(LISTEN_BACKLOG)
}

/// One client = one IPv4 address or one IPv6 /64 (a host commonly holds a
/// whole /64, so per-address limits would be no limit at all). An
/// IPv4-mapped IPv6 address is its IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// Open connections, in all and per source; checked at accept.
pub struct ConnSlots {
    inner: Arc<Mutex<Open>>,
    max: usize,
    per_source: usize,
}

struct Open {
    total: usize,
    /// Only sources with an open connection: at most `max` entries.
    by_source: HashMap<IpAddr, usize>,
}

/// One admitted connection; frees its slots on drop.
pub struct ConnSlot {
    inner: Arc<Mutex<Open>>,
    source: IpAddr,
}

impl ConnSlots {
    pub fn new(max: usize, per_source: usize) -> ConnSlots {
        let open = Open { total: 0, by_source: HashMap::new() };
        ConnSlots { inner: Arc::new(Mutex::new(open)), max, per_source }
    }

    /// A slot for a connection from `peer`, or `None`: close it at once.
    pub fn admit(&self, peer: IpAddr) -> Option<ConnSlot> {
        let source = client_key(peer);
        let mut o = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if o.total >= self.max || o.by_source.get(&source).copied().unwrap_or(0) >= self.per_source {
            return None;
        }
        o.total += 1;
        *o.by_source.entry(source).or_insert(0) += 1;
        Some(ConnSlot { inner: self.inner.clone(), source })
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut o = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        o.total = o.total.saturating_sub(1);
        if let Some(n) = o.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                o.by_source.remove(&self.source);
            }
        }
    }
}

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

    #[test]
    fn one_source_cannot_take_every_connection() {
        let slots = ConnSlots::new(8, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<ConnSlot> = (0..3).map(|_| slots.admit(a).unwrap()).collect();
        assert!(slots.admit(a).is_none(), "over the per-source cap");
        // The same source as an IPv4-mapped address is the same source.
        assert!(slots.admit("::ffff:10.0.0.1".parse().unwrap()).is_none());
        // Others are still admitted, up to the global cap.
        let others: Vec<ConnSlot> = (2..7).map(|i| slots.admit(IpAddr::from([10, 0, 0, i])).unwrap()).collect();
        assert!(slots.admit("10.0.0.99".parse().unwrap()).is_none(), "over the global cap");
        drop(others);
        drop(held);
        let o = slots.inner.lock().unwrap();
        assert_eq!((o.total, o.by_source.len()), (0, 0), "every slot freed, no source left behind");
        drop(o);
        assert!(slots.admit(a).is_some());
    }

    #[test]
    fn an_ipv6_64_is_one_source() {
        let slots = ConnSlots::new(8, 2);
        let _a = slots.admit("2001:db8::1".parse().unwrap()).unwrap();
        let _b = slots.admit("2001:db8::ffff:2".parse().unwrap()).unwrap();
        assert!(slots.admit("2001:db8::3".parse().unwrap()).is_none());
        assert!(slots.admit("2001:db8:0:1::1".parse().unwrap()).is_some());
        assert_eq!(client_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(client_key("2001:db8::7".parse().unwrap()), "2001:db8::".parse::<IpAddr>().unwrap());
    }
}
