//! One AF_UNIX sock_diag message: `struct unix_diag_msg` and its
//! attributes (include/uapi/linux/unix_diag.h), decoded by hand into
//! borrowed slices of the netlink buffer. What is kept, and how a name
//! is spelled, is the caller's (`crate::unix_diag`).

/// `struct unix_diag_msg`: family, type, state, pad (one byte each),
/// inode (u32), cookie (two u32).
pub const MSG_LEN: usize = 16;

/// Attribute numbers: the header's enum, which starts at 0 (UNIX_DIAG_NAME
/// is 0, unlike most netlink families that reserve 0 for NONE).
pub const UNIX_DIAG_NAME: u16 = 0;
pub const UNIX_DIAG_VFS: u16 = 1;
pub const UNIX_DIAG_PEER: u16 = 2;
pub const UNIX_DIAG_ICONS: u16 = 3;
pub const UNIX_DIAG_RQLEN: u16 = 4;
/// Always sent (`sk_shutdown`, one byte), whatever the request asked.
pub const UNIX_DIAG_SHUTDOWN: u16 = 6;

/// One socket's message, its variable parts still in the buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Message<'a> {
    /// SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5.
    pub kind: u8,
    /// TCP numbering: LISTEN 10, ESTABLISHED 1, CLOSE 7.
    pub state: u8,
    pub inode: u32,
    /// `sun_path` as bound: a path (with its trailing NUL, usually) or an
    /// abstract name (a leading NUL). Absent for an unnamed socket.
    pub name: Option<&'a [u8]>,
    /// `struct unix_diag_vfs`: the socket file's inode and device.
    pub vfs: Option<(u32, u32)>,
    /// The other end's inode; 0 while the server end is not accepted, or
    /// after it closed.
    pub peer: Option<u32>,
    /// A listener's queue: one u32 per waiting connection, the inode of
    /// its client end (0 if that closed meanwhile). Raw bytes: iterate
    /// with [`icons`].
    pub icons: Option<&'a [u8]>,
    /// `struct unix_diag_rqlen`: (rqueue, wqueue). A listener: queued
    /// connections and backlog; otherwise bytes unread and bytes unsent.
    pub rqlen: Option<(u32, u32)>,
    pub shutdown: u8,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// The message body after the netlink header; `None` if it is too short
/// for `struct unix_diag_msg` or not of family AF_UNIX. An attribute of the
/// wrong size is ignored, a truncated one ends the attributes.
pub fn message(b: &[u8]) -> Option<Message<'_>> {
    let m = b.get(..MSG_LEN)?;
    if m[0] != libc::AF_UNIX as u8 {
        return None;
    }
    let mut msg = Message { kind: m[1], state: m[2], inode: u32_at(m, 4)?, ..Default::default() };
    let mut attrs = &b[MSG_LEN..];
    while let (Some(len), Some(kind)) = (u16_at(attrs, 0), u16_at(attrs, 2)) {
        let len = len as usize;
        if len < 4 || len > attrs.len() {
            break;
        }
        let data = &attrs[4..len];
        // The top two bits are the nested and byte-order flags.
        match kind & 0x3fff {
            UNIX_DIAG_NAME if !data.is_empty() => msg.name = Some(data),
            UNIX_DIAG_VFS if data.len() == 8 => msg.vfs = Some((u32_at(data, 0)?, u32_at(data, 4)?)),
            UNIX_DIAG_PEER if data.len() == 4 => msg.peer = u32_at(data, 0),
            UNIX_DIAG_ICONS => msg.icons = Some(data),
            UNIX_DIAG_RQLEN if data.len() == 8 => msg.rqlen = Some((u32_at(data, 0)?, u32_at(data, 4)?)),
            UNIX_DIAG_SHUTDOWN if data.len() == 1 => msg.shutdown = data[0],
            _ => {}
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or_default();
    }
    Some(msg)
}

/// The inodes of UNIX_DIAG_ICONS, in queue order (a trailing partial u32
/// is ignored).
pub fn icons(raw: &[u8]) -> impl Iterator<Item = u64> + '_ {
    raw.chunks_exact(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) as u64)
}

