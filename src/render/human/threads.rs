//! Thread details for thread and signal findings: name, state, syscall and
//! what it means, each fd argument resolved, wchan, signal masks and the
//! kernel stack — what an engineer would otherwise dig out of /proc by hand.

use super::{wrapped, BOLD, DIM};
use anstyle::Style;
use serde_json::Value;
use std::io::{self, Write};
use unwedge_model::evidence::{ThreadEvidence, ThreadSummary};
use unwedge_model::Evidence;

/// Evidence fields holding threads: `write` shows them as thread blocks, so
/// the generic key/value list leaves them out.
const THREAD_FIELDS: [&str; 4] = ["thread", "threads", "parent_thread", "other_stuck_threads"];

/// The evidence as JSON without its thread objects (those get their own blocks).
pub(super) fn without_threads(ev: &Evidence) -> Value {
    match serde_json::to_value(ev) {
        Ok(Value::Object(mut map)) => {
            for k in THREAD_FIELDS {
                map.shift_remove(k);
            }
            Value::Object(map)
        }
        Ok(other) => other,
        Err(_) => Value::Null,
    }
}

/// Most kernel frames shown; the rest are syscall entry boilerplate.
const MAX_FRAMES: usize = 8;

/// The threads of a finding's evidence as readable blocks.
pub(super) fn write(out: &mut dyn Write, ev: &Evidence) -> io::Result<()> {
    match ev {
        Evidence::StuckThread(e) => {
            thread_block(out, "Thread", &e.thread, true)?;
            if !e.other_stuck_threads.is_empty() {
                writeln!(out, "    Other stuck threads:")?;
                for t in &e.other_stuck_threads {
                    summary_block(out, t)?;
                }
            }
        }
        Evidence::Zombie(e) => {
            if let Some(t) = &e.parent_thread {
                thread_block(out, "Parent thread", t, true)?;
            }
        }
        Evidence::UnansweredRequests(e) if !e.threads.is_empty() => {
            writeln!(out, "    Threads ({} in all, the most telling first):", e.threads_total)?;
            for t in &e.threads {
                summary_block(out, t)?;
            }
        }
        Evidence::PeerNotReading(e) => thread_block(out, "Thread", &e.thread, true)?,
        Evidence::BlockedSignal(_) | Evidence::SigtermBlocked(_) => {
            let list = ev.thread_blocks();
            if !list.is_empty() {
                writeln!(out, "    Threads:")?;
                for (_, t) in list {
                    thread_block(out, "  Thread", t, false)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// One thread: name, state, syscall and what it means, its fds resolved,
/// wchan, signal masks and (with `full`) the kernel stack.
fn thread_block(out: &mut dyn Write, label: &str, t: &ThreadEvidence, full: bool) -> io::Result<()> {
    let pad = " ".repeat(4 + label.len() - label.trim_start().len());
    let mut head = format!("{} {} ({}), state {}", label.trim_start(), t.tid, t.name, t.state);
    if let Some(sc) = &t.syscall {
        head.push_str(&format!(", in {sc}"));
        if let Some(m) = &t.syscall_meaning {
            head.push_str(&format!(" ({m})"));
        }
    }
    wrapped(out, &pad, &head, &format!("{pad}    "), BOLD)?;
    for fd in &t.fds {
        wrapped(out, "        ", fd, "          ", Style::new())?;
    }
    if let Some(w) = &t.wchan {
        writeln!(out, "        {DIM}wchan:{DIM:#} {w}")?;
    }
    if let (Some(b), Some(p)) = (&t.blocked, &t.pending) {
        writeln!(out, "        {DIM}SigBlk:{DIM:#} {b}  {DIM}SigPnd:{DIM:#} {p}")?;
    }
    if full {
        if let Some(frames) = t.stack.as_ref().filter(|f| !f.is_empty()) {
            writeln!(out, "        {DIM}kernel stack:{DIM:#}")?;
            for fr in frames.iter().take(MAX_FRAMES) {
                writeln!(out, "          {fr}")?;
            }
        }
    }
    Ok(())
}

/// Another stuck thread of the process, in brief.
fn summary_block(out: &mut dyn Write, t: &ThreadSummary) -> io::Result<()> {
    let head = format!("Thread {} ({}), in {}", t.tid, t.name, t.syscall);
    wrapped(out, "      ", &head, "          ", BOLD)?;
    for fd in &t.fds {
        wrapped(out, "        ", fd, "          ", Style::new())?;
    }
    Ok(())
}
