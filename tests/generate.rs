//! `unwedge generate man|completions` and `--version` (issue 18), on the
//! test build: fast. The static binary and the .deb are in tests/packaging.rs.

mod common;

use common::{require, unwedge};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

// build.rs's fallbacks, tested without a build: a tree without .git (a
// tarball), a crates.io download, dates.
#[allow(dead_code)]
#[path = "../build.rs"]
mod build_script;

fn run(args: &[&str]) -> (String, String, i32) {
    let out = unwedge().args(args).output().expect("run unwedge");
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The text of section NAME of a roff page: its lines up to the next .SH,
/// with roff's escapes and font changes removed.
fn section(page: &str, name: &str) -> String {
    let head = format!(".SH {name}\n");
    let head_quoted = format!(".SH \"{name}\"\n");
    let start =
        page.find(&head).map(|i| i + head.len()).or_else(|| page.find(&head_quoted).map(|i| i + head_quoted.len()));
    let Some(start) = start else { panic!("no {name} section in:\n{page}") };
    let body = &page[start..];
    let body = &body[..body.find("\n.SH ").map_or(body.len(), |i| i + 1)];
    body.replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\-", "-")
        .replace("\\*(Aq", "'")
        .replace("\\(dq", "\"")
}

fn subcommand_paths() -> Vec<String> {
    // Every visible subcommand, from `--help` itself: no list to keep in sync.
    fn walk(prefix: &[&str], out: &mut Vec<String>) {
        let mut args: Vec<&str> = prefix.to_vec();
        args.push("--help");
        let (help, _, code) = run(&args);
        assert_eq!(code, 0, "{args:?}");
        let Some(cmds) = help.split("\nCommands:\n").nth(1) else { return };
        for line in cmds.lines().take_while(|l| l.starts_with("  ")) {
            let name = line.split_whitespace().next().unwrap();
            if name == "help" {
                continue;
            }
            let mut p = prefix.to_vec();
            p.push(name);
            out.push(p.join(" "));
            walk(&p, out);
        }
    }
    let mut v = Vec::new();
    walk(&[], &mut v);
    v
}

#[test]
fn the_main_page_has_every_section_a_man_page_needs() {
    let (page, err, code) = run(&["generate", "man"]);
    assert_eq!(code, 0, "{err}");
    assert!(page.contains(".TH UNWEDGE 1 "), "{page}");
    for s in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SUBCOMMANDS", "EXAMPLES", "FILES", "SEE ALSO"] {
        section(&page, s);
    }
    let exit = section(&page, "\"EXIT STATUS\"");
    for code in ["0", "1", "2"] {
        assert!(exit.lines().any(|l| l == code), "exit status {code} missing:\n{exit}");
    }
    // One example per story of docs/stories.md: the proxy, CLOSE-WAIT, Go
    // LimitListener keep-alive, uWSGI's blocked SIGALRM.
    let examples = section(&page, "EXAMPLES");
    assert_eq!(examples.matches(".SS ").count(), 4, "{examples}");
    for named in ["orphan_port_holder", "close_wait_leak", "keepalive_starvation", "blocked_signal", "unwedge exec --"]
    {
        assert!(examples.contains(named), "{named} missing from EXAMPLES:\n{examples}");
    }
    let see = section(&page, "\"SEE ALSO\"");
    for p in ["ss(8)", "lsof(8)", "proc(5)", "unwedge-scan(1)", "unwedge-probe-http(1)"] {
        assert!(see.contains(p), "{p} missing from SEE ALSO:\n{see}");
    }
    let description = section(&page, "DESCRIPTION");
    assert!(description.contains("CAP_SYS_PTRACE"), "{description}");
}

