//! `unwedge generate man|completions|rules`: manual pages and shell completions
//! made from the clap definition at run time, as ripgrep does, so that they
//! can never drift from `--help`. Descriptions, options and each command's
//! "Examples:" and "Exit status:" come from cli.rs; what a man page needs
//! beyond `--help` (the incidents of docs/stories.md, FILES, SEE ALSO) is here.
//! tests/generate.rs checks that FILES names every /proc and /sys path the
//! code reads. The alert rules are made in `rules`, from the kind table.
//! Man pages and rules are written 0644: they are meant to be installed
//! and read by others, and hold nothing about the host.

use crate::build_info;
use crate::cli::{Cli, GenerateArgs, GenerateWhat};
use crate::error::Fatal;
use clap::CommandFactory;
use roff::{bold, italic, roman, Inline, Roff};
use std::io::Write;
use std::path::Path;

pub mod rules;

pub fn run(args: &GenerateArgs) -> Result<u8, Fatal> {
    match &args.what {
        GenerateWhat::Man { dir: None } => {
            let root = command();
            let mut out = std::io::stdout().lock();
            out.write_all(&page(&root, &root))?;
            out.flush()?;
        }
        GenerateWhat::Man { dir: Some(dir) } => write_pages(dir)?,
        GenerateWhat::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(*shell, &mut command(), "unwedge", &mut out);
            out.flush()?;
        }
        GenerateWhat::Rules { tests, runbook_base } => {
            let text = if *tests { rules::tests(runbook_base) } else { rules::rules(runbook_base) };
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(0)
}

/// The built command tree: subcommands get their display names
/// (`unwedge-scan`) and bin names (`unwedge scan`).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn write_pages(dir: &Path) -> Result<(), Fatal> {
    std::fs::create_dir_all(dir).map_err(|err| Fatal::CreateDir { path: dir.to_path_buf(), err })?;
    let root = command();
    let mut out = std::io::stdout().lock();
    for cmd in pages(&root) {
        let path = dir.join(format!("{}.1", name(cmd)));
        if let Err(err) = std::fs::write(&path, page(&root, cmd)) {
            return Err(Fatal::Write { path, err });
        }
        writeln!(out, "{}", path.display())?;
    }
    Ok(())
}

/// The root and every visible subcommand, depth first.
fn pages(cmd: &clap::Command) -> Vec<&clap::Command> {
    let mut v = vec![cmd];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        v.extend(pages(sub));
    }
    v
}

/// `unwedge-probe-tcp`, the page's name.
fn name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// One page: clap_mangen's title, NAME, SYNOPSIS, OPTIONS and SUBCOMMANDS
/// around our DESCRIPTION, EXIT STATUS, EXAMPLES, FILES, ENVIRONMENT and
/// SEE ALSO.
fn page(root: &clap::Command, cmd: &clap::Command) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone())
        .title(name(cmd).to_uppercase())
        .section("1")
        .date(build_info::BUILD_DATE)
        .source(format!("unwedge {}", build_info::VERSION))
        .manual("User Commands");
    let is_root = std::ptr::eq(root, cmd);
    let text = Text::of(cmd);
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut part = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut b = Vec::new();
        f(&mut b).expect("writing to a Vec");
        parts.push(b);
    };
    part(&|b| man.render_title(b));
    part(&|b| man.render_name_section(b));
    part(&|b| man.render_synopsis_section(b));

    let mut r = Roff::new();
    r.control("SH", ["DESCRIPTION"]);
    paragraphs(&mut r, &text.description);
    if is_root {
        r.control("PP", []);
        paragraphs(&mut r, ROOT_DESCRIPTION);
    }
    part(&|b| r.to_writer(b));

    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        part(&|b| man.render_options_section(b));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        part(&|b| man.render_subcommands_section(b));
    }

    let mut r = Roff::new();
    exit_status(&mut r, name(cmd), text.exit_status.as_deref());
    examples(&mut r, &text, is_root);
    let files = files_for(name(cmd));
    if !files.is_empty() {
        r.control("SH", ["FILES"]);
        for (path, what) in files {
            r.control("TP", []);
            r.text([bold(*path)]);
            r.text([roman(*what)]);
        }
    }
    if is_root || matches!(name(cmd), "unwedge-scan" | "unwedge-serve" | "unwedge-watch") {
        environment(&mut r);
    }
    see_also(&mut r, root, cmd, is_root);
    part(&|b| r.to_writer(b));
    if is_root {
        part(&|b| man.render_version_section(b));
    }

    // Each part starts with roff's apostrophe preamble: keep the first only.
    let preamble = Roff::new().render().into_bytes();
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let body = if i > 0 && p.starts_with(&preamble) { &p[preamble.len()..] } else { &p[..] };
        out.extend_from_slice(body);
    }
    out
}

