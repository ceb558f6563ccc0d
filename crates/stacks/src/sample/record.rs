//! The records a perf event writes into its ring buffer, parsed from the
//! bytes copied out of it (never from the shared mapping itself: the
//! kernel writes there meanwhile). Pure, over untrusted bytes: the fuzz
//! target `perf_records` runs it on anything.
//!
//! Layout (include/uapi/linux/perf_event.h): each record starts with a
//! `perf_event_header` { u32 type, u16 misc, u16 size } and `size` covers
//! the header. A PERF_RECORD_SAMPLE with sample_type = IP | TID | TIME |
//! REGS_USER | STACK_USER holds, in this order: u64 ip; u32 pid, tid; u64
//! time; u64 abi, then (abi != 0) one u64 per bit of sample_regs_user,
//! lowest bit first; u64 size, `size` stack bytes, then (size != 0) u64
//! dyn_size, the bytes actually copied.

/// PERF_RECORD_LOST: { u64 id; u64 lost; }.
pub const RECORD_LOST: u32 = 2;
/// PERF_RECORD_SAMPLE.
pub const RECORD_SAMPLE: u32 = 9;

/// One sample of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// Where the sample fell: a kernel address when the thread was in the
    /// kernel (then the user registers say where it entered).
    pub ip: u64,
    pub pid: u32,
    pub tid: u32,
    pub time: u64,
    /// The user registers, 8 bytes each in mask-bit order; `None` when the
    /// kernel had none to give (PERF_SAMPLE_REGS_ABI_NONE: a kernel thread).
    pub regs: Option<&'a [u8]>,
    /// The user stack from the stack pointer up: the bytes actually copied.
    pub stack: &'a [u8],
}

impl Sample<'_> {
    /// User register `i` (in mask-bit order).
    pub fn reg(&self, i: usize) -> Option<u64> {
        let b = self.regs?.get(i.checked_mul(8)?..i.checked_mul(8)?.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
}

/// A record of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    Sample(Sample<'a>),
    /// Records the kernel dropped because the ring was full.
    Lost(u64),
    /// A sample whose body did not parse (it is skipped, and counted).
    Malformed,
    /// Any other type (throttling, …), skipped.
    Other(u32),
}

/// The records in `bytes` (a run of whole records, as copied from the
/// ring between its tail and head), for samples with `nregs` user
/// registers. Stops at the first header that cannot be right (size under
/// 8 or past the end): the rest of the run cannot be framed.
pub fn records(bytes: &[u8], nregs: usize) -> Records<'_> {
    Records { rest: bytes, nregs }
}

pub struct Records<'a> {
    rest: &'a [u8],
    nregs: usize,
}

impl Records<'_> {
    /// Bytes not yet framed into records.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let mut r = Reader(self.rest);
        let kind = r.u32()?;
        let _misc = r.u16()?;
        let size = r.u16()? as usize;
        if size < 8 || size > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let body = &self.rest[8..size];
        self.rest = &self.rest[size..];
        Some(match kind {
            RECORD_SAMPLE => sample(body, self.nregs).map_or(Record::Malformed, Record::Sample),
            RECORD_LOST => {
                let mut r = Reader(body);
                r.u64().and_then(|_id| r.u64()).map_or(Record::Malformed, Record::Lost)
            }
            other => Record::Other(other),
        })
    }
}

fn sample(body: &[u8], nregs: usize) -> Option<Sample<'_>> {
    let mut r = Reader(body);
    let ip = r.u64()?;
    let pid = r.u32()?;
    let tid = r.u32()?;
    let time = r.u64()?;
    let abi = r.u64()?;
    let regs = if abi != 0 { Some(r.bytes(nregs.checked_mul(8)?)?) } else { None };
    let size = usize::try_from(r.u64()?).ok()?;
    let data = r.bytes(size)?;
    let stack = if size != 0 {
        let dyn_size = usize::try_from(r.u64()?).ok()?;
        &data[..dyn_size.min(size)]
    } else {
        data
    };
    Some(Sample { ip, pid, tid, time, regs, stack })
}

/// Little-endian fields off the front of a slice (perf records are in the
/// host's byte order; unwedge reads only its own host's).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_ne_bytes(self.bytes(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_ne_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_ne_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

