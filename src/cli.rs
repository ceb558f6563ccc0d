//! The command line (clap derive). Every flag's help says what it is for.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

mod probe;
pub use probe::*;

#[derive(Parser, Debug)]
#[command(
    name = "unwedge",
    version = crate::build_info::LONG_VERSION,
    about = "Names why a Linux service hangs or why its clients time out",
    long_about = "unwedge reads the kernel's own facts — TCP sockets and their queues (netlink sock_diag with tcp_info), \
processes, threads and signal masks (/proc) — and names the root cause of a hang, with the evidence and the fix.\n\n\
Start with `unwedge scan` (as root for the full view).",
    after_help = "Exit status: 0 no warning or critical finding; 1 at least one warning or critical finding; 2 bad usage or an error."
)]
pub struct Cli {
    /// When to colour the human output (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// How user-space stacks of reported threads are read (`--stacks`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StacksWhen {
    /// Not at all.
    Off,
    /// Threads blocked in a syscall, copied without stopping them (needs root for other users' processes);
    /// threads busy on a CPU sampled for a quarter of a second with perf events, which never stop them.
    Auto,
    /// Also running threads, stopped for milliseconds each with PTRACE_SEIZE + PTRACE_INTERRUPT (never SIGSTOP;
    /// a thread that already has a tracer is left alone).
    Ptrace,
    /// As auto, and asks each JVM a finding is about for its own thread dump over its attach socket, as jstack
    /// does: the one mode that asks a JVM for a safepoint (brief: about 6-35 ms for 500 threads); SIGQUIT only to
    /// a HotSpot JVM that enables attach, catches SIGQUIT and has the trigger file in place; no ptrace, no JDK on
    /// the host.
    Attach,
}

/// How `serve` and `watch` scan, interval after interval (`--mode`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScanMode {
    /// One snapshot per interval, compared with the previous one (what lasted the whole interval); a second look
    /// --interval later only at what is new or moved since; only what can have changed is read again.
    #[default]
    Continuous,
    /// Each scan takes two whole snapshots --interval apart, as `unwedge scan` does (the mode before 0.2).
    Pairs,
}

