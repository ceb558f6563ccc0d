//! serve's `/`: the HTML page of the latest scan (the same page as `scan
//! --html`), with the last hour of the key counts as small inline SVG
//! charts. The history is a ring of one point per scan, at most an hour's
//! worth at the shortest --scan-interval (1 s): bounded however long serve
//! runs. The page is rendered once per scan, never per request.

use crate::render::html::{self, Chart, Extras};
use std::collections::VecDeque;
use unwedge_model::{Report, Severity};

/// How far back the charts look.
pub const WINDOW_MS: u64 = 3_600_000;
/// Points kept at most (an hour of 1 s scans).
pub const MAX_POINTS: usize = 3_601;

/// The counts of one scan.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Point {
    pub at_ms: u64,
    pub alarms: u64,
    pub close_wait: u64,
    pub queued: u64,
    pub unanswered: u64,
    pub stuck_threads: u64,
}

impl Point {
    /// Counts from the report and the metrics' facts (listener queues are
    /// host-wide there, from the snapshot, not only where a finding is).
    pub fn new(at_ms: u64, report: &Report, facts: &super::metrics::Facts) -> Point {
        let mut p = Point {
            at_ms,
            alarms: report.findings.iter().filter(|f| f.severity >= Severity::Warning).count() as u64,
            close_wait: facts.close_wait.iter().map(|x| x.value.max(0) as u64).sum(),
            queued: facts.listeners.values().map(|x| x.0.max(0) as u64).sum(),
            stuck_threads: facts.stuck_threads.iter().map(|x| x.value.max(0) as u64).sum(),
            unanswered: 0,
        };
        for f in report.findings.iter().filter(|f| f.kind() == "unanswered_requests") {
            p.unanswered += crate::watch::measure(f).map_or(1, |(_, v)| v);
        }
        p
    }
}

#[derive(Debug, Default)]
pub struct History {
    points: VecDeque<Point>,
}

impl History {
    pub fn push(&mut self, p: Point) {
        while self.points.len() >= MAX_POINTS
            || self.points.front().is_some_and(|f| p.at_ms.saturating_sub(f.at_ms) > WINDOW_MS)
        {
            self.points.pop_front();
        }
        self.points.push_back(p);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// The time the charts span: the history so far (at least a minute), at most an hour.
    pub fn span_ms(&self, now_ms: u64) -> u64 {
        let oldest = self.points.front().map_or(now_ms, |p| p.at_ms);
        now_ms.saturating_sub(oldest).clamp(60_000, WINDOW_MS)
    }

    pub fn charts(&self, now_ms: u64) -> Vec<Chart> {
        let span = self.span_ms(now_ms);
        type Get = fn(&Point) -> u64;
        let series: [(&str, Get); 5] = [
            ("Warning + critical findings", |p| p.alarms),
            ("CLOSE-WAIT sockets (leaking processes)", |p| p.close_wait),
            ("Connections in accept queues", |p| p.queued),
            ("Unanswered requests", |p| p.unanswered),
            ("Stuck threads", |p| p.stuck_threads),
        ];
        series
            .iter()
            .map(|(title, get)| {
                let pts: Vec<(u64, u64)> = self.points.iter().map(|p| (p.at_ms, get(p))).collect();
                let max = pts.iter().map(|p| p.1).max().unwrap_or(0);
                Chart {
                    title: title.to_string(),
                    now: pts.last().map_or("—".into(), |p| p.1.to_string()),
                    max: max.to_string(),
                    svg: html::svg_chart(&pts, now_ms, span),
                }
            })
            .collect()
    }
}

/// The page for the latest report.
/// `unredacted`: serve runs with `--no-redact`, which the header says.
pub fn render(report: &Report, history: &History, now_ms: u64, scans: u64, every_s: u64, unredacted: bool) -> String {
    let span_min = history.span_ms(now_ms).div_ceil(60_000);
    let extras = Extras {
        scan: None,
        charts: history.charts(now_ms),
        subtitle: Some(format!("unwedge serve: the latest of {scans} scans, one every {every_s} s")),
        charts_title: if span_min >= 60 {
            "Last hour".into()
        } else {
            format!("Last {span_min} min (charts keep an hour)")
        },
        unredacted,
    };
    html::render(report, &extras).unwrap_or_else(|e| {
        format!(
            "<!doctype html><meta charset=utf-8><title>unwedge</title><p>cannot render the page: {}</p>",
            escape(&e)
        )
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_by_count_and_by_time() {
        let mut h = History::default();
        for i in 0..10_000u64 {
            h.push(Point { at_ms: i * 1000, alarms: i % 3, ..Point::default() });
        }
        assert!(h.len() <= MAX_POINTS);
        let mut h = History::default();
        for i in 0..100u64 {
            h.push(Point { at_ms: i * 60_000, ..Point::default() });
        }
        assert_eq!(h.len(), 61, "an hour of one point a minute, plus the newest");
        let charts = h.charts(99 * 60_000);
        assert_eq!(charts.len(), 5);
        assert!(charts[0].svg.starts_with("<svg") && !charts[0].svg.contains("NaN"));
    }
}