/// EXAMPLES: the incidents (root page only), the command's own examples,
/// and its notes.
fn examples(r: &mut Roff, text: &Text, is_root: bool) {
    if is_root || !text.examples.is_empty() || !text.notes.is_empty() {
        r.control("SH", ["EXAMPLES"]);
    }
    if is_root {
        for ex in STORIES {
            story(r, ex);
        }
    }
    for (command, what) in &text.examples {
        r.control("TP", []);
        r.text([bold(command.clone())]);
        if !what.is_empty() {
            r.text([roman(what.clone())]);
        }
    }
    if is_root {
        r.control("PP", []);
        r.text([roman("Each command's page has more: "), italic("unwedge-scan"), roman("(1), and so on.")]);
        r.control("PP", []);
        r.text([
            roman("Every finding names its kind (close_wait_leak, stuck_thread, …): "),
            bold("unwedge explain KIND"),
            roman(" prints what it means, the kernel facts it rests on, the false alarms it avoids and the fix; "),
            bold("unwedge explain"),
            roman(" lists them all."),
        ]);
    }
    for p in &text.notes {
        r.control("PP", []);
        r.text([roman(p.clone())]);
    }
}

/// ENVIRONMENT of the commands that scan.
fn environment(r: &mut Roff) {
    r.control("SH", ["ENVIRONMENT"]);
    r.control("TP", []);
    r.text([bold("NO_COLOR")]);
    r.text([roman("When set and not empty, the human output has no colour unless --color always is given.")]);
    r.control("TP", []);
    r.text([bold("UNWEDGE_DEBUG_DIRS")]);
    r.text([roman(
        "Colon-separated directories of separate debug files for user stacks, instead of /usr/lib/debug and \
         /lib/debug.",
    )]);
}

/// SEE ALSO: the root lists every page; a subcommand's page its parent and
/// children; then the system pages that tell the same facts.
fn see_also(r: &mut Roff, root: &clap::Command, cmd: &clap::Command, is_root: bool) {
    r.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<(String, &str)> = Vec::new();
    if is_root {
        refs.extend(pages(root).into_iter().skip(1).map(|p| (name(p).to_string(), "1")));
    } else {
        let parent = name(cmd).rsplit_once('-').map_or("unwedge", |(p, _)| p);
        refs.push((parent.to_string(), "1"));
        refs.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| (name(s).to_string(), "1")));
    }
    refs.extend([("ss".into(), "8"), ("lsof".into(), "8"), ("proc".into(), "5")]);
    if matches!(name(cmd), "unwedge" | "unwedge-exec") {
        refs.push(("signal".into(), "7"));
    }
    if matches!(name(cmd), "unwedge" | "unwedge-scan" | "unwedge-probe" | "unwedge-probe-tcp") {
        refs.push(("tcp".into(), "7"));
    }
    let mut see: Vec<Inline> = Vec::new();
    for (i, (page, section)) in refs.iter().enumerate() {
        see.push(bold(page.clone()));
        see.push(roman(format!("({section}){}", if i + 1 < refs.len() { ", " } else { "" })));
    }
    r.text(see);
}

/// A command's help text split the way a man page needs it.
struct Text {
    /// long_about (or about) without its "Exit status:" paragraph.
    description: String,
    /// The "Exit status: …" paragraph of long_about or after_help, if any.
    exit_status: Option<String>,
    /// after_help's "Examples:" lines: (command, what it does).
    examples: Vec<(String, String)>,
    /// The rest of after_help.
    notes: Vec<String>,
}

