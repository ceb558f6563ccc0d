//! Whether a connection's request awaits its answer: the client sent
//! bytes, the server read them and has sent nothing since; or it never
//! even read them (`unread_request`). Read by
//! `unanswered_requests` and by `keep` (which connections of the first
//! snapshot a scan must keep to compare), and, in its simplest form
//! (`never_answered`), by the accept-queue facts and `fd_exhaustion`.
//!
//! Kernel facts: tcp_info's byte counters (`bytes_received`,
//! `bytes_sent` / `bytes_acked`), `last_data_recv` / `last_data_sent` and
//! the data segment counts; on loopback a request and the handshake, or an
//! answer and the next request, tie to the jiffy, so the byte counters,
//! not the timestamps, tell answered from never answered.

use super::index::Index;
use std::collections::BTreeMap;
use unwedge_model::{Snapshot, Socket, TcpInfo, TcpState};

/// A connection never answered whose client sent data over more than this
/// span of its life is a one-way stream.
const ONE_WAY_SPAN_MS: u32 = 2000;
/// At least this many unanswered connections: one slow request is not a finding.
pub const MIN_UNANSWERED: usize = 2;
/// Bytes this end sent (or, on kernels without bytes_sent, had acknowledged).
pub fn sent(i: &TcpInfo) -> Option<u64> {
    i.bytes_sent.or(i.bytes_acked)
}

/// The client's request was read and the server has sent nothing since.
pub fn awaits_answer(s: &Socket) -> bool {
    let Some(i) = &s.info else { return false };
    let (Some(rcvd), Some(sent)) = (i.bytes_received, sent(i)) else { return false };
    let consumed = match s.state {
        TcpState::Established => s.recv_q == 0,
        // A client that gave up: its FIN (one in the queue) may be unread.
        TcpState::CloseWait => s.recv_q <= 1,
        _ => false,
    };
    if rcvd == 0 || !consumed {
        return false;
    }
    if sent == 0 {
        let span = i.last_data_sent_ms.saturating_sub(i.last_data_recv_ms);
        return !(i.data_segs_in.unwrap_or(1) >= 2 && span > ONE_WAY_SPAN_MS);
    }
    match i.last_data_sent_ms.cmp(&i.last_data_recv_ms) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        // The answer and the next request in the same jiffy (a client that
        // asks again as soon as it is answered, on loopback): the one who
        // sent more data segments spoke last. A request split over several
        // segments answered in one would read as waiting, so only this tie
        // uses it; a multi-segment answer reads as answered.
        std::cmp::Ordering::Equal => matches!((i.data_segs_in, i.data_segs_out), (Some(a), Some(b)) if a > b),
    }
}

/// For every port something listens on: how long the oldest request a
/// server process read and has not answered has waited (ms since the
/// client's last byte; 0 where none waits). What `unwedge serve` exports as
/// `unwedge_oldest_unanswered_seconds`: a deadlock that fails no request
/// shows as this age growing, whatever `--answer-timeout` says. Ports
/// served in several network namespaces take their oldest.
pub fn oldest_unanswered(snap: &Snapshot) -> BTreeMap<u16, u64> {
    let idx = Index::new(snap);
    let mut out: BTreeMap<u16, u64> = idx.listeners().map(|l| (l.local_port, 0)).collect();
    for s in &snap.sockets {
        if matches!(s.state, TcpState::Established | TcpState::CloseWait)
            && s.inode != 0
            && idx.is_served(s)
            && awaits_answer(s)
        {
            if let (Some(i), Some(age)) = (s.info, out.get_mut(&s.local_port)) {
                *age = (*age).max(u64::from(i.last_data_recv_ms));
            }
        }
    }
    out
}

/// The client's request sits unread: the server accepted the connection
/// and has neither read a byte of it (the receive queue holds all that
/// was received; a client that gave up adds its FIN) nor sent one. The
/// stronger sign than a request read and set aside: nobody even looked.
pub fn unread_request(s: &Socket) -> bool {
    let Some(i) = &s.info else { return false };
    let (Some(rcvd), Some(sent)) = (i.bytes_received, sent(i)) else { return false };
    let queued = s.recv_q as u64;
    let all_queued = match s.state {
        TcpState::Established => queued == rcvd,
        TcpState::CloseWait => queued > 1 && (queued == rcvd || queued == rcvd + 1),
        _ => false,
    };
    rcvd > 0 && sent == 0 && all_queued
}

