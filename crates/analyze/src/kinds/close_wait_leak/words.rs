//! Says which sockets the process never closed, how a new connection can
//! collide with them, and where close() is missing.

use super::judge::Judged;
use crate::{secs, Ctx, Words};

pub fn words(ctx: &Ctx, j: &Judged) -> Words {
    let e = &j.verdict.evidence;
    let n = e.close_wait;
    let who = ctx.proc_label(j.verdict.pid.unwrap_or(0));
    let fin = e.tcp_fin_timeout_s.unwrap_or(60);
    let range_txt = match (e.ephemeral_port_range, e.peer_ports_in_ephemeral_range) {
        (Some([lo, hi]), Some(k)) => format!(
            "{k} of the {n} peer ports lie inside this host's ephemeral range {lo}-{hi}, so a local client that is handed one of those ports again sends its SYN into a stale 4-tuple. "
        ),
        _ => String::new(),
    };
    let hits_txt = match e.syn_challenges_during_interval {
        Some(k) if k > 0 => format!(
            "It is happening now: during the {} between snapshots {k} SYN{} in this network namespace landed on an existing connection's 4-tuple and got a challenge ACK (TcpExt TCPSYNChallenge). ",
            secs(ctx.interval_ms),
            if k == 1 { "" } else { "s" }
        ),
        _ => String::new(),
    };
    let read_eof = e.read_eof_not_closed;
    let how = if read_eof == n {
        "It read every one to EOF (recv-q 0) and then never called close(): a missing close on some code path."
    } else if read_eof == 0 {
        "None of them was read to EOF (the FIN still waits in the receive queue): the handler stopped reading and never closed, e.g. it blocks, sleeps or forgot the connection."
    } else {
        "Some were read to EOF and left open, others were never read to EOF: more than one code path leaks."
    };
    Words {
        title: format!("{who} holds {n} sockets in CLOSE-WAIT it never closed"),
        explanation: format!(
            "Each peer closed its end (sent FIN) and the kernel acknowledged it, but {who} never called close(), so the socket stays in CLOSE-WAIT for as long as the process lives. {how} \
The peer's half (FIN-WAIT-2) expires after net.ipv4.tcp_fin_timeout ({fin} s), freeing its port while this half lives on. {range_txt}{hits_txt}\
On a modern Linux kernel the colliding SYN gets a challenge ACK, the client resets the stale socket and retries within milliseconds; behind a stateful firewall, conntrack or NAT that drops that unexpected ACK, the client instead retransmits SYNs and connect() times out. \
Either way every leaked socket costs an fd (towards EMFILE, after which accept() fails and the listen queue overflows) and kernel memory."
        ),
        fix: "Close the connection on every path once the peer has closed: when read() returns 0 (EOF), on errors and timeouts, in a finally/defer (Go: defer conn.Close(); Python: with socket). \
Give handlers a read deadline so a stuck one cannot hold a socket forever. Restarting the process frees the sockets now; the leak returns until the code is fixed."
            .into(),
    }
}
