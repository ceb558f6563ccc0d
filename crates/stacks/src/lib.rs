//! User-space stacks of the threads findings report, read without stopping
//! them: a thread blocked in a syscall shows its stack pointer and program
//! counter in /proc/PID/task/TID/syscall, and its stack can be copied with
//! process_vm_readv while it sleeps (the kernel neither stops nor wakes
//! it). The copy is checked: the syscall record is read again after it,
//! and a thread that moved meanwhile gets no stack. Unwinding and
//! symbols come from the files mapped in /proc/PID/maps. A Go process's
//! goroutines and a CPython process's own frames ([`python`]) are read
//! the same way, from the runtime's structures.
//!
//! A separate crate from `unwedge-collect` because it brings an unwinder
//! (framehop), a symbolizer (blazesym: ELF symbols, DWARF, debug links,
//! demangling) and an ELF reader (object): heavy dependencies that the
//! /proc and sock_diag walk does not need. Like collect, it only reads the
//! OS and decides nothing; the pipeline asks it for the threads that
//! findings report, after the last snapshot.

pub mod cpu;
pub mod elf;
pub mod godwarf;
pub mod gopclntab;
pub mod goroutines;
pub mod jvm;
pub mod maps;
pub mod mem;
pub mod python;
pub mod sample;
mod symbols;
mod unwind;

use elf::ModuleData;
use maps::{Mapping, Where};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
pub use unwedge_model::{Frame, GoroutineGroup, UserStack};
use unwind::{Placed, ProcUnwinder, StackCopy, Start};

/// How stacks are read (`--stacks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Not at all.
    Off,
    /// Threads blocked in a syscall (or already stopped) only: nothing is
    /// ever stopped.
    #[default]
    Auto,
    /// As `Auto`, and running threads are stopped for a moment with ptrace
    /// (PTRACE_SEIZE + PTRACE_INTERRUPT, never SIGSTOP), one at a time.
    Ptrace,
    /// As `Auto`, and each JVM a finding is about is asked for its own
    /// thread dump over its attach socket, as `jstack` does ([`jvm::attach`]):
    /// the one mode that makes the target do anything (a brief safepoint).
    Attach,
}

/// Threads read per scan at most.
pub const MAX_THREADS: usize = 64;
/// Stack bytes copied per thread at most.
pub const MAX_STACK: usize = 256 << 10;
/// Frames kept per thread at most.
pub const MAX_FRAMES: usize = 64;
/// Goroutine groups kept per process at most.
pub const MAX_GROUPS: usize = 20;
/// Modules (per build-id) whose tables stay cached between scans.
const MAX_MODULES: usize = 64;
/// ... and the bytes their tables may hold in all.
const MAX_CACHE_BYTES: usize = 96 << 20;
/// How long a ptraced thread may take to stop.
const PTRACE_WAIT: Duration = Duration::from_millis(200);
/// How long one process's maps and stacks may take to read.
const PROC_WAIT: Duration = Duration::from_millis(1000);
/// How long a scan may spend on stacks in all (not counting the last process).
const READ_BUDGET: Duration = Duration::from_secs(3);

/// One thread to read.
#[derive(Debug, Clone)]
pub struct Target {
    pub pid: u32,
    pub tid: u32,
    /// /proc/PID/task/TID/syscall as the last snapshot saw it: a thread
    /// that has left that syscall since is not the one the finding shows.
    pub syscall: Option<String>,
}

/// What a read yields: a stack (or why none) per thread, and notes for the
/// report's coverage.
#[derive(Debug, Default)]
pub struct Stacks {
    pub stacks: BTreeMap<(u32, u32), UserStack>,
    pub notes: Vec<String>,
}

/// The reader, with its caches: keep one for the life of the process
/// (`serve` does) so each binary's tables are loaded once.
pub struct Reader {
    symbols: symbols::Symbols,
    cache: ModuleCache,
    python: python::Cache,
    root: bool,
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
    }
}

/// Where separate debug files are looked up ("/usr/lib/debug" and its
/// .build-id tree), overridable with UNWEDGE_DEBUG_DIRS (colon-separated).
pub fn debug_dirs() -> Vec<PathBuf> {
    match std::env::var_os("UNWEDGE_DEBUG_DIRS") {
        Some(v) if !v.is_empty() => std::env::split_paths(&v).collect(),
        _ => vec![PathBuf::from("/usr/lib/debug"), PathBuf::from("/lib/debug")],
    }
}

