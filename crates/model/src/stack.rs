//! A thread's user-space stack as the reader found it (`UserStack`, on a
//! snapshot's thread), and as a person reads it: innermost first, the program's own
//! functions kept, runtime and C library frames folded to the one call the
//! program made into them ("pthread_join ← wait_for_filter ← handle_client
//! ← main"), the start-up frames beneath `main` dropped; and an
//! interpreter's own frames (Python's), as a traceback names them. Pure;
//! used by the fix texts and the human report alike.

use serde::{Deserialize, Serialize};

/// A thread's user-space stack as the stack reader found it.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct UserStack {
    /// Innermost first; empty when none could be read (`note` says why).
    pub frames: Vec<Frame>,
    /// Why the stack is missing or ends early ("unwinding stopped at
    /// 0x… (no unwind information)"); `None` for a stack that reached its
    /// outermost frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A tool that shows the interpreter's own frames, when the process runs
    /// one ("py-spy dump --pid 1234 --nonblocking").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter_hint: Option<String>,
    /// A Go process's goroutines, grouped by stack (as `go tool pprof
    /// goroutine?debug=1` does), most numerous first; on the first reported
    /// thread of the process only. Its OS threads all sit in the scheduler,
    /// so the goroutines are what names the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines: Option<Vec<GoroutineGroup>>,
    /// Why the goroutines are missing or incomplete ("goroutines need the
    /// symbol table (runtime.allgs): the binary is stripped").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutines_note: Option<String>,
    /// A Python thread's own frames (function, file, line), innermost
    /// first, read from its interpreter's thread state without stopping
    /// it; empty for a thread that runs no Python code, or whose frames
    /// could not be read (`python_note` says why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub python: Vec<PyFrame>,
    /// Why the Python frames are missing or cut ("the thread ran while its
    /// frames were read", "CPython 3.14 is not known to unwedge: py-spy
    /// dump --pid 1234").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_note: Option<String>,
    /// Whether this thread held the GIL when it was read (`None`: not a
    /// Python thread, or the GIL changed hands during the read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_gil: Option<bool>,
    /// A Python process's threads as its interpreter lists them, grouped
    /// by stack (as goroutines are), with the GIL's holder; on the first
    /// reported thread of the process only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_threads: Option<PyThreads>,
}

/// Goroutines with the same stack (by function names).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct GoroutineGroup {
    pub count: u32,
    /// The runtime's wait reason ("sync.Mutex.Lock", "chan receive", "IO
    /// wait"), when the Go version's table is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_reason: Option<String>,
    /// The stack of one of them, innermost first.
    pub frames: Vec<Frame>,
}

/// One user-space frame (the contract's `user_stack` item).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Frame {
    /// The instruction pointer (innermost frame) or return address, "0x…".
    pub addr: String,
    /// Demangled function name, when a symbol covers the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The file mapped at the address ("/usr/lib/x86_64-linux-gnu/libc.so.6").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The compiler inlined this function into the frame that follows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inlined: bool,
}

/// One frame of a Python thread as its interpreter keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq, Hash)]
pub struct PyFrame {
    /// The code object's qualified name ("Pool.get"; CPython before 3.11
    /// keeps the bare name, "get"); "<module>" for a module's top level.
    pub function: String,
    /// The code object's file name, as the interpreter has it.
    pub file: String,
    /// The line running, from the code's line table; `None` when the
    /// instruction has no line (or the table could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl PyFrame {
    /// "Pool.get (pool.py:42)", as a traceback names a frame (the file's
    /// last component only).
    pub fn display(&self) -> String {
        let file = self.file.rsplit('/').next().unwrap_or(&self.file);
        match self.line {
            Some(l) => format!("{} ({file}:{l})", self.function),
            None => format!("{} ({file})", self.function),
        }
    }
}