#[test]
fn one_page_per_subcommand_with_its_help_examples_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let (listed, err, code) = run(&["generate", "man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut want: BTreeSet<String> =
        subcommand_paths().iter().map(|p| format!("unwedge-{}.1", p.replace(' ', "-"))).collect();
    want.insert("unwedge.1".into());
    let written: BTreeSet<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(written, want);
    assert_eq!(listed.lines().count(), want.len(), "one line per page written: {listed}");
    for path in subcommand_paths() {
        let file = dir.path().join(format!("unwedge-{}.1", path.replace(' ', "-")));
        let page = std::fs::read_to_string(&file).unwrap();
        section(&page, "DESCRIPTION");
        section(&page, "\"SEE ALSO\"");
        // The examples of `--help` are the page's examples.
        let args: Vec<&str> = path.split(' ').chain(["--help"]).collect();
        let (help, _, _) = run(&args);
        if let Some(ex) = help.split("\nExamples:\n").nth(1) {
            let examples = section(&page, "EXAMPLES");
            for line in ex.lines().take_while(|l| l.starts_with("  ")) {
                let command = line.trim().split("  ").next().unwrap();
                assert!(examples.contains(command), "{path}: example {command:?} missing:\n{examples}");
            }
        }
        // Every runnable command says what its exit status means.
        if !help.contains("\nCommands:\n") {
            let exit = section(&page, "\"EXIT STATUS\"");
            assert!(exit.lines().any(|l| l == "2"), "{path}: no exit status 2:\n{exit}");
        }
    }
}

#[test]
fn pages_render_without_groff_warnings() {
    if !require("man (man-db)", Path::new("/usr/bin/man").exists()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, err, code) = run(&["generate", "man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for page in std::fs::read_dir(dir.path()).unwrap() {
        let page = page.unwrap().path();
        let out = Command::new("man")
            .args(["--warnings=w", "-E", "UTF-8", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            // Set at all, it keeps bold as overstrikes even into a pipe.
            .env_remove("MAN_KEEP_FORMATTING")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", page.display(), String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{}: {}", page.display(), String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("SEE ALSO"), "{}", page.display());
    }
}

/// The string literals naming /proc or /sys paths in non-test source code.
fn proc_sys_literals() -> BTreeSet<String> {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    files(&root.join("src"), &mut sources);
    for c in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        files(&c.path().join("src"), &mut sources);
    }
    let mut lits = BTreeSet::new();
    for f in sources {
        // generate.rs holds the FILES list itself.
        if f.ends_with("src/cmd/generate.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // Unit tests (at the end of a file, by convention) use made-up paths.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("\"/proc/").chain(line.match_indices("\"/sys/")) {
                let lit = &line[i + 1..];
                if let Some(end) = lit.find('"') {
                    // A path inside a message ("/proc/{pid}/maps: {e}") ends at its colon.
                    let path = &lit[..end];
                    lits.insert(path.split(": ").next().unwrap_or(path).to_string());
                }
            }
        }
    }
    lits
}

/// "/proc/PID/task/TID/{stat,status}" -> every path it names.
fn expand(entry: &str) -> Vec<String> {
    match (entry.find('{'), entry.find('}')) {
        (Some(a), Some(b)) if a < b => entry[a + 1..b]
            .split(',')
            .flat_map(|alt| expand(&format!("{}{}{}", &entry[..a], alt, &entry[b + 1..])))
            .collect(),
        _ => vec![entry.to_string()],
    }
}

/// Whether literal L (with `{pid}`-style placeholders) is a path the FILES
/// entry E names, component by component. A placeholder in the page (an
/// upper-case word like PID) matches one in the code, a number, `self` or
/// `thread-self`; a component of the code with a placeholder (`freezer{}`,
/// `root{path}`) matches what starts with the text before it. One may be a
/// prefix of the other (a directory and a file in it).
fn names(entry: &str, lit: &str) -> bool {
    let e: Vec<&str> = entry.trim_end_matches('/').split('/').collect();
    let l: Vec<&str> = lit.trim_end_matches('/').split('/').collect();
    e.iter().zip(&l).all(|(e, l)| {
        let wild_e = !e.is_empty() && e.chars().all(|c| c.is_ascii_uppercase());
        if let Some(i) = l.find('{') {
            let before = &l[..i];
            return if before.is_empty() { wild_e } else { e.starts_with(before) };
        }
        let process = l.chars().all(|c| c.is_ascii_digit()) || *l == "self" || *l == "thread-self";
        e == l || (wild_e && process)
    })
}

#[test]
fn the_files_check_is_not_vacuous() {
    assert!(names("/proc/PID/stat", "/proc/{pid}/stat"));
    assert!(names("/proc/PID/fd/", "/proc/{pid}/fd/{a}"));
    assert!(names("/proc/PID/task/TID/syscall", "/proc/{pid}/task/{}/syscall"));
    assert!(names("/proc/PID/maps", "/proc/self/maps"));
    assert!(!names("/proc/PID/stat", "/proc/uptime"));
    assert!(!names("/proc/PID/stat", "/proc/{pid}/limits"));
    assert!(!names("/proc/sys/net/ipv4/tcp_fin_timeout", "/proc/sys/net/core/somaxconn"));
    assert!(!names("/proc/uptime", "/proc/{pid}/cgroup"));
    assert!(names("/sys/fs/cgroup/freezer/CGROUP/freezer.state", "/sys/fs/cgroup/freezer{}"));
    assert!(names("/proc/PID/root/etc/resolv.conf", "/proc/{pid}/root{path}"));
    assert!(!names("/sys/fs/cgroup/CGROUP/cgroup.events", "/sys/fs/cgroup/unified"));
}

#[test]
fn files_names_every_proc_and_sys_path_the_code_reads() {
    let (page, _, _) = run(&["generate", "man"]);
    let files = section(&page, "FILES");
    let entries: Vec<String> = files
        .lines()
        .filter(|l| l.starts_with('/'))
        .flat_map(|l| l.split(", ").map(str::to_string).collect::<Vec<_>>())
        .flat_map(|e| expand(&e))
        .collect();
    let lits = proc_sys_literals();
    assert!(lits.contains("/proc/{pid}/status"), "the source scan found nothing: {lits:?}");
    let missing: Vec<&String> = lits.iter().filter(|l| !entries.iter().any(|e| names(e, l))).collect();
    assert!(
        missing.is_empty(),
        "the man page's FILES (PROC_FILES in src/cmd/generate.rs) does not name {missing:?}; it names {entries:?}"
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (script, err, code) = run(&["generate", "completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for sub in ["scan", "probe", "serve", "stop", "exec", "generate", "interval", "close-wait-min"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let (bash, _, _) = run(&["generate", "completions", "bash"]);
    assert!(bash.contains("complete -F _unwedge"), "{bash}");
}

#[test]
fn bash_completes_a_subcommand() {
    let bash_completion = Path::new("/usr/share/bash-completion/bash_completion");
    if !require("bash-completion", bash_completion.exists()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (script, _, _) = run(&["generate", "completions", "bash"]);
    let file = dir.path().join("unwedge");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("bash")
        .arg(common::scenario_path("complete_sc.sh"))
        .arg(bash_completion)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "scan", "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_bad_shell_is_one_line_and_exit_2() {
    let (out, err, code) = run(&["generate", "completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("unwedge: "), "{err}");
    let (_, err, code) = run(&["generate", "man", "--dir", "/proc/version/x"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("unwedge: cannot create /proc/version/x"), "{err}");
}

#[test]
fn version_says_commit_build_date_target_and_linkage() {
    for flag in ["--version", "-V"] {
        let (out, _, code) = run(&[flag]);
        assert_eq!(code, 0);
        let line = out.trim_end();
        let rest = line.strip_prefix(&format!("unwedge {} (commit ", env!("CARGO_PKG_VERSION"))).expect(line);
        let (commit, rest) = rest.split_once(", built ").expect(line);
        assert!(commit == "unknown" || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())), "{line}");
        let (date, rest) = rest.split_once(", ").expect(line);
        assert!(date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-', "{line}");
        assert!(
            rest == "x86_64-unknown-linux-gnu, dynamic)" || rest.ends_with("static)") || rest.ends_with("dynamic)")
        );
        // The test checkout is a git repository: the commit is known.
        if Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").exists() {
            assert_ne!(commit, "unknown", "{line}");
        }
    }
}

#[test]
fn build_facts_fall_back_to_unknown_without_git() {
    // A tarball unpacked somewhere (here inside no repository at all, or
    // inside another one) reports no commit rather than a wrong one.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(build_script::git_commit(dir.path()), None);
    let inner = dir.path().join("unwedge-0.1.0");
    std::fs::create_dir(&inner).unwrap();
    let git_ok = Command::new("git").arg("init").arg("-q").arg(dir.path()).status().is_ok_and(|s| s.success());
    if git_ok {
        assert_eq!(build_script::git_commit(&inner), None, "the enclosing repository's HEAD must not be used");
    }
    // A crates.io download carries the commit in .cargo_vcs_info.json.
    std::fs::write(
        inner.join(".cargo_vcs_info.json"),
        "{\n  \"git\": {\n    \"sha1\": \"0123456789abcdef0123456789abcdef01234567\"\n  },\n  \"path_in_vcs\": \"\"\n}",
    )
    .unwrap();
    assert_eq!(build_script::vcs_info_commit(&inner).as_deref(), Some("0123456789ab"));
    assert_eq!(build_script::civil_date(0), "1970-01-01");
    assert_eq!(build_script::civil_date(951_782_400), "2000-02-29");
    assert_eq!(build_script::civil_date(1_767_225_599), "2025-12-31");
}
