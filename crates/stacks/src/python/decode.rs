//! What a code object's bytes mean, decoded without the interpreter: the
//! line of an instruction from the code's line table (3.8–3.9
//! `co_lnotab`, 3.10 `co_linetable`, 3.11+ location table), and a `str`'s
//! characters from its compact representation. Pure, on bytes copied from
//! another process, so every length and index is checked: the fuzz
//! targets run these on arbitrary bytes.

/// Characters of a name or file name kept at most.
pub const MAX_CHARS: usize = 1024;

fn line(l: i64) -> Option<u32> {
    u32::try_from(l).ok().filter(|&l| l > 0)
}

/// The line of the instruction at byte offset `addr`, from a 3.8/3.9
/// `co_lnotab` (pairs of an address increment and a signed line
/// increment) and `co_firstlineno`, as `PyCode_Addr2Line` computes it.
pub fn lnotab_line(table: &[u8], first: i32, addr: i64) -> Option<u32> {
    let mut l = first as i64;
    let mut at = 0i64;
    for pair in table.chunks_exact(2) {
        at += pair[0] as i64;
        if at > addr {
            break;
        }
        l += pair[1] as i8 as i64;
    }
    line(l)
}

/// The line of the instruction at byte offset `addr`, from a 3.10
/// `co_linetable`: pairs of a byte length and a signed line delta, -128
/// marking a range with no line.
pub fn linetable_line(table: &[u8], first: i32, addr: i64) -> Option<u32> {
    if addr < 0 {
        return line(first as i64);
    }
    let mut l = first as i64;
    let mut end = 0i64;
    for pair in table.chunks_exact(2) {
        let start = end;
        end += pair[0] as i64;
        let delta = pair[1] as i8;
        let this = if delta == -128 {
            None
        } else {
            l += delta as i64;
            Some(l)
        };
        if start <= addr && addr < end {
            return this.and_then(line);
        }
    }
    None
}

/// A 3.11+ location table varint: 6 bits a byte, bit 6 says more follow.
fn varint(t: &[u8], at: usize) -> Option<u64> {
    let mut b = *t.get(at)?;
    let mut v = (b & 63) as u64;
    let mut shift = 0;
    let mut i = at + 1;
    while b & 64 != 0 {
        b = *t.get(i)?;
        i += 1;
        shift += 6;
        if shift > 48 {
            return None;
        }
        v |= ((b & 63) as u64) << shift;
    }
    Some(v)
}

fn signed_varint(t: &[u8], at: usize) -> Option<i64> {
    let v = varint(t, at)?;
    Some(if v & 1 != 0 { -((v >> 1) as i64) } else { (v >> 1) as i64 })
}

/// The line of the instruction at byte offset `addr`, from a 3.11+
/// location table (Objects/locations.md): entries that start with a byte
/// whose top bit is set, bits 6–3 the kind (15: no location; 14 long and
/// 13 no-column forms carry a signed varint line delta; 10–12 one-line
/// forms a delta of 0–2; 0–9 the same line) and bits 2–0 the length in
/// code units, less one.
pub fn locations_line(table: &[u8], first: i32, addr: i64) -> Option<u32> {
    if addr < 0 {
        return line(first as i64);
    }
    let mut l = first as i64;
    let mut end = 0i64;
    let mut i = 0;
    while i < table.len() {
        let b = table[i];
        if b & 0x80 == 0 {
            return None;
        }
        let code = (b >> 3) & 15;
        l += match code {
            13 | 14 => signed_varint(table, i + 1)?,
            10..=12 => (code - 10) as i64,
            _ => 0,
        };
        let start = end;
        end += ((b & 7) as i64 + 1) * 2;
        if start <= addr && addr < end {
            return if code == 15 { None } else { line(l) };
        }
        i += 1;
        while i < table.len() && table[i] & 0x80 == 0 {
            i += 1;
        }
    }
    None
}

/// Where a compact `str`'s characters are and how wide each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrShape {
    /// Characters (at most [`MAX_CHARS`] are read; `length` is the whole).
    pub length: usize,
    /// Bytes a character: 1 (ASCII or Latin-1), 2 or 4.
    pub kind: u8,
    /// Offset of the first character from the object's start.
    pub data: usize,
}