impl Text {
    fn of(cmd: &clap::Command) -> Text {
        let about = cmd.get_long_about().or_else(|| cmd.get_about()).map(|s| s.to_string()).unwrap_or_default();
        let after =
            cmd.get_after_long_help().or_else(|| cmd.get_after_help()).map(|s| s.to_string()).unwrap_or_default();
        let mut t = Text { description: String::new(), exit_status: None, examples: Vec::new(), notes: Vec::new() };
        let mut desc = Vec::new();
        for p in about.split("\n\n") {
            match p.strip_prefix("Exit status:") {
                Some(rest) => t.exit_status = Some(rest.trim().to_string()),
                None => desc.push(p.to_string()),
            }
        }
        t.description = desc.join("\n\n");
        for p in after.split("\n\n").map(str::trim_end).filter(|p| !p.trim().is_empty()) {
            if let Some(rest) = p.strip_prefix("Exit status:") {
                t.exit_status = Some(rest.trim().to_string());
            } else if let Some(rest) = p.strip_prefix("Examples:") {
                for line in rest.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    // "  COMMAND      what it does": two or more spaces part them.
                    let (command, what) = match line.find("  ") {
                        Some(i) => (line[..i].trim(), line[i..].trim()),
                        None => (line, ""),
                    };
                    t.examples.push((command.to_string(), what.to_string()));
                }
            } else {
                t.notes.push(p.trim().to_string());
            }
        }
        t
    }
}

fn paragraphs(r: &mut Roff, text: &str) {
    for (i, p) in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).enumerate() {
        if i > 0 {
            r.control("PP", []);
        }
        r.text([roman(p.replace('\n', " "))]);
    }
}

/// "0 all good; 1 a target failed; 2 bad usage" as a tagged list; a part
/// without a leading number ("CMD's own") as a plain paragraph.
fn exit_status(r: &mut Roff, page: &str, given: Option<&str>) {
    let text = given.or(match page {
        "unwedge" | "unwedge-scan" => Some(
            "0 no warning or critical finding; 1 at least one warning or critical finding; 2 bad usage or an error.",
        ),
        "unwedge-serve" => Some(
            "0 stopped by SIGTERM or SIGINT after draining its connections; 2 bad usage, or the address cannot be \
             bound, or the token file cannot be read.",
        ),
        "unwedge-probe" => Some("0 all good; 1 a target failed or a warning/critical finding; 2 bad target or usage."),
        "unwedge-generate-man" | "unwedge-generate-completions" | "unwedge-generate-rules" => {
            Some("0 written; 2 bad usage or a file that cannot be written.")
        }
        _ => None,
    });
    let Some(text) = text else { return };
    r.control("SH", ["EXIT STATUS"]);
    // "127 when CMD is not found, 126 when it cannot be executed", "as
    // scan's: 0 no warning": a comma or colon before a number starts another
    // status too.
    let mut parts: Vec<&str> = Vec::new();
    for p in text.trim_end_matches('.').split(';') {
        let mut rest = p;
        let next = |rest: &str| {
            rest.match_indices(", ")
                .chain(rest.match_indices(": "))
                .map(|(i, _)| i)
                .filter(|&i| rest[i + 2..].split(' ').next().is_some_and(|w| w.parse::<u8>().is_ok()))
                .min()
        };
        while let Some(i) = next(rest) {
            // Keep a colon ("as scan's:"), drop a comma.
            let keep = if rest[i..].starts_with(':') { i + 1 } else { i };
            parts.push(&rest[..keep]);
            rest = &rest[i + 2..];
        }
        parts.push(rest);
    }
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let (code, rest) = part.split_once(' ').unwrap_or((part, ""));
        if code.parse::<u8>().is_ok() {
            r.control("TP", []);
            r.text([bold(code)]);
            r.text([roman(rest)]);
        } else {
            r.control("PP", []);
            r.text([roman(part)]);
        }
    }
    r.control("PP", []);
    r.text([roman(
        "Any command that gives up (bad input, --deadline passed) prints one line starting with \"unwedge: \" on \
         standard error.",
    )]);
}

/// One example per story of docs/stories.md: the incident, the commands,
/// what unwedge names.
struct Story {
    title: &'static str,
    commands: &'static [&'static str],
    then: &'static str,
}

