//! The summary line of a probe, as ping prints it: pure arithmetic over the
//! attempts, so the serve command and the tests get the same numbers.

use serde::Serialize;

/// `summary` in the probe JSON contract. Times are null when nothing succeeded.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub sent: u32,
    pub ok: u32,
    pub lost: u32,
    pub min_us: Option<u64>,
    pub median_us: Option<u64>,
    pub p95_us: Option<u64>,
    pub max_us: Option<u64>,
    pub stddev_us: Option<u64>,
}

/// `sent` attempts of which `times` (connect times in µs) succeeded.
pub fn summarize(sent: u32, times: &[u64]) -> Summary {
    let ok = times.len().min(u32::MAX as usize) as u32;
    let mut v = times.to_vec();
    v.sort_unstable();
    let (min, max) = (v.first().copied(), v.last().copied());
    let median = match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        // u128 so that two huge values cannot overflow.
        n => Some(((v[n / 2 - 1] as u128 + v[n / 2] as u128) / 2) as u64),
    };
    // Nearest rank: the smallest value with at least 95 % at or below it.
    let p95 = if v.is_empty() { None } else { Some(v[((v.len() * 95).div_ceil(100)).clamp(1, v.len()) - 1]) };
    let stddev = if v.is_empty() {
        None
    } else {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        Some(var.sqrt().round() as u64)
    };
    Summary {
        sent,
        ok,
        lost: sent.saturating_sub(ok),
        min_us: min,
        median_us: median,
        p95_us: p95,
        max_us: max,
        stddev_us: stddev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty() {
        let s = summarize(3, &[]);
        assert_eq!((s.sent, s.ok, s.lost), (3, 0, 3));
        assert_eq!(s.median_us, None);
        assert_eq!(s.stddev_us, None);
    }

    #[test]
    fn odd_even_and_p95() {
        let s = summarize(3, &[300, 100, 200]);
        assert_eq!((s.min_us, s.median_us, s.max_us, s.p95_us), (Some(100), Some(200), Some(300), Some(300)));
        assert_eq!(s.stddev_us, Some(82));
        let s = summarize(5, &[1, 2, 3, 4]);
        assert_eq!((s.median_us, s.lost), (Some(2), 1));
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(summarize(100, &v).p95_us, Some(95));
        assert_eq!(summarize(1, &[7]).p95_us, Some(7));
        let s = summarize(2, &[u64::MAX, u64::MAX]);
        assert_eq!(s.median_us, Some(u64::MAX));
    }
}