impl Reader {
    pub fn new() -> Reader {
        Reader::with_debug_dirs(debug_dirs())
    }

    /// A reader that looks separate debug files up in `dirs` only.
    pub fn with_debug_dirs(dirs: Vec<PathBuf>) -> Reader {
        Reader {
            symbols: symbols::Symbols::new(dirs),
            cache: ModuleCache::default(),
            python: python::Cache::default(),
            // SAFETY: geteuid has no preconditions.
            root: unsafe { libc::geteuid() } == 0,
        }
    }

    /// Modules cached now (for tests and the serve RSS check).
    pub fn cached_modules(&self) -> usize {
        self.cache.entries.len()
    }

    /// The end of a scan of a long-lived reader (serve, watch): the
    /// binaries' tables no read of this scan used are dropped. A finding
    /// that lasts shows its sleeping threads' stacks from the caller's
    /// cache (they did not run), so it needs no table again; an agent on
    /// every host should not hold a dozen binaries' tables between
    /// incidents.
    pub fn end_scan(&mut self) {
        self.cache.drop_unused();
        for p in self.cache.evicted.drain(..) {
            self.symbols.evict(&p);
        }
    }

    /// Reads the stacks of `targets` (at most [`MAX_THREADS`], in the
    /// order given: most important first).
    pub fn read(&mut self, mode: Mode, targets: &[Target]) -> Stacks {
        let mut out = Stacks::default();
        if mode == Mode::Off || targets.is_empty() {
            return out;
        }
        if targets.len() > MAX_THREADS {
            out.notes
                .push(format!("user stacks read for the first {MAX_THREADS} of {} reported threads", targets.len()));
        }
        let mut by_pid: BTreeMap<u32, Vec<&Target>> = BTreeMap::new();
        let mut order = Vec::new();
        for t in targets.iter().take(MAX_THREADS) {
            if !by_pid.contains_key(&t.pid) {
                order.push(t.pid);
            }
            by_pid.entry(t.pid).or_default().push(t);
        }
        let mut denied = 0;
        let started = std::time::Instant::now();
        for pid in order {
            let targets: Vec<Target> = by_pid[&pid].iter().map(|t| (*t).clone()).collect();
            if started.elapsed() > READ_BUDGET {
                for t in &targets {
                    out.stacks.insert(
                        (pid, t.tid),
                        missing(format!("not read: the {} s budget for stacks was spent", READ_BUDGET.as_secs())),
                    );
                }
                continue;
            }
            let (maps, captured) = match capture_process(pid, mode, targets) {
                Ok(c) => c,
                Err(e) => {
                    for t in &by_pid[&pid] {
                        out.stacks.insert((pid, t.tid), missing(format!("not read: {e}")));
                    }
                    continue;
                }
            };
            let hint = interpreter_hint(pid, &maps);
            let mut proc = Proc { pid, maps, unwinder: ProcUnwinder::default() };
            let first = captured.first().map(|(tid, _)| *tid);
            for (tid, c) in captured {
                let mut stack = match c {
                    Ok(c) => self.unwind(&mut proc, c),
                    Err(e) => missing(e),
                };
                if stack.note.as_deref().is_some_and(|n| n.contains("Operation not permitted")) {
                    denied += 1;
                }
                stack.interpreter_hint = hint.clone();
                out.stacks.insert((pid, tid), stack);
            }
            // Once per process, on its first reported thread.
            if let Some((groups, note)) = self.goroutines(&mut proc) {
                if let Some(s) = first.and_then(|tid| out.stacks.get_mut(&(pid, tid))) {
                    s.goroutines = groups;
                    s.goroutines_note = note;
                }
            }
            // A Python process's own frames, for every reported thread;
            // where they were read, py-spy has nothing more to say.
            if let Some(py) = self.python.read(pid, &proc.maps, &by_pid[&pid]) {
                python::fill(&mut out.stacks, pid, &by_pid[&pid], py);
                let read = |s: &UserStack| {
                    !s.python.is_empty() || s.python_threads.as_ref().is_some_and(|p| !p.groups.is_empty())
                };
                if by_pid[&pid].iter().any(|t| out.stacks.get(&(pid, t.tid)).is_some_and(read)) {
                    for t in &by_pid[&pid] {
                        if let Some(s) = out.stacks.get_mut(&(pid, t.tid)) {
                            s.interpreter_hint = None;
                        }
                    }
                }
            }
        }
        if denied > 0 && !self.root {
            out.notes.push(format!(
                "{denied} user stacks not read: reading another process's memory needs CAP_SYS_PTRACE (run as root)"
            ));
        }
        out
    }

