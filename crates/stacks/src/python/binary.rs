//! What an interpreter's ELF file says about it: its CPython version
//! (`Py_Version`, 3.11+; else the file's name and the version string in
//! .rodata), where `_PyRuntime` is (its symbol in .dynsym or .symtab —
//! Debian's stripped /usr/bin/python3.11 still exports it — else the
//! `.PyRuntime` section 3.11+ builds put it in, else the data sections,
//! for a scan), and the type objects that mark a code object, a string, a
//! bytes object and a frame. Pure, on the file's bytes: fuzzed with the
//! rest of the ELF reader.

use crate::elf::Segment;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};
use std::ops::Range;

/// A CPython version; `micro` when the binary says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub micro: Option<u32>,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.micro {
            Some(m) => write!(f, "{}.{}.{m}", self.major, self.minor),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

/// What the reader takes from an interpreter's file (link-time addresses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binary {
    pub version: Option<Version>,
    /// `_PyRuntime`, from a symbol or the `.PyRuntime` section.
    pub runtime: Option<u64>,
    /// .data, .bss and .PyRuntime: where `_PyRuntime` is looked for when
    /// no symbol names it.
    pub data: Vec<Range<u64>>,
    pub code_type: Option<u64>,
    pub unicode_type: Option<u64>,
    pub bytes_type: Option<u64>,
    pub frame_type: Option<u64>,
    pub segments: Vec<Segment>,
}

/// .rodata bytes searched for the version string at most.
const MAX_RODATA: usize = 32 << 20;

impl Binary {
    /// Parses an interpreter's file; `name` is its file name
    /// ("libpython3.9.so.1.0", "python3.11"), a hint to its version.
    pub fn parse(data: &[u8], name: &str) -> Result<Binary, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
        let mut b = Binary::default();
        for seg in file.segments() {
            let (offset, filesz) = seg.file_range();
            b.segments.push(Segment { vaddr: seg.address(), offset, filesz });
        }
        let mut py_version = None;
        let mut pyruntime_section = None;
        for s in file.sections() {
            let range = s.address()..s.address().saturating_add(s.size());
            match s.name().unwrap_or("") {
                ".data" | ".bss" => b.data.push(range),
                ".PyRuntime" => {
                    b.data.push(range.clone());
                    pyruntime_section = Some(range.start);
                }
                _ => {}
            }
        }
        for sym in file.dynamic_symbols().chain(file.symbols()) {
            let slot = match sym.name_bytes().unwrap_or_default() {
                b"_PyRuntime" => &mut b.runtime,
                b"PyCode_Type" => &mut b.code_type,
                b"PyUnicode_Type" => &mut b.unicode_type,
                b"PyBytes_Type" => &mut b.bytes_type,
                b"PyFrame_Type" => &mut b.frame_type,
                b"Py_Version" => {
                    if py_version.is_none() {
                        py_version = symbol_bytes(&file, &sym, 4).map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
                    }
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() && sym.address() != 0 && !sym.is_undefined() {
                *slot = Some(sym.address());
            }
        }
        b.runtime = b.runtime.or(pyruntime_section);
        let from_name = name_version(name);
        b.version = py_version.and_then(hex_version).or_else(|| {
            let rodata = file.section_by_name(".rodata").and_then(|s| s.data().ok()).unwrap_or_default();
            let strings = version_strings(&rodata[..rodata.len().min(MAX_RODATA)]);
            pick_version(from_name, &strings)
        });
        Ok(b)
    }
}

/// `n` bytes of the file at a symbol (a constant in .rodata).
fn symbol_bytes<'a>(file: &object::File<'a>, sym: &object::Symbol<'a, '_>, n: usize) -> Option<&'a [u8]> {
    let s = file.section_by_index(sym.section_index()?).ok()?;
    let at = usize::try_from(sym.address().checked_sub(s.address())?).ok()?;
    s.data().ok()?.get(at..at.checked_add(n)?)
}