/// A Python process's threads, as its interpreter lists them.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct PyThreads {
    /// The interpreter's version ("3.11.2", or "3.9" when only the minor
    /// version is known).
    pub version: String,
    /// Thread states the interpreter lists.
    pub total: u32,
    /// The thread (TID) holding the GIL when the threads were read; `None`
    /// when nobody held it, or it changed hands during the read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil_holder: Option<u32>,
    /// Threads with the same Python stack (by function and file), most
    /// numerous first; threads without Python frames are left out.
    pub groups: Vec<PyGroup>,
    /// Why some threads are missing ("2 threads ran while they were read").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Python threads with the same stack.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct PyGroup {
    pub count: u32,
    /// Their thread ids (the first few).
    pub tids: Vec<u32>,
    /// The stack of the first of them, innermost first.
    pub frames: Vec<PyFrame>,
}

/// A Python stack for reading: "get (queue.py:171) ← checkout (app.py:20)
/// ← handle (app.py:31)", innermost first.
pub fn fold_python(frames: &[PyFrame]) -> String {
    frames.iter().map(PyFrame::display).collect::<Vec<_>>().join(" ← ")
}

/// A frame of the interpreter's own library (`/usr/lib/python3.11/queue.py`,
/// a frozen module), not of the program or a package it installed.
pub fn is_python_stdlib(f: &PyFrame) -> bool {
    f.file.starts_with("<frozen ")
        || ((f.file.contains("/lib/python3") || f.file.contains("/lib/python2")) && !f.file.contains("-packages/"))
}

