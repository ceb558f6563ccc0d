//! docs/contract.md and the evidence tables of the kind pages
//! (docs/kinds/<kind>.md, section "Evidence") against the typed model, both
//! ways, so the pages cannot drift from what unwedge writes:
//! - every key the model serialises is in the page: the report and evidence
//!   of every recorded fixture (each `*.json` under crates/analyze holding
//!   `"snapshots"`), the evidence types' `Default` values, the snapshot
//!   files themselves, and a probe report with every field filled;
//! - every field the page lists exists, with the type it says: from each
//!   table a sample document is built (one value of each row's type) and
//!   read back through the model (`Evidence::from_json`, `Report`), then
//!   written again; a row the model does not know is dropped on the way, a
//!   field the model requires and the page lacks fails the read, and a key
//!   the model adds is not in the table.
//!
//! The page's format is what this parses: a `### heading` (a kind's JSON
//! name in backticks, or a shape's name) followed by a `| field | type |
//! meaning |` table; the types are those its "How to read the tables"
//! section lists.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use unwedge_model::evidence::{
    BlockedSignal, CloseWaitLeak, ConntrackFull, CpuThrottled, EphemeralPortsExhausted, MemoryPressure, PeerNotReading,
    PidLimit, StuckThread, SynQueueOverflow, UnansweredRequests,
};
use unwedge_model::{Evidence, Kind, Report, Scan, Snapshot};

/// Where the tables are, for messages.
const DOC: &str = "the contract (docs/contract.md, the Evidence sections of docs/kinds/*.md)";

/// The pages holding tables: the contract, then each kind's page, whose
/// links to shared shapes point back into the contract.
fn pages() -> Vec<(String, String)> {
    let mut v = vec![("docs/contract.md".to_string(), read("docs/contract.md"))];
    let mut kinds: Vec<PathBuf> = std::fs::read_dir(root().join("docs/kinds"))
        .expect("docs/kinds")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md") && !p.ends_with("README.md"))
        .collect();
    kinds.sort();
    for p in kinds {
        let rel = rel(&p);
        v.push((rel.clone(), read(&rel).replace("](../contract.md#", "](#")));
    }
    v
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// A row's type, as the page spells it.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Int,
    Num,
    Str,
    Bool,
    /// `one of a, b, c`: the first value.
    OneOf(String),
    KindName,
    /// Its keys are rows below it (`key.child`, `key[].child`).
    Object,
    /// `object: …`: described in words, its inner keys not promised.
    Opaque,
    Array(Box<Ty>),
    Pair(Box<Ty>),
    Map(Box<Ty>),
    /// A link to a shared shape, by its heading's anchor.
    Shape(String),
}

fn parse_ty(text: &str) -> Result<Ty, String> {
    let mut s = text.trim();
    s = s.strip_suffix(", optional").unwrap_or(s);
    s = s.strip_suffix(" or null").unwrap_or(s);
    if s.contains("object:") {
        return Ok(Ty::Opaque);
    }
    if let Some(rest) = s.strip_prefix("array of ") {
        return Ok(Ty::Array(Box::new(parse_ty(rest)?)));
    }
    if let Some(rest) = s.strip_prefix("pair of ") {
        return Ok(Ty::Pair(Box::new(parse_ty(rest)?)));
    }
    if let Some(rest) = s.strip_prefix("map of ") {
        return Ok(Ty::Map(Box::new(parse_ty(rest)?)));
    }
    if let Some(rest) = s.strip_prefix("one of ") {
        return Ok(Ty::OneOf(rest.split(", ").next().unwrap_or_default().to_string()));
    }
    if let (Some(open), Some(close)) = (s.find("](#"), s.rfind(')')) {
        if s.starts_with('[') && close == s.len() - 1 {
            return Ok(Ty::Shape(s[open + 3..close].to_string()));
        }
    }
    Ok(match s {
        "integer" => Ty::Int,
        "number" => Ty::Num,
        "string" => Ty::Str,
        "bool" => Ty::Bool,
        "object" => Ty::Object,
        "kind name" => Ty::KindName,
        other => return Err(format!("unknown type '{other}' (see \"How to read the tables\")")),
    })
}

