//! Parsing what the user typed as a probe target: `HOST:PORT` for TCP and an
//! `http://` or `https://` URL for HTTP. Pure functions over `&str`: they see
//! hostile input (they are fuzzed), so they never panic, never allocate more
//! than the input's size, and say in one line what is wrong.

use crate::ProbeError;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// A host as typed: an address literal needs no resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl fmt::Display for Host {
    /// The form that goes back into `HOST:PORT` and the Host header: IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
    /// Path and query, as sent on the request line (always starts with `/`).
    pub path: String,
    /// Whether the port was given explicitly (the Host header then carries it).
    pub explicit_port: bool,
}

impl Url {
    /// The Host header value (RFC 9112 §3.2): the port only when not the default.
    pub fn host_header(&self) -> String {
        if self.explicit_port {
            format!("{}:{}", self.host, self.port)
        } else {
            self.host.to_string()
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{s}://{}{}", self.host_header(), self.path)
    }
}

/// Long enough for any DNS name (253) and bracketed IPv6 with a zone.
const MAX_HOST: usize = 255;
/// Request targets longer than this are refused rather than sent.
const MAX_PATH: usize = 8192;

/// Parses `HOST:PORT`, `IPV4:PORT` or `[IPV6]:PORT`.
pub fn parse_host_port(input: &str) -> Result<HostPort, ProbeError> {
    host_port(input).map_err(ProbeError::BadTarget)
}

/// Parses an `http://` or `https://` URL. No user info, no fragment sent.
pub fn parse_url(input: &str) -> Result<Url, ProbeError> {
    url(input).map_err(ProbeError::BadTarget)
}

fn host_port(input: &str) -> Result<HostPort, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty target: give HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:443".into());
    }
    if s.contains("://") {
        return Err(format!("'{}' is a URL: give HOST:PORT here, or use `unwedge probe http URL`", shown(s)));
    }
    let (host, port) = split_authority(s, None)?;
    Ok(HostPort { host, port: port.ok_or_else(|| format!("target '{}' has no port: give HOST:PORT", shown(s)))? })
}

fn url(input: &str) -> Result<Url, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty URL: give e.g. http://127.0.0.1:8080/".into());
    }
    if s.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("URL '{}' contains spaces or control characters", shown(s)));
    }
    let Some(idx) = s.find("://") else {
        return Err(format!("URL '{}' has no scheme: start it with http:// or https://", shown(s)));
    };
    let scheme = match s[..idx].to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("unsupported scheme '{}': use http or https", shown(other))),
    };
    let rest = &s[idx + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("URLs with user info (user@host) are not supported".into());
    }
    if authority.is_empty() {
        return Err(format!("URL '{}' has no host", shown(s)));
    }
    let default_port = match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    };
    let (host, port) = split_authority(authority, Some(default_port))?;
    // The fragment is the browser's business, never sent.
    let tail = tail.split('#').next().unwrap_or("");
    let path = if tail.is_empty() {
        "/".to_string()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_string()
    };
    if path.len() > MAX_PATH {
        return Err(format!("URL path is longer than {MAX_PATH} bytes"));
    }
    Ok(Url { scheme, host, explicit_port: port.is_some(), port: port.unwrap_or(default_port), path })
}

/// Splits `host[:port]`; `default` set means the port may be omitted.
fn split_authority(s: &str, default: Option<u16>) -> Result<(Host, Option<u16>), String> {
    let (host_text, port_text) = if let Some(rest) = s.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err(format!("target '{}' opens '[' for an IPv6 address but never closes it", shown(s)));
        };
        let inner = &rest[..close];
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected '{}' after ']' in '{}'", shown(after), shown(s))),
        };
        let addr: Ipv6Addr =
            inner.parse().map_err(|_| format!("'{}' in brackets is not an IPv6 address", shown(inner)))?;
        (Host::Ip(IpAddr::V6(addr)), port)
    } else {
        match s.rfind(':') {
            Some(i) if s[..i].contains(':') => {
                return Err(format!("'{}': put an IPv6 address in brackets, e.g. [::1]:8080", shown(s)));
            }
            Some(i) => (parse_host(&s[..i])?, Some(&s[i + 1..])),
            None => (parse_host(s)?, None),
        }
    };
    let port = match port_text {
        Some(p) => Some(parse_port(p)?),
        None if default.is_some() => None,
        None => return Err(format!("target '{}' has no port: give HOST:PORT", shown(s))),
    };
    Ok((host_text, port))
}

