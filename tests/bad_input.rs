//! Every bad input gets one clear line on stderr and exit status 2 (the
//! "Bad input" table of docs/usage.md; one row here per row there).

mod common;

use std::io::Write;
use std::time::Duration;

struct Row {
    name: &'static str,
    args: Vec<String>,
    /// A piece of the one stderr line that says what was wrong.
    says: &'static str,
}

fn row(name: &'static str, args: &[&str], says: &'static str) -> Row {
    Row { name, args: args.iter().map(|s| s.to_string()).collect(), says }
}

/// A pid no process has: above the kernel's pid_max.
fn unused_pid() -> String {
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    (max + 1).min(i32::MAX as u64).to_string()
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::File::create(&corrupt).unwrap().write_all(b"{\"snapshots\": [{\"processes\": 12").unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, b"{\"snapshots\": []}").unwrap();
    let missing = dir.path().join("missing.json");
    let unwritable = dir.path().join("no/such/dir/out.json");
    let corrupt = corrupt.to_str().unwrap();
    let empty = empty.to_str().unwrap();
    let missing = missing.to_str().unwrap();
    let unwritable = unwritable.to_str().unwrap();
    let pid = unused_pid();
    let empty_token = dir.path().join("empty-token");
    std::fs::write(&empty_token, b"\n").unwrap();
    let two_tokens = dir.path().join("two-tokens");
    std::fs::write(&two_tokens, b"one two\n").unwrap();
    let empty_token = empty_token.to_str().unwrap();
    let two_tokens = two_tokens.to_str().unwrap();
    // A port some process already listens on (this test's own listener).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();

    let rows = vec![
        row("scan unknown pid", &["scan", "--interval", "0", "--pid", &pid], "no process with pid"),
        row("scan pid 0", &["scan", "--pid", "0"], "--pid"),
        row("scan pid not a number", &["scan", "--pid", "abc"], "--pid"),
        row("scan port 0", &["scan", "--port", "0"], "--port"),
        row("scan port 70000", &["scan", "--port", "70000"], "--port"),
        row("scan negative interval", &["scan", "--interval", "-1"], "invalid duration"),
        row("scan interval garbage", &["scan", "--interval", "1parsec"], "invalid duration"),
        row("scan interval too long", &["scan", "--interval", "99999999"], "too long"),
        row("scan zero deadline", &["scan", "--deadline", "0"], "at least 1ms"),
        row("scan deadline within interval", &["scan", "--interval", "2s", "--deadline", "1s"], "leaves no time"),
        row("scan nonexistent snapshot", &["scan", "--from-snapshot", missing], "cannot read"),
        row("scan corrupt snapshot", &["scan", "--from-snapshot", corrupt], "not an unwedge snapshot"),
        row("scan empty snapshot", &["scan", "--from-snapshot", empty], "holds no snapshot"),
        row("scan directory as snapshot", &["scan", "--from-snapshot", "/"], "cannot read"),
        row("scan unwritable save path", &["scan", "--interval", "0", "--save-snapshot", unwritable], "cannot write"),
        row("scan fd threshold 0", &["scan", "--fd-warning", "0"], "percentage"),
        row("scan critical below warning", &["scan", "--fd-warning", "90", "--fd-critical", "50"], "must not be below"),
        row("scan unknown flag", &["scan", "--bogus"], "--bogus"),
        row("probe tcp port 0", &["probe", "tcp", "127.0.0.1:0"], "port"),
        row("probe tcp port 70000", &["probe", "tcp", "127.0.0.1:70000"], "port"),
        row("probe tcp no port", &["probe", "tcp", "127.0.0.1"], "no port"),
        row(
            "probe tcp unresolvable host",
            &["probe", "tcp", "no-such-host.invalid:80", "--timeout", "2s"],
            "no-such-host.invalid",
        ),
        row("probe tcp URL given", &["probe", "tcp", "http://127.0.0.1:80/"], "is a URL"),
        row("probe tcp negative count", &["probe", "tcp", "127.0.0.1:80", "-c", "-1"], "invalid value '-1'"),
        row("probe tcp count 0", &["probe", "tcp", "127.0.0.1:80", "-c", "0"], "0"),
        row("probe tcp zero timeout", &["probe", "tcp", "127.0.0.1:80", "--timeout", "0"], "at least 1ms"),
        row("probe tcp negative interval", &["probe", "tcp", "127.0.0.1:80", "-i", "-1"], "invalid duration '-1'"),
        row("probe http malformed URL", &["probe", "http", "http//127.0.0.1/"], "no scheme"),
        row("probe http unsupported scheme", &["probe", "http", "ftp://127.0.0.1/"], "unsupported scheme"),
        row("probe http no host", &["probe", "http", "http:///path"], "no host"),
        row("probe http port 70000", &["probe", "http", "http://127.0.0.1:70000/"], "port"),
        row("probe http port 0", &["probe", "http", "http://127.0.0.1:0/"], "port"),
        row(
            "probe http unresolvable host",
            &["probe", "http", "http://no-such-host.invalid/", "--timeout", "2s"],
            "no-such-host.invalid",
        ),
        row("probe http missing cacert", &["probe", "http", "https://127.0.0.1/", "--cacert", missing], "no such file"),
        row("probe zero deadline", &["probe", "tcp", "127.0.0.1:80", "--deadline", "0"], "at least 1ms"),
        row(
            "probe deadline within its waits",
            &["probe", "tcp", "127.0.0.1:80", "-c", "5", "-i", "1s", "--deadline", "2s"],
            "leaves no time",
        ),
        row(
            "stop deadline within grace",
            &["stop", "--port", "8", "--grace", "5s", "--deadline", "1s"],
            "leaves no time",
        ),
        row("stop unknown pid", &["stop", &pid], "no process"),
        row("stop pid 0", &["stop", "0"], "PID"),
        row("stop negative pid", &["stop", "-5"], "invalid value '-5'"),
        row("stop port 0", &["stop", "--port", "0"], "--port"),
        row("stop port 70000", &["stop", "--port", "70000"], "--port"),
        row("stop pid 1", &["stop", "1", "--dry-run"], "pid 1"),
        row("stop negative grace", &["stop", "--port", "8", "--grace", "-1s"], "invalid duration '-1s'"),
        row("stop nothing given", &["stop"], "PID"),
        row("exec no command", &["exec"], "CMD"),
        row(
            "serve missing token file",
            &["serve", "--listen", "127.0.0.1:0", "--token-file", missing],
            "cannot read token file",
        ),
        row(
            "serve directory as token file",
            &["serve", "--listen", "127.0.0.1:0", "--token-file", "/"],
            "cannot read token file",
        ),
        row("serve empty token file", &["serve", "--listen", "127.0.0.1:0", "--token-file", empty_token], "is empty"),
        row(
            "serve two tokens in file",
            &["serve", "--listen", "127.0.0.1:0", "--token-file", two_tokens],
            "one token on one line",
        ),
        row("serve beyond loopback without token", &["serve", "--listen", "0.0.0.0:0"], "without --token-file"),
        row("serve listen garbage", &["serve", "--listen", "nonsense"], "not an IP address and port"),
        row("serve listen no port", &["serve", "--listen", "127.0.0.1"], "has no port"),
        row("serve listen port 70000", &["serve", "--listen", "127.0.0.1:70000"], "out of range"),
        row("serve listen port taken", &["serve", "--listen", &taken], "Address already in use"),
        row(
            "serve bad allow-target",
            &["serve", "--listen", "127.0.0.1:0", "--allow-target", "10.0.0.0/99"],
            "invalid --allow-target",
        ),
        row(
            "serve scan interval below 1s",
            &["serve", "--listen", "127.0.0.1:0", "--scan-interval", "0"],
            "at least 1s",
        ),
        row(
            "serve negative scan interval",
            &["serve", "--listen", "127.0.0.1:0", "--scan-interval", "-1"],
            "invalid duration '-1'",
        ),
        row("serve metrics-top 0", &["serve", "--listen", "127.0.0.1:0", "--metrics-top", "0"], "--metrics-top"),
        row("watch count 0", &["watch", "--count", "0"], "--count"),
        row("watch every garbage", &["watch", "--every", "soon"], "invalid duration"),
        row("watch corrupt snapshot", &["watch", "--from-snapshot", corrupt], "not an unwedge snapshot"),
        row(
            "watch critical below warning",
            &["watch", "--close-wait-min", "9", "--close-wait-critical", "3"],
            "must not be below",
        ),
        row("scan html unwritable", &["scan", "--interval", "0", "--html", unwritable], "cannot write"),
        row("no subcommand flag", &["frobnicate"], "frobnicate"),
    ];
    let mut failures = Vec::new();
    for r in &rows {
        // Killed after 10 s: a row that wrongly starts `serve` (which runs
        // until stopped) fails instead of hanging the suite.
        let ran =
            common::run_with_deadline(common::unwedge().args(&r.args).env("NO_COLOR", "1"), Duration::from_secs(10));
        let (out, took) = (ran.output, ran.took);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        // Not-root notes are a line of their own: not part of the error.
        let err_lines: Vec<&&str> = lines.iter().filter(|l| !l.contains("not running as root")).collect();
        let ok = out.status.code() == Some(2)
            && err_lines.len() == 1
            && err_lines[0].starts_with("unwedge: ")
            && err_lines[0].contains(r.says)
            && !stderr.contains("panicked")
            && took < Duration::from_secs(10);
        if !ok {
            failures.push(format!(
                "{}: {:?} -> exit {:?} in {:?}, stderr {:?}",
                r.name,
                r.args,
                out.status.code(),
                took,
                stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{} rows misbehave:\n{}", failures.len(), failures.join("\n"));
}
