//! /proc/PID/mountinfo (Documentation/filesystems/proc.rst, 3.5): one mount
//! per line, `ID PARENT MAJOR:MINOR ROOT MOUNT_POINT OPTIONS [TAGS...] -
//! FSTYPE SOURCE SUPER_OPTIONS`, with spaces, tabs, newlines and
//! backslashes in paths written as octal escapes (`\040`).

use super::dec;
use unwedge_model::Mount;

/// Every well-formed line; a malformed one is skipped.
pub fn parse(buf: &[u8]) -> Vec<Mount> {
    buf.split(|&b| b == b'\n').filter_map(line).collect()
}

pub fn line(l: &[u8]) -> Option<Mount> {
    let mut f = l.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let id = u32::try_from(dec(f.next()?)?).ok()?;
    let parent = u32::try_from(dec(f.next()?)?).ok()?;
    let (major, minor) = {
        let dev = f.next()?;
        let at = dev.iter().position(|&b| b == b':')?;
        (u32::try_from(dec(&dev[..at])?).ok()?, u32::try_from(dec(&dev[at + 1..])?).ok()?)
    };
    let _root = f.next()?;
    let mount_point = unescape(f.next()?);
    let _options = f.next()?;
    // Optional tags ("shared:1", "master:2") up to the lone "-".
    f.by_ref().find(|w| *w == b"-")?;
    let fs_type = unescape(f.next()?);
    let source = f.next().map(unescape).unwrap_or_default();
    let super_options = f.next().map(unescape).unwrap_or_default();
    Some(Mount { id, parent, major, minor, mount_point, fs_type, source, super_options, fuse: None })
}

/// `\040` -> ' ', as the kernel's `mangle()` wrote it; anything else as is.
fn unescape(w: &[u8]) -> String {
    let mut out = Vec::with_capacity(w.len());
    let mut i = 0;
    while i < w.len() {
        let oct = w.get(i + 1..i + 4).filter(|d| w[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                let n = d.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(n).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(w[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_this_host() {
        // Kernel 6.18: a FUSE mount made by fusermount3, an NFS mount, a path with a space.
        let text = b"22 27 0:21 / /proc rw,relatime - proc proc rw\n\
46 27 0:40 / /tmp/wm/mnt rw,nosuid,nodev,relatime - fuse.fuselog fuselog rw,user_id=0,group_id=0\n\
90 27 0:55 / /mnt/data rw,relatime shared:42 master:7 - nfs4 10.0.0.5:/export rw,vers=4.2,addr=10.0.0.5\n\
91 27 0:56 / /mnt/my\\040files rw - tmpfs none rw\n\
garbage\n";
        let m = parse(text);
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!((m[1].id, m[1].parent, m[1].major, m[1].minor), (46, 27, 0, 40));
        assert_eq!(
            (m[1].mount_point.as_str(), m[1].fs_type.as_str(), m[1].source.as_str()),
            ("/tmp/wm/mnt", "fuse.fuselog", "fuselog")
        );
        assert_eq!(m[1].super_options, "rw,user_id=0,group_id=0");
        assert_eq!((m[2].fs_type.as_str(), m[2].source.as_str()), ("nfs4", "10.0.0.5:/export"));
        assert_eq!(m[2].server().as_deref(), Some("10.0.0.5"));
        assert_eq!(m[3].mount_point, "/mnt/my files");
    }

    #[test]
    fn malformed_lines_are_skipped() {
        for l in
            [&b""[..], b"1 2 3:4 / /x rw", b"x 2 0:1 / /x rw - t s o", b"1 2 0:1 / /x rw t s o", b"1 2 01 / /x rw - t"]
        {
            assert!(line(l).is_none(), "{}", String::from_utf8_lossy(l));
        }
        assert_eq!(unescape(b"a\\04"), "a\\04");
        assert_eq!(unescape(b"\\777"), "?");
    }
}
