//! /proc/PID/fdinfo/FD: only the `sigmask:` line of a signalfd, which says
//! which signals the daemon consumes synchronously (so blocking them is
//! deliberate, not a hang).

use super::{hex, trim};

pub fn signalfd_mask(buf: &[u8]) -> Option<u64> {
    buf.split(|&b| b == b'\n').find_map(|line| line.strip_prefix(b"sigmask:").and_then(|v| hex(trim(v))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmask() {
        // Shape from Debian 12, kernel 6.18: a signalfd reading SIGTERM and SIGINT.
        let text = b"pos:\t0\nflags:\t02004002\nmnt_id:\t16\nino:\t1057\nsigmask:\t0000000000004002\n";
        assert_eq!(signalfd_mask(text), Some(0x4002));
        assert_eq!(signalfd_mask(b"pos:\t0\n"), None);
        assert_eq!(signalfd_mask(b"sigmask:\tzz\n"), None);
    }
}
