//! `struct tcp_info` (include/uapi/linux/tcp.h) from the INET_DIAG_INFO
//! attribute. The struct has grown over kernel versions, so every field is
//! read by offset with a length check: an older, shorter struct yields the
//! fields it has.

use unwedge_model::TcpInfo;

const RETRANSMITS: usize = 2;
const LAST_DATA_SENT: usize = 44;
const LAST_DATA_RECV: usize = 52;
const LAST_ACK_RECV: usize = 56;
const RTT: usize = 68;
const TOTAL_RETRANS: usize = 100;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

pub fn parse(b: &[u8]) -> Option<TcpInfo> {
    Some(TcpInfo {
        retransmits: *b.get(RETRANSMITS)?,
        last_data_sent_ms: u32_at(b, LAST_DATA_SENT)?,
        last_data_recv_ms: u32_at(b, LAST_DATA_RECV)?,
        last_ack_recv_ms: u32_at(b, LAST_ACK_RECV)?,
        rtt_us: u32_at(b, RTT)?,
        total_retrans: u32_at(b, TOTAL_RETRANS).unwrap_or(0),
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
    }
}
