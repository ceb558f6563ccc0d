//! One moment of the host as the kernel reported it: sockets, processes,
//! threads and host counters. Plain data with no handles, so that everything
//! after collection can run from a JSON file on any machine.

use crate::UnixSocket;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The pair (or single) of snapshots a scan analyses, as `--save-snapshot`
/// writes it and `--from-snapshot` reads it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Scan {
    /// Oldest first. One entry for `--interval 0`, otherwise two.
    pub snapshots: Vec<Snapshot>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// Wall clock, milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    /// Seconds since boot (CLOCK_BOOTTIME, /proc/uptime), to age processes.
    pub uptime_s: f64,
    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of utime and starttime.
    pub clk_tck: u64,
    pub hostname: String,
    /// CPU architecture of the host (`std::env::consts::ARCH`: "x86_64",
    /// "aarch64"), which decides how syscall numbers decode. Empty if unknown.
    #[serde(default)]
    pub arch: String,
    /// Inode of the network namespace unwedge itself runs in (the host's).
    pub host_netns: u64,
    pub netns: Vec<NetNs>,
    pub sockets: Vec<Socket>,
    pub processes: Vec<Process>,
    /// What could not be read, and why.
    pub skipped: Vec<crate::Skipped>,
    /// Notes about how the snapshot was taken (fallbacks, missing privileges).
    pub notes: Vec<String>,
    /// The cgroups processes are in, and their limits (`Process::cgroup`).
    #[serde(default, skip_serializing_if = "crate::Cgroups::is_empty")]
    pub cgroups: crate::Cgroups,
    /// kernel.pid_max, kernel.threads-max and the tasks that exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<crate::HostTasks>,
    /// /proc/pressure/memory: the host's memory stall time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_pressure: Option<crate::Psi>,
    /// /proc/pressure/cpu: the share of time runnable tasks waited for a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_pressure: Option<crate::Psi>,
    /// CPUs online (/sys/devices/system/cpu/online), to say what share of
    /// the host the busiest processes took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_cpus: Option<u32>,
    /// The host's /etc/resolv.conf, to name the resolver a thread stuck in a
    /// DNS lookup waits on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolv_conf: Option<ResolvConf>,
    /// The mounts that threads' blocked file I/O sits on (the `mnt_id` of
    /// their fd arguments), from /proc/PID/mountinfo read once per mount
    /// namespace; only those, so a host of a thousand mounts costs nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<crate::Mount>,
    /// Unix-domain sockets of every namespace dumped, those a finding can
    /// use (see [`UnixSocket`]); a process's fds name the ones it holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unix_sockets: Vec<UnixSocket>,
}

/// What glibc's stub resolver reads from /etc/resolv.conf.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ResolvConf {
    /// Up to three, in the order they are asked.
    pub nameservers: Vec<String>,
    /// Seconds to wait for one server's answer (`options timeout:`, default 5).
    pub timeout_s: u32,
    /// Rounds over all servers (`options attempts:`, default 2).
    pub attempts: u32,
    #[serde(default)]
    pub rotate: bool,
}

/// A connected UDP socket to port 53: a resolver's query in flight.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UdpSocket {
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub inode: u64,
    /// Bytes of answers not yet read.
    pub recv_q: u32,
}

