//! Unix-domain sockets in a snapshot, live: a listener nobody accepts on,
//! filled by a client process until connect() fails with EAGAIN (what
//! nginx sees of a saturated PHP-FPM), an accepted connection, an abstract
//! seqpacket listener, and the same in a network namespace the test makes;
//! its healthy twin (every connection accepted), where the default scan
//! dumps the listeners only. Every expected value comes from the
//! scenario's own fstat()s.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;
use unwedge_collect::{walk::Budget, Detail};
use unwedge_model::{Snapshot, UnixKind, UnixSocket, UnixState};

/// Removes the scenario's socket files when the test ends, pass or fail.
struct Dir(String);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn sock(snap: &Snapshot, inode: u64) -> &UnixSocket {
    snap.unix_sockets.iter().find(|s| s.inode == inode).unwrap_or_else(|| {
        panic!("unix socket {inode} not in the snapshot; notes: {:?}; {} kept", snap.notes, snap.unix_sockets.len())
    })
}

/// The pids whose fds hold socket `inode`.
fn owners(snap: &Snapshot, inode: u64) -> Vec<u32> {
    snap.processes.iter().filter(|p| p.sockets.iter().any(|s| s.inode == inode)).map(|p| p.pid).collect()
}

/// A snapshot (every process read in full and every connection dumped,
/// or as the default scan takes it) once listener `inode` shows (it is in
/// place before READY; the poll only bounds a slow machine).
fn snapshot_with(inode: u64, detail: Detail) -> Snapshot {
    let mut snap = None;
    assert!(
        wait_until(Duration::from_secs(15), || {
            let s = unwedge_collect::snapshot_within(Budget { detail, ..Default::default() }).expect("snapshot");
            let found = s.unix_sockets.iter().any(|u| u.inode == inode);
            snap = Some(s);
            found
        }),
        "listener {inode} never appeared: {:?}",
        snap.as_ref().map(|s| &s.notes)
    );
    snap.unwrap()
}

/// What every run of the scenario must show, wherever it runs.
fn check(r: &Value, snap: &Snapshot) {
    let (server, client) = (n(&r["pid"]) as u32, n(&r["client"]) as u32);

    // The full listener: its path, its queue at backlog + 1 (the kernel
    // admits one more), the queued clients by inode, and its owner.
    let l = sock(snap, n(&r["listener"]));
    let queued: Vec<u64> = r["queued"].as_array().unwrap().iter().map(n).collect();
    assert_eq!((l.state, l.kind), (UnixState::Listen, UnixKind::Stream));
    assert_eq!(l.path.as_deref(), r["path"].as_str());
    assert_eq!(l.recv_q as u64, n(&r["backlog"]) + 1, "{l:?}");
    assert_eq!(l.recv_q as usize, queued.len(), "every client the kernel took is queued: {l:?}");
    assert_eq!(l.send_q as u64, n(&r["backlog"]));
    assert_eq!(l.pending, queued);
    let file = std::fs::metadata(r["path"].as_str().unwrap()).unwrap();
    assert_eq!(l.vfs.map(|v| v.inode), Some(std::os::unix::fs::MetadataExt::ino(&file)));
    assert_eq!(owners(snap, l.inode), [server]);
    for q in &queued {
        assert_eq!(sock(snap, *q).peer, Some(0), "queued, not accepted yet");
        assert_eq!(owners(snap, *q), [client]);
    }

    // The accepted connection: named as its listener, joined through its
    // peer to the client's process.
    let a = sock(snap, n(&r["accepted"]));
    assert_eq!(a.path.as_deref(), r["work_path"].as_str());
    assert_eq!(a.state, UnixState::Established);
    let peer = a.peer.expect("an accepted connection names its peer");
    assert_eq!(peer, n(&r["work_client"]));
    assert_eq!(owners(snap, a.inode), [server]);
    assert_eq!(owners(snap, peer), [client]);
    assert_eq!(owners(snap, n(&r["work_listener"])), [server]);

    // The abstract seqpacket listener, one client queued.
    let s = sock(snap, n(&r["seq_listener"]));
    assert_eq!((s.kind, s.state), (UnixKind::Seqpacket, UnixState::Listen));
    assert_eq!(s.path.as_deref(), r["abstract"].as_str());
    assert_eq!((s.recv_q, s.pending.as_slice()), (1, [n(&r["seq_client"])].as_slice()));
    assert_eq!(owners(snap, n(&r["seq_client"])), [client]);

    // Every socket of the scenario carries the namespace its owner is in.
    let ns = snap.processes.iter().find(|p| p.pid == server).expect("the server").netns;
    for inode in [l.inode, a.inode, s.inode] {
        assert_eq!(sock(snap, inode).netns, ns);
    }
    let dumped = snap.netns.iter().find(|x| x.inode == ns).expect("its namespace was dumped");
    assert!(dumped.unix_connections, "connections are dumped where a listener has some waiting: {dumped:?}");
    // Three listeners, the queued clients, the accepted connection's two
    // ends and the seqpacket client (a connection not yet accepted has no
    // server socket the dump shows: it gets its inode at accept()).
    assert!(dumped.unix_seen.unwrap_or(0) as usize >= 3 + queued.len() + 3, "{dumped:?}");
}

