//! Hand-made memory images of a CPython runtime (interpreter, thread
//! states, frames, code objects, strings, bytes) laid out as the table
//! says each version lays them out: what the unit tests walk, and what the
//! fuzz target starts from before it overwrites bytes. Not used by the
//! reader itself.

use super::layout::{layout, Frames, Gil, Head, Layout, Lines};
use super::walk::{word, Image, Types};

/// A hand-made memory image of a CPython runtime: objects placed at
/// addresses from `BASE` on.
pub struct Builder {
    pub bytes: Vec<u8>,
    pub l: Layout,
    pub types: Types,
}

pub const BASE: u64 = 0x10_0000;

impl Builder {
    pub fn new(minor: u32) -> Builder {
        let mut b = Builder { bytes: vec![0; 0x100], l: layout(minor).unwrap(), types: Types::default() };
        b.types = Types {
            code: Some(b.alloc(16)),
            unicode: Some(b.alloc(16)),
            bytes: Some(b.alloc(16)),
            frame: Some(b.alloc(16)),
        };
        b
    }

    pub fn alloc(&mut self, n: usize) -> u64 {
        let at = self.bytes.len();
        self.bytes.resize(at + n.next_multiple_of(16) + 16, 0);
        BASE + at as u64
    }

    pub fn put(&mut self, at: u64, off: u64, v: &[u8]) {
        let i = (at - BASE + off) as usize;
        self.bytes[i..i + v.len()].copy_from_slice(v);
    }

    pub fn word(&mut self, at: u64, off: u64, v: u64) {
        self.put(at, off, &v.to_le_bytes());
    }

    pub fn object(&mut self, n: usize, ty: Option<u64>) -> u64 {
        let at = self.alloc(n);
        let off = self.l.ob_type;
        self.word(at, off, ty.unwrap());
        at
    }

    pub fn str(&mut self, s: &str) -> u64 {
        let ascii = s.is_ascii();
        let (kind, data): (u32, Vec<u8>) = if ascii {
            (1, s.as_bytes().to_vec())
        } else {
            (4, s.chars().flat_map(|c| (c as u32).to_le_bytes()).collect())
        };
        let start = if ascii { self.l.ascii_size } else { self.l.compact_size };
        let at = self.object(start as usize + data.len() + 4, self.types.unicode);
        let (len, state) = (self.l.str_length, self.l.str_state);
        self.word(at, len, s.chars().count() as u64);
        let st = (kind << 2) | 32 | if ascii { 64 } else { 0 } | 128;
        self.put(at, state, &st.to_le_bytes());
        self.put(at, start, &data);
        at
    }

    pub fn bytes_obj(&mut self, v: &[u8]) -> u64 {
        let at = self.object(self.l.bytes_data as usize + v.len() + 1, self.types.bytes);
        let (size, data) = (self.l.ob_size, self.l.bytes_data);
        self.word(at, size, v.len() as u64);
        self.put(at, data, v);
        at
    }

    /// A code object named `name` in `file`, first line `first`,
    /// whose table puts every instruction on `first + 1`.
    pub fn code(&mut self, name: &str, file: &str, first: i32) -> u64 {
        let table: Vec<u8> = match self.l.lines {
            Lines::Lnotab => vec![0, 1],
            Lines::Linetable => vec![200, 1],
            Lines::Locations => vec![0x80 | (11 << 3) | 7, 0, 0, 0x80 | (13 << 3) | 7, 2],
        };
        let (n, f, t) = (self.str(name), self.str(file), self.bytes_obj(&table));
        let span = self.l.code_span() + 64;
        let at = self.object(span, self.types.code);
        let l = self.l;
        self.word(at, l.co_name, n);
        if let Some(q) = l.co_qualname {
            self.word(at, q, n);
        }
        self.word(at, l.co_filename, f);
        self.word(at, l.co_lines, t);
        self.put(at, l.co_firstlineno, &first.to_le_bytes());
        self.word(at, l.ob_size, 16);
        at
    }

