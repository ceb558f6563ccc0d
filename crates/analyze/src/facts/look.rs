//! What a continuous scan must look at again a short while after its
//! snapshot (see docs/architecture.md, "Continuous mode").
//!
//! A continuous scan compares each snapshot with the previous one, an
//! interval (15 s) earlier: what lasted that long, unchanged, is judged by
//! that comparison, and more strongly than a 1 s scan could. What it cannot
//! judge is what is new since, or moved: a CLOSE-WAIT socket, a queued
//! listener or a queued connection absent from the previous snapshot, a
//! process that ran in between (its threads may have been stuck for the
//! last second only). Those are the candidates of a second look: the
//! processes a two-snapshot finding can be about, by the same facts the
//! detectors read —
//! - holders of a socket that can be waiting work or a leak: CLOSE-WAIT, a
//!   listener with connections queued, a served connection with unread
//!   bytes, one whose peer shows a zero window, a port where at least two
//!   requests await their answer (`keep`'s rule);
//! - processes whose own state can make a finding: a thread stopped, in D,
//!   with a signal pending or blocked in every thread, SIGTERM ignored;
//! - parents of zombies that are new, and listeners' holders that are new
//!   or were reparented (an orphaned worker);
//!
//! — each unless it is settled: the process existed in the previous
//! snapshot (same start), did not run in between (the same CPU time and
//! context switches, every thread asleep now), kept its parent, and its
//! candidate sockets were there already, in the same state (a listener
//! queued then too). For a settled process the long comparison says all a
//! short one could, and more.

use crate::facts::index::{FastMap, FastSet};
use crate::facts::requests::{awaits_answer, MIN_UNANSWERED};
use crate::facts::waits::zero_window;
use unwedge_model::{LookPlan, Process, Snapshot, Socket, TcpState};

/// The processes and ports a second look re-reads; empty when the
/// comparison with `prev` settles everything (`None`: there is no
/// previous snapshot, so nothing is settled).
pub fn look_plan(prev: Option<&Snapshot>, snap: &Snapshot) -> LookPlan {
    let before_p: FastMap<u32, &Process> =
        prev.map(|p| p.processes.iter().map(|q| (q.pid, q)).collect()).unwrap_or_default();
    let before_s: FastMap<u64, &Socket> =
        prev.map(|p| p.sockets.iter().filter(|s| s.inode != 0).map(|s| (s.inode, s)).collect()).unwrap_or_default();
    let settled_proc = |p: &Process| before_p.get(&p.pid).is_some_and(|q| did_not_run(q, p));
    let served: FastSet<(u64, u16)> =
        snap.sockets.iter().filter(|s| s.state == TcpState::Listen).map(|s| (s.netns, s.local_port)).collect();
    let asked = asked_ports(snap);
    // Candidate sockets: whether the previous snapshot had each as it is
    // now, and its namespace and local port.
    let mut candidates: FastMap<u64, (bool, (u64, u16))> = FastMap::default();
    let listeners: FastSet<u64> =
        snap.sockets.iter().filter(|s| s.state == TcpState::Listen && s.inode != 0).map(|s| s.inode).collect();
    for s in snap.sockets.iter().filter(|s| s.inode != 0) {
        let key = (s.netns, s.local_port);
        let on_asked = asked.contains(&key);
        let candidate = match s.state {
            TcpState::CloseWait => true,
            TcpState::Listen => s.recv_q > 0,
            TcpState::Established => on_asked || zero_window(s) || (s.recv_q > 0 && served.contains(&key)),
            _ => on_asked,
        };
        if !candidate {
            continue;
        }
        let settled = before_s.get(&s.inode).is_some_and(|b| {
            b.state == s.state
                && match s.state {
                    TcpState::Listen => b.recv_q > 0,
                    TcpState::Established => {
                        on_asked || (b.recv_q > 0) == (s.recv_q > 0) && zero_window(b) == zero_window(s)
                    }
                    _ => true,
                }
        });
        candidates.insert(s.inode, (settled, key));
    }
    let zombie_parents: FastSet<u32> = snap
        .processes
        .iter()
        .filter(|z| z.state == 'Z')
        .filter(|z| !before_p.get(&z.pid).is_some_and(|q| q.state == 'Z' && q.start_ticks == z.start_ticks))
        .map(|z| z.ppid)
        .collect();
    let mut plan = LookPlan::default();
    let mut ports: FastSet<(u64, u16)> = FastSet::default();
    for p in &snap.processes {
        if p.state == 'Z' {
            continue;
        }
        let settled = settled_proc(p);
        let mut wanted =
            (!settled && unwedge_model::own_state_may_matter(&p.threads)) || zombie_parents.contains(&p.pid);
        for fd in &p.sockets {
            let Some(&(sock_settled, _)) = candidates.get(&fd.inode) else { continue };
            wanted |= !sock_settled || !settled;
        }
        if !wanted && !settled && p.sockets.iter().any(|fd| listeners.contains(&fd.inode)) {
            // New, or reparented (a master died): it may be an orphaned worker.
            wanted = before_p.get(&p.pid).is_none_or(|q| q.start_ticks != p.start_ticks || q.ppid != p.ppid);
        }
        if !wanted {
            continue;
        }
        plan.pids.push(p.pid);
        ports.extend(p.sockets.iter().filter_map(|fd| candidates.get(&fd.inode)).map(|(_, key)| *key));
    }
    plan.pids.sort_unstable();
    plan.ports = ports.into_iter().collect();
    plan.ports.sort_unstable();
    plan
}

