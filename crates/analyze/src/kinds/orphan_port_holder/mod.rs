//! `orphan_port_holder` — story 1 of docs/stories.md: a forking proxy's master
//! died; its per-connection children, re-parented to init, still held the
//! listening socket, so the restarted proxy failed with EADDRINUSE and the
//! children had to be found and killed by hand.
//!
//! Kernel facts: LISTEN sockets (sock_diag) behind the process's fds, its
//! parent and process group (/proc/PID/stat). The orphan test itself is
//! `process_tree::is_orphaned_worker`, shared with `unwedge stop --port`.
//! False alarms avoided: a daemon that called setsid() leads its own group;
//! workers of a live master still have their group leader; a master killed a
//! moment ago during a restart (the state must hold in both snapshots); and
//! processes a launcher forked and left on purpose, each with a listener of
//! its own (a bench farm, `server &` in a script that exited): a leftover is
//! told apart by a listener it *inherited* — one its group siblings hold
//! too — or by a dead master that led both the group and its session (a
//! daemon's forked children). A master whose own children share its
//! listener is serving, however it was launched. Connections queuing unaccepted are not taken
//! as a sign: a server left running on purpose can stall too (accept_stalled
//! says so).

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