impl StacksWhen {
    pub fn mode(self) -> unwedge_pipeline::StackMode {
        match self {
            StacksWhen::Off => unwedge_pipeline::StackMode::Off,
            StacksWhen::Auto => unwedge_pipeline::StackMode::Auto,
            StacksWhen::Ptrace => unwedge_pipeline::StackMode::Ptrace,
            StacksWhen::Attach => unwedge_pipeline::StackMode::Attach,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Snapshot the host twice, an interval apart, and report what is wedged.
    #[command(
        long_about = "Takes two snapshots of every TCP socket (every network namespace) and every process and thread, \
--interval apart, and reports findings: CLOSE-WAIT leaks, full or stalled accept queues, keep-alive starvation, \
fd exhaustion, blocked signals, SIGTERM refused, stuck threads, orphans holding ports, unreaped zombies, requests read \
and never answered, peers that stopped reading. Findings are grouped by process, most severe first.",
        after_help = "Examples:\n  unwedge scan                 whole host, 1 s interval\n  unwedge scan --port 5000     findings about local port 5000 only\n  unwedge scan --pid 1234 --json\n  unwedge scan --pid 1234 --stacks attach   a JVM's own thread dump too (a brief safepoint)\n  unwedge scan --interval 0    one snapshot (skips the findings that need two)\n  unwedge scan --save-snapshot incident.json   keep the raw data for a bug report\n  unwedge scan --html report.html --save-snapshot incident.json   a page for the ticket, data inside"
    )]
    Scan(ScanArgs),
    /// Run a command with an empty signal mask and default signal dispositions.
    #[command(
        long_about = "Runs CMD (looked up in PATH, no shell) after emptying the signal mask and setting every signal's \
disposition to the default. fork() copies the calling thread's signal mask and execve() keeps it, as it keeps \
ignored signals: a program started from a worker thread that blocks signals (uWSGI, many thread pools) never \
sees SIGALRM or SIGTERM, and hangs in poll() or ignores `kill`. Prefixing the command with `unwedge exec --` \
starts it as a fresh shell would.\n\n\
Exit status: CMD's own; 127 when CMD is not found, 126 when it cannot be executed (as shells do); 2 bad usage \
(before CMD is started).",
        after_help = "Examples:\n  unwedge exec -- hping3 --syn -c 1 -p 80 10.0.0.5\n  subprocess.run([\"unwedge\", \"exec\", \"--\", \"hping3\", ...])     (Python, from any thread)\n  unwedge exec --close-fds -- ./worker     also close inherited fds above 2\n\n\
Check a running process: grep -E 'SigBlk|SigIgn' /proc/PID/status (bit N-1 set = signal N; 0x2000 = SIGALRM).",
        override_usage = "unwedge exec [--close-fds] -- CMD [ARGS]..."
    )]
    Exec(ExecArgs),
    /// SIGTERM a process or every holder of a port, SIGKILL after a grace period, check the port is free.
    #[command(
        long_about = "Stops PID, or with --port every process holding a listening TCP socket on PORT (in any network \
namespace) plus the orphaned workers of their process groups (parent gone, group leader gone: the leftovers that \
make a restart fail with EADDRINUSE). Sends SIGTERM, waits up to --grace for them to exit, sends SIGKILL to the \
rest, waits until they are gone, then checks with a fresh socket dump that no LISTEN socket is left on the port. \
Each step is printed with the milliseconds since the start.\n\n\
Signals go through a pidfd (or a start-time check), so a pid the kernel reused for another process is never hit. \
A zombie is already dead: only its parent can remove it, by reaping it. A process in uninterruptible sleep (D) \
dies only when its kernel call returns. Refuses pid 1, unwedge itself and its ancestors (your shell, sshd).\n\n\
Exit status: 0 all targets gone and the port free (or a dry run that would proceed); 1 something survived or the \
port is still held; 2 bad usage, nothing to stop, a refused or unknown pid, or permission denied.",
        after_help = "Examples:\n  unwedge stop --port 8080 --dry-run      who would be stopped, and why\n  unwedge stop --port 8080                SIGTERM, 10 s grace, SIGKILL, check 8080 is free\n  unwedge stop --port 8080 --grace 2s && ./start-server\n  unwedge stop 1234 --grace 500ms --json\n  unwedge stop 1234 --capture /var/lib/unwedge/captures/     keep the evidence, then stop"
    )]
    Stop(StopArgs),
    /// Probe a service from the outside: TCP connect latency, HTTP(S) checks.
    #[command(
        after_help = "Examples:\n  unwedge probe tcp 127.0.0.1:5000 -c 10 -i 0.2    connect latency, like hping3 --syn\n  unwedge probe http http://127.0.0.1:8080/         timings, keep-alive starvation, Content-Type\n  unwedge probe http https://localhost:8443/ -k     TLS timings and close_notify handling\n\nExit status: 0 all good; 1 a target failed or a warning/critical finding; 2 bad target or usage."
    )]
    Probe(ProbeArgs),
    /// Serve the latest scan as a JSON API and Prometheus /metrics.
    #[command(
        long_about = "Scans the host in the background every --scan-interval and serves the latest report: \
GET / (the latest scan as an HTML page, as scan --html, with the last hour of key counts as charts), /metrics (Prometheus), /v1/scan (the scan --json report; ?pid=, ?port= and ?path= filter it), /healthz and /v1/openapi.json. \
GET /v1/probe/tcp?target=HOST:PORT and /v1/probe/http?url=URL run `unwedge probe` against targets inside --allow-target. \
Listens on loopback only unless --token-file is given; with a token every request needs `Authorization: Bearer TOKEN`.",
        after_help = "Examples:\n  unwedge serve                                   127.0.0.1:9464, scan every 15 s\n  unwedge serve --close-wait-min 20 --interval 2s   the scan's thresholds and interval apply here too\n  unwedge serve --listen 0.0.0.0:9464 --token-file /etc/unwedge/token\n  unwedge serve --listen 127.0.0.1:0              pick a free port (printed on stderr)"
    )]
    Serve(ServeArgs),
    /// Re-scan every few seconds and show what appears, gets worse and resolves (live view, or JSON events).
    #[command(
        long_about = "Scans the host every --every (each scan is the usual two snapshots --interval apart) until Ctrl-C or \
--count scans, and shows a live view in the style of top: the current findings, causes first and their consequences \
beneath, each with how long it has been there; findings that resolved, for --keep-resolved; and for every process and \
listener a finding names, its accept queue depth, CLOSE-WAIT sockets, unanswered requests, stuck threads or open fds \
as a sparkline over the last scans.\n\n\
Without a terminal (piped), or with --json, prints one JSON object per line and event instead: \
{\"event\": \"appeared\"|\"changed\"|\"resolved\", \"at\", \"scan\", \"first_seen\", \"key\", \"finding\", \"was\"?}. \
A finding is the same across scans when its key (kind, pid, tid, port, netns) is; `changed` means its severity \
changed or its main count moved by 10% or more.\n\n\
Exit status: as scan's, for the last scan: 0 no warning or critical finding; 1 at least one; 2 bad usage or an error.",
        after_help = "Examples:\n  unwedge watch                        live view, scan every 2 s (q or Ctrl-C to quit)\n  unwedge watch --port 5000            only findings about local port 5000\n  unwedge watch --json | jq -c .finding.title    one line per event\n  unwedge watch --count 30 --every 10s --json > incident.jsonl"
    )]
    Watch(WatchArgs),
    /// Print the man pages or shell completions, generated from this command line.
    #[command(
        long_about = "Writes the manual pages (roff) or a shell's completion script, generated from the same \
definition as --help, so they never drift from the binary they come with; or the Prometheus alert rules for \
`unwedge serve`, one per finding kind of this build, and their promtool tests. Packagers run it once at build time; \
users without the .deb can install them by hand.",
        after_help = "Examples:\n  unwedge generate man | man -l -                  read the manual without installing it\n  unwedge generate man --dir /usr/local/share/man/man1     one page per subcommand\n  unwedge generate completions bash > /etc/bash_completion.d/unwedge\n  unwedge generate completions zsh > ~/.zfunc/_unwedge\n  unwedge generate rules > /etc/prometheus/rules/unwedge.yml     an alert per finding kind\n\nExit status: 0 written; 2 bad usage or a file that cannot be written."
    )]
    Generate(GenerateArgs),
    /// Explain a finding kind: what it means, the kernel facts, the false alarms it avoids, the fix.
    #[command(
        long_about = "Prints the page of a finding kind, as a report names it (the `kind` of --json, the word after \
the severity in the human report): what it means, the kernel facts it rests on, the false alarms it avoids (the \
healthy process that looks alike and why it stays silent), the fix, and the incident behind it. Without KIND, lists \
every kind with one line each. The pages are compiled in: no network, no files needed.",
        after_help = "Examples:\n  unwedge explain                         every kind, one line each\n  unwedge explain close_wait_leak         what a close_wait_leak finding means and how to fix it\n  unwedge explain keepalive_starvation | less\n\nExit status: 0 printed; 2 an unknown kind."
    )]
    Explain(ExplainArgs),
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The finding kind (close_wait_leak, stuck_thread, …); without it, the list.
    #[arg(value_name = "KIND")]
    pub kind: Option<String>,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Time from the start of one scan to the start of the next (a scan that takes longer is followed at once).
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub every: Duration,
    /// The delay of each scan's second look at what is new since the last scan (as `scan --interval`; with
    /// `--mode pairs`, between its two snapshots); 0: none.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Duration,
    /// continuous: each scan compares one snapshot with the last scan's; pairs: two snapshots per scan.
    #[arg(long, value_enum, default_value_t = ScanMode::Continuous, value_name = "MODE")]
    pub mode: ScanMode,
    /// Stop after N scans (default: until Ctrl-C, or q in the live view).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Print one JSON event per line even on a terminal.
    #[arg(long)]
    pub json: bool,
    /// How long a resolved finding (and the trend of what it named) stays in the live view.
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub keep_resolved: Duration,
    /// Only findings about this process (and its threads).
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    pub pid: Option<u32>,
    /// Only findings about this local port.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Only findings about this unix-socket listener: its path (`/run/php/fpm.sock`), or `@name` for an
    /// abstract one.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Analyse recorded snapshots (`scan --save-snapshot`) instead of the live host; repeat it for a sequence,
    /// one file per scan, round and round (a replay of an incident, a demo, a test).
    #[arg(long, value_name = "FILE")]
    pub from_snapshot: Vec<PathBuf>,
    /// User-space stacks of the threads findings report (as `scan --stacks`); symbol tables stay cached between
    /// scans.
    #[arg(long, value_enum, default_value_t = StacksWhen::Auto, value_name = "WHEN")]
    pub stacks: StacksWhen,
    /// Keep command lines verbatim: by default an argument that looks like a credential (--password=…, -p… of
    /// mysql, *_TOKEN=…, user:pass@ in a URL, Authorization: values, token= parameters) is shown as ‹redacted›.
    #[arg(long)]
    pub no_redact: bool,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: GenerateWhat,
}