    /// Unwinds and names one captured stack.
    fn unwind(&mut self, proc: &mut Proc, c: Captured) -> UserStack {
        let copy = StackCopy { base: c.base, bytes: &c.stack };
        let (frames, mut note) = self.walk(proc, c.start, &copy);
        if c.stack.len() >= MAX_STACK && note.is_some() {
            note = note.map(|n| format!("{n}; {} KiB of stack were copied", MAX_STACK >> 10));
        }
        UserStack { frames, note, ..Default::default() }
    }

    /// Walks one stack copy and names its frames; why it ended early, if it did.
    fn walk(&mut self, proc: &mut Proc, start: Start, copy: &StackCopy) -> (Vec<Frame>, Option<String>) {
        let walk = self.walk_addrs(proc, start, copy);
        (self.symbols.frames(&walk.addrs, &proc.unwinder, &proc.maps), walk.note)
    }

    /// Walks one stack copy: the addresses, loading the modules it reaches.
    fn walk_addrs(&mut self, proc: &mut Proc, start: Start, copy: &StackCopy) -> unwind::Walk {
        let pid = proc.pid;
        let cache = &mut self.cache;
        let maps = &proc.maps;
        let walk = proc.unwinder.walk(start, copy, MAX_FRAMES, |addr, u| {
            if u.module_at(addr).is_none() {
                if let Some(p) = cache.place(pid, maps, addr) {
                    u.add(p);
                }
            }
        });
        for p in self.cache.evicted.drain(..) {
            self.symbols.evict(&p);
        }
        walk
    }

    /// A Go process's goroutines grouped by stack, and why they are
    /// missing or incomplete; `None` for a process that is not Go.
    fn goroutines(&mut self, proc: &mut Proc) -> Option<(Option<Vec<GoroutineGroup>>, Option<String>)> {
        let pid = proc.pid;
        let go = match proc.unwinder.modules.iter().find(|m| m.data.go.is_some()) {
            Some(m) => m.clone(),
            None => {
                // No reported thread reached the Go code (it is all in the
                // scheduler's futex, say): the executable's text mapping.
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
                let exe = exe.to_str()?.trim_end_matches(" (deleted)");
                let m = proc
                    .maps
                    .iter()
                    .find(|m| m.exec && m.path.as_deref().is_some_and(|p| p.trim_end_matches(" (deleted)") == exe))?;
                let p = self.cache.place(pid, &proc.maps, m.start)?;
                p.data.go.as_ref()?;
                proc.unwinder.add(p.clone());
                p
            }
        };
        let version = go.data.go_version.clone();
        let Some(layout) = go.data.g_layout else {
            let v = version.as_deref().unwrap_or("an unknown Go version");
            let why = if go.data.allgs.is_some() {
                "and the binary has no DWARF to read it from"
            } else {
                "and the binary is stripped"
            };
            return Some((
                None,
                Some(format!(
                    "goroutines not read: the runtime's g layout of {v} is not known to unwedge (known: go1.19), {why}"
                )),
            ));
        };
        // From the symbol table, else (stripped) found in .bss and checked.
        let allgs = match (go.data.allgs, go.data.bss.clone()) {
            (Some(a), _) => Ok(a.wrapping_add(go.bias)),
            (None, Some(bss)) => Err(bss.start.wrapping_add(go.bias)..bss.end.wrapping_add(go.bias)),
            (None, None) => {
                return Some((
                    None,
                    Some("goroutines not read: the binary is stripped and has no .bss section".into()),
                ));
            }
        };
        let copied = match copy_goroutines(pid, allgs, layout, go.clone()) {
            Ok(c) => c,
            Err(e) => return Some((None, Some(format!("goroutines not read: {e}")))),
        };
        let mut groups: HashMap<Vec<String>, GoroutineGroup> = HashMap::new();
        let mut cut = 0;
        for g in &copied.gs {
            let copy = StackCopy { base: g.sp, bytes: &g.stack };
            let start = Start { pc: g.pc, sp: g.sp, fp: Some(g.bp), lr: None };
            let (frames, note) = self.walk(proc, start, &copy);
            if note.is_some() {
                cut += 1;
            }
            let key: Vec<String> =
                frames.iter().map(|f| f.function.clone().unwrap_or_else(|| f.addr.clone())).collect();
            let e = groups.entry(key).or_insert_with(|| GoroutineGroup {
                count: 0,
                // As Go's own traceback heads a goroutine: its wait reason, or its state.
                wait_reason: match g.status & 0xfff {
                    4 => match &copied.reasons {
                        Some(names) => names.get(g.waitreason as usize).filter(|n| !n.is_empty()).cloned(),
                        None => goroutines::wait_reason(layout.minor, g.waitreason).map(String::from),
                    },
                    3 => Some("syscall".into()),
                    1 => Some("runnable".into()),
                    _ => None,
                },
                frames,
            });
            e.count += 1;
        }
        let mut list: Vec<(Vec<String>, GoroutineGroup)> =
            groups.into_iter().filter(|(k, _)| !k.iter().all(|n| n.starts_with("runtime."))).collect();
        // Most numerous first; on a tie, network waits last: every idle
        // server has its accept loop and keep-alive readers in IO wait.
        let io = |g: &GoroutineGroup| g.wait_reason.as_deref() == Some("IO wait");
        list.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(io(&a.1).cmp(&io(&b.1))).then_with(|| a.0.cmp(&b.0)));
        let mut notes = copied.notes;
        if cut > 0 {
            notes.push(format!("{cut} goroutine stacks end early"));
        }
        if list.len() > MAX_GROUPS {
            notes.push(format!("the {MAX_GROUPS} largest of {} goroutine groups are shown", list.len()));
            list.truncate(MAX_GROUPS);
        }
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        Some((Some(list.into_iter().map(|(_, g)| g).collect()), note))
    }
}

