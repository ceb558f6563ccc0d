//! `struct tcp_info` (include/uapi/linux/tcp.h) from the INET_DIAG_INFO
//! attribute. The struct has grown over kernel versions, so every field is
//! read by offset with a length check: an older, shorter struct yields the
//! fields it has.

use unwedge_model::TcpInfo;

const RETRANSMITS: usize = 2;
const PROBES: usize = 3;
const BACKOFF: usize = 4;
const LAST_DATA_SENT: usize = 44;
const LAST_DATA_RECV: usize = 52;
const LAST_ACK_RECV: usize = 56;
const RTT: usize = 68;
const TOTAL_RETRANS: usize = 100;
const BYTES_ACKED: usize = 120;
const BYTES_RECEIVED: usize = 128;
const DATA_SEGS_IN: usize = 152;
const DATA_SEGS_OUT: usize = 156;
const BYTES_SENT: usize = 200;
const SND_WND: usize = 228;
/// `tcpi_total_rto_time` (Linux 6.7).
const TOTAL_RTO_TIME: usize = 244;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let bytes = b.get(off..off + 8)?;
    Some(u64::from_ne_bytes(bytes.try_into().ok()?))
}

pub fn parse(b: &[u8]) -> Option<TcpInfo> {
    Some(TcpInfo {
        retransmits: *b.get(RETRANSMITS)?,
        last_data_sent_ms: u32_at(b, LAST_DATA_SENT)?,
        last_data_recv_ms: u32_at(b, LAST_DATA_RECV)?,
        last_ack_recv_ms: u32_at(b, LAST_ACK_RECV)?,
        rtt_us: u32_at(b, RTT)?,
        total_retrans: u32_at(b, TOTAL_RETRANS).unwrap_or(0),
        probes: *b.get(PROBES)?,
        backoff: *b.get(BACKOFF)?,
        // Later fields: an older kernel's shorter struct gives None.
        bytes_acked: u64_at(b, BYTES_ACKED),
        bytes_received: u64_at(b, BYTES_RECEIVED),
        data_segs_in: u32_at(b, DATA_SEGS_IN),
        data_segs_out: u32_at(b, DATA_SEGS_OUT),
        bytes_sent: u64_at(b, BYTES_SENT),
        snd_wnd: u32_at(b, SND_WND),
        total_rto_time_ms: u32_at(b, TOTAL_RTO_TIME),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        let mut b = vec![0u8; 104];
        b[2] = 3;
        b[44..48].copy_from_slice(&1000u32.to_ne_bytes());
        b[52..56].copy_from_slice(&2000u32.to_ne_bytes());
        b[56..60].copy_from_slice(&3000u32.to_ne_bytes());
        b[68..72].copy_from_slice(&45u32.to_ne_bytes());
        b[100..104].copy_from_slice(&7u32.to_ne_bytes());
        let t = parse(&b).unwrap();
        assert_eq!(
            (t.retransmits, t.last_data_sent_ms, t.last_data_recv_ms, t.last_ack_recv_ms, t.rtt_us, t.total_retrans),
            (3, 1000, 2000, 3000, 45, 7)
        );
        assert_eq!(parse(&b[..100]).unwrap().total_retrans, 0);
        assert!(parse(&b[..60]).is_none());
        // A kernel older than 4.1 has no byte counters.
        assert_eq!((t.bytes_acked, t.bytes_received, t.bytes_sent), (None, None, None));
        assert_eq!(t.has_sent(), None);
    }

    #[test]
    fn byte_counters() {
        let mut b = vec![0u8; 232];
        b[120..128].copy_from_slice(&517u64.to_ne_bytes());
        b[128..136].copy_from_slice(&78u64.to_ne_bytes());
        b[200..208].copy_from_slice(&517u64.to_ne_bytes());
        let t = parse(&b).unwrap();
        assert_eq!((t.bytes_acked, t.bytes_received, t.bytes_sent), (Some(517), Some(78), Some(517)));
        assert_eq!(t.has_sent(), Some(true));
        // 4.1 .. 4.18: acked and received, no bytes_sent.
        let t = parse(&b[..200]).unwrap();
        assert_eq!((t.bytes_acked, t.bytes_sent), (Some(517), None));
        // A server connection that read a request and never answered.
        let mut b = vec![0u8; 232];
        b[128..136].copy_from_slice(&78u64.to_ne_bytes());
        assert_eq!(parse(&b).unwrap().has_sent(), Some(false));
    }

    #[test]
    fn counters_and_window() {
        // Offsets of struct tcp_info as offsetof() gives them with Linux 6.x's uapi header.
        let mut b = vec![0u8; 232];
        b[3] = 4;
        b[4] = 5;
        b[120..128].copy_from_slice(&1234u64.to_ne_bytes());
        b[128..136].copy_from_slice(&77u64.to_ne_bytes());
        b[152..156].copy_from_slice(&2u32.to_ne_bytes());
        b[156..160].copy_from_slice(&3u32.to_ne_bytes());
        b[200..208].copy_from_slice(&1300u64.to_ne_bytes());
        b[228..232].copy_from_slice(&65535u32.to_ne_bytes());
        let t = parse(&b).unwrap();
        assert_eq!((t.probes, t.backoff), (4, 5));
        assert_eq!((t.bytes_acked, t.bytes_received, t.data_segs_in), (Some(1234), Some(77), Some(2)));
        assert_eq!((t.bytes_sent, t.snd_wnd, t.data_segs_out), (Some(1300), Some(65535), Some(3)));
        // A 4.19 kernel: byte counters, no snd_wnd.
        let t = parse(&b[..224]).unwrap();
        assert_eq!((t.bytes_sent, t.snd_wnd), (Some(1300), None));
        assert_eq!(t.total_rto_time_ms, None);
        // 6.7+: a connect in SYN-SENT 3 s after its first SYN (read on 6.18 with getsockopt).
        let mut b = vec![0u8; 280];
        b[2] = 3;
        b[244..248].copy_from_slice(&2975u32.to_ne_bytes());
        let t = parse(&b).unwrap();
        assert_eq!((t.retransmits, t.total_rto_time_ms), (3, Some(2975)));
    }
}
