//! HotSpot's hsperfdata file: the counters a JVM keeps in a shared memory
//! file (`/tmp/hsperfdata_<user>/<pid>`) for `jstat` and `jps`. Reading it
//! asks nothing of the JVM: no signal, no safepoint, no attach. The file
//! is the JVM's memory region itself, written while we read, so every
//! offset and length in it is checked against what was read.
//!
//! The format (PerfDataPrologue and PerfDataEntry in HotSpot's
//! perfMemory.hpp, major version 2): a 32-byte prologue (magic 0xcafec0c0
//! in big-endian bytes, byte order, version, accessible, bytes used,
//! offset and count of the entries), then entries, each a 20-byte header
//! (its length, the offset of its name, vector length, type, flags,
//! units, variability, offset of its data) with its name and data inside
//! its own length. Scalars are 8-byte longs ('J'); strings are byte
//! vectors ('B') up to their first NUL.

use unwedge_model::jvm::{GcCollector, JvmCounters};

/// The first four bytes of every hsperfdata file.
pub const MAGIC: [u8; 4] = [0xca, 0xfe, 0xc0, 0xc0];
const PROLOGUE: usize = 32;
const ENTRY_HEADER: usize = 20;
/// The largest file read: HotSpot's default region is 32 or 64 KiB
/// (-XX:PerfDataMemorySize), rarely raised.
pub const MAX_FILE: usize = 4 << 20;
/// Entries read at most (a JDK 17 JVM has about 190).
const MAX_ENTRIES: usize = 1 << 14;
/// Collectors read at most (`sun.gc.collector.N`).
const MAX_COLLECTORS: usize = 16;

/// Units of an entry (PerfData::Units).
pub mod units {
    pub const NONE: u8 = 1;
    pub const BYTES: u8 = 2;
    pub const TICKS: u8 = 3;
    pub const EVENTS: u8 = 4;
    pub const STRING: u8 = 5;
    pub const HERTZ: u8 = 6;
}

/// An entry's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A 'J' scalar.
    Long(i64),
    /// A 'B' vector, up to its first NUL, decoded lossily.
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub units: u8,
    /// 1 constant, 2 monotonic, 3 variable.
    pub variability: u8,
    pub value: Value,
}

/// A parsed hsperfdata region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerfData {
    pub major: u8,
    pub minor: u8,
    /// The JVM marks the region accessible once it is set up, and not
    /// while it exits.
    pub accessible: bool,
    pub entries: Vec<Entry>,
}

impl PerfData {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|e| e.name == name).map(|e| &e.value)
    }

    pub fn long(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Value::Long(v) => Some(*v),
            Value::Text(_) => None,
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::Text(s) => Some(s),
            Value::Long(_) => None,
        }
    }
}

/// Parses an hsperfdata region: the prologue, then every entry that lies
/// whole within the bytes the prologue says are used. An entry whose
/// header does not hold together ends the walk (the JVM writes entries in
/// order, so what follows a bad one cannot be trusted either).
pub fn parse(data: &[u8]) -> Result<PerfData, String> {
    if data.len() < PROLOGUE {
        return Err(format!("{} bytes, shorter than the 32-byte prologue", data.len()));
    }
    if data[..4] != MAGIC {
        return Err(format!("no hsperfdata magic (found {:02x?})", &data[..4]));
    }
    let big = match data[4] {
        0 => true,
        1 => false,
        b => return Err(format!("unknown byte order {b}")),
    };
    let (major, minor) = (data[5], data[6]);
    if major != 2 {
        return Err(format!("hsperfdata version {major}.{minor} (only version 2 is read)"));
    }
    let rd = Reader { data, big };
    let used = rd.i32(8).unwrap_or(0);
    let used = if used <= 0 { data.len() } else { (used as usize).min(data.len()) };
    let first = rd.i32(24).ok_or("no entry offset")?;
    let count = rd.i32(28).ok_or("no entry count")?;
    if first < PROLOGUE as i32 || count < 0 {
        return Err(format!("entry offset {first} or count {count} out of range"));
    }
    let mut out = PerfData { major, minor, accessible: data[7] != 0, entries: Vec::new() };
    let mut off = first as usize;
    for _ in 0..(count as usize).min(MAX_ENTRIES) {
        let Some(e) = rd.entry(off, used) else { break };
        off += e.1;
        if let Some(entry) = e.0 {
            out.entries.push(entry);
        }
    }
    Ok(out)
}

