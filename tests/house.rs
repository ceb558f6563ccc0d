//! The house rules a reader relies on, checked so they stay true: no source
//! file over 700 lines and no function over 120 lines, outside tests
//! (`tests/`, `#[cfg(test)]` modules, benches, examples and fuzz targets).
//! A long function is where deciding and wording, or two passes, end up
//! mixed; a long file is several modules waiting to be split.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 700;
const MAX_FN_LINES: usize = 120;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every non-test Rust source of the binary and the workspace crates.
fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("src")];
    for e in std::fs::read_dir(root().join("crates")).unwrap() {
        dirs.push(e.unwrap().path().join("src"));
    }
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The lines before the file's `#[cfg(test)]` module, if any.
fn code_lines(text: &str) -> Vec<&str> {
    text.lines().take_while(|l| l.trim_start() != "#[cfg(test)]").collect()
}

/// (name, first line, length) of every function whose body spans lines:
/// from its `fn` line to the closing brace at the same indentation.
fn functions(lines: &[&str]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let indent = l.len() - t.len();
        let Some(name) = fn_name(t) else { continue };
        if t.ends_with(';') {
            continue;
        }
        let close = " ".repeat(indent) + "}";
        let end = lines[i + 1..].iter().position(|l| l.starts_with(&close) && l.len() - l.trim_start().len() == indent);
        if let Some(n) = end {
            out.push((name, i + 1, n + 2));
        }
    }
    out
}

fn fn_name(t: &str) -> Option<String> {
    let mut rest = t;
    for prefix in ["pub(crate) ", "pub(super) ", "pub ", "async ", "const ", "unsafe ", "extern \"C\" "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    Some(rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next()?.to_string())
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn no_source_file_is_over_700_lines_and_no_function_over_120() {
    let mut over = Vec::new();
    for p in sources() {
        let text = std::fs::read_to_string(&p).unwrap();
        let lines = code_lines(&text);
        if lines.len() > MAX_FILE_LINES {
            over.push(format!("{}: {} lines (split it into modules of one purpose each)", rel(&p), lines.len()));
        }
        for (name, at, len) in functions(&lines) {
            if len > MAX_FN_LINES {
                over.push(format!("{}:{at}: fn {name} is {len} lines", rel(&p)));
            }
        }
    }
    assert!(
        over.is_empty(),
        "over the house limits ({MAX_FILE_LINES} lines a file, {MAX_FN_LINES} a function):\n- {}",
        over.join("\n- ")
    );
}

#[test]
fn the_counter_counts() {
    let text =
        "fn a() {\n    x;\n}\n\npub fn b(\n    y: u8,\n) -> u8 {\n    y\n}\nfn decl();\n#[cfg(test)]\nfn t() {\n}\n";
    let lines = code_lines(text);
    assert_eq!(lines.len(), 10);
    assert_eq!(functions(&lines), vec![("a".to_string(), 1, 3), ("b".to_string(), 5, 5)]);
}
