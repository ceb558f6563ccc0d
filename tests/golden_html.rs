//! Golden tests of the HTML page: every recorded fixture (see
//! golden_support) rendered by the real binary, `unwedge scan
//! --from-snapshot F --html PAGE`, and the page reduced to what a reader
//! sees: its visible text, line by line, with markers for the structure
//! that carries meaning (headings `#`, list items `-`, table rows `|`,
//! summaries `▸`, links `[text](#target)`, each finding's article with its
//! id, severity and depth). Styles, the script, the charts' SVG and the
//! embedded JSON are left out: they are not text, and the JSON is the
//! contract `scan --json` is tested on.
//!
//! Redacted: the scan's own duration and the version, the only parts that
//! change between two renderings of one file.
//!
//! To accept a deliberate change: `INSTA_UPDATE=always cargo test --test
//! golden_html`, then review `git diff tests/snapshots`.

mod common;
mod golden_support;

use golden_support::Fixture;
use std::time::Duration;

/// Elements whose content is not text for a reader.
const HIDDEN: [&str; 4] = ["script", "style", "svg", "head"];
/// Elements that start and end a line of their own.
const BLOCKS: [&str; 25] = [
    "header",
    "footer",
    "nav",
    "main",
    "section",
    "article",
    "div",
    "figure",
    "figcaption",
    "h1",
    "h2",
    "h3",
    "p",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "details",
    "summary",
    "pre",
    "br",
    "body",
];

/// The text as it is built: finished lines and the current one.
#[derive(Default)]
struct Text {
    lines: Vec<String>,
    line: String,
    /// Inside <pre>: line breaks are kept.
    pre: bool,
    /// Cells already on the current table row.
    cells: usize,
    /// The targets of the links open now.
    links: Vec<String>,
}

impl Text {
    fn end_line(&mut self) {
        let l = self.line.trim_end().to_string();
        if !l.is_empty() {
            self.lines.push(l);
        }
        self.line.clear();
    }

    fn push(&mut self, s: &str) {
        if self.line.is_empty() || self.line.ends_with(' ') {
            self.line.push_str(s.trim_start());
        } else {
            self.line.push_str(s);
        }
    }

