//! The report as one self-contained HTML page (`scan --html FILE`, and
//! serve's `/`): host, coverage, findings by process with causes before
//! consequences, evidence tables, thread and kernel/user stacks, fixes.
//! Inline CSS and one inline script, no fetch of any kind (the page's own
//! Content-Security-Policy forbids them), readable on a phone, printable.
//!
//! The page is rendered by minijinja from the same `Report` as every other
//! renderer, with HTML autoescape on: process names, command lines, titles
//! and evidence come from the host and anyone can set them. The report JSON
//! (and, when asked for, the raw snapshots) is embedded in `<script
//! type="application/json">` blocks with `<`, `>` and `&` written as JSON
//! escapes, so no string can close the block; `unwedge scan --from-snapshot
//! page.html` reads the snapshots back.

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value};
use serde::Serialize;
use unwedge_model::{Report, Scan, Severity};

mod sections;

use sections::{sections, MAX_ROWS};

const TEMPLATE: &str = include_str!("html/page.html");
const STYLE: &str = include_str!("html/page.css");
const SCRIPT: &str = include_str!("html/page.js");

/// The id of the embedded snapshots block (read back by the pipeline).
pub const SNAPSHOT_BLOCK_ID: &str = unwedge_pipeline::HTML_SNAPSHOT_ID;

/// A small chart of one count over time (serve's page), drawn here as SVG.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub title: String,
    pub now: String,
    pub max: String,
    /// Inline SVG, numbers only (no host strings in it).
    #[serde(skip)]
    pub svg: String,
}

/// What goes into a page besides the report.
#[derive(Default)]
pub struct Extras<'a> {
    /// Raw snapshots to embed (a bug report that re-analyses).
    pub scan: Option<&'a Scan>,
    /// Charts above the findings (serve).
    pub charts: Vec<Chart>,
    /// A line under the title ("latest of 42 scans, every 15 s").
    pub subtitle: Option<String>,
    /// The heading of the charts ("Last hour").
    pub charts_title: String,
    /// Command lines were kept verbatim (`--no-redact`): the header says so,
    /// since the page may then hold passwords.
    pub unredacted: bool,
}

/// JSON safe inside `<script type="application/json">`: no `<`, `>` or `&`
/// (so no `</script>` or `<!--`), nor the two line separators old
/// JavaScript parsers choke on. Each is a JSON escape, so the text parses
/// to the same value.
pub fn script_json<T: Serialize>(v: &T) -> String {
    let text = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(text.len() + 64);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The page's Content-Security-Policy: nothing may be fetched, and the only
/// script that may run is the page's own (named by its hash), so even a
/// host string that escaped escaping could not run.
pub fn csp() -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, SCRIPT.as_bytes());
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{}'; base-uri 'none'; form-action 'none'",
        base64(hash.as_ref())
    )
}

