//! The thread dump of a HotSpot JVM over its attach socket, as `jstack`
//! gets it (`--stacks attach`, opt-in): the JVM prints its own threads at
//! a brief safepoint. No ptrace, no JDK on the host, no code loaded into
//! the JVM.
//!
//! The dynamic attach protocol (HotSpot on Linux): the JVM listens on the
//! UNIX socket `/tmp/.java_pid<pid>` once its attach listener runs. The
//! listener starts when the JVM receives SIGQUIT while a file
//! `.attach_pid<pid>` owned by its user (or root) exists in its working
//! directory or /tmp; without that file, SIGQUIT makes the JVM print a
//! thread dump to its stdout instead, and a process that does not catch
//! SIGQUIT dies of it. So SIGQUIT is sent only to a process that maps a
//! HotSpot hsperfdata file saying the attach mechanism is enabled, that
//! has finished starting and catches SIGQUIT, and only once the trigger
//! file is in place; the file is removed afterwards. The JVM checks that
//! the peer's effective uid and gid are its own (JDK 11 and later also
//! accept root): as root, the connecting thread takes the JVM's uid and
//! gid for the connect. The request is "1" (protocol version), the
//! command "threaddump" and three empty arguments, each NUL-terminated;
//! the answer is a result code line ("0") and the dump's text.
//!
//! All pid-named paths use the pid in the JVM's own namespace (NSpid) and
//! are reached through /proc/PID/root and /proc/PID/cwd, so a JVM in a
//! container is attached from the host without entering its namespaces.

use super::{read_hsperf, Status};
use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use unwedge_model::jvm::JavaThreadDump;

/// The dump's text kept at most from its start, and from its end (where
/// the deadlock verdict is) once the start is full.
pub const MAX_HEAD: usize = 8 << 20;
pub const MAX_TAIL: usize = 1 << 20;
/// The attach request: version 1, the command, three empty arguments.
const REQUEST: &[u8] = b"1\0threaddump\0\0\0\0";

/// Why no dump was taken: `signalled` says whether SIGQUIT was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: String,
    pub signalled: bool,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

fn refuse(reason: impl Into<String>) -> Refused {
    Refused { reason: reason.into(), signalled: false }
}

/// Asks the JVM `pid` for its thread dump and parses it, within `timeout`
/// (the whole exchange: starting the attach listener, connecting, the
/// JVM's safepoint and the text). Refuses, without signalling, anything
/// that is not a HotSpot JVM with the attach mechanism enabled.
pub fn thread_dump(pid: u32, timeout: Duration) -> Result<JavaThreadDump, Refused> {
    let deadline = Instant::now() + timeout;
    // Held from the start: a signal through it can only reach this
    // process, even if the pid is reused meanwhile.
    let pidfd = Pidfd::open(pid).map_err(|e| refuse(format!("pid {pid}: {e}")))?;
    let st = super::status(pid).map_err(|e| refuse(format!("/proc/{pid}/status: {e}")))?;
    if matches!(st.state, 'T' | 't' | 'Z' | 'X') {
        return Err(refuse(format!("pid {pid} is stopped or exiting (state {}); a JVM must run to answer", st.state)));
    }
    let root = format!("/proc/{pid}/root");
    let socket = format!("{root}/tmp/.java_pid{}", st.nspid);
    // The attach listener may run already (an earlier attach, -Xrs): then no signal.
    let signalled = !is_socket(&socket);
    if signalled {
        start_listener(pid, &pidfd, &st, &socket, deadline)?;
    }
    let fail = |reason: String| Refused { reason, signalled };
    let (text, cut) = exchange(&root, &st, deadline).map_err(fail)?;
    let (code, body) = text.split_once('\n').unwrap_or((&text, ""));
    if code.trim() != "0" {
        return Err(fail(format!("the JVM answered threaddump with code {}: {}", code.trim(), first_line(body))));
    }
    let mut dump = super::dump::parse(body);
    if dump.threads.is_empty() {
        return Err(fail(format!("the JVM's answer holds no thread: {}", first_line(body))));
    }
    if cut {
        let cut = format!("the dump was longer than {} MiB: its middle was left out", MAX_HEAD >> 20);
        dump.note = Some(match dump.note.take() {
            Some(n) => format!("{n}; {cut}"),
            None => cut,
        });
    }
    Ok(dump)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().chars().take(200).collect()
}

