//! Thread details for thread and signal findings: name, state, syscall and
//! what it means, each fd argument resolved, wchan, signal masks and the
//! kernel stack — what an engineer would otherwise dig out of /proc by hand.

use super::{wrapped, BOLD, DIM};
use anstyle::Style;
use serde_json::Value;
use std::io::{self, Write};

/// Evidence keys holding thread objects, shown as thread blocks rather than JSON.
const THREAD_KEYS: [&str; 4] = ["thread", "threads", "parent_thread", "other_stuck_threads"];

/// The evidence without its thread objects (those get their own blocks).
pub(super) fn without_threads(ev: &Value) -> Value {
    match ev {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !THREAD_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Most kernel frames shown; the rest are syscall entry boilerplate.
const MAX_FRAMES: usize = 8;

/// The thread objects of a finding's evidence as readable blocks.
pub(super) fn write(out: &mut dyn Write, ev: &Value) -> io::Result<()> {
    if let Some(t) = ev.get("thread").filter(|t| t.is_object()) {
        thread_block(out, "Thread", t, true)?;
    }
    if let Some(t) = ev.get("parent_thread").filter(|t| t.is_object()) {
        thread_block(out, "Parent thread", t, true)?;
    }
    if let Some(list) = ev.get("other_stuck_threads").and_then(Value::as_array).filter(|l| !l.is_empty()) {
        writeln!(out, "    Other stuck threads:")?;
        for t in list {
            thread_block(out, "  Thread", t, false)?;
        }
    }
    if let Some(list) = ev.get("threads").and_then(Value::as_array).filter(|l| !l.is_empty()) {
        writeln!(out, "    Threads:")?;
        for t in list {
            thread_block(out, "  Thread", t, false)?;
        }
    }
    Ok(())
}

/// One thread: name, state, syscall and what it means, its fds resolved,
/// wchan, signal masks and (with `full`) the kernel stack.
fn thread_block(out: &mut dyn Write, label: &str, t: &Value, full: bool) -> io::Result<()> {
    let s = |k: &str| t.get(k).and_then(Value::as_str);
    let pad = " ".repeat(4 + label.len() - label.trim_start().len());
    let mut head = format!("{} {} ({})", label.trim_start(), t["tid"], s("name").unwrap_or("?"));
    if let Some(st) = s("state") {
        head.push_str(&format!(", state {st}"));
    }
    if let Some(sc) = s("syscall") {
        head.push_str(&format!(", in {sc}"));
        if let Some(m) = s("syscall_meaning") {
            head.push_str(&format!(" ({m})"));
        }
    }
    wrapped(out, &pad, &head, &format!("{pad}    "), BOLD)?;
    for fd in t.get("fds").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        wrapped(out, "        ", fd, "          ", Style::new())?;
    }
    if let Some(w) = s("wchan") {
        writeln!(out, "        {DIM}wchan:{DIM:#} {w}")?;
    }
    if let (Some(b), Some(p)) = (s("blocked"), s("pending")) {
        writeln!(out, "        {DIM}SigBlk:{DIM:#} {b}  {DIM}SigPnd:{DIM:#} {p}")?;
    }
    if full {
        if let Some(frames) = t.get("stack").and_then(Value::as_array).filter(|f| !f.is_empty()) {
            writeln!(out, "        {DIM}kernel stack:{DIM:#}")?;
            for fr in frames.iter().take(MAX_FRAMES).filter_map(Value::as_str) {
                writeln!(out, "          {fr}")?;
            }
        }
    }
    Ok(())
}
