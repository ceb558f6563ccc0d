//! Where CPython keeps what the reader needs, per minor version: the
//! offsets of the fields of `_PyRuntime`, the interpreter and thread
//! states, frames, code objects and strings (x86_64 and aarch64, the
//! default build: no Py_DEBUG, not free-threaded). The table was made by
//! compiling `offsetof` against each version's own internal headers
//! (pyenv's 3.8.18 … 3.13.0 and Debian's 3.11.2 agree with it); the live
//! tests check it against the interpreters installed here. CPython 3.13
//! also publishes most of them in `_PyRuntime.debug_offsets`: used when
//! present, and checked against the table.

/// How the GIL's state is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gil {
    /// 3.8–3.11: `_PyRuntime.ceval.gil`, at these offsets of `_PyRuntime`.
    Runtime { locked: u64, holder: u64 },
    /// 3.12+: each interpreter's `ceval.gil` points at a
    /// `_gil_runtime_state`; `ptr` is that field's offset in the
    /// interpreter state, `locked` and `holder` are offsets in the GIL's.
    Interp { ptr: u64, locked: u64, holder: u64 },
}

/// How a thread state reaches its innermost frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// A field of the thread state points at it (3.8–3.10 `frame`, 3.13 `current_frame`).
    Direct(u64),
    /// 3.11–3.12: `tstate->cframe->current_frame`.
    CFrame { cframe: u64, current: u64 },
}

/// What a frame is and where its fields are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frames {
    /// 3.8–3.10: heap `PyFrameObject`s; `f_lasti` counts bytes (3.8, 3.9)
    /// or code units (3.10).
    Object { back: u64, code: u64, lasti: u64 },
    /// 3.11+: `_PyInterpreterFrame`s on the thread's data stack; `instr`
    /// is `prev_instr` (3.11, 3.12) or `instr_ptr` (3.13).
    Interp { previous: u64, code: u64, instr: u64, owner: u64 },
}

/// How a code object maps instructions to lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// 3.8–3.9 `co_lnotab`.
    Lnotab,
    /// 3.10 `co_linetable` (PEP 626).
    Linetable,
    /// 3.11+ `co_linetable` (PEP 657 location table).
    Locations,
}

/// The offsets of one CPython minor version (bytes, 64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub minor: u32,
    /// `_PyRuntime.interpreters.head`.
    pub interpreters_head: u64,
    pub gil: Gil,
    /// `PyInterpreterState.next` and its first thread state.
    pub interp_next: u64,
    pub interp_threads: u64,
    /// `PyThreadState.next`, `.interp`, `.thread_id` (pthread_self) and,
    /// 3.11+, `.native_thread_id` (the TID).
    pub ts_next: u64,
    pub ts_interp: u64,
    pub ts_thread_id: u64,
    pub ts_native_id: Option<u64>,
    pub head: Head,
    pub frames: Frames,
    /// `PyCodeObject` fields: co_filename, co_name, co_qualname (3.11+),
    /// co_firstlineno (an int), the line table (a bytes object) and, 3.11+,
    /// where the instructions start (co_code_adaptive).
    pub co_filename: u64,
    pub co_name: u64,
    pub co_qualname: Option<u64>,
    pub co_firstlineno: u64,
    pub co_lines: u64,
    pub co_code: Option<u64>,
    pub lines: Lines,
    /// `PyObject.ob_type`, `PyVarObject.ob_size`, `PyBytesObject.ob_sval`.
    pub ob_type: u64,
    pub ob_size: u64,
    pub bytes_data: u64,
    /// `PyASCIIObject.length` and `.state`, the sizes of PyASCIIObject and
    /// PyCompactUnicodeObject (where a compact string's characters start),
    /// and whether `state` has the `ready` bit (3.8–3.11).
    pub str_length: u64,
    pub str_state: u64,
    pub ascii_size: u64,
    pub compact_size: u64,
    pub ready_bit: bool,
}

impl Layout {
    /// Bytes of a frame to read: up to its last field used.
    pub fn frame_span(&self) -> usize {
        match self.frames {
            Frames::Object { back, code, lasti } => back.max(code).max(lasti + 4) as usize + 8,
            Frames::Interp { previous, code, instr, owner } => previous.max(code).max(instr).max(owner) as usize + 8,
        }
    }

    /// Bytes of a thread state to read.
    pub fn ts_span(&self) -> usize {
        let head = match self.head {
            Head::Direct(o) => o,
            Head::CFrame { cframe, .. } => cframe,
        };
        [self.ts_next, self.ts_interp, self.ts_thread_id, self.ts_native_id.unwrap_or(0), head]
            .into_iter()
            .max()
            .unwrap_or(0) as usize
            + 8
    }