    /// A frame running `code` at its 3rd instruction, called from `back`.
    pub fn frame(&mut self, code: u64, back: u64) -> u64 {
        let l = self.l;
        let at = self.alloc(l.frame_span());
        match l.frames {
            Frames::Object { back: b, code: c, lasti } => {
                self.word(at, l.ob_type, self.types.frame.unwrap());
                self.word(at, b, back);
                self.word(at, c, code);
                let v = if l.lines == Lines::Linetable { 2i32 } else { 4 };
                self.put(at, lasti, &v.to_le_bytes());
            }
            Frames::Interp { previous, code: c, instr, .. } => {
                self.word(at, previous, back);
                self.word(at, c, code);
                self.word(at, instr, code + l.co_code.unwrap() + 4);
            }
        }
        at
    }

    /// A runtime with one interpreter whose threads run `stacks`
    /// (each a list of (name, file) outermost first); returns the
    /// runtime's address and the thread states'.
    pub fn runtime(&mut self, stacks: &[&[(&str, &str)]]) -> (u64, Vec<u64>) {
        let l = self.l;
        let interp_size = (l.interp_next.max(l.interp_threads) + 64) as usize;
        let rt = self.alloc(l.interpreters_head as usize + 2048);
        let interp = self.alloc(interp_size + 512);
        self.word(rt, l.interpreters_head, interp);
        self.word(rt, l.interpreters_head + 8, interp);
        self.word(rt, l.interpreters_head + 16, 1);
        if l.minor >= 13 {
            self.put(rt, 0, b"xdebugpy");
        } else {
            // As CPython leaves them once running (3.11+: _initialized
            // first; padding after them).
            let set: &[u64] = if l.minor >= 11 { &[0, 8, 12, 16] } else { &[4, 8, 12] };
            for &o in set {
                self.put(rt, o, &1i32.to_le_bytes());
            }
        }
        let gil = self.alloc(64);
        if let Gil::Interp { ptr, .. } = l.gil {
            self.word(interp, ptr, gil);
        }
        let mut tss = Vec::new();
        let mut prev = 0;
        for (i, s) in stacks.iter().enumerate() {
            let mut back = 0;
            for (name, file) in s.iter() {
                let c = self.code(name, file, 10);
                back = self.frame(c, back);
            }
            let ts = self.alloc(l.ts_span() + 64);
            self.word(ts, l.ts_interp, interp);
            self.word(ts, l.ts_thread_id, 0x7000_0000 + i as u64 * 0x1000);
            if let Some(o) = l.ts_native_id {
                self.word(ts, o, 1000 + i as u64);
            }
            match l.head {
                Head::Direct(o) => self.word(ts, o, back),
                Head::CFrame { cframe, current } => {
                    let cf = self.alloc(32);
                    self.word(ts, cframe, cf);
                    self.word(cf, current, back);
                }
            }
            if prev != 0 {
                self.word(ts, l.ts_next, prev);
            }
            prev = ts;
            tss.push(ts);
        }
        self.word(interp, l.interp_threads, prev);
        (rt, tss)
    }

    pub fn hold_gil(&mut self, rt: u64, ts: u64) {
        match self.l.gil {
            Gil::Runtime { locked, holder } => {
                self.put(rt, locked, &1i32.to_le_bytes());
                self.word(rt, holder, ts);
            }
            Gil::Interp { ptr, locked, holder } => {
                let interp = word(&self.bytes, rt - BASE + self.l.interpreters_head).unwrap();
                let g = word(&self.bytes, interp - BASE + ptr).unwrap();
                self.put(g, locked, &1i32.to_le_bytes());
                self.word(g, holder, ts);
            }
        }
    }

    pub fn image(&self) -> Image<'_> {
        Image { base: BASE, bytes: &self.bytes }
    }
}

/// Issue 26's pool leak as an image of CPython 3.`minor` (8 to 13): a
/// handler in the pool's get, a thread reading a socket and holding the
/// GIL. The builder (image, layout, types) and the runtime's address.
pub fn pool_leak(minor: u32) -> (Builder, u64) {
    let mut b = Builder::new(minor);
    let pool: &[(&str, &str)] = &[("handle", "app.py"), ("checkout", "app.py"), ("Pool.get", "pool.py")];
    let reader: &[(&str, &str)] = &[("<module>", "app.py"), ("read_reply", "/srv/é.py")];
    let (rt, tss) = b.runtime(&[pool, reader]);
    b.hold_gil(rt, tss[1]);
    (b, rt)
}
