//! unwedge: names why a Linux service hangs or why its clients time out.
//! The binary is glue: parse the command line, run one command, print one
//! clear line and exit 2 on any error.

mod build_info;
mod cli;
mod cmd;
mod error;
mod memory;
mod remedy;
mod render;
mod serve;
mod watch;

use clap::Parser;
use error::Fatal;
use std::io::Write;
use std::process::ExitCode;
use unwedge_model::fmt;

/// The backstop for `--deadline`: whatever is stuck (a DNS lookup, a hung
/// /proc read, a peer that never answers), the command ends with one line
/// and exit 2. A scan normally finishes before this with what it has.
fn watchdog(limit: std::time::Duration) {
    let spawned = std::thread::Builder::new().name("deadline".into()).spawn(move || {
        std::thread::sleep(limit);
        eprintln!("unwedge: gave up after --deadline {}: the command did not finish in time", fmt::duration(limit));
        std::process::exit(2);
    });
    if let Err(e) = spawned {
        eprintln!("unwedge: cannot start the deadline watchdog: {e}");
        std::process::exit(2);
    }
}

/// The static build (packaging/build-static.sh) links glibc statically. Such
/// a binary must not load NSS modules from the host's shared libraries: they
/// belong to another glibc, and loading them loads a second libc. Host
/// lookups (`probe`'s getaddrinfo) are limited to the modules built into
/// glibc, whatever /etc/nsswitch.conf says: files (/etc/hosts), then dns
/// (the servers of /etc/resolv.conf).
#[cfg(all(target_env = "gnu", target_feature = "crt-static"))]
fn static_nss() {
    extern "C" {
        fn __nss_configure_lookup(db: *const std::ffi::c_char, service: *const std::ffi::c_char) -> std::ffi::c_int;
    }
    // SAFETY: both are NUL-terminated strings; called before any thread starts.
    unsafe {
        __nss_configure_lookup(c"hosts".as_ptr(), c"files dns".as_ptr());
    }
}

fn main() -> ExitCode {
    memory::one_arena();
    #[cfg(all(target_env = "gnu", target_feature = "crt-static"))]
    static_nss();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                let code = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand { 2 } else { 0 };
                return ExitCode::from(code);
            }
            // One clear line, not clap's multi-line usage block.
            // The error's first paragraph may continue on indented lines
            // (the missing arguments): fold it into the one line.
            let text = e.render().to_string();
            let para: Vec<&str> = text
                .lines()
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let line = if para.is_empty() { "bad usage".to_string() } else { para.join(" ") };
            eprintln!("unwedge: {} (see unwedge --help)", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match cli.color {
        cli::ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        cli::ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        cli::ColorWhen::Auto => {}
    }
    let deadline = match cli::deadline(&cli.command) {
        Ok(d) => d,
        Err(msg) => {
            eprintln!("unwedge: {msg}");
            return ExitCode::from(2);
        }
    };
    // exec replaces nothing and waits for its child as long as that runs: no deadline.
    if let Some(d) = deadline {
        watchdog(d);
    }
    let result = match cli.command {
        cli::Command::Scan(args) => cmd::scan::run(&args),
        cli::Command::Exec(args) => cmd::exec::run(&args),
        cli::Command::Stop(args) => cmd::stop::run(&args),
        cli::Command::Probe(args) => cmd::probe::run(&args),
        cli::Command::Serve(args) => cmd::serve::run(&args),
        cli::Command::Watch(args) => cmd::watch::run(&args),
        cli::Command::Generate(args) => cmd::generate::run(&args),
        cli::Command::Explain(args) => cmd::explain::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // `unwedge scan | head`: the reader has all it wanted.
        Err(Fatal::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("unwedge: {e}");
            ExitCode::from(2)
        }
    }
}
