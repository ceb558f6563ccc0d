//! The freezer cgroups of a process: its /proc/PID/cgroup lines for the v1
//! `freezer` hierarchy and the v2 unified one, and the state files of those
//! cgroups (v1 freezer.state, v2 cgroup.events).

/// The cgroup paths of one process: (v1 freezer, v2 unified).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Paths {
    pub v1_freezer: Option<String>,
    pub v2: Option<String>,
}

/// Lines are `ID:CONTROLLERS:PATH`; v1 freezer is the line whose controller
/// list holds `freezer`, v2 the line `0::PATH`.
pub fn paths(buf: &[u8]) -> Paths {
    let mut out = Paths::default();
    for line in buf.split(|&b| b == b'\n') {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(ctl), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let path = String::from_utf8_lossy(super::trim(path)).into_owned();
        if !path.starts_with('/') {
            continue;
        }
        if id == b"0" && ctl.is_empty() {
            out.v2 = Some(path);
        } else if ctl.split(|&b| b == b',').any(|c| c == b"freezer") {
            out.v1_freezer = Some(path);
        }
    }
    out
}

/// v1 freezer.state: "FROZEN" or "FREEZING" when not thawed.
pub fn v1_state(buf: &[u8]) -> Option<&'static str> {
    match super::trim(buf) {
        b"FROZEN" => Some("FROZEN"),
        b"FREEZING" => Some("FREEZING"),
        _ => None,
    }
}

/// v2 cgroup.events: `frozen 1` once every task of the cgroup (or of a
/// frozen ancestor) is frozen.
pub fn v2_frozen(buf: &[u8]) -> bool {
    buf.split(|&b| b == b'\n').any(|l| super::trim(l) == b"frozen 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_host() {
        // This project's machine (6.18, v1 hierarchies plus an empty v2 one), a process moved into a freezer cgroup.
        let text =
            b"9:name=systemd:/\n8:pids:/\n6:freezer:/i13test16247\n4:memory:/process_api/4e25\n1:cpu:/\n0::/i13v2\n";
        let p = paths(text);
        assert_eq!(p.v1_freezer.as_deref(), Some("/i13test16247"));
        assert_eq!(p.v2.as_deref(), Some("/i13v2"));
        assert_eq!(paths(b"5:cpu,freezer:/a/b\n").v1_freezer.as_deref(), Some("/a/b"));
        assert_eq!(paths(b"garbage\n::\n0::relative\n"), Paths::default());
    }

    #[test]
    fn states() {
        assert_eq!(v1_state(b"FROZEN\n"), Some("FROZEN"));
        assert_eq!(v1_state(b"FREEZING\n"), Some("FREEZING"));
        assert_eq!(v1_state(b"THAWED\n"), None);
        assert!(v2_frozen(b"populated 1\nfrozen 1\n"));
        assert!(!v2_frozen(b"populated 1\nfrozen 0\n"));
    }
}
