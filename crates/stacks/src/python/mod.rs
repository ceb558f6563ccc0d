//! A CPython process's own frames, read without stopping it (as `py-spy
//! dump --nonblocking` does): its native stacks show only the interpreter
//! loop (`recv ← 0x5fe546 (python3.11)`), while its thread states name
//! the function, file and line each thread runs, and which one holds the
//! GIL. Everything is copied with process_vm_readv: the interpreter file
//! (python3.X, or libpython3.X.so for a libpython-linked one, uWSGI's
//! plugin included) gives the version and `_PyRuntime`; [`layout`] gives
//! the offsets for that version (3.8–3.13; others get a note naming
//! py-spy); [`walk`] follows the pointers. A thread whose innermost frame
//! or syscall record changed while its frames were copied ran meanwhile:
//! its frames are dropped, as a goroutine's are.

pub mod binary;
pub mod decode;
pub mod layout;
pub mod sample;
pub mod walk;

use crate::maps::Mapping;
use crate::{mem, Target, UserStack};
use binary::{Binary, Version};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unwedge_model::stack::{PyFrame, PyGroup, PyThreads};
use walk::{Live, Memory, Types};

/// Python threads whose frames are read per process at most.
pub const MAX_PY_THREADS: usize = 1024;
/// How long reading one process's Python threads may take; what is left
/// when it is spent gets a note.
const PY_BUDGET: Duration = Duration::from_millis(600);
/// How long the scan waits for the reading thread (process_vm_readv takes
/// the target's mmap lock, which a thread stuck in the kernel can hold).
const PY_WAIT: Duration = Duration::from_millis(1000);
/// Stack groups kept per process, and thread ids per group.
const MAX_PY_GROUPS: usize = 20;
const GROUP_TIDS: usize = 8;
/// Interpreter files remembered (by device and inode).
const MAX_FILES: usize = 32;

/// A process's interpreter: its file's facts and where it is loaded.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: String,
    pub binary: Arc<Binary>,
    /// Run-time address = link-time address + bias.
    pub bias: u64,
    /// The data sections, run-time (for a `_PyRuntime` without a symbol).
    pub data: Vec<std::ops::Range<u64>>,
}

impl Found {
    fn at(&self, link: u64) -> u64 {
        link.wrapping_add(self.bias)
    }

    fn types(&self) -> Types {
        let b = &self.binary;
        Types {
            code: b.code_type.map(|a| self.at(a)),
            unicode: b.unicode_type.map(|a| self.at(a)),
            bytes: b.bytes_type.map(|a| self.at(a)),
            frame: b.frame_type.map(|a| self.at(a)),
        }
    }
}

/// A mapped file's identity: device and inode.
type FileId = ((u32, u32), u64);

/// Interpreter files already parsed, kept between scans.
#[derive(Default)]
pub struct Cache {
    files: HashMap<FileId, Option<Arc<Binary>>>,
}

/// Whether `pid` runs CPython: an executable named python*, or libpython mapped.
pub fn is_python(pid: u32, maps: &[Mapping]) -> bool {
    exe_name(pid).is_some_and(|n| n.starts_with("python")) || maps.iter().any(|m| file_name(m).starts_with("libpython"))
}

fn exe_name(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(exe.file_name()?.to_string_lossy().trim_end_matches(" (deleted)").to_string())
}

fn file_name(m: &Mapping) -> &str {
    m.path.as_deref().and_then(|p| p.rsplit('/').next()).unwrap_or("")
}