/// Builds a sample record as the kernel writes it (tests and fuzz seeds).
pub fn encode_sample(pid: u32, tid: u32, time: u64, regs: &[u64], stack: &[u8], reserved: usize) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&RECORD_SAMPLE.to_ne_bytes());
    b.extend_from_slice(&2u16.to_ne_bytes()); // PERF_RECORD_MISC_USER
    b.extend_from_slice(&0u16.to_ne_bytes()); // size, set below
    b.extend_from_slice(&regs.last().copied().unwrap_or(0).to_ne_bytes());
    b.extend_from_slice(&pid.to_ne_bytes());
    b.extend_from_slice(&tid.to_ne_bytes());
    b.extend_from_slice(&time.to_ne_bytes());
    b.extend_from_slice(&(if regs.is_empty() { 0u64 } else { 2 }).to_ne_bytes());
    for r in regs {
        b.extend_from_slice(&r.to_ne_bytes());
    }
    let reserved = reserved.max(stack.len());
    b.extend_from_slice(&(reserved as u64).to_ne_bytes());
    b.extend_from_slice(stack);
    b.resize(b.len() + reserved - stack.len(), 0);
    if reserved != 0 {
        b.extend_from_slice(&(stack.len() as u64).to_ne_bytes());
    }
    let size = b.len() as u16;
    b[6..8].copy_from_slice(&size.to_ne_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_and_lost() {
        let mut run = encode_sample(10, 11, 99, &[0x7ffc_0010, 0x7ffc_0000, 0x40_1000], &[1, 2, 3, 4], 16);
        let mut lost = Vec::new();
        lost.extend_from_slice(&RECORD_LOST.to_ne_bytes());
        lost.extend_from_slice(&0u16.to_ne_bytes());
        lost.extend_from_slice(&24u16.to_ne_bytes());
        lost.extend_from_slice(&7u64.to_ne_bytes());
        lost.extend_from_slice(&5u64.to_ne_bytes());
        run.extend_from_slice(&lost);
        run.extend_from_slice(&encode_sample(10, 12, 100, &[], &[], 0));
        let got: Vec<Record> = records(&run, 3).collect();
        assert_eq!(got.len(), 3);
        let Record::Sample(s) = got[0] else { panic!("{got:?}") };
        assert_eq!((s.pid, s.tid, s.time, s.ip), (10, 11, 99, 0x40_1000));
        assert_eq!(
            (s.reg(0), s.reg(1), s.reg(2), s.reg(3)),
            (Some(0x7ffc_0010), Some(0x7ffc_0000), Some(0x40_1000), None)
        );
        assert_eq!(s.stack, [1, 2, 3, 4], "dyn_size bytes only, not the reserved 16");
        assert_eq!(got[1], Record::Lost(5));
        let Record::Sample(k) = got[2] else { panic!() };
        assert_eq!((k.regs, k.stack), (None, &[][..]), "ABI none: a kernel thread");
    }

    #[test]
    fn hostile() {
        let good = encode_sample(1, 1, 1, &[1, 2, 3], &[9; 8], 8);
        // A size past the end, a size under a header, a body shorter than
        // its fields, a dyn_size past its data: none panics, none reads past.
        let mut past = good.clone();
        past[6..8].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert_eq!(records(&past, 3).count(), 0);
        let mut tiny = good.clone();
        tiny[6..8].copy_from_slice(&4u16.to_ne_bytes());
        assert_eq!(records(&tiny, 3).count(), 0);
        assert_eq!(records(&good, 30).collect::<Vec<_>>(), [Record::Malformed], "more registers than the body holds");
        let mut dynbig = good.clone();
        let at = dynbig.len() - 8;
        dynbig[at..].copy_from_slice(&u64::MAX.to_ne_bytes());
        let Some(Record::Sample(s)) = records(&dynbig, 3).next() else { panic!() };
        assert_eq!(s.stack.len(), 8, "dyn_size is capped at the reserved size");
        assert_eq!(records(&[], 3).count(), 0);
        assert_eq!(records(&good[..7], 3).count(), 0);
    }
}
