//! Probe results for a person: a header, one live line per connect (as ping
//! prints them), a summary, the HTTP details and the findings. Pure
//! formatting over `ProbeReport` into a writer.

use super::human;
use anstyle::{AnsiColor, Style};
use std::io::{self, Write};
use std::time::Duration;
use unwedge_model::fmt;
use unwedge_probe::{Attempt, HttpResult, Outcome, ProbeReport};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));

pub use unwedge_model::fmt::latency_us as ms;

/// `PROBE target (addr): …` before the first attempt.
pub fn header(out: &mut dyn Write, target: &str, resolved: &[String], dns_us: u64, what: &str) -> io::Result<()> {
    let addr = resolved.first().map(String::as_str).unwrap_or("?");
    let dns = if dns_us == 0 { String::new() } else { format!(", resolved in {}", ms(dns_us)) };
    let more = if resolved.len() > 1 { format!(" (also {})", resolved[1..].join(", ")) } else { String::new() };
    writeln!(out, "{BOLD}PROBE {target}{BOLD:#} ({addr}){more}{dns}: {what}")
}

/// One live line per connect.
pub fn attempt_line(out: &mut dyn Write, a: &Attempt) -> io::Result<()> {
    let role = a.role.map(|r| format!(" ({})", r.replace('_', " "))).unwrap_or_default();
    let port = a.local_port.map(|p| format!(" from port {p}")).unwrap_or_default();
    match (a.outcome, a.connect_us) {
        (Outcome::Ok, Some(t)) => writeln!(out, "connected to {}: seq={} time={}{port}{role}", a.addr, a.seq, ms(t)),
        (Outcome::Refused, Some(t)) => {
            writeln!(out, "{RED}{}: seq={} refused (RST) after {}{RED:#}{role}", a.addr, a.seq, ms(t))
        }
        _ => writeln!(out, "{RED}{}: seq={} {}{RED:#}{role}", a.addr, a.seq, a.error.as_deref().unwrap_or("failed")),
    }
}

/// Everything after the live lines.
pub fn summary(out: &mut dyn Write, r: &ProbeReport) -> io::Result<()> {
    let s = &r.summary;
    writeln!(out)?;
    writeln!(out, "--- {} probe statistics ---", r.target)?;
    let pct = if s.sent == 0 { 0.0 } else { s.lost as f64 * 100.0 / s.sent as f64 };
    writeln!(out, "{} connects, {} ok, {} lost ({pct:.0}%)", s.sent, s.ok, s.lost)?;
    if let (Some(min), Some(med), Some(p95), Some(max), Some(sd)) =
        (s.min_us, s.median_us, s.p95_us, s.max_us, s.stddev_us)
    {
        let f = |u: u64| format!("{:.3}", u as f64 / 1000.0);
        writeln!(out, "connect min/median/p95/max/stddev = {}/{}/{}/{}/{} ms", f(min), f(med), f(p95), f(max), f(sd))?;
    }
    if let (Some(t), Some(h)) = (&r.timings, &r.http) {
        writeln!(out)?;
        let o = |v: Option<u64>| v.map(ms).unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "timings: dns {}  connect {}  tls {}  ttfb {}  total {}",
            ms(t.dns_us),
            o(t.connect_us),
            o(t.tls_us),
            o(t.ttfb_us),
            o(t.total_us)
        )?;
        http_details(out, h)?;
    }
    writeln!(out)?;
    if r.findings.is_empty() && r.failed() {
        writeln!(out, "{RED}No finding, but the target failed (see above).{RED:#}")?;
    } else if r.findings.is_empty() {
        writeln!(out, "No problems found.")?;
    } else {
        writeln!(out, "{BOLD}{} finding{}{BOLD:#}", r.findings.len(), if r.findings.len() == 1 { "" } else { "s" })?;
        for f in &r.findings {
            writeln!(out)?;
            human::finding(out, f)?;
        }
    }
    Ok(())
}

