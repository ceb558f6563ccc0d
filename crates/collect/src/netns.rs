//! sock_diag answers for one network namespace only, so a host with
//! containers hides their sockets from a naive scan. Each distinct namespace
//! a process lives in is dumped from a short-lived helper thread that
//! setns()es into it (namespaces are per thread, so the rest of the scan is
//! untouched).

use crate::{parse, sock_diag, unix_diag, CollectError};
use std::collections::BTreeMap;
use std::io;
use std::sync::mpsc;
use std::time::Duration;
use unwedge_model::{Conntrack, NetNs, Socket, UnixSocket};

/// A namespace that does not answer within this (or by the scan's
/// deadline, if sooner) is reported and skipped. A stalled dump fails
/// sooner anyway (every netlink read times out after 5 s); this bounds a
/// dump that keeps making progress: a million sockets take seconds.
const NETNS_TIMEOUT: Duration = Duration::from_secs(30);

/// TCP sockets and counters of the namespace the calling thread is in.
pub fn collect_here(inode: u64, notes: &mut Vec<String>) -> (NetNs, Vec<Socket>) {
    let mut ns = counters(inode);
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
        dns(&mut ns, notes);
    }
    (ns, sockets)
}

/// A second look at the namespace the calling thread is in: its counters,
/// and the sockets [`sock_diag::dump_look`] selects (`None`: not dumped).
pub fn look_here(inode: u64, ports: &[u16], notes: &mut Vec<String>) -> (NetNs, Option<Vec<Socket>>) {
    let mut ns = counters(inode);
    let sockets = match sock_diag::dump_look(inode, ports) {
        Ok(s) => Some(s),
        Err(e) => {
            notes.push(format!("netns {inode}: the second look's socket dump failed ({e})"));
            None
        }
    };
    dns(&mut ns, notes);
    (ns, sockets)
}

fn dns(ns: &mut NetNs, notes: &mut Vec<String>) {
    match sock_diag::dump_dns() {
        Ok(d) => ns.dns_sockets = d,
        Err(e) => {
            notes.push(format!("netns {}: UDP sockets not dumped ({e}): DNS lookups in flight not seen", ns.inode))
        }
    }
}

/// The counters and settings of the namespace the calling thread is in.
fn counters(inode: u64) -> NetNs {
    let read = |p: &str| std::fs::read(p).ok();
    let tcpext = read("/proc/thread-self/net/netstat").map(|b| parse::netstat::parse(&b)).unwrap_or_default();
    // /proc/sys/net answers for the reading thread's namespace.
    let num = |p: &str| read(p).and_then(|b| parse::sysctl::single(&b));
    NetNs {
        inode,
        listen_overflows: tcpext.listen_overflows,
        listen_drops: tcpext.listen_drops,
        syn_challenges: tcpext.syn_challenges,
        challenge_acks: tcpext.challenge_acks,
        ephemeral_ports: read("/proc/sys/net/ipv4/ip_local_port_range").and_then(|b| parse::sysctl::port_range(&b)),
        fin_timeout_s: num("/proc/sys/net/ipv4/tcp_fin_timeout").map(|v| v as u32),
        source: "sock_diag".into(),
        reserved_ports: read("/proc/sys/net/ipv4/ip_local_reserved_ports")
            .map(|b| parse::sysctl::port_list(&b))
            .unwrap_or_default(),
        tcp_tw_reuse: num("/proc/sys/net/ipv4/tcp_tw_reuse").map(|v| v.min(255) as u8),
        somaxconn: num("/proc/sys/net/core/somaxconn").map(|v| v.min(u32::MAX as u64) as u32),
        max_syn_backlog: num("/proc/sys/net/ipv4/tcp_max_syn_backlog").map(|v| v.min(u32::MAX as u64) as u32),
        syncookies: num("/proc/sys/net/ipv4/tcp_syncookies").map(|v| v.min(255) as u8),
        reqq_full_drop: tcpext.reqq_full_drop,
        reqq_full_do_cookies: tcpext.reqq_full_do_cookies,
        syncookies_sent: tcpext.syncookies_sent,
        conntrack: conntrack(&read),
        ..Default::default()
    }
}

/// [`collect_here`], and the unix sockets `unix_diag` keeps.
pub fn collect_here_with_unix(
    inode: u64,
    unix: unix_diag::Connections,
    notes: &mut Vec<String>,
) -> (NetNs, Vec<Socket>, Vec<UnixSocket>) {
    let (mut ns, sockets) = collect_here(inode, notes);
    let unix = match unix_diag::dump(inode, unix) {
        Ok(d) => {
            if let Some(e) = d.failed {
                notes.push(format!("netns {inode}: unix connections not dumped ({e}): listeners only"));
            }
            ns.unix_seen = Some(d.seen);
            ns.unix_connections = d.connections;
            d.sockets
        }
        Err(e) => {
            notes.push(format!("netns {inode}: unix sockets not dumped ({e}): their listeners and queues not seen"));
            Vec::new()
        }
    };
    (ns, sockets, unix)
}