/// Checks that `pid` is a HotSpot JVM that can be asked, puts the trigger
/// file in place, sends SIGQUIT and waits for the socket.
fn start_listener(pid: u32, pidfd: &Pidfd, st: &Status, socket: &str, deadline: Instant) -> Result<(), Refused> {
    let hs = match read_hsperf(pid) {
        Ok(Some(h)) => h,
        Ok(None) => {
            return Err(refuse(format!(
                "pid {pid} maps no hsperfdata file: not a HotSpot JVM, or one run with -XX:-UsePerfData \
                 (its attach mechanism cannot be confirmed, so it is not signalled)"
            )))
        }
        Err(e) => return Err(refuse(format!("its hsperfdata could not be read ({e}), so it is not signalled"))),
    };
    let c = &hs.counters;
    if c.attachable != Some(true) || c.vm_args.as_deref().is_some_and(|a| a.contains("+DisableAttachMechanism")) {
        return Err(refuse("the JVM runs with -XX:+DisableAttachMechanism: it cannot be asked for its threads"));
    }
    if c.vm_ready_ms.is_none() {
        return Err(refuse("the JVM is still starting (its hsperfdata has no createVmEndTime)"));
    }
    if !st.catches(libc::SIGQUIT) {
        return Err(refuse(format!(
            "pid {pid} does not catch SIGQUIT (-Xrs?): the signal would end it, so it is not sent"
        )));
    }
    // A listener that runs without its socket (deleted from /tmp) is
    // restarted by the trigger only from JDK 17 (check_socket_file);
    // before, SIGQUIT would print a dump on the JVM's stdout.
    if c.java_feature.is_none_or(|f| f < 17) && has_attach_listener(pid) {
        return Err(refuse(format!(
            "its attach listener runs but its socket {} is gone (a /tmp cleaner?); on this JVM a SIGQUIT \
             would print a thread dump to its output, so it is not sent",
            socket.rsplit_once("/root").map_or(socket, |(_, p)| p)
        )));
    }
    let trigger = Trigger::place(pid, st).map_err(refuse)?;
    pidfd.send(libc::SIGQUIT).map_err(|e| refuse(format!("SIGQUIT to pid {pid}: {e}")))?;
    // The JVM's signal thread starts the listener, which binds the socket.
    let mut pause = Duration::from_millis(5);
    loop {
        if is_socket(socket) {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            drop(trigger);
            return Err(Refused {
                reason: "the JVM did not open its attach socket in time after SIGQUIT".into(),
                signalled: true,
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    drop(trigger);
    Ok(())
}

fn has_attach_listener(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks
        .flatten()
        .take(100_000)
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == "Attach Listener"))
}

fn is_socket(path: &str) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// The `.attach_pid<nspid>` file, removed on drop if this created it.
struct Trigger {
    path: String,
    created: bool,
}

impl Trigger {
    /// In the JVM's working directory (it looks there first), else in its
    /// /tmp. A file already in the working directory that the JVM would
    /// not trust (another owner) would make it print a dump instead: then
    /// nothing is sent.
    fn place(pid: u32, st: &Status) -> Result<Trigger, String> {
        let name = format!(".attach_pid{}", st.nspid);
        let cwd = format!("/proc/{pid}/cwd/{name}");
        match Trigger::create(&cwd, st) {
            Ok(t) => return Ok(t),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(format!("{cwd} exists but is not owned by the JVM's user: it would not trust it"))
            }
            Err(_) => {}
        }
        if std::fs::symlink_metadata(&cwd).is_ok() {
            return Err(format!("{cwd} exists but cannot be used"));
        }
        let tmp = format!("/proc/{pid}/root/tmp/{name}");
        Trigger::create(&tmp, st).map_err(|e| format!("no attach trigger file: {cwd} and {tmp}: {e}"))
    }

    fn create(path: &str, st: &Status) -> io::Result<Trigger> {
        let c = CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: a NUL-terminated path; the fd is owned below.
        let fd = unsafe { libc::open(c.as_ptr(), flags, 0o600) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::AlreadyExists {
                // Left by another attaching tool: usable when the JVM trusts it.
                use std::os::unix::fs::MetadataExt;
                let m = std::fs::symlink_metadata(path)?;
                if m.file_type().is_file() && (m.uid() == st.euid || m.uid() == 0) {
                    return Ok(Trigger { path: path.into(), created: false });
                }
            }
            return Err(e);
        }
        // SAFETY: just opened, owned by nothing else.
        let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let t = Trigger { path: path.into(), created: true };
        // Owned like the JVM: JDK 8 trusts only its own user's file.
        // SAFETY: fchown on an fd this function owns.
        if unsafe { libc::geteuid() } == 0 && unsafe { libc::fchown(file.as_raw_fd(), st.euid, st.egid) } != 0 {
            return Err(io::Error::last_os_error());
        }
        use std::os::unix::fs::MetadataExt;
        let uid = file.metadata()?.uid();
        if uid != st.euid && uid != 0 {
            // A file system that maps owners (root squash): the JVM would not trust it.
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("the file is owned by uid {uid}")));
        }
        Ok(t)
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A pidfd (Linux 5.3): signals sent through it reach the process it was
/// opened for or none.
struct Pidfd(Option<OwnedFd>, u32);

impl Pidfd {
    fn open(pid: u32) -> io::Result<Pidfd> {
        // SAFETY: pidfd_open takes a pid and flags; the fd is owned below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd >= 0 {
            // SAFETY: a fresh fd owned by nothing else.
            return Ok(Pidfd(Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }), pid));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            // An older kernel: kill(2) after the checks, as jstack does.
            Some(libc::ENOSYS) => Ok(Pidfd(None, pid)),
            _ => Err(e),
        }
    }

    fn send(&self, sig: i32) -> io::Result<()> {
        // SAFETY: plain signal syscalls on a pidfd this owns, or a pid.
        let r = match &self.0 {
            Some(fd) => unsafe {
                libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0)
            },
            None => unsafe { libc::kill(self.1 as libc::pid_t, sig) as libc::c_long },
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Connects to the JVM's socket, sends the request and reads the answer;
/// whether its middle was cut.
fn exchange(root: &str, st: &Status, deadline: Instant) -> Result<(String, bool), String> {
    let stream = connect(root, st, deadline)?;
    talk(stream, deadline)
}

fn talk(mut stream: UnixStream, deadline: Instant) -> Result<(String, bool), String> {
    let left = |what: &str| {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no answer from the JVM in time ({what}): a thread that never reaches a safepoint?"))
    };
    const CLOSED: &str = "the JVM closed the connection without an answer (it refused this user?)";
    stream.set_write_timeout(Some(left("sending")?)).map_err(|e| e.to_string())?;
    send_all(&stream, REQUEST).map_err(|e| match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => CLOSED.to_string(),
        _ => format!("sending the request: {e}"),
    })?;
    let mut head: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        stream.set_read_timeout(Some(left("reading")?)).map_err(|e| e.to_string())?;
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && head.is_empty() => return Err(CLOSED.into()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(left("reading").err().unwrap_or_else(|| format!("reading the answer: {e}")))
            }
            Err(e) => return Err(format!("reading the answer: {e}")),
        };
        let mut chunk = &buf[..n];
        if head.len() < MAX_HEAD {
            let take = chunk.len().min(MAX_HEAD - head.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        if !chunk.is_empty() {
            tail.extend_from_slice(chunk);
            if tail.len() > 2 * MAX_TAIL {
                tail.drain(..tail.len() - MAX_TAIL);
            }
        }
    }
    if head.is_empty() {
        return Err(CLOSED.into());
    }
    let mut text = String::from_utf8_lossy(&head).into_owned();
    if !tail.is_empty() {
        // The end holds the deadlock verdict: keep it, from a line start.
        let from = tail.len().saturating_sub(MAX_TAIL);
        let tail = &tail[from..];
        let start = tail.iter().position(|&b| b == b'\n').map_or(tail.len(), |i| i + 1);
        // A thread cut in two at the seam must not run into the next.
        text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&tail[start..]));
    }
    Ok((text, !tail.is_empty()))
}

