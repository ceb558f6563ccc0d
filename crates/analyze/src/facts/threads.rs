//! What a thread is doing, in words and as evidence: its syscall decoded
//! from /proc/PID/task/TID/syscall, the fds among its arguments resolved to
//! what they are ("fd 4: TCP 127.0.0.1:41234 -> 127.0.0.1:80 ESTAB, idle
//! 12.0 s"), wchan and kernel stack. Shared by the thread and signal findings.

use crate::facts::index::{endpoint, Index};
use crate::facts::runtime;
use crate::facts::signals;
use crate::facts::syscalls::Call;
use unwedge_model::evidence::{ThreadEvidence, ThreadSummary};
use unwedge_model::{Process, Socket, TcpState, Thread};

/// What fd `fd` of process `p` is, in one line.
pub fn describe_fd(idx: &Index, p: &Process, t: &Thread, fd: u32) -> Option<String> {
    if let Some(s) = p.sockets.iter().find(|s| s.fd == fd) {
        return Some(match idx.socket(s.inode) {
            Some(sock) if sock.state == TcpState::Listen => format!(
                "fd {fd}: TCP listener {}, {} waiting to be accepted",
                endpoint(sock.local, sock.local_port),
                sock.recv_q
            ),
            Some(sock) => {
                let idle = sock
                    .info
                    .map(|i| format!(", idle {}", crate::secs(i.last_data_recv_ms.min(i.last_data_sent_ms) as u64)))
                    .unwrap_or_default();
                let unread = if sock.recv_q > 0 { format!(", {} bytes unread", sock.recv_q) } else { String::new() };
                format!(
                    "fd {fd}: TCP {} -> {} {}{unread}{idle}",
                    endpoint(sock.local, sock.local_port),
                    endpoint(sock.remote, sock.remote_port),
                    sock.state.name()
                )
            }
            None => format!("fd {fd}: socket inode {} (not TCP: a Unix or UDP socket)", s.inode),
        });
    }
    if let Some(a) = p.anon_fds.iter().find(|a| a.fd == fd) {
        return Some(format!("fd {fd}: {}", a.kind));
    }
    let target = &t.fd_args.iter().find(|f| f.fd == fd)?.target;
    Some(format!("fd {fd}: {target}{}", pipe_peers(idx, p, target)))
}

/// ", also held by hping3 (pid 11842)" for a pipe other processes hold too:
/// a thread stuck reading a pipe usually waits for the process at the other
/// end (a child it started). Empty for anything else.
fn pipe_peers(idx: &Index, p: &Process, target: &str) -> String {
    let Some(inode) =
        target.strip_prefix("pipe:[").and_then(|r| r.strip_suffix(']')).and_then(|n| n.parse::<u64>().ok())
    else {
        return String::new();
    };
    let holders: Vec<String> = idx
        .snap
        .processes
        .iter()
        .filter(|q| q.pid != p.pid && q.pipes.iter().any(|f| f.inode == inode))
        .map(|q| format!("{} (pid {})", q.comm, q.pid))
        .collect();
    match holders.len() {
        0 => String::new(),
        1..=3 => format!(", also held by {}", holders.join(", ")),
        n => format!(", also held by {} and {} more", holders[..3].join(", "), n - 3),
    }
}

/// The fd arguments of the thread's syscall, resolved.
pub fn fd_meanings(idx: &Index, p: &Process, t: &Thread, call: &Call) -> Vec<String> {
    call.fd_numbers().filter_map(|fd| describe_fd(idx, p, t, fd)).collect()
}

/// The TCP connection (not a listener) among the syscall's fd arguments:
/// the peer the thread waits on.
pub fn waited_connection<'a>(idx: &Index<'a>, p: &Process, call: &Call) -> Option<&'a Socket> {
    call.fd_numbers().filter_map(|fd| idx.socket_of_fd(p, fd)).find(|s| s.state != TcpState::Listen)
}