fn story(r: &mut Roff, s: &Story) {
    r.control("SS", [s.title]);
    r.control("RS", ["4"]);
    r.control("nf", []);
    for c in s.commands {
        r.text([bold(*c)]);
    }
    r.control("fi", []);
    r.control("RE", []);
    r.control("PP", []);
    r.text([roman(s.then)]);
}

const STORIES: &[Story] = &[
    Story {
        title: "A proxy's processes pile up; its restart fails with EADDRINUSE",
        commands: &[
            "sudo unwedge scan --port 443",
            "sudo unwedge stop --port 443 --grace 10s && systemctl start proxy",
        ],
        then: "The scan names the threads stuck in a futex wait on a join (stuck_thread), the orphaned workers, \
               re-parented to init, that still hold the listening port (orphan_port_holder), and processes that \
               ignore SIGTERM (sigterm_blocked). stop sends SIGTERM to every holder of the port and the orphans of \
               their process groups, SIGKILL to those left after the grace period, and checks that the port is free \
               before the restart. unwedge probe http https://origin.internal/ checks the origin behind it: an \
               upstream that keeps the connection open after close_notify (slow_tls_shutdown), a body without \
               Content-Type (missing_content_type).",
    },
    Story {
        title: "connect() to a local daemon times out; hundreds of sockets sit in CLOSE-WAIT",
        commands: &["sudo unwedge scan --port 5000", "unwedge probe tcp 127.0.0.1:5000 -c 20 -i 0.2"],
        then: "close_wait_leak names the process that holds the CLOSE-WAIT sockets (the peer sent FIN, the \
               application never called close()), how many and for how long. The probe measures connect times \
               as hping3 --syn would: a SYN that lands on a leaked 4-tuple is retransmitted (syn_retransmit) and, \
               behind a firewall that drops the challenge ACK, times out (connect_timeout).",
    },
    Story {
        title: "A Go server behind a load balancer times out at random; no log line",
        commands: &["unwedge probe http http://127.0.0.1:8080/", "sudo unwedge scan --port 8080"],
        then: "The probe sends a second request while its first connection idles in keep-alive; a server that \
               answers it only once the first closes has its concurrency slots held by idle keep-alive \
               connections (keepalive_starvation). The scan sees the same from inside: connections waiting in the \
               accept queue while the process's accepted connections idle (keepalive_starvation, accept_stalled).",
    },
    Story {
        title: "A subprocess started from uWSGI hangs in poll() and ignores SIGTERM",
        commands: &[
            "sudo unwedge scan --pid \"$(pgrep -o hping3)\"",
            "unwedge exec -- hping3 --syn -c 1 -p 80 10.0.0.5",
        ],
        then: "blocked_signal names the signal pending but blocked (SIGALRM, bit 14 of SigBlk in \
               /proc/PID/status) and where the mask came from: fork() copies the calling thread's signal mask and \
               execve() keeps it, so a program started from a uWSGI worker thread that blocks signals never sees \
               its alarm. unwedge exec -- starts a command with an empty signal mask and default dispositions, \
               from any thread.",
    },
];

const ROOT_DESCRIPTION: &str = "\
It joins what the kernel already knows and nobody puts together: socket states, queue lengths and per-socket \
byte counters and idle times (netlink sock_diag with tcp_info, what ss(8) reads), which process owns which \
socket (/proc/PID/fd, what lsof(8) finds), thread states, wait channels, current system calls and signal masks \
(/proc/PID/task/TID), parentage and process groups. Each finding names one cause with its evidence and the fix; \
what follows from that cause is grouped under it, so one incident has one headline.

unwedge scan and unwedge serve only read; with --stacks attach, and only then, they ask each JVM a finding is \
about for its own thread dump over its attach socket, as jstack(1) does (a brief safepoint of the JVM; no \
ptrace). unwedge probe connects to the target it is given and nowhere else. \
unwedge stop signals the processes it names (after a dry run if asked), and unwedge exec starts the command it \
is given.