/// The namespace's conntrack table, where nf_conntrack is loaded (its
/// sysctls exist): count is per namespace, max is global.
fn conntrack(read: &dyn Fn(&str) -> Option<Vec<u8>>) -> Option<Conntrack> {
    let count = read("/proc/sys/net/netfilter/nf_conntrack_count").and_then(|b| parse::sysctl::single(&b))?;
    let max = read("/proc/sys/net/netfilter/nf_conntrack_max").and_then(|b| parse::sysctl::single(&b))?;
    let st = read("/proc/thread-self/net/stat/nf_conntrack").map(|b| parse::conntrack::stat(&b)).unwrap_or_default();
    Some(Conntrack { count, max, drop: st.drop, early_drop: st.early_drop, insert_failed: st.insert_failed })
}

/// What [`collect_in`] returns for one namespace.
pub type Collected = Result<(NetNs, Vec<Socket>, Vec<UnixSocket>, Vec<String>), CollectError>;
/// What [`look_in`] returns: the namespace, the sockets of the ports looked at (`None`: the dump failed), notes.
pub type Looked = Result<(NetNs, Option<Vec<Socket>>, Vec<String>), CollectError>;

/// Every namespace other than `host` that a process is in now (found by
/// reading each /proc/PID/ns/net), collected one after the other, with the
/// pid entered for it. Run beside the /proc walk, so that a container's
/// sockets (a big unix socket table costs as much as the walk of its
/// owners) are dumped while the walk runs instead of after it; the caller
/// collects what this missed.
pub fn collect_foreign(
    host: u64,
    until: Option<std::time::Instant>,
    unix: unix_diag::Connections,
) -> BTreeMap<u64, (u32, Collected)> {
    let mut first: BTreeMap<u64, u32> = BTreeMap::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(link) = std::fs::read_link(format!("/proc/{pid}/ns/net")) else { continue };
        match parse::sysctl::ns_inode(link.as_os_str().as_encoded_bytes()) {
            Some(ns) if ns != host && ns != 0 => {
                first.entry(ns).or_insert(pid);
            }
            _ => {}
        }
    }
    first.into_iter().map(|(ns, pid)| (ns, (pid, collect_in(pid, ns, until, unix)))).collect()
}

/// Enters the namespace of `pid` on a helper thread and collects there.
pub fn collect_in(pid: u32, inode: u64, until: Option<std::time::Instant>, unix: unix_diag::Connections) -> Collected {
    let (ns, (socks, unix), notes) = run_in(pid, inode, until, move |notes| {
        let (ns, socks, unix) = collect_here_with_unix(inode, unix, notes);
        (ns, (socks, unix))
    })?;
    Ok((ns, socks, unix, notes))
}

/// [`look_here`] in the namespace of `pid`, on a helper thread.
pub fn look_in(pid: u32, inode: u64, ports: Vec<u16>, until: Option<std::time::Instant>) -> Looked {
    run_in(pid, inode, until, move |notes| look_here(inode, &ports, notes))
}

/// Runs `f` on a helper thread inside the namespace of `pid`.
fn run_in<T: Send + 'static>(
    pid: u32,
    inode: u64,
    until: Option<std::time::Instant>,
    f: impl FnOnce(&mut Vec<String>) -> (NetNs, T) + Send + 'static,
) -> Result<(NetNs, T, Vec<String>), CollectError> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name(format!("netns-{inode}")).spawn(move || {
        let res = enter(pid, inode).map(|()| {
            let mut notes = Vec::new();
            let (ns, socks) = f(&mut notes);
            (ns, socks, notes)
        });
        let _ = tx.send(res);
    });
    if let Err(e) = spawned {
        return Err(CollectError::Io { what: "cannot start a thread", source: e });
    }
    let wait =
        until.map_or(NETNS_TIMEOUT, |u| u.saturating_duration_since(std::time::Instant::now()).min(NETNS_TIMEOUT));
    match rx.recv_timeout(wait) {
        Ok(r) => r,
        Err(_) => Err(CollectError::TimedOut { after: wait }),
    }
}

fn enter(pid: u32, inode: u64) -> Result<(), CollectError> {
    let cannot = |e| CollectError::io("cannot enter it", e);
    let f = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(cannot)?;
    // The process may have moved on: make sure it is the namespace we mean.
    let meta = f.metadata().map_err(cannot)?;
    if std::os::unix::fs::MetadataExt::ino(&meta) != inode {
        let left = io::Error::new(io::ErrorKind::NotFound, "the process left it");
        return Err(CollectError::Vanished { what: "cannot enter it", source: left });
    }
    // Affects only this thread.
    crate::sys::enter_net_namespace(&f).map_err(cannot)
}