#[derive(Subcommand, Debug)]
pub enum GenerateWhat {
    /// Manual pages: unwedge(1) on stdout, or every page (unwedge-scan(1), …) into --dir.
    Man {
        /// Write unwedge.1 and one page per subcommand into this directory (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// A shell's completion script, on stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Prometheus alert rules for `unwedge serve`, one per finding kind (deploy/prometheus/unwedge-rules.yml), on
    /// stdout.
    Rules {
        /// Print their promtool unit tests instead (unwedge-rules.test.yml: `promtool test rules` runs them).
        #[arg(long)]
        tests: bool,
        /// Put before each runbook_url, which is otherwise the kind's page in the source tree
        /// (docs/kinds/KIND.md): e.g. https://git.example.com/unwedge/blob/main/
        #[arg(long, value_name = "URL", default_value = "")]
        runbook_base: String,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed on stderr).
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR:PORT", value_parser = parse_listen)]
    pub listen: std::net::SocketAddr,
    /// Time from the start of one background scan to the start of the next (at least 1s).
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub scan_interval: Duration,
    /// File holding the bearer token every request must carry; required to listen beyond loopback.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Targets the probe endpoints may reach (repeatable); default loopback only.
    #[arg(long = "allow-target", value_name = "CIDR")]
    pub allow_target: Vec<String>,
    /// Serve /metrics and /healthz without the token (the rest still needs it).
    #[arg(long)]
    pub metrics_public: bool,
    /// Per-process and per-port series kept per metric; the rest is summed into one "other" series.
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub metrics_top: u64,
    /// The delay of each background scan's second look at what is new since the last scan (as `scan
    /// --interval`; with `--mode pairs`, between its two snapshots); a scan that takes longer than --scan-interval
    /// is followed at once by the next.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Duration,
    /// continuous: each scan compares one snapshot with the last scan's, and reads again only what can have
    /// changed; pairs: each scan takes two whole snapshots --interval apart.
    #[arg(long, value_enum, default_value_t = ScanMode::Continuous, value_name = "MODE")]
    pub mode: ScanMode,
    /// Serve the analysis of snapshots recorded with `scan --save-snapshot` instead of scanning this host
    /// (a replay of an incident, a demo, a test).
    #[arg(long, value_name = "FILE")]
    pub from_snapshot: Option<PathBuf>,
    /// Flight recorder: when a warning or critical finding appears or gets worse, keep that scan (its HTML page
    /// with the snapshots embedded, 0600) in DIR, so the evidence outlives a restart. Listed at /v1/recordings.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// The most the recordings in --record DIR may take (bytes; K, M, G: KiB, MiB, GiB); the oldest go first.
    #[arg(long, default_value = "256M", value_parser = parse_bytes, value_name = "BYTES", requires = "record")]
    pub record_max: u64,
    /// How long a finding (kind, pid, port) that was recorded is not recorded again unless it gets worse; at
    /// most 5 recordings per cooldown in all.
    #[arg(long, default_value = "10m", value_parser = parse_positive_duration, value_name = "DURATION", requires = "record", allow_hyphen_values = true)]
    pub record_cooldown: Duration,
    /// User-space stacks of the threads findings report (as `scan --stacks`); symbol tables stay cached
    /// between scans (64 binaries at most).
    #[arg(long, value_enum, default_value_t = StacksWhen::Auto, value_name = "WHEN")]
    pub stacks: StacksWhen,
    /// Keep command lines verbatim: by default an argument that looks like a credential (--password=…, -p… of
    /// mysql, *_TOKEN=…, user:pass@ in a URL, Authorization: values, token= parameters) is shown as ‹redacted›.
    #[arg(long)]
    pub no_redact: bool,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Also close inherited file descriptors above 2 (stdin, stdout and stderr stay open).
    #[arg(long)]
    pub close_fds: bool,
    /// The program and its arguments (PATH lookup, no shell).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// The process to stop.
    #[arg(value_name = "PID", required_unless_present = "port", conflicts_with = "port", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    pub pid: Option<u32>,
    /// Stop every holder of a LISTEN socket on this local TCP port, and their groups' orphaned workers.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// How long to wait after SIGTERM before SIGKILL (2, 500ms, 10s).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub grace: Duration,
    /// Give up on the whole command after this long (one line on stderr, exit 2); a scan finishes early with what
    /// it has. Default: 30s plus the time the command waits on purpose (interval, grace, count × interval, max-wait).
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub deadline: Option<Duration>,
    /// Say what would be done and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result (targets, steps with timings, port check) as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Before the first signal, scan the targets (two snapshots 1 s apart) and write the report as one HTML page
    /// with the snapshots embedded (0600): the evidence a restart would destroy. FILE, or a directory to write
    /// TIME-COMM-PID.html into.
    #[arg(long, value_name = "FILE|DIR")]
    pub capture: Option<PathBuf>,
    /// Keep command lines verbatim: by default an argument that looks like a credential (--password=…, -p… of
    /// mysql, *_TOKEN=…, user:pass@ in a URL, Authorization: values, token= parameters) is shown as ‹redacted›.
    #[arg(long)]
    pub no_redact: bool,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Time between the two snapshots (2, 0.5, 200ms, 2s); 0 takes one.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Duration,
    /// Give up on the whole command after this long (one line on stderr, exit 2); a scan finishes early with what
    /// it has. Default: 30s plus the time the command waits on purpose (interval, grace, count × interval, max-wait).
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub deadline: Option<Duration>,
    /// Print the report as one JSON document, whose keys are a stable contract (docs/contract.md in the source).
    #[arg(long)]
    pub json: bool,
    /// Only findings about this process (and its threads).
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    pub pid: Option<u32>,
    /// Only findings about this local port.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Only findings about this unix-socket listener: its path (`/run/php/fpm.sock`), or `@name` for an
    /// abstract one.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Write the raw snapshots to FILE (JSON), e.g. to attach to a bug report.
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,
    /// Analyse snapshots recorded with --save-snapshot instead of the live host (or an HTML report that embeds them).
    #[arg(long, value_name = "FILE", conflicts_with = "save_snapshot")]
    pub from_snapshot: Option<PathBuf>,
    /// User-space stacks of the threads findings report (at most 64 per scan), read right after the second
    /// snapshot: `auto` copies the stacks of threads blocked in a syscall without stopping them (and a Python
    /// process's own frames), and samples where busy threads burn their CPU (perf events, a quarter of a second);
    /// `ptrace` also stops running threads for milliseconds each; `attach` also asks each JVM a finding is about
    /// for its own thread dump, as jstack does (the one mode that asks a JVM for a safepoint, a brief one); `off`
    /// reads and samples none. A JVM's hsperfdata counters are read in every mode.
    #[arg(long, value_enum, default_value_t = StacksWhen::Auto, value_name = "WHEN")]
    pub stacks: StacksWhen,
    /// Also write the report as one self-contained HTML page (for a ticket or a post-mortem); with --save-snapshot
    /// (or --from-snapshot) the raw snapshots are embedded too, so `scan --from-snapshot FILE` re-reads it.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Keep command lines verbatim: by default an argument that looks like a credential (--password=…, -p… of
    /// mysql, *_TOKEN=…, user:pass@ in a URL, Authorization: values, token= parameters) is shown as ‹redacted›.
    #[arg(long)]
    pub no_redact: bool,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// The detectors' thresholds, shared by `scan` and `serve`. Every default is
/// read from `Thresholds::default()`, so the flag and the library cannot
/// disagree; each flag is named as its field.
#[derive(Args, Debug, Clone)]
pub struct ThresholdArgs {
    /// CLOSE-WAIT sockets a process must hold for close_wait_leak.
    #[arg(long, default_value_t = dflt().close_wait_min as u64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub close_wait_min: u64,
    /// CLOSE-WAIT sockets that make close_wait_leak critical.
    #[arg(long, default_value_t = dflt().close_wait_critical as u64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub close_wait_critical: u64,
    /// How long a keep-alive connection must be idle to count as holding a slot.
    #[arg(long, default_value_t = Millis(dflt().idle_ms), value_parser = parse_millis, value_name = "DURATION", allow_hyphen_values = true)]
    pub idle: Millis,
    /// Percent of the soft RLIMIT_NOFILE in use for an fd_exhaustion warning.
    #[arg(long, default_value_t = dflt().fd_warning, value_name = "PCT", value_parser = parse_percent)]
    pub fd_warning: f64,
    /// Percent of the soft RLIMIT_NOFILE in use for a critical fd_exhaustion.
    #[arg(long, default_value_t = dflt().fd_critical, value_name = "PCT", value_parser = parse_percent)]
    pub fd_critical: f64,
    /// Unreaped (zombie) children one parent must leave for a zombie warning.
    #[arg(long, default_value_t = dflt().zombie_min as u64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub zombie_min: u64,
    /// Unreaped children that make the zombie finding critical.
    #[arg(long, default_value_t = dflt().zombie_critical as u64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub zombie_critical: u64,
    /// How long a request the server has read may go unanswered before it counts for unanswered_requests.
    #[arg(long, default_value_t = Millis(dflt().answer_timeout_ms), value_parser = parse_positive_millis, value_name = "DURATION", allow_hyphen_values = true)]
    pub answer_timeout: Millis,
    /// Percent of the usable ephemeral ports that connections to one destination must hold for ephemeral_ports_exhausted.
    #[arg(long, default_value_t = dflt().ports_warning, value_name = "PCT", value_parser = parse_percent)]
    pub ports_warning: f64,
    /// Percent of nf_conntrack_max in use for conntrack_full.
    #[arg(long, default_value_t = dflt().conntrack_warning, value_name = "PCT", value_parser = parse_percent)]
    pub conntrack_warning: f64,
    /// Percent of a cgroup's CPU quota periods throttled during the interval for cpu_throttled.
    #[arg(long, default_value_t = dflt().throttle_pct, value_name = "PCT", value_parser = parse_percent)]
    pub throttle_pct: f64,
    /// Percent of the interval all tasks stalled on memory (PSI full) that memory_pressure calls a stall.
    #[arg(long, default_value_t = dflt().psi_full, value_name = "PCT", value_parser = parse_percent)]
    pub psi_full: f64,
}

/// A size in bytes: 1048576, 64K, 256M, 1G (powers of 1024; KiB, MiB, GiB also read).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a size (1048576, 64K, 256M, 1G)"))?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (K, M or G)")),
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("'{s}': the size must be above 0")),
        Some(b) => Ok(b),
        None => Err(format!("'{s}' is too large")),
    }
}

