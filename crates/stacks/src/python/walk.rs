//! The walk through a CPython runtime in another process's memory:
//! `_PyRuntime` → interpreters → thread states → each thread's frames →
//! their code objects → names, file names and line tables. Generic over
//! [`Memory`], so that the unit tests and the fuzz target run it on a
//! byte image instead of a process. Every pointer is checked (non-null,
//! aligned, user space), every object's type is checked against the type
//! object the interpreter exports, every count is bounded: a wrong layout
//! or memory that changed underneath yields a note, never a wrong frame
//! presented as right.

use super::decode;
use super::layout::{Frames, Gil, Head, Layout, Lines};
use std::collections::HashMap;
use std::sync::Arc;
use unwedge_model::stack::PyFrame;

/// Interpreters walked at most.
const MAX_INTERPS: usize = 16;
/// Thread states listed at most per process.
pub const MAX_TSTATES: usize = 4096;
/// Frames kept per thread at most (innermost first).
pub const MAX_PY_FRAMES: usize = 128;
/// Line tables read at most this long.
const MAX_TABLE: usize = 64 << 10;
/// Code objects remembered per read at most.
const MAX_CODES: usize = 8192;

/// Another process's memory (or an image of it).
pub trait Memory {
    /// Exactly `len` bytes at `addr`, or `None`.
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
}

/// A live process, read with process_vm_readv (never stopped).
pub struct Live(pub u32);

impl Memory for Live {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let b = crate::mem::read(self.0, addr, len).ok()?;
        (b.len() == len).then_some(b)
    }
}

/// Bytes standing for memory from `base` on (tests, fuzzing).
pub struct Image<'a> {
    pub base: u64,
    pub bytes: &'a [u8],
}

impl Memory for Image<'_> {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let at = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        self.bytes.get(at..at.checked_add(len)?).map(<[u8]>::to_vec)
    }
}

/// Run-time addresses of the type objects that mark what an object is
/// (`PyCode_Type`, `PyUnicode_Type`, `PyBytes_Type`, `PyFrame_Type`);
/// `None` when the interpreter does not export one (its check is skipped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Types {
    pub code: Option<u64>,
    pub unicode: Option<u64>,
    pub bytes: Option<u64>,
    pub frame: Option<u64>,
}

