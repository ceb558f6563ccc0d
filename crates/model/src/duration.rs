//! Durations as the contract spells them: plain seconds (`2`, `0.2`) or
//! suffixed (`200ms`, `2s`, `1m`, `1h`; a space before the unit is fine, so
//! whatever [`crate::fmt::duration`] prints reads back).

use std::time::Duration;

pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("invalid duration '{text}': use seconds (2, 0.5) or a suffix (200ms, 2s, 1m)");
    if t.is_empty() {
        return Err(bad());
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() || num.starts_with('.') && num.len() == 1 {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "us" | "µs" => 0.000_001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let secs = n * scale;
    if !secs.is_finite() || secs > 366.0 * 86400.0 {
        return Err(format!("duration '{text}' is too long"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("0.2").unwrap(), Duration::from_millis(200));
        assert_eq!(parse("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        for bad in ["", "-1", "1x", "s", ".", "1.2.3", "nan", "inf", "1e9999", "99999999999"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
