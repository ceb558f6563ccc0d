//! An event loop blocked by a synchronous call: a process that serves from
//! an event loop (asyncio, Node, a hand-written epoll server) whose loop
//! thread, instead of waiting in epoll for its connections, sat the whole
//! interval in a call of its own — a blocking HTTP client's recv, a
//! connect, a lock, a sleep. Nothing else runs on that loop meanwhile: no
//! accept, no answer to anyone. The fix is not more workers but not
//! blocking the loop. Read by `accept_stalled` and `unanswered_requests`
//! (their fix) and by `stuck_thread` (the thread's story).
//!
//! Kernel facts: the process holds an epoll instance (an `[eventpoll]`
//! anon inode among its fds); none of its threads waits in epoll_wait,
//! poll or select; its main thread (the one that runs the loop in
//! asyncio, Node, most single-threaded servers) sat in the same call with
//! the same arguments, without running, in both snapshots, and that call's
//! fd (if any) is not a connection it serves (an outbound socket, a file,
//! a pipe) — a loop waiting on one of its own clients would be in epoll.
//! A multi-threaded server whose loop runs on another thread is not
//! recognised: the kernel does not say which thread owns which epoll set.

use crate::facts::requests::owes_us;
use crate::facts::syscalls::{Call, Class};
use crate::facts::{threads, waits};
use crate::Ctx;
use unwedge_model::evidence::EventLoopBlocked;
use unwedge_model::Process;

/// The calls that block a loop's thread: a read or receive (a blocking
/// client), a send, a connect, a lock or a sleep.
fn blocking(c: Class) -> bool {
    matches!(c, Class::Read | Class::Receive | Class::Send | Class::Connect | Class::Futex | Class::Sleep)
}

/// `p`'s event loop, blocked in a synchronous call for the whole interval.
pub fn blocked(ctx: &Ctx, p: &Process) -> Option<EventLoopBlocked> {
    if !p.anon_fds.iter().any(|a| a.kind == "[eventpoll]") {
        return None;
    }
    let arch = ctx.snap().arch.as_str();
    if p.threads.iter().any(|t| Call::of(arch, t).is_some_and(|c| c.class.polls())) {
        return None;
    }
    let t = p.threads.iter().find(|t| t.tid == p.pid)?;
    let call = Call::of(arch, t).filter(|c| blocking(c.class))?;
    if !waits::unchanged(ctx, p, t) {
        return None;
    }
    let conn = call.fd_numbers().find_map(|fd| ctx.last.socket_of_fd(p, fd));
    if conn.is_some_and(|s| ctx.last.is_served(s)) {
        return None;
    }
    let on = threads::fd_meanings(&ctx.last, p, t, &call).into_iter().next();
    let owed_answer_ms =
        conn.filter(|s| ctx.last.is_outbound(s) && call.class.reads()).and_then(owes_us).map(u64::from);
    Some(EventLoopBlocked { tid: t.tid, name: t.comm.clone(), syscall: call.name, on, owed_answer_ms })
}
