//! One thread's stack, unwound: framehop (DWARF CFI from .eh_frame or
//! .debug_frame, frame pointers where there is none) for C, C++ and Rust
//! code, and the pcsp table of .gopclntab for Go code (Go's own unwinder:
//! a Go frame's size is in the table, not in CFI). Modules are added as the
//! walk reaches them, so only the few a stack touches are loaded.

use crate::elf::ModuleData;
use framehop::{FrameAddress, Unwinder};
use std::sync::Arc;

/// The stack bytes copied from the target, starting at address `base`.
pub struct StackCopy<'a> {
    pub base: u64,
    pub bytes: &'a [u8],
}

impl StackCopy<'_> {
    pub fn word(&self, addr: u64) -> Option<u64> {
        let off = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        Some(u64::from_le_bytes(self.bytes.get(off..off.checked_add(8)?)?.try_into().ok()?))
    }
}

/// Registers to start from: sp and pc always; the frame pointer and link
/// register only when ptrace read them (a blocked thread's syscall record
/// has sp and pc alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct Start {
    pub pc: u64,
    pub sp: u64,
    pub fp: Option<u64>,
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub lr: Option<u64>,
}

/// A module mapped in the target, for the walk.
#[derive(Clone)]
pub struct Placed {
    pub start: u64,
    pub end: u64,
    pub bias: u64,
    pub data: Arc<ModuleData>,
    /// The file the symbolizer reads it from.
    pub path: std::path::PathBuf,
}

#[cfg(target_arch = "x86_64")]
type Native = framehop::x86_64::UnwinderX86_64<Arc<[u8]>>;
#[cfg(target_arch = "x86_64")]
type NativeCache = framehop::x86_64::CacheX86_64;
#[cfg(target_arch = "x86_64")]
type NativeRegs = framehop::x86_64::UnwindRegsX86_64;
#[cfg(target_arch = "aarch64")]
type Native = framehop::aarch64::UnwinderAarch64<Arc<[u8]>>;
#[cfg(target_arch = "aarch64")]
type NativeCache = framehop::aarch64::CacheAarch64;
#[cfg(target_arch = "aarch64")]
type NativeRegs = framehop::aarch64::UnwindRegsAarch64;

/// The per-process unwinder: framehop's, plus the modules it knows.
pub struct ProcUnwinder {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    native: Native,
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    cache: NativeCache,
    pub modules: Vec<Placed>,
    /// Anonymous executable memory (JIT code: V8, a JVM) that the walk
    /// crosses with frame pointers, as those JITs keep them. Empty (the
    /// walk stops there) unless the caller sets it: the CPU sampler does.
    pub jit: Vec<std::ops::Range<u64>>,
}

/// A walk's result: addresses innermost first (the first is the pc, the
/// rest return addresses), and why it stopped early, if it did.
pub struct Walk {
    pub addrs: Vec<u64>,
    pub note: Option<String>,
}

impl Default for ProcUnwinder {
    fn default() -> Self {
        ProcUnwinder {
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            native: Native::new(),
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            cache: NativeCache::new(),
            modules: Vec::new(),
            jit: Vec::new(),
        }
    }
}

impl ProcUnwinder {
    pub fn module_at(&self, addr: u64) -> Option<&Placed> {
        self.modules.iter().find(|m| m.start <= addr && addr < m.end)
    }

    pub fn add(&mut self, m: Placed) {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        {
            let d = &m.data;
            let info = framehop::ExplicitModuleSectionInfo {
                base_svma: 0,
                text_svma: d.text.clone(),
                got_svma: d.got.clone(),
                eh_frame_svma: d.eh_frame.as_ref().map(|(r, _)| r.clone()),
                eh_frame: d.eh_frame.as_ref().map(|(_, b)| b.clone()),
                eh_frame_hdr_svma: d.eh_frame_hdr.as_ref().map(|(r, _)| r.clone()),
                eh_frame_hdr: d.eh_frame_hdr.as_ref().map(|(_, b)| b.clone()),
                debug_frame: d.debug_frame.clone(),
                ..Default::default()
            };
            self.native.add_module(framehop::Module::new(String::new(), m.start..m.end, m.bias, info));
        }
        self.modules.push(m);
    }

