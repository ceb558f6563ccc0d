//! `unwedge exec`: reset the signal state and become CMD.

use crate::cli::ExecArgs;
use crate::error::Fatal;
use crate::remedy::exec;

/// Returns only when CMD could not be started: 127 or 126, as shells do.
pub fn run(args: &ExecArgs) -> Result<u8, Fatal> {
    let err = exec::exec(&args.command, args.close_fds);
    // Not a Fatal: the status is the shell's, not unwedge's usual 2.
    eprintln!("unwedge: {}", err.message);
    Ok(err.status)
}