/// Writes all of `buf` without raising SIGPIPE when the JVM has closed.
fn send_all(stream: &UnixStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for its length; the fd is the stream's.
        let n = unsafe { libc::send(stream.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// A connected socket to `<root>/tmp/.java_pid<nspid>`. As root, for a JVM
/// of another user, the connect is made by a thread of its own holding the
/// JVM's uid and gid (raw setresuid/setresgid change one thread's
/// credentials only, and the thread ends after), reaching the socket
/// through a directory fd opened beforehand.
fn connect(root: &str, st: &Status, deadline: Instant) -> Result<UnixStream, String> {
    let dir = format!("{root}/tmp");
    let name = format!(".java_pid{}", st.nspid);
    // SAFETY: geteuid and getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid != 0 || (uid, gid) == (st.euid, st.egid) {
        return connect_path(&format!("{dir}/{name}"), deadline);
    }
    let c = CString::new(dir.clone()).map_err(|_| "a NUL in the path".to_string())?;
    // SAFETY: a NUL-terminated path; the fd is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!("{dir}: {}", io::Error::last_os_error()));
    }
    // SAFETY: just opened, owned by nothing else.
    let dirfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let path = format!("/proc/self/fd/{}/{name}", dirfd.as_raw_fd());
    let (euid, egid) = (st.euid, st.egid);
    let wait = deadline.saturating_duration_since(Instant::now());
    super::with_timeout("jvm-attach", wait + Duration::from_millis(100), move || {
        // SAFETY: these change the credentials of this thread alone (the
        // raw syscalls, not glibc's process-wide wrappers); the thread
        // ends when this closure returns. The saved uid stays 0.
        unsafe {
            if libc::syscall(libc::SYS_setresgid, -1i32, egid, -1i32) != 0
                || libc::syscall(libc::SYS_setresuid, -1i32, euid, -1i32) != 0
            {
                return Err(format!("taking the JVM's uid {euid}: {}", io::Error::last_os_error()));
            }
        }
        let r = connect_path(&path, deadline);
        drop(dirfd);
        r
    })
}

fn connect_path(path: &str, deadline: Instant) -> Result<UnixStream, String> {
    // A connect to a listener whose backlog is full waits; SO_SNDTIMEO bounds it.
    // SAFETY: socket(2); the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", io::Error::last_os_error()));
    }
    // SAFETY: just created, owned by nothing else.
    let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let wait = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    stream.set_write_timeout(Some(wait)).map_err(|e| e.to_string())?;
    // SAFETY: sockaddr_un is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(format!("{path}: longer than a socket path may be"));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
    let r = unsafe { libc::connect(stream.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) };
    if r != 0 {
        return Err(format!("connecting to {path}: {}", io::Error::last_os_error()));
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pair() -> (UnixStream, UnixStream) {
        UnixStream::pair().unwrap()
    }

    #[test]
    fn request_and_answer() {
        let (ours, mut jvm) = pair();
        let server = std::thread::spawn(move || {
            let mut req = [0u8; REQUEST.len()];
            jvm.read_exact(&mut req).unwrap();
            jvm.write_all(b"0\n").unwrap();
            jvm.write_all(include_bytes!("testdata/dump-jdk17.txt")).unwrap();
            req
        });
        let (text, cut) = talk(ours, Instant::now() + Duration::from_secs(5)).unwrap();
        assert!(!cut);
        assert_eq!(&server.join().unwrap(), b"1\0threaddump\0\0\0\0");
        assert!(text.starts_with("0\n") && text.trim_end().ends_with("Found 2 deadlocks."));
    }

    #[test]
    fn silent_jvm_times_out() {
        let (ours, _jvm) = pair();
        let started = Instant::now();
        let e = talk(ours, Instant::now() + Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("in time"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn refused_peer() {
        let (ours, jvm) = pair();
        drop(jvm);
        let e = talk(ours, Instant::now() + Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("without an answer"), "{e}");
    }

    /// A dump longer than the head keeps its start and its end (the verdict).
    #[test]
    fn long_dump_keeps_the_verdict() {
        let (ours, mut jvm) = pair();
        std::thread::spawn(move || {
            let mut req = [0u8; REQUEST.len()];
            jvm.read_exact(&mut req).unwrap();
            jvm.write_all(b"0\n").unwrap();
            let filler = "\"idle\" #9 prio=5 os_prio=0 tid=0x1 nid=0x2 waiting on condition\n\tat A.b(A.java:1)\n\n";
            let mut sent = 0;
            while sent < MAX_HEAD + 3 * MAX_TAIL {
                jvm.write_all(filler.as_bytes()).unwrap();
                sent += filler.len();
            }
            jvm.write_all(include_bytes!("testdata/dump-jdk17.txt")).unwrap();
        });
        let (text, cut) = talk(ours, Instant::now() + Duration::from_secs(20)).unwrap();
        assert!(cut);
        assert!(text.len() <= MAX_HEAD + MAX_TAIL + 2);
        let d = crate::jvm::dump::parse(text.split_once('\n').unwrap().1);
        assert_eq!(d.deadlocks.len(), 2);
    }
}