/// A name as `ss -x` prints it, into `out` (cleared first): a path up to
/// its first NUL; an abstract name as `@` and its bytes, every NUL shown as
/// `@`. Bytes that are not UTF-8 become U+FFFD. False for an empty name.
pub fn name(raw: &[u8], out: &mut String) -> bool {
    out.clear();
    match raw.split_first() {
        None => false,
        Some((0, rest)) => {
            out.push('@');
            for chunk in rest.split(|&b| b == 0).enumerate() {
                if chunk.0 > 0 {
                    out.push('@');
                }
                out.push_str(&String::from_utf8_lossy(chunk.1));
            }
            true
        }
        Some(_) => {
            let path = raw.split(|&b| b == 0).next().unwrap_or_default();
            out.push_str(&String::from_utf8_lossy(path));
            !out.is_empty()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(data);
        v.resize((v.len() + 3) & !3, 0);
        v
    }

    fn head(kind: u8, state: u8, inode: u32) -> Vec<u8> {
        let mut v = vec![libc::AF_UNIX as u8, kind, state, 0];
        v.extend_from_slice(&inode.to_ne_bytes());
        v.extend_from_slice(&[0xff; 8]); // the cookie, never read
        v
    }

    #[test]
    fn a_listener_with_its_queue() {
        let mut b = head(1, 10, 45248);
        b.extend(attr(UNIX_DIAG_NAME, b"/tmp/l.sock\0"));
        b.extend(attr(UNIX_DIAG_VFS, &[0x44, 0xc4, 0x98, 0, 0, 0, 0xe0, 0x0f]));
        let mut queue = Vec::new();
        for i in [45249u32, 45250, 45251] {
            queue.extend_from_slice(&i.to_ne_bytes());
        }
        b.extend(attr(UNIX_DIAG_ICONS, &queue));
        b.extend(attr(UNIX_DIAG_RQLEN, &[3, 0, 0, 0, 2, 0, 0, 0]));
        b.extend(attr(UNIX_DIAG_SHUTDOWN, &[0]));
        let m = message(&b).unwrap();
        assert_eq!((m.kind, m.state, m.inode, m.rqlen, m.peer), (1, 10, 45248, Some((3, 2)), None));
        assert_eq!(m.vfs, Some((0x98c444, 0x0fe00000)));
        assert_eq!(icons(m.icons.unwrap()).collect::<Vec<_>>(), [45249, 45250, 45251]);
        let mut s = String::new();
        assert!(name(m.name.unwrap(), &mut s));
        assert_eq!(s, "/tmp/l.sock");
    }

    #[test]
    fn names_as_ss_prints_them() {
        let mut s = String::new();
        assert!(name(b"\0wunix-abstract", &mut s));
        assert_eq!(s, "@wunix-abstract");
        assert!(name(b"\0a\0b", &mut s));
        assert_eq!(s, "@a@b");
        assert!(name(b"/run/x\xff.sock", &mut s));
        assert_eq!(s, "/run/x\u{fffd}.sock");
        assert!(!name(b"", &mut s));
        assert!(name(b"\0", &mut s));
        assert_eq!(s, "@");
    }

    #[test]
    fn bad_attributes_are_skipped_and_truncation_stops() {
        let mut b = head(5, 1, 7);
        b.extend(attr(UNIX_DIAG_PEER, &[1, 2])); // wrong size: ignored
        b.extend(attr(UNIX_DIAG_RQLEN, &[1, 0, 0, 0, 2, 0, 0, 0]));
        let m = message(&b).unwrap();
        assert_eq!((m.peer, m.rqlen), (None, Some((1, 2))));
        // A length past the end stops the walk; what came before stays.
        let mut cut = head(5, 1, 7);
        cut.extend(attr(UNIX_DIAG_SHUTDOWN, &[3]));
        cut.extend_from_slice(&[200, 0, 2, 0, 1, 2]);
        assert_eq!(message(&cut).unwrap().shutdown, 3);
        assert_eq!(message(&b[..MSG_LEN - 1]), None);
        let mut inet = b.clone();
        inet[0] = libc::AF_INET as u8;
        assert_eq!(message(&inet), None);
    }
}
