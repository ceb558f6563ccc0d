//! The OS side: another process's memory (process_vm_readv, which does not
//! stop or wake it), small /proc files, and the opt-in ptrace path for
//! running threads (PTRACE_SEIZE + PTRACE_INTERRUPT + PTRACE_GETREGSET +
//! detach, never SIGSTOP).

use std::io;
use std::time::Duration;

/// Copies `len` bytes at `addr` of process `pid`; short reads return what
/// was copied.
pub fn read(pid: u32, addr: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: len };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: len };
    // SAFETY: `local` describes `buf`, which outlives the call; the remote
    // iovec is only read by the kernel, which checks it against the target.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// A /proc file, at most `cap` bytes.
pub fn read_file(path: &str, cap: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(cap as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// A read-only private mapping of a whole file, unmapped on drop: the ELF
/// parser reads only the headers and tables it needs, not a 200 MB binary.
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    pub fn open(path: &str) -> io::Result<Mapped> {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        if len == 0 || len > (4u64 << 30) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty or larger than 4 GiB"));
        }
        let len = len as usize;
        // SAFETY: a fresh read-only private mapping of an open file; the
        // pointer is only used through `bytes` while `self` lives.
        let ptr =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, f.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping what `open` mapped.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// Registers of a thread stopped for a moment by ptrace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    pub pc: u64,
    pub sp: u64,
    /// Frame pointer (rbp / x29).
    pub fp: u64,
    /// Link register (aarch64's x30); 0 elsewhere.
    pub lr: u64,
}

/// The PTRACE_GETREGSET layout of NT_PRSTATUS, as many words as the
/// largest architecture needs.
#[repr(C)]
struct RawRegs([u64; 34]);

/// What a ptrace read yields: registers and the stack copied while the
/// thread was stopped.
pub struct Captured {
    pub regs: Regs,
    pub stack: Vec<u8>,
}

/// Stops thread `tid` of `pid` with PTRACE_SEIZE + PTRACE_INTERRUPT (no
/// signal is sent: the process sees no SIGSTOP, its parent no state
/// change), reads its registers and up to `stack_cap` bytes of stack
/// (bounded by `stack_end`, the end of the mapping holding sp, found by
/// `stack_end`'s caller from the registers), and detaches. Runs on a
/// thread of its own, since the tracer must be one thread: the caller waits
/// at most `wait`, and if the thread does not stop by then the helper
/// detaches whenever it does.
pub fn ptrace_capture(
    pid: u32,
    tid: u32,
    stack_cap: usize,
    stack_end: impl FnOnce(u64) -> Option<u64> + Send + 'static,
    wait: Duration,
) -> Result<Captured, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("ptrace".into())
        .spawn(move || {
            let _ = tx.send(capture_here(pid, tid, stack_cap, stack_end));
        })
        .map_err(|e| format!("no thread for ptrace: {e}"))?;
    match rx.recv_timeout(wait) {
        Ok(r) => r,
        Err(_) => Err(format!("did not stop within {} ms (it is detached as soon as it does)", wait.as_millis())),
    }
}

fn capture_here(
    pid: u32,
    tid: u32,
    stack_cap: usize,
    stack_end: impl FnOnce(u64) -> Option<u64>,
) -> Result<Captured, String> {
    let t = tid as libc::pid_t;
    let os = |what: &str| format!("{what}: {}", io::Error::last_os_error());
    // SAFETY: plain ptrace requests on a thread id; no memory is passed.
    if unsafe { libc::ptrace(libc::PTRACE_SEIZE, t, 0, 0) } != 0 {
        return Err(os("PTRACE_SEIZE"));
    }
    // SAFETY: as above; the thread is ours to interrupt once seized.
    if unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, t, 0, 0) } != 0 {
        let e = os("PTRACE_INTERRUPT");
        // SAFETY: a seized, running tracee may be detached directly.
        unsafe { libc::ptrace(libc::PTRACE_DETACH, t, 0, 0) };
        return Err(e);
    }
    let mut status = 0;
    // SAFETY: waiting for our own tracee.
    let r = unsafe { libc::waitpid(t, &mut status, libc::__WALL) };
    if r != t {
        return Err(os("waitpid"));
    }
    if !libc::WIFSTOPPED(status) {
        return Err("the thread exited".into());
    }
    // A signal that arrived meanwhile stops the tracee first: hand it back
    // on detach so the process still gets it.
    let event = (status >> 16) & 0xff;
    let sig = libc::WSTOPSIG(status);
    let reinject = if event == 0 && sig != libc::SIGTRAP { sig } else { 0 };
    let mut raw = RawRegs([0; 34]);
    let mut iov = libc::iovec { iov_base: (&mut raw as *mut RawRegs).cast(), iov_len: std::mem::size_of::<RawRegs>() };
    // SAFETY: `iov` points at `raw`, large enough for NT_PRSTATUS.
    let got =
        unsafe { libc::ptrace(libc::PTRACE_GETREGSET, t, libc::NT_PRSTATUS as usize, &mut iov as *mut libc::iovec) };
    let regs = if got == 0 { decode(&raw.0) } else { None };
    let stack = regs.and_then(|r| {
        let end = stack_end(r.sp)?;
        let len = (end.saturating_sub(r.sp) as usize).min(stack_cap);
        read(pid, r.sp, len).ok()
    });
    // SAFETY: detaching our stopped tracee; it resumes where it was.
    unsafe { libc::ptrace(libc::PTRACE_DETACH, t, 0, reinject as usize) };
    let regs = regs.ok_or_else(|| os("PTRACE_GETREGSET"))?;
    Ok(Captured { regs, stack: stack.unwrap_or_default() })
}

#[cfg(target_arch = "x86_64")]
fn decode(w: &[u64; 34]) -> Option<Regs> {
    // struct user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp …
    Some(Regs { pc: w[16], sp: w[19], fp: w[4], lr: 0 })
}

#[cfg(target_arch = "aarch64")]
fn decode(w: &[u64; 34]) -> Option<Regs> {
    // struct user_pt_regs: x0..x30, sp, pc, pstate.
    Some(Regs { pc: w[32], sp: w[31], fp: w[29], lr: w[30] })
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn decode(_: &[u64; 34]) -> Option<Regs> {
    None
}
