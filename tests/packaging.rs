//! The static binary and the .deb (issue 18), checked as a sick host would
//! meet them. Everything here shares ONE build: `packaging/build-deb.sh`
//! (which runs packaging/build-static.sh) into target/packaging, kept
//! between runs, unoptimised (opt-level 0: linkage, stripping and the
//! package do not depend on it). A cold build costs minutes on 2 cores, plus the one-time
//! `cargo install cargo-deb`; a warm one seconds. The tests wait for it
//! together (a OnceLock), then run in parallel.
//!
//! The .deb test installs the package on this machine (CI runs as root on a
//! throw-away machine) and removes it again, also when it fails.

mod common;

use common::{is_root, require, run_with_deadline, scenario_path};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TRIPLE: &str = "x86_64-unknown-linux-gnu";

struct Built {
    /// The static binary.
    bin: PathBuf,
    deb: PathBuf,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn which(tool: &str) -> bool {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].iter().any(|d| Path::new(d).join(tool).exists())
}

/// Runs packaging/build-deb.sh once for every test of this file.
fn built() -> &'static Built {
    static BUILT: OnceLock<Result<Built, String>> = OnceLock::new();
    let b = BUILT.get_or_init(|| {
        let target_dir = repo().join("target/packaging");
        let started = Instant::now();
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("packaging/build-deb.sh"));
        // Build as from a shell: what cargo set for this test process
        // (CARGO_PKG_*, OUT_DIR, LD_LIBRARY_PATH, build.rs's UNWEDGE_*)
        // would otherwise make cargo see changed env dependencies and
        // rebuild target/packaging each time a shell and a test alternate.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            let cargo_set = (k.starts_with("CARGO") && k != "CARGO_HOME")
                || k.starts_with("UNWEDGE_")
                || ["OUT_DIR", "LD_LIBRARY_PATH", "RUST_RECURSION_COUNT", "RUSTFLAGS"].contains(&k.as_str());
            if cargo_set {
                cmd.env_remove(&k);
            }
        }
        cmd.env("CARGO_TARGET_DIR", &target_dir);
        // Unoptimised: what is tested here is how the binary is linked,
        // stripped, packed and installed, which opt-level does not change;
        // a cold optimised build of the whole tree costs CI ~3x the time.
        // (The script run by hand, as docs/install.md says, builds optimised.)
        cmd.env("CARGO_PROFILE_RELEASE_STATIC_OPT_LEVEL", "0");
        // A cold build and the one-time cargo-deb install take minutes.
        let out = run_with_deadline(&mut cmd, Duration::from_secs(1500)).finished();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "packaging/build-deb.sh failed ({}):\n{}\n{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        eprintln!("packaging/build-deb.sh took {:.1} s", started.elapsed().as_secs_f64());
        let deb = PathBuf::from(stdout.lines().last().unwrap_or_default());
        let deb = if deb.is_absolute() { deb } else { repo().join(deb) };
        let bin = target_dir.join(TRIPLE).join("release-static/unwedge");
        if !deb.is_file() || !bin.is_file() {
            return Err(format!("build-deb.sh said {deb:?}; expected it and {bin:?} to exist"));
        }
        Ok(Built { bin, deb })
    });
    b.as_ref().unwrap_or_else(|e| panic!("{e}"))
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_static_binary_is_static_and_stripped() {
    let b = built();
    let size = std::fs::metadata(&b.bin).unwrap().len();
    eprintln!("static binary: {} bytes ({:.1} MiB)", size, size as f64 / 1048576.0);
    if require("file", which("file")) {
        let out = Command::new("file").arg("-b").arg(&b.bin).output().unwrap();
        let file = text(&out);
        assert!(file.contains("static-pie linked") || file.contains("statically linked"), "{file}");
        assert!(file.contains(", stripped"), "{file}");
    }
    // ldd says "not a dynamic executable" (static) or "statically linked"
    // (static-pie), and lists no library either way.
    let ldd = text(&Command::new("ldd").arg(&b.bin).output().unwrap());
    assert!(ldd.contains("not a dynamic executable") || ldd.contains("statically linked"), "{ldd}");
    assert!(!ldd.contains("=>"), "{ldd}");
    let readelf = text(&Command::new("readelf").arg("-d").arg(&b.bin).output().unwrap());
    assert!(!readelf.contains("(NEEDED)"), "{readelf}");
    let version = text(&Command::new(&b.bin).arg("--version").output().unwrap());
    assert!(version.starts_with(&format!("unwedge {} (commit ", env!("CARGO_PKG_VERSION"))), "{version}");
    assert!(version.trim_end().ends_with(&format!("{TRIPLE}, static)")), "{version}");
}