fn dflt() -> unwedge_pipeline::Thresholds {
    unwedge_pipeline::Thresholds::default()
}

/// A duration flag held in whole milliseconds, as the thresholds hold it.
/// Displayed so that it parses back: clap prints it as the default in --help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub u32);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}s", self.0 / 1000)
        } else {
            write!(f, "{}ms", self.0)
        }
    }
}

fn to_millis(d: Duration) -> Millis {
    Millis(d.as_millis().min(u32::MAX as u128) as u32)
}

fn parse_millis(s: &str) -> Result<Millis, String> {
    parse_duration(s).map(to_millis)
}

fn parse_positive_millis(s: &str) -> Result<Millis, String> {
    parse_positive_duration(s).map(to_millis)
}

impl ThresholdArgs {
    /// The thresholds, or why they contradict each other.
    pub fn thresholds(&self) -> Result<unwedge_pipeline::Thresholds, String> {
        if self.close_wait_critical < self.close_wait_min {
            return Err(format!(
                "--close-wait-critical ({}) must not be below --close-wait-min ({})",
                self.close_wait_critical, self.close_wait_min
            ));
        }
        if self.fd_critical < self.fd_warning {
            return Err(format!(
                "--fd-critical ({}) must not be below --fd-warning ({})",
                self.fd_critical, self.fd_warning
            ));
        }
        Ok(unwedge_pipeline::Thresholds {
            close_wait_min: self.close_wait_min as usize,
            close_wait_critical: self.close_wait_critical as usize,
            idle_ms: self.idle.0,
            fd_warning: self.fd_warning,
            fd_critical: self.fd_critical,
            zombie_min: self.zombie_min as usize,
            zombie_critical: self.zombie_critical.max(self.zombie_min) as usize,
            answer_timeout_ms: self.answer_timeout.0,
            ports_warning: self.ports_warning,
            conntrack_warning: self.conntrack_warning,
            throttle_pct: self.throttle_pct,
            psi_full: self.psi_full,
        })
    }
}

