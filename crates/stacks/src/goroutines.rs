//! A Go process's goroutines, read without stopping it. Its OS threads all
//! park in the scheduler (futex / epoll_wait under runtime.findRunnable), so
//! their stacks name only the runtime; the goroutines are what waits on a
//! mutex, a channel or a socket. The runtime keeps every goroutine in
//! `runtime.allgs` (a `[]*g`); a parked g saves its pc, sp and bp in
//! `g.sched`, and its stack lies in `[g.stack.lo, g.stack.hi)`. Those are
//! copied with process_vm_readv, and each g is read again after its stack:
//! one that ran (or whose stack the GC moved) meanwhile is dropped.
//!
//! What this needs, and refuses to guess without: the address of
//! `runtime.allgs` (from .symtab; in a stripped binary, the one slice
//! header in .bss that passes [`find_allgs`]'s checks, else none), and the
//! g struct's layout (from DWARF, or for a binary without it, the table of
//! versions whose runtime source was checked, keyed by .go.buildinfo).

use crate::mem;
use std::time::{Duration, Instant};

/// Goroutines read per process at most.
pub const MAX_GOROUTINES: usize = 10_000;
/// Stack bytes copied per goroutine at most (the frames that matter sit
/// near sched.sp; a deeper stack's outer frames are cut).
pub const MAX_G_STACK: usize = 64 << 10;
/// Stack bytes copied per process at most.
pub const MAX_G_BYTES: usize = 32 << 20;
/// How long one process's goroutines may take to copy.
pub const G_BUDGET: Duration = Duration::from_millis(800);

/// _Grunnable, _Gsyscall and _Gwaiting: their registers are saved in
/// g.sched (by gopark / reentersyscall / gopreempt); a _Grunning g's are
/// in a CPU, so it is not read.
const READABLE: [u32; 3] = [1, 3, 4];
/// _Gscan: the GC is scanning the g's stack; the bit is ored into the status.
const GSCAN: u32 = 0x1000;

/// Where the fields of `runtime.g` are, for one Go version (64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub stack_lo: usize,
    pub stack_hi: usize,
    pub sched_sp: usize,
    pub sched_pc: usize,
    pub sched_bp: usize,
    pub status: usize,
    pub goid: usize,
    pub waitreason: usize,
    /// The Go minor version (19 for go1.19.8), for the wait reason names.
    pub minor: u32,
}

impl Layout {
    /// Bytes of a g to read: up to the last field used.
    pub fn span(&self) -> usize {
        [self.stack_hi, self.sched_sp, self.sched_pc, self.sched_bp, self.goid]
            .into_iter()
            .max()
            .unwrap_or(0)
            .max(self.status.max(self.waitreason))
            + 8
    }
}

/// The Go version ("go1.19.8") from the bytes of the `.go.buildinfo`
/// section, in the Go 1.18+ form (flag bit 2: the version string follows
/// the 32-byte header, length-prefixed). Older binaries point at the string
/// from the header instead: `None` (their layout is not in the table anyway).
pub fn buildinfo_version(data: &[u8]) -> Option<String> {
    let header = data.get(..32)?;
    if !header.starts_with(b"\xff Go buildinf:") || header[15] & 2 == 0 {
        return None;
    }
    let (len, n) = uvarint(data, 32)?;
    let start = 32usize.checked_add(n)?;
    let s = data.get(start..start.checked_add(usize::try_from(len).ok()?)?)?;
    let v = std::str::from_utf8(s).ok()?;
    (v.starts_with("go") && v.len() < 64).then(|| v.to_string())
}

