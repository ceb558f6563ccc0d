//! Thread details for thread and signal findings: name, state, syscall and
//! what it means, each fd argument resolved, wchan, signal masks and the
//! kernel stack — what an engineer would otherwise dig out of /proc by hand.

use super::{wrapped, BOLD, DIM};
use anstyle::Style;
use serde_json::Value;
use std::io::{self, Write};
use unwedge_model::evidence::{ThreadEvidence, ThreadSummary};
use unwedge_model::{stack, Evidence, Frame, GoroutineGroup};

/// Evidence fields holding threads: `write` shows them as thread blocks, so
/// the generic key/value list leaves them out.
/// (`accepting_threads` is told in the explanation's words instead.)
const THREAD_FIELDS: [&str; 5] = ["thread", "threads", "parent_thread", "other_stuck_threads", "accepting_threads"];

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

/// The threads of a finding's evidence as readable blocks, with at most
/// `frames` kernel frames each (the rest are syscall entry boilerplate).
/// `brief` (a group's representative, which must fit on one screen with
/// its group): no kernel stack where a user stack tells more, and no
/// interpreter hint (the fix gives it).
pub(super) fn write(out: &mut dyn Write, ev: &Evidence, frames: usize, brief: bool) -> io::Result<()> {
    match ev {
        Evidence::StuckThread(e) => {
            thread_block(out, "Thread", &e.thread, frames, brief)?;
            if !e.other_stuck_threads.is_empty() {
                writeln!(out, "    Other stuck threads:")?;
                for t in &e.other_stuck_threads {
                    summary_block(out, t)?;
                }
            }
        }
        Evidence::Zombie(e) => {
            if let Some(t) = &e.parent_thread {
                thread_block(out, "Parent thread", t, frames, brief)?;
            }
        }
        Evidence::UnansweredRequests(e) if !e.threads.is_empty() => {
            writeln!(out, "    Threads ({} in all, the most telling first):", e.threads_total)?;
            for t in &e.threads {
                summary_block(out, t)?;
            }
        }
        Evidence::PeerNotReading(e) => thread_block(out, "Thread", &e.thread, frames, brief)?,
        Evidence::BlockedSignal(_) | Evidence::SigtermBlocked(_) => {
            let list = ev.thread_blocks();
            if !list.is_empty() {
                writeln!(out, "    Threads:")?;
                for (_, t) in list {
                    thread_block(out, "  Thread", t, 0, false)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// One thread: name, state, syscall and what it means, its fds resolved,
/// wchan, signal masks and the first `frames` frames of the kernel stack.
fn thread_block(out: &mut dyn Write, label: &str, t: &ThreadEvidence, frames: usize, brief: bool) -> io::Result<()> {
    let has_user_stack = t.user_stack.as_ref().is_some_and(|u| !u.is_empty());
    let frames = if brief && has_user_stack { 0 } else { frames };
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
    if let Some(stack) = t.stack.as_ref().filter(|f| !f.is_empty() && frames > 0) {
        writeln!(out, "        {DIM}kernel stack:{DIM:#}")?;
        for fr in stack.iter().take(frames) {
            writeln!(out, "          {fr}")?;
        }
    }
    user_stack(out, t.user_stack.as_deref(), t.user_stack_note.as_deref())?;
    goroutines(out, t.goroutines.as_deref(), t.goroutines_note.as_deref())?;
    if let Some(h) = t.interpreter_hint.as_ref().filter(|_| !brief) {
        wrapped(out, &format!("        {DIM}interpreter frames:{DIM:#} "), h, "          ", Style::new())?;
    }
    Ok(())
}

/// The user stack on one line, innermost first, library frames folded
/// ("pthread_join ← wait_for_filter ← handle_client ← main"), and why it
/// ends early or is missing.
fn user_stack(out: &mut dyn Write, frames: Option<&[Frame]>, note: Option<&str>) -> io::Result<()> {
    if let Some(frames) = frames.filter(|f| !f.is_empty()) {
        let folded = stack::fold(frames).join(" ← ");
        let cut = if note.is_some() { " ← …" } else { "" };
        wrapped(
            out,
            &format!("        {DIM}user stack:{DIM:#} "),
            &format!("{folded}{cut}"),
            "          ",
            Style::new(),
        )?;
    }
    if let Some(n) = note {
        wrapped(out, &format!("        {DIM}user stack:{DIM:#} "), n, "          ", DIM)?;
    }
    Ok(())
}

/// Goroutine groups shown per process (the JSON has them all).
const GOROUTINE_GROUPS: usize = 3;
/// Folded frames shown per group (innermost: where it waits, and who called).
const GOROUTINE_FRAMES: usize = 5;

/// A Go process's largest goroutine groups, one line each, folded as user
/// stacks are ("10 × sync.(*Mutex).Lock ← main.handler ← … (semacquire)").
fn goroutines(out: &mut dyn Write, groups: Option<&[GoroutineGroup]>, note: Option<&str>) -> io::Result<()> {
    let groups = groups.unwrap_or_default();
    for g in groups.iter().take(GOROUTINE_GROUPS) {
        let folded = stack::fold(&g.frames);
        let mut line =
            format!("{} × {}", g.count, folded.iter().take(GOROUTINE_FRAMES).cloned().collect::<Vec<_>>().join(" ← "));
        if folded.len() > GOROUTINE_FRAMES {
            line.push_str(" ← …");
        }
        if let Some(r) = &g.wait_reason {
            line.push_str(&format!(" ({r})"));
        }
        wrapped(out, &format!("        {DIM}goroutines:{DIM:#} "), &line, "          ", Style::new())?;
    }
    if groups.len() > GOROUTINE_GROUPS {
        let more = groups.len() - GOROUTINE_GROUPS;
        let n: u32 = groups[GOROUTINE_GROUPS..].iter().map(|g| g.count).sum();
        writeln!(out, "        {DIM}goroutines: {more} more groups ({n} goroutines) in --json{DIM:#}")?;
    }
    if let Some(n) = note {
        wrapped(out, &format!("        {DIM}goroutines:{DIM:#} "), n, "          ", DIM)?;
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
    user_stack(out, t.user_stack.as_deref(), None)?;
    goroutines(out, t.goroutines.as_deref(), t.goroutines_note.as_deref())
}
