//! Go's function table, `.gopclntab`: function names, entry points, the
//! stack-pointer delta at each pc (how the Go runtime itself unwinds) and
//! file:line. The linker always writes it, and `strip -s -w` keeps it, so
//! a stripped Go binary still names its functions. Layout as in Go's
//! runtime/symtab.go (pcHeader, _func, pcvalue/step) for the formats of
//! Go 1.16-1.17 (magic 0xfffffffa), 1.18-1.19 (0xfffffff0) and 1.20 on
//! (0xfffffff1). Pure and bounds-checked: the fuzz target feeds it
//! arbitrary bytes.

/// funcFlag_TOPFRAME: the outermost frame of a stack (goexit, mstart, rt0_go).
const FLAG_TOPFRAME: u8 = 1;
/// funcFlag_SPWRITE: the function switches stacks (mcall, systemstack,
/// morestack): what lies beyond is another stack.
const FLAG_SPWRITE: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V116,
    V118,
    V120,
}

/// A parsed table, borrowing nothing: the bytes are kept (Go binaries'
/// tables are a few MB at most, and the cache holds a bounded number).
#[derive(Debug)]
pub struct GoTable {
    data: Vec<u8>,
    version: Version,
    ptr: usize,
    quantum: u64,
    text_start: u64,
    nfunc: usize,
    funcname: usize,
    cutab: usize,
    filetab: usize,
    pctab: usize,
    functab: usize,
    /// `go.func.*` (the base of funcdata offsets, 1.18 on) and the bytes
    /// from there to the end of its section: where the inline trees are.
    /// Known from the symbol table only.
    gofunc: Option<(u64, Vec<u8>)>,
}

