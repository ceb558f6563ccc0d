//! `unwedge stop`: print each step as it happens, or the whole run as JSON.

use crate::cli::StopArgs;
use crate::error::Fatal;
use crate::remedy::stop::{self, Options, Outcome, Report, Target};
use std::io::Write;
use unwedge_model::fmt;

pub fn run(args: &StopArgs) -> Result<u8, Fatal> {
    let target = match (args.pid, args.port) {
        (Some(pid), _) => Target::Pid(pid),
        (None, Some(port)) => Target::Port(port),
        (None, None) => return Err(Fatal::NoStopTarget),
    };
    let opts = Options { target, grace: args.grace, dry_run: args.dry_run };
    let stdout = std::io::stdout();
    let json = args.json;
    // Write errors (a closed pipe) must not abort a stop half-way: ignored here.
    let mut on_step = |s: &stop::Step| {
        if !json {
            let _ = writeln!(stdout.lock(), "{:>6} ms  {}", s.ms, s.text);
        }
    };
    let report = stop::run(&opts, &mut on_step)?;
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", summary(&report))?;
    }
    Ok(if report.success { 0 } else { 1 })
}

fn summary(r: &Report) -> String {
    let n = r.targets.len();
    let count = |o: Outcome| r.targets.iter().filter(|t| t.outcome == o).count();
    let took = fmt::measured_ms(r.duration_ms);
    let ports = r.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    if r.dry_run {
        return format!("dry run done in {took}: {} of {n} would be signalled", count(Outcome::WouldStop));
    }
    let mut parts = Vec::new();
    for (o, what) in [
        (Outcome::ExitedAfterSigterm, "exited after SIGTERM"),
        (Outcome::Killed, "killed by SIGKILL"),
        (Outcome::Exited, "exited on their own"),
        (Outcome::Zombie, "already zombies"),
        (Outcome::StillRunning, "STILL RUNNING"),
    ] {
        if count(o) > 0 {
            parts.push(format!("{} {what}", count(o)));
        }
    }
    let port = match r.port_free {
        Some(true) => format!("; port {ports} is free"),
        Some(false) => format!("; port {ports} is NOT free"),
        None => String::new(),
    };
    format!("done in {took}: {n} target{}: {}{port}", if n == 1 { "" } else { "s" }, parts.join(", "))
}