/// Starts the scenario (removing its socket files at the end).
fn scenario(args: &[&str]) -> (Child, Dir) {
    let srv = python("unix_listener.py", args);
    let dir = Dir(srv.ready["dir"].as_str().unwrap().into());
    (srv, dir)
}

fn root_for_netns() -> bool {
    require("root (to create a network namespace)", is_root())
}

#[test]
fn a_full_unix_listener_its_queue_its_owner_and_the_far_end_of_a_connection() {
    let (srv, _dir) = scenario(&[]);
    let snap = snapshot_with(n(&srv.ready["listener"]), Detail::Full);
    check(&srv.ready, &snap);
}

#[test]
fn unix_listeners_in_a_network_namespace_are_found_from_the_host() {
    if !root_for_netns() {
        return;
    }
    let (srv, _dir) = scenario(&["--netns"]);
    // As the default scan takes it: the full listener brings the
    // namespace's connections into the dump.
    let snap = snapshot_with(n(&srv.ready["listener"]), Detail::Needed);
    check(&srv.ready, &snap);
    let l = sock(&snap, n(&srv.ready["listener"]));
    assert_ne!(l.netns, snap.host_netns, "the listener is in the scenario's namespace");
    let own = srv.ready["netns"].as_str().unwrap(); // "net:[4026532…]"
    assert_eq!(own, format!("net:[{}]", l.netns));
    // The listener's owner and the clients queued on it are read in full
    // (their threads: who accepts, who waits).
    let worth = unwedge_collect::unix_diag::worth_reading(&snap.unix_sockets);
    assert!(worth.contains(&l.inode), "{worth:?}");
    assert!(srv.ready["queued"].as_array().unwrap().iter().all(|q| worth.contains(&n(q))), "{worth:?}");
    for pid in [n(&srv.ready["pid"]), n(&srv.ready["client"])] {
        let p = snap.processes.iter().find(|p| p.pid as u64 == pid).unwrap();
        assert!(!p.brief, "{pid} read in brief");
    }
}

/// The healthy twin, in a namespace of its own (another listener with a
/// queue there would bring the connections in): the default scan dumps
/// its listeners, empty queues, and not its connections; a full snapshot
/// has them.
#[test]
fn listeners_that_keep_up_cost_the_default_scan_no_connection_dump() {
    if !root_for_netns() {
        return;
    }
    let (srv, _dir) = scenario(&["--netns", "--accept"]);
    let r = &srv.ready;
    let snap = snapshot_with(n(&r["listener"]), Detail::Needed);
    let l = sock(&snap, n(&r["listener"]));
    assert_eq!((l.state, l.recv_q, l.pending.len()), (UnixState::Listen, 0, 0));
    assert_eq!(sock(&snap, n(&r["seq_listener"])).recv_q, 0);
    assert_eq!(owners(&snap, l.inode), [n(&r["pid"]) as u32]);
    let ns = snap.netns.iter().find(|x| x.inode == l.netns).expect("its namespace");
    assert!(!ns.unix_connections, "{ns:?}");
    // Nothing here is a reason to read its holders in full. (Whether they
    // are read in brief depends on more: a child of a process with a
    // thread in D, such as this test's own /proc readers, is read in full.)
    let ours: Vec<u64> = ["listener", "work_listener", "seq_listener", "accepted", "work_client", "seq_client"]
        .iter()
        .map(|k| n(&r[k]))
        .chain(r["clients"].as_array().unwrap().iter().map(n))
        .collect();
    let worth = unwedge_collect::unix_diag::worth_reading(&snap.unix_sockets);
    assert!(ours.iter().all(|i| !worth.contains(i)), "{worth:?}");
    assert!(snap.unix_sockets.iter().filter(|s| s.netns == l.netns).all(|s| s.state == UnixState::Listen));
    assert!(snap.unix_sockets.iter().all(|s| s.inode != n(&r["accepted"])));

    let full = snapshot_with(n(&r["listener"]), Detail::Full);
    assert!(full.netns.iter().any(|x| x.inode == l.netns && x.unix_connections));
    let a = sock(&full, n(&r["accepted"]));
    assert_eq!(a.peer, Some(n(&r["work_client"])));
    assert_eq!(owners(&full, n(&r["work_client"])), [n(&r["client"]) as u32]);
    // The first listener's three accepted connections, by their peers.
    let mut peers: Vec<u64> = full
        .unix_sockets
        .iter()
        .filter(|s| s.state == UnixState::Established && s.path.as_deref() == r["path"].as_str())
        .filter_map(|s| s.peer)
        .collect();
    peers.sort_unstable();
    let mut clients: Vec<u64> = r["clients"].as_array().unwrap().iter().map(n).collect();
    clients.sort_unstable();
    assert_eq!(peers, clients);
}
