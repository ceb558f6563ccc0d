//! Just enough X.509 (DER) to show a server certificate's subject, issuer
//! and expiry: a pure, bounds-checked walker over `&[u8]` (the certificate
//! comes from the network, so it is hostile input and will be fuzzed). A full
//! X.509 crate would pull in a dozen dependencies for three fields.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
}

/// One DER element: tag and contents; `rest` follows it.
fn element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, data) = data.split_first()?;
    let (&first, mut data) = data.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        // 0x80 is BER's indefinite length, not DER; > 4 bytes is absurd here.
        if n == 0 || n > 4 || data.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &data[..n] {
            len = (len << 8) | b as usize;
        }
        data = &data[n..];
        len
    };
    if data.len() < len {
        return None;
    }
    Some((tag, &data[..len], &data[len..]))
}

fn expect(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, body, rest) = element(data)?;
    (t == tag).then_some((body, rest))
}

pub fn parse(der: &[u8]) -> Option<CertInfo> {
    const SEQ: u8 = 0x30;
    let (cert, _) = expect(der, SEQ)?;
    let (tbs, _) = expect(cert, SEQ)?;
    let mut rest = tbs;
    // [0] EXPLICIT version, optional.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    let (_serial, r) = expect(rest, 0x02)?;
    let (_sig_alg, r) = expect(r, SEQ)?;
    let (issuer, r) = expect(r, SEQ)?;
    let (validity, r) = expect(r, SEQ)?;
    let (subject, _) = expect(r, SEQ)?;
    let (t1, b1, vr) = element(validity)?;
    let (t2, b2, _) = element(vr)?;
    Some(CertInfo { subject: name(subject), issuer: name(issuer), not_before: time(t1, b1)?, not_after: time(t2, b2)? })
}

/// `CN=…, O=…` from a Name (SEQUENCE OF SET OF {OID, value}); unknown
/// attributes are left out, and a malformed part ends the walk.
fn name(mut data: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((0x31, set, rest)) = element(data) {
        data = rest;
        let mut inner = set;
        while let Some((0x30, atv, r)) = element(inner) {
            inner = r;
            let Some((oid, vr)) = expect(atv, 0x06) else { continue };
            let Some((_, value, _)) = element(vr) else { continue };
            let label = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                [0x55, 0x04, 0x06] => "C",
                [0x55, 0x04, 0x07] => "L",
                [0x55, 0x04, 0x08] => "ST",
                _ => continue,
            };
            let text: String = String::from_utf8_lossy(value)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .take(200)
                .collect();
            parts.push(format!("{label}={text}"));
            if parts.len() >= 16 {
                return parts.join(", ");
            }
        }
    }
    parts.join(", ")
}

/// UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) to Unix seconds.
fn time(tag: u8, body: &[u8]) -> Option<i64> {
    let digits = |s: &[u8]| -> Option<i64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0i64, |acc, &d| acc * 10 + (d - b'0') as i64))
    };
    let (year, rest) = match tag {
        0x17 if body.len() == 13 => {
            let yy = digits(&body[..2])?;
            // RFC 5280: YY >= 50 means 19YY.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &body[2..])
        }
        0x18 if body.len() == 15 => (digits(&body[..4])?, &body[4..]),
        _ => return None,
    };
    if rest.last() != Some(&b'Z') {
        return None;
    }
    let (mo, d, h, mi, s) =
        (digits(&rest[0..2])?, digits(&rest[2..4])?, digits(&rest[4..6])?, digits(&rest[6..8])?, digits(&rest[8..10])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if body.len() < 0x80 {
            v.push(body.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn cn(s: &str) -> Vec<u8> {
        let atv = [tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, s.as_bytes())].concat();
        tlv(0x30, &tlv(0x31, &tlv(0x30, &atv)))
    }

    fn cert() -> Vec<u8> {
        let validity = [tlv(0x17, b"250101000000Z"), tlv(0x18, b"20300101000000Z")].concat();
        let tbs = [
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[1, 2, 3]),
            tlv(0x30, &[]),
            cn("Test CA"),
            tlv(0x30, &validity),
            cn("localhost"),
            tlv(0x30, &[]),
        ]
        .concat();
        tlv(0x30, &[tlv(0x30, &tbs), tlv(0x30, &[]), tlv(0x03, &[0])].concat())
    }

    #[test]
    fn parses_fields() {
        let c = parse(&cert()).unwrap();
        assert_eq!(c.subject, "CN=localhost");
        assert_eq!(c.issuer, "CN=Test CA");
        assert_eq!(c.not_before, 1_735_689_600);
        assert_eq!(c.not_after, 1_893_456_000);
    }

    #[test]
    fn hostile_never_panics() {
        let c = cert();
        for i in 0..c.len() {
            let _ = parse(&c[..i]);
            let mut m = c.clone();
            m[i] ^= 0xff;
            let _ = parse(&m);
        }
        assert!(parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse(&[0x30, 0x80, 0, 0]).is_none());
        assert!(time(0x17, b"991399000000Z").is_none());
    }
}