impl StrShape {
    /// Bytes to read from `data` on.
    pub fn bytes(&self) -> usize {
        self.length.min(MAX_CHARS) * self.kind as usize
    }
}

/// Reads a `PyASCIIObject` header (`head`, from the object's start): the
/// `length` word, and the `state` bitfield (interned:2, kind:3,
/// compact:1, ascii:1, and 3.8–3.11 ready:1). Only compact, ready strings
/// (every name and file name of a code object is one) are accepted.
pub fn str_shape(head: &[u8], l: &super::layout::Layout) -> Option<StrShape> {
    let at = |o: u64, n: usize| head.get(o as usize..(o as usize).checked_add(n)?);
    let length = i64::from_le_bytes(at(l.str_length, 8)?.try_into().ok()?);
    let state = u32::from_le_bytes(at(l.str_state, 4)?.try_into().ok()?);
    let kind = ((state >> 2) & 7) as u8;
    let (compact, ascii, ready) = (state & 32 != 0, state & 64 != 0, state & 128 != 0);
    if !compact || (l.ready_bit && !ready) || !matches!(kind, 1 | 2 | 4) || (ascii && kind != 1) {
        return None;
    }
    let length = usize::try_from(length).ok().filter(|&n| n < 1 << 30)?;
    let data = if ascii { l.ascii_size } else { l.compact_size } as usize;
    Some(StrShape { length, kind, data })
}

