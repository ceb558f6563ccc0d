//! Says that idle keep-alive connections hold every slot while new clients wait.

use super::judge::Judged;
use crate::{secs, Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let addr = &e.listen;
    let who = j.verdict.pid.map(|p| ctx.proc_label(p)).unwrap_or_else(|| "an unknown process".into());
    let (n_idle, n_wait) = (e.slots_held_by_idle, e.waiting_whole_interval);
    Words {
        title: format!(
            "{who} serves only {n_idle} idle keep-alive connection{} on {addr} while {}",
            if n_idle == 1 { "" } else { "s" },
            if n_wait == 1 {
                "1 new client waits unaccepted".to_string()
            } else {
                format!("{n_wait} new clients wait unaccepted")
            }
        ),
        explanation: format!(
            "Every connection {who} has accepted on {addr} is idle (no data either way for at least {}), yet during the {} between snapshots it accepted none of the connections waiting in its queue ({n_wait}). \
This is the signature of a concurrency cap (e.g. Go's netutil.LimitListener, a fixed worker pool, a single-threaded server) whose slots are held by HTTP keep-alive connections that a client or load balancer keeps open between requests: new clients get a TCP handshake from the kernel but never an answer, and time out; nothing is logged because no handler sees them. It looks random because it depends on which client holds the slot.",
            secs(j.min_idle_ms as u64),
            secs(ctx.interval_ms)
        ),
        fix: "Do not count idle keep-alive connections against a concurrency cap, or close idle ones when others wait: set an idle timeout (Go: http.Server{IdleTimeout}, nginx keepalive_timeout), disable keep-alive where the cap is tiny (Go: srv.SetKeepAlivesEnabled(false); or answer with `Connection: close`), or raise the cap / use a server that multiplexes idle connections cheaply.".into(),
    }
}