/// Beyond the time a command waits on purpose, how long it may take by default.
const DEADLINE_SLACK: Duration = Duration::from_secs(30);

/// The effective `--deadline` of a command (None: no deadline, `exec`).
/// A deadline given explicitly must leave room for the waits asked for.
pub fn deadline(cmd: &Command) -> Result<Option<Duration>, String> {
    match cmd {
        Command::Exec(_) => Ok(None),
        Command::Scan(a) => scan_deadline(a).map(Some),
        Command::Stop(a) => {
            let capture = if a.capture.is_some() { crate::cmd::stop::CAPTURE_TIMEOUT } else { Duration::ZERO };
            bound(a.deadline, a.grace.saturating_add(capture), "--grace").map(Some)
        }
        Command::Probe(p) => match &p.kind {
            ProbeKind::Tcp(a) => {
                bound(a.deadline, a.interval.saturating_mul(a.count.saturating_sub(1)), "-c × -i").map(Some)
            }
            ProbeKind::Http(a) => {
                bound(a.deadline, if a.measure_idle { a.max_wait } else { Duration::ZERO }, "--max-wait").map(Some)
            }
        },
        // A daemon runs until stopped; its requests have their own limits.
        Command::Serve(_) => Ok(None),
        // Runs until stopped; each scan has its own collection deadline.
        Command::Watch(_) => Ok(None),
        // Write text they already have.
        Command::Generate(_) | Command::Explain(_) => Ok(None),
    }
}

