//! What the stack reader needs from one ELF file: its build-id (the cache
//! key), its loadable segments (to turn a run-time address into a link-time
//! one), the unwind tables (.eh_frame with .eh_frame_hdr, or .debug_frame)
//! and, for a Go binary, its function table (.gopclntab). Parsed from bytes
//! by the `object` crate; pure, so the fuzz target runs it on malformed
//! files. Symbols are not read here: blazesym reads them, lazily.

use crate::gopclntab::GoTable;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};
use std::ops::Range;
use std::sync::Arc;

/// A loadable segment: link-time address, file offset, size in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
}

#[derive(Debug, Default)]
pub struct ModuleData {
    pub build_id: Option<Vec<u8>>,
    pub segments: Vec<Segment>,
    pub text: Option<Range<u64>>,
    pub got: Option<Range<u64>>,
    pub eh_frame: Option<(Range<u64>, Arc<[u8]>)>,
    pub eh_frame_hdr: Option<(Range<u64>, Arc<[u8]>)>,
    pub debug_frame: Option<Arc<[u8]>>,
    pub go: Option<GoTable>,
    /// It has a symbol table (.symtab) or names a separate debug file.
    pub has_symbols: bool,
    /// A Go binary's version, from .go.buildinfo ("go1.19.8").
    pub go_version: Option<String>,
    /// A Go binary's `runtime.allgs` (link-time address), from .symtab.
    pub allgs: Option<u64>,
    /// Where the fields of its `runtime.g` are: from the table of known
    /// versions, else from DWARF (looked up only when `allgs` is known).
    pub g_layout: Option<crate::goroutines::Layout>,
    /// The .bss section (link-time): where a stripped Go binary's
    /// `runtime.allgs` is looked for.
    pub bss: Option<Range<u64>>,
    /// `runtime.waitReasonStrings` (link-time address, bytes), from .symtab:
    /// the wait reasons' names as this binary's runtime prints them.
    pub wait_reasons: Option<(u64, u64)>,
}

/// Unwind or function tables larger than this are not kept (a cache entry
/// stays bounded whatever the binary).
const MAX_TABLE: u64 = 64 << 20;

/// The g layout from a Go binary's DWARF (whatever its version).
pub fn dwarf_g_layout(data: &[u8]) -> Option<crate::goroutines::Layout> {
    let file = object::File::parse(data).ok()?;
    dwarf_layout(&file, 0)
}

fn dwarf_layout(file: &object::File, minor: u32) -> Option<crate::goroutines::Layout> {
    let info = debug_section(file, ".debug_info")?;
    let abbrev = debug_section(file, ".debug_abbrev")?;
    crate::godwarf::g_layout(&info, &abbrev, minor)
}

/// A DWARF section's bytes, inflated when compressed (Go writes them with
/// SHF_COMPRESSED, older Go as .zdebug_*), at most [`MAX_TABLE`] bytes.
fn debug_section<'a>(file: &object::File<'a>, name: &str) -> Option<std::borrow::Cow<'a, [u8]>> {
    use std::io::Read;
    let s = file.section_by_name(name).or_else(|| file.section_by_name(&name.replacen(".debug_", ".zdebug_", 1)))?;
    let c = s.compressed_data().ok()?;
    match c.format {
        object::CompressionFormat::None => Some(std::borrow::Cow::Borrowed(c.data)),
        object::CompressionFormat::Zlib if c.uncompressed_size <= MAX_TABLE => {
            let mut out = Vec::with_capacity(c.uncompressed_size as usize);
            flate2::read::ZlibDecoder::new(c.data).take(c.uncompressed_size).read_to_end(&mut out).ok()?;
            Some(std::borrow::Cow::Owned(out))
        }
        _ => None,
    }
}

