//! `peer_not_reading` — a thread blocked sending to a peer that stopped
//! reading. A client that stops reading (a stuck browser tab, a paused
//! consumer, a slowloris) or an upstream that does not drain its socket
//! fills its receive buffer; its window closes; our send buffer fills; a
//! blocking send then waits for window space forever when the program set
//! no send timeout — one handler thread held per such peer.
//!
//! Kernel facts, in both snapshots: the thread is asleep in send, sendto,
//! sendmsg, write, writev or sendfile (/proc/PID/task/TID/syscall) on a TCP
//! socket (its fd argument, resolved), without a context switch or CPU time
//! in between; that socket has bytes queued (sock_diag's send queue) and the
//! peer advertises a zero window (tcp_info `snd_wnd` 0, Linux 5.4+; on older
//! kernels, unanswered zero-window probes `tcpi_probes`) and acknowledged
//! nothing in between (`bytes_acked` unchanged). `tcpi_probes` and
//! `tcpi_backoff` say how far the kernel's zero-window probing has backed
//! off; `last_data_sent` how long no data could go out.
//!
//! Healthy twin: a fast bulk transfer fills the send buffer and blocks in
//! send for a moment, even sees a zero window for a moment, but its window
//! opens again between the snapshots (bytes_acked grows, the thread wakes
//! up): silent. An event loop writing with non-blocking sockets never sleeps
//! in send (it waits in epoll and applies its own send_timeout): silent.

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