#[derive(Debug)]
struct Row {
    key: String,
    ty: Ty,
}

#[derive(Debug)]
struct Table {
    heading: String,
    /// The kind, for a heading that names one in backticks.
    kind: Option<Kind>,
    rows: Vec<Row>,
}

impl Table {
    /// The rows directly below `prefix` ("" for the top, `waiting[]` for
    /// the elements of `waiting`, `masks` for the keys of `masks`).
    fn children<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a Row)> + 'a {
        self.rows.iter().filter_map(move |r| {
            let name =
                if prefix.is_empty() { r.key.as_str() } else { r.key.strip_prefix(prefix)?.strip_prefix('.')? };
            (!name.contains('.') && !name.contains('[')).then_some((name, r))
        })
    }
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

struct Doc {
    /// By anchor.
    tables: BTreeMap<String, Table>,
}

impl Doc {
    fn load() -> Doc {
        let mut tables = BTreeMap::new();
        let mut errors = Vec::new();
        for (page, text) in pages() {
            Doc::parse(&page, &text, &mut tables, &mut errors);
        }
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        Doc { tables }
    }

    fn parse(page: &str, text: &str, tables: &mut BTreeMap<String, Table>, errors: &mut Vec<String>) {
        let mut heading = String::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(h) = line.strip_prefix("### ") {
                heading = h.trim().to_string();
                continue;
            }
            let cells = |l: &str| -> Vec<String> {
                l.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect()
            };
            if !line.starts_with('|') || cells(line) != ["field", "type", "meaning"] {
                continue;
            }
            lines.next(); // | --- | --- | --- |
            let kind = match heading.strip_prefix('`').and_then(|h| h.split('`').next()) {
                Some(name) => match Kind::from_name(name) {
                    Some(k) => Some(k),
                    None => {
                        errors.push(format!("{page}: heading \"### {heading}\" names `{name}`, which is no kind"));
                        None
                    }
                },
                None => None,
            };
            let mut rows = Vec::new();
            while let Some(l) = lines.next_if(|l| l.starts_with('|')) {
                let c = cells(l);
                let key = c[0].trim_matches('`').to_string();
                match c.get(1).map(|t| parse_ty(t)) {
                    Some(Ok(ty)) => rows.push(Row { key, ty }),
                    Some(Err(e)) => errors.push(format!("{page}: \"### {heading}\", row `{key}`: {e}")),
                    None => errors.push(format!("{page}: \"### {heading}\", row `{key}` has no type")),
                }
            }
            let t = Table { heading: heading.clone(), kind, rows };
            if tables.insert(slug(&heading), t).is_some() {
                errors.push(format!("{page}: two tables under \"### {heading}\""));
            }
        }
    }

    fn shape(&self, anchor: &str) -> &Table {
        self.tables.get(anchor).unwrap_or_else(|| panic!("{DOC}: a link to #{anchor}, which is no table's heading"))
    }

    /// The tables of a kind: one, or one per shape of its evidence.
    fn kind(&self, kind: Kind) -> Vec<&Table> {
        self.tables.values().filter(|t| t.kind == Some(kind)).collect()
    }

    /// One value of `ty`, for the row at `prefix` of `table`.
    fn sample(&self, table: &Table, prefix: &str, ty: &Ty) -> Value {
        match ty {
            Ty::Int => json!(1),
            Ty::Num => json!(1.5),
            Ty::Str => json!("x"),
            Ty::Bool => json!(true),
            Ty::OneOf(v) => json!(v),
            Ty::KindName => json!(Kind::ALL[0].name()),
            Ty::Opaque => json!({}),
            Ty::Object => self.object(table, prefix),
            Ty::Array(inner) if **inner == Ty::Object => json!([self.object(table, &format!("{prefix}[]"))]),
            Ty::Array(inner) => json!([self.sample(table, prefix, inner)]),
            // A pair of integers is a range: low, high.
            Ty::Pair(inner) if **inner == Ty::Int => json!([1, 2]),
            Ty::Pair(inner) => json!([self.sample(table, prefix, inner), self.sample(table, prefix, inner)]),
            // Map keys that parse as ports and thread ids as well as names.
            Ty::Map(inner) => json!({ "1": self.sample(table, prefix, inner) }),
            Ty::Shape(anchor) => {
                let shape = self.shape(anchor);
                self.object(shape, "")
            }
        }
    }

    fn object(&self, table: &Table, prefix: &str) -> Value {
        let mut m = Map::new();
        for (name, row) in table.children(prefix) {
            m.insert(name.to_string(), self.sample(table, &row.key, &row.ty));
        }
        Value::Object(m)
    }

    /// Whether `path` (as [`paths`] spells it) is a row of `table`, or lies
    /// inside a row whose inner keys are data (`map of`) or not promised
    /// (`object: …`), or inside a shape that has it.
    fn has(&self, table: &Table, path: &str) -> bool {
        table.rows.iter().any(|row| {
            if path == row.key {
                return true;
            }
            let Some(rest) = path.strip_prefix(&row.key) else { return false };
            if !rest.starts_with('.') && !rest.starts_with('[') {
                return false;
            }
            let mut ty = &row.ty;
            while let Ty::Array(inner) | Ty::Pair(inner) = ty {
                ty = inner;
            }
            let inside = rest.trim_start_matches("[]");
            match ty {
                Ty::Opaque | Ty::Map(_) => true,
                Ty::Shape(anchor) => inside.is_empty() || self.has(self.shape(anchor), inside.trim_start_matches('.')),
                // An array of scalars: `key[]`.
                _ => inside.is_empty(),
            }
        })
    }
}

