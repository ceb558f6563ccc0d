//! /proc/PID/fdinfo/FD: the `sigmask:` line of a signalfd, which says
//! which signals the daemon consumes synchronously (so blocking them is
//! deliberate, not a hang); the `mnt_id:` of a file, the mount a blocked
//! read or write sits on; and the `fuse_connection:` of a /dev/fuse fd,
//! the FUSE connection its holder serves.

use super::{dec, hex, trim};

fn field<'a>(buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    buf.split(|&b| b == b'\n').find_map(|line| line.strip_prefix(name).map(trim))
}

pub fn signalfd_mask(buf: &[u8]) -> Option<u64> {
    field(buf, b"sigmask:").and_then(hex)
}

/// The id of the mount the file is on (the first column of mountinfo).
pub fn mnt_id(buf: &[u8]) -> Option<u32> {
    field(buf, b"mnt_id:").and_then(dec).and_then(|n| u32::try_from(n).ok())
}

/// The FUSE connection a /dev/fuse fd serves (Linux 6.x prints it).
pub fn fuse_connection(buf: &[u8]) -> Option<u64> {
    field(buf, b"fuse_connection:").and_then(dec)
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

    #[test]
    fn a_file_and_a_fuse_device() {
        // Kernel 6.18: a log file on a FUSE mount, and the daemon's /dev/fuse.
        let file = b"pos:\t0\nflags:\t02102001\nmnt_id:\t46\nino:\t2\n";
        assert_eq!((mnt_id(file), fuse_connection(file)), (Some(46), None));
        let dev = b"pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t89\nfuse_connection:\t40\n";
        assert_eq!((mnt_id(dev), fuse_connection(dev)), (Some(24), Some(40)));
        assert_eq!(mnt_id(b"mnt_id:\t99999999999\n"), None);
        assert_eq!(mnt_id(b"mnt_id:\t-1\n"), None);
    }
}