    /// Bytes of a code object's header to read.
    pub fn code_span(&self) -> usize {
        [
            self.co_filename,
            self.co_name,
            self.co_qualname.unwrap_or(0),
            self.co_firstlineno,
            self.co_lines,
            self.co_code.unwrap_or(0),
            self.ob_size,
            self.ob_type,
        ]
        .into_iter()
        .max()
        .unwrap_or(0) as usize
            + 8
    }
}

/// The table's layout of CPython 3.`minor`, for the versions checked
/// (3.8 … 3.13); `None` for any other.
pub fn layout(minor: u32) -> Option<Layout> {
    // What every version from 3.8 to 3.13 shares.
    let base = Layout {
        minor,
        interpreters_head: 32,
        gil: Gil::Runtime { locked: 368, holder: 360 },
        interp_next: 0,
        interp_threads: 8,
        ts_next: 8,
        ts_interp: 16,
        ts_thread_id: 176,
        ts_native_id: None,
        head: Head::Direct(24),
        frames: Frames::Object { back: 24, code: 32, lasti: 104 },
        co_filename: 104,
        co_name: 112,
        co_qualname: None,
        co_firstlineno: 40,
        co_lines: 120,
        co_code: None,
        lines: Lines::Lnotab,
        ob_type: 8,
        ob_size: 16,
        bytes_data: 32,
        str_length: 16,
        str_state: 32,
        ascii_size: 48,
        compact_size: 72,
        ready_bit: true,
    };
    let l311 = Layout {
        interpreters_head: 40,
        gil: Gil::Runtime { locked: 376, holder: 368 },
        interp_threads: 16,
        ts_thread_id: 152,
        ts_native_id: Some(160),
        head: Head::CFrame { cframe: 56, current: 8 },
        frames: Frames::Interp { previous: 48, code: 32, instr: 56, owner: 69 },
        co_filename: 112,
        co_name: 120,
        co_qualname: Some(128),
        co_firstlineno: 72,
        co_lines: 136,
        co_code: Some(184),
        lines: Lines::Locations,
        ..base
    };
    Some(match minor {
        8 => Layout { gil: Gil::Runtime { locked: 1168, holder: 1160 }, ..base },
        9 => base,
        10 => Layout { frames: Frames::Object { back: 24, code: 32, lasti: 96 }, lines: Lines::Linetable, ..base },
        11 => l311,
        12 => Layout {
            gil: Gil::Interp { ptr: 384, locked: 16, holder: 8 },
            interp_threads: 72,
            ts_thread_id: 136,
            ts_native_id: Some(144),
            head: Head::CFrame { cframe: 56, current: 0 },
            frames: Frames::Interp { previous: 8, code: 0, instr: 56, owner: 70 },
            co_firstlineno: 68,
            co_code: Some(192),
            ascii_size: 40,
            compact_size: 56,
            ready_bit: false,
            ..l311
        },
        13 => Layout {
            interpreters_head: 632,
            gil: Gil::Interp { ptr: 16, locked: 16, holder: 8 },
            interp_next: 7264,
            interp_threads: 7344,
            head: Head::Direct(72),
            frames: Frames::Interp { previous: 8, code: 0, instr: 56, owner: 70 },
            co_firstlineno: 68,
            co_code: Some(200),
            ascii_size: 40,
            compact_size: 56,
            ready_bit: false,
            ..l311
        },
        _ => return None,
    })
}

/// `_PyRuntime.debug_offsets` of 3.13 (`_Py_DebugOffsets`): its size.
pub const DEBUG_OFFSETS_313: usize = 584;