    /// Walks the stack. `ensure(addr, self)` adds the module mapped at
    /// `addr` if there is one and it is not there yet.
    pub fn walk(
        &mut self,
        start: Start,
        stack: &StackCopy,
        max_frames: usize,
        mut ensure: impl FnMut(u64, &mut ProcUnwinder),
    ) -> Walk {
        let mut addrs = vec![start.pc];
        let mut addr = FrameAddress::InstructionPointer(start.pc);
        #[cfg(target_arch = "x86_64")]
        let mut regs = NativeRegs::new(start.pc, start.sp, start.fp.unwrap_or(0));
        #[cfg(target_arch = "aarch64")]
        let mut regs = NativeRegs::new(start.lr.unwrap_or(0), start.sp, start.fp.unwrap_or(0));
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        return Walk { addrs, note: Some("unwinding is not supported on this architecture".into()) };
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        loop {
            if addrs.len() >= max_frames {
                return Walk { addrs, note: Some(format!("cut at {max_frames} frames")) };
            }
            let lookup = addr.address_for_lookup();
            ensure(lookup, self);
            let m = self.module_at(lookup).cloned();
            if m.is_none() && !self.jit.iter().any(|r| r.contains(&lookup)) {
                return Walk {
                    addrs,
                    note: Some(format!("stopped at {lookup:#x}: no file is mapped there (JIT code?)")),
                };
            }
            let go = m.as_ref().and_then(|m| Some((m.data.go.as_ref()?, m)));
            // JIT code has no module: framehop falls back to the frame pointer.
            let step = if let Some((go, m)) = go {
                go_step(go, m, addr, &mut regs, stack)
            } else {
                let mut read = |a: u64| stack.word(a).ok_or(());
                self.native.unwind_frame(addr, &mut regs, &mut self.cache, &mut read).map_err(|e| e.to_string())
            };
            match step {
                Ok(Some(ra)) => match FrameAddress::from_return_address(ra) {
                    Some(next) => {
                        addrs.push(ra);
                        addr = next;
                    }
                    None => return Walk { addrs, note: None },
                },
                Ok(None) => return Walk { addrs, note: None },
                Err(e) => {
                    return Walk {
                        addrs,
                        note: Some(format!("unwinding stopped at {lookup:#x} ({e}): outer frames are not shown")),
                    }
                }
            }
        }
    }
}

/// One frame of Go code: the frame size is the pcsp value at the pc; the
/// return address sits just above the frame (amd64), or at the frame's
/// bottom once the prologue saved the link register (arm64).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn go_step(
    go: &crate::gopclntab::GoTable,
    m: &Placed,
    addr: FrameAddress,
    regs: &mut NativeRegs,
    stack: &StackCopy,
) -> Result<Option<u64>, String> {
    let lookup = addr.address_for_lookup();
    let f = go.lookup(lookup.wrapping_sub(m.bias)).ok_or("no Go function covers the address")?;
    if f.last {
        return Ok(None);
    }
    let delta = f.sp_delta.ok_or("no frame size in .gopclntab")?;
    let sp = regs.sp();
    #[cfg(target_arch = "x86_64")]
    {
        let ra = stack.word(sp + delta).ok_or("return address outside the copied stack")?;
        regs.set_sp(sp + delta + 8);
        Ok(Some(ra))
    }
    #[cfg(target_arch = "aarch64")]
    {
        if delta == 0 {
            return Err("a leaf frame keeps its return address in a register".into());
        }
        let ra = stack.word(sp).ok_or("return address outside the copied stack")?;
        regs.set_sp(sp + delta);
        Ok(Some(ra))
    }
}