fn http_details(out: &mut dyn Write, h: &HttpResult) -> io::Result<()> {
    if let Some(t) = &h.tls {
        writeln!(
            out,
            "tls: {} {} alpn {}, handshake {}",
            t.protocol.as_deref().unwrap_or("?"),
            t.cipher.as_deref().unwrap_or("?"),
            t.alpn.as_deref().unwrap_or("-"),
            ms(t.handshake_us)
        )?;
        if let Some(subject) = &t.cert_subject {
            writeln!(
                out,
                "certificate: {subject}; issuer {}; expires {} ({} days){}",
                t.cert_issuer.as_deref().unwrap_or("?"),
                t.cert_not_after.as_deref().unwrap_or("?"),
                t.cert_days_left.map(|d| d.to_string()).unwrap_or_else(|| "?".into()),
                if t.verified { "" } else { " — not verified (--insecure)" }
            )?;
        }
        if let Some(c) = &t.close {
            let text = match (c.outcome, c.after_us) {
                ("close_notify", Some(u)) => format!("the server answered close_notify in {}", ms(u)),
                ("fin", Some(u)) => format!("the server closed (FIN, no close_notify) after {}", ms(u)),
                ("reset", Some(u)) => format!("the server reset the connection after {}", ms(u)),
                ("no_answer", _) => format!("no answer to close_notify within {}", ms(c.waited_us)),
                _ => "error while closing".into(),
            };
            writeln!(out, "tls close: {text}")?;
        }
    }
    if let Some(r) = &h.response {
        writeln!(
            out,
            "{BOLD}{} {} {}{BOLD:#}  {} body bytes ({}){}",
            r.version,
            r.status,
            r.reason,
            r.body_bytes,
            r.framing,
            if r.keep_alive { ", keep-alive" } else { ", connection closed" }
        )?;
        for (n, v) in r.headers.iter().take(40) {
            let v: String = v.chars().take(160).collect();
            writeln!(out, "{DIM}  {n}: {v}{DIM:#}")?;
        }
    }
    let k = &h.keepalive;
    if let Some(why) = &k.skipped {
        writeln!(out, "keep-alive check: skipped: {why}")?;
    } else if k.checked {
        let text = match (k.second_answered_while_first_open, k.second_waited_us, k.second_answered_after_first_closed_us) {
            (Some(true), Some(w), _) => {
                format!("a second connection was answered in {} while the first idled (spare capacity)", ms(w))
            }
            (Some(false), Some(w), Some(a)) => format!(
                "a second connection waited {} unanswered while the first idled; answered {} after the first closed",
                ms(w),
                ms(a)
            ),
            (Some(false), Some(w), None) => format!(
                "a second connection waited {} unanswered while the first idled, and was not answered after it closed{}",
                ms(w),
                k.second_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            _ => format!("second connection failed: {}", k.second_error.as_deref().unwrap_or("?")),
        };
        writeln!(out, "keep-alive check: {text}")?;
    }
    if let Some(i) = &h.idle {
        match i.closed_after_us {
            Some(u) => writeln!(
                out,
                "idle: the server closed an idle keep-alive connection after {}",
                fmt::measured(Duration::from_micros(u))
            )?,
            None => writeln!(
                out,
                "idle: still open after --max-wait {}",
                fmt::duration(Duration::from_millis(i.max_wait_ms))
            )?,
        }
    }
    for n in &h.notes {
        writeln!(out, "{DIM}note: {n}{DIM:#}")?;
    }
    if let Some(e) = &h.error {
        writeln!(out, "{RED}request failed: {e}{RED:#}")?;
    }
    Ok(())
}

/// The whole report at once (for `serve` and tests; the CLI prints live).
#[allow(dead_code)]
pub fn write(out: &mut dyn Write, r: &ProbeReport) -> io::Result<()> {
    header(out, &r.target, &r.resolved, r.dns_us, r.probe)?;
    for a in &r.attempts {
        attempt_line(out, a)?;
    }
    summary(out, r)
}

pub fn json(out: &mut dyn Write, r: &ProbeReport) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, r)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unwedge_probe::{stats, Outcome};

    fn attempt(seq: u32, outcome: Outcome, us: Option<u64>, error: Option<&str>) -> Attempt {
        Attempt {
            seq,
            ok: outcome == Outcome::Ok,
            connect_us: us,
            error: error.map(String::from),
            outcome,
            addr: "127.0.0.1:80".into(),
            local_port: Some(40000),
            role: None,
        }
    }

    #[test]
    fn ping_like_lines_and_summary() {
        let attempts = vec![
            attempt(1, Outcome::Ok, Some(183), None),
            attempt(2, Outcome::Refused, Some(90), Some("connection refused (RST)")),
            attempt(3, Outcome::Timeout, None, Some("no answer within 3.0 s")),
        ];
        let r = ProbeReport {
            unwedge_version: "0.1.0".into(),
            probe: "tcp",
            target: "127.0.0.1:80".into(),
            resolved: vec!["127.0.0.1".into()],
            dns_us: 0,
            summary: stats::summarize(3, &[183]),
            attempts,
            timings: None,
            http: None,
            findings: vec![],
        };
        let mut buf = Vec::new();
        write(&mut buf, &r).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("seq=1 time=0.183 ms from port 40000"), "{text}");
        assert!(text.contains("seq=2 refused (RST) after 0.090 ms"), "{text}");
        assert!(text.contains("seq=3 no answer within 3.0 s"), "{text}");
        assert!(text.contains("3 connects, 1 ok, 2 lost (67%)"), "{text}");
        assert!(text.contains("the target failed"), "{text}");
        let mut buf = Vec::new();
        json(&mut buf, &r).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["attempts"][2]["connect_us"], serde_json::Value::Null);
        assert!(v.get("timings").is_none());
    }
}
