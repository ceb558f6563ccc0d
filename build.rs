//! Build facts for `unwedge --version` and the `unwedge_build_info` series:
//! the git commit, the build date, the target and whether libc is linked
//! statically. Whatever is missing (a tarball or a crates.io download has no
//! .git, git may not be installed) becomes "unknown": the build never fails
//! for want of a fact about itself.
//!
//! Overrides, for packagers: UNWEDGE_BUILD_COMMIT (a commit id),
//! SOURCE_DATE_EPOCH (reproducible builds: the date is taken from it).
//!
//! Also the table of the kind pages `unwedge explain` prints: every
//! docs/kinds/<kind>.md, compiled in, so a new kind's page needs no line
//! in the code.
//! (`pub` items: tests/generate.rs includes this file to test the fallbacks.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // Without this line cargo would rerun the script on every change of any
    // file in the package when there is no .git to watch.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=UNWEDGE_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let commit = std::env::var("UNWEDGE_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git_commit(&dir))
        .or_else(|| vcs_info_commit(&dir))
        .unwrap_or_else(|| "unknown".into());
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse::<i64>().ok()).or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs() as i64)
    });
    let date = epoch.map(civil_date).unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    // Set by `-C target-feature=+crt-static` (packaging/build-static.sh) and
    // by default on musl targets.
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let linkage = if features.split(',').any(|f| f == "crt-static") { "static" } else { "dynamic" };

    println!("cargo:rustc-env=UNWEDGE_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=UNWEDGE_BUILD_DATE={date}");
    println!("cargo:rustc-env=UNWEDGE_TARGET={target}");
    println!("cargo:rustc-env=UNWEDGE_LINKAGE={linkage}");

    println!("cargo:rerun-if-changed=docs/kinds");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("kind_pages.rs"), kind_pages(&dir.join("docs/kinds"))).expect("write kind_pages.rs");
}

/// `const KIND_PAGES: &[(&str, &str)]`: (file stem, the page) for every
/// page of `dir` but its index, by name. None when the folder is missing
/// (a source tree without docs/): `unwedge explain` then says so.
pub fn kind_pages(dir: &Path) -> String {
    let mut pages: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p.canonicalize().ok()?)))
        .filter(|(stem, _)| stem != "README")
        .collect();
    pages.sort();
    let mut s =
        String::from("/// docs/kinds/<kind>.md by file stem (build.rs).\npub const KIND_PAGES: &[(&str, &str)] = &[\n");
    for (stem, path) in pages {
        s.push_str(&format!("    ({stem:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    s.push_str("];\n");
    s
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// HEAD of the repository this package is the top of. A tarball unpacked
/// inside some other repository must not report that repository's commit.
pub fn git_commit(dir: &Path) -> Option<String> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    // Rerun when HEAD moves: HEAD itself (checkout), the branch it points to
    // (commit) and packed-refs (gc), those that exist. --git-path also
    // resolves worktrees.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(r) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(r);
    }
    for w in watch {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &w]) {
            let p = if Path::new(&p).is_absolute() { PathBuf::from(p) } else { dir.join(p) };
            // A missing file would make cargo rerun this script every build.
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    Some(commit)
}

/// `cargo package` (and so a crates.io download) records the commit in
/// .cargo_vcs_info.json: {"git": {"sha1": "…"}, …}.
pub fn vcs_info_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let rest = &text[text.find("\"sha1\"")? + 6..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    (sha.len() >= 12).then(|| sha[..12].to_string())
}

/// YYYY-MM-DD (UTC) of a Unix time, without a date crate (Howard Hinnant's
/// days-to-civil algorithm).
pub fn civil_date(secs: i64) -> String {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
