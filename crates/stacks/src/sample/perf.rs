//! The perf_event_open system call for one thread's CPU-clock samples
//! (user registers and user stack with each), its ring buffer mapped and
//! drained with the data_head / data_tail protocol of
//! include/uapi/linux/perf_event.h: read data_head (acquire), copy the
//! bytes between data_tail and it, then store data_tail (release) so the
//! kernel may reuse them. The kernel never stops the thread: a sample is
//! taken in its own timer interrupt and copied there.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;

const SAMPLE_IP: u64 = 1 << 0;
const SAMPLE_TID: u64 = 1 << 1;
const SAMPLE_TIME: u64 = 1 << 2;
const SAMPLE_REGS_USER: u64 = 1 << 12;
const SAMPLE_STACK_USER: u64 = 1 << 13;

const FLAG_DISABLED: u64 = 1 << 0;
const FLAG_EXCLUDE_KERNEL: u64 = 1 << 5;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;
const FLAG_WATERMARK: u64 = 1 << 14;

const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_DISABLE: libc::c_ulong = 0x2401;

/// The registers each sample carries: what the unwinder starts from.
/// x86_64 (arch/x86/include/uapi/asm/perf_regs.h): BP = 6, SP = 7, IP = 8.
#[cfg(target_arch = "x86_64")]
pub const REGS_MASK: u64 = (1 << 6) | (1 << 7) | (1 << 8);
/// aarch64 (arch/arm64/include/uapi/asm/perf_regs.h): X29 (fp) = 29,
/// LR = 30, SP = 31, PC = 32.
#[cfg(target_arch = "aarch64")]
pub const REGS_MASK: u64 = (1 << 29) | (1 << 30) | (1 << 31) | (1 << 32);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const REGS_MASK: u64 = 0;

/// How many registers a sample holds.
pub const NREGS: usize = REGS_MASK.count_ones() as usize;

/// Start registers of a sample (regs in mask-bit order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    pub lr: u64,
}

/// The sample's registers, by architecture.
pub fn regs(s: &super::record::Sample) -> Option<Regs> {
    #[cfg(target_arch = "x86_64")]
    return Some(Regs { fp: s.reg(0)?, sp: s.reg(1)?, pc: s.reg(2)?, lr: 0 });
    #[cfg(target_arch = "aarch64")]
    return Some(Regs { fp: s.reg(0)?, lr: s.reg(1)?, sp: s.reg(2)?, pc: s.reg(3)? });
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = s;
        None
    }
}

/// struct perf_event_attr up to sig_data (PERF_ATTR_SIZE_VER7, 128
/// bytes). A kernel that knows a shorter struct accepts this one as long
/// as the fields it does not know are zero.
#[repr(C)]
#[derive(Default)]
struct Attr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_watermark: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved_2: u16,
    aux_sample_size: u32,
    reserved_3: u32,
    sig_data: u64,
}

const _: () = assert!(std::mem::size_of::<Attr>() == 128);

/// What one event samples.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub hz: u32,
    pub stack_bytes: u32,
    /// User time only: what an unprivileged caller may sample under
    /// perf_event_paranoid 2.
    pub exclude_kernel: bool,
    /// Ring data pages (a power of two).
    pub pages: usize,
}

/// One thread's sampling event and its ring buffer.
pub struct Event {
    fd: OwnedFd,
    base: *mut u8,
    len: usize,
    data_offset: usize,
    data_size: usize,
}