pub fn render(r: &Report, extras: &Extras) -> Result<String, String> {
    let mut env = Environment::new();
    // Every template is HTML: escape every value not marked safe.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("page.html", TEMPLATE).map_err(|e| format!("HTML template: {e}"))?;
    let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    let counts: Vec<(&str, usize)> = [Severity::Critical, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|s| (s.name(), count(s)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let c = &r.coverage;
    let skipped: Vec<(u32, String)> = c.skipped.iter().take(MAX_ROWS).map(|s| (s.pid, s.reason.text())).collect();
    let ctx = minijinja::context! {
        host => r.host.clone(),
        taken_at => r.taken_at.clone(),
        version => r.unwedge_version.clone(),
        interval_s => format!("{:.1}", r.interval_ms as f64 / 1000.0),
        duration_s => format!("{:.2}", r.duration_ms as f64 / 1000.0),
        total => r.findings.len(),
        counts => Value::from(Serde(&counts)),
        coverage => minijinja::context! {
            processes => c.processes, threads => c.threads, sockets => c.sockets, netns => c.netns,
            skipped => Value::from(Serde(&skipped)), skipped_more => c.skipped.len().saturating_sub(MAX_ROWS),
            notes => Value::from(Serde(&c.notes)),
        },
        sections => Value::from(Serde(sections(r))),
        subtitle => extras.subtitle.clone(),
        unredacted => extras.unredacted,
        charts_title => extras.charts_title.clone(),
        charts => extras.charts.iter().map(|ch| minijinja::context! {
            title => ch.title.clone(), now => ch.now.clone(), max => ch.max.clone(),
            svg => Value::from_safe_string(ch.svg.clone()),
        }).collect::<Vec<_>>(),
        csp => csp(),
        style => Value::from_safe_string(STYLE.to_string()),
        script => Value::from_safe_string(SCRIPT.to_string()),
        report_json => Value::from_safe_string(script_json(r)),
        snapshot_json => extras.scan.map(|s| Value::from_safe_string(script_json(s))),
        snapshot_id => SNAPSHOT_BLOCK_ID,
    };
    env.get_template("page.html").and_then(|t| t.render(ctx)).map_err(|e| format!("HTML page: {e}"))
}

/// A line chart of `points` (unix ms, value) over the last `window_ms`
/// before `now_ms`, as inline SVG: numbers only.
pub fn svg_chart(points: &[(u64, u64)], now_ms: u64, window_ms: u64) -> String {
    const W: f64 = 300.0;
    const H: f64 = 60.0;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let start = now_ms.saturating_sub(window_ms);
    let xy = |(t, v): (u64, u64)| {
        let x = (t.saturating_sub(start)) as f64 / window_ms.max(1) as f64 * W;
        let y = H - 2.0 - (v as f64 / max) * (H - 6.0);
        (x.clamp(0.0, W), y)
    };
    let pts: Vec<(f64, f64)> = points.iter().filter(|p| p.0 >= start).map(|&p| xy(p)).collect();
    let line: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let area = match (pts.first(), pts.last()) {
        (Some(f), Some(l)) => {
            format!("<polygon class=\"area\" points=\"{:.1},{H} {} {:.1},{H}\"/>", f.0, line.join(" "), l.0)
        }
        _ => String::new(),
    };
    // The latest value as a dot (a zero-length round-capped line, so that the
    // stretched viewBox does not make it an ellipse): a single point draws no line.
    let dot = pts
        .last()
        .map_or(String::new(), |(x, y)| format!("<polyline class=\"dot\" points=\"{x:.1},{y:.1} {x:.1},{y:.1}\"/>"));
    format!(
        "<svg viewBox=\"0 0 {W} {H}\" preserveAspectRatio=\"none\" role=\"img\" aria-hidden=\"true\">\
         <line class=\"base\" x1=\"0\" y1=\"{b}\" x2=\"{W}\" y2=\"{b}\"/>{area}<polyline class=\"line\" points=\"{}\"/>{dot}</svg>",
        line.join(" "),
        b = H - 2.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::fake::*;
    use serde_json::Value as Json;

    #[test]
    fn host_strings_are_escaped_everywhere() {
        let mut f = close_wait(7, 80, 20);
        let evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>";
        f.comm = Some("<script>x".into());
        f.title = format!("{evil} holds 20 sockets");
        f.explanation = evil.into();
        f.fix = evil.into();
        if let unwedge_model::Evidence::CloseWaitLeak(e) = &mut f.evidence {
            e.examples = vec![evil.into()];
            e.peers.insert(evil.into(), 3);
        }
        let r = report(vec![f]);
        let html = render(&r, &Extras::default()).unwrap();
        assert!(!html.contains("<script>x"), "comm not escaped");
        assert!(html.contains("&lt;script&gt;x"));
        assert!(!html.contains("<img"), "evidence not escaped");
        // Exactly the page's own scripts: the JSON block(s) and the one inline script.
        assert_eq!(html.matches("<script").count(), 2, "{html}");
        assert_eq!(html.matches("</script>").count(), 2);
        // The embedded JSON still parses to the report.
        let start = html.find("id=\"unwedge-report\">").unwrap() + "id=\"unwedge-report\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let back: Report = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn no_external_reference_and_a_csp_naming_the_script() {
        let html = render(&report(vec![close_wait(7, 80, 20), stalled(8, 81, 3)]), &Extras::default()).unwrap();
        for bad in ["http://", "https://", "src=\"//", "href=\"//", "@import", "url("] {
            assert!(!html.contains(bad), "{bad} in the page");
        }
        assert!(html.contains("Content-Security-Policy"));
        assert!(csp().contains("script-src 'sha256-"));
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn causes_come_first_and_a_group_is_shown_once() {
        let mut r = report(vec![close_wait(10, 90, 20), close_wait(11, 90, 20), close_wait(12, 90, 20), stuck(5, 6)]);
        for f in &mut r.findings[1..] {
            f.group = Some("g1".into());
        }
        r.groups.push(unwedge_model::Group {
            id: "g1".into(),
            kind: r.findings[1].kind(),
            pids: vec![10, 11, 12],
            title: "3 workers of leaky piled up".into(),
            parent: None,
            program: String::new(),
            ages_s: Vec::new(),
            representative: String::new(),
        });
        r.findings[1].caused_by = vec!["f1".into()];
        let html = render(&r, &Extras::default()).unwrap();
        let cause = html.find("id=\"f1\"").unwrap();
        let effect = html.find("id=\"f2\"").unwrap();
        assert!(cause < effect, "the cause first");
        assert!(html.contains("consequence of <a href=\"#f1\">"));
        assert!(html.contains("Leads to <a href=\"#f2\">"));
        assert!(html.contains("<h3>3 workers of leaky piled up</h3>"), "the group's headline");
        assert!(!html.contains("id=\"f3\""), "group members are rows, not articles");
    }

    #[test]
    fn script_json_cannot_close_its_block() {
        let s = script_json(&serde_json::json!({"x": "</script><!-- & \u{2028}"}));
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        let back: Json = serde_json::from_str(&s).unwrap();
        assert_eq!(back["x"], "</script><!-- & \u{2028}");
    }
}