impl Cache {
    /// The interpreter of `pid`: libpython when mapped, else the
    /// executable; `None` when the process runs no CPython.
    pub fn find(&mut self, pid: u32, maps: &[Mapping]) -> Option<Result<Found, String>> {
        if !is_python(pid, maps) {
            return None;
        }
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let exe = exe.as_ref().and_then(|e| e.to_str()).map(|e| e.trim_end_matches(" (deleted)").to_string());
        // Each file's first mapping (the lowest offset): libpython first.
        let mut files: Vec<&Mapping> = Vec::new();
        for m in maps.iter().filter(|m| m.is_file()) {
            if files.iter().any(|f| f.inode == m.inode && f.dev == m.dev) {
                continue;
            }
            let lib = file_name(m).starts_with("libpython");
            let is_exe =
                exe.as_deref().is_some_and(|e| m.path.as_deref().map(|p| p.trim_end_matches(" (deleted)")) == Some(e));
            if lib || is_exe {
                files.push(m);
            }
        }
        files.sort_by_key(|m| !file_name(m).starts_with("libpython"));
        let mut fallback = None;
        for m in files {
            let Some(binary) = self.load(pid, m) else { continue };
            let bias = crate::elf::ModuleData { segments: binary.segments.clone(), ..Default::default() }
                .bias(m.start, m.offset);
            let Some(bias) = bias else { continue };
            let found = Found {
                path: m.path.clone().unwrap_or_default(),
                data: binary.data.iter().map(|r| r.start.wrapping_add(bias)..r.end.wrapping_add(bias)).collect(),
                binary: binary.clone(),
                bias,
            };
            if binary.runtime.is_some() {
                return Some(Ok(found));
            }
            if binary.code_type.is_some() && fallback.is_none() {
                fallback = Some(found);
            }
        }
        Some(fallback.ok_or_else(|| "no CPython interpreter file (python3.X or libpython3.X) could be read".into()))
    }

    fn load(&mut self, pid: u32, m: &Mapping) -> Option<Arc<Binary>> {
        let key = (m.dev, m.inode);
        if let Some(b) = self.files.get(&key) {
            return b.clone();
        }
        let path = m.path.as_deref()?;
        let by_root = format!("/proc/{pid}/root{path}");
        let by_map = format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end);
        let file = if path.ends_with(" (deleted)") {
            mem::Mapped::open(&by_map).ok()
        } else {
            mem::Mapped::open(&by_root).or_else(|_| mem::Mapped::open(&by_map)).ok()
        };
        let b = file.and_then(|f| Binary::parse(f.bytes(), file_name(m)).ok()).map(Arc::new);
        if self.files.len() >= MAX_FILES {
            self.files.clear();
        }
        self.files.insert(key, b.clone());
        b
    }

    /// Reads the Python threads of `pid` (its reported threads `targets`
    /// first): `None` for a process that runs no CPython.
    pub fn read(&mut self, pid: u32, maps: &[Mapping], targets: &[&Target]) -> Option<Result<ProcessRead, String>> {
        let found = match self.find(pid, maps)? {
            Ok(f) => f,
            Err(e) => return Some(Err(e)),
        };
        let targets: Vec<Target> = targets.iter().map(|t| (*t).clone()).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("python-read".into()).spawn(move || {
            let _ = tx.send(read_process(pid, &found, &targets, PY_BUDGET));
        });
        if let Err(e) = spawned {
            return Some(Err(format!("no thread to read them: {e}")));
        }
        Some(rx.recv_timeout(PY_WAIT).unwrap_or_else(|_| {
            Err(format!("its memory did not answer within {} ms (a thread stuck in the kernel?)", PY_WAIT.as_millis()))
        }))
    }
}

/// How thread states were matched to threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// `native_thread_id` (3.11+).
    Native,
    /// The TID field of each thread's `struct pthread` (3.8–3.10).
    Pthread,
    /// Not matched: 3.8–3.10 and no `struct pthread` field fit.
    None,
}

/// One Python thread as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PyThread {
    pub tid: Option<u32>,
    pub frames: Vec<PyFrame>,
    pub note: Option<String>,
    pub holds_gil: Option<bool>,
}

/// A process's Python threads.
#[derive(Debug, Clone)]
pub struct ProcessRead {
    pub version: Version,
    pub threads: Vec<PyThread>,
    /// Thread states listed (more than `threads` when bounds cut the read).
    pub total: usize,
    pub gil_holder: Option<u32>,
    pub matched: Matched,
    /// Thread states not matched to a thread.
    pub unmatched: usize,
    pub notes: Vec<String>,
}

