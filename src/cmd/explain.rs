//! `unwedge explain [KIND]`: a finding kind's page from docs/kinds/ (what it
//! means, the kernel facts, the false alarms it avoids, the fix) and the
//! story behind it from docs/stories.md, both compiled in, so that whoever
//! reads a finding on a host without the source tree can look it up. The
//! pages are markdown; links are flattened to their text, since a terminal
//! cannot follow them.

use crate::cli::ExplainArgs;
use crate::Fatal;
use std::io::Write;
use unwedge_model::{Kind, Source};

include!(concat!(env!("OUT_DIR"), "/kind_pages.rs"));

const STORIES: &str = include_str!("../../docs/stories.md");

pub fn run(args: &ExplainArgs) -> Result<u8, Fatal> {
    let text = match &args.kind {
        None => list(),
        Some(name) => {
            let kind = parse(name).ok_or_else(|| Fatal::UnknownKind(name.clone()))?;
            explain(kind).ok_or(Fatal::NoKindPage(kind))?
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(0)
}

/// A kind as a report names it; `close-wait-leak` and upper case too.
fn parse(name: &str) -> Option<Kind> {
    Kind::from_name(&name.trim().to_ascii_lowercase().replace('-', "_"))
}

pub(crate) fn page(kind: Kind) -> Option<&'static str> {
    KIND_PAGES.iter().find(|(stem, _)| *stem == kind.name()).map(|(_, page)| *page)
}

/// The one-line summary of a page: its first `> ` line.
pub(crate) fn summary(page: &str) -> &str {
    page.lines().find_map(|l| l.strip_prefix("> ")).unwrap_or("")
}

/// `unwedge explain`: every kind, one line each.
fn list() -> String {
    let width = Kind::ALL.iter().map(|k| k.name().len()).max().unwrap_or(0);
    let mut s = String::new();
    for (title, source) in [("Found by `unwedge scan`", Source::Scan), ("Found by `unwedge probe`", Source::Probe)] {
        s.push_str(title);
        s.push_str(":\n");
        let shown = |k: &&Kind| k.source() == source || (k.source() == Source::Both && source == Source::Scan);
        for k in Kind::ALL.iter().filter(shown) {
            let line = page(*k).map(summary).unwrap_or("(no page in this build)");
            let also = if k.source() == Source::Both { " (probe too)" } else { "" };
            s.push_str(&format!("  {:width$}  {line}{also}\n", k.name()));
        }
        s.push('\n');
    }
    s.push_str("`unwedge explain KIND` prints what a kind means, the kernel facts it rests on, the false alarms it\n");
    s.push_str("avoids and the fix.\n");
    s
}

/// The page of `kind`, then the story behind it.
fn explain(kind: Kind) -> Option<String> {
    let page = page(kind)?;
    let mut s = flatten(page);
    if let Some(story) = story_anchor(page).and_then(story) {
        s.push_str("\n## The story behind it\n\n");
        // One level below the page's own sections.
        s.push_str(&flatten(story).replace("## ", "### "));
    }
    Some(s)
}

/// The anchor of the page's first link into the stories.
fn story_anchor(page: &str) -> Option<&str> {
    let at = page.find("stories.md#")? + "stories.md#".len();
    let rest = &page[at..];
    Some(&rest[..rest.find(')')?])
}

/// The section of docs/stories.md after `<a id="ANCHOR"></a>`, up to the next anchor.
fn story(anchor: &str) -> Option<&'static str> {
    let mark = format!("<a id=\"{anchor}\"></a>");
    let start = STORIES.find(&mark)? + mark.len();
    let rest = &STORIES[start..];
    let end = rest.find("<a id=\"").unwrap_or(rest.len());
    Some(rest[..end].trim_matches('\n'))
}

/// Markdown for a terminal: `[text](target)` becomes `text`, `**bold**`
/// plain text.
fn flatten(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut rest = md;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let target_len = after[close + 2..].find(')')?;
            // A bracket inside the text means it is not a link.
            (!after[..close].contains(['[', ']', '\n'])).then(|| (&after[..close], close + 3 + target_len))
        });
        match link {
            Some((text, len)) => {
                out.push_str(&rest[..open]);
                out.push_str(text);
                rest = &after[len..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("**", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_their_text() {
        assert_eq!(flatten("see [accept_stalled](accept_stalled.md)."), "see accept_stalled.");
        assert_eq!(flatten("**Story:** [Story 2](../stories.md#story-2)"), "Story: Story 2");
        assert_eq!(
            flatten("- **Evidence:** [its fields in docs/contract.md](../contract.md#zombie)"),
            "- Evidence: its fields in docs/contract.md"
        );
        // Brackets that are no link stay.
        assert_eq!(flatten("args [0x1, 0x2] and [x] (y)"), "args [0x1, 0x2] and [x] (y)");
    }

    #[test]
    fn every_kind_has_a_page_with_a_summary_and_a_story() {
        for &k in Kind::ALL {
            let p = page(k).unwrap_or_else(|| panic!("{k}: no docs/kinds/{k}.md compiled in"));
            assert!(!summary(p).is_empty(), "{k}: its page has no '> ' summary line");
            let anchor = story_anchor(p).unwrap_or_else(|| panic!("{k}: its page links no story"));
            assert!(story(anchor).is_some(), "{k}: docs/stories.md has no <a id=\"{anchor}\"></a>");
            assert!(!explain(k).unwrap().contains("]("), "{k}: a link left unflattened");
        }
    }

    #[test]
    fn names_as_people_type_them() {
        assert_eq!(parse("close_wait_leak"), Some(Kind::CloseWaitLeak));
        assert_eq!(parse("Close-Wait-Leak"), Some(Kind::CloseWaitLeak));
        assert_eq!(parse("close wait"), None);
    }
}
