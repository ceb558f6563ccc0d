//! `unwedge scan`: the pipeline (collect -> analyze -> report), then render.

use crate::cli::ScanArgs;
use crate::error::Fatal;
use crate::render;
use std::time::Instant;
use unwedge_pipeline::{Filter, Input};

pub fn run(args: &ScanArgs) -> Result<u8, Fatal> {
    let thresholds = args.thresholds.thresholds().map_err(Fatal::Thresholds)?;
    let started = Instant::now();
    let input = match &args.from_snapshot {
        Some(path) => Input::Recorded { path: path.clone(), keep_secrets: args.no_redact },
        None => {
            if !unwedge_collect::is_root() {
                eprintln!("unwedge: not running as root: other users' sockets, fds, threads and user stacks are hidden (run as root, or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for the full view)");
            }
            // Collection stops at 80% of the deadline so analysis and output
            // fit in before the watchdog; what was not read is in coverage.
            let deadline = crate::cli::scan_deadline(args).map_err(Fatal::Deadline)?;
            Input::Live {
                interval: args.interval,
                until: Some(started + deadline.mul_f64(0.8)),
                record: args.save_snapshot.is_some(),
                keep_secrets: args.no_redact,
            }
        }
    };
    let mut scan = unwedge_pipeline::snapshots(&input)?;
    if args.from_snapshot.is_none() {
        let mut stacks = unwedge_pipeline::Stacks::new(args.stacks.mode());
        if let Input::Live { until, .. } = &input {
            stacks.until = *until;
        }
        let filter = filter(args);
        unwedge_pipeline::read_stacks(&mut scan, &thresholds, &mut stacks, &filter);
    }
    if let Some(path) = &args.save_snapshot {
        unwedge_pipeline::save(path, &scan)?;
    }
    if let Some(pid) = args.pid.filter(|&p| !unwedge_pipeline::has_process(&scan, p)) {
        return Err(Fatal::NoProcess(pid));
    }
    let mut report = unwedge_pipeline::report(&scan, &thresholds, started.elapsed());
    filter(args).apply(&mut report);

    if let Some(path) = &args.html {
        // The raw snapshots go in only where the user already has them saved:
        // they hold every process's command line on the host.
        let embed = args.save_snapshot.is_some() || args.from_snapshot.is_some();
        let extras =
            render::html::Extras { scan: embed.then_some(&scan), unredacted: args.no_redact, ..Default::default() };
        let page = render::html::render(&report, &extras).map_err(Fatal::Html)?;
        unwedge_pipeline::write_private(path, page.as_bytes())
            .map_err(|err| Fatal::Write { path: path.clone(), err })?;
    }
    let stdout = std::io::stdout();
    if args.json {
        render::json::write(&mut stdout.lock(), &report)?;
    } else {
        render::human::write(&mut anstream::AutoStream::auto(stdout.lock()), &report)?;
    }
    Ok(if report.has_alarm() { 1 } else { 0 })
}

fn filter(args: &ScanArgs) -> Filter {
    Filter { pid: args.pid, port: args.port, path: args.path.as_deref().map(Filter::unix_path) }
}
