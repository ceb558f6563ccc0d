//! Cgroups a live test creates and removes: a fresh directory under the
//! hierarchy that carries a controller — v1 where the controller is mounted
//! as v1 (this project's machine), else v2 — with a unique name. Dropping
//! the guard SIGKILLs whatever still runs in it (only the test's own
//! processes can be there) and removes the directory, waiting (bounded)
//! for the kernel to let go of the last task.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static SEQ: AtomicU32 = AtomicU32::new(0);

pub struct TestCgroup {
    /// The directory on disk.
    pub dir: PathBuf,
    /// The path as /proc/PID/cgroup shows it ("/unwedge-test-…").
    pub path: String,
    pub v2: bool,
}

/// (mount point, super options) of every cgroup / cgroup2 mount.
fn mounts() -> Vec<(bool, String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let point = pre.split(' ').nth(4)?.to_string();
            let mut post = post.split(' ');
            let fs = post.next()?;
            let opts = post.nth(1).unwrap_or("").to_string();
            match fs {
                "cgroup" => Some((false, point, opts)),
                "cgroup2" => Some((true, point, opts)),
                _ => None,
            }
        })
        .collect()
}

/// The root directory of the hierarchy carrying `controller`; `None` for
/// "" asks for the v2 root whatever it carries.
fn root_for(controller: &str) -> Option<(PathBuf, bool)> {
    let m = mounts();
    if !controller.is_empty() {
        if let Some((_, point, _)) = m.iter().find(|(v2, _, o)| !v2 && o.split(',').any(|x| x == controller)) {
            return Some((PathBuf::from(point), false));
        }
    }
    let (_, point, _) = m.iter().find(|(v2, _, _)| *v2)?;
    let root = PathBuf::from(point);
    if controller.is_empty() {
        return Some((root, true));
    }
    let have = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    if !have.split_whitespace().any(|c| c == controller) {
        return None;
    }
    // Children see a controller only once the parent enables it.
    let _ = std::fs::write(root.join("cgroup.subtree_control"), format!("+{controller}"));
    Some((root, true))
}

impl TestCgroup {
    /// A new cgroup where `controller` ("pids", "cpu", "memory") applies,
    /// or "" for a plain v2 one (PSI files on a hybrid host). Err says why not.
    pub fn new(controller: &str) -> Result<TestCgroup, String> {
        let (root, v2) = root_for(controller).ok_or_else(|| format!("no cgroup hierarchy with {controller:?}"))?;
        let name = format!("unwedge-test-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let dir = root.join(&name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        Ok(TestCgroup { dir, path: format!("/{name}"), v2 })
    }

    pub fn set(&self, file: &str, value: &str) {
        std::fs::write(self.dir.join(file), value).unwrap_or_else(|e| panic!("{}/{file}: {e}", self.dir.display()));
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    pub fn dir_str(&self) -> &str {
        self.dir.to_str().expect("utf-8 path")
    }

    fn procs(dir: &Path) -> Vec<i32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Only this test's processes can be in a cgroup it made.
        for pid in Self::procs(&self.dir) {
            // SAFETY: signalling a process by pid; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let gone = super::wait_until(Duration::from_secs(10), || std::fs::remove_dir(&self.dir).is_ok());
        if !gone {
            eprintln!("could not remove {} within 10 s", self.dir.display());
        }
    }
}
