//! `unwedge watch`'s terminal view, in the style of top: a header with the
//! latest scan, the current findings (causes first, consequences beneath,
//! a group as one line) with how long each has been there, resolved ones
//! dimmed for a while, and one sparkline per hot process or listener and
//! count. Draws a [`Tracker`] into any ratatui frame: the live terminal, or
//! a TestBackend in the golden test. Formats only.

use crate::watch::{Metric, Series, Tracked, Tracker};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, RenderDirection, Row, Sparkline, Table};
use ratatui::Frame;
use unwedge_model::{Finding, Severity};

/// What the view says about the run itself.
pub struct View {
    pub every_ms: u64,
    pub keep_resolved_ms: u64,
    /// Set once `--count` scans are done.
    pub finished: bool,
}

/// Host strings (comm, titles with comm in them) may hold terminal control
/// sequences: a process can name itself "\x1b]0;…". Never write them raw.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// "4s", "3m10s", "2h05m".
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// HH:MM:SS (UTC) of a unix time in ms.
fn clock(ms: u64) -> String {
    let t = crate::watch::rfc3339_ms(ms);
    t.get(11..19).unwrap_or("").to_string()
}

fn sev_style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Severity::Warning => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        Severity::Info => Style::new().fg(Color::Cyan),
    }
}

fn sev_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::Warning => "WARN",
        Severity::Info => "INFO",
    }
}

fn who(f: &Finding) -> String {
    let mut s = match (f.pid, &f.comm) {
        (Some(pid), Some(comm)) => format!("{} ({pid})", clean(comm)),
        (Some(pid), None) => format!("pid {pid}"),
        (None, _) => "host".to_string(),
    };
    if let Some(p) = f.port {
        s.push_str(&format!(" :{p}"));
    }
    s
}

pub fn draw(frame: &mut Frame, t: &Tracker, now_ms: u64, view: &View) {
    let area = frame.area();
    let current = t.current();
    let resolved: Vec<&Tracked> = t.resolved().collect();
    let series = t.trends.series();
    let trend_rows: usize = series.iter().map(|s| s.shown().len()).sum();
    let finding_rows = current.len().max(1) + resolved.len();
    // Trends get what they need, up to what the findings leave them (at
    // least a third of the screen); the findings the rest.
    let body = area.height.saturating_sub(3);
    let room = body.saturating_sub(finding_rows as u16 + 2).max(body / 3);
    let want_trends = if trend_rows > 0 { (trend_rows as u16 + 1).min(room) } else { 0 };
    let [head, findings_area, trends_area, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(want_trends),
        Constraint::Length(1),
    ])
    .areas(area);

    header(frame, head, t, now_ms, current.len(), resolved.len());
    findings(frame, findings_area, t, &current, &resolved, now_ms);
    trends(frame, trends_area, &series);
    let foot_text = format!(
        " q quit · scan every {} · resolved findings stay {} · trends: one sample per scan, newest right{}",
        unwedge_model::fmt::duration(std::time::Duration::from_millis(view.every_ms)),
        age(view.keep_resolved_ms),
        if view.finished { " · done (--count reached)" } else { "" }
    );
    frame.render_widget(Paragraph::new(foot_text).style(Style::new().add_modifier(Modifier::DIM)), foot);
}

fn header(frame: &mut Frame, area: Rect, t: &Tracker, now_ms: u64, live: usize, resolved: usize) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let dim = Style::new().add_modifier(Modifier::DIM);
    let mut first = vec![Span::styled(" unwedge watch", bold)];
    let mut second = Vec::new();
    match &t.latest {
        Some(l) => {
            first.push(Span::raw(format!(
                " · {} · scan {} at {} UTC ({} ago)",
                clean(&l.host),
                t.scans,
                clock(l.at_ms),
                age(now_ms.saturating_sub(l.at_ms))
            )));
            second.push(Span::styled(
                format!(
                    " {} processes, {} threads, {} TCP sockets · snapshots {} apart, scan took {}",
                    l.processes,
                    l.threads,
                    l.sockets,
                    unwedge_model::fmt::measured_ms(l.interval_ms),
                    unwedge_model::fmt::measured_ms(l.duration_ms)
                ),
                dim,
            ));
        }
        None => first.push(Span::raw(" · first scan under way…")),
    }
    if let Some(err) = &t.last_error {
        second = vec![Span::styled(format!(" last scan failed: {}", clean(err)), Style::new().fg(Color::Red))];
    }
    // Counts on the right of the first line.
    let count = |s: Severity| t.current().iter().filter(|x| x.finding.severity == s).count();
    let mut counts: Vec<Span> = Vec::new();
    for s in [Severity::Critical, Severity::Warning, Severity::Info] {
        let n = count(s);
        if n > 0 {
            counts.push(Span::styled(format!("  {n} {}", s.name()), sev_style(s)));
        }
    }
    if live == 0 && t.latest.is_some() {
        counts.push(Span::styled("  no problems found", Style::new().fg(Color::Green)));
    }
    if resolved > 0 {
        counts.push(Span::styled(format!("  {resolved} resolved"), Style::new().fg(Color::Green)));
    }
    counts.push(Span::raw(" "));
    let used: usize = first.iter().map(|s| s.width()).sum::<usize>() + counts.iter().map(|s| s.width()).sum::<usize>();
    if used <= area.width as usize {
        first.push(Span::raw(" ".repeat(area.width as usize - used)));
        first.extend(counts);
    } else {
        // Narrow: the counts matter more than the host name and time.
        let rest = first.split_off(1);
        first.extend(counts);
        first.extend(rest);
    }
    frame.render_widget(Paragraph::new(vec![Line::from(first), Line::from(second)]), area);
}

