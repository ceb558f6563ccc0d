//! Whether a connection's request awaits its answer: the client sent
//! bytes, the server read them and has sent nothing since; or it never
//! even read them (`unread_request`). Read by
//! `unanswered_requests` and by `keep` (which connections of the first
//! snapshot a scan must keep to compare), and, in its simplest form
//! (`never_answered`), by the accept-queue facts and `fd_exhaustion`.
//! Who sent last on any connection (`last_sender`), and so whether an
//! upstream owes us an answer (`owes_us`) or idles after answering: the one
//! decision every kind and the wait graph take it from.
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

/// Which end of a connection sent the last data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This end: the socket whose tcp_info is read.
    Us,
    /// The other end.
    Peer,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Us => Side::Peer,
            Side::Peer => Side::Us,
        }
    }
}

/// Who sent the last data on a connection, from this end's tcp_info: the
/// one place that decides it. The byte counters say whether each end sent
/// anything; when both did, the older of `last_data_sent` and
/// `last_data_recv` is the earlier send. On loopback a request and its
/// answer can land in the same jiffy: in a tie the end that sent more data
/// segments spoke last, and as many each way is a request answered — the
/// end that did not open the exchange (`opener`: the client, `Us` on an
/// outbound connection, `Peer` on an accepted one) spoke last. `None`
/// without byte counters (Linux < 4.1), on a connection where neither end
/// sent a byte, or in a tie without segment counts (< 4.6).
pub fn last_sender(i: &TcpInfo, opener: Side) -> Option<Side> {
    let (rcvd, sent) = (i.bytes_received?, sent(i)?);
    match (rcvd > 0, sent > 0) {
        (false, false) => None,
        (true, false) => Some(Side::Peer),
        (false, true) => Some(Side::Us),
        (true, true) => match i.last_data_sent_ms.cmp(&i.last_data_recv_ms) {
            std::cmp::Ordering::Greater => Some(Side::Peer),
            std::cmp::Ordering::Less => Some(Side::Us),
            std::cmp::Ordering::Equal => match (i.data_segs_in, i.data_segs_out) {
                (Some(a), Some(b)) if a > b => Some(Side::Peer),
                (Some(a), Some(b)) if b > a => Some(Side::Us),
                (Some(_), Some(_)) => Some(opener.other()),
                _ => None,
            },
        },
    }
}

/// The client's request was read and the server has sent nothing since.
pub fn awaits_answer(s: &Socket) -> bool {
    let Some(i) = &s.info else { return false };
    let consumed = match s.state {
        TcpState::Established => s.recv_q == 0,
        // A client that gave up: its FIN (one in the queue) may be unread.
        // The FIN counts one in bytes_received and none in data_segs_in: a
        // client that connected and closed without a byte asked nothing.
        TcpState::CloseWait => s.recv_q <= 1 && i.bytes_received.is_some_and(|r| r > 1) && i.data_segs_in != Some(0),
        _ => false,
    };
    if !consumed || last_sender(i, Side::Peer) != Some(Side::Peer) {
        return false;
    }
    // A request never answered whose client sent data over more than
    // ONE_WAY_SPAN_MS of the connection's life: a one-way stream.
    if sent(i) == Some(0) {
        let span = i.last_data_sent_ms.saturating_sub(i.last_data_recv_ms);
        return !(i.data_segs_in.unwrap_or(1) >= 2 && span > ONE_WAY_SPAN_MS);
    }
    true
}

/// Neither end's byte counters moved between the two snapshots of a
/// connection (`before`, `now`): whatever waited, waited the whole interval.
pub fn unchanged(before: &Socket, now: &Socket) -> bool {
    match (before.info, now.info) {
        (Some(b), Some(n)) => {
            b.bytes_received == n.bytes_received && sent(&b) == sent(&n) && b.bytes_acked == n.bytes_acked
        }
        _ => false,
    }
}

/// The peer owes us an answer: our bytes were the last on the connection
/// and it acknowledged them all (nothing left to send, nothing unread).
/// `Some(ms)`: since our last send, that long ago.
pub fn owes_us(s: &Socket) -> Option<u32> {
    let i = s.info?;
    let ok = matches!(s.state, TcpState::Established)
        && s.send_q == 0
        && s.recv_q == 0
        && i.bytes_acked.is_some_and(|a| a > 0)
        && last_sender(&i, Side::Us) == Some(Side::Us);
    ok.then_some(i.last_data_sent_ms)
}

/// The peer answered last and the connection has carried nothing either
/// way for `idle_ms`: an idle keep-alive connection.
pub fn idle_after_answer(s: &Socket, idle_ms: u32) -> bool {
    s.info.is_some_and(|i| {
        last_sender(&i, Side::Us) == Some(Side::Peer)
            && s.recv_q == 0
            && i.last_data_recv_ms >= idle_ms
            && i.last_data_sent_ms >= idle_ms
    })
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
        // A client that connected and closed without sending a byte: the FIN is not a request.
        let mut fin_only = info(1, 0, 12_000, 12_000);
        fin_only.data_segs_in = Some(0);
        assert!(!awaits_answer(&conn(TcpState::CloseWait, 1, fin_only)));
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
    fn who_sent_last_on_an_upstream() {
        let est = TcpState::Established;
        // Our request, acknowledged, never answered: the upstream owes us.
        let mut c = conn(est, 0, info(0, 78, 9_000, 9_000));
        c.info.as_mut().unwrap().data_segs_out = Some(1);
        assert_eq!(last_sender(&c.info.unwrap(), Side::Us), Some(Side::Us));
        assert_eq!(owes_us(&c), Some(9_000));
        assert!(!idle_after_answer(&c, 1000));
        // Answered, then a second request 2 s ago: owes us again.
        let c = conn(est, 0, info(300, 160, 5_000, 2_000));
        assert_eq!(owes_us(&c), Some(2_000));
        // Answered last and idle since: keep-alive, owes nothing.
        let c = conn(est, 0, info(300, 80, 5_000, 5_010));
        assert_eq!(last_sender(&c.info.unwrap(), Side::Us), Some(Side::Peer));
        assert_eq!(owes_us(&c), None);
        assert!(idle_after_answer(&c, 1000) && !idle_after_answer(&c, 6000));
        // A tie to the jiffy is broken by the data segments, else unknown.
        let mut i = info(300, 80, 5_000, 5_000);
        (i.data_segs_out, i.data_segs_in) = (Some(2), Some(1));
        assert_eq!(last_sender(&i, Side::Us), Some(Side::Us));
        i.data_segs_in = Some(2);
        assert_eq!(last_sender(&i, Side::Us), Some(Side::Peer), "as many each way: our request answered");
        assert_eq!(last_sender(&i, Side::Peer), Some(Side::Us), "as many each way: its request answered");
        i.data_segs_in = None;
        assert_eq!(last_sender(&i, Side::Us), None, "no segment counts: a tie is no proof");
        // Unacknowledged bytes: it has not even received our request.
        let mut c = conn(est, 0, info(0, 78, 9_000, 9_000));
        c.send_q = 78;
        assert_eq!(owes_us(&c), None);
        assert_eq!(last_sender(&info(0, 0, 1, 1), Side::Us), None, "nothing sent either way");
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
