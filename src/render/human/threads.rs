//! Thread details for thread and signal findings: name, state, syscall and
//! what it means, each fd argument resolved, wchan, signal masks and the
//! kernel stack — what an engineer would otherwise dig out of /proc by hand.

use super::{wrapped, BOLD, DIM};
use crate::render::view::{self, Role, ThreadView, GOROUTINE_GROUPS};
use anstyle::Style;
use std::io::{self, Write};
use unwedge_model::Evidence;

/// The threads of a finding's evidence as readable blocks, with at most
/// `frames` kernel frames each (the rest are syscall entry boilerplate).
/// `brief` (a group's representative, which must fit on one screen with
/// its group): no kernel stack where a user stack tells more, and no
/// interpreter hint (the fix gives it).
pub(super) fn write(out: &mut dyn Write, ev: &Evidence, frames: usize, brief: bool) -> io::Result<()> {
    for list in view::threads(ev) {
        let ts = &list.threads;
        match list.role {
            Role::Thread | Role::ParentThread => {
                for t in ts {
                    thread_block(out, list.role.label(), t, frames, brief)?;
                }
            }
            Role::OtherStuck if !ts.is_empty() => {
                writeln!(out, "    Other stuck threads:")?;
                for t in ts {
                    summary_block(out, t)?;
                }
            }
            Role::Sample { total } if !ts.is_empty() => {
                writeln!(out, "    Threads ({total} in all, the most telling first):")?;
                // A Python process's threads grouped by stack say where each
                // waits: shown once, the threads then by name and call only.
                let groups = ts.iter().find_map(|t| t.python_threads.filter(|p| p.total > 1));
                if let Some(py) = groups {
                    for l in view::python_group_lines(py, HUMAN_PYTHON_GROUPS) {
                        wrapped(out, &format!("      {DIM}python threads:{DIM:#} "), &l, "          ", Style::new())?;
                    }
                }
                let shown: Vec<ThreadView> = match groups {
                    Some(_) => ts.iter().map(|t| ThreadView { fds: t.fds, ..ThreadView::summary_head(t) }).collect(),
                    None => ts.to_vec(),
                };
                let ts = &shown;
                let mut i = 0;
                while i < ts.len() {
                    // Bare threads alike (same name and call, nothing more to show) share a line.
                    let n = ts[i..].iter().take_while(|t| bare(t) && alike(t, &ts[i])).count();
                    if n > 1 {
                        let tids: Vec<String> = ts[i..i + n].iter().map(|t| t.tid.to_string()).collect();
                        let t = &ts[i];
                        let head =
                            format!("Threads {} ({}), in {}", tids.join(", "), t.name, t.syscall.unwrap_or_default());
                        wrapped(out, "      ", &head, "          ", BOLD)?;
                        i += n;
                    } else {
                        summary_block(out, &ts[i])?;
                        i += 1;
                    }
                }
            }
            Role::Signal if !ts.is_empty() => {
                writeln!(out, "    Threads:")?;
                for t in ts {
                    thread_block(out, "  Thread", t, 0, false)?;
                }
            }
            Role::Cpu => {
                for t in ts {
                    cpu_block(out, t)?;
                }
            }
            // Empty lists; and the accepting threads, which the explanation tells in words.
            _ => {}
        }
    }
    Ok(())
}

/// One thread: name, state, syscall and what it means, its fds resolved,
/// wchan, signal masks and the first `frames` frames of the kernel stack.
fn thread_block(out: &mut dyn Write, label: &str, t: &ThreadView, frames: usize, brief: bool) -> io::Result<()> {
    let frames = if brief && !t.user_stack.is_empty() { 0 } else { frames };
    let pad = " ".repeat(4 + label.len() - label.trim_start().len());
    wrapped(out, &pad, &t.head(label.trim_start()), &format!("{pad}    "), BOLD)?;
    for fd in t.fds {
        wrapped(out, "        ", fd, "          ", Style::new())?;
    }
    if let Some(w) = t.wchan {
        writeln!(out, "        {DIM}wchan:{DIM:#} {w}")?;
    }
    if let (Some(b), Some(p)) = (t.blocked, t.pending) {
        writeln!(out, "        {DIM}SigBlk:{DIM:#} {b}  {DIM}SigPnd:{DIM:#} {p}")?;
    }
    if !t.kernel_stack.is_empty() && frames > 0 {
        writeln!(out, "        {DIM}kernel stack:{DIM:#}")?;
        for fr in t.kernel_stack.iter().take(frames) {
            writeln!(out, "          {fr}")?;
        }
    }
    user_stack(out, t)?;
    goroutines(out, t)?;
    runtime_frames(out, t)?;
    // Frames already read need no tool to read them.
    if let Some(h) = t.interpreter_hint.filter(|_| !brief && t.python.is_empty()) {
        wrapped(out, &format!("        {DIM}interpreter frames:{DIM:#} "), h, "          ", Style::new())?;
    }
    Ok(())
}

