//! `stuck_thread` — story 1 of docs/stories.md: the proxy's main thread waited
//! (futex, a thread join) for its TLS filter thread, which waited in recv on
//! an upstream keep-alive connection that never closed, while the client's
//! data sat unread. gdb found it; the kernel already knew.
//!
//! Kernel facts, per thread in both snapshots: state, CPU ticks and context
//! switches (/proc/PID/task/TID/stat, status), the syscall number and its
//! arguments (/proc/PID/task/TID/syscall), decoded with the x86_64/aarch64
//! tables — never wchan names, which change between kernels; the process's
//! waiting work from sock_diag (unread bytes, queued connections, CLOSE-WAIT)
//! and pending signals. False alarms avoided: idle threads of a process with
//! nothing to do (an idle pool on a condvar, a server with no clients) —
//! work must wait untouched in both snapshots (same unread byte count, the
//! same queued connections), and only on the server side (a client pool's
//! idle CLOSE-WAIT connection is not work); a loop that re-enters the same
//! syscall (its context switches move); sigwait threads, sleeping threads
//! and accept loops with nothing queued, which wait by design.
//!
//! A process any of whose threads ran during the interval is not stuck:
//! a busy event loop (Redis under redis-benchmark, seen here) leaves bytes
//! unread for a moment while its helper threads idle in futex.
//!
//! Noise avoided (in the second pass, `links/`): when every piece of
//! waiting work is already named by another finding about this process (its
//! CLOSE-WAIT sockets by close_wait_leak, its queue by keepalive_starvation
//! or accept_stalled), only threads blocked on a TCP connection are kept:
//! they say which connection holds things up. Threads parked in futex or
//! epoll then add nothing — a Go server's runtime threads all look like that
//! whatever its goroutines do. The evidence carries the typed work list and
//! `on_connection` for that.

mod judge;
mod words;

use crate::Ctx;
use unwedge_model::Finding;

pub fn detect(ctx: &Ctx, out: &mut Vec<Finding>) {
    for j in judge::judge(ctx) {
        let words = words::words(ctx, &j);
        out.push(ctx.finding(j.verdict, words));
    }
}
