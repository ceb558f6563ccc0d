//! Says that clients wait in a queue nobody drains, and what the accepting
//! process is doing instead.

use super::judge::Judged;
use crate::kinds::shared::{accept_because, accept_fix};
use crate::{secs, Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let (addr, n) = (&e.listen, e.waiting_whole_interval);
    let who = j.verdict.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "an unknown process".into());
    let interval = secs(ctx.interval_ms);
    Words {
        title: format!("{who} accepted none of the {n} connections waiting on {addr} for {interval}"),
        explanation: format!(
            "{n} clients {} and wait in the accept queue, but {who} accepted none of them during the {interval} between the two snapshots. To those clients the server looks up yet never answers: they time out, and the application logs nothing because no handler ever saw them.{}",
            if j.verdict.path.is_some() {
                format!("connected to {addr} (the kernel queues a unix connection at connect(), nobody needs to accept it)")
            } else {
                format!("completed the TCP handshake with {addr} (the kernel does that alone)")
            },
            accept_because(ctx, &j.facts, &who)
        ),
        fix: accept_fix(ctx, &j.facts, &who, j.verdict.pid),
    }
}