/// The layout of a 3.13 interpreter from the `_Py_DebugOffsets` at the
/// start of its `_PyRuntime` (`bytes`, at least [`DEBUG_OFFSETS_313`]
/// long): the cookie "xdebugpy", a 3.13 version, the default build (not
/// free-threaded), and offsets that fit the structures they index.
/// What the struct does not carry (the string flags, the compact
/// string's size) comes from the table. Pure: fuzzed.
pub fn from_debug_offsets(bytes: &[u8]) -> Result<Layout, String> {
    let w = |i: usize| -> Option<u64> { Some(u64::from_le_bytes(bytes.get(i * 8..i * 8 + 8)?.try_into().ok()?)) };
    if bytes.get(..8) != Some(b"xdebugpy".as_slice()) {
        return Err("_PyRuntime does not start with the debug offsets' cookie".into());
    }
    let version = w(1).ok_or("the debug offsets are cut short")?;
    if version >> 16 != 0x030d {
        return Err(format!("the debug offsets are of version {:#x}, not 3.13", version));
    }
    if w(2) != Some(0) {
        return Err("a free-threaded build (its objects are laid out differently)".into());
    }
    let words: Vec<u64> =
        (0..DEBUG_OFFSETS_313 / 8).map(w).collect::<Option<_>>().ok_or("the debug offsets are cut short")?;
    let table = layout(13).ok_or("no 3.13 table")?;
    // Each struct's size precedes its offsets: an offset past it is not one.
    let within =
        |size: u64, offs: &[u64]| size > 0 && size < 1 << 20 && offs.iter().all(|&o| o.saturating_add(8) <= size);
    let (rt_size, interp_size, ts_size, frame_size, code_size) = (words[3], words[6], words[19], words[28], words[34]);
    let gil_struct = words[15];
    let l = Layout {
        minor: 13,
        interpreters_head: words[5],
        gil: Gil::Interp {
            ptr: words[14],
            locked: words[17].wrapping_sub(gil_struct),
            holder: words[18].wrapping_sub(gil_struct),
        },
        interp_next: words[8],
        interp_threads: words[9],
        ts_next: words[21],
        ts_interp: words[22],
        ts_thread_id: words[24],
        ts_native_id: Some(words[25]),
        head: Head::Direct(words[23]),
        frames: Frames::Interp { previous: words[29], code: words[30], instr: words[31], owner: words[33] },
        co_filename: words[35],
        co_name: words[36],
        co_qualname: Some(words[37]),
        co_firstlineno: words[39],
        co_lines: words[38],
        co_code: Some(words[43]),
        ob_type: words[45],
        ob_size: words[65],
        bytes_data: words[66],
        str_state: words[68],
        str_length: words[69],
        ascii_size: words[70],
        compact_size: words[70].wrapping_add(table.compact_size - table.ascii_size),
        ..table
    };
    let ok = within(rt_size, &[l.interpreters_head])
        && within(interp_size, &[l.interp_next, l.interp_threads, words[14], words[17], words[18]])
        && words[17] >= gil_struct
        && words[18] >= gil_struct
        && within(ts_size, &[l.ts_next, l.ts_interp, l.ts_thread_id, words[25], words[23]])
        && within(frame_size.saturating_add(8), &[words[29], words[30], words[31], words[33]])
        && within(
            code_size.saturating_add(8),
            &[l.co_filename, l.co_name, words[37], l.co_firstlineno, l.co_lines, words[43]],
        )
        && l.ob_type < 64
        && l.ob_size < 64
        && l.bytes_data < 128
        && l.str_state < 128
        && l.str_length < 128
        && (16..256).contains(&l.ascii_size);
    if !ok {
        return Err("the debug offsets do not fit the structures they describe".into());
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of 3.13.0's `_Py_DebugOffsets` for the default build, as
    /// its `_PyRuntime` starts (offsetof against its headers; sizes too).
    pub(crate) fn debug_offsets_313() -> Vec<u8> {
        let mut words = [0u64; DEBUG_OFFSETS_313 / 8];
        let set = [
            (1, 0x030d00f0),
            (3, 0x45000),
            (5, 632),
            (6, 0x3000),
            (8, 7264),
            (9, 7344),
            (14, 16),
            (15, 9000),
            (17, 9016),
            (18, 9008),
            (19, 0x200),
            (21, 8),
            (22, 16),
            (23, 72),
            (24, 152),
            (25, 160),
            (28, 80),
            (29, 8),
            (30, 0),
            (31, 56),
            (33, 70),
            (34, 208),
            (35, 112),
            (36, 120),
            (37, 128),
            (38, 136),
            (39, 68),
            (43, 200),
            (45, 8),
            (65, 16),
            (66, 32),
            (68, 32),
            (69, 16),
            (70, 40),
        ];
        for (i, v) in set {
            words[i] = v;
        }
        let mut b: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        b[..8].copy_from_slice(b"xdebugpy");
        b
    }

    #[test]
    fn debug_offsets_agree_with_the_table() {
        let b = debug_offsets_313();
        assert_eq!(from_debug_offsets(&b), Ok(layout(13).unwrap()));
        let mut other = b.clone();
        other[8..16].copy_from_slice(&0x030e00f0u64.to_le_bytes());
        assert!(from_debug_offsets(&other).unwrap_err().contains("not 3.13"));
        let mut ft = b.clone();
        ft[16] = 1;
        assert!(from_debug_offsets(&ft).unwrap_err().contains("free-threaded"));
        let mut wild = b.clone();
        wild[5 * 8..6 * 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(from_debug_offsets(&wild).is_err());
        assert!(from_debug_offsets(&b[..100]).is_err());
        assert!(from_debug_offsets(b"").is_err());
    }

    #[test]
    fn table_covers_3_8_to_3_13_only() {
        for minor in 8..=13 {
            let l = layout(minor).unwrap();
            assert_eq!(l.minor, minor);
            assert!(l.frame_span() <= 128 && l.ts_span() <= 256 && l.code_span() <= 256, "{l:?}");
            assert_eq!(l.ts_native_id.is_some(), minor >= 11);
        }
        assert!(layout(7).is_none() && layout(14).is_none());
        assert_eq!(layout(10).unwrap().lines, Lines::Linetable);
        assert_eq!(layout(9).unwrap().lines, Lines::Lnotab);
    }
}