pub(crate) fn word(b: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

fn int(b: &[u8], at: u64) -> Option<i32> {
    let at = usize::try_from(at).ok()?;
    Some(i32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// A pointer worth following: non-null, 8-aligned, in user space.
fn ptr(v: u64) -> Option<u64> {
    (v != 0 && v.is_multiple_of(8) && v < 1 << 56).then_some(v)
}

fn read_word(m: &dyn Memory, addr: u64) -> Option<u64> {
    word(&m.read(addr, 8)?, 0)
}

/// One thread state as listed by its interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tstate {
    pub addr: u64,
    pub interp: u64,
    /// `thread_id`: the thread's pthread_t (glibc: its `struct pthread`).
    pub thread_id: u64,
    /// `native_thread_id` (3.11+): the TID.
    pub native_id: Option<u32>,
}

/// The interpreters' thread states, and why the list is cut, if it is.
#[derive(Debug, Default)]
pub struct Listed {
    pub interps: Vec<u64>,
    pub threads: Vec<Tstate>,
    pub cut: bool,
}

/// Lists the thread states of every interpreter of the runtime at
/// `runtime`. A thread state that does not point back at its interpreter
/// means the layout is wrong: an error, not a guess.
pub fn thread_states(m: &dyn Memory, l: &Layout, runtime: u64) -> Result<Listed, String> {
    let head = read_word(m, runtime + l.interpreters_head).ok_or("_PyRuntime could not be read")?;
    if head == 0 {
        return Err("the interpreter is not initialised (no interpreter state)".into());
    }
    let mut out = Listed::default();
    let mut seen = std::collections::HashSet::new();
    let mut interp = ptr(head).ok_or("the interpreter list does not start with a pointer (layout check failed)")?;
    loop {
        if out.interps.contains(&interp) || out.interps.len() >= MAX_INTERPS {
            out.cut = true;
            break;
        }
        out.interps.push(interp);
        let mut ts = read_word(m, interp + l.interp_threads).ok_or("an interpreter state could not be read")?;
        while ts != 0 {
            if out.threads.len() >= MAX_TSTATES {
                out.cut = true;
                return Ok(out);
            }
            let at = ptr(ts).ok_or("a thread state pointer is not one (layout check failed)")?;
            let b = m.read(at, l.ts_span()).ok_or("a thread state could not be read")?;
            if word(&b, l.ts_interp) != Some(interp) {
                return Err("a thread state does not point back at its interpreter (layout check failed)".into());
            }
            out.threads.push(Tstate {
                addr: at,
                interp,
                thread_id: word(&b, l.ts_thread_id).unwrap_or(0),
                native_id: l
                    .ts_native_id
                    .and_then(|o| word(&b, o))
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|&v| v > 0),
            });
            seen.insert(at);
            ts = word(&b, l.ts_next).unwrap_or(0);
            if seen.contains(&ts) {
                out.cut = true;
                break;
            }
        }
        match read_word(m, interp + l.interp_next) {
            Some(0) => break,
            Some(next) => interp = ptr(next).ok_or("an interpreter's next pointer is not one (layout check failed)")?,
            None => return Err("an interpreter state could not be read".into()),
        }
    }
    // A running interpreter has its main thread's state at least: none
    // listed is a layout that does not fit (or an interpreter shutting down).
    if out.threads.is_empty() {
        return Err("the interpreter lists no thread states (layout check failed, or it is shutting down)".into());
    }
    Ok(out)
}

/// Whether each interpreter's GIL is locked, and by which thread state
/// it was last taken (`last_holder`: the holder while it is locked).
pub fn gil(m: &dyn Memory, l: &Layout, runtime: u64, interps: &[u64]) -> Option<Vec<(bool, u64)>> {
    let at = |base: u64, locked: u64, holder: u64| -> Option<(bool, u64)> {
        let locked = int(&m.read(base + locked, 4)?, 0)?;
        Some((locked != 0, read_word(m, base + holder)?))
    };
    match l.gil {
        Gil::Runtime { locked, holder } => Some(vec![at(runtime, locked, holder)?]),
        Gil::Interp { ptr: p, locked, holder } => {
            interps.iter().map(|&i| at(ptr(read_word(m, i + p)?)?, locked, holder)).collect()
        }
    }
}

/// The innermost frame of thread state `ts` (0: none).
pub fn head(m: &dyn Memory, l: &Layout, ts: u64) -> Option<u64> {
    match l.head {
        Head::Direct(o) => read_word(m, ts + o),
        Head::CFrame { cframe, current } => match read_word(m, ts + cframe)? {
            0 => Some(0),
            c => read_word(m, ptr(c)? + current),
        },
    }
}

/// A frame's identity: its address, its code and where it is in it. A
/// thread whose innermost identity differs after its frames were copied
/// ran meanwhile.
pub type Top = (u64, u64, u64);

/// The identity of the frame at `at`.
pub fn top(m: &dyn Memory, l: &Layout, at: u64) -> Option<Top> {
    if at == 0 {
        return Some((0, 0, 0));
    }
    let b = m.read(ptr(at)?, l.frame_span())?;
    Some(match l.frames {
        Frames::Object { code, lasti, .. } => (at, word(&b, code)?, int(&b, lasti)? as u32 as u64),
        Frames::Interp { code, instr, .. } => (at, word(&b, code)?, word(&b, instr)?),
    })
}

/// A code object as far as a frame needs it.
#[derive(Debug)]
struct Code {
    name: String,
    file: String,
    first: i32,
    table: Vec<u8>,
    /// Code units of its instructions (3.11+: `ob_size`).
    units: u64,
}

/// One thread's frames, innermost first.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Walked {
    pub frames: Vec<PyFrame>,
    /// The innermost frame's identity, as copied.
    pub top: Option<Top>,
    /// Why the frames end early, if they do.
    pub note: Option<String>,
}

/// Reads frames and the code objects they run, remembering each code
/// object (by address) for the rest of one read.
pub struct Walker<'m> {
    m: &'m dyn Memory,
    l: Layout,
    types: Types,
    codes: HashMap<u64, Option<Arc<Code>>>,
}