/// Local ports where at least two requests await their answer (as `keep`
/// counts them).
fn asked_ports(snap: &Snapshot) -> FastSet<(u64, u16)> {
    let mut awaiting: FastMap<(u64, u16), usize> = FastMap::default();
    for s in &snap.sockets {
        if s.inode != 0 && awaits_answer(s) {
            *awaiting.entry((s.netns, s.local_port)).or_default() += 1;
        }
    }
    awaiting.into_iter().filter(|(_, n)| *n >= MIN_UNANSWERED).map(|(k, _)| k).collect()
}

/// The same process, and no thread of it ran between `before` and `now`:
/// the same CPU time and context switches, the same threads, every one
/// asleep now, and the same parent.
pub fn did_not_run(before: &Process, now: &Process) -> bool {
    before.start_ticks == now.start_ticks
        && before.ppid == now.ppid
        && before.threads.len() == now.threads.len()
        && before.cpu_ticks() == now.cpu_ticks()
        && before.threads.iter().zip(&now.threads).all(|(b, t)| {
            b.tid == t.tid
                && b.ctxt_switches.is_some()
                && b.ctxt_switches == t.ctxt_switches
                && matches!(t.state, 'S' | 'D' | 'T' | 't' | 'I')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_model::{SignalMasks, SocketFd, Thread};

    fn sock(state: TcpState, port: u16, rport: u16, inode: u64, recv_q: u32) -> Socket {
        Socket {
            netns: 1,
            state,
            local: "127.0.0.1".parse().unwrap(),
            local_port: port,
            remote: "127.0.0.1".parse().unwrap(),
            remote_port: rport,
            recv_q,
            send_q: 0,
            inode,
            uid: 0,
            info: None,
            drops: None,
        }
    }

    fn proc_(pid: u32, sw: u64, inodes: &[u64]) -> Process {
        Process {
            pid,
            ppid: 1,
            start_ticks: 7,
            state: 'S',
            netns: 1,
            sockets: inodes.iter().enumerate().map(|(i, &inode)| SocketFd { fd: i as u32 + 3, inode }).collect(),
            threads: vec![Thread {
                tid: pid,
                state: 'S',
                ctxt_switches: Some(sw),
                signals: Some(SignalMasks::default()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn snap(procs: Vec<Process>, sockets: Vec<Socket>) -> Snapshot {
        Snapshot { processes: procs, sockets, ..Default::default() }
    }

    #[test]
    fn without_a_previous_snapshot_every_candidate_is_looked_at() {
        let s = snap(
            vec![proc_(10, 5, &[1, 2]), proc_(20, 5, &[3])],
            vec![
                sock(TcpState::Listen, 80, 0, 1, 0),
                sock(TcpState::CloseWait, 80, 4000, 2, 1),
                sock(TcpState::Established, 9, 80, 3, 0),
            ],
        );
        let plan = look_plan(None, &s);
        assert_eq!(plan.pids, vec![10], "the CLOSE-WAIT holder; an idle client is no candidate");
        assert_eq!(plan.ports, vec![(1, 80)]);
    }

    #[test]
    fn what_lasted_unchanged_is_settled_and_what_is_new_or_ran_is_not() {
        let sockets = [sock(TcpState::CloseWait, 80, 4000, 2, 1), sock(TcpState::CloseWait, 81, 4001, 5, 1)];
        let prev = snap(vec![proc_(10, 5, &[2]), proc_(30, 5, &[5])], vec![sockets[0].clone(), sockets[1].clone()]);
        // 10 did not run; 30 ran; 40 is new; 50 holds a CLOSE-WAIT that is new.
        let now = snap(
            vec![proc_(10, 5, &[2]), proc_(30, 6, &[5]), proc_(40, 1, &[6]), proc_(50, 5, &[7])],
            vec![
                sockets[0].clone(),
                sockets[1].clone(),
                sock(TcpState::CloseWait, 82, 4002, 6, 1),
                sock(TcpState::CloseWait, 83, 4003, 7, 1),
            ],
        );
        let mut prev = prev;
        prev.processes.push(proc_(50, 5, &[7]));
        assert_eq!(look_plan(Some(&prev), &now).pids, vec![30, 40, 50]);
        // Nothing changed at all: no look.
        assert!(look_plan(Some(&now), &now).is_empty());
    }

    #[test]
    fn a_signal_pending_in_a_process_that_ran_wants_a_look() {
        let mut p = proc_(10, 5, &[]);
        p.threads[0].signals = Some(SignalMasks { shared_pending: 1 << 9, ..Default::default() });
        let prev = snap(vec![proc_(10, 4, &[])], vec![]);
        let now = snap(vec![p.clone()], vec![]);
        assert_eq!(look_plan(Some(&prev), &now).pids, vec![10]);
        // Pending and blocked, and it did not run: the long comparison judges it.
        assert!(look_plan(Some(&now), &now).is_empty());
    }
}