Run it as root for the full view. Without privileges it reads only the caller's own processes' file \
descriptors and threads, and the report's coverage says what it could not see. These capabilities suffice: \
CAP_SYS_PTRACE (other users' /proc/PID/fd, syscall and stack), CAP_DAC_READ_SEARCH (/proc files whatever their \
mode) and, to dump the sockets of other network namespaces through netlink, CAP_SYS_ADMIN; without it those \
are read from /proc/PID/net/tcp.

The human report goes to standard output, coloured on a terminal; --json prints one JSON document instead.";

/// What each page's command reads. The root page lists everything; the
/// list must name every /proc and /sys path in the code (tests/generate.rs).
const PROC_FILES: &[(&str, &str)] = &[
    ("/proc/PID/stat", "State, parent, process group, session, start time, CPU time."),
    ("/proc/PID/status", "Signal masks (SigBlk, SigIgn, SigCgt, SigPnd, ShdPnd), TracerPid, owner, Cpus_allowed_list."),
    ("/proc/PID/cmdline", "The command line, capped at 4 KiB."),
    ("/proc/PID/limits", "The soft and hard RLIMIT_NOFILE."),
    ("/proc/PID/wchan", "What the process sleeps on."),
    ("/proc/PID/comm", "The name of a tracer (TracerPid)."),
    ("/proc/PID/fd/", "Which sockets (by inode), pipes and files each process holds."),
    ("/proc/PID/fdinfo/FD", "The signal mask of a signalfd."),
    ("/proc/PID/ns/net", "The network namespace of each process, entered to dump its sockets."),
    (
        "/proc/PID/ns/mnt",
        "The mount namespace of a process whose threads block on a file: its mounts are read once per namespace.",
    ),
    (
        "/proc/PID/mountinfo",
        "The mounts under threads' blocked file I/O (the fd's mnt_id): mount point, type, source (an NFS server).",
    ),
    (
        "/proc/PID/task/TID/{stat,status,wchan,syscall,stack}",
        "Per thread: state, signal masks, wait channel, current system call with its arguments, stack pointer and \
         program counter, kernel stack.",
    ),
    (
        "/proc/PID/{maps,exe}, /proc/PID/map_files/, /proc/PID/root/",
        "User stacks of blocked threads: the mapped binaries, for their unwind tables and symbols. The stack memory \
         itself is copied with process_vm_readv(2).",
    ),
    (
        "/proc/PID/root/tmp/hsperfdata_USER/NSPID",
        "A HotSpot JVM's counters (threads, monitor contention, safepoints, collections), the file jstat reads, \
         found through the JVM's own memory map; read in both snapshots without asking the JVM anything.",
    ),
    (
        "/proc/PID/root/tmp/.java_pidNSPID",
        "With --stacks attach only: a JVM's attach socket, over which it is asked for its thread dump (the trigger \
         file .attach_pidNSPID that starts its attach listener is removed afterwards).",
    ),
    ("/proc/PID/cgroup", "The cgroups of a stopped process, to find a frozen one."),
    (
        "/sys/fs/cgroup/freezer/CGROUP/{freezer.state,freezer.self_freezing}",
        "cgroup v1: whether that cgroup is frozen, and which ancestor froze it.",
    ),
    ("/sys/fs/cgroup/CGROUP/{cgroup.events,cgroup.freeze}", "cgroup v2: the same."),
    ("/sys/fs/cgroup/unified/CGROUP/{cgroup.events,cgroup.freeze}", "cgroup v2 on a hybrid host: the same."),
    ("/sys/fs/cgroup/cgroup.controllers", "Tells a pure cgroup v2 host from a hybrid one."),
    (
        "/etc/resolv.conf, /proc/PID/root/etc/resolv.conf",
        "The DNS servers of the host, and of a process with a DNS query in flight as its own root sees them.",
    ),
    (
        "/proc/thread-self/net/{tcp,tcp6}",
        "TCP sockets when netlink sock_diag is not available (fewer facts: no tcp_info).",
    ),
    (
        "/proc/thread-self/net/sockstat",
        "How many TCP sockets the namespace holds (sizes the socket table before the dump).",
    ),
    ("/proc/thread-self/net/netstat", "TcpExt counters: ListenOverflows, ListenDrops, TCPSYNChallenge."),
    ("/proc/thread-self/ns/net", "The host's (or the caller's) network namespace."),
    ("/proc/sys/net/ipv4/ip_local_port_range", "The ephemeral port range."),
    ("/proc/sys/net/ipv4/tcp_fin_timeout", "How long FIN-WAIT-2 lasts."),
    (
        "/proc/sys/net/ipv4/tcp_syn_retries",
        "How many times a connect's SYN is sent before it fails: how long a black-holed connect hangs.",
    ),
    ("/proc/sys/kernel/hostname", "The host name in the report."),
    ("/proc/uptime", "Turns start times into ages."),
    ("/proc/self/mountinfo", "Where the cgroup hierarchies (v1 and v2) are mounted."),
    ("/sys/fs/fuse/connections/ID/waiting", "Requests a FUSE daemon has not answered yet (fusectl, where mounted)."),
    (
        "/sys/fs/cgroup/CGROUP/",
        "Per cgroup: pids, cpu.stat and the CFS quota, memory limits, events, memory and CPU pressure.",
    ),
    ("/proc/loadavg", "The number of tasks, against kernel.pid_max and kernel.threads-max."),
    ("/proc/pressure/memory", "The host's memory stall time (PSI)."),
    ("/proc/pressure/cpu", "The share of time runnable tasks waited for a CPU (PSI): a host too small for its load."),
    (
        "/proc/PID/task/TID/schedstat",
        "A thread's time on a CPU and time runnable but waiting for one: busy told apart from starved.",
    ),
    ("/sys/devices/system/cpu/online", "The CPUs a busy or starved thread competes for."),
    (
        "/proc/sys/kernel/perf_event_paranoid",
        "Whether perf events may sample a busy thread's stack; when not, the report says so.",
    ),
    ("/proc/PID/cwd/", "With --stacks attach only: where a JVM looks for the attach trigger file (as jstack does)."),
    ("/proc/sys/kernel/{pid_max,threads-max}", "How many tasks the kernel allows."),
    ("/proc/sys/net/ipv4/ip_local_reserved_ports", "Per network namespace: ports connect() never picks."),
    ("/proc/sys/net/ipv4/tcp_tw_reuse", "Whether connect() may reuse a TIME-WAIT port."),
    ("/proc/sys/net/ipv4/{tcp_max_syn_backlog,tcp_syncookies}", "The SYN queue's limit and syncookies."),
    ("/proc/sys/net/core/somaxconn", "The cap on every listen() backlog."),
    ("/proc/sys/net/netfilter/nf_conntrack_count", "Entries in the connection-tracking table."),
    ("/proc/sys/net/netfilter/nf_conntrack_max", "The connection-tracking table's size."),
    ("/proc/thread-self/net/stat/nf_conntrack", "Connection-tracking drops, early drops, failed inserts."),
    ("/usr/lib/debug/, /lib/debug/", "Separate debug files (by build id) for user stacks; see UNWEDGE_DEBUG_DIRS."),
];

const EXEC_FILES: &[(&str, &str)] = &[("/proc/self/fd/", "With --close-fds: the inherited descriptors to close.")];

const PROBE_FILES: &[(&str, &str)] = &[
    ("/etc/{hosts,resolv.conf,nsswitch.conf}", "Name resolution of the target (through the C library)."),
    (
        "/etc/ssl/certs/ca-certificates.crt",
        "The trust store for https:// (or /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem, \
         /etc/ssl/ca-bundle.pem); --cacert replaces it.",
    ),
];

/// The FILES of one page.
fn files_for(page: &str) -> Vec<&'static (&'static str, &'static str)> {
    match page {
        "unwedge" => PROC_FILES.iter().chain(EXEC_FILES).chain(PROBE_FILES).collect(),
        "unwedge-scan" | "unwedge-serve" | "unwedge-stop" | "unwedge-watch" => PROC_FILES.iter().collect(),
        "unwedge-exec" => EXEC_FILES.iter().collect(),
        "unwedge-probe-tcp" => PROBE_FILES[..1].iter().collect(),
        p if p.starts_with("unwedge-probe") => PROBE_FILES.iter().collect(),
        _ => Vec::new(),
    }
}