/// The layout of the interpreter `found` in `m`, and its `_PyRuntime`.
pub fn layout_of(m: &dyn Memory, found: &Found) -> Result<(layout::Layout, u64), String> {
    let v = found.binary.version.ok_or_else(|| format!("the CPython version of {} could not be read", found.path))?;
    let table = layout::layout(v.minor)
        .filter(|_| v.major == 3)
        .ok_or_else(|| format!("CPython {v} is not known to unwedge (known: 3.8 to 3.13)"))?;
    let runtime = match found.binary.runtime {
        Some(a) => found.at(a),
        None => walk::find_runtime(m, &table, &found.data)?,
    };
    if v.minor == 13 {
        let b = m.read(runtime, layout::DEBUG_OFFSETS_313).ok_or("_PyRuntime could not be read")?;
        let l = layout::from_debug_offsets(&b).map_err(|e| format!("{e} (layout check failed)"))?;
        return Ok((l, runtime));
    }
    Ok((table, runtime))
}

fn tasks(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

fn syscall(pid: u32, tid: u32) -> Option<Vec<u8>> {
    mem::read_file(&format!("/proc/{pid}/task/{tid}/syscall"), 512).ok()
}

/// Reads `pid`'s Python threads: every thread state's frames (at most
/// [`MAX_PY_THREADS`], `targets`' first, within `budget`), each checked
/// after its copy, and the GIL's holder.
pub fn read_process(pid: u32, found: &Found, targets: &[Target], budget: Duration) -> Result<ProcessRead, String> {
    let started = Instant::now();
    let m = Live(pid);
    let (l, runtime) = layout_of(&m, found)?;
    let version = found.binary.version.unwrap_or(Version { major: 3, minor: l.minor, micro: None });
    let listed = walk::thread_states(&m, &l, runtime)?;
    let mut notes = Vec::new();
    if listed.cut {
        notes.push(format!("the first {} thread states were listed", listed.threads.len()));
    }
    let gil_before = walk::gil(&m, &l, runtime, &listed.interps);
    // Which TID each thread state is.
    let tasks = tasks(pid);
    let pthreads: Vec<u64> = listed.threads.iter().map(|t| t.thread_id).collect();
    let (tids, matched): (Vec<Option<u32>>, Matched) = if l.ts_native_id.is_some() {
        let mut ids: Vec<Option<u32>> = listed.threads.iter().map(|t| t.native_id).collect();
        // A thread state made before a fork that CPython did not see (uWSGI
        // forks its workers from C) keeps the parent's TID: its struct
        // pthread, which the C library updates, says which thread it is —
        // when the offset found agrees with every other thread state.
        if ids.iter().any(|id| id.is_none_or(|id| !tasks.contains(&id))) {
            let by_pthread = walk::pthread_tids(&m, &pthreads, &tasks);
            let agrees = |p: &Vec<Option<u32>>| {
                ids.iter().zip(p).all(|(id, p)| id.is_none_or(|id| !tasks.contains(&id) || Some(id) == *p))
            };
            match by_pthread.filter(agrees) {
                Some(p) => ids = p,
                None => ids.iter_mut().for_each(|id| *id = id.filter(|id| tasks.contains(id))),
            }
        }
        (ids, Matched::Native)
    } else {
        match walk::pthread_tids(&m, &pthreads, &tasks) {
            Some(t) => (t, Matched::Pthread),
            None => {
                notes.push(format!(
                    "CPython {version} keeps only pthread ids, and no field of the threads' struct pthread held their \
                     TIDs: threads are not matched to their Python frames"
                ));
                (vec![None; listed.threads.len()], Matched::None)
            }
        }
    };
    let wanted = |tid: Option<u32>| tid.is_some_and(|t| targets.iter().any(|x| x.tid == t));
    let mut order: Vec<usize> = (0..listed.threads.len()).collect();
    order.sort_by_key(|&i| !wanted(tids[i]));
    let mut walker = walk::Walker::new(&m, l, found.types());
    let mut threads = Vec::new();
    let (mut moved, mut unread) = (0, 0);
    for (n, &i) in order.iter().enumerate() {
        if n >= MAX_PY_THREADS || started.elapsed() > budget {
            unread = order.len() - n;
            break;
        }
        let ts = &listed.threads[i];
        let tid = tids[i];
        let mut t = PyThread { tid, ..Default::default() };
        let before = tid.and_then(|tid| syscall(pid, tid));
        let snapshot = tid.and_then(|tid| targets.iter().find(|x| x.tid == tid)).and_then(|x| x.syscall.as_deref());
        if let (Some(want), Some(now)) = (snapshot, before.as_deref()) {
            if want.trim().as_bytes() != now.trim_ascii() {
                t.note =
                    Some("not read: the thread left the syscall the finding shows before its frames were read".into());
                threads.push(t);
                continue;
            }
        }
        let Some(h) = walk::head(&m, &l, ts.addr) else {
            t.note = Some("not read: its thread state could not be read".into());
            threads.push(t);
            continue;
        };
        let w = walker.stack(h);
        // The copy is the thread's only if it did not run meanwhile.
        let still = walk::head(&m, &l, ts.addr) == Some(h)
            && walk::top(&m, &l, h) == w.top
            && tid.and_then(|tid| syscall(pid, tid)) == before;
        if !still {
            moved += 1;
            t.note = Some("not read: the thread ran while its Python frames were copied".into());
        } else {
            t.frames = w.frames;
            t.note = w.note;
        }
        threads.push(t);
    }
    if moved > 0 {
        notes.push(format!("{moved} Python threads ran while they were read and are not shown"));
    }
    if unread > 0 {
        notes.push(format!(
            "{unread} Python threads not read (the first {} ms or {MAX_PY_THREADS} threads were spent)",
            budget.as_millis()
        ));
    }
    // Who holds the GIL, if it stayed put while the threads were read.
    let gil_after = walk::gil(&m, &l, runtime, &listed.interps);
    let mut gil_holder = None;
    if let (Some(a), true) = (&gil_before, gil_before == gil_after) {
        let held: Vec<u64> = a.iter().filter(|(locked, _)| *locked).map(|&(_, h)| h).collect();
        for (n, &i) in order.iter().enumerate().take(threads.len()) {
            let holds = held.contains(&listed.threads[i].addr);
            threads[n].holds_gil = Some(holds);
            if holds {
                gil_holder = gil_holder.or(tids[i]);
            }
        }
    } else if gil_before.is_some() {
        notes.push("the GIL changed hands while the threads were read".into());
    }
    let unmatched = tids.iter().filter(|t| t.is_none()).count();
    Ok(ProcessRead { version, threads, total: listed.threads.len(), gil_holder, matched, unmatched, notes })
}

/// Puts what was read into the reported threads' stacks: each target its
/// own frames (or why not), the first one the process's groups.
pub fn fill(
    stacks: &mut BTreeMap<(u32, u32), UserStack>,
    pid: u32,
    targets: &[&Target],
    read: Result<ProcessRead, String>,
) {
    let read = match read {
        Ok(r) => r,
        Err(e) => {
            for t in targets {
                let s = stacks.entry((pid, t.tid)).or_default();
                s.python_note = Some(format!("Python frames not read: {e}; `py-spy dump --pid {pid}` may read them"));
            }
            return;
        }
    };
    for t in targets {
        let s = stacks.entry((pid, t.tid)).or_default();
        match read.threads.iter().find(|p| p.tid == Some(t.tid)) {
            Some(p) => {
                s.python = p.frames.clone();
                s.holds_gil = p.holds_gil;
                s.python_note = p.note.clone().or_else(|| {
                    p.frames
                        .is_empty()
                        .then(|| "its Python thread state has no frames (it runs no Python code now)".into())
                });
            }
            None if read.unmatched > 0 => {
                s.python_note = Some(format!(
                    "Python frames not matched to this thread ({} of {} thread states of CPython {} could not be tied \
                     to a thread); `py-spy dump --pid {pid}` shows them",
                    read.unmatched, read.total, read.version
                ));
            }
            None if read.threads.len() < read.total => {
                s.python_note = Some("Python frames not read: the reader's bounds were spent first".into());
            }
            None => s.python_note = Some("no Python thread state: the thread runs no Python code".into()),
        }
    }
    if let Some(first) = targets.first() {
        let s = stacks.entry((pid, first.tid)).or_default();
        s.python_threads = Some(threads(&read));
    }
}

/// The process's Python threads grouped by stack (function and file of
/// every frame), most numerous first.
pub fn threads(read: &ProcessRead) -> PyThreads {
    let mut groups: Vec<(Vec<(&str, &str)>, PyGroup)> = Vec::new();
    for t in read.threads.iter().filter(|t| !t.frames.is_empty()) {
        let key: Vec<(&str, &str)> = t.frames.iter().map(|f| (f.function.as_str(), f.file.as_str())).collect();
        let i = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((key, PyGroup { count: 0, tids: Vec::new(), frames: t.frames.clone() }));
                groups.len() - 1
            }
        };
        let g = &mut groups[i].1;
        g.count += 1;
        if let Some(tid) = t.tid.filter(|_| g.tids.len() < GROUP_TIDS) {
            g.tids.push(tid);
        }
    }
    groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
    let mut notes = read.notes.clone();
    if groups.len() > MAX_PY_GROUPS {
        notes.push(format!("the {MAX_PY_GROUPS} largest of {} Python stack groups are shown", groups.len()));
        groups.truncate(MAX_PY_GROUPS);
    }
    PyThreads {
        version: read.version.to_string(),
        total: read.total as u32,
        gil_holder: read.gil_holder,
        groups: groups.into_iter().map(|(_, g)| g).collect(),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(f: &str) -> PyFrame {
        PyFrame { function: f.into(), file: "app.py".into(), line: Some(1) }
    }

    fn read(threads: Vec<PyThread>, matched: Matched) -> ProcessRead {
        ProcessRead {
            version: Version { major: 3, minor: 11, micro: Some(2) },
            total: threads.len(),
            threads,
            gil_holder: Some(11),
            matched,
            unmatched: if matched == Matched::None { 1 } else { 0 },
            notes: vec![],
        }
    }

    #[test]
    fn fill_gives_each_target_its_frames_and_the_first_the_groups() {
        let pool = vec![frame("get"), frame("handle")];
        let threads = vec![
            PyThread { tid: Some(11), frames: pool.clone(), holds_gil: Some(true), note: None },
            PyThread { tid: Some(12), frames: pool.clone(), holds_gil: Some(false), note: None },
            PyThread { tid: Some(13), frames: vec![frame("recv_reply")], holds_gil: Some(false), note: None },
            PyThread { tid: Some(14), frames: vec![], holds_gil: Some(false), note: Some("not read: moved".into()) },
            PyThread { tid: Some(15), frames: vec![], holds_gil: Some(false), note: None },
        ];
        let targets = [11, 13, 14, 15, 99].map(|tid| Target { pid: 1, tid, syscall: None });
        let refs: Vec<&Target> = targets.iter().collect();
        let mut stacks = BTreeMap::new();
        fill(&mut stacks, 1, &refs, Ok(read(threads, Matched::Native)));
        assert_eq!(stacks[&(1, 11)].python, pool);
        assert_eq!(stacks[&(1, 11)].holds_gil, Some(true));
        assert_eq!(stacks[&(1, 13)].python, [frame("recv_reply")]);
        assert_eq!(stacks[&(1, 14)].python_note.as_deref(), Some("not read: moved"));
        assert!(stacks[&(1, 15)].python_note.as_deref().unwrap().contains("no frames"));
        assert!(stacks[&(1, 99)].python_note.as_deref().unwrap().contains("no Python thread state"));
        let g = stacks[&(1, 11)].python_threads.as_ref().unwrap();
        assert_eq!((g.total, g.gil_holder, g.version.as_str()), (5, Some(11), "3.11.2"));
        assert_eq!(g.groups.len(), 2);
        assert_eq!((g.groups[0].count, &g.groups[0].tids, &g.groups[0].frames), (2, &vec![11, 12], &pool));
        assert!(stacks[&(1, 13)].python_threads.is_none(), "once per process");
    }

    #[test]
    fn errors_and_unmatched_threads_say_so_and_name_py_spy() {
        let targets = [Target { pid: 7, tid: 8, syscall: None }];
        let refs: Vec<&Target> = targets.iter().collect();
        let mut stacks = BTreeMap::new();
        fill(&mut stacks, 7, &refs, Err("CPython 3.14.0 is not known to unwedge (known: 3.8 to 3.13)".into()));
        let n = stacks[&(7, 8)].python_note.clone().unwrap();
        assert!(n.contains("3.14.0") && n.contains("py-spy dump --pid 7"), "{n}");
        let mut stacks = BTreeMap::new();
        fill(&mut stacks, 7, &refs, Ok(read(vec![PyThread::default()], Matched::None)));
        let n = stacks[&(7, 8)].python_note.clone().unwrap();
        assert!(n.contains("could not be tied") && n.contains("py-spy dump --pid 7"), "{n}");
    }
}