impl<'m> Walker<'m> {
    pub fn new(m: &'m dyn Memory, l: Layout, types: Types) -> Walker<'m> {
        Walker { m, l, types, codes: HashMap::new() }
    }

    fn is(&self, b: &[u8], want: Option<u64>) -> bool {
        want.is_none_or(|t| word(b, self.l.ob_type) == Some(t))
    }

    /// A `str` object's characters.
    fn string(&self, at: u64) -> Option<String> {
        let at = ptr(at)?;
        // The compact header's size covers a short ASCII name too: one read.
        let head =
            self.m.read(at, self.l.compact_size as usize).or_else(|| self.m.read(at, self.l.ascii_size as usize))?;
        if !self.is(&head, self.types.unicode) {
            return None;
        }
        let shape = decode::str_shape(&head, &self.l)?;
        let n = shape.bytes();
        let bytes = match head.get(shape.data..shape.data + n) {
            Some(b) => b.to_vec(),
            None => self.m.read(at + shape.data as u64, n)?,
        };
        Some(decode::str_chars(shape.kind, &bytes))
    }

    /// A `bytes` object's contents (at most [`MAX_TABLE`] bytes).
    fn bytes(&self, at: u64) -> Option<Vec<u8>> {
        let at = ptr(at)?;
        let head = self.m.read(at, self.l.bytes_data as usize)?;
        if !self.is(&head, self.types.bytes) {
            return None;
        }
        let n = usize::try_from(word(&head, self.l.ob_size)?).ok().filter(|&n| n <= MAX_TABLE)?;
        self.m.read(at + self.l.bytes_data, n)
    }

    fn code(&mut self, at: u64) -> Option<Arc<Code>> {
        if let Some(c) = self.codes.get(&at) {
            return c.clone();
        }
        let c = self.read_code(at).map(Arc::new);
        if self.codes.len() < MAX_CODES {
            self.codes.insert(at, c.clone());
        }
        c
    }

    fn read_code(&self, at: u64) -> Option<Code> {
        let b = self.m.read(ptr(at)?, self.l.code_span())?;
        if !self.is(&b, self.types.code) {
            return None;
        }
        let name = self
            .l
            .co_qualname
            .and_then(|o| self.string(word(&b, o)?))
            .or_else(|| self.string(word(&b, self.l.co_name)?))?;
        Some(Code {
            name,
            file: self.string(word(&b, self.l.co_filename)?)?,
            first: int(&b, self.l.co_firstlineno)?,
            table: self.bytes(word(&b, self.l.co_lines)?).unwrap_or_default(),
            units: word(&b, self.l.ob_size).unwrap_or(0),
        })
    }

    /// Whether the object at `at` is a code object (3.13's frames may run
    /// something else: a shim's `None`).
    fn is_code(&self, at: u64) -> bool {
        ptr(at).and_then(|a| self.m.read(a, self.l.ob_type as usize + 8)).is_some_and(|b| self.is(&b, self.types.code))
    }

    /// The frames from `at` (a thread's innermost frame) outwards.
    pub fn stack(&mut self, at: u64) -> Walked {
        let mut out = Walked { top: top(self.m, &self.l, at), ..Default::default() };
        let mut at = at;
        let mut seen = 0;
        while at != 0 {
            if out.frames.len() >= MAX_PY_FRAMES || seen >= 4 * MAX_PY_FRAMES {
                out.note = Some(format!("the innermost {} Python frames are shown", out.frames.len()));
                break;
            }
            seen += 1;
            let Some(b) = ptr(at).and_then(|a| self.m.read(a, self.l.frame_span())) else {
                out.note = Some(format!("a Python frame at {at:#x} could not be read"));
                break;
            };
            let (code, addr, next) = match self.l.frames {
                Frames::Object { back, code, lasti } => {
                    if !self.is(&b, self.types.frame) {
                        out.note = Some("a Python frame is not a frame object (layout check failed)".into());
                        break;
                    }
                    let lasti = int(&b, lasti).unwrap_or(-1) as i64;
                    let addr = if self.l.lines == Lines::Linetable { lasti.saturating_mul(2) } else { lasti };
                    (word(&b, code).unwrap_or(0), Ok(addr), word(&b, back).unwrap_or(0))
                }
                Frames::Interp { previous, code, instr, owner } => {
                    let next = word(&b, previous).unwrap_or(0);
                    let owner = b.get(owner as usize).copied().unwrap_or(0xff);
                    let c = word(&b, code).unwrap_or(0);
                    // 3.12+: a C call's entry frame (FRAME_OWNED_BY_CSTACK) runs no Python code.
                    if (owner == 3 && self.l.minor >= 12) || (self.l.minor >= 13 && !self.is_code(c)) {
                        at = next;
                        continue;
                    }
                    if owner > 3 {
                        out.note = Some(format!("a Python frame has owner {owner} (layout check failed)"));
                        break;
                    }
                    (c, Err(word(&b, instr).unwrap_or(0)), next)
                }
            };
            let Some(c) = self.code(code) else {
                out.note = Some("a Python frame's code object could not be read as one".into());
                break;
            };
            let addr = match addr {
                Ok(a) => Some(a),
                // 3.11+: the instruction pointer, from the code's first instruction.
                Err(ip) => {
                    let start = code.wrapping_add(self.l.co_code.unwrap_or(0));
                    let off = ip.wrapping_sub(start) as i64;
                    (off % 2 == 0 && off >= -2 && off <= (c.units as i64).saturating_mul(2)).then_some(off)
                }
            };
            let line = addr.and_then(|a| match self.l.lines {
                Lines::Lnotab => decode::lnotab_line(&c.table, c.first, a),
                Lines::Linetable => decode::linetable_line(&c.table, c.first, a),
                Lines::Locations => decode::locations_line(&c.table, c.first, a),
            });
            out.frames.push(PyFrame { function: c.name.clone(), file: c.file.clone(), line });
            if next == at {
                break;
            }
            at = next;
        }
        out
    }
}

/// Bytes of each `struct pthread` searched for its TID.
pub const PTHREAD_SPAN: usize = 2048;
/// glibc's `struct pthread.tid` (x86_64 and aarch64): the offset taken when
/// several fit.
const GLIBC_TID: usize = if cfg!(target_arch = "aarch64") { 0xd0 } else { 0x2d0 };

/// CPython before 3.11 keeps only a thread's pthread_t (`thread_id`),
/// which glibc and musl make the address of its `struct pthread`, whose
/// `tid` field is the TID. The field's offset is found, not assumed: the
/// one 4-byte-aligned offset where every readable struct holds a distinct
/// TID of the process (`tids`). Returns each pthread's TID (`None` for a
/// struct that could not be read), or `None` when no offset (or more than
/// one, disagreeing) fits.
pub fn pthread_tids(m: &dyn Memory, pthreads: &[u64], tids: &[u32]) -> Option<Vec<Option<u32>>> {
    let structs: Vec<Option<Vec<u8>>> = pthreads.iter().map(|&p| m.read(ptr(p)?, PTHREAD_SPAN)).collect();
    let readable: Vec<&[u8]> = structs.iter().flatten().map(Vec::as_slice).collect();
    if readable.is_empty() {
        return None;
    }
    let at = |s: &[u8], o: usize| u32::from_le_bytes(s[o..o + 4].try_into().unwrap_or_default());
    let mut fits: Vec<usize> = Vec::new();
    for off in (0..PTHREAD_SPAN).step_by(4) {
        let mut vals: Vec<u32> = readable.iter().map(|s| at(s, off)).collect();
        if vals.iter().all(|v| tids.contains(v)) {
            vals.sort_unstable();
            vals.dedup();
            if vals.len() == readable.len() {
                fits.push(off);
            }
        }
    }
    let mapping =
        |off: usize| -> Vec<Option<u32>> { structs.iter().map(|s| s.as_deref().map(|s| at(s, off))).collect() };
    let first = mapping(*fits.first()?);
    if fits.iter().all(|&o| mapping(o) == first) {
        return Some(first);
    }
    fits.contains(&GLIBC_TID).then(|| mapping(GLIBC_TID))
}

/// Bytes of data sections scanned for `_PyRuntime` at most.
const MAX_SCAN: usize = 16 << 20;

/// Finds `_PyRuntime` in an interpreter that does not name it: the one
/// 8-aligned place in its data sections (`ranges`, run-time addresses)
/// that starts as `_PyRuntimeState` does — 3.13: the debug offsets'
/// cookie; 3.8–3.12: its int flags (preinitialized … initialized) 0 or 1,
/// three of them set, not finalizing — whose `interpreters.head` and
/// `.main` are the same interpreter (`next_id` after them small), and
/// whose first thread state points back at it. Exactly one place must pass.
pub fn find_runtime(m: &dyn Memory, l: &Layout, ranges: &[std::ops::Range<u64>]) -> Result<u64, String> {
    let mut found = Vec::new();
    let mut budget = MAX_SCAN;
    for r in ranges {
        let len = usize::try_from(r.end.saturating_sub(r.start)).unwrap_or(usize::MAX).min(budget);
        budget -= len;
        // In pieces: a section may straddle an unmapped page.
        for chunk in (0..len).step_by(1 << 16) {
            let n = (len - chunk).min(1 << 16);
            let Some(b) = m.read(r.start + chunk as u64, n) else { continue };
            for off in (0..n).step_by(8) {
                let at = r.start + (chunk + off) as u64;
                let h = off as u64 + l.interpreters_head;
                // Cheap first: head == main, a pointer (read apart when past the chunk).
                let pair = match (word(&b, h), word(&b, h + 8)) {
                    (Some(head), Some(main)) => Some((head, main)),
                    _ => m.read(at + l.interpreters_head, 16).and_then(|w| Some((word(&w, 0)?, word(&w, 8)?))),
                };
                if pair.is_some_and(|(head, main)| head == main && ptr(head).is_some()) && is_runtime(m, l, at) {
                    found.push(at);
                }
            }
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            Err("_PyRuntime is not named by the interpreter's symbols, and no place in its data looks like it".into())
        }
        _ => Err(format!("{} places in the interpreter's data look like _PyRuntime: none is taken", found.len())),
    }
}

fn is_runtime(m: &dyn Memory, l: &Layout, at: u64) -> bool {
    let h = l.interpreters_head;
    let Some(b) = m.read(at, h as usize + 24) else { return false };
    let head = word(&b, h).unwrap_or(0);
    let next_id = word(&b, h + 16).unwrap_or(0);
    let start_ok = if l.minor >= 13 {
        b.starts_with(b"xdebugpy")
    } else {
        // The flags, then `_finalizing` and `interpreters.mutex` (8 bytes each).
        let flags: Vec<i32> = (0..h.saturating_sub(16)).step_by(4).filter_map(|o| int(&b, o)).collect();
        // (3.8–3.10: preinitializing, preinitialized, core_initialized, initialized;
        // 3.11+ _initialized first; then padding): at least three set.
        flags.iter().all(|&f| f == 0 || f == 1)
            && flags.iter().filter(|&&f| f == 1).count() >= 3
            && word(&b, h - 16) == Some(0)
    };
    if !start_ok || !(1..=4096).contains(&next_id) {
        return false;
    }
    let Some(ts) = read_word(m, head + l.interp_threads).and_then(ptr) else { return false };
    read_word(m, ts + l.ts_interp) == Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::layout::layout;
    use crate::python::sample::{Builder, BASE};

    #[test]
    fn walks_every_version_on_a_hand_made_image() {
        for minor in 8..=13 {
            let mut b = Builder::new(minor);
            let pool: &[(&str, &str)] = &[("handle", "app.py"), ("checkout", "app.py"), ("get", "queue.py")];
            let reader: &[(&str, &str)] = &[("<module>", "app.py"), ("read_reply", "app.py")];
            let (rt, tss) = b.runtime(&[pool, reader]);
            b.hold_gil(rt, tss[1]);
            let m = b.image();
            let listed = thread_states(&m, &b.l, rt).unwrap();
            assert_eq!(listed.threads.len(), 2, "3.{minor}");
            assert!(!listed.cut);
            // Newest first, as CPython links them.
            assert_eq!(listed.threads[0].addr, tss[1]);
            assert_eq!(listed.threads[0].native_id, (minor >= 11).then_some(1001));
            let mut w = Walker::new(&m, b.l, b.types);
            let first = head(&m, &b.l, tss[0]).unwrap();
            let s = w.stack(first);
            let names: Vec<&str> = s.frames.iter().map(|f| f.function.as_str()).collect();
            assert_eq!(names, ["get", "checkout", "handle"], "3.{minor}: {s:?}");
            assert_eq!(s.frames[0].file, "queue.py");
            assert_eq!(s.frames[0].line, Some(11), "3.{minor}");
            assert_eq!(s.note, None);
            assert_eq!(s.top, top(&m, &b.l, first));
            // A thread state with no frame: nothing, and the same nothing when read again.
            let none = w.stack(0);
            assert!(none.frames.is_empty() && none.note.is_none());
            assert_eq!(none.top, top(&m, &b.l, 0));
            let g = gil(&m, &b.l, rt, &listed.interps).unwrap();
            assert_eq!(g, vec![(true, tss[1])], "3.{minor}");
        }
    }

    #[test]
    fn a_wrong_layout_is_an_error_not_a_guess() {
        let mut b = Builder::new(11);
        let (rt, tss) = b.runtime(&[&[("f", "a.py")]]);
        // The thread state's interp field no longer points back.
        let o = b.l.ts_interp;
        b.word(tss[0], o, 0x1234_5678);
        let m = b.image();
        assert!(thread_states(&m, &b.l, rt).unwrap_err().contains("layout check failed"));
        // Read with another version's layout: nothing passes as frames.
        let l12 = layout(12).unwrap();
        assert!(thread_states(&m, &l12, rt).is_err());
        // A code object whose type is not PyCode_Type.
        let mut b = Builder::new(12);
        let (_, tss) = b.runtime(&[&[("f", "a.py")]]);
        let m2 = b.image();
        let h = head(&m2, &b.l, tss[0]).unwrap();
        let types = Types { code: Some(0x4242), ..b.types };
        let s = Walker::new(&m2, b.l, types).stack(h);
        assert!(s.frames.is_empty() && s.note.unwrap().contains("code object"), "a code object of the wrong type");
        // Not initialised.
        let empty = vec![0u8; 4096];
        let m3 = Image { base: BASE, bytes: &empty };
        assert!(thread_states(&m3, &b.l, BASE).unwrap_err().contains("not initialised"));
    }

    #[test]
    fn strings_beyond_ascii_and_cut_stacks() {
        let mut b = Builder::new(12);
        let deep: Vec<(&str, &str)> = (0..MAX_PY_FRAMES + 5).map(|_| ("récursion", "/srv/app/é.py")).collect();
        let (_, tss) = b.runtime(&[&deep]);
        let m = b.image();
        let h = head(&m, &b.l, tss[0]).unwrap();
        let s = Walker::new(&m, b.l, b.types).stack(h);
        assert_eq!(s.frames.len(), MAX_PY_FRAMES);
        assert_eq!(s.frames[0].function, "récursion");
        assert_eq!(s.frames[0].file, "/srv/app/é.py");
        assert!(s.note.unwrap().contains("innermost 128"));
    }

    #[test]
    fn runtime_found_by_its_shape() {
        for minor in [8, 9, 10, 11, 12, 13] {
            let mut b = Builder::new(minor);
            let (rt, _) = b.runtime(&[&[("f", "a.py")], &[("g", "a.py")]]);
            let m = b.image();
            let all = BASE..BASE + b.bytes.len() as u64;
            assert_eq!(find_runtime(&m, &b.l, std::slice::from_ref(&all)), Ok(rt), "3.{minor}");
            let other = Builder::new(minor);
            let m = Image { base: BASE, bytes: &other.bytes };
            let head = BASE..BASE + 64;
            assert!(find_runtime(&m, &other.l, std::slice::from_ref(&head)).is_err());
        }
    }

    #[test]
    fn pthread_tid_offset_is_found() {
        let mut mem = vec![0u8; 3 * PTHREAD_SPAN];
        let tids = [4000u32, 4001, 4002, 17];
        for (i, t) in [4001u32, 4002, 4000].iter().enumerate() {
            let s = i * PTHREAD_SPAN;
            mem[s + GLIBC_TID..s + GLIBC_TID + 4].copy_from_slice(&t.to_le_bytes());
            // A field that holds the same TID in every struct is no help: it
            // is never distinct, so never taken.
            mem[s + 8..s + 12].copy_from_slice(&17u32.to_le_bytes());
        }
        let m = Image { base: BASE, bytes: &mem };
        let p = [BASE, BASE + PTHREAD_SPAN as u64, BASE + 2 * PTHREAD_SPAN as u64];
        assert_eq!(pthread_tids(&m, &p, &tids), Some(vec![Some(4001), Some(4002), Some(4000)]));
        assert_eq!(pthread_tids(&m, &p, &[1, 2]), None);
        assert_eq!(pthread_tids(&m, &[BASE + 4], &tids), None, "unaligned pthread pointer");
        // A thread state not bound to a thread yet (pthread 0): the others still match.
        assert_eq!(pthread_tids(&m, &[0, p[1]], &tids), Some(vec![None, Some(4002)]));
    }
}