/// Copies a Go process's goroutines on a helper thread, for the reason
/// [`capture_process`] does: process_vm_readv takes the target's mmap lock.
fn copy_goroutines(
    pid: u32,
    allgs: Result<u64, std::ops::Range<u64>>,
    layout: goroutines::Layout,
    go: Placed,
) -> Result<goroutines::Copied, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("goroutine-read".into())
        .spawn(move || {
            let reasons =
                go.data.wait_reasons.and_then(|(a, n)| goroutines::read_reasons(pid, a.wrapping_add(go.bias), n));
            let r = match allgs {
                Ok(a) => goroutines::copy(pid, a, &layout),
                Err(bss) => {
                    let table = go.data.go.as_ref();
                    let is_code = |pc: u64| table.is_some_and(|t| t.lookup(pc.wrapping_sub(go.bias)).is_some());
                    goroutines::find_allgs(pid, bss, &layout, &is_code).and_then(|a| {
                        let mut c = goroutines::copy(pid, a, &layout)?;
                        c.notes.insert(0, "runtime.allgs found by scanning .bss (the binary is stripped)".into());
                        Ok(c)
                    })
                }
            };
            let _ = tx.send(r.map(|c| goroutines::Copied { reasons, ..c }));
        })
        .map_err(|e| format!("no thread to read them: {e}"))?;
    rx.recv_timeout(goroutines::G_BUDGET + PROC_WAIT)
        .map_err(|_| "its memory did not answer in time (a thread stuck in the kernel?)".to_string())?
}

/// A thread's registers and stack bytes, as read from the OS.
struct Captured {
    start: Start,
    stack: Vec<u8>,
    base: u64,
}

type ProcCapture = (Vec<Mapping>, Vec<(u32, Result<Captured, String>)>);

/// Reads one process's maps and its threads' stacks on a helper thread:
/// /proc/PID/maps and process_vm_readv take the target's mmap lock, which
/// a thread stuck in the kernel (a hung FUSE or NFS mount) can hold for
/// ever. The scan waits [`PROC_WAIT`] at most and leaves the helper behind.
fn capture_process(pid: u32, mode: Mode, targets: Vec<Target>) -> Result<ProcCapture, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("stack-read".into())
        .spawn(move || {
            let r = mem::read_file(&format!("/proc/{pid}/maps"), 16 << 20).map_err(|e| e.to_string()).map(|text| {
                let maps = maps::parse(&text);
                let threads = targets.iter().map(|t| (t.tid, capture_thread(mode, pid, &maps, t))).collect();
                (maps, threads)
            });
            let _ = tx.send(r);
        })
        .map_err(|e| format!("no thread to read it: {e}"))?;
    rx.recv_timeout(PROC_WAIT).map_err(|_| {
        format!("its memory map did not answer within {} ms (a thread stuck in the kernel?)", PROC_WAIT.as_millis())
    })?
}

