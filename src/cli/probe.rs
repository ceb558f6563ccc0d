//! The arguments of `unwedge probe`: one TCP or HTTP request, timed and
//! judged, with its output options.

use super::*;

#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[command(subcommand)]
    pub kind: ProbeKind,
}

#[derive(Subcommand, Debug)]
pub enum ProbeKind {
    /// TCP connect latency, like hping3 --syn or tcping, without raw sockets or root.
    #[command(
        long_about = "Connects COUNT times with a plain non-blocking connect() and reports each connect time (one \
SYN/SYN-ACK round trip), as ping does, then min/median/p95/max/stddev. Refusals (RST) are told apart from \
timeouts. A connect that needs >= 0.9 s had its SYN retransmitted (syn_retransmit: full accept queue, \
CLOSE-WAIT 4-tuple collision, loss); one with no answer within --timeout raises connect_timeout.",
        after_help = "Examples:\n  unwedge probe tcp 127.0.0.1:5000              5 connects, 1 s apart\n  unwedge probe tcp db.internal:5432 -c 20 -i 0.2\n  unwedge probe tcp [::1]:8080 --timeout 500ms --json\n  unwedge probe tcp app.internal:80 --source-port 40000   reuse one 4-tuple on purpose\n\nExit status: 0 all connects succeeded and no warning; 1 a connect failed or a warning/critical finding; 2 bad target or usage."
    )]
    Tcp(TcpArgs),
    /// HTTP(S) checks: timings, keep-alive starvation, Content-Type, TLS close.
    #[command(
        long_about = "Sends one GET over HTTP/1.1 and reports dns/connect/tls/ttfb/total timings, the status and headers, \
and for HTTPS the protocol, cipher and certificate. Then, while that connection idles in keep-alive, sends the \
same request on a second connection: a server that answers it only once the first closes has its concurrency \
slots held by idle keep-alive connections (keepalive_starvation). Also flags a body without Content-Type and, \
for HTTPS, a server that takes over 1 s to close after the client's close_notify (slow_tls_shutdown).",
        after_help = "Examples:\n  unwedge probe http http://127.0.0.1:8080/\n  unwedge probe http https://localhost:8443/ --insecure      self-signed test server\n  unwedge probe http https://api.example/ --cacert ca.pem --json\n  unwedge probe http http://127.0.0.1:8080/ --measure-idle --max-wait 2m\n\nExit status: 0 answered and no warning; 1 a request failed or a warning/critical finding; 2 bad URL or usage."
    )]
    Http(HttpArgs),
}

#[derive(Args, Debug)]
pub struct TcpArgs {
    /// HOST:PORT, IPV4:PORT or [IPV6]:PORT.
    #[arg(value_name = "HOST:PORT", allow_hyphen_values = true)]
    pub target: String,
    /// Number of connects.
    #[arg(short = 'c', long, default_value_t = 5, value_name = "COUNT", allow_hyphen_values = true, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Time between the starts of two connects (2, 0.2, 200ms).
    #[arg(short = 'i', long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Duration,
    /// Give up on a connect (and name resolution) after this long.
    #[arg(long, default_value = "3s", value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: Duration,
    /// Give up on the whole command after this long (one line on stderr, exit 2); a scan finishes early with what
    /// it has. Default: 30s plus the time the command waits on purpose (interval, grace, count × interval, max-wait).
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub deadline: Option<Duration>,
    /// Connect from this local port, e.g. to hit a stale CLOSE-WAIT 4-tuple on purpose.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub source_port: Option<u16>,
    #[command(flatten)]
    pub out: ProbeOutput,
}

/// Address family and output format, shared by `probe tcp` and `probe http`.
#[derive(Args, Debug)]
pub struct ProbeOutput {
    /// Use IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Print the result as one JSON document, whose keys are a stable contract (docs/contract.md in the source).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HttpArgs {
    /// http:// or https:// URL.
    #[arg(value_name = "URL", allow_hyphen_values = true)]
    pub url: String,
    /// Give up on each step (resolve, connect, TLS handshake, first byte, each body read) after this long.
    #[arg(long, default_value = "3s", value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: Duration,
    /// How long a second connection may wait for its answer while the first idles.
    #[arg(long, default_value = "2s", value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub starvation_wait: Duration,
    /// Give up on the whole command after this long (one line on stderr, exit 2); a scan finishes early with what
    /// it has. Default: 30s plus the time the command waits on purpose (interval, grace, count × interval, max-wait).
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub deadline: Option<Duration>,
    /// Skip the keep-alive starvation check (one connection only).
    #[arg(long)]
    pub no_starvation_check: bool,
    /// Also measure how long the server keeps an idle keep-alive connection open.
    #[arg(long)]
    pub measure_idle: bool,
    /// Upper bound for --measure-idle.
    #[arg(long, default_value = "60s", value_parser = parse_positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub max_wait: Duration,
    /// Accept any server certificate (self-signed test servers); handshake signatures are still checked.
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Trust the CA certificates in FILE (PEM) instead of the system's.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub cacert: Option<PathBuf>,
    #[command(flatten)]
    pub out: ProbeOutput,
}
