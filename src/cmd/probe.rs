//! `unwedge probe tcp|http`: parse the target, run the probe, render. Live
//! lines go to stdout as ping prints them; progress notes go to stderr only
//! when it is a terminal; `--json` prints the one document and nothing else.

use crate::cli::{HttpArgs, ProbeArgs, ProbeKind, TcpArgs};
use crate::error::Fatal;
use crate::render::probe as view;
use std::io::{IsTerminal, Write};
use unwedge_probe::{self as probe, http::HttpOpts, target, tcp::TcpOpts, Event, Family, ProbeError, ProbeReport};

pub fn run(args: &ProbeArgs) -> Result<u8, Fatal> {
    match &args.kind {
        ProbeKind::Tcp(a) => tcp(a),
        ProbeKind::Http(a) => http(a),
    }
}

fn family(v4: bool, v6: bool) -> Family {
    match (v4, v6) {
        (true, _) => Family::V4,
        (_, true) => Family::V6,
        _ => Family::Any,
    }
}

fn tcp(a: &TcpArgs) -> Result<u8, Fatal> {
    let opts = TcpOpts {
        target: target::parse_host_port(&a.target)?,
        count: a.count,
        interval: a.interval,
        timeout: a.timeout,
        source_port: a.source_port,
        family: family(a.out.ipv4, a.out.ipv6),
    };
    let what = format!(
        "{} TCP connect{}, timeout {}",
        a.count,
        if a.count == 1 { "" } else { "s" },
        unwedge_model::fmt::duration(a.timeout)
    );
    let report = run_live(a.out.json, &opts.target.to_string(), &what, |on| probe::tcp::probe_tcp(&opts, on))?;
    finish(a.out.json, &report)
}

fn http(a: &HttpArgs) -> Result<u8, Fatal> {
    let url = target::parse_url(&a.url)?;
    if let Some(p) = &a.cacert {
        if !p.is_file() {
            return Err(Fatal::NoCaCert(p.clone()));
        }
    }
    let opts = HttpOpts {
        url,
        timeout: a.timeout,
        starvation_wait: a.starvation_wait,
        starvation_check: !a.no_starvation_check,
        measure_idle: a.measure_idle,
        max_wait: a.max_wait,
        insecure: a.insecure,
        cacert: a.cacert.clone(),
        family: family(a.out.ipv4, a.out.ipv6),
    };
    let report = run_live(a.out.json, &opts.url.to_string(), "HTTP/1.1 GET", |on| probe::http::probe_http(&opts, on))?;
    finish(a.out.json, &report)
}

/// Runs a probe, printing live lines unless `json`.
fn run_live(
    json: bool,
    target: &str,
    what: &str,
    probe: impl FnOnce(&mut dyn FnMut(Event<'_>)) -> Result<ProbeReport, ProbeError>,
) -> Result<ProbeReport, Fatal> {
    let progress_tty = std::io::stderr().is_terminal();
    let mut out = anstream::AutoStream::auto(std::io::stdout());
    let mut write_err: Option<std::io::Error> = None;
    let mut on = |ev: Event<'_>| {
        let res = match ev {
            Event::Resolved { .. } | Event::Attempt(_) if json => Ok(()),
            Event::Resolved { addrs, dns } => {
                let names: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                view::header(&mut out, target, &names, probe::us(dns), what)
            }
            Event::Attempt(a) => view::attempt_line(&mut out, a).and_then(|_| out.flush()),
            Event::Progress(text) => {
                if progress_tty {
                    let mut err = anstream::AutoStream::auto(std::io::stderr());
                    let _ = writeln!(err, "… {text}");
                }
                Ok(())
            }
        };
        if let Err(e) = res {
            write_err.get_or_insert(e);
        }
    };
    let report = probe(&mut on)?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    Ok(report)
}

fn finish(json: bool, report: &ProbeReport) -> Result<u8, Fatal> {
    let res = if json {
        view::json(&mut std::io::stdout().lock(), report)
    } else {
        let mut out = anstream::AutoStream::auto(std::io::stdout().lock());
        view::summary(&mut out, report)
    };
    res?;
    Ok(if report.failed() { 1 } else { 0 })
}
