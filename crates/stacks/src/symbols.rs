//! Addresses to names: blazesym for ELF files (.symtab/.dynsym, DWARF with
//! inlined functions and file:line, .gnu_debuglink and the build-id tree
//! under the debug directories, C++ and Rust demangling; no network, no
//! debuginfod), .gopclntab for Go code.

use crate::maps::Mapping;
use crate::unwind::ProcUnwinder;
use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use std::path::{Path, PathBuf};
use unwedge_model::Frame;

pub struct Symbols {
    sym: Symbolizer,
}

impl Symbols {
    pub fn new(debug_dirs: Vec<PathBuf>) -> Symbols {
        let sym = Symbolizer::builder()
            // The cache is keyed by build-id upstream; a file is not re-checked on each lookup.
            .enable_auto_reload(false)
            .enable_code_info(true)
            .enable_inlined_fns(true)
            .enable_demangling(true)
            .set_debug_dirs(Some(debug_dirs))
            .build();
        Symbols { sym }
    }

    /// Forgets what was cached for a file the module cache dropped.
    pub fn evict(&mut self, path: &Path) {
        let _ = self.sym.evict(&blazesym::symbolize::evict::Evict::Elf(blazesym::symbolize::evict::Elf::new(path)));
    }

    /// The frames of a walk, innermost first; an inlined call adds a frame
    /// before the function it was inlined into.
    pub fn frames(&self, addrs: &[u64], u: &ProcUnwinder, maps: &[Mapping]) -> Vec<Frame> {
        let mut out = Vec::with_capacity(addrs.len());
        for (i, &addr) in addrs.iter().enumerate() {
            out.extend(self.frame(addr, i > 0, u, maps));
        }
        out
    }

    /// The frames of one address (more than one where calls were inlined
    /// there); `is_return` for a return address, which points after its call.
    pub fn frame(&self, addr: u64, is_return: bool, u: &ProcUnwinder, maps: &[Mapping]) -> Vec<Frame> {
        // A return address points after the call: look up the call itself.
        let lookup = if is_return { addr.saturating_sub(1) } else { addr };
        let module = maps.iter().find(|m| m.contains(lookup)).and_then(|m| m.path.clone());
        let base = Frame { addr: format!("{addr:#x}"), module, ..Default::default() };
        let Some(m) = u.module_at(lookup) else {
            return vec![base];
        };
        let svma = lookup.wrapping_sub(m.bias);
        if let Some(go) = &m.data.go {
            let frames = go.frames(svma);
            if frames.is_empty() {
                return vec![base];
            }
            return frames
                .into_iter()
                .map(|(f, inlined)| Frame {
                    function: Some(f.name),
                    file: f.file,
                    line: f.line,
                    inlined,
                    ..base.clone()
                })
                .collect();
        }
        let src = Source::Elf(Elf::new(&m.path));
        let mut out = Vec::new();
        match self.sym.symbolize_single(&src, Input::VirtOffset(svma)) {
            Ok(Symbolized::Sym(s)) => {
                for inl in s.inlined.iter().rev() {
                    let (file, line) = code(inl.code_info.as_ref());
                    out.push(Frame { function: Some(inl.name.to_string()), file, line, inlined: true, ..base.clone() });
                }
                let (file, line) = code(s.code_info.as_deref());
                out.push(Frame { function: Some(s.name.to_string()), file, line, ..base });
            }
            _ => out.push(base),
        }
        out
    }
}

fn code(c: Option<&blazesym::symbolize::CodeInfo>) -> (Option<String>, Option<u32>) {
    match c {
        Some(c) => (Some(c.to_path().display().to_string()), c.line),
        None => (None, None),
    }
}