struct Reader<'a> {
    data: &'a [u8],
    big: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    fn i32(&self, at: usize) -> Option<i32> {
        let b = self.bytes::<4>(at)?;
        Some(if self.big { i32::from_be_bytes(b) } else { i32::from_le_bytes(b) })
    }

    fn i64(&self, at: usize) -> Option<i64> {
        let b = self.bytes::<8>(at)?;
        Some(if self.big { i64::from_be_bytes(b) } else { i64::from_le_bytes(b) })
    }

    /// The entry at `off` (None for a type this reader skips) and its
    /// length; None when its header does not fit in `used` bytes.
    fn entry(&self, off: usize, used: usize) -> Option<(Option<Entry>, usize)> {
        let len = usize::try_from(self.i32(off)?).ok()?;
        let end = off.checked_add(len)?;
        if len < ENTRY_HEADER || end > used {
            return None;
        }
        let body = &self.data[off..end];
        let name_at = usize::try_from(self.i32(off + 4)?).ok()?;
        let vector = usize::try_from(self.i32(off + 8)?).ok()?;
        let (kind, units, variability) = (body[12], body[14], body[15]);
        let data_at = usize::try_from(self.i32(off + 16)?).ok()?;
        if name_at < ENTRY_HEADER || name_at >= len || data_at >= len {
            return None;
        }
        let name_bytes = &body[name_at..];
        let name_len = name_bytes.iter().position(|&b| b == 0)?;
        let name = String::from_utf8_lossy(&name_bytes[..name_len]).into_owned();
        let value = match (kind, vector) {
            (b'J', 0) => Some(Value::Long(self.i64(off + data_at).filter(|_| data_at + 8 <= len)?)),
            (b'B', n) if n > 0 => {
                let v = body.get(data_at..data_at.checked_add(n)?)?;
                let v = &v[..v.iter().position(|&b| b == 0).unwrap_or(v.len())];
                Some(Value::Text(String::from_utf8_lossy(v).into_owned()))
            }
            // Other types HotSpot does not publish today; skipped, not an error.
            _ => None,
        };
        Some((value.map(|value| Entry { name, units, variability, value }), len))
    }
}

/// The counters unwedge reports, from a parsed region. Timers are in the
/// JVM's ticks (`sun.os.hrt.frequency` per second), turned into
/// microseconds.
pub fn counters(p: &PerfData) -> JvmCounters {
    let count = |name: &str| p.long(name).and_then(|v| u64::try_from(v).ok());
    let text = |name: &str| p.text(name).map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let hz = count("sun.os.hrt.frequency").filter(|&f| f > 0);
    let micros = |name: &str| {
        let (ticks, hz) = (count(name)?, hz?);
        u64::try_from(ticks as u128 * 1_000_000 / hz as u128).ok()
    };
    let mut collectors = Vec::new();
    for i in 0..MAX_COLLECTORS {
        let key = |f: &str| format!("sun.gc.collector.{i}.{f}");
        let Some(name) = p.text(&key("name")) else { break };
        collectors.push(GcCollector {
            name: name.to_string(),
            invocations: count(&key("invocations")).unwrap_or(0),
            time_us: micros(&key("time")).unwrap_or(0),
        });
    }
    JvmCounters {
        vm_name: text("java.property.java.vm.name"),
        vm_version: text("java.property.java.vm.version"),
        java_feature: p.text("java.property.java.vm.specification.version").and_then(feature),
        command: text("sun.rt.javaCommand"),
        vm_args: text("java.rt.vmArgs"),
        attachable: p.text("sun.rt.jvmCapabilities").and_then(|c| c.bytes().next()).map(|b| b == b'1'),
        vm_start_ms: count("sun.rt.createVmBeginTime").filter(|&t| t > 0),
        vm_ready_ms: count("sun.rt.createVmEndTime").filter(|&t| t > 0),
        threads_live: count("java.threads.live"),
        threads_daemon: count("java.threads.daemon"),
        threads_peak: count("java.threads.livePeak"),
        threads_started: count("java.threads.started"),
        safepoints: count("sun.rt.safepoints"),
        safepoint_time_us: micros("sun.rt.safepointTime"),
        safepoint_sync_time_us: micros("sun.rt.safepointSyncTime"),
        contended_lock_attempts: count("sun.rt._sync_ContendedLockAttempts"),
        futile_wakeups: count("sun.rt._sync_FutileWakeups"),
        monitor_parks: count("sun.rt._sync_Parks"),
        monitor_notifications: count("sun.rt._sync_Notifications"),
        monitor_inflations: count("sun.rt._sync_Inflations"),
        gc_cause: text("sun.gc.cause"),
        gc_last_cause: text("sun.gc.lastCause"),
        collectors,
    }
}