fn findings(frame: &mut Frame, area: Rect, t: &Tracker, current: &[&Tracked], resolved: &[&Tracked], now_ms: u64) {
    let block = Block::new().borders(Borders::TOP).title(" Findings (causes first, consequences beneath) ");
    let dim = Style::new().add_modifier(Modifier::DIM);
    let mut rows: Vec<Row> = Vec::new();
    // The story order of the latest report, as the human report tells it.
    for (item, tracked) in t.story() {
        let f = &tracked.finding;
        let indent = if item.depth > 0 { format!("{}└ ", "  ".repeat(item.depth - 1)) } else { String::new() };
        let (place, title) = match &item.group {
            Some((title, processes)) => (format!("{processes} processes"), clean(title)),
            None => (who(f), clean(&f.title)),
        };
        let since = age(now_ms.saturating_sub(tracked.first_seen_ms));
        let mut title_line = vec![Span::raw(indent), Span::raw(title)];
        if item.group.is_none() && item.members > 1 {
            title_line.push(Span::styled(format!(" (+{} more stuck threads)", item.members - 1), dim));
        }
        if !item.caused_by.is_empty() && item.depth == 0 {
            title_line.push(Span::styled(format!(" (caused by {})", item.caused_by.join(", ")), dim));
        }
        rows.push(Row::new(vec![
            Cell::from(Span::styled(sev_label(f.severity), sev_style(f.severity))),
            Cell::from(since),
            Cell::from(place),
            Cell::from(Line::from(title_line)),
        ]));
    }
    if current.is_empty() {
        let text =
            if t.latest.is_some() { "no problems found in the latest scan" } else { "waiting for the first scan" };
        rows.push(Row::new(vec![Cell::from(""), Cell::from(""), Cell::from(""), Cell::from(text)]).style(dim));
    }
    for r in resolved {
        let f = &r.finding;
        let resolved_ms = r.resolved_ms.unwrap_or(now_ms);
        let ago = age(now_ms.saturating_sub(resolved_ms));
        rows.push(
            Row::new(vec![
                Cell::from(Span::styled("DONE", Style::new().fg(Color::Green))),
                Cell::from(age(now_ms.saturating_sub(r.first_seen_ms))),
                Cell::from(who(f)),
                Cell::from(format!("resolved {ago} ago: {}", clean(&f.title))),
            ])
            .style(dim),
        );
    }
    let table =
        Table::new(rows, [Constraint::Length(4), Constraint::Length(6), Constraint::Length(24), Constraint::Min(10)])
            .header(Row::new(vec!["", "since", "process", "finding"]).style(dim))
            .column_spacing(1)
            .block(block);
    frame.render_widget(table, area);
}

