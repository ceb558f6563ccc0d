//! The report as one JSON document (the contract).

use std::io::{self, Write};
use unwedge_model::Report;

pub fn write(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
