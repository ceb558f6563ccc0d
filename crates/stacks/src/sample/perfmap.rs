//! /tmp/perf-PID.map: the names a JIT gives its code (V8 with
//! `--perf-basic-prof`, a JVM after `jcmd PID Compiler.perfmap`), one line
//! per code object: "START SIZE NAME", START and SIZE in hex, the name
//! running to the end of the line. A later line for the same address wins
//! (code is moved and replaced). Pure, over untrusted bytes (fuzzed).
//! Only the addresses asked about are kept, so a map of millions of lines
//! costs one pass and no memory beyond the answers.

use std::collections::HashMap;

/// The names of `addrs` (each looked up as is) in the map text.
pub fn names(text: &[u8], addrs: &[u64]) -> HashMap<u64, String> {
    let mut want: Vec<u64> = addrs.to_vec();
    want.sort_unstable();
    want.dedup();
    let mut out = HashMap::new();
    if want.is_empty() {
        return out;
    }
    for line in text.split(|&b| b == b'\n') {
        let Some((start, size, name)) = parse_line(line) else { continue };
        let end = start.saturating_add(size);
        let first = want.partition_point(|&a| a < start);
        for &a in want[first..].iter().take_while(|&&a| a < end) {
            out.insert(a, name.to_string());
        }
    }
    out
}

fn parse_line(line: &[u8]) -> Option<(u64, u64, &str)> {
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let (start, rest) = line.split_once(' ')?;
    let (size, name) = rest.split_once(' ')?;
    let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok();
    let name = name.trim();
    let size = hex(size)?;
    (size > 0 && !name.is_empty()).then_some((hex(start)?, size, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v8_lines() {
        // As node 20 writes them with --perf-basic-prof.
        let map = b"3a8f0e7c0040 1c0 Builtin:ArgumentsAdaptorTrampoline\n\
            7f0d6c005100 3c4 RegExp:(a+)+$\n\
            7f0d6c0055c0 88 JS:~handler /srv/app/server.js:4:19\n\
            7f0d6c005100 40 RegExp:(b+)+$\n\
            garbage line\n\
            7f0d6c0060000 zz bad size\n";
        let n = names(map, &[0x7f0d_6c00_5110, 0x7f0d_6c00_5200, 0x7f0d_6c00_5600, 0x1]);
        assert_eq!(n.get(&0x7f0d_6c00_5110).map(String::as_str), Some("RegExp:(b+)+$"), "a later line wins");
        assert_eq!(n.get(&0x7f0d_6c00_5200).map(String::as_str), Some("RegExp:(a+)+$"));
        assert_eq!(n.get(&0x7f0d_6c00_5600).map(String::as_str), Some("JS:~handler /srv/app/server.js:4:19"));
        assert_eq!(n.get(&1), None);
        assert!(names(map, &[]).is_empty());
        assert!(names(b"fffffffffffffff0 ff x\n0x10 0x10 y", &[u64::MAX - 1, 0x18]).len() == 2);
    }
}
