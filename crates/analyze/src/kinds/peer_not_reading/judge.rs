//! Decides which threads slept the whole interval sending on a connection
//! whose peer keeps a zero window and acknowledged nothing.

use crate::facts::index::endpoint;
use crate::facts::syscalls::{Call, Class};
use crate::facts::{threads, waits};
use crate::{Ctx, Verdict};
use unwedge_model::evidence::{PeerNotReading, ZeroWindow};
use unwedge_model::{Severity, Socket, Thread};

pub struct Judged {
    pub verdict: Verdict<PeerNotReading>,
}

pub fn judge(ctx: &Ctx) -> Vec<Judged> {
    let Some(first) = &ctx.first else { return Vec::new() };
    // Only processes owning a zero-window socket: a handful on any host.
    let mut pids: Vec<u32> = ctx
        .snap()
        .sockets
        .iter()
        .filter(|s| s.inode != 0 && waits::zero_window(s))
        .flat_map(|s| ctx.last.owners_of(s.inode).iter().copied())
        .collect();
    pids.sort();
    pids.dedup();
    let arch = ctx.snap().arch.as_str();
    let mut out = Vec::new();
    for pid in pids {
        let Some(p) = ctx.last.process(pid) else { continue };
        let mut hits: Vec<(ZeroWindow, &Thread, u16)> = Vec::new();
        for t in &p.threads {
            let Some(call) = Call::of(arch, t) else { continue };
            if call.class != Class::Send || !waits::unchanged(ctx, p, t) {
                continue;
            }
            let Ok(fd) = u32::try_from(call.arg(0)) else { continue };
            let Some(s) = ctx.last.socket_of_fd(p, fd) else { continue };
            let Some(b) = first.socket(s.inode) else { continue };
            if !still_shut(s, b) {
                continue;
            }
            let i = s.info.unwrap_or_default();
            let z = ZeroWindow {
                local: endpoint(s.local, s.local_port),
                peer: endpoint(s.remote, s.remote_port),
                bytes_queued: s.send_q,
                peer_window: i.snd_wnd,
                no_data_sent_ms: i.last_data_sent_ms as u64,
                probes: i.probes,
                backoff: i.backoff,
                tid: t.tid,
                syscall: call.name,
            };
            hits.push((z, t, s.local_port));
        }
        if hits.is_empty() {
            continue;
        }
        hits.sort_by_key(|(z, _, _)| std::cmp::Reverse(z.no_data_sent_ms));
        let (t, port) = (hits[0].1, Some(hits[0].2));
        let ev = PeerNotReading {
            blocked_threads: hits.len(),
            connections: hits.into_iter().map(|(z, _, _)| z).collect(),
            thread: threads::evidence(&ctx.last, p, t),
            cmdline: p.cmdline.clone(),
        };
        let mut verdict = Verdict::new(Severity::Warning, Some(pid), port, p.netns, ev);
        verdict.tid = Some(t.tid);
        out.push(Judged { verdict });
    }
    out
}

/// Zero window in both snapshots and nothing acknowledged in between.
fn still_shut(now: &Socket, before: &Socket) -> bool {
    waits::zero_window(now)
        && waits::zero_window(before)
        && now.info.and_then(|i| i.bytes_acked) == before.info.and_then(|i| i.bytes_acked)
}