/// A network namespace and its per-namespace counters and sysctls.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct NetNs {
    pub inode: u64,
    /// TcpExt ListenOverflows: SYNs dropped because an accept queue was full.
    pub listen_overflows: Option<u64>,
    /// TcpExt ListenDrops: every SYN dropped at a listener, overflows included.
    pub listen_drops: Option<u64>,
    /// TcpExt TCPSYNChallenge: SYNs that hit an existing connection's
    /// 4-tuple and were answered with a challenge ACK (a CLOSE-WAIT
    /// collision, among others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syn_challenges: Option<u64>,
    /// TcpExt TCPChallengeACK: challenge ACKs sent, for any reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_acks: Option<u64>,
    /// net.ipv4.ip_local_port_range.
    pub ephemeral_ports: Option<(u16, u16)>,
    /// net.ipv4.tcp_fin_timeout, seconds.
    pub fin_timeout_s: Option<u32>,
    /// How the sockets of this namespace were read: "sock_diag" or "proc_net_tcp".
    pub source: String,
    /// Connected UDP sockets to port 53 in this namespace (glibc's and Go's
    /// resolvers connect their query socket): few, so all are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_sockets: Vec<UdpSocket>,
    /// net.ipv4.ip_local_reserved_ports: ranges connect() never picks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserved_ports: Vec<(u16, u16)>,
    /// net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_tw_reuse: Option<u8>,
    /// net.core.somaxconn: the cap on every listen() backlog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub somaxconn: Option<u32>,
    /// net.ipv4.tcp_syn_retries: SYN retransmits before connect() gives up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syn_retries: Option<u8>,
    /// net.ipv4.tcp_max_syn_backlog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_syn_backlog: Option<u32>,
    /// net.ipv4.tcp_syncookies: 0 off, 1 when a SYN queue is full, 2 always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncookies: Option<u8>,
    /// TcpExt TCPReqQFullDrop: SYNs dropped because a SYN queue was full
    /// (syncookies off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reqq_full_drop: Option<u64>,
    /// TcpExt TCPReqQFullDoCookies: SYNs answered with a cookie because a
    /// SYN queue was full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reqq_full_do_cookies: Option<u64>,
    /// TcpExt SyncookiesSent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncookies_sent: Option<u64>,
    /// Connection tracking, where the kernel has it (nf_conntrack loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<Conntrack>,
    /// Unix sockets the dumps returned in this namespace (before keeping
    /// those in `Snapshot::unix_sockets`); `None`: not dumped (an older
    /// snapshot, or the kernel refused: a note says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_seen: Option<u32>,
    /// Its connected unix sockets were dumped too: in a full snapshot, or
    /// because a unix listener here had connections waiting. Otherwise
    /// only its listeners and unconnected unix sockets were (what the
    /// kernel charges for is each connection's peer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unix_connections: bool,
}

/// net.netfilter.nf_conntrack_count / _max and the sums over CPUs of
/// /proc/net/stat/nf_conntrack's drop counters.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Conntrack {
    /// Entries in this namespace's table.
    pub count: u64,
    /// The limit (global: a child namespace reads it but may not set it).
    pub max: u64,
    /// New flows dropped because the table was full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<u64>,
    /// Unassured entries evicted to make room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_drop: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insert_failed: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    #[serde(rename = "ESTABLISHED")]
    Established,
    #[serde(rename = "SYN-SENT")]
    SynSent,
    #[serde(rename = "SYN-RECV")]
    SynRecv,
    #[serde(rename = "FIN-WAIT-1")]
    FinWait1,
    #[serde(rename = "FIN-WAIT-2")]
    FinWait2,
    #[serde(rename = "TIME-WAIT")]
    TimeWait,
    #[serde(rename = "CLOSE")]
    Close,
    #[serde(rename = "CLOSE-WAIT")]
    CloseWait,
    #[serde(rename = "LAST-ACK")]
    LastAck,
    #[serde(rename = "LISTEN")]
    Listen,
    #[serde(rename = "CLOSING")]
    Closing,
    #[serde(rename = "NEW-SYN-RECV")]
    NewSynRecv,
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

impl TcpState {
    /// The kernel's numbering (include/net/tcp_states.h).
    pub fn from_kernel(n: u8) -> TcpState {
        match n {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            12 => TcpState::NewSynRecv,
            _ => TcpState::Unknown,
        }
    }

    /// The name `ss` prints.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTAB",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW-SYN-RECV",
            TcpState::Unknown => "UNKNOWN",
        }
    }
}