// SAFETY: the mapping is owned by this Event alone; the kernel is the
// only other party, and it is synchronised through data_head/data_tail.
unsafe impl Send for Event {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// Why an event could not be had.
#[derive(Debug)]
pub enum OpenError {
    /// perf_event_open itself failed.
    Open(io::Error),
    /// The ring could not be mapped (the locked-memory limit).
    Map(io::Error),
}

impl Event {
    /// Opens a disabled CPU-clock sampling event on thread `tid` (any CPU)
    /// and maps its ring.
    pub fn open(tid: u32, spec: &Spec) -> Result<Event, OpenError> {
        let mut flags = FLAG_DISABLED | FLAG_EXCLUDE_HV | FLAG_WATERMARK;
        if spec.exclude_kernel {
            flags |= FLAG_EXCLUDE_KERNEL;
        }
        let page = page_size();
        let data_size = spec.pages * page;
        let attr = Attr {
            kind: PERF_TYPE_SOFTWARE,
            size: std::mem::size_of::<Attr>() as u32,
            config: PERF_COUNT_SW_CPU_CLOCK,
            // A fixed period of CPU time (ns), so samples × period is the
            // thread's CPU time in the window.
            sample_period: 1_000_000_000 / u64::from(spec.hz.max(1)),
            sample_type: SAMPLE_IP | SAMPLE_TID | SAMPLE_TIME | SAMPLE_REGS_USER | SAMPLE_STACK_USER,
            flags,
            // Wake the poller when half the ring is full.
            wakeup_watermark: (data_size / 2) as u32,
            sample_regs_user: REGS_MASK,
            sample_stack_user: spec.stack_bytes & !7,
            ..Default::default()
        };
        // SAFETY: attr is a valid perf_event_attr of the size it declares;
        // pid = tid, cpu = -1 (any), group_fd = -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const Attr,
                tid as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(OpenError::Open(io::Error::last_os_error()));
        }
        // SAFETY: the kernel just gave us this fd.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let len = page + data_size;
        // SAFETY: mapping the event's ring (one metadata page + data pages)
        // read-write, as perf_event_open(2) documents, so data_tail can be written.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(OpenError::Map(io::Error::last_os_error()));
        }
        let mut e = Event { fd, base: base as *mut u8, len, data_offset: page, data_size };
        // Since Linux 4.1 the metadata page says where the data is.
        let (off, size) = (e.meta(1040), e.meta(1048));
        if size != 0 && (off as usize).checked_add(size as usize).is_some_and(|end| end <= len) {
            (e.data_offset, e.data_size) = (off as usize, size as usize);
        }
        Ok(e)
    }

    fn ioctl(&self, req: libc::c_ulong) -> io::Result<()> {
        // SAFETY: a perf event ioctl without argument on our own fd.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), req, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn enable(&self) -> io::Result<()> {
        self.ioctl(IOC_ENABLE)
    }

    pub fn disable(&self) -> io::Result<()> {
        self.ioctl(IOC_DISABLE)
    }

    /// The event's count: nanoseconds of the thread's CPU time while it
    /// was enabled (the CPU clock counts whether or not a sample fits the ring).
    pub fn count_ns(&self) -> Option<u64> {
        let mut v = 0u64;
        // SAFETY: reading 8 bytes (read_format 0: the value alone) into v.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), &mut v as *mut u64 as *mut libc::c_void, 8) };
        (n == 8).then_some(v)
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// A u64 of the metadata page (struct perf_event_mmap_page) at `off`.
    fn meta(&self, off: usize) -> u64 {
        // SAFETY: off + 8 lies within the first mapped page; read volatile
        // because the kernel may change it.
        unsafe { std::ptr::read_volatile(self.base.add(off) as *const u64) }
    }

    fn atomic(&self, off: usize) -> &AtomicU64 {
        // SAFETY: data_head (1024) and data_tail (1032) are naturally aligned
        // u64s in the mapped metadata page, shared with the kernel as atomics.
        unsafe { AtomicU64::from_ptr(self.base.add(off) as *mut u64) }
    }

    /// Appends the records written since the last drain to `out` (whole
    /// records; the ring's wrap undone) and frees their room.
    pub fn drain(&mut self, out: &mut Vec<u8>) {
        let head = self.atomic(1024).load(Ordering::Acquire);
        let tail = self.atomic(1032).load(Ordering::Relaxed);
        let avail = head.wrapping_sub(tail);
        let size = self.data_size as u64;
        if avail == 0 || avail > size {
            // Nothing, or a head we cannot trust: skip to it.
            self.atomic(1032).store(head, Ordering::Release);
            return;
        }
        let start = (tail % size) as usize;
        let first = (avail as usize).min(self.data_size - start);
        let data = unsafe { self.base.add(self.data_offset) };
        out.reserve(avail as usize);
        // SAFETY: [start, start + first) and [0, avail - first) lie within
        // the data area; the kernel does not write there until data_tail
        // moves past them, which happens below, after the copy.
        unsafe {
            let dst = out.as_mut_ptr().add(out.len());
            std::ptr::copy_nonoverlapping(data.add(start), dst, first);
            std::ptr::copy_nonoverlapping(data, dst.add(first), avail as usize - first);
            out.set_len(out.len() + avail as usize);
        }
        self.atomic(1032).store(head, Ordering::Release);
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: unmapping the ring we mapped; the fd closes after.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.len);
        }
    }
}

/// kernel.perf_event_paranoid: 2 (the default) lets an unprivileged user
/// sample its own processes' user space only; 3 (Debian, Android) nothing
/// without CAP_PERFMON; root may always.
pub fn paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid").ok()?.trim().parse().ok()
}

/// Polls the events' fds until one has data or `ms` pass.
pub fn poll_refs(events: &[&Event], ms: i32) {
    let mut fds: Vec<libc::pollfd> =
        events.iter().map(|e| libc::pollfd { fd: e.raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    // SAFETY: fds is a valid array of fds.len() pollfds.
    unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layout() {
        // Offsets from include/uapi/linux/perf_event.h.
        let a = Attr::default();
        let at = |f: *const u8| f as usize - (&a as *const Attr as usize);
        assert_eq!(at(&a.sample_type as *const u64 as *const u8), 24);
        assert_eq!(at(&a.flags as *const u64 as *const u8), 40);
        assert_eq!(at(&a.sample_regs_user as *const u64 as *const u8), 80);
        assert_eq!(at(&a.sample_stack_user as *const u32 as *const u8), 88);
        assert_eq!(at(&a.sig_data as *const u64 as *const u8), 120);
    }
}