/// The client sent a request and the server never sent a byte back.
pub fn never_answered(i: &TcpInfo) -> bool {
    i.has_sent() == Some(false) && i.bytes_received.unwrap_or(0) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(state: TcpState, recv_q: u32, info: TcpInfo) -> Socket {
        Socket {
            netns: 1,
            state,
            local: "127.0.0.1".parse().unwrap(),
            local_port: 80,
            remote: "127.0.0.1".parse().unwrap(),
            remote_port: 40000,
            recv_q,
            send_q: 0,
            inode: 9,
            uid: 0,
            info: Some(info),
            drops: None,
        }
    }

    fn info(rcvd: u64, sent: u64, recv_ms: u32, sent_ms: u32) -> TcpInfo {
        TcpInfo {
            bytes_received: Some(rcvd),
            bytes_sent: Some(sent),
            bytes_acked: Some(sent),
            last_data_recv_ms: recv_ms,
            last_data_sent_ms: sent_ms,
            data_segs_in: Some(1),
            data_segs_out: Some(if sent > 0 { 1 } else { 0 }),
            ..Default::default()
        }
    }

    #[test]
    fn the_oldest_unanswered_request_per_listener() {
        let est = TcpState::Established;
        let mut listen = conn(TcpState::Listen, 0, TcpInfo::default());
        listen.info = None;
        listen.remote_port = 0;
        let mut other = listen.clone();
        other.local_port = 81;
        let mut young = conn(est, 0, info(80, 0, 2_000, 2_000));
        young.remote_port = 40001;
        let old = conn(est, 0, info(80, 0, 45_000, 45_000));
        let answered = conn(est, 0, info(80, 300, 90_000, 89_000));
        // A client connection of this host's (nothing listens on its port) waits too, but is not served here.
        let mut outbound = conn(est, 0, info(80, 0, 99_000, 99_000));
        outbound.local_port = 50000;
        let snap = Snapshot { sockets: vec![listen, other, young, old, answered, outbound], ..Default::default() };
        let ages = oldest_unanswered(&snap);
        assert_eq!(ages, BTreeMap::from([(80, 45_000), (81, 0)]));
    }

    #[test]
    fn who_spoke_last() {
        let est = TcpState::Established;
        // Read, never answered (lsndtime counts from the handshake: a tie with the request).
        assert!(awaits_answer(&conn(est, 0, info(80, 0, 12_000, 12_000))));
        // Not read yet: the door-side detectors' business.
        assert!(!awaits_answer(&conn(est, 80, info(80, 0, 12_000, 12_000))));
        // Answered, then idle keep-alive: the server spoke last.
        assert!(!awaits_answer(&conn(est, 0, info(80, 300, 12_000, 11_990))));
        // Answered once, a second request waits.
        assert!(awaits_answer(&conn(est, 0, info(160, 300, 12_000, 15_000))));
        // A client that never sent anything.
        assert!(!awaits_answer(&conn(est, 0, info(0, 0, 12_000, 12_000))));
        // A client that gave up: its FIN unread.
        assert!(awaits_answer(&conn(TcpState::CloseWait, 1, info(80, 0, 12_000, 12_000))));
    }

    #[test]
    fn a_tie_is_ordered_by_data_segments() {
        let est = TcpState::Established;
        // psql: SSLRequest, startup, query in; two answers out; the query in the same jiffy as the last answer.
        let mut i = info(117, 415, 12_000, 12_000);
        i.data_segs_in = Some(3);
        i.data_segs_out = Some(2);
        assert!(awaits_answer(&conn(est, 0, i)));
        // The same tie with as many answers as requests: answered at once, then idle.
        i.data_segs_out = Some(3);
        assert!(!awaits_answer(&conn(est, 0, i)));
        // An old kernel without segment counts: a tie is no proof.
        i.data_segs_in = None;
        assert!(!awaits_answer(&conn(est, 0, i)));
    }

    #[test]
    fn a_one_way_stream_is_not_a_request() {
        let est = TcpState::Established;
        // syslog over TCP: lines on several occasions over 60 s, never a byte back.
        let mut i = info(5_000, 0, 15_000, 75_000);
        i.data_segs_in = Some(40);
        assert!(!awaits_answer(&conn(est, 0, i)));
        // One request in two segments right after connecting: waiting.
        let mut i = info(2_000, 0, 15_000, 15_004);
        i.data_segs_in = Some(2);
        assert!(awaits_answer(&conn(est, 0, i)));
        // Connected first, asked once 5 s later: still one request.
        let mut i = info(80, 0, 15_000, 20_000);
        i.data_segs_in = Some(1);
        assert!(awaits_answer(&conn(est, 0, i)));
    }

    #[test]
    fn a_request_never_read() {
        let est = TcpState::Established;
        // The JVM's dispatcher accepted it and queued it for a handler that never comes.
        assert!(unread_request(&conn(est, 29, info(29, 0, 12_000, 12_000))));
        // Read, not answered: the other rule.
        assert!(!unread_request(&conn(est, 0, info(29, 0, 12_000, 12_000))));
        // Partly read: the server looked at it.
        assert!(!unread_request(&conn(est, 10, info(29, 0, 12_000, 12_000))));
        // Answered once, the next request unread: not "never read".
        assert!(!unread_request(&conn(est, 29, info(58, 300, 12_000, 15_000))));
        // A client that gave up: its FIN behind the unread request.
        assert!(unread_request(&conn(TcpState::CloseWait, 30, info(29, 0, 12_000, 12_000))));
        assert!(!unread_request(&conn(TcpState::CloseWait, 1, info(1, 0, 12_000, 12_000))), "a bare FIN");
        let mut i = info(29, 0, 12_000, 12_000);
        i.bytes_received = None;
        assert!(!unread_request(&conn(est, 29, i)));
    }

    #[test]
    fn no_byte_counters_no_judgement() {
        let mut i = info(80, 0, 12_000, 12_000);
        i.bytes_received = None;
        assert!(!awaits_answer(&conn(TcpState::Established, 0, i)));
    }
}