pub fn scan_deadline(a: &ScanArgs) -> Result<Duration, String> {
    bound(a.deadline, if a.from_snapshot.is_some() { Duration::ZERO } else { a.interval }, "--interval")
}

fn bound(given: Option<Duration>, waits: Duration, what: &str) -> Result<Duration, String> {
    match given {
        None => Ok(waits.saturating_add(DEADLINE_SLACK)),
        Some(d) if !waits.is_zero() && d <= waits => Err(format!(
            "--deadline {} leaves no time beyond {what} ({}): raise --deadline or lower {what}",
            unwedge_model::fmt::duration(d),
            unwedge_model::fmt::duration(waits)
        )),
        Some(d) => Ok(d),
    }
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = unwedge_model::duration::parse(s)?;
    if d < Duration::from_millis(1) {
        return Err(format!("duration '{s}' must be at least 1ms"));
    }
    Ok(d)
}

/// A listen address, with the mistakes people make named (a missing port,
/// an IPv6 address without brackets, a port above 65535).
fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let example = "use ADDR:PORT, e.g. 127.0.0.1:9464 or [::1]:9464";
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("'{s}' has no port: {example}"));
    }
    if let Some((_, port)) = s.rsplit_once(':') {
        if port.parse::<u64>().is_ok_and(|p| p > 65535) {
            return Err(format!("port {port} is out of range: use 1 to 65535 (0 picks a free port)"));
        }
    }
    Err(format!("'{s}' is not an IP address and port: {example} (names are not resolved here)"))
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    unwedge_model::duration::parse(s)
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) && v > 0.0 => Ok(v),
        _ => Err(format!("invalid percentage '{s}': use a number from 1 to 100")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flag_defaults_are_the_library_defaults() {
        let cli = Cli::try_parse_from(["unwedge", "scan"]).unwrap();
        let Command::Scan(a) = cli.command else { panic!("not a scan") };
        assert_eq!(a.thresholds.thresholds().unwrap(), unwedge_pipeline::Thresholds::default());
        let cli = Cli::try_parse_from(["unwedge", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else { panic!("not serve") };
        assert_eq!(a.thresholds.thresholds().unwrap(), unwedge_pipeline::Thresholds::default());
    }

    #[test]
    fn millis_display_parses_back() {
        for ms in [1, 999, 1000, 1500, 10_000, 60_000] {
            assert_eq!(parse_millis(&Millis(ms).to_string()), Ok(Millis(ms)));
        }
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