/// A function found for a pc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoFunc {
    pub name: String,
    pub entry: u64,
    /// Where the caller's frame begins, relative to this frame's sp (the
    /// pcsp value at the pc); `None` when the table has no value there.
    pub sp_delta: Option<u64>,
    /// This frame ends the stack (or continues on another one).
    pub last: bool,
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl GoTable {
    /// Parses the section's bytes. `text_hint` is the `.text` section's
    /// address, used when the header does not carry the text start (a PIE
    /// binary's header word is filled in by a relocation at run time).
    pub fn parse(data: &[u8], text_hint: u64) -> Option<GoTable> {
        let magic = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
        let version = match magic {
            0xfffffffa => Version::V116,
            0xfffffff0 => Version::V118,
            0xfffffff1 => Version::V120,
            _ => return None,
        };
        let (pad1, pad2, quantum, ptr) = (*data.get(4)?, *data.get(5)?, *data.get(6)?, *data.get(7)? as usize);
        if pad1 != 0 || pad2 != 0 || !matches!(ptr, 4 | 8) || !matches!(quantum, 1 | 2 | 4) {
            return None;
        }
        let word = |i: usize| -> Option<u64> { read_word(data, 8 + i * ptr, ptr) };
        let nfunc = usize::try_from(word(0)?).ok()?;
        let (text_start, rest) = match version {
            Version::V116 => (0, 2),
            _ => (word(2)?, 3),
        };
        let off = |i: usize| -> Option<usize> { usize::try_from(word(rest + i)?).ok().filter(|&o| o <= data.len()) };
        let t = GoTable {
            version,
            ptr,
            quantum: quantum as u64,
            text_start: if text_start != 0 { text_start } else { text_hint },
            nfunc,
            funcname: off(0)?,
            cutab: off(1)?,
            filetab: off(2)?,
            pctab: off(3)?,
            functab: off(4)?,
            data: data.to_vec(),
            gofunc: None,
        };
        // The function table (nfunc + 1 entries) must fit.
        let entry_size = if version == Version::V116 { 2 * ptr } else { 8 };
        t.functab.checked_add(nfunc.checked_add(1)?.checked_mul(entry_size)?).filter(|&e| e <= data.len())?;
        Some(t)
    }

    pub fn len(&self) -> usize {
        self.nfunc
    }

    pub fn is_empty(&self) -> bool {
        self.nfunc == 0
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.data.len() + self.gofunc.as_ref().map_or(0, |(_, b)| b.len())
    }

    /// Gives the table `go.func.*` (its link-time address and the bytes
    /// from there on), so that calls the compiler inlined are named.
    pub fn set_gofunc(&mut self, addr: u64, bytes: Vec<u8>) {
        self.gofunc = Some((addr, bytes));
    }

    /// The frames at `pc`, innermost first: the functions the compiler
    /// inlined there (each with the file:line inside it), then the real
    /// function, with the line of the outermost inlined call
    /// (runtime.CallersFrames, from the FUNCDATA_InlTree and
    /// PCDATA_InlTreeIndex tables). Only the real function when the inline
    /// tree is not known.
    pub fn frames(&self, pc: u64) -> Vec<(GoFunc, bool)> {
        let Some(outer) = self.lookup(pc) else { return Vec::new() };
        let Some((inlined, call_site)) = self.inline_walk(pc) else { return vec![(outer, false)] };
        let mut out = Vec::with_capacity(inlined.len() + 1);
        for (name, at) in inlined {
            // The file:line at `at` lies inside the inlined function's body.
            let (file, line) = self.position(at).unwrap_or((None, None));
            out.push((GoFunc { name, file, line, ..outer.clone() }, true));
        }
        let (file, line) = self.position(call_site).unwrap_or((outer.file.clone(), outer.line));
        out.push((GoFunc { file, line, ..outer }, false));
        out
    }

    /// (entry, offset of the _func) of the function containing `pc`.
    fn func_at(&self, pc: u64) -> Option<(u64, usize)> {
        if self.nfunc == 0 {
            return None;
        }
        let (lo_pc, hi_pc) = self.range()?;
        if pc < lo_pc || pc >= hi_pc {
            return None;
        }
        // Last slot whose entry is <= pc.
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.slot(mid)?.0 <= pc {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        self.slot(lo)
    }

    /// Offset of the funcID byte of the _func at `f` (flag, pad and
    /// nfuncdata follow; then the pcdata and funcdata offsets).
    fn flags_at(&self, f: usize) -> usize {
        let base = if self.version == Version::V116 { f + self.ptr } else { f + 4 };
        base + 4 * if self.version == Version::V120 { 9 } else { 8 }
    }

    /// (file, line) at `pc` from its function's pcfile and pcln tables.
    fn position(&self, pc: u64) -> Option<(Option<String>, Option<u32>)> {
        let f = self.lookup(pc)?;
        Some((f.file, f.line))
    }

    /// The inlined calls covering `pc`, innermost first (the callee's name
    /// and a pc inside it, for its file:line), and the pc of the outermost
    /// call in the real function.
    fn inline_walk(&self, pc: u64) -> Option<(Vec<(String, u64)>, u64)> {
        if self.version == Version::V116 {
            return None;
        }
        let (_, gofunc) = self.gofunc.as_ref()?;
        let (entry, f) = self.func_at(pc)?;
        let flags_at = self.flags_at(f);
        let npcdata = u32_at(&self.data, f + 4 + 4 * 6)? as usize;
        let nfuncdata = *self.data.get(flags_at + 3)? as usize;
        const PCDATA_INL_TREE_INDEX: usize = 2;
        const FUNCDATA_INL_TREE: usize = 3;
        if npcdata <= PCDATA_INL_TREE_INDEX || nfuncdata <= FUNCDATA_INL_TREE {
            return None;
        }
        let pcdata = u32_at(&self.data, flags_at + 4 + 4 * PCDATA_INL_TREE_INDEX)?;
        let fd = u32_at(&self.data, flags_at + 4 + 4 * npcdata + 4 * FUNCDATA_INL_TREE)?;
        if fd == u32::MAX {
            return None;
        }
        let tree = fd as usize;
        // inlinedCall: 1.18-1.19 {parent i16, funcID, _, file, line, func_, parentPc} (20 bytes);
        // 1.20 on {funcID, _ [3], nameOff, parentPc, startLine} (16 bytes).
        let (size, name_at, parent_at) = if self.version == Version::V120 { (16, 4, 8) } else { (20, 12, 16) };
        let mut out = Vec::new();
        let mut at = pc;
        // Inlining depth is small; bound it anyway.
        for _ in 0..64 {
            let Some(ix) = self.pcvalue(pcdata, entry, at).filter(|&i| i >= 0) else { break };
            let call = tree.checked_add((ix as usize).checked_mul(size)?)?;
            let name_off = u32_at(gofunc, call.checked_add(name_at)?)? as usize;
            let parent_pc = u32_at(gofunc, call.checked_add(parent_at)?)?;
            let name = cstr(&self.data, self.funcname.checked_add(name_off)?)?;
            out.push((name, at));
            let next = entry.checked_add(parent_pc as u64)?;
            if next == at {
                break;
            }
            at = next;
        }
        Some((out, at))
    }

    /// (entry pc, offset of the _func) of function table slot `i`.
    fn slot(&self, i: usize) -> Option<(u64, usize)> {
        match self.version {
            Version::V116 => {
                let at = self.functab + i * 2 * self.ptr;
                let entry = read_word(&self.data, at, self.ptr)?;
                let off = read_word(&self.data, at + self.ptr, self.ptr)?;
                Some((entry, self.functab.checked_add(usize::try_from(off).ok()?)?))
            }
            _ => {
                let at = self.functab + i * 8;
                let entry = self.text_start.checked_add(u32_at(&self.data, at)? as u64)?;
                Some((entry, self.functab.checked_add(u32_at(&self.data, at + 4)? as usize)?))
            }
        }
    }

    /// The text range the table covers.
    pub fn range(&self) -> Option<(u64, u64)> {
        Some((self.slot(0)?.0, self.slot(self.nfunc)?.0))
    }

    /// The function containing `pc` (a link-time address), with the
    /// pcsp, file and line values at `pc`.
    pub fn lookup(&self, pc: u64) -> Option<GoFunc> {
        let (entry, f) = self.func_at(pc)?;
        // _func fields: entry (a word before 1.18, a u32 after), then i32s.
        let base = if self.version == Version::V116 { f + self.ptr } else { f + 4 };
        let field = |i: usize| u32_at(&self.data, base + 4 * i);
        let name_off = field(0)? as usize;
        let (pcsp, pcfile, pcln, cu) = (field(3)?, field(4)?, field(5)?, field(7)?);
        // funcID and flag follow cuOffset (and startLine from 1.20 on).
        let flags_at = self.flags_at(f);
        let (func_id, flag) = (*self.data.get(flags_at)?, *self.data.get(flags_at + 1)?);
        let name = cstr(&self.data, self.funcname.checked_add(name_off)?)?;
        let flag = if self.version == Version::V116 { 0 } else { flag };
        let _ = func_id;
        let last = flag & (FLAG_TOPFRAME | FLAG_SPWRITE) != 0 || is_stack_end(&name);
        let file = self.pcvalue(pcfile, entry, pc).and_then(|n| {
            let idx = (cu as usize).checked_add(usize::try_from(n).ok()?)?;
            let off = u32_at(&self.data, self.cutab.checked_add(idx.checked_mul(4)?)?)?;
            if off == u32::MAX {
                return None;
            }
            cstr(&self.data, self.filetab.checked_add(off as usize)?)
        });
        Some(GoFunc {
            sp_delta: self.pcvalue(pcsp, entry, pc).and_then(|v| u64::try_from(v).ok()),
            line: self.pcvalue(pcln, entry, pc).and_then(|v| u32::try_from(v).ok()),
            file,
            last,
            name,
            entry,
        })
    }

    /// The value of the pc-value table at offset `off` for `target`
    /// (runtime.pcvalue): pairs of zig-zag value deltas and pc deltas.
    fn pcvalue(&self, off: u32, entry: u64, target: u64) -> Option<i64> {
        if off == 0 {
            return None;
        }
        let mut p = self.pctab.checked_add(off as usize)?;
        let (mut pc, mut val) = (entry, -1i64);
        // A table has at most one pair per instruction; bound the walk anyway.
        for first in std::iter::once(true).chain(std::iter::repeat(false)).take(1 << 20) {
            let (uv, n) = varint(&self.data, p)?;
            if uv == 0 && !first {
                return None;
            }
            p += n;
            val += -((uv & 1) as i64) ^ (uv >> 1) as i64;
            let (pcd, n) = varint(&self.data, p)?;
            p += n;
            pc = pc.checked_add((pcd as u64).checked_mul(self.quantum)?)?;
            if target < pc {
                return Some(val);
            }
        }
        None
    }
}

/// Functions whose caller is not on this stack: the goroutine's or
/// thread's first frame, or a switch to another stack (Go before 1.17 has
/// no flag byte to say so).
fn is_stack_end(name: &str) -> bool {
    matches!(
        name,
        "runtime.goexit"
            | "runtime.mstart"
            | "runtime.mstart0"
            | "runtime.rt0_go"
            | "runtime.mcall"
            | "runtime.morestack"
            | "runtime.systemstack"
            | "runtime.asmcgocall"
            | "runtime.sigtramp"
            | "runtime.clone"
    )
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn read_word(d: &[u8], at: usize, ptr: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(ptr)?)?;
    Some(if ptr == 8 { u64::from_le_bytes(b.try_into().ok()?) } else { u32::from_le_bytes(b.try_into().ok()?) as u64 })
}

/// A NUL-terminated string at `at`, at most 4 KiB.
fn cstr(d: &[u8], at: usize) -> Option<String> {
    let tail = d.get(at..)?;
    let end = tail.iter().take(4096).position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&tail[..end]).into_owned())
}