/// `PY_VERSION_HEX` (0x030b02f0 is 3.11.2 final) → 3.11.2.
pub fn hex_version(v: u32) -> Option<Version> {
    let (major, minor, micro) = (v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
    (major == 3 && minor < 100).then_some(Version { major, minor, micro: Some(micro) })
}

/// "libpython3.9.so.1.0", "libpython3.7m.so", "python3.11", "python2.7"
/// → 3.9, 3.7, 3.11, 2.7.
pub fn name_version(name: &str) -> Option<Version> {
    let rest = name.strip_prefix("libpython").or_else(|| name.strip_prefix("python"))?;
    let (major, rest) = match rest.split_once('.')? {
        ("2", r) => (2, r),
        ("3", r) => (3, r),
        _ => return None,
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let minor = digits.parse().ok().filter(|&m: &u32| m < 100)?;
    Some(Version { major, minor, micro: None })
}

/// The strings in `rodata` that read as a whole CPython version ("3.9.18",
/// "3.13.0rc1", "3.10.13+"), NUL-delimited, or end one after a '/' or
/// '-' (the linker merges "3.8.18" into the tail of ".../Python-3.8.18").
pub fn version_strings(rodata: &[u8]) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for whole in rodata.split(|&b| b == 0) {
        let s = match whole.iter().rposition(|&b| b == b'/' || b == b'-') {
            Some(i) => &whole[i + 1..],
            None => whole,
        };
        if s.len() < 5 || s.len() > 16 || !s.starts_with(b"3.") {
            continue;
        }
        let Ok(text) = std::str::from_utf8(s) else { continue };
        let mut parts = text.splitn(3, '.');
        let (Some(_), Some(minor), Some(micro)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let digits: String = micro.chars().take_while(char::is_ascii_digit).collect();
        let suffix = &micro[digits.len()..];
        let suffix_ok = suffix.is_empty()
            || suffix == "+"
            || ["a", "b", "rc"]
                .iter()
                .any(|p| suffix.strip_prefix(p).is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())));
        let (Ok(minor), Ok(micro)) = (minor.parse::<u32>(), digits.parse::<u32>()) else { continue };
        if suffix_ok && minor < 100 && micro < 100 {
            let v = Version { major: 3, minor, micro: Some(micro) };
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// The version from the file's name and its version strings: the name's
/// minor with the one string that agrees (for the micro), or without a
/// name, the one minor the strings agree on.
pub fn pick_version(from_name: Option<Version>, strings: &[Version]) -> Option<Version> {
    match from_name {
        Some(n) => {
            let same: Vec<&Version> = strings.iter().filter(|v| v.minor == n.minor).collect();
            Some(if same.len() == 1 { *same[0] } else { n })
        }
        None => {
            let first = strings.first()?;
            strings.iter().all(|v| v.minor == first.minor).then(|| {
                let micro = strings.iter().all(|v| v.micro == first.micro).then_some(first.micro).flatten();
                Version { micro, ..*first }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_names_hex_and_strings() {
        assert_eq!(name_version("libpython3.9.so.1.0"), Some(Version { major: 3, minor: 9, micro: None }));
        assert_eq!(name_version("python3.11").map(|v| v.to_string()).as_deref(), Some("3.11"));
        assert_eq!(name_version("libpython3.7m.so.1.0").map(|v| v.minor), Some(7));
        assert_eq!(name_version("python3"), None);
        assert_eq!(name_version("python2.7").map(|v| v.to_string()).as_deref(), Some("2.7"));
        assert_eq!(name_version("python4.1"), None);
        assert_eq!(name_version("uwsgi-core"), None);
        assert_eq!(hex_version(0x030b02f0).map(|v| v.to_string()).as_deref(), Some("3.11.2"));
        assert_eq!(hex_version(0x020712f0), None);
        let strings = version_strings(
            b"\x00%.80s (%.80s) %.80s\x00/build/Python-3.9.18\x003.0\x003.x.1\x003.13.0rc1\x003.1.0.4\x00",
        );
        let s: Vec<String> = strings.iter().map(Version::to_string).collect();
        assert_eq!(s, ["3.9.18", "3.13.0"]);
        let nine = name_version("python3.9");
        assert_eq!(pick_version(nine, &strings).map(|v| v.to_string()).as_deref(), Some("3.9.18"));
        assert_eq!(pick_version(None, &strings), None, "two minors: none taken");
        assert_eq!(pick_version(None, &strings[..1]).map(|v| v.to_string()).as_deref(), Some("3.9.18"));
        assert_eq!(pick_version(name_version("python3.12"), &strings).map(|v| v.to_string()).as_deref(), Some("3.12"));
        assert_eq!(pick_version(None, &[]), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Binary::parse(b"", "python3.11").is_err());
        assert!(Binary::parse(b"\x7fELF\x02\x01\x01", "python3.11").is_err());
    }

    #[test]
    fn debians_python_if_present() {
        // The live tests check every interpreter installed; this one only
        // the parser on a real file, when there is one.
        let Ok(data) = std::fs::read("/usr/bin/python3.11") else { return };
        let b = Binary::parse(&data, "python3.11").unwrap();
        assert_eq!(b.version.map(|v| v.minor), Some(11));
        assert!(b.runtime.is_some() && b.code_type.is_some() && b.unicode_type.is_some(), "{b:?}");
    }
}