/// A root file system with nothing but the binary and /proc and /sys
/// mounted: `scan` must still work (no libc, no /etc, no /dev).
#[test]
fn the_static_binary_scans_inside_an_empty_root() {
    let b = built();
    if !require("root (mount, chroot)", is_root()) || !require("unshare (util-linux)", which("unshare")) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("proc")).unwrap();
    std::fs::create_dir(root.path().join("sys")).unwrap();
    std::fs::copy(&b.bin, root.path().join("unwedge")).unwrap();
    let entries: Vec<String> =
        std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(entries.len(), 3, "{entries:?}");
    // A private mount namespace: the mounts vanish with it.
    let script = r#"mount -t proc proc "$1/proc" && mount -t sysfs sysfs "$1/sys" && exec chroot "$1" /unwedge scan --interval 0 --json"#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"]).arg(root.path());
    let out = run_with_deadline(&mut cmd, Duration::from_secs(60)).finished();
    let code = out.status.code();
    assert!(matches!(code, Some(0) | Some(1)), "scan in the empty root failed: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let cov = &report["coverage"];
    assert!(cov["processes"].as_u64().unwrap() > 1, "{cov}");
    assert!(cov["threads"].as_u64().unwrap() > 1, "{cov}");
    assert!(cov["sockets"].is_u64(), "{cov}");
}