/// "17" -> 17, "1.8" -> 8.
fn feature(v: &str) -> Option<u32> {
    let v = v.trim();
    let v = v.strip_prefix("1.").unwrap_or(v);
    v.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JDK17: &[u8] = include_bytes!("testdata/hsperf-jdk17.bin");
    const JDK25: &[u8] = include_bytes!("testdata/hsperf-jdk25.bin");

    #[test]
    fn openjdk_17() {
        let p = parse(JDK17).unwrap();
        assert_eq!((p.major, p.minor, p.accessible), (2, 0, true));
        assert!(p.entries.len() > 150, "{}", p.entries.len());
        let c = counters(&p);
        assert_eq!(c.vm_version.as_deref(), Some("17.0.15+6-Debian-1deb12u1"));
        assert_eq!(c.vm_name.as_deref(), Some("OpenJDK 64-Bit Server VM"));
        assert_eq!(c.java_feature, Some(17));
        assert_eq!(c.command.as_deref(), Some("Dl"));
        assert_eq!(c.attachable, Some(true));
        assert_eq!((c.threads_live, c.threads_daemon), (Some(10), Some(5)));
        assert!(c.futile_wakeups.is_some() && c.contended_lock_attempts.is_some());
        assert_eq!(c.collectors.len(), 3);
        assert_eq!(c.collectors[0].name, "G1 young collection pauses");
        assert!(c.vm_start_ms.unwrap() > 1_700_000_000_000 && c.vm_ready_ms >= c.vm_start_ms);
    }

    #[test]
    fn temurin_25_has_no_sync_counters() {
        let c = counters(&parse(JDK25).unwrap());
        assert_eq!(c.java_feature, Some(25));
        assert_eq!(c.vm_version.as_deref(), Some("25.0.3+9-LTS"));
        assert_eq!(c.threads_live, Some(10));
        assert_eq!((c.contended_lock_attempts, c.futile_wakeups), (None, None));
        assert_eq!(c.gc_cause.as_deref(), Some("No GC"));
    }

    /// The same region written big-endian (as a big-endian JVM would)
    /// reads the same.
    #[test]
    fn big_endian() {
        let little = parse(JDK17).unwrap();
        let big = parse(&to_big_endian(JDK17)).unwrap();
        assert_eq!(little, big);
    }

    fn to_big_endian(le: &[u8]) -> Vec<u8> {
        let mut b = le.to_vec();
        b[4] = 0;
        let swap4 = |b: &mut Vec<u8>, at: usize| b[at..at + 4].reverse();
        for at in [8, 12, 24, 28] {
            swap4(&mut b, at);
        }
        b[16..24].reverse();
        let n = i32::from_le_bytes(le[28..32].try_into().unwrap());
        let mut off = i32::from_le_bytes(le[24..28].try_into().unwrap()) as usize;
        for _ in 0..n {
            let len = i32::from_le_bytes(le[off..off + 4].try_into().unwrap()) as usize;
            for at in [0, 4, 8, 16] {
                swap4(&mut b, off + at);
            }
            let vector = i32::from_le_bytes(le[off + 8..off + 12].try_into().unwrap());
            let data = i32::from_le_bytes(le[off + 16..off + 20].try_into().unwrap()) as usize;
            if le[off + 12] == b'J' && vector == 0 {
                b[off + data..off + data + 8].reverse();
            }
            off += len;
        }
        b
    }

    #[test]
    fn hostile_regions() {
        assert!(parse(b"").is_err());
        assert!(parse(&[0u8; 64]).unwrap_err().contains("magic"));
        let mut v = JDK17.to_vec();
        v[5] = 1;
        assert!(parse(&v).unwrap_err().contains("version 1"));
        let mut v = JDK17.to_vec();
        v[4] = 7;
        assert!(parse(&v).is_err());
        // Cut anywhere: never a panic, never an entry past the cut.
        for cut in (0..JDK17.len()).step_by(97) {
            if let Ok(p) = parse(&JDK17[..cut]) {
                assert!(p.entries.len() <= 200);
            }
        }
        // An entry claiming to reach past the end ends the walk.
        let mut v = JDK17.to_vec();
        let first = i32::from_le_bytes(v[24..28].try_into().unwrap()) as usize;
        v[first..first + 4].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(parse(&v).unwrap().entries.is_empty());
        // A negative count, an offset inside the prologue.
        let mut v = JDK17.to_vec();
        v[28..32].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(parse(&v).is_err());
        let mut v = JDK17.to_vec();
        v[24..28].copy_from_slice(&4i32.to_le_bytes());
        assert!(parse(&v).is_err());
    }

    #[test]
    fn features() {
        assert_eq!(feature("17"), Some(17));
        assert_eq!(feature("1.8"), Some(8));
        assert_eq!(feature("21.0.1"), Some(21));
        assert_eq!(feature("x"), None);
    }
}
