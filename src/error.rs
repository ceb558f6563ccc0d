//! Why a run ended early: one typed variant per failure, each saying what
//! failed. `Display` is the one line the binary prints after "unwedge: "
//! (exit status 2); every command and `serve` return this.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug)]
pub enum Fatal {
    /// A threshold flag out of line with another (--fd-critical below --fd-warning…).
    Thresholds(String),
    /// --deadline too short for the waits the command was asked for.
    Deadline(String),
    /// `stop` without a PID or --port.
    NoStopTarget,
    /// `serve --scan-interval` below one second.
    ScanInterval(Duration),
    /// An --allow-target that is no address or CIDR.
    AllowTarget(String),
    /// The --token-file could not be read, or holds no usable token.
    Token(String),
    /// `serve` on a non-loopback address without a token.
    OpenWithoutToken(SocketAddr),
    /// `probe http --cacert` names no file.
    NoCaCert(PathBuf),
    /// `scan --pid` names a process the scan did not see.
    NoProcess(u32),
    /// `explain` was given a name that is no finding kind.
    UnknownKind(String),
    /// `explain`: this build carries no page for the kind.
    NoKindPage(unwedge_model::Kind),
    /// Collecting, loading or saving the snapshots failed.
    Pipeline(unwedge_pipeline::PipelineError),
    /// The HTML report could not be made.
    Html(String),
    /// A file could not be written, or its directory made.
    Write {
        path: PathBuf,
        err: std::io::Error,
    },
    CreateDir {
        path: PathBuf,
        err: std::io::Error,
    },
    /// `serve` cannot bind its address.
    Listen {
        addr: SocketAddr,
        err: std::io::Error,
    },
    /// `serve --record DIR` cannot make or read its directory.
    Record(crate::serve::record::RecordError),
    /// `serve` stopped on an error of its runtime or listener.
    Serve(std::io::Error),
    /// The report could not be serialised as JSON.
    Json(serde_json::Error),
    /// An I/O error (writing the report: a closed pipe is no error).
    Io(std::io::Error),
    Stop(crate::remedy::stop::StopError),
    Probe(unwedge_probe::ProbeError),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Thresholds(m) | Fatal::Deadline(m) | Fatal::AllowTarget(m) | Fatal::Token(m) | Fatal::Html(m) => {
                f.write_str(m)
            }
            Fatal::NoStopTarget => f.write_str("give a PID or --port PORT"),
            Fatal::ScanInterval(d) => write!(
                f,
                "--scan-interval must be at least 1s (each scan takes two snapshots 1 s apart), got {}",
                unwedge_model::fmt::duration(*d)
            ),
            Fatal::OpenWithoutToken(addr) => write!(
                f,
                "refusing to listen on {addr} without --token-file: anyone who reaches it could read this host's processes and sockets (use a loopback address, or give a token)"
            ),
            Fatal::NoCaCert(p) => write!(f, "--cacert {}: no such file", p.display()),
            Fatal::NoProcess(pid) => write!(f, "no process with pid {pid}"),
            Fatal::UnknownKind(name) => write!(f, "unknown kind '{name}'; `unwedge explain` lists them"),
            Fatal::NoKindPage(kind) => write!(f, "this build has no page for {kind}"),
            Fatal::Pipeline(e) => e.fmt(f),
            Fatal::Write { path, err } => write!(f, "cannot write {}: {err}", path.display()),
            Fatal::CreateDir { path, err } => write!(f, "cannot create {}: {err}", path.display()),
            Fatal::Listen { addr, err } => write!(f, "cannot listen on {addr}: {err}"),
            Fatal::Serve(e) => write!(f, "serve: {e}"),
            Fatal::Record(e) => write!(f, "cannot record: {e}"),
            Fatal::Json(e) => e.fmt(f),
            Fatal::Io(e) => e.fmt(f),
            Fatal::Stop(e) => e.fmt(f),
            Fatal::Probe(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Fatal {}

impl From<std::io::Error> for Fatal {
    fn from(e: std::io::Error) -> Self {
        Fatal::Io(e)
    }
}

impl From<serde_json::Error> for Fatal {
    fn from(e: serde_json::Error) -> Self {
        if e.is_io() {
            Fatal::Io(e.into())
        } else {
            Fatal::Json(e)
        }
    }
}

impl From<unwedge_pipeline::PipelineError> for Fatal {
    fn from(e: unwedge_pipeline::PipelineError) -> Self {
        Fatal::Pipeline(e)
    }
}

impl From<unwedge_probe::ProbeError> for Fatal {
    fn from(e: unwedge_probe::ProbeError) -> Self {
        Fatal::Probe(e)
    }
}

impl From<crate::remedy::stop::StopError> for Fatal {
    fn from(e: crate::remedy::stop::StopError) -> Self {
        Fatal::Stop(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_says_what_failed() {
        let io = || std::io::Error::from_raw_os_error(libc::EACCES);
        let addr: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(Fatal::NoProcess(7).to_string(), "no process with pid 7");
        assert_eq!(
            Fatal::Write { path: "/x/r.html".into(), err: io() }.to_string(),
            "cannot write /x/r.html: Permission denied (os error 13)"
        );
        assert_eq!(
            Fatal::Listen { addr, err: io() }.to_string(),
            "cannot listen on 0.0.0.0:9000: Permission denied (os error 13)"
        );
        assert!(Fatal::OpenWithoutToken(addr)
            .to_string()
            .starts_with("refusing to listen on 0.0.0.0:9000 without --token-file"));
        assert_eq!(
            Fatal::ScanInterval(Duration::from_millis(500)).to_string(),
            "--scan-interval must be at least 1s (each scan takes two snapshots 1 s apart), got 500 ms"
        );
    }
}
