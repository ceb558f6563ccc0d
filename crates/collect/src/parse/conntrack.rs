//! /proc/net/stat/nf_conntrack: one header line, then one line of hex
//! counters per CPU. Columns are found by name (their set and order changed
//! across kernels); the per-CPU values of drop, early_drop and insert_failed
//! are summed.

use super::hex;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub drop: Option<u64>,
    pub early_drop: Option<u64>,
    pub insert_failed: Option<u64>,
}

pub fn stat(buf: &[u8]) -> Stat {
    let mut lines = buf.split(|&b| b == b'\n');
    let Some(header) = lines.next() else { return Stat::default() };
    let names: Vec<&[u8]> = header.split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty()).collect();
    let col = |n: &[u8]| names.iter().position(|c| *c == n);
    let (d, e, i) = (col(b"drop"), col(b"early_drop"), col(b"insert_failed"));
    let mut out = Stat::default();
    for line in lines {
        let vals: Vec<&[u8]> = line.split(|b| b.is_ascii_whitespace()).filter(|s| !s.is_empty()).collect();
        if vals.len() != names.len() {
            continue;
        }
        let add = |slot: &mut Option<u64>, idx: Option<usize>| {
            if let Some(v) = idx.and_then(|i| hex(vals[i])) {
                *slot = Some(slot.unwrap_or(0).saturating_add(v));
            }
        };
        add(&mut out.drop, d);
        add(&mut out.early_drop, e);
        add(&mut out.insert_failed, i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cpus() {
        // Linux 6.18's columns; two CPUs.
        let text = b"entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
00000005  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 0000000a 00000002 00000000  00000000 00000000 00000000 00000000\n\
00000005  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000010 00000000 00000000  00000000 00000000 00000000 00000000\n";
        assert_eq!(stat(text), Stat { drop: Some(26), early_drop: Some(2), insert_failed: Some(1) });
        assert_eq!(stat(b""), Stat::default());
        assert_eq!(stat(b"entries drop\n1 2 3\n"), Stat::default(), "ragged lines are skipped");
    }
}