/// One thread's registers and stack, or why not.
fn capture_thread(mode: Mode, pid: u32, maps: &[Mapping], t: &Target) -> Result<Captured, String> {
    let sys_path = format!("/proc/{pid}/task/{}/syscall", t.tid);
    let before = mem::read_file(&sys_path, 512).map_err(|e| format!("not read: {e}"))?;
    let same_as_snapshot = t.syscall.as_deref().is_none_or(|s| s.trim().as_bytes() == before.trim_ascii());
    match maps::parse_syscall(&before) {
        Some(Where::Syscall { sp, pc, .. }) | Some(Where::Stopped { sp, pc }) => {
            if !same_as_snapshot {
                return Err("not read: the thread left the syscall the finding shows before its stack was read".into());
            }
            let end =
                stack_end(maps, sp).ok_or_else(|| format!("not read: its stack pointer {sp:#x} is in no mapping"))?;
            let len = (end - sp).min(MAX_STACK as u64) as usize;
            let stack = mem::read(pid, sp, len).map_err(|e| format!("not read: {e}"))?;
            // The copy is the thread's stack only if it never ran meanwhile.
            if mem::read_file(&sys_path, 512).ok().as_deref() != Some(&before[..]) {
                return Err("not read: the thread ran while its stack was copied".into());
            }
            Ok(Captured { start: Start { pc, sp, fp: None, lr: None }, stack, base: sp })
        }
        Some(Where::Running) if mode == Mode::Ptrace => {
            let c = ptrace(pid, maps, t.tid)?;
            let r = c.regs;
            let start = Start { pc: r.pc, sp: r.sp, fp: Some(r.fp), lr: (r.lr != 0).then_some(r.lr) };
            Ok(Captured { start, stack: c.stack, base: r.sp })
        }
        Some(Where::Running) => {
            Err("not read: the thread is running (--stacks=ptrace stops it for a moment to read it)".into())
        }
        None => Err("not read: no syscall record".into()),
    }
}

/// The end of the writable mapping holding `sp`: the stack copy stops there.
fn stack_end(maps: &[Mapping], sp: u64) -> Option<u64> {
    maps.iter().find(|m| m.contains(sp) && m.read && m.write).map(|m| m.end)
}

/// Stops a running thread for a moment to read it: never a thread that
/// already has a tracer (a debugger holds it; attaching would fail or
/// steal it), never one that is stopped or in the kernel.
fn ptrace(pid: u32, maps: &[Mapping], tid: u32) -> Result<mem::Captured, String> {
    let status =
        mem::read_file(&format!("/proc/{pid}/task/{tid}/status"), 8192).map_err(|e| format!("not read: {e}"))?;
    let text = String::from_utf8_lossy(&status);
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
    if let Some(tracer) = field("TracerPid:").filter(|v| *v != "0") {
        let comm = std::fs::read_to_string(format!("/proc/{tracer}/comm")).unwrap_or_default();
        return Err(format!(
            "not read: already traced by pid {tracer} ({}); unwedge does not attach to a traced thread",
            comm.trim()
        ));
    }
    if !field("State:").is_some_and(|s| s.starts_with('R')) {
        return Err("not read: the thread is no longer running".into());
    }
    let maps = maps.to_vec();
    let end = move |sp: u64| stack_end(&maps, sp);
    mem::ptrace_capture(pid, tid, MAX_STACK, end, PTRACE_WAIT).map_err(|e| format!("not read with ptrace: {e}"))
}

fn missing(note: String) -> UserStack {
    UserStack { note: Some(note), ..Default::default() }
}

/// What the interpreter's own frames would need: the native stack of a
/// Python, Ruby or Java process shows the interpreter loop, not the script.
fn interpreter_hint(pid: u32, maps: &[Mapping]) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    let has = |lib: &str| {
        maps.iter().any(|m| m.path.as_deref().and_then(|p| p.rsplit('/').next()).is_some_and(|f| f.starts_with(lib)))
    };
    if name.starts_with("python") || name.starts_with("uwsgi") || has("libpython") {
        Some(format!("py-spy dump --pid {pid} --nonblocking (Python frames, without stopping it)"))
    } else if name.starts_with("ruby") || has("libruby") {
        Some(format!("rbspy snapshot --pid {pid} (Ruby frames)"))
    } else if name == "java" || has("libjvm") {
        Some(format!("jcmd {pid} Thread.print (Java frames; the JVM pauses at a safepoint)"))
    } else if name == "node" || name.starts_with("nodejs") {
        Some(format!("node --inspect, or kill -USR1 {pid} then a debugger (JavaScript frames)"))
    } else {
        None
    }
}