/// Name resolution without NSS modules: the static binary resolves through
/// glibc's built-in `files` and `dns` only (src/main.rs, static_nss), even
/// when nsswitch.conf names modules it must not load. Checked in a root
/// with no shared library at all, in a network namespace whose only DNS
/// server is tests/scenarios/dns_stub.py on 127.0.0.1:53.
#[test]
fn the_static_binary_resolves_names_without_nss_modules() {
    let b = built();
    let ok = require("root (netns, mount, chroot)", is_root())
        && require("unshare (util-linux)", which("unshare"))
        && require("ip (iproute2)", which("ip"))
        && require("python3", which("python3"))
        && require("strace", which("strace"));
    if !ok {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    for d in ["proc", "etc"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(&b.bin, root.join("unwedge")).unwrap();
    std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::write(root.join("etc/resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n").unwrap();
    // Ubuntu's line: two modules that exist only as shared libraries.
    std::fs::write(root.join("etc/nsswitch.conf"), "hosts: files mdns4_minimal [NOTFOUND=return] resolve dns\n")
        .unwrap();
    let script = r#"
set -eu
root=$1 work=$2 stub=$3
ip link set lo up
python3 -u "$stub" > "$work/stub.out" 2>&1 &
stub_pid=$!
i=0
until grep -q READY "$work/stub.out"; do
  i=$((i + 1)); [ $i -lt 200 ] || { echo "dns stub not ready"; cat "$work/stub.out"; exit 1; }
  sleep 0.05
done
port=$(sed -n 's/^READY {"port": \([0-9]*\)}$/\1/p' "$work/stub.out")
mount -t proc proc "$root/proc"
for name in localhost svc.unwedge.test; do
  echo "== $name"
  strace -f -e trace=openat -o "$work/trace.$name" chroot "$root" /unwedge probe tcp "$name:$port" -c 1 --timeout 2s
done
kill "$stub_pid"
"#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&root)
        .arg(work.path())
        .arg(scenario_path("dns_stub.py"));
    let out = run_with_deadline(&mut cmd, Duration::from_secs(60)).finished();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    // localhost from /etc/hosts; svc.unwedge.test from the DNS server.
    assert!(said.contains("PROBE localhost:") && said.contains("PROBE svc.unwedge.test:"), "{said}");
    assert_eq!(said.matches("1 connects, 1 ok").count(), 2, "{said}");
    for name in ["localhost", "svc.unwedge.test"] {
        let trace = std::fs::read_to_string(work.path().join(format!("trace.{name}"))).unwrap();
        assert!(!trace.contains("libnss_"), "{name}: the static binary tried to load an NSS module:\n{trace}");
    }
}

#[test]
fn the_deb_holds_what_a_host_needs() {
    let b = built();
    let out = Command::new("dpkg-deb").arg("-c").arg(&b.deb).output().unwrap();
    let list = text(&out);
    let mut want = vec![
        "./usr/bin/unwedge".to_string(),
        "./usr/share/man/man1/unwedge.1.gz".into(),
        "./usr/share/bash-completion/completions/unwedge".into(),
        "./usr/share/zsh/vendor-completions/_unwedge".into(),
        "./usr/share/fish/vendor_completions.d/unwedge.fish".into(),
        "./lib/systemd/system/unwedge.service".into(),
        "./usr/share/unwedge/prometheus/unwedge-rules.yml".into(),
        "./usr/share/unwedge/grafana/unwedge-dashboard.json".into(),
        "./usr/share/doc/unwedge/copyright".into(),
        "./usr/share/doc/unwedge/changelog.gz".into(),
    ];
    for sub in ["scan", "exec", "stop", "probe", "probe-tcp", "probe-http", "serve", "generate"] {
        want.push(format!("./usr/share/man/man1/unwedge-{sub}.1.gz"));
    }
    for w in &want {
        assert!(list.lines().any(|l| l.ends_with(&format!(" {w}"))), "{w} missing from the .deb:\n{list}");
    }
    let unit = Command::new("sh")
        .arg("-c")
        .arg(r#"dpkg-deb --fsys-tarfile "$1" | tar -xO ./lib/systemd/system/unwedge.service"#)
        .arg("sh")
        .arg(&b.deb)
        .output()
        .unwrap();
    let unit = String::from_utf8_lossy(&unit.stdout);
    assert!(unit.lines().any(|l| l.starts_with("ExecStart=/usr/bin/unwedge serve ")), "{unit}");
    assert!(unit.lines().any(|l| l == "Documentation=man:unwedge-serve(1)"), "{unit}");
    let control = text(&Command::new("dpkg-deb").arg("-I").arg(&b.deb).output().unwrap());
    // cargo-deb writes the field even when $auto finds no library.
    let depends = control.lines().find_map(|l| l.trim().strip_prefix("Depends:")).unwrap_or("");
    assert_eq!(depends.trim(), "", "a static binary depends on nothing:\n{control}");
    // No postinst enables or starts the service.
    assert!(!control.contains("deb-systemd-invoke"), "{control}");
}

/// Removes the package when the test ends, whatever happened.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "unwedge"]).output();
    }
}

/// dpkg, waiting (bounded) while another dpkg or apt holds its lock.
fn dpkg(args: &[&str]) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = run_with_deadline(Command::new("dpkg").args(args), Duration::from_secs(120)).finished();
        let locked = String::from_utf8_lossy(&out.stderr).contains("lock");
        if out.status.success() || !locked || Instant::now() >= deadline {
            return out;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn the_deb_installs_works_and_leaves_nothing_behind() {
    let b = built();
    if !require("root (dpkg -i)", is_root()) || !require("dpkg", which("dpkg")) {
        return;
    }
    let status = Command::new("dpkg-query").args(["-W", "-f", "${Status}", "unwedge"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains("installed"),
        "a package named unwedge is already installed here: the test will not replace it (dpkg -r unwedge first)"
    );
    let _purge = Purge;
    let deb = b.deb.to_str().unwrap();
    let out = dpkg(&["-i", deb]);
    assert!(out.status.success(), "dpkg -i: {}", text(&out));

    let version = text(&Command::new("/usr/bin/unwedge").arg("--version").output().unwrap());
    assert!(version.trim_end().ends_with("static)"), "{version}");
    let scan =
        run_with_deadline(Command::new("/usr/bin/unwedge").args(["scan", "--interval", "0"]), Duration::from_secs(60))
            .finished();
    assert!(matches!(scan.status.code(), Some(0) | Some(1)), "{}", text(&scan));

    if require("man (man-db)", which("man")) {
        for page in ["unwedge", "unwedge-scan", "unwedge-probe-tcp"] {
            let out = Command::new("man").args(["-w", page]).output().unwrap();
            let path = String::from_utf8_lossy(&out.stdout);
            assert_eq!(path.trim(), format!("/usr/share/man/man1/{page}.1.gz"), "{}", text(&out));
        }
    }
    let bash_completion = Path::new("/usr/share/bash-completion/bash_completion");
    if require("bash-completion", bash_completion.exists()) {
        // bash-completion loads the installed file on <TAB>, as in a login shell.
        let out =
            Command::new("bash").arg(scenario_path("complete_sc.sh")).arg(bash_completion).arg("").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "scan", "{}", text(&out));
    }
    let unit = "/lib/systemd/system/unwedge.service";
    // "Where available": systemd-analyze ships with systemd.
    if which("systemd-analyze") {
        let out = run_with_deadline(Command::new("systemd-analyze").args(["verify", unit]), Duration::from_secs(60))
            .finished();
        assert!(out.status.success() && out.stderr.is_empty(), "systemd-analyze verify: {}", text(&out));
    } else {
        eprintln!("systemd-analyze not installed: unit not verified");
    }
    // Installed disabled.
    assert!(!Path::new("/etc/systemd/system/multi-user.target.wants/unwedge.service").exists());

    let files = text(&Command::new("dpkg").args(["-L", "unwedge"]).output().unwrap());
    let out = dpkg(&["-r", "unwedge"]);
    assert!(out.status.success(), "dpkg -r: {}", text(&out));
    // Directories shared with other packages (/usr/bin; /lib, a symlink to
    // usr/lib on merged-/usr systems) stay.
    let left: Vec<&str> = files
        .lines()
        .filter(|f| (Path::new(f).is_file() || Path::new(f).is_symlink()) && !Path::new(f).is_dir())
        .collect();
    assert!(left.is_empty(), "dpkg -r left {left:?}");
    for dir in ["/usr/share/unwedge", "/usr/share/doc/unwedge"] {
        assert!(!Path::new(dir).exists(), "dpkg -r left {dir}");
    }
    // No conffiles and no postrm: not even a dpkg entry ("rc") remains.
    let status = Command::new("dpkg-query").args(["-W", "-f", "${Status}", "unwedge"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.is_empty() || status.contains("not-installed"), "after dpkg -r: {status}");
    let etc = text(&Command::new("find").args(["/etc", "-name", "*unwedge*"]).output().unwrap());
    assert!(etc.trim().is_empty(), "left in /etc: {etc}");
}
