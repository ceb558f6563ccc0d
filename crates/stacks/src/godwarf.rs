//! The layout of Go's `runtime.g` from the binary's DWARF (.debug_info,
//! which `go build` writes unless given `-ldflags=-w`): the offsets of
//! g.stack.{lo,hi}, g.sched.{sp,pc,bp}, g.atomicstatus, g.goid and
//! g.waitreason, whatever the Go version. Go names its types
//! "runtime.g", "runtime.gobuf" and "runtime.stack" and writes names
//! inline (DW_FORM_string). Pure and bounded: the fuzz target feeds it
//! arbitrary bytes.

use gimli::{constants, AttributeValue, DebugAbbrev, DebugInfo, LittleEndian};
use std::collections::HashMap;

/// DIEs visited at most (a large Go binary has a few million).
const MAX_DIES: usize = 8_000_000;

/// Member offsets of the three structs, by struct then member name.
type Members = HashMap<&'static str, HashMap<String, u64>>;

/// The g layout from `.debug_info` and `.debug_abbrev` (decompressed);
/// `None` unless every field is found. `minor` is the Go version's minor
/// number when known (it names the wait reasons), else 0.
pub fn g_layout(info: &[u8], abbrev: &[u8], minor: u32) -> Option<crate::goroutines::Layout> {
    let m = members(info, abbrev)?;
    let g = m.get("runtime.g")?;
    let gobuf = m.get("runtime.gobuf")?;
    let stack = m.get("runtime.stack")?;
    let at = |base: &str, s: &HashMap<String, u64>, f: &str| -> Option<usize> {
        usize::try_from(g.get(base)?.checked_add(*s.get(f)?)?).ok().filter(|&o| o < 4096)
    };
    let own = |f: &str| usize::try_from(*g.get(f)?).ok().filter(|&o| o < 4096);
    Some(crate::goroutines::Layout {
        stack_lo: at("stack", stack, "lo")?,
        stack_hi: at("stack", stack, "hi")?,
        sched_sp: at("sched", gobuf, "sp")?,
        sched_pc: at("sched", gobuf, "pc")?,
        sched_bp: at("sched", gobuf, "bp")?,
        status: own("atomicstatus")?,
        goid: own("goid")?,
        waitreason: own("waitreason")?,
        minor,
    })
}

fn members(info: &[u8], abbrev: &[u8]) -> Option<Members> {
    let info = DebugInfo::new(info, LittleEndian);
    let abbrev = DebugAbbrev::new(abbrev, LittleEndian);
    let mut out: Members = HashMap::new();
    let mut seen = 0usize;
    let mut units = info.units();
    while let Ok(Some(unit)) = units.next() {
        let Ok(abbrevs) = unit.abbreviations(&abbrev) else { continue };
        let mut cursor = unit.entries(&abbrevs);
        // The struct being read (its name and depth), if one of ours.
        let mut current: Option<(&'static str, isize)> = None;
        while let Ok(Some(e)) = cursor.next_dfs() {
            seen += 1;
            if seen > MAX_DIES {
                return None;
            }
            let depth = e.depth();
            if current.is_some_and(|(_, d)| depth <= d) {
                current = None;
            }
            if e.tag() == constants::DW_TAG_structure_type {
                let name = name(e.attr_value(constants::DW_AT_name));
                current = match name {
                    Some(b"runtime.g") => Some(("runtime.g", depth)),
                    Some(b"runtime.gobuf") => Some(("runtime.gobuf", depth)),
                    Some(b"runtime.stack") => Some(("runtime.stack", depth)),
                    _ => None,
                };
                if let Some((n, _)) = current {
                    if out.contains_key(n) {
                        // The first definition wins; a second one is skipped.
                        current = None;
                    } else {
                        out.insert(n, HashMap::new());
                    }
                }
                continue;
            }
            let Some((n, d)) = current else { continue };
            if depth != d + 1 || e.tag() != constants::DW_TAG_member {
                continue;
            }
            let (Some(field), Some(off)) = (
                name(e.attr_value(constants::DW_AT_name)),
                e.attr_value(constants::DW_AT_data_member_location).and_then(|v| v.udata_value()),
            ) else {
                continue;
            };
            if let Some(m) = out.get_mut(n) {
                m.insert(String::from_utf8_lossy(field).into_owned(), off);
            }
        }
        if ["runtime.g", "runtime.gobuf", "runtime.stack"].iter().all(|k| out.get(k).is_some_and(|m| !m.is_empty())) {
            return Some(out);
        }
    }
    Some(out)
}

fn name<'a>(v: Option<AttributeValue<gimli::EndianSlice<'a, LittleEndian>>>) -> Option<&'a [u8]> {
    match v? {
        AttributeValue::String(s) => Some(s.slice()),
        _ => None,
    }
}

/// The fuzz target's input: a u16 (LE) length of `.debug_abbrev`, its
/// bytes, then `.debug_info`.
pub fn split_input(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = u16::from_le_bytes(data.get(..2)?.try_into().ok()?) as usize;
    Some((data.get(2..2 + n)?, data.get(2 + n..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made DWARF 4 unit with go1.19's runtime.stack, gobuf and g
    /// (fuzz/corpus/go_dwarf/go119-g).
    const SEED: &[u8] = include_bytes!("../../../fuzz/corpus/go_dwarf/go119-g");

    #[test]
    fn reads_the_g_layout() {
        let (abbrev, info) = split_input(SEED).unwrap();
        let l = g_layout(info, abbrev, 19).unwrap();
        assert_eq!(Some(l), crate::goroutines::layout("go1.19.8"));
        // A unit without runtime.g: nothing.
        assert_eq!(g_layout(&info[..40], abbrev, 19), None);
        assert_eq!(g_layout(b"", b"", 0), None);
    }
}