/// Go's encoding/binary.Uvarint, at most 10 bytes.
fn uvarint(d: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *d.get(at.checked_add(i)?)?;
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// "go1.19.8" (or "go1.19.8 X:boringcrypto", "go1.19") → 19.
pub fn minor(version: &str) -> Option<u32> {
    let rest = version.strip_prefix("go1.")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The g layout of a 64-bit Go binary of `version`, for the versions
/// checked against the runtime's source (runtime/runtime2.go): go1.19
/// (the toolchain installed here). stack{lo,hi} at 0, sched (a gobuf: sp,
/// pc, g, ctxt, ret, lr, bp) at 0x38 after stackguard0/1, _panic, _defer
/// and m; then syscallsp, syscallpc, stktopsp, param, atomicstatus (u32),
/// stackLock, goid, schedlink, waitsince, waitreason (u8). Later versions
/// moved fields (1.23 added syscallbp): not guessed.
pub fn layout(version: &str) -> Option<Layout> {
    match minor(version)? {
        19 => Some(Layout {
            stack_lo: 0,
            stack_hi: 8,
            sched_sp: 0x38,
            sched_pc: 0x40,
            sched_bp: 0x68,
            status: 0x90,
            goid: 0x98,
            waitreason: 0xb0,
            minor: 19,
        }),
        _ => None,
    }
}

/// The runtime's name for a wait reason (runtime.waitReasonStrings of the
/// version), `None` when the version's table is not known.
pub fn wait_reason(minor: u32, reason: u8) -> Option<&'static str> {
    const GO119: [&str; 27] = [
        "",
        "GC assist marking",
        "IO wait",
        "chan receive (nil chan)",
        "chan send (nil chan)",
        "dumping heap",
        "garbage collection",
        "garbage collection scan",
        "panicwait",
        "select",
        "select (no cases)",
        "GC assist wait",
        "GC sweep wait",
        "GC scavenge wait",
        "chan receive",
        "chan send",
        "finalizer wait",
        "force gc (idle)",
        "semacquire",
        "sleep",
        "sync.Cond.Wait",
        "timer goroutine (idle)",
        "trace reader (blocked)",
        "wait for GC cycle",
        "GC worker (idle)",
        "preempted",
        "debug call",
    ];
    match minor {
        19 => GO119.get(reason as usize).copied().filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// One goroutine as copied from the target.
#[derive(Debug, Clone)]
pub struct RawG {
    pub goid: u64,
    pub status: u32,
    pub waitreason: u8,
    pub pc: u64,
    pub sp: u64,
    pub bp: u64,
    /// The stack from sp up (at most [`MAX_G_STACK`] bytes).
    pub stack: Vec<u8>,
}

/// What a copy yields: the goroutines read, and why some were not.
#[derive(Debug, Default)]
pub struct Copied {
    pub gs: Vec<RawG>,
    /// Goroutines in allgs.
    pub total: usize,
    pub notes: Vec<String>,
    /// The wait reasons' names read from the binary's own
    /// `runtime.waitReasonStrings`, when its symbol is known.
    pub reasons: Option<Vec<String>>,
}

/// Wait reasons read at most (go1.19 has 27; later versions a few more).
const MAX_REASONS: u64 = 128;

/// Reads `runtime.waitReasonStrings` (a `[N]string`: pointer and length
/// pairs) of `pid` at `addr`, `size` bytes: the names whatever the Go
/// version. Any entry that does not read as short text spoils the lot.
pub fn read_reasons(pid: u32, addr: u64, size: u64) -> Option<Vec<String>> {
    let n = size / 16;
    if n == 0 || n > MAX_REASONS || !size.is_multiple_of(16) {
        return None;
    }
    let arr = mem::read(pid, addr, size as usize).ok()?;
    let mut out = Vec::with_capacity(n as usize);
    for e in arr.chunks_exact(16) {
        let (ptr, len) = (word(e, 0)?, word(e, 8)?);
        if len == 0 {
            out.push(String::new());
            continue;
        }
        if len > 64 {
            return None;
        }
        let b = mem::read(pid, ptr, len as usize).ok()?;
        let t = std::str::from_utf8(&b)
            .ok()
            .filter(|t| t.len() == len as usize && t.chars().all(|c| c == ' ' || c.is_ascii_graphic()))?;
        out.push(t.to_string());
    }
    Some(out)
}

fn word(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// The fields of one g read from its bytes.
fn decode(b: &[u8], l: &Layout) -> Option<RawG> {
    Some(RawG {
        goid: word(b, l.goid)?,
        status: u32::from_le_bytes(b.get(l.status..l.status + 4)?.try_into().ok()?),
        waitreason: *b.get(l.waitreason)?,
        pc: word(b, l.sched_pc)?,
        sp: word(b, l.sched_sp)?,
        bp: word(b, l.sched_bp)?,
        stack: Vec::new(),
    })
}

/// Copies the goroutines of `pid` whose `allgs` slice header is at `allgs`
/// (a run-time address). Never stops the target: process_vm_readv only.
pub fn copy(pid: u32, allgs: u64, l: &Layout) -> Result<Copied, String> {
    let started = Instant::now();
    let header = mem::read(pid, allgs, 24).map_err(|e| format!("runtime.allgs not read: {e}"))?;
    let (ptr, len) = (word(&header, 0).unwrap_or(0), word(&header, 8).unwrap_or(0));
    let cap = word(&header, 16).unwrap_or(0);
    if ptr == 0 || len > cap || len > 100_000_000 {
        return Err(format!("runtime.allgs does not look like a slice (ptr {ptr:#x}, len {len}, cap {cap})"));
    }
    let mut out = Copied { total: len as usize, ..Default::default() };
    let n = out.total.min(MAX_GOROUTINES);
    if n < out.total {
        out.notes.push(format!("the first {n} of {} goroutines were read", out.total));
    }
    let ptrs = mem::read(pid, ptr, n * 8).map_err(|e| format!("runtime.allgs not read: {e}"))?;
    let span = l.span();
    let (mut bytes, mut moved) = (0usize, 0usize);
    for gp in ptrs.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())) {
        if started.elapsed() > G_BUDGET {
            out.notes.push(format!("goroutines read for {} ms, then stopped", G_BUDGET.as_millis()));
            break;
        }
        if bytes >= MAX_G_BYTES {
            out.notes.push(format!("{} MiB of goroutine stacks copied, then stopped", MAX_G_BYTES >> 20));
            break;
        }
        let Ok(before) = mem::read(pid, gp, span) else { continue };
        let Some(mut g) = decode(&before, l) else { continue };
        let status = g.status & !GSCAN;
        if !READABLE.contains(&status) {
            continue;
        }
        let (lo, hi) = (word(&before, l.stack_lo).unwrap_or(0), word(&before, l.stack_hi).unwrap_or(0));
        if !(lo <= g.sp && g.sp < hi) {
            continue;
        }
        let len = ((hi - g.sp) as usize).min(MAX_G_STACK);
        let Ok(stack) = mem::read(pid, g.sp, len) else { continue };
        // The copy is the goroutine's stack only if it stayed parked where
        // it was (a goroutine that ran, or a stack the GC shrank, differs).
        if mem::read(pid, gp, span).ok().as_deref() != Some(&before[..]) {
            moved += 1;
            continue;
        }
        bytes += stack.len();
        g.stack = stack;
        out.gs.push(g);
    }
    if moved > 0 {
        out.notes.push(format!("{moved} goroutines ran while they were read and are not shown"));
    }
    Ok(out)
}

/// .bss bytes scanned for `runtime.allgs` at most.
const MAX_BSS: usize = 4 << 20;
/// Candidate slice headers checked at most.
const MAX_CANDIDATES: usize = 4096;
/// Goroutines of a candidate checked.
const CHECK_GS: usize = 16;

/// Finds `runtime.allgs` in a stripped binary: the one slice header in
/// `.bss` (`bss`, run-time addresses) whose entries are g structs — the
/// first is goroutine 1 (runtime.main's, the first g ever added), goids
/// are distinct, each stack is a power-of-two span with its saved sp
/// inside, and the saved pc of every parked g is code that `is_code`
/// (.gopclntab) names. Exactly one candidate must pass: two, and none is
/// taken.
pub fn find_allgs(
    pid: u32,
    bss: std::ops::Range<u64>,
    l: &Layout,
    is_code: &dyn Fn(u64) -> bool,
) -> Result<u64, String> {
    let len = usize::try_from(bss.end.saturating_sub(bss.start)).unwrap_or(usize::MAX).min(MAX_BSS);
    let bytes = mem::read(pid, bss.start, len).map_err(|e| format!(".bss not read: {e}"))?;
    let mut found = Vec::new();
    let mut checked = 0;
    for off in (0..bytes.len().saturating_sub(23)).step_by(8) {
        let (Some(ptr), Some(n), Some(cap)) = (word(&bytes, off), word(&bytes, off + 8), word(&bytes, off + 16)) else {
            continue;
        };
        if ptr == 0 || ptr % 8 != 0 || n == 0 || n > cap || cap > 1 << 24 {
            continue;
        }
        checked += 1;
        if checked > MAX_CANDIDATES {
            break;
        }
        if is_allgs(pid, ptr, n as usize, l, is_code) {
            found.push(bss.start + off as u64);
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err("runtime.allgs not found in .bss (the binary is stripped)".into()),
        _ => Err(format!(
            "{} slices in .bss look like runtime.allgs (the binary is stripped): none is taken",
            found.len()
        )),
    }
}

fn is_allgs(pid: u32, ptr: u64, n: usize, l: &Layout, is_code: &dyn Fn(u64) -> bool) -> bool {
    let n = n.min(CHECK_GS);
    let Ok(ptrs) = mem::read(pid, ptr, n * 8) else { return false };
    if ptrs.len() != n * 8 {
        return false;
    }
    let mut goids = Vec::with_capacity(n);
    for (i, gp) in ptrs.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).enumerate() {
        if gp == 0 || gp % 8 != 0 {
            return false;
        }
        let Ok(b) = mem::read(pid, gp, l.span()) else { return false };
        let Some(g) = decode(&b, l) else { return false };
        let (lo, hi) = (word(&b, l.stack_lo).unwrap_or(0), word(&b, l.stack_hi).unwrap_or(0));
        let status = g.status & !GSCAN;
        if status > 9 || (i == 0 && g.goid != 1) || goids.contains(&g.goid) {
            return false;
        }
        goids.push(g.goid);
        // A dead g may have no stack; a live one has a power-of-two span.
        if status == 6 && lo == 0 && hi == 0 {
            continue;
        }
        let span = hi.wrapping_sub(lo);
        if lo == 0 || lo >= hi || !span.is_power_of_two() || !(2048..=1 << 30).contains(&span) {
            return false;
        }
        if READABLE.contains(&status) && !(lo <= g.sp && g.sp < hi && is_code(g.pc)) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildinfo_of_go_1_18_and_later() {
        let mut d = b"\xff Go buildinf:\x08\x02".to_vec();
        d.resize(32, 0);
        d.push(8);
        d.extend_from_slice(b"go1.19.8");
        d.push(0x40);
        assert_eq!(buildinfo_version(&d).as_deref(), Some("go1.19.8"));
        assert_eq!(minor("go1.19.8"), Some(19));
        assert_eq!(minor("go1.21rc2"), Some(21));
        assert_eq!(minor("devel +abc"), None);
        // Pre-1.18 (pointers, flag bit clear), truncated, not a header.
        d[15] = 0;
        assert_eq!(buildinfo_version(&d), None);
        assert_eq!(buildinfo_version(b"\xff Go buildinf:\x08\x02"), None);
        assert_eq!(buildinfo_version(b""), None);
    }

    #[test]
    fn layouts_only_for_checked_versions() {
        let l = layout("go1.19.8").unwrap();
        assert_eq!((l.sched_sp, l.sched_pc, l.status, l.waitreason), (0x38, 0x40, 0x90, 0xb0));
        assert_eq!(l.span(), 0xb8);
        assert!(layout("go1.23.1").is_none() && layout("go1.17").is_none());
        assert_eq!(wait_reason(19, 18), Some("semacquire"));
        assert_eq!(wait_reason(19, 14), Some("chan receive"));
        assert_eq!(wait_reason(19, 0), None);
        assert_eq!(wait_reason(19, 200), None);
        assert_eq!(wait_reason(23, 14), None);
    }
}
