//! `cross_process_deadlock` — processes that wait on each other in a
//! cycle: A's handlers call B and wait for its answers, B's handlers call A
//! and wait for its answers, and neither pool has a worker left to answer
//! (nginx → app → back through nginx is the same cycle with three hops).
//! Each process alone looks like a server waiting on a slow upstream;
//! only following the waits across processes shows that the upstream is,
//! in the end, the waiter itself.
//!
//! Kernel facts: the wait graph (facts/graph). Each side's connections to
//! the next side owe it an answer for the whole interval — this end sent
//! last and its request was acknowledged (tcp_info byte counters and data
//! segments), and no counter moved between the two snapshots — or wait
//! unaccepted in the next side's accept queue in both snapshots; the other
//! end of each connection is found on this host by its reversed 4-tuple
//! (any network namespace) and belongs to the next side, or waits in the
//! queue of a listener the next side accepts on. Following these waits
//! from process to process comes back to a process already on the path.
//! At least one side must show it cannot take the work: connections
//! queued unaccepted in both snapshots, or requests left unread on its end
//! across the interval.
//!
//! False alarm avoided: services that call each other and are answered (a
//! request answered within the interval moves the byte counters: no owed
//! edge), and mutual long-polls or subscriptions (A waits on B's events
//! while B waits on A's: each was accepted and read, and both still serve
//! others): the cycle is there but nobody's queue stalls and no request
//! sits unread.

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
