//! The frozen cgroup of a stopped-looking process: pass two reads it only
//! for the processes whose threads look stopped or frozen, v1 freezer first,
//! and names the cgroup whose own flag froze it (the one to thaw).

use super::read::{read_capped, SMALL_CAP};
use crate::parse;
use unwedge_model::{Frozen, Thread};

/// A thread that is stopped (T, t), in uninterruptible sleep (D: how a
/// cgroup v1 freezer shows its tasks on 6.x) or parked in the signal path
/// (a cgroup v2 freeze traps tasks in get_signal). Only these processes
/// pay for reading their freezer cgroup.
pub(super) fn looks_stopped_or_frozen(threads: &[Thread]) -> bool {
    threads.iter().any(|t| {
        matches!(t.state, 'T' | 't' | 'D')
            || matches!(t.wchan.as_deref(), Some("get_signal" | "do_freezer_trap" | "__refrigerator"))
    })
}

/// The frozen (or freezing) cgroup holding `pid`, v1 freezer first, from
/// the /proc/PID/cgroup text the walk already read (read here only if not).
pub(super) fn frozen_cgroup(pid: u32, text: Option<&[u8]>, buf: &mut Vec<u8>) -> Option<Frozen> {
    let paths = match text {
        Some(t) => parse::freezer::paths(t),
        None => {
            read_capped(&format!("/proc/{pid}/cgroup"), buf, SMALL_CAP).ok()?;
            parse::freezer::paths(buf)
        }
    };
    if let Some(path) = &paths.v1_freezer {
        let dir = format!("/sys/fs/cgroup/freezer{}", path.trim_end_matches('/'));
        let file = format!("{dir}/freezer.state");
        if read_capped(&file, buf, SMALL_CAP).is_ok() {
            if let Some(state) = parse::freezer::v1_state(buf) {
                let control = freezing_ancestor(&dir, "freezer.self_freezing", "/sys/fs/cgroup/freezer", buf)
                    .map(|d| format!("{d}/freezer.state"))
                    .unwrap_or(file);
                return Some(Frozen { version: 1, cgroup: path.clone(), state: state.into(), control });
            }
        }
    }
    let path = paths.v2?;
    // Pure v2 mounts the hierarchy at /sys/fs/cgroup; a hybrid host at .../unified.
    let root = if std::fs::metadata("/sys/fs/cgroup/cgroup.controllers").is_ok() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    let dir = format!("{root}{}", path.trim_end_matches('/'));
    read_capped(&format!("{dir}/cgroup.events"), buf, SMALL_CAP).ok()?;
    if !parse::freezer::v2_frozen(buf) {
        return None;
    }
    let control = freezing_ancestor(&dir, "cgroup.freeze", root, buf).unwrap_or(dir);
    Some(Frozen { version: 2, cgroup: path, state: "frozen".into(), control: format!("{control}/cgroup.freeze") })
}

/// The cgroup directory, from `dir` up to `root`, whose own `flag` file says
/// 1: the one that was frozen (a child of a frozen cgroup is frozen too, and
/// thawing the child alone does nothing).
fn freezing_ancestor(dir: &str, flag: &str, root: &str, buf: &mut Vec<u8>) -> Option<String> {
    let mut d = dir.to_string();
    while d.len() > root.len() && d.starts_with(root) {
        if read_capped(&format!("{d}/{flag}"), buf, SMALL_CAP).is_ok() && parse::trim(buf) == b"1" {
            return Some(d);
        }
        d.truncate(d.rfind('/')?);
    }
    None
}