/// The user stack on one line, and why it ends early or is missing.
/// Where the thread's Python frames were read, they say where it waits and
/// the interpreter's own C frames add nothing the reader can act on: the
/// text shows the Python frames alone (the JSON and the page keep both).
fn user_stack(out: &mut dyn Write, t: &ThreadView) -> io::Result<()> {
    if !t.python.is_empty() {
        return Ok(());
    }
    if let Some(folded) = view::folded_user_stack(t) {
        wrapped(out, &format!("        {DIM}user stack:{DIM:#} "), &folded, "          ", Style::new())?;
    }
    if let Some(n) = t.user_stack_note {
        wrapped(out, &format!("        {DIM}user stack:{DIM:#} "), n, "          ", DIM)?;
    }
    Ok(())
}

/// A Go process's largest goroutine groups, one line each.
fn goroutines(out: &mut dyn Write, t: &ThreadView) -> io::Result<()> {
    for g in t.goroutines.iter().take(GOROUTINE_GROUPS) {
        wrapped(
            out,
            &format!("        {DIM}goroutines:{DIM:#} "),
            &view::goroutine_line(g),
            "          ",
            Style::new(),
        )?;
    }
    if let Some((more, n)) = view::more_goroutines(t) {
        writeln!(out, "        {DIM}goroutines: {more} more groups ({n} goroutines) in --json{DIM:#}")?;
    }
    if let Some(n) = t.goroutines_note {
        wrapped(out, &format!("        {DIM}goroutines:{DIM:#} "), n, "          ", DIM)?;
    }
    Ok(())
}

/// A runtime's own frames: Python's (the thread's, and the process's
/// groups with the GIL's holder) and the JVM's view (state, Java frames,
/// monitors).
fn runtime_frames(out: &mut dyn Write, t: &ThreadView) -> io::Result<()> {
    let line = |out: &mut dyn Write, label: &str, text: &str, style: Style| {
        wrapped(out, &format!("        {DIM}{label}:{DIM:#} "), text, "          ", style)
    };
    if let Some(py) = view::python_line(t) {
        line(out, "python", &py, Style::new())?;
    }
    if let Some(n) = t.python_note {
        line(out, "python", n, DIM)?;
    }
    // One thread: its own frames say it all.
    if let Some(py) = t.python_threads.filter(|p| p.total > 1) {
        for l in view::python_group_lines(py, view::PYTHON_GROUPS) {
            line(out, "python threads", &l, Style::new())?;
        }
    }
    if let Some(j) = t.java {
        for l in view::java_lines(j) {
            line(out, "java", &l, Style::new())?;
        }
    }
    Ok(())
}

/// Another stuck thread of the process, in brief.
/// Python thread groups shown above a thread list (the largest first; the
/// page and the JSON have more).
const HUMAN_PYTHON_GROUPS: usize = 2;

/// A summary thread with nothing but its name and call to show.
fn bare(t: &ThreadView) -> bool {
    t.fds.is_empty()
        && t.user_stack.is_empty()
        && t.user_stack_note.is_none()
        && t.goroutines.is_empty()
        && t.goroutines_note.is_none()
        && t.python.is_empty()
        && t.python_note.is_none()
        && t.python_threads.is_none()
        && t.java.is_none()
}

fn alike(a: &ThreadView, b: &ThreadView) -> bool {
    a.name == b.name && a.syscall == b.syscall
}

fn summary_block(out: &mut dyn Write, t: &ThreadView) -> io::Result<()> {
    let head = format!("Thread {} ({}), in {}", t.tid, t.name, t.syscall.unwrap_or_default());
    wrapped(out, "      ", &head, "          ", BOLD)?;
    for fd in t.fds {
        wrapped(out, "        ", fd, "          ", Style::new())?;
    }
    user_stack(out, t)?;
    goroutines(out, t)?;
    runtime_frames(out, t)
}

/// A JVM's facts, after the evidence's fields.
pub(super) fn jvm(out: &mut dyn Write, ev: &unwedge_model::Evidence) -> io::Result<()> {
    let Some(j) = view::jvm(ev) else { return Ok(()) };
    writeln!(out, "    JVM:")?;
    for l in view::jvm_lines(j) {
        let indent = l.len() - l.trim_start().len();
        let pad = " ".repeat(6 + indent);
        wrapped(out, &pad, l.trim_start(), &format!("{pad}  "), Style::new())?;
    }
    Ok(())
}

/// A busy or starved thread: its role and state, its shares of the
/// interval, its hottest stacks and what limits its samples.
fn cpu_block(out: &mut dyn Write, t: &ThreadView) -> io::Result<()> {
    wrapped(out, "    ", &t.head("Thread"), "        ", BOLD)?;
    let Some(c) = t.cpu else { return Ok(()) };
    for (label, text) in view::cpu_lines(c) {
        wrapped(out, &format!("        {DIM}{label}:{DIM:#} "), &text, "          ", Style::new())?;
    }
    Ok(())
}