/// `go.func.*` of a stripped go1.19 binary, from `runtime.firstmoduledata`
/// in .noptrdata: the struct whose first word is the address of
/// .gopclntab, whose `bss` field (at 224) is the .bss address, and whose
/// `gofunc` field sits at 304 (runtime/symtab.go of go1.19). Read from the
/// file, so for a binary whose addresses are fixed at link time only (a
/// PIE's are filled in by relocations when it loads). `None` unless exactly
/// one such struct is found.
fn gofunc_from_moduledata(file: &object::File, pcln: Option<u64>, bss: Option<Range<u64>>) -> Option<u64> {
    let (pcln, bss) = (pcln.filter(|&a| a != 0)?, bss?.start);
    let data = file.section_by_name(".noptrdata")?.data().ok()?;
    let word =
        |at: usize| -> Option<u64> { Some(u64::from_le_bytes(data.get(at..at.checked_add(8)?)?.try_into().ok()?)) };
    let mut found = (0..data.len())
        .step_by(8)
        .filter(|&off| word(off) == Some(pcln) && word(off + 224) == Some(bss))
        .map(|off| word(off + 304).filter(|&a| a != 0));
    match (found.next(), found.next()) {
        (Some(gofunc), None) => gofunc,
        _ => None,
    }
}

impl ModuleData {
    pub fn parse(data: &[u8]) -> Result<ModuleData, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
        if file.format() != object::BinaryFormat::Elf {
            return Err("not an ELF file".into());
        }
        let mut m = ModuleData {
            build_id: file.build_id().ok().flatten().map(<[u8]>::to_vec),
            has_symbols: file.section_by_name(".symtab").is_some() || file.gnu_debuglink().ok().flatten().is_some(),
            ..Default::default()
        };
        for seg in file.segments() {
            let (offset, filesz) = seg.file_range();
            m.segments.push(Segment { vaddr: seg.address(), offset, filesz });
        }
        let range = |s: &object::Section| s.address().checked_add(s.size()).map(|end| s.address()..end);
        let bytes = |s: &object::Section| -> Option<Arc<[u8]>> {
            if s.size() > MAX_TABLE {
                return None;
            }
            s.data().ok().filter(|d| !d.is_empty()).map(Arc::from)
        };
        for s in file.sections() {
            match s.name().unwrap_or("") {
                ".text" => m.text = range(&s),
                ".got" => m.got = range(&s),
                ".eh_frame" => m.eh_frame = range(&s).zip(bytes(&s)),
                ".eh_frame_hdr" => m.eh_frame_hdr = range(&s).zip(bytes(&s)),
                ".debug_frame" => m.debug_frame = bytes(&s),
                ".bss" => m.bss = range(&s),
                _ => {}
            }
        }
        let pcln = file.section_by_name(".gopclntab").or_else(|| file.section_by_name(".data.rel.ro.gopclntab"));
        if let Some(data) = pcln.as_ref().and_then(bytes) {
            let hint = m.text.as_ref().map_or(0, |t| t.start);
            m.go = GoTable::parse(&data, hint);
        }
        if m.go.is_some() {
            m.go_version = file
                .section_by_name(".go.buildinfo")
                .and_then(|s| s.data().ok())
                .and_then(crate::goroutines::buildinfo_version);
            // The symbol table only: .dynsym never has them, and a stripped binary has no .symtab.
            let mut gofunc = None;
            for sym in file.symbols() {
                match sym.name_bytes().unwrap_or_default() {
                    b"runtime.allgs" => m.allgs = Some(sym.address()).filter(|&a| a != 0),
                    b"go.func.*" | b"go:func.*" => gofunc = Some(sym.address()),
                    b"runtime.waitReasonStrings" => m.wait_reasons = Some((sym.address(), sym.size())),
                    _ => continue,
                }
                if m.allgs.is_some() && gofunc.is_some() && m.wait_reasons.is_some() {
                    break;
                }
            }
            if gofunc.is_none() && m.go_version.as_deref().and_then(crate::goroutines::minor) == Some(19) {
                gofunc = gofunc_from_moduledata(&file, pcln.as_ref().map(|s| s.address()), m.bss.clone());
            }
            // The inline trees: from go.func.* to the end of its section.
            let tree = gofunc.and_then(|addr| {
                let s = file.sections().find(|s| s.address() <= addr && addr < s.address().saturating_add(s.size()))?;
                let from = usize::try_from(addr - s.address()).ok()?;
                let d = s.data().ok()?.get(from..)?;
                (d.len() as u64 <= MAX_TABLE).then(|| (addr, d.to_vec()))
            });
            if let (Some(go), Some((addr, bytes))) = (m.go.as_mut(), tree) {
                go.set_gofunc(addr, bytes);
            }
            // Without the symbol table too: the layout serves the .bss scan for allgs.
            let version = m.go_version.as_deref();
            m.g_layout = version
                .and_then(crate::goroutines::layout)
                .or_else(|| dwarf_layout(&file, version.and_then(crate::goroutines::minor).unwrap_or(0)));
        }
        Ok(m)
    }

    /// The load bias of the module when file offset `offset` is mapped at
    /// `start`: run-time address = link-time address + bias.
    pub fn bias(&self, start: u64, offset: u64) -> Option<u64> {
        // A mapping starts at its segment's file offset rounded down to a
        // page, which may also lie inside the previous segment's last page:
        // the segment starting within the mapping's first page is the one.
        let seg = self
            .segments
            .iter()
            .filter(|s| s.offset >= offset && s.offset - offset < 0x10000)
            .min_by_key(|s| s.offset)
            .or_else(|| {
                self.segments.iter().find(|s| s.offset <= offset && offset < s.offset.saturating_add(s.filesz))
            })?;
        let vaddr = seg.vaddr.checked_add(offset)?.checked_sub(seg.offset)?;
        Some(start.wrapping_sub(vaddr))
    }

    /// Bytes this entry holds (for the cache's budget).
    pub fn size(&self) -> usize {
        let d = |x: &Option<(Range<u64>, Arc<[u8]>)>| x.as_ref().map_or(0, |(_, b)| b.len());
        d(&self.eh_frame)
            + d(&self.eh_frame_hdr)
            + self.debug_frame.as_ref().map_or(0, |b| b.len())
            + self.go.as_ref().map_or(0, GoTable::size)
            + 256
    }

    pub fn build_id_hex(&self) -> Option<String> {
        self.build_id.as_ref().map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let m = ModuleData::parse(&exe).unwrap();
        assert!(m.eh_frame.is_some() && m.eh_frame_hdr.is_some() && m.text.is_some(), "{m:?}");
        assert!(!m.segments.is_empty() && m.go.is_none());
        // Our own code is mapped: the bias from /proc/self/maps puts this function inside .text.
        let maps = crate::maps::parse(&std::fs::read("/proc/self/maps").unwrap());
        let here = this_test_binary as *const () as usize as u64;
        let map = maps.iter().find(|x| x.contains(here)).unwrap();
        let bias = m.bias(map.start, map.offset).unwrap();
        assert!(m.text.as_ref().unwrap().contains(&(here - bias)));
    }

    #[test]
    fn bias_picks_the_segment_the_mapping_starts() {
        // rustc -O output: the text segment starts inside the first segment's last page.
        let m = ModuleData {
            segments: vec![
                Segment { vaddr: 0, offset: 0, filesz: 0x1672c },
                Segment { vaddr: 0x17730, offset: 0x16730, filesz: 0x444e0 },
                Segment { vaddr: 0x5cc10, offset: 0x5ac10, filesz: 0x2f28 },
            ],
            ..Default::default()
        };
        assert_eq!(m.bias(0x5645bffd5000, 0x16000), Some(0x5645bffd5000 - 0x17000));
        assert_eq!(m.bias(0x5645bffbe000, 0), Some(0x5645bffbe000));
        assert_eq!(m.bias(0x5645c001a000, 0x5a000), Some(0x5645c001a000 - 0x5c000));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(ModuleData::parse(b"").is_err());
        assert!(ModuleData::parse(b"\x7fELF\x02\x01\x01").is_err());
    }
}