/// Every key path of `v`: `a`, `a.b`, `list`, `list[]`, `list[].c`.
fn paths(v: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    out.insert(p.clone());
                    walk(x, &p, out);
                }
            }
            Value::Array(a) => {
                for x in a {
                    let p = format!("{prefix}[]");
                    out.insert(p.clone());
                    walk(x, &p, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(v, "", &mut out);
    out
}

/// Collects every complaint, so one run lists all that is missing.
#[derive(Default)]
struct Missing(Vec<String>);

impl Missing {
    fn assert_none(self, what: &str) {
        assert!(self.0.is_empty(), "{what}:\n- {}", self.0.join("\n- "));
    }
}

/// Keys the page lacks, each told once (with the first file that has it),
/// and not those inside a key already told.
#[derive(Default)]
struct Unlisted(BTreeMap<(String, String), (String, usize)>);

impl Unlisted {
    /// `what` says where the key was found ("the evidence of `zombie`"),
    /// `table` where the page should list it.
    fn add(&mut self, what: &str, table: &str, path: &str, source: &str) {
        let e = self.0.entry((format!("{what}\u{0}{table}"), path.to_string())).or_insert((source.to_string(), 0));
        e.1 += 1;
    }

    fn into_missing(self, m: &mut Missing) {
        let all: BTreeSet<(String, String)> = self.0.keys().cloned().collect();
        for ((where_, path), (source, n)) in self.0 {
            let inside = all.iter().any(|(w, p)| {
                *w == where_ && path.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('.') || r.starts_with('['))
            });
            if inside {
                continue;
            }
            let (what, table) = where_.split_once('\u{0}').unwrap();
            let more = if n > 1 { format!(" (and {} more)", n - 1) } else { String::new() };
            m.0.push(format!("{what} has the key `{path}` (in {source}{more}), which {table} in {DOC} does not list"));
        }
    }
}

/// Every recorded fixture: the `*.json` files under crates/analyze that
/// hold snapshots (wherever the kinds' folders live).
fn fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json")
                && std::fs::read_to_string(&p).is_ok_and(|t| t.contains("\"snapshots\""))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("crates/analyze"), &mut out);
    out.sort();
    assert!(out.len() >= 20, "found only {} fixtures under crates/analyze: {out:?}", out.len());
    out
}