/// The evidence object of one thread (what the human renderer shows as a
/// thread block).
pub fn evidence(idx: &Index, p: &Process, t: &Thread) -> ThreadEvidence {
    let arch = idx.snap.arch.as_str();
    let call = Call::of(arch, t);
    let fds = call.as_ref().map(|c| fd_meanings(idx, p, t, c)).unwrap_or_default();
    let args = call.as_ref().map(|c| c.line.args.iter().map(|a| format!("{a:#x}")).collect());
    ThreadEvidence {
        tid: t.tid,
        name: t.comm.clone(),
        state: t.state.to_string(),
        syscall_meaning: call.as_ref().map(|c| c.class.meaning().to_string()),
        syscall: call.map(|c| c.name),
        args,
        fds,
        wchan: t.wchan.clone(),
        stack: t.stack.clone(),
        cpu_ticks: t.utime + t.stime,
        blocked: t.signals.map(|m| signals::hex(m.blocked)),
        pending: t.signals.map(|m| signals::hex(m.pending)),
        user_stack: t.user_stack.as_ref().filter(|u| !u.frames.is_empty()).map(|u| u.frames.clone()),
        user_stack_note: t.user_stack.as_ref().and_then(|u| u.note.clone()),
        // The JVM answered for its threads (`--stacks attach`): jcmd adds nothing.
        interpreter_hint: t
            .user_stack
            .as_ref()
            .and_then(|u| u.interpreter_hint.clone())
            .filter(|_| p.jvm.as_ref().is_none_or(|j| j.dump.is_none())),
        goroutines: t.user_stack.as_ref().and_then(|u| u.goroutines.clone()).filter(|g| !g.is_empty()),
        goroutines_note: t.user_stack.as_ref().and_then(|u| u.goroutines_note.clone()),
        python: t.user_stack.as_ref().map(|u| u.python.clone()).unwrap_or_default(),
        python_note: t.user_stack.as_ref().and_then(|u| u.python_note.clone()),
        holds_gil: t.user_stack.as_ref().and_then(|u| u.holds_gil),
        python_threads: t.user_stack.as_ref().and_then(|u| u.python_threads.clone()),
        java: runtime::java_thread(p, t.tid).cloned(),
    }
}

/// Another thread in brief: its call (or `syscall` in words when it is in
/// none), its fds, and its own frames where they were read (user stack,
/// Python frames, the JVM's view).
pub fn summary(p: &Process, t: &Thread, syscall: String, fds: Vec<String>) -> ThreadSummary {
    let u = t.user_stack.as_ref();
    ThreadSummary {
        tid: t.tid,
        name: t.comm.clone(),
        state: t.state.to_string(),
        syscall,
        fds,
        user_stack: u.filter(|u| !u.frames.is_empty()).map(|u| u.frames.clone()),
        goroutines: None,
        goroutines_note: None,
        python: u.map(|u| u.python.clone()).unwrap_or_default(),
        holds_gil: u.and_then(|u| u.holds_gil),
        python_threads: None,
        java: runtime::java_thread(p, t.tid).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::{FdTarget, PipeFd, Snapshot};

    #[test]
    fn a_pipe_names_the_other_processes_that_hold_it() {
        let reader = Process {
            pid: 10,
            comm: "uwsgi".into(),
            pipes: vec![PipeFd { fd: 19, inode: 777, writes: None }, PipeFd { fd: 20, inode: 778, writes: None }],
            ..Default::default()
        };
        let child = Process {
            pid: 11,
            comm: "hping3".into(),
            pipes: vec![PipeFd { fd: 1, inode: 777, writes: None }],
            ..Default::default()
        };
        let snap = Snapshot { processes: vec![reader.clone(), child], ..Default::default() };
        let idx = Index::new(&snap);
        let t = Thread {
            tid: 10,
            fd_args: vec![
                FdTarget { fd: 19, target: "pipe:[777]".into() },
                FdTarget { fd: 20, target: "pipe:[778]".into() },
            ],
            ..Default::default()
        };
        assert_eq!(describe_fd(&idx, &reader, &t, 19).unwrap(), "fd 19: pipe:[777], also held by hping3 (pid 11)");
        // Nobody else holds 778: nothing to add.
        assert_eq!(describe_fd(&idx, &reader, &t, 20).unwrap(), "fd 20: pipe:[778]");
    }
}