/// The idle times and health counters of `struct tcp_info` that detectors use.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Milliseconds since data was last received on this socket.
    pub last_data_recv_ms: u32,
    /// Milliseconds since data was last sent.
    pub last_data_sent_ms: u32,
    /// Milliseconds since an ACK was last received.
    pub last_ack_recv_ms: u32,
    pub rtt_us: u32,
    /// Retransmissions of the segment now at the head of the queue.
    pub retransmits: u8,
    pub total_retrans: u32,
    /// Unanswered zero-window (or keep-alive) probes (`tcpi_probes`).
    #[serde(default)]
    pub probes: u8,
    /// Exponential backoff of the retransmit / probe timer (`tcpi_backoff`).
    #[serde(default)]
    pub backoff: u8,
    /// Bytes this end sent that the peer acknowledged (`tcpi_bytes_acked`,
    /// Linux 4.1+). The byte counters, not the timestamps, tell "answered"
    /// from "never answered": on loopback a request and its handshake land
    /// in the same jiffy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_acked: Option<u64>,
    /// Bytes received from the peer (`tcpi_bytes_received`, 4.1+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<u64>,
    /// Bytes this end sent, retransmissions excluded (`tcpi_bytes_sent`, 4.19+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
    /// Segments with data received (`tcpi_data_segs_in`, 4.6+): one request
    /// arrives in a few; a one-way stream (syslog, metrics) in many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_segs_in: Option<u32>,
    /// Segments with data sent (`tcpi_data_segs_out`, 4.6+). With
    /// `data_segs_in`, orders a request and its answer that landed in the
    /// same jiffy: a client that sent more segments than it was answered
    /// with spoke last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_segs_out: Option<u32>,
    /// The peer's advertised receive window, scaled, in bytes
    /// (`tcpi_snd_wnd`, 5.4+): 0 while the peer does not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_wnd: Option<u32>,
    /// Milliseconds spent in retransmission timeouts since the first one
    /// fired (`tcpi_total_rto_time`, 6.7+): for a connect in SYN-SENT, the
    /// time since its first SYN less the initial RTO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_rto_time_ms: Option<u32>,
}

