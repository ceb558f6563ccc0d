//! `unwedge serve`: check the flags, then hand over to `crate::serve`.

use crate::cli::ServeArgs;
use crate::error::Fatal;
use crate::serve::{auth, limits, Config};

pub fn run(args: &ServeArgs) -> Result<u8, Fatal> {
    if args.scan_interval < std::time::Duration::from_secs(1) {
        return Err(Fatal::ScanInterval(args.scan_interval));
    }
    let thresholds = args.thresholds.thresholds().map_err(Fatal::Thresholds)?;
    let input = match &args.from_snapshot {
        // Loaded once up front, so a bad file is one clear line now, not an error per scan.
        Some(path) => {
            unwedge_pipeline::load(path)?;
            unwedge_pipeline::Input::Recorded { path: path.clone(), keep_secrets: args.no_redact }
        }
        None => unwedge_pipeline::Input::Live {
            interval: args.interval,
            until: None,
            record: false,
            keep_secrets: args.no_redact,
        },
    };
    let token = match &args.token_file {
        Some(path) => Some(auth::load_token(path).map_err(Fatal::Token)?),
        None => None,
    };
    if token.is_none() && !args.listen.ip().is_loopback() {
        return Err(Fatal::OpenWithoutToken(args.listen));
    }
    let allow = if args.allow_target.is_empty() {
        limits::loopback()
    } else {
        args.allow_target
            .iter()
            .map(|s| limits::Cidr::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Fatal::AllowTarget)?
    };
    crate::serve::run(Config {
        listen: args.listen,
        scan_interval: args.scan_interval,
        token,
        allow,
        metrics_public: args.metrics_public,
        top_n: args.metrics_top as usize,
        input,
        thresholds,
        stacks: args.stacks.mode(),
        record: args.record.as_ref().map(|dir| crate::serve::record::Config {
            dir: dir.clone(),
            max_bytes: args.record_max,
            cooldown: args.record_cooldown,
            unredacted: args.no_redact,
        }),
        keep_secrets: args.no_redact,
        continuous: args.mode == crate::cli::ScanMode::Continuous,
    })?;
    Ok(0)
}
