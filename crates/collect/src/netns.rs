//! sock_diag answers for one network namespace only, so a host with
//! containers hides their sockets from a naive scan. Each distinct namespace
//! a process lives in is dumped from a short-lived helper thread that
//! setns()es into it (namespaces are per thread, so the rest of the scan is
//! untouched).

use crate::{parse, sock_diag};
use std::io;
use std::sync::mpsc;
use std::time::Duration;
use unwedge_model::{NetNs, Socket};

/// A namespace that does not answer within this (or by the scan's
/// deadline, if sooner) is reported and skipped. A stalled dump fails
/// sooner anyway (every netlink read times out after 5 s); this bounds a
/// dump that keeps making progress: a million sockets take seconds.
const NETNS_TIMEOUT: Duration = Duration::from_secs(30);

/// Sockets and counters of the namespace the calling thread is in.
pub fn collect_here(inode: u64, notes: &mut Vec<String>) -> (NetNs, Vec<Socket>) {
    let read = |p: &str| std::fs::read(p).ok();
    let tcpext = read("/proc/thread-self/net/netstat").map(|b| parse::netstat::parse(&b)).unwrap_or_default();
    let mut ns = NetNs {
        inode,
        listen_overflows: tcpext.listen_overflows,
        listen_drops: tcpext.listen_drops,
        syn_challenges: tcpext.syn_challenges,
        challenge_acks: tcpext.challenge_acks,
        ephemeral_ports: read("/proc/sys/net/ipv4/ip_local_port_range").and_then(|b| parse::sysctl::port_range(&b)),
        fin_timeout_s: read("/proc/sys/net/ipv4/tcp_fin_timeout")
            .and_then(|b| parse::sysctl::single(&b))
            .map(|v| v as u32),
        source: "sock_diag".into(),
        ..Default::default()
    };
    let sockets = match sock_diag::dump(inode) {
        Ok(s) => s,
        Err(e) => {
            ns.source = "proc_net_tcp".into();
            notes.push(format!(
                "netns {inode}: netlink sock_diag refused ({e}); read /proc/net/tcp instead (no tcp_info, no listener backlog)"
            ));
            sock_diag::read_proc_net_tcp(inode).unwrap_or_else(|e| {
                notes.push(format!("netns {inode}: /proc/net/tcp unreadable too: {e}"));
                Vec::new()
            })
        }
    };
    if ns.source == "sock_diag" {
        match sock_diag::dump_dns() {
            Ok(d) => ns.dns_sockets = d,
            Err(e) => {
                notes.push(format!("netns {inode}: UDP sockets not dumped ({e}): DNS lookups in flight not seen"))
            }
        }
    }
    (ns, sockets)
}

/// Enters the namespace of `pid` on a helper thread and collects there.
pub fn collect_in(
    pid: u32,
    inode: u64,
    until: Option<std::time::Instant>,
) -> Result<(NetNs, Vec<Socket>, Vec<String>), String> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name(format!("netns-{inode}")).spawn(move || {
        let res = enter(pid, inode).map(|()| {
            let mut notes = Vec::new();
            let (ns, socks) = collect_here(inode, &mut notes);
            (ns, socks, notes)
        });
        let _ = tx.send(res.map_err(|e| e.to_string()));
    });
    if let Err(e) = spawned {
        return Err(format!("cannot start a thread: {e}"));
    }
    let wait =
        until.map_or(NETNS_TIMEOUT, |u| u.saturating_duration_since(std::time::Instant::now()).min(NETNS_TIMEOUT));
    match rx.recv_timeout(wait) {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {}", unwedge_model::fmt::duration(wait))),
    }
}

fn enter(pid: u32, inode: u64) -> io::Result<()> {
    let f = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    // The process may have moved on: make sure it is the namespace we mean.
    let meta = f.metadata()?;
    if std::os::unix::fs::MetadataExt::ino(&meta) != inode {
        return Err(io::Error::new(io::ErrorKind::NotFound, "process left the namespace"));
    }
    // Affects only this thread.
    crate::sys::enter_net_namespace(&f)
}
