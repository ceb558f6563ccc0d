//! /proc/PID/task/TID/stack: the kernel stack of a sleeping thread, one frame
//! a line as `[<0>] futex_do_wait+0x46/0x90` (addresses are zeroed for
//! non-kallsyms readers, so only the symbol is kept).

/// At most this many frames; a real kernel stack is 5-20 deep.
const MAX_FRAMES: usize = 32;

pub fn parse(buf: &[u8]) -> Vec<String> {
    buf.split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = super::trim(line);
            let sym = match line.iter().position(|&b| b == b']') {
                Some(i) if line.starts_with(b"[<") => super::trim(&line[i + 1..]),
                _ => line,
            };
            (!sym.is_empty()).then(|| String::from_utf8_lossy(sym).into_owned())
        })
        .take(MAX_FRAMES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_futex_stack() {
        // From tests/fixtures/captures/orphan-proxy-futex.txt (Debian 12, kernel 6.18).
        let text = b"[<0>] futex_do_wait+0x46/0x90\n[<0>] __futex_wait+0x8a/0x100\n[<0>] futex_wait+0x67/0x120\n[<0>] do_futex+0xfd/0x250\n[<0>] __x64_sys_futex+0x112/0x210\n[<0>] do_syscall_64+0x71/0x280\n[<0>] entry_SYSCALL_64_after_hwframe+0x76/0x7e\n";
        let frames = parse(text);
        assert_eq!(frames.len(), 7);
        assert_eq!(frames[0], "futex_do_wait+0x46/0x90");
        assert!(parse(b"").is_empty());
        assert_eq!(parse(b"[<0>]\n"), Vec::<String>::new());
    }
}
