//! Durations in text for people: the one spelling every message, title and
//! report line uses, SI style with a space ("200 ms", "1.5 s", "12.0 s").
//! What the user types is parsed by [`crate::duration::parse`], which reads
//! all of these back. Also the one spelling of a TCP endpoint.

use std::net::IpAddr;
use std::time::Duration;

/// A duration exact to the millisecond: below a second in ms ("200 ms"),
/// from a second in seconds with at least one decimal and no more than it
/// needs ("1.0 s", "1.5 s", "1.25 s"); below a millisecond in µs.
/// For configured values (timeouts, intervals), which are echoed as given.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if d.is_zero() {
        "0 s".into()
    } else if ms == 0 {
        format!("{} µs", d.as_micros())
    } else if ms < 1000 {
        format!("{ms} ms")
    } else {
        let (s, frac) = (ms / 1000, ms % 1000);
        if frac % 100 == 0 {
            format!("{s}.{} s", frac / 100)
        } else if frac % 10 == 0 {
            format!("{s}.{:02} s", frac / 10)
        } else {
            format!("{s}.{frac:03} s")
        }
    }
}

/// A measured duration: as [`duration`], to a tenth of a second from one
/// second up ("12.0 s" for 12.034 s), since the milliseconds of a
/// measurement are noise to the reader.
pub fn measured(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return duration(d);
    }
    let tenths = d.as_millis().saturating_add(50) / 100;
    duration(Duration::from_millis(u64::try_from(tenths * 100).unwrap_or(u64::MAX)))
}

/// [`measured`] of a count of milliseconds (the contract's `*_ms` fields).
pub fn measured_ms(ms: u64) -> String {
    measured(Duration::from_millis(ms))
}

/// How long ago something started (a process, a zombie, a pile-up): as
/// [`measured`] below two minutes ("45.0 s"), in whole minutes from there
/// ("3 min", "125 min"): the seconds of an age of minutes are noise.
pub fn age(d: Duration) -> String {
    if d < Duration::from_secs(120) {
        measured(d)
    } else {
        format!("{} min", d.as_secs() / 60)
    }
}

/// A latency in microseconds as ping prints it, in ms with three decimals
/// ("0.090 ms", "1020.000 ms"): columns of connect times line up.
pub fn latency_us(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

/// A TCP endpoint as people and `ss` write it: "127.0.0.1:5000",
/// "[::1]:5000"; an IPv4 address seen through a dual-stack socket
/// (::ffff:a.b.c.d) as the IPv4 one.
pub fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{port}"),
            None => format!("[{v6}]:{port}"),
        },
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn spelling() {
        assert_eq!(duration(Duration::ZERO), "0 s");
        assert_eq!(duration(Duration::from_micros(500)), "500 µs");
        assert_eq!(duration(ms(1)), "1 ms");
        assert_eq!(duration(ms(200)), "200 ms");
        assert_eq!(duration(ms(1000)), "1.0 s");
        assert_eq!(duration(ms(1500)), "1.5 s");
        assert_eq!(duration(ms(1250)), "1.25 s");
        assert_eq!(duration(ms(12_034)), "12.034 s");
        assert_eq!(duration(ms(60_000)), "60.0 s");
        assert_eq!(duration(Duration::MAX), format!("{}.999 s", u64::MAX));
    }

    #[test]
    fn measurements_to_a_tenth() {
        assert_eq!(measured(ms(950)), "950 ms");
        assert_eq!(measured(ms(12_034)), "12.0 s");
        assert_eq!(measured(ms(1_960)), "2.0 s");
        assert_eq!(measured(ms(1_250)), "1.3 s");
        assert_eq!(measured_ms(2_000), "2.0 s");
        assert!(measured(Duration::MAX).ends_with(" s"));
        assert_eq!(latency_us(90), "0.090 ms");
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("127.0.0.1".parse().unwrap(), 80), "127.0.0.1:80");
        assert_eq!(endpoint("::1".parse().unwrap(), 80), "[::1]:80");
        assert_eq!(endpoint("::ffff:10.0.0.1".parse().unwrap(), 80), "10.0.0.1:80");
    }

    #[test]
    fn ages() {
        assert_eq!(age(ms(3_000)), "3.0 s");
        assert_eq!(age(ms(119_949)), "119.9 s");
        assert_eq!(age(Duration::from_secs(180)), "3 min");
        assert_eq!(age(Duration::from_secs(7_530)), "125 min");
        let back = crate::duration::parse(&age(Duration::from_secs(7_530))).unwrap();
        assert_eq!(back, Duration::from_secs(7_500));
    }

    #[test]
    fn every_spelling_parses_back() {
        for d in [ms(1), ms(200), ms(999), ms(1000), ms(1250), ms(12_034), Duration::from_micros(7)] {
            let back = crate::duration::parse(&duration(d)).unwrap();
            assert!(back.abs_diff(d) < Duration::from_micros(1), "{} -> {back:?}", duration(d));
        }
    }
}
