//! Helpers shared by the probe tests: run `unwedge probe …` with a hard
//! time limit and find external tools (a missing one goes through
//! `common::require`).
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs `cmd` with `common::run_with_deadline`: a probe still running
/// after `limit` is killed and fails the test instead of hanging it.
pub fn run_limited(mut cmd: Command, limit: Duration) -> Run {
    let out = crate::common::run_with_deadline(&mut cmd, limit).finished();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `unwedge probe ARGS…` with a time limit.
pub fn probe(args: &[&str], limit: Duration) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unwedge"));
    cmd.arg("probe").args(args);
    run_limited(cmd, limit)
}

/// The path of `name` on PATH or in /usr/sbin and /sbin (nginx, iptables).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file());
    found
}

/// Findings of `kind` in a probe report.
pub fn kinds(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["kind"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

pub fn port_of(ready: &Value) -> u16 {
    ready["port"].as_u64().expect("READY port") as u16
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let mut c = Command::new(which("openssl").expect("openssl"));
    c.current_dir(dir).args(args);
    let run = run_limited(c, Duration::from_secs(20));
    assert_eq!(run.code, 0, "openssl {args:?} failed: {}", run.stderr);
}

/// Test PKI in `dir`: a CA and a localhost/127.0.0.1 leaf it signed.
/// Returns (ca.pem, cert.pem, key.pem); None when openssl is missing.
pub fn test_pki(dir: &std::path::Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    which("openssl")?;
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca: Vec<&str> =
        ["req", "-x509"].into_iter().chain(ec).chain(["-days", "2", "-subj", "/CN=unwedge test CA"]).collect();
    openssl(dir, &[ca, vec!["-keyout", "ca.key", "-out", "ca.pem"]].concat());
    let csr: Vec<&str> = ["req"]
        .into_iter()
        .chain(ec)
        .chain(["-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr"])
        .collect();
    openssl(dir, &csr);
    std::fs::write(dir.join("leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    openssl(
        dir,
        &["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2"]
            .into_iter()
            .chain(["-extfile", "leaf.ext", "-out", "cert.pem"])
            .collect::<Vec<_>>(),
    );
    Some((dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem")))
}