/// A Python stack folded for reading, innermost first, as [`fold`] folds
/// a native one: a run of the interpreter's library frames shows as the
/// one call the program made into it ("Queue.get (queue.py:171)"), the
/// library frames beneath the program's outermost one (threading's
/// bootstrap, socketserver) are dropped.
pub fn fold_python_own(frames: &[PyFrame]) -> Vec<String> {
    let Some(last_own) = frames.iter().rposition(|f| !is_python_stdlib(f)) else {
        return frames.iter().take(3).map(PyFrame::display).collect();
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i <= last_own {
        if is_python_stdlib(&frames[i]) {
            let mut j = i;
            while j < last_own && is_python_stdlib(&frames[j + 1]) {
                j += 1;
            }
            out.push(frames[j].display());
            i = j + 1;
        } else {
            out.push(frames[i].display());
            i += 1;
        }
    }
    out
}

/// Library files whose frames are folded (interpreters too: their native
/// frames say nothing about the script; the interpreter hint does).
const SYSTEM_LIBS: [&str; 16] = [
    "libpython",
    "python",
    "libruby",
    "ruby",
    "libjvm",
    "libc.so",
    "libc-",
    "libpthread",
    "ld-linux",
    "ld-musl",
    "libstdc++",
    "libgcc_s",
    "libm.so",
    "libdl",
    "librt",
    "[vdso]",
];

/// Language runtimes compiled into the program: their frames fold too.
const SYSTEM_PREFIXES: [&str; 12] = [
    "std::",
    "core::",
    "alloc::",
    "<std::",
    "<core::",
    "<alloc::",
    "__rust",
    "runtime.",
    "sync.",
    "internal/",
    "syscall.",
    "__gnu_cxx::",
];

/// A frame of the C library, a language runtime or the dynamic loader.
pub fn is_system(f: &Frame) -> bool {
    if f.function.as_deref() == Some("_start") {
        return true;
    }
    let lib = f.module.as_deref().and_then(|m| m.rsplit('/').next()).unwrap_or("");
    SYSTEM_LIBS.iter().any(|l| lib.starts_with(l))
        || f.function.as_deref().is_some_and(|n| SYSTEM_PREFIXES.iter().any(|p| n.starts_with(p)))
}

/// The name to show: compiler clone suffixes (".isra.0", ".constprop.0",
/// ".part.1", ".cold") and symbol versions dropped, C library internals
/// named by the call a program makes ("__pthread_clockjoin_ex" is what
/// pthread_join runs; "__libc_recv" is recv). Unknown code shows its
/// address and file.
pub fn display_name(f: &Frame) -> String {
    let Some(name) = f.function.as_deref() else {
        let lib = f.module.as_deref().and_then(|m| m.rsplit('/').next()).unwrap_or("?");
        return format!("{} ({lib})", f.addr);
    };
    let mut n = name.split('@').next().unwrap_or(name);
    if !n.contains("::") {
        for suffix in [".isra.", ".constprop.", ".part.", ".cold", ".lto_priv."] {
            if let Some(i) = n.find(suffix) {
                n = &n[..i];
            }
        }
    }
    if !is_system(f) || n.contains("::") || n.contains('.') {
        return n.to_string();
    }
    match n {
        "__pthread_clockjoin_ex" | "__pthread_join" | "___pthread_join" => return "pthread_join".into(),
        "__pthread_cond_wait" | "___pthread_cond_wait" | "__pthread_cond_wait_common" => {
            return "pthread_cond_wait".into()
        }
        "__pthread_cond_timedwait" | "___pthread_cond_timedwait" | "__pthread_cond_clockwait" => {
            return "pthread_cond_timedwait".into()
        }
        "__pthread_mutex_lock" | "___pthread_mutex_lock" | "__pthread_mutex_lock_full" | "__lll_lock_wait" => {
            return "pthread_mutex_lock".into()
        }
        _ => {}
    }
    let n = n.strip_prefix("__GI_").unwrap_or(n);
    let n = n.trim_start_matches('_');
    n.strip_prefix("libc_").unwrap_or(n).to_string()
}

/// The program's entry function ("main", "app::main", Go's "main.main"):
/// what lies beneath it is start-up code.
fn is_main(f: &Frame) -> bool {
    f.function.as_deref().is_some_and(|n| n == "main" || n == "main.main" || n.ends_with("::main"))
}

/// The stack folded for reading, innermost first.
pub fn fold(frames: &[Frame]) -> Vec<String> {
    let frames = match frames.iter().position(is_main) {
        Some(m) => &frames[..=m],
        None => frames,
    };
    let Some(last_own) = frames.iter().rposition(|f| !is_system(f)) else {
        // Runtime frames only (a Go scheduler thread): the innermost few.
        let mut out: Vec<String> = Vec::new();
        for f in frames.iter().take(4) {
            let n = display_name(f);
            if out.last() != Some(&n) {
                out.push(n);
            }
        }
        return out;
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i <= last_own {
        if is_system(&frames[i]) {
            // A run of library frames: the call the program made is its outermost one.
            let mut j = i;
            while j < last_own && is_system(&frames[j + 1]) {
                j += 1;
            }
            out.push(display_name(&frames[j]));
            i = j + 1;
        } else {
            let n = display_name(&frames[i]);
            if out.last() != Some(&n) {
                out.push(n);
            }
            i += 1;
        }
    }
    out
}

/// The library call the thread is in: the outermost frame of the innermost
/// run of library frames ("pthread_join", "recv"), if the stack starts in one.
pub fn library_call(frames: &[Frame]) -> Option<String> {
    if !frames.first().is_some_and(is_system) {
        return None;
    }
    let run = frames.iter().take_while(|f| is_system(f)).count();
    (run < frames.len()).then(|| display_name(&frames[run - 1]))
}

/// The program's own functions, innermost first (clone suffixes dropped).
pub fn own_functions(frames: &[Frame]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in frames.iter().filter(|f| !is_system(f) && f.function.is_some()) {
        let n = display_name(f);
        if out.last() != Some(&n) {
            out.push(n);
        }
    }
    out
}

/// A join: the thread waits for another thread to end.
pub fn is_join(call: &str) -> bool {
    call == "pthread_join" || call.ends_with("::join") || call.ends_with("::join()") || call.contains("::join<")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, module: &str) -> Frame {
        Frame {
            addr: "0x1".into(),
            function: (!name.is_empty()).then(|| name.into()),
            module: Some(module.into()),
            ..Default::default()
        }
    }

    const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";

    #[test]
    fn story_one() {
        let main = [
            f("__futex_abstimed_wait_common64", LIBC),
            f("__futex_abstimed_wait_common", LIBC),
            f("__pthread_clockjoin_ex", LIBC),
            f("wait_for_filter", "/opt/proxy"),
            f("handle_client.constprop.0", "/opt/proxy"),
            f("main", "/opt/proxy"),
            f("__libc_start_call_main", LIBC),
            f("__libc_start_main_impl", LIBC),
            f("_start", "/opt/proxy"),
        ];
        assert_eq!(fold(&main), ["pthread_join", "wait_for_filter", "handle_client", "main"]);
        assert_eq!(library_call(&main).as_deref(), Some("pthread_join"));
        assert!(is_join("pthread_join"));
        let filter = [
            f("__libc_recv", LIBC),
            f("relay_upstream_filter.isra.0", "/opt/proxy"),
            f("filter_main", "/opt/proxy"),
            f("start_thread", LIBC),
            f("clone3", LIBC),
        ];
        assert_eq!(fold(&filter), ["recv", "relay_upstream_filter", "filter_main"]);
        assert_eq!(own_functions(&filter), ["relay_upstream_filter", "filter_main"]);
    }

    #[test]
    fn python_frames_read_as_a_traceback() {
        let f = |function: &str, file: &str, line| PyFrame { function: function.into(), file: file.into(), line };
        let frames = [f("Queue.get", "/usr/lib/python3.11/queue.py", Some(171)), f("handle", "app.py", None)];
        assert_eq!(fold_python(&frames), "Queue.get (queue.py:171) ← handle (app.py)");
        assert_eq!(fold_python(&[]), "");
        let lib = |n: &str, file: &str| f(n, &format!("/usr/lib/python3.11/{file}"), Some(1));
        let handler = [
            lib("Condition.wait", "threading.py"),
            lib("Queue.get", "queue.py"),
            f("Pool.get", "/srv/app.py", Some(30)),
            lib("BaseServer.finish_request", "socketserver.py"),
            f("handle_request", "/srv/app.py", Some(41)),
            lib("Thread.run", "threading.py"),
            f("_bootstrap", "<frozen threading>", None),
        ];
        assert_eq!(
            fold_python_own(&handler),
            [
                "Queue.get (queue.py:1)",
                "Pool.get (app.py:30)",
                "BaseServer.finish_request (socketserver.py:1)",
                "handle_request (app.py:41)"
            ]
        );
        let site = f("Pool._do_get", "/usr/lib/python3/dist-packages/sqlalchemy/pool/impl.py", Some(9));
        assert!(!is_python_stdlib(&site), "a package is the program's library, not the interpreter's");
        assert_eq!(fold_python_own(&handler[..2]), ["Condition.wait (threading.py:1)", "Queue.get (queue.py:1)"]);
    }

    #[test]
    fn runtimes_and_unknowns() {
        let rust = [
            f("__futex_abstimed_wait_common", LIBC),
            f("__pthread_clockjoin_ex", LIBC),
            f("std::sys::pal::unix::thread::Thread::join", "/opt/r"),
            f("std::thread::JoinHandle<T>::join", "/opt/r"),
            f("r::wait_for_filter", "/opt/r"),
            f("r::main", "/opt/r"),
            f("core::ops::function::FnOnce::call_once", "/opt/r"),
            f("main", "/opt/r"),
        ];
        assert_eq!(fold(&rust), ["std::thread::JoinHandle<T>::join", "r::wait_for_filter", "r::main"]);
        assert!(is_join(&library_call(&rust).unwrap()));
        let go = [f("runtime.futex", "/opt/g"), f("runtime.futexsleep", "/opt/g"), f("runtime.notesleep", "/opt/g")];
        assert_eq!(fold(&go), ["runtime.futex", "runtime.futexsleep", "runtime.notesleep"]);
        assert_eq!(library_call(&go), None, "no program frame: no call into the library");
        assert_eq!(fold(&[f("", "/opt/jit.so")]), ["0x1 (jit.so)"]);
    }
}
