//! unwedge: names why a Linux service hangs or why its clients time out.
//! The binary is glue: parse the command line, run one command, print one
//! clear line and exit 2 on any error.

mod cli;
mod cmd;
mod duration;
mod probe;
mod render;
mod serve;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// An error that ends the run: one line on stderr, exit status 2.
#[derive(Debug)]
pub struct Fatal(pub String);

impl<E: std::error::Error> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

fn main() -> ExitCode {
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
            let text = e.render().to_string();
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("bad usage");
            eprintln!("unwedge: {} (see unwedge --help)", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match cli.color {
        cli::ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        cli::ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        cli::ColorWhen::Auto => {}
    }
    let result = match cli.command {
        cli::Command::Scan(args) => cmd::scan::run(&args),
        cli::Command::Probe(args) => cmd::probe::run(&args),
        cli::Command::Serve(args) => cmd::serve::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Fatal(msg)) if msg.contains("Broken pipe") => ExitCode::SUCCESS,
        Err(Fatal(msg)) => {
            let _ = std::io::stdout().flush();
            eprintln!("unwedge: {msg}");
            ExitCode::from(2)
        }
    }
}