/// Go's unsigned LEB128 (at most 5 bytes for a u32).
fn varint(d: &[u8], at: usize) -> Option<(u32, usize)> {
    let mut v = 0u32;
    for i in 0..5 {
        let b = *d.get(at.checked_add(i)?)?;
        v |= ((b & 0x7f) as u32) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made 1.18 table: two functions at 0x1000 (main.a, frame 0x18
    /// after its first 4 bytes) and 0x1100 (runtime.goexit), end 0x1200.
    pub(crate) fn tiny() -> Vec<u8> {
        let mut d = vec![0u8; 0x200];
        d[0..4].copy_from_slice(&0xfffffff0u32.to_le_bytes());
        d[6] = 1;
        d[7] = 8;
        let words: [u64; 8] = [2, 1, 0x1000, 0x50, 0x68, 0x70, 0x80, 0xa0];
        for (i, w) in words.iter().enumerate() {
            d[8 + i * 8..16 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        d[0x50..0x57].copy_from_slice(b"main.a\0");
        d[0x57..0x66].copy_from_slice(b"runtime.goexit\0");
        d[0x68..0x6c].copy_from_slice(&0u32.to_le_bytes()); // cutab[0] -> filetab+0
        d[0x70..0x7a].copy_from_slice(b"/src/a.go\0");
        // pctab at 0x80: pcsp of main.a at +1: val 0 for 4 bytes, then 0x18 for 0xfc; end.
        d[0x81..0x86].copy_from_slice(&[0x02, 0x04, 0x30, 0x7c, 0x00]);
        // pcln at +8: line 7 for 0x100 bytes (varint 0x100 = 0x80 0x02).
        d[0x88..0x8c].copy_from_slice(&[0x10, 0x80, 0x02, 0x00]);
        // pcfile at +12: file 0 for 0x100 bytes.
        d[0x8c..0x90].copy_from_slice(&[0x02, 0x80, 0x02, 0x00]);
        // functab at 0xa0: (0, 0x18) (0x100, 0x48) (0x200, 0)
        let ft: [u32; 6] = [0, 0x18, 0x100, 0x48, 0x200, 0];
        for (i, w) in ft.iter().enumerate() {
            d[0xa0 + i * 4..0xa4 + i * 4].copy_from_slice(&w.to_le_bytes());
        }
        // _func of main.a at 0xa0+0x18 = 0xb8: entryoff, nameoff, args, deferreturn, pcsp, pcfile, pcln, npcdata, cu, funcID/flag
        let f: [u32; 9] = [0, 0, 0, 0, 1, 12, 8, 0, 0];
        for (i, w) in f.iter().enumerate() {
            d[0xb8 + i * 4..0xbc + i * 4].copy_from_slice(&w.to_le_bytes());
        }
        // _func of runtime.goexit at 0xe8: nameoff 7, flag TOPFRAME.
        let g: [u32; 9] = [0x100, 7, 0, 0, 0, 0, 0, 0, 0];
        for (i, w) in g.iter().enumerate() {
            d[0xe8 + i * 4..0xec + i * 4].copy_from_slice(&w.to_le_bytes());
        }
        d[0xe8 + 37] = FLAG_TOPFRAME;
        d
    }

    #[test]
    fn lookups() {
        let t = GoTable::parse(&tiny(), 0).unwrap();
        assert_eq!(t.range(), Some((0x1000, 0x1200)));
        let f = t.lookup(0x1002).unwrap();
        assert_eq!((f.name.as_str(), f.entry, f.sp_delta, f.last), ("main.a", 0x1000, Some(0), false));
        let f = t.lookup(0x1050).unwrap();
        assert_eq!(f.sp_delta, Some(0x18));
        assert_eq!((f.file.as_deref(), f.line), (Some("/src/a.go"), Some(7)));
        let g = t.lookup(0x1100).unwrap();
        assert!(g.name == "runtime.goexit" && g.last && g.sp_delta.is_none());
        assert!(t.lookup(0x0fff).is_none() && t.lookup(0x1200).is_none());
    }

    /// A 1.18 table with one function, main.outer at 0x1000 (line 10 for
    /// 0x10 bytes, then 20), into which main.inner was inlined over
    /// [0x1010, 0x1030), called from the instruction at 0x1008; and its
    /// go.func.* bytes (the inline tree).
    fn inlined() -> (Vec<u8>, Vec<u8>) {
        let mut d = vec![0u8; 0x260];
        d[0..4].copy_from_slice(&0xfffffff0u32.to_le_bytes());
        d[6] = 1;
        d[7] = 8;
        let words: [u64; 8] = [1, 1, 0x1000, 0x100, 0x140, 0x150, 0x180, 0x200];
        for (i, w) in words.iter().enumerate() {
            d[8 + i * 8..16 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        d[0x100..0x116].copy_from_slice(b"main.outer\0main.inner\0");
        d[0x150..0x15a].copy_from_slice(b"/src/a.go\0");
        d[0x181..0x185].copy_from_slice(&[0x02, 0x80, 0x02, 0x00]); // pcsp: 0
        d[0x188..0x18c].copy_from_slice(&[0x02, 0x80, 0x02, 0x00]); // pcfile: 0
        d[0x18c..0x192].copy_from_slice(&[0x16, 0x10, 0x14, 0xf0, 0x01, 0x00]); // pcln: 10, then 20
        d[0x194..0x19c].copy_from_slice(&[0x00, 0x10, 0x02, 0x20, 0x01, 0xd0, 0x01, 0x00]); // inline index: -1, 0, -1
        let ft: [u32; 4] = [0, 0x10, 0x100, 0];
        for (i, w) in ft.iter().enumerate() {
            d[0x200 + i * 4..0x204 + i * 4].copy_from_slice(&w.to_le_bytes());
        }
        // _func: entryoff, nameoff, args, deferreturn, pcsp, pcfile, pcln, npcdata, cu; then nfuncdata 4.
        let f: [u32; 9] = [0, 0, 0, 0, 1, 8, 12, 3, 0];
        for (i, w) in f.iter().enumerate() {
            d[0x210 + i * 4..0x214 + i * 4].copy_from_slice(&w.to_le_bytes());
        }
        d[0x237] = 4;
        let tail: [u32; 7] = [0, 0, 0x14, u32::MAX, u32::MAX, u32::MAX, 0];
        for (i, w) in tail.iter().enumerate() {
            d[0x238 + i * 4..0x23c + i * 4].copy_from_slice(&w.to_le_bytes());
        }
        // inlinedCall{parent -1, funcID, _, file, line, func_ 11, parentPc 8}
        let mut tree = vec![0xff, 0xff, 0, 0];
        for w in [0u32, 0, 11, 8] {
            tree.extend_from_slice(&w.to_le_bytes());
        }
        (d, tree)
    }

    #[test]
    fn inlined_calls_from_the_inline_tree() {
        let (d, tree) = inlined();
        let mut t = GoTable::parse(&d, 0).unwrap();
        let names = |t: &GoTable, pc| -> Vec<(String, Option<u32>, bool)> {
            t.frames(pc).into_iter().map(|(f, i)| (f.name, f.line, i)).collect()
        };
        // Without go.func.*: the real function only.
        assert_eq!(names(&t, 0x1018), [("main.outer".to_string(), Some(20), false)]);
        t.set_gofunc(0x9000, tree);
        assert_eq!(
            names(&t, 0x1018),
            [("main.inner".to_string(), Some(20), true), ("main.outer".to_string(), Some(10), false)],
            "the inlined callee at its line, then the caller at the call's line"
        );
        assert_eq!(names(&t, 0x1040), [("main.outer".to_string(), Some(20), false)]);
        assert_eq!(names(&t, 0x1004), [("main.outer".to_string(), Some(10), false)]);
        // A tree index beyond go.func.*: the real function only, no panic.
        t.set_gofunc(0x9000, vec![0; 4]);
        assert_eq!(names(&t, 0x1018), [("main.outer".to_string(), Some(20), false)]);
    }

    #[test]
    fn rejects_what_is_not_a_table() {
        assert!(GoTable::parse(b"", 0).is_none());
        assert!(GoTable::parse(&[0xf0, 0xff, 0xff, 0xff, 0, 0, 1, 8], 0).is_none());
        let mut d = tiny();
        d[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(GoTable::parse(&d, 0).is_none(), "nfunc beyond the data");
    }
}