fn load(path: &Path) -> Scan {
    unwedge_pipeline::load(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The report of `scan --from-snapshot F --json`, as JSON.
fn report_json(scan: &Scan) -> Value {
    let report = unwedge_pipeline::report(scan, &unwedge_pipeline::Thresholds::default(), Duration::ZERO);
    serde_json::to_value(&report).unwrap()
}

/// Checks `value`'s keys (evidence left out) against the page's `table`;
/// each evidence against its kind's tables.
fn check_report(doc: &Doc, value: &Value, source: &str, u: &mut Unlisted, m: &mut Missing) {
    let mut v = value.clone();
    let mut evidences = Vec::new();
    for f in v["findings"].as_array_mut().into_iter().flatten() {
        evidences.push((f["kind"].as_str().unwrap_or_default().to_string(), f["evidence"].take()));
    }
    let report = doc.shape("report");
    for p in paths(&v) {
        if !doc.has(report, &p) {
            u.add("the report", "the report's tables", &p, source);
        }
    }
    for (kind, ev) in evidences {
        check_evidence(doc, &kind, &ev, source, u, m);
    }
}

fn check_evidence(doc: &Doc, kind: &str, ev: &Value, source: &str, u: &mut Unlisted, m: &mut Missing) {
    let Some(k) = Kind::from_name(kind) else {
        m.0.push(format!("{source}: a finding of unknown kind {kind:?}"));
        return;
    };
    let tables = doc.kind(k);
    if tables.is_empty() {
        m.0.push(format!("{DOC} has no table \"### `{kind}`\" (its evidence, from {source})"));
        return;
    }
    for p in paths(ev) {
        if !tables.iter().any(|t| doc.has(t, &p)) {
            u.add(
                &format!("the evidence of `{kind}`"),
                &format!("the table \"### {}\"", tables[0].heading),
                &p,
                source,
            );
        }
    }
}

#[test]
fn every_key_of_every_recorded_report_is_in_the_contract() {
    let doc = Doc::load();
    let (mut m, mut u) = (Missing::default(), Unlisted::default());
    for f in fixtures() {
        let scan = load(&f);
        check_report(&doc, &report_json(&scan), &rel(&f), &mut u, &mut m);
    }
    u.into_missing(&mut m);
    m.assert_none("keys the model writes that the contract lacks");
}

#[test]
fn every_key_of_default_evidence_is_in_the_contract() {
    let doc = Doc::load();
    let (mut m, mut u) = (Missing::default(), Unlisted::default());
    let defaults: Vec<Evidence> = vec![
        CloseWaitLeak::default().into(),
        BlockedSignal::default().into(),
        ConntrackFull::default().into(),
        CpuThrottled::default().into(),
        EphemeralPortsExhausted::default().into(),
        MemoryPressure::default().into(),
        PeerNotReading::default().into(),
        PidLimit::default().into(),
        StuckThread::default().into(),
        SynQueueOverflow::default().into(),
        UnansweredRequests::default().into(),
    ];
    for ev in defaults {
        let kind = ev.kind();
        check_evidence(&doc, kind.name(), &serde_json::to_value(&ev).unwrap(), "its Default value", &mut u, &mut m);
    }
    u.into_missing(&mut m);
    m.assert_none("keys the model writes that the contract lacks");
}

#[test]
fn every_kind_has_its_evidence_table() {
    let doc = Doc::load();
    let missing: Vec<&str> = Kind::ALL.iter().filter(|k| doc.kind(**k).is_empty()).map(|k| k.name()).collect();
    assert!(missing.is_empty(), "{DOC} has no evidence table for {missing:?}: add \"### `KIND`\" and its table");
}

/// Reads `sample` back through the model and writes it again: keys the
/// table lists and the model drops, and keys the model adds.
fn round_trip(doc: &Doc, table: &Table, sample: &Value, back: Result<Value, String>, m: &mut Missing) {
    let heading = &table.heading;
    let back = match back {
        Ok(v) => v,
        Err(e) => {
            m.0.push(format!(
                "the table \"### {heading}\" in {DOC} does not describe what the model reads: {e} \
                 (a field the model requires is not listed, or a row's type is wrong); the sample built from it: {sample}"
            ));
            return;
        }
    };
    let (want, got) = (paths(sample), paths(&back));
    for p in want.difference(&got) {
        m.0.push(format!(
            "the table \"### {heading}\" in {DOC} lists `{p}`, which the model does not write (no such field, or a different name)"
        ));
    }
    for p in got.difference(&want) {
        if !doc.has(table, p) {
            m.0.push(format!("the model writes `{p}`, which the table \"### {heading}\" in {DOC} does not list"));
        }
    }
}

#[test]
fn every_field_the_contract_lists_for_a_kind_exists_in_its_evidence() {
    let doc = Doc::load();
    let mut m = Missing::default();
    for table in doc.tables.values() {
        let Some(kind) = table.kind else { continue };
        let sample = doc.object(table, "");
        let back = Evidence::from_json(kind, sample.clone())
            .map_err(|e| e.to_string())
            .and_then(|ev| {
                if ev.kind() == kind {
                    Ok(ev)
                } else {
                    Err(format!("it reads as the evidence of {}", ev.kind()))
                }
            })
            .map(|ev| serde_json::to_value(&ev).unwrap());
        round_trip(&doc, table, &sample, back, &mut m);
    }
    m.assert_none("evidence fields in the contract that the model does not have");
}

#[test]
fn every_field_the_contract_lists_for_the_report_exists() {
    let doc = Doc::load();
    let mut m = Missing::default();
    let report = doc.shape("report");
    let mut sample = doc.object(report, "");
    // A finding's evidence is its kind's, checked per kind: here any valid one.
    let evidence = Evidence::from(CloseWaitLeak::default());
    for f in sample["findings"].as_array_mut().expect("the sample has findings") {
        f["kind"] = json!(evidence.kind().name());
        f["evidence"] = serde_json::to_value(&evidence).unwrap();
    }
    let back = serde_json::from_value::<Report>(sample.clone())
        .map_err(|e| e.to_string())
        .map(|r| serde_json::to_value(&r).unwrap());
    // The evidence is checked per kind; here only the report's own keys.
    let strip = |mut v: Value| {
        for f in v["findings"].as_array_mut().into_iter().flatten() {
            f["evidence"] = json!({});
        }
        v
    };
    round_trip(&doc, report, &strip(sample), back.map(strip), &mut m);
    m.assert_none("report fields in the contract that the model does not have");
}

#[test]
fn the_snapshot_file_has_the_top_level_shape_the_contract_promises() {
    let doc = Doc::load();
    let file = doc.shape("snapshot-file");
    let snapshot = doc.shape("snapshot");
    let (mut m, mut u) = (Missing::default(), Unlisted::default());
    let mut seen = BTreeSet::new();
    let mut check = |v: Value, source: &str| {
        for p in paths(&v) {
            if !doc.has(file, &p) {
                u.add("a snapshot file", "the snapshot file's tables", &p, source);
            }
        }
        for s in v["snapshots"].as_array().into_iter().flatten() {
            seen.extend(s.as_object().into_iter().flat_map(|o| o.keys().cloned()));
        }
    };
    for f in fixtures() {
        check(serde_json::to_value(load(&f)).unwrap(), &rel(&f));
    }
    let default = Scan { snapshots: vec![Snapshot::default()] };
    check(serde_json::to_value(default).unwrap(), "Snapshot::default()");
    u.into_missing(&mut m);
    for (name, _) in snapshot.children("") {
        if !seen.contains(name) {
            m.0.push(format!(
                "{DOC} lists `{name}` in a snapshot, which no recorded fixture nor Snapshot::default() has"
            ));
        }
    }
    m.assert_none("the snapshot file against the contract");
}

/// A probe report with every optional part present, so every key it can
/// have is written.
fn full_probe_report() -> unwedge_probe::ProbeReport {
    use unwedge_probe::*;
    let attempt = Attempt {
        seq: 1,
        ok: true,
        connect_us: Some(180),
        error: Some("refused".into()),
        outcome: Outcome::Ok,
        addr: "127.0.0.1:80".into(),
        local_port: Some(40000),
        role: Some("request"),
    };
    ProbeReport {
        unwedge_version: "0.1.0".into(),
        probe: "http",
        target: "https://h/".into(),
        resolved: vec!["127.0.0.1:443".into()],
        dns_us: 1,
        attempts: vec![attempt],
        summary: stats::summarize(1, &[180]),
        timings: Some(Timings { dns_us: 1, connect_us: Some(2), tls_us: Some(3), ttfb_us: Some(4), total_us: Some(5) }),
        http: Some(HttpResult {
            url: "https://h/".into(),
            method: "GET",
            error: Some("x".into()),
            response: Some(ResponseInfo {
                version: "HTTP/1.1".into(),
                status: 200,
                reason: "OK".into(),
                headers: vec![("content-type".into(), "text/plain".into())],
                content_type: Some("text/plain".into()),
                body_bytes: 2,
                framing: "content-length",
                keep_alive: true,
                body_complete: true,
            }),
            tls: Some(TlsInfo {
                protocol: Some("TLSv1.3".into()),
                cipher: Some("x".into()),
                alpn: Some("http/1.1".into()),
                handshake_us: 1,
                verified: true,
                cert_subject: Some("x".into()),
                cert_issuer: Some("x".into()),
                cert_not_after: Some("x".into()),
                cert_days_left: Some(1),
                close: Some(CloseResult { outcome: "fin", after_us: Some(1), waited_us: 1 }),
            }),
            keepalive: KeepAliveCheck {
                checked: true,
                skipped: Some("x".into()),
                second_waited_us: Some(1),
                second_answered_while_first_open: Some(true),
                second_answered_after_first_closed_us: Some(1),
                second_error: Some("x".into()),
            },
            idle: Some(IdleResult { closed_after_us: Some(1), max_wait_ms: 1 }),
            notes: vec!["x".into()],
        }),
        findings: Vec::new(),
    }
}

#[test]
fn the_probe_report_is_the_one_the_contract_describes() {
    let doc = Doc::load();
    let table = doc.shape("probe-report");
    let mut m = Missing::default();
    let got = paths(&serde_json::to_value(full_probe_report()).unwrap());
    for p in &got {
        if !doc.has(table, p) {
            m.0.push(format!("the probe report has the key `{p}`, which {DOC} does not list"));
        }
    }
    // Findings are the scan report's finding object, checked there.
    for p in paths(&doc.object(table, "")).iter().filter(|p| !p.starts_with("findings[]")) {
        if !got.contains(p) {
            m.0.push(format!("{DOC} lists `{p}` in the probe report, which the probe does not write"));
        }
    }
    m.assert_none("the probe report against the contract");
}

#[test]
fn the_checks_are_not_vacuous() {
    let doc = Doc::load();
    let cw = doc.kind(Kind::CloseWaitLeak)[0];
    assert!(doc.has(cw, "close_wait"));
    assert!(doc.has(cw, "local_ports.5000"), "a map's keys are data");
    assert!(!doc.has(cw, "no_such_key"));
    let bs = doc.kind(Kind::BlockedSignal)[0];
    assert!(doc.has(bs, "threads[].user_stack[].function"), "through the thread and frame shapes");
    assert!(!doc.has(bs, "threads[].no_such_key"));
    assert!(!doc.has(bs, "masks.no_such_key"));
    // A dropped row and a missing one are both caught by the round trip.
    let mut m = Missing::default();
    let mut sample = doc.object(cw, "");
    sample["not_in_the_model"] = json!(1);
    let back = Evidence::from_json(Kind::CloseWaitLeak, sample.clone()).map(|e| serde_json::to_value(e).unwrap());
    round_trip(&doc, cw, &sample, back.map_err(|e| e.to_string()), &mut m);
    assert_eq!(m.0.len(), 1, "{:?}", m.0);
    assert!(m.0[0].contains("`not_in_the_model`"), "{:?}", m.0);
    let mut sample = doc.object(cw, "");
    sample.as_object_mut().unwrap().remove("close_wait");
    let back = Evidence::from_json(Kind::CloseWaitLeak, sample.clone()).map_err(|e| e.to_string());
    assert!(back.as_ref().is_err_and(|e| e.contains("close_wait")), "{back:?}");
}