/// The characters of a string of `kind` from its bytes (little-endian);
/// an invalid code point reads as U+FFFD.
pub fn str_chars(kind: u8, bytes: &[u8]) -> String {
    let c = |u: u32| char::from_u32(u).unwrap_or('\u{fffd}');
    match kind {
        1 => bytes.iter().take(MAX_CHARS).map(|&b| b as char).collect(),
        2 => bytes.chunks_exact(2).take(MAX_CHARS).map(|p| c(u16::from_le_bytes([p[0], p[1]]) as u32)).collect(),
        4 => bytes.chunks_exact(4).take(MAX_CHARS).map(|p| c(u32::from_le_bytes([p[0], p[1], p[2], p[3]]))).collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::layout::layout;

    #[test]
    fn lnotab_of_3_8() {
        // def f():          (line 1)
        //     a = 1         (line 2, bytes 0..4)
        //     b = 2         (line 3, bytes 4..8)
        //     return a + b  (line 5 after a blank, bytes 8..)
        let t = [0, 1, 4, 1, 4, 2];
        assert_eq!(lnotab_line(&t, 1, 0), Some(2));
        assert_eq!(lnotab_line(&t, 1, 3), Some(2));
        assert_eq!(lnotab_line(&t, 1, 4), Some(3));
        assert_eq!(lnotab_line(&t, 1, 12), Some(5));
        // A negative line increment (a loop's jump back), and an empty table.
        assert_eq!(lnotab_line(&[0, 5, 6, 0xfe], 10, 7), Some(13));
        assert_eq!(lnotab_line(&[], 7, 100), Some(7));
        assert_eq!(lnotab_line(&[0, 0x80], 1, 0), None, "a line below 1 is no line");
    }

    #[test]
    fn linetable_of_3_10() {
        // Bytes 0..2 no line, 2..6 line first+1, 6..6 (empty), 6..10 line first+3.
        let t = [2, 0x80, 4, 1, 0, 1, 4, 1];
        assert_eq!(linetable_line(&t, 10, 0), None);
        assert_eq!(linetable_line(&t, 10, 2), Some(11));
        assert_eq!(linetable_line(&t, 10, 5), Some(11));
        assert_eq!(linetable_line(&t, 10, 6), Some(13));
        assert_eq!(linetable_line(&t, 10, 10), None, "past the end");
        assert_eq!(linetable_line(&t, 10, -2), Some(10), "not started: the first line");
        assert_eq!(linetable_line(&[4, 0xff], 10, 1), Some(9));
    }

    #[test]
    fn locations_of_3_11() {
        let t = [
            0x80 | (13 << 3),     // no-column form, 1 code unit (bytes 0..2): RESUME
            0,                    //   line delta +0
            0x80 | (10 << 3) | 1, // one-line form, delta 0, 2 units (2..6)
            5,
            9,
            0x80 | (11 << 3), // one-line, delta +1 (6..8)
            1,
            2,
            0x80 | (14 << 3) | 2, // long form, 3 units (8..14)
            14 | 64,              //   svarint 14 + (1 << 6) = 78: +39
            1,
            0, //   end line, start and end columns
            4,
            8,
            0x80 | (15 << 3), // no location (14..16)
            0x80 | (12 << 3), // one-line, +2 (16..18)
            0,
            0,
            0x80 | (13 << 3), // no-column, delta -3 (18..20)
            7,
        ];
        assert_eq!(locations_line(&t, 100, 0), Some(100));
        assert_eq!(locations_line(&t, 100, 2), Some(100));
        assert_eq!(locations_line(&t, 100, 5), Some(100));
        assert_eq!(locations_line(&t, 100, 6), Some(101));
        assert_eq!(locations_line(&t, 100, 8), Some(140));
        assert_eq!(locations_line(&t, 100, 13), Some(140));
        assert_eq!(locations_line(&t, 100, 14), None);
        assert_eq!(locations_line(&t, 100, 16), Some(142));
        assert_eq!(locations_line(&t, 100, 18), Some(139));
        assert_eq!(locations_line(&t, 100, 20), None, "past the end");
        assert_eq!(locations_line(&t, 100, -2), Some(100));
        assert_eq!(locations_line(&[0x05], 1, 0), None, "lost sync: no start bit");
        assert_eq!(locations_line(&[0x80 | (13 << 3), 0x40], 1, 0), None, "varint cut short");
        assert_eq!(signed_varint(&[3], 0), Some(-1));
        assert_eq!(varint(&[0x7f; 20], 0), None, "too long a varint");
    }

    #[test]
    fn compact_strings() {
        let l311 = layout(11).unwrap();
        let head = |len: i64, state: u32| {
            let mut h = vec![0u8; 80];
            h[16..24].copy_from_slice(&len.to_le_bytes());
            h[32..36].copy_from_slice(&state.to_le_bytes());
            h
        };
        // compact ascii ready, kind 1
        let ascii = (1 << 2) | 32 | 64 | 128;
        assert_eq!(str_shape(&head(5, ascii), &l311), Some(StrShape { length: 5, kind: 1, data: 48 }));
        // compact non-ascii UCS2
        let ucs2 = (2 << 2) | 32 | 128;
        assert_eq!(str_shape(&head(3, ucs2), &l311), Some(StrShape { length: 3, kind: 2, data: 72 }));
        assert_eq!(str_shape(&head(3, ucs2 & !128), &l311), None, "not ready (3.11)");
        assert_eq!(str_shape(&head(3, ucs2 & !128), &layout(12).unwrap()).map(|s| s.data), Some(56));
        assert_eq!(str_shape(&head(3, (2 << 2) | 128), &l311), None, "not compact");
        assert_eq!(str_shape(&head(-1, ascii), &l311), None);
        assert_eq!(str_shape(&head(3, (3 << 2) | 32 | 128), &l311), None, "no kind 3");
        assert_eq!(str_shape(&head(3, (4 << 2) | 32 | 64 | 128), &l311), None, "ascii is kind 1");
        assert_eq!(str_shape(&[0; 20], &l311), None);
        let big = StrShape { length: 1 << 20, kind: 4, data: 72 };
        assert_eq!(big.bytes(), MAX_CHARS * 4);
        assert_eq!(str_chars(1, b"queue.py"), "queue.py");
        assert_eq!(str_chars(1, &[0xe9]), "é");
        assert_eq!(str_chars(2, &[0x3b, 0x04, 0x38, 0x04]), "ли");
        assert_eq!(str_chars(4, &[0x00, 0xf6, 0x01, 0x00, 0x00, 0xd8, 0, 0]), "😀\u{fffd}");
        assert_eq!(str_chars(3, b"abc"), "");
    }
}