fn trends(frame: &mut Frame, area: Rect, series: &[&Series]) {
    if area.height < 2 {
        return;
    }
    let block = Block::new().borders(Borders::TOP).title(" Trends of the processes and listeners named ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows: Vec<(&Series, Metric)> =
        series.iter().flat_map(|s| s.shown().into_iter().map(move |m| (*s, m))).collect();
    let dim = Style::new().add_modifier(Modifier::DIM);
    for (i, (s, m)) in rows.iter().take(inner.height as usize).enumerate() {
        // An entity's name once, on its first line.
        let first = i == 0 || rows[i - 1].0.entity != s.entity;
        let y = inner.y + i as u16;
        let [label, metric, spark, value] = Layout::horizontal([
            Constraint::Length(24),
            Constraint::Length(14),
            Constraint::Min(8),
            Constraint::Length(14),
        ])
        .spacing(1)
        .areas(Rect { x: inner.x, y, width: inner.width, height: 1 });
        let label_style = if s.hot { Style::new() } else { dim };
        if first {
            frame.render_widget(Paragraph::new(clean(&s.label)).style(label_style), label);
        }
        frame.render_widget(Paragraph::new(m.label()).style(dim), metric);
        let samples = s.samples(*m);
        let shown: Vec<Option<u64>> =
            samples.iter().skip(samples.len().saturating_sub(spark.width as usize)).copied().collect();
        let max = shown.iter().flatten().copied().max().unwrap_or(0).max(1);
        let color = if s.hot { Color::Yellow } else { Color::Green };
        // Newest at the right edge, as in top's graphs: reversed, drawn right to left.
        frame.render_widget(
            Sparkline::default()
                .data(shown.iter().rev().copied())
                .direction(RenderDirection::RightToLeft)
                .max(max)
                .style(Style::new().fg(color))
                .absent_value_symbol("·"),
            spark,
        );
        let now = match (samples.back().copied().flatten(), s.limit[*m as usize]) {
            (Some(v), Some(limit)) if matches!(m, Metric::QueueDepth | Metric::OpenFds) => format!("{v}/{limit}"),
            (Some(v), _) => v.to_string(),
            (None, _) => "gone".to_string(),
        };
        let peak = shown.iter().flatten().copied().max().unwrap_or(0);
        let text =
            if peak > samples.back().copied().flatten().unwrap_or(0) { format!("{now} (max {peak})") } else { now };
        frame.render_widget(Paragraph::new(text), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::fake::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    /// The buffer as plain text, one line per row, trailing spaces cut.
    fn text(t: &Terminal<TestBackend>) -> String {
        let buf = t.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// A leak that grows, a stall whose stuck thread explains it, then the
    /// stall fixed: the view after eight cycles of 2 s.
    fn tracker() -> (Tracker, u64) {
        let start = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let mut t = Tracker::new(120_000);
        for i in 0..8u64 {
            // A CLOSE-WAIT pile growing behind a stuck thread of the same process, and
            // a stalled queue (with its stuck thread) that was fixed after cycle 5.
            let mut leaky_thread = stuck(4242, 4243);
            leaky_thread.comm = Some("leaky".into());
            leaky_thread.title = "thread 4243 of leaky has been stuck in read".into();
            let mut findings = vec![close_wait(4242, 5000, 10 + 15 * i as usize), leaky_thread];
            if i < 6 {
                findings.push(stalled(77, 8080, 3 + i as u32));
                findings.push(stuck(77, 78));
            }
            let mut r = report(findings);
            for (effect, cause) in [(Some(5000), 4243), (Some(8080), 78)] {
                let id = r.findings.iter().find(|f| f.tid == Some(cause)).map(|f| f.id.clone());
                if let Some(id) = id {
                    for f in r.findings.iter_mut().filter(|f| f.port == effect) {
                        f.caused_by = vec![id.clone()];
                    }
                }
            }
            t.observe(start + i * 2_000, None, &r);
        }
        (t, start + 14_000 + 500)
    }

    #[test]
    fn golden_view() {
        let (t, now) = tracker();
        let mut term = Terminal::new(TestBackend::new(110, 18)).unwrap();
        let view = View { every_ms: 2_000, keep_resolved_ms: 120_000, finished: false };
        term.draw(|f| draw(f, &t, now, &view)).unwrap();
        insta::assert_snapshot!("watch_view_110x18", text(&term));
        // A narrow terminal still draws (cut, not wrapped or panicking).
        let mut small = Terminal::new(TestBackend::new(60, 10)).unwrap();
        small.draw(|f| draw(f, &t, now, &view)).unwrap();
        insta::assert_snapshot!("watch_view_60x10", text(&small));
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut t = Tracker::new(60_000);
        let mut f = close_wait(1, 80, 20);
        f.comm = Some("\x1b]0;pwned\x07".into());
        f.title = "x \x1b[2J y".into();
        t.observe(1_000, None, &report(vec![f]));
        let mut term = Terminal::new(TestBackend::new(100, 12)).unwrap();
        let view = View { every_ms: 2_000, keep_resolved_ms: 60_000, finished: true };
        term.draw(|fr| draw(fr, &t, 2_000, &view)).unwrap();
        let s = text(&term);
        assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s}");
        assert!(s.contains("?]0;pwned?"), "{s}");
    }

    #[test]
    fn ages() {
        assert_eq!(age(4_999), "4s");
        assert_eq!(age(190_000), "3m10s");
        assert_eq!(age(7_500_000), "2h05m");
    }
}