/// A target process during one read: its mappings and its unwinder.
struct Proc {
    pid: u32,
    maps: Vec<Mapping>,
    unwinder: ProcUnwinder,
}

/// The cache key of a module: its build-id, or the file's identity when it has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    BuildId(Vec<u8>),
    File { dev: (u32, u32), inode: u64 },
}

struct Entry {
    data: Arc<ModuleData>,
    /// The path blazesym opened it by (its symbols are cached under it).
    path: PathBuf,
    used: u64,
}

/// Module tables by build-id, bounded by count and bytes; least recently
/// used first out.
#[derive(Default)]
struct ModuleCache {
    /// (dev, inode) of a mapped file -> its key, so a file is opened once.
    files: HashMap<((u32, u32), u64), Key>,
    entries: HashMap<Key, Entry>,
    /// Entries dropped since the symbolizer last forgot them.
    evicted: Vec<PathBuf>,
    clock: u64,
    /// The clock when the scan began (`drop_unused`).
    scan_start: u64,
    bytes: usize,
}

impl ModuleCache {
    /// The module mapped (executable) at `addr` of `pid`, placed at its
    /// load address; loaded from the file the first time.
    fn place(&mut self, pid: u32, maps: &[Mapping], addr: u64) -> Option<Placed> {
        let m = maps.iter().find(|m| m.contains(addr) && m.exec && m.is_file())?;
        let key = self.load(pid, m)?;
        self.clock += 1;
        let e = self.entries.get_mut(&key)?;
        e.used = self.clock;
        let bias = e.data.bias(m.start, m.offset)?;
        Some(Placed { start: m.start, end: m.end, bias, data: e.data.clone(), path: e.path.clone() })
    }

    fn load(&mut self, pid: u32, m: &Mapping) -> Option<Key> {
        let id = (m.dev, m.inode);
        if let Some(k) = self.files.get(&id).filter(|k| self.entries.contains_key(*k)) {
            return Some(k.clone());
        }
        let path = m.path.as_deref()?;
        // The file as the process sees it (its mount namespace), or the
        // exact inode it mapped when it was deleted or replaced since.
        let by_root = format!("/proc/{pid}/root{path}");
        let by_map = format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end);
        let (file, open_path) = if path.ends_with(" (deleted)") {
            (mem::Mapped::open(&by_map).ok()?, by_map)
        } else {
            match mem::Mapped::open(&by_root) {
                Ok(f) => (f, by_root),
                Err(_) => (mem::Mapped::open(&by_map).ok()?, by_map),
            }
        };
        let data = ModuleData::parse(file.bytes()).ok()?;
        let key = match &data.build_id {
            Some(b) => Key::BuildId(b.clone()),
            None => Key::File { dev: m.dev, inode: m.inode },
        };
        if !self.entries.contains_key(&key) {
            self.bytes += data.size();
            self.entries.insert(key.clone(), Entry { data: Arc::new(data), path: open_path.into(), used: self.clock });
            self.trim(&key);
        }
        if self.files.len() > 4 * MAX_MODULES {
            self.files.clear();
        }
        self.files.insert(id, key.clone());
        Some(key)
    }

    /// Drops the entries not used since the last call.
    fn drop_unused(&mut self) {
        let since = self.scan_start;
        let unused: Vec<Key> = self.entries.iter().filter(|(_, e)| e.used <= since).map(|(k, _)| k.clone()).collect();
        for k in unused {
            self.evict(&k);
        }
        self.files.retain(|_, k| self.entries.contains_key(k));
        self.scan_start = self.clock;
    }

    /// Drops least recently used entries beyond the bounds (never `keep`).
    fn trim(&mut self, keep: &Key) {
        while self.entries.len() > MAX_MODULES || (self.bytes > MAX_CACHE_BYTES && self.entries.len() > 1) {
            let Some(oldest) =
                self.entries.iter().filter(|(k, _)| *k != keep).min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())
            else {
                break;
            };
            self.evict(&oldest);
        }
    }

    /// Drops one entry; the symbolizer forgets its file at the next chance.
    fn evict(&mut self, k: &Key) {
        if let Some(e) = self.entries.remove(k) {
            self.bytes = self.bytes.saturating_sub(e.data.size());
            self.evicted.push(e.path);
        }
    }
}
