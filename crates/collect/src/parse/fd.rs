//! What an fd link in /proc/PID/fd points at.

use super::dec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Socket(u64),
    /// `pipe:[N]` -> N.
    Pipe(u64),
    /// `anon_inode:[signalfd]` -> `[signalfd]`; `anon_inode:bpf-map` -> `bpf-map`.
    Anon(&'a [u8]),
    /// `/dev/fuse`: its holder serves a FUSE mount.
    FuseDev,
    Other,
}

pub fn classify(link: &[u8]) -> Target<'_> {
    if let Some(rest) = link.strip_prefix(b"socket:[") {
        if let Some(num) = rest.strip_suffix(b"]") {
            if let Some(inode) = dec(num) {
                return Target::Socket(inode);
            }
        }
        return Target::Other;
    }
    if let Some(rest) = link.strip_prefix(b"pipe:[") {
        return match rest.strip_suffix(b"]").and_then(dec) {
            Some(inode) => Target::Pipe(inode),
            None => Target::Other,
        };
    }
    if let Some(rest) = link.strip_prefix(b"anon_inode:") {
        return Target::Anon(rest);
    }
    if link == b"/dev/fuse" {
        return Target::FuseDev;
    }
    Target::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(b"socket:[4108738]"), Target::Socket(4108738));
        assert_eq!(classify(b"anon_inode:[signalfd]"), Target::Anon(b"[signalfd]"));
        assert_eq!(classify(b"/dev/null"), Target::Other);
        assert_eq!(classify(b"socket:[x]"), Target::Other);
        assert_eq!(classify(b"/tmp/socket:[1]"), Target::Other);
        assert_eq!(classify(b"pipe:[30314285]"), Target::Pipe(30314285));
        assert_eq!(classify(b"pipe:[]"), Target::Other);
        assert_eq!(classify(b"/dev/fuse"), Target::FuseDev);
        assert_eq!(classify(b"/dev/fuse (deleted)"), Target::Other);
    }
}