fn parse_host(h: &str) -> Result<Host, String> {
    if h.is_empty() {
        return Err("the host is empty: give HOST:PORT".into());
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if h.len() > MAX_HOST {
        return Err(format!("host name is longer than {MAX_HOST} bytes"));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    if !h.chars().all(ok_char) || h.starts_with('.') || h.contains("..") || h.starts_with('-') {
        return Err(format!("'{}' is not a valid host name or address", shown(h)));
    }
    Ok(Host::Name(h.to_ascii_lowercase()))
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("the port is empty: give HOST:PORT".into());
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port '{}' is not a number from 1 to 65535", shown(p)));
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("port {} is out of range: use 1 to 65535", shown(p))),
    }
}

/// Echoes user input in an error without flooding the terminal.
fn shown(s: &str) -> String {
    const MAX: usize = 80;
    let clean: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).take(MAX + 1).collect();
    if clean.chars().count() > MAX {
        format!("{}…", clean.chars().take(MAX).collect::<String>())
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn host_port_forms() {
        let t = parse_host_port("127.0.0.1:8080").unwrap();
        assert_eq!(t.host, Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(t.port, 8080);
        let t = parse_host_port("[::1]:443").unwrap();
        assert_eq!(t.host, Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(t.to_string(), "[::1]:443");
        let t = parse_host_port(" Example.COM:80 ").unwrap();
        assert_eq!(t.host, Host::Name("example.com".into()));
    }

    #[test]
    fn host_port_rejects() {
        for bad in [
            "",
            "   ",
            "nohost",
            ":80",
            "host:",
            "1.2.3.4:99999",
            "1.2.3.4:0",
            "[::1",
            "[::1]",
            "[::1]x",
            "::1:80",
            "[nothost]:1",
            "a b:1",
            "host:-1",
            "host:+1",
            "host:1x",
            "-a:1",
            "a..b:1",
            ".a:1",
            "[]:1",
            "[::1]:",
            "h:08000000000000000000000",
        ] {
            assert!(parse_host_port(bad).is_err(), "{bad:?} accepted");
        }
        let e = parse_host_port("1.2.3.4:99999").unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        let e = parse_host_port("[::1").unwrap_err().to_string();
        assert!(e.contains("never closes"), "{e}");
    }

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/a?b=1#frag").unwrap();
        assert_eq!((u.scheme, u.port, u.path.as_str()), (Scheme::Http, 8080, "/a?b=1"));
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        let u = parse_url("HTTPS://[::1]").unwrap();
        assert_eq!((u.scheme, u.port, u.path.as_str()), (Scheme::Https, 443, "/"));
        assert_eq!(u.host_header(), "[::1]");
        let u = parse_url("http://h?x").unwrap();
        assert_eq!(u.path, "/?x");
        assert_eq!(u.to_string(), "http://h/?x");
        for bad in [
            "",
            "127.0.0.1:80",
            "ftp://h/",
            "http://",
            "http:///x",
            "http://u@h/",
            "http://h:99999/",
            "http://[::1/",
            "http://h /",
            "http://h/\na",
            "http://h:x/",
            "://h",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        // A cheap deterministic fuzz until the fuzz target exists: every
        // prefix and suffix of awkward strings, including multi-byte chars.
        let seeds = ["[::1]:80", "http://[fe80::1%25eth0]:8080/é?q#f", "ü[:]:/?#@\u{0}", "https://a:1:2/", "[[]]::"];
        for s in seeds {
            for (i, _) in s.char_indices() {
                let _ = parse_host_port(&s[i..]);
                let _ = parse_host_port(&s[..i]);
                let _ = parse_url(&s[i..]);
                let _ = parse_url(&s[..i]);
            }
        }
        let long = "a".repeat(100_000);
        assert!(parse_host_port(&format!("{long}:1")).is_err());
        assert!(parse_url(&format!("http://h/{long}")).is_err());
        assert!(parse_host_port(&long).unwrap_err().to_string().chars().count() < 200);
    }
}