impl TcpInfo {
    /// This end has sent data the peer received (for a server: it answered
    /// at least once). `None` when the kernel reported no byte counters.
    pub fn has_sent(&self) -> Option<bool> {
        match (self.bytes_acked, self.bytes_sent) {
            (None, None) => None,
            (a, s) => Some(a.unwrap_or(0) > 0 || s.unwrap_or(0) > 0),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Socket {
    pub netns: u64,
    pub state: TcpState,
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
    /// For LISTEN: connections waiting in the accept queue. Otherwise bytes
    /// the application has not read (a received FIN counts as one).
    pub recv_q: u32,
    /// For LISTEN: the backlog (accept queue limit). Otherwise unacknowledged bytes.
    pub send_q: u32,
    /// 0 for a socket no file refers to: not yet accepted, or closed by its
    /// application and left to the kernel.
    pub inode: u64,
    pub uid: u32,
    /// Absent when the kernel gave none (the /proc/net/tcp fallback, listeners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<TcpInfo>,
    /// For LISTEN: the socket's own drop counter (sock_diag
    /// INET_DIAG_SKMEMINFO, SK_MEMINFO_DROPS), since it was created: SYNs
    /// and connections dropped at this listener (accept or SYN queue full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drops: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub uid: u32,
    pub comm: String,
    /// Arguments joined by spaces, truncated.
    pub cmdline: String,
    /// The one-letter state of /proc/PID/stat: R, S, D, Z, T, …
    pub state: char,
    /// Clock ticks after boot at which the process started.
    pub start_ticks: u64,
    pub netns: u64,
    /// Number of open file descriptors.
    pub fd_count: u32,
    /// Soft and hard RLIMIT_NOFILE; `None` means unlimited.
    pub nofile_soft: Option<u64>,
    pub nofile_hard: Option<u64>,
    pub sockets: Vec<SocketFd>,
    /// TracerPid of /proc/PID/status: the debugger or tracer (gdb, strace)
    /// attached to it, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracer_pid: Option<u32>,
    /// Its freezer cgroup, when that cgroup is frozen or freezing (read only
    /// for processes whose threads look stopped or frozen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<Frozen>,
    /// fds that are not sockets, regular files or pipes worth naming
    /// (anon inodes such as `[signalfd]`, `[eventfd]`).
    pub anon_fds: Vec<AnonFd>,
    /// Pipe fds, by inode: a thread stuck reading a pipe names whoever holds
    /// the other end (a child it waits for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipes: Vec<PipeFd>,
    /// Its fds on /dev/fuse: it serves a FUSE mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fuse_devs: Vec<crate::FuseDevFd>,
    pub threads: Vec<Thread>,
    /// The id of its `CgroupSet` in `Snapshot::cgroups` (its /proc/PID/cgroup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<u32>,
    /// Soft RLIMIT_NPROC ("Max processes"); `None`: unlimited or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nproc_soft: Option<u64>,
    /// The /etc/resolv.conf this process sees (through its mount namespace),
    /// read only while it has a DNS query in flight and kept only where it
    /// differs from the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolv_conf: Option<ResolvConf>,
    /// utime+stime of /proc/PID/stat: the CPU time of all its threads
    /// (those that ended too), in clock ticks; read in brief too, so the
    /// processes that took the CPUs during an interval can be named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ticks_total: Option<u64>,
    /// Cpus_allowed_list of /proc/PID/status ("0-3,8") when narrower than
    /// the CPUs online (taskset, a cpuset): it competes only there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_allowed: Option<String>,
    /// A HotSpot JVM's own facts: its hsperfdata counters (read in both
    /// snapshots, without asking it anything) and, with `--stacks attach`,
    /// its thread dump (after the last snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jvm: Option<crate::jvm::JvmProcess>,
    /// Read in brief: stat, status, fds and limits only, so `cmdline` is
    /// empty and its threads carry no CPU times, wchan, syscall, stack or
    /// fd_args (a single-threaded process's one thread has its CPU times).
    /// The scan does this for a process no finding can be about: it holds
    /// no TCP socket, nor a unix socket of (or queued on, or at the far
    /// end of a connection to) a unix listener with connections waiting;
    /// no thread of it blocks a signal, has one pending, is stopped or
    /// sleeps in D; it does not ignore SIGTERM; it has no zombie children
    /// and its parent is not stopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub brief: bool,
}

/// A frozen cgroup holding the process: cgroup v1 freezer.state FROZEN or
/// FREEZING, or cgroup v2 cgroup.events `frozen 1`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Frozen {
    /// 1 or 2.
    pub version: u8,
    /// The cgroup path as /proc/PID/cgroup gives it ("/batch/job1").
    pub cgroup: String,
    /// "FROZEN" or "FREEZING" (v1), "frozen" (v2).
    pub state: String,
    /// The file that thaws it (v1 freezer.state, v2 cgroup.freeze).
    pub control: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SocketFd {
    pub fd: u32,
    pub inode: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PipeFd {
    pub fd: u32,
    pub inode: u64,
    /// Which end: true for a write end, false for a read end (the mode of
    /// the /proc/PID/fd/N link mirrors the open mode); None when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnonFd {
    pub fd: u32,
    /// What follows `anon_inode:`, e.g. `[signalfd]`.
    pub kind: String,
    /// For a signalfd: the signals it reads (`sigmask:` of /proc/PID/fdinfo/FD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigmask: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Thread {
    pub tid: u32,
    pub comm: String,
    pub state: char,
    pub utime: u64,
    pub stime: u64,
    /// Voluntary plus involuntary context switches (/proc/PID/task/TID/status):
    /// unchanged across two snapshots means the thread never woke up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctxt_switches: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<SignalMasks>,
    /// /proc/PID/task/TID/wchan, when readable and not "0".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wchan: Option<String>,
    /// /proc/PID/task/TID/syscall as the kernel wrote it, when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// /proc/PID/task/TID/stack, one frame per entry ("futex_do_wait+0x46/0x90"),
    /// when readable (root only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Vec<String>>,
    /// What the first syscall arguments point at when they are open fds of the
    /// process (/proc/PID/fd/N), read for sleeping threads so detectors can say
    /// what a blocked read or recv waits on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fd_args: Vec<FdTarget>,
    /// The user-space stack, read (without stopping the thread) after the
    /// last snapshot, for the threads that findings report only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_stack: Option<crate::UserStack>,
    /// /proc/PID/task/TID/schedstat: time on a CPU and time runnable but
    /// waiting for one, to tell a busy thread from a starved one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedstat: Option<crate::SchedStat>,
    /// Where it burnt its CPU, sampled after the last snapshot, for the
    /// busy threads findings report only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_profile: Option<crate::CpuProfile>,
}

/// An fd and the target of its /proc/PID/fd link ("socket:[123]", "pipe:[9]", "/var/log/x").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FdTarget {
    pub fd: u32,
    pub target: String,
    /// For a file: the mount it is on (`mnt_id:` of /proc/PID/fdinfo/FD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mnt_id: Option<u32>,
}

/// /proc/PID/task/TID/syscall decoded: the syscall number and its six
/// arguments. `None` for a running thread ("running"), one not in a syscall
/// ("-1 sp pc") or malformed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallLine {
    pub nr: u64,
    pub args: [u64; 6],
}

impl SyscallLine {
    pub fn parse(text: &str) -> Option<SyscallLine> {
        let mut it = text.split_ascii_whitespace();
        let nr: u64 = it.next()?.parse().ok()?;
        let mut args = [0u64; 6];
        for a in args.iter_mut() {
            let f = it.next()?;
            *a = u64::from_str_radix(f.strip_prefix("0x")?, 16).ok()?;
        }
        Some(SyscallLine { nr, args })
    }
}

/// The signal sets of /proc/PID/task/TID/status; bit N-1 is signal N.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct SignalMasks {
    /// Pending for this thread only.
    pub pending: u64,
    /// Pending for the whole process.
    pub shared_pending: u64,
    pub blocked: u64,
    pub ignored: u64,
    pub caught: u64,
}

impl SignalMasks {
    /// SIGTERM's bit (signal 15).
    pub const SIGTERM: u64 = 1 << 14;
}

/// Whether a process's own threads show a state a finding can be about
/// (blocked_signal, sigterm_blocked, stuck_thread's pending signals, a
/// D-state hang, process_stopped): a superset of what those detectors
/// test — a signal blocked in every thread, one pending anywhere, SIGTERM
/// ignored, a thread in D, T or t; unknown masks count as "may". What the
/// collector reads in full, and what a continuous scan's second look
/// re-reads.
pub fn own_state_may_matter(threads: &[Thread]) -> bool {
    let mut blocked_everywhere = !0u64;
    for t in threads {
        if matches!(t.state, 'D' | 'T' | 't') {
            return true;
        }
        let Some(m) = t.signals else { return true };
        if m.pending != 0 || m.shared_pending != 0 || m.ignored & SignalMasks::SIGTERM != 0 {
            return true;
        }
        blocked_everywhere &= m.blocked;
    }
    !threads.is_empty() && blocked_everywhere != 0
}

impl Process {
    /// Seconds the process has been alive at `snap`.
    pub fn age_s(&self, snap: &Snapshot) -> f64 {
        if snap.clk_tck == 0 {
            return 0.0;
        }
        (snap.uptime_s - self.start_ticks as f64 / snap.clk_tck as f64).max(0.0)
    }

    pub fn cpu_ticks(&self) -> u64 {
        self.threads.iter().map(|t| t.utime + t.stime).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::SyscallLine;

    #[test]
    fn syscall_lines() {
        // From tests/fixtures/captures/orphan-proxy-futex.txt (kernel 6.18 x86_64): recvfrom(5, …).
        let c = SyscallLine::parse("45 0x5 0x7fcf80018150 0x10000 0x0 0x0 0x0 0x7fcf853fe8c0 0x7fcf85fcb974").unwrap();
        assert_eq!(c.nr, 45);
        assert_eq!(c.args, [5, 0x7fcf80018150, 0x10000, 0, 0, 0]);
        assert_eq!(SyscallLine::parse("running"), None);
        assert_eq!(SyscallLine::parse("-1 0x0 0x0"), None, "not in a syscall (a zombie)");
        assert_eq!(SyscallLine::parse("7 0x1 0x2"), None, "truncated");
        assert_eq!(SyscallLine::parse("7 1 2 3 4 5 6 7 8"), None, "arguments are hex with 0x");
        assert_eq!(SyscallLine::parse(""), None);
    }
}