    fn text(&mut self, raw: &str) {
        let t = decode(raw);
        if self.pre {
            for (i, part) in t.split('\n').enumerate() {
                if i > 0 {
                    self.end_line();
                }
                self.line.push_str(part);
            }
            return;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        if words.is_empty() {
            if !t.is_empty() && !self.line.is_empty() && !self.line.ends_with(' ') {
                self.line.push(' ');
            }
            return;
        }
        let lead = if t.starts_with(char::is_whitespace) { " " } else { "" };
        let tail = if t.ends_with(char::is_whitespace) { " " } else { "" };
        self.push(&format!("{lead}{}{tail}", words.join(" ")));
    }

    fn open(&mut self, name: &str, tag: &str) {
        if BLOCKS.contains(&name) {
            self.end_line();
        }
        match name {
            "h1" => self.push("# "),
            "h2" => self.push("## "),
            "h3" => self.push("### "),
            "li" => self.push("- "),
            "summary" => self.push("▸ "),
            "pre" => self.pre = true,
            "tr" => self.cells = 0,
            "td" | "th" => {
                if self.cells > 0 {
                    self.push(" | ");
                } else {
                    self.push("| ");
                }
                self.cells += 1;
            }
            "button" => self.push("[button: "),
            // Tags and badges sit side by side with no space in the markup (CSS spaces them).
            "span" if !self.line.is_empty() && !self.line.ends_with(' ') => self.line.push(' '),
            "a" => {
                self.push("[");
                self.links.push(attr(tag, "href").unwrap_or_default());
            }
            "article" | "section" => {
                let id = attr(tag, "id").map(|i| format!(" #{i}")).unwrap_or_default();
                let class = attr(tag, "class").map(|c| format!(" .{}", c.replace(' ', "."))).unwrap_or_default();
                self.push(&format!("[{name}{id}{class}]"));
                self.end_line();
            }
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        match name {
            "pre" => self.pre = false,
            "button" => self.line.push(']'),
            "a" => {
                let href = self.links.pop().unwrap_or_default();
                self.line.push_str(&format!("]({href})"));
            }
            _ => {}
        }
        if BLOCKS.contains(&name) {
            self.end_line();
        }
    }
}

/// The value of `name="…"` in a start tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let i = tag.find(&needle)? + needle.len();
    let end = tag[i..].find('"')?;
    Some(decode(&tag[i..i + end]))
}

/// The entities the page's escaping writes.
fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The page's title, then the visible text of its body.
fn visible_text(html: &str) -> String {
    let mut t = Text::default();
    if let (Some(a), Some(b)) = (html.find("<title>"), html.find("</title>")) {
        t.lines.push(format!("title: {}", decode(&html[a + "<title>".len()..b])));
    }
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        t.text(&rest[..lt]);
        rest = &rest[lt..];
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[..=gt];
        rest = &rest[gt + 1..];
        if tag.starts_with("<!") {
            continue;
        }
        let closing = tag.starts_with("</");
        let name: String = tag[if closing { 2 } else { 1 }..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if closing {
            t.close(&name);
        } else if HIDDEN.contains(&name.as_str()) {
            let end = format!("</{name}>");
            rest = rest.find(&end).map_or("", |i| &rest[i + end.len()..]);
        } else {
            t.open(&name, tag);
            if tag.ends_with("/>") || name == "br" {
                t.close(&name);
            }
        }
    }
    t.text(rest);
    t.end_line();
    t.lines.join("\n") + "\n"
}

/// The scan's own duration ("scan took 0.01 s") and the version.
fn redact(text: &str) -> String {
    let version = format!("unwedge {}", env!("CARGO_PKG_VERSION"));
    text.lines()
        .map(|l| {
            let mut l = l.replace(&version, "unwedge [version]");
            if let Some(i) = l.find("scan took ") {
                let from = i + "scan took ".len();
                if let Some(j) = l[from..].find(" s") {
                    l.replace_range(from..from + j, "[duration]");
                }
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn page(f: &Fixture, dir: &std::path::Path) -> Result<String, String> {
    let out_file = dir.join(format!("{}.html", f.name));
    let out = common::run_with_deadline(
        common::unwedge()
            .args(["scan", "--color", "never", "--from-snapshot"])
            .arg(&f.path)
            .arg("--html")
            .arg(&out_file),
        Duration::from_secs(60),
    )
    .finished();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(1) => {}
        Some(0) if !f.bad_kind => {}
        code => return Err(format!("{}: exit {code:?} ({stderr})", f.name)),
    }
    if !stderr.is_empty() {
        return Err(format!("{}: unwedge wrote to stderr: {stderr}", f.name));
    }
    std::fs::read_to_string(&out_file).map_err(|e| format!("{}: no page: {e}", f.name))
}

#[test]
fn visible_text_keeps_text_and_structure_only() {
    let html = "<!doctype html><html><head><title>t &amp; u</title><style>p{}</style></head><body>\
        <h1>unwedge <span>h</span><span>i</span></h1><p class=\"meta\">taken x · scan took 0.12 s · unwedge 0.0</p>\
        <article class=\"finding warning d1\" id=\"f2\"><h3>A  &lt;b&gt;\n title</h3>\
        <p>see <a href=\"#f1\">f1: cause</a>; <button type=\"button\">Print</button></p>\
        <table><tr><th>pid</th><th>why</th></tr><tr><td>7</td><td>gone</td></tr></table>\
        <ul><li><code>fd 5</code></li></ul><pre class=\"stack\">a+0x1\nb+0x2\n</pre>\
        <svg><line/></svg><details open><summary>Thread 8</summary></details></article>\
        <script type=\"application/json\">{\"x\": \"<\"}</script></body></html>";
    let want = "title: t & u\n# unwedge h i\ntaken x · scan took 0.12 s · unwedge 0.0\n[article #f2 .finding.warning.d1]\n\
        ### A <b> title\nsee [f1: cause](#f1); [button: Print]\n| pid | why\n| 7 | gone\n- fd 5\na+0x1\nb+0x2\n▸ Thread 8\n";
    assert_eq!(visible_text(html), want);
    assert_eq!(
        redact(&format!("taken x · scan took 0.12 s · unwedge {}\n", env!("CARGO_PKG_VERSION"))),
        "taken x · scan took [duration] s · unwedge [version]\n"
    );
}

#[test]
fn html_page_of_every_recorded_fixture() {
    let fixtures = golden_support::fixtures();
    assert!(fixtures.len() >= 20, "found only {} fixtures: {fixtures:?}", fixtures.len());
    let dir = tempfile::tempdir().unwrap();
    let mut failed = Vec::new();
    for f in &fixtures {
        let result = std::panic::catch_unwind(|| {
            let html = page(f, dir.path()).unwrap_or_else(|e| panic!("{e}"));
            let text = redact(&visible_text(&html));
            assert!(text.lines().count() > 10, "{}: hardly any text:\n{text}", f.name);
            insta::with_settings!({ description => f.shown(), omit_expression => true }, {
                insta::assert_snapshot!(f.name.as_str(), text);
            });
        });
        if result.is_err() {
            failed.push(f.name.clone());
        }
    }
    assert!(failed.is_empty(), "HTML page changed for {failed:?} (the diffs are above); if intended: INSTA_UPDATE=always cargo test --test golden_html, and review git diff tests/snapshots");
    golden_support::no_orphan_snapshots("golden_html", &fixtures);
}
