//! Credentials out of command lines, before anything is shown or saved.
//!
//! A process's command line is the one place a scan reads where a secret
//! routinely sits in plain text (`--db-password=…`, `mysql -p…`,
//! `postgres://app:…@db`), and it goes everywhere a report goes: the HTML
//! page attached to a ticket, the saved snapshots, serve's recordings and
//! API. So the collector passes every command line through [`args`] (and a
//! recorded snapshot's through [`line`] when it is loaded): an argument
//! that looks like a credential keeps its name and loses its value to
//! [`REDACTED`]; the rest stays as it was. `--no-redact` skips both.
//!
//! The patterns, all here (and their tests below):
//! - `NAME=VALUE` and `--NAME=VALUE` / `--NAME VALUE` (and Java's
//!   `-DNAME=VALUE`) where NAME names a credential: it contains password,
//!   passwd, passphrase, secret, token, credential, apikey, api_key,
//!   access_key, private_key, auth_key, requirepass or masterauth, or a
//!   part of it is pass, pwd or pw; or it is an environment-style NAME in
//!   capitals ending in `_KEY`. Not when its last part says it names where
//!   the secret is or what it is like (`--token-file`, `--password-stdin`,
//!   `TOKEN_TTL`), nor `--no-password` / `--ask-password`.
//! - The usual clients' short options: `-pSECRET` after mysql, mariadb,
//!   mysqldump and their kin (`-p` alone prompts; `-P` is the port, and
//!   psql's `-p` too: psql is not among them); `-p SECRET` after sshpass
//!   and the mongo tools; `-a SECRET` after redis-cli; `-u USER:SECRET`
//!   after curl.
//! - `scheme://user:SECRET@host` anywhere in an argument.
//! - Query and form parameters (`?key=…&token=…`, `a=1&password=…`) whose
//!   name names a credential, `key`, `sig`, `signature` and `auth` too.
//! - Header values: `Authorization: Bearer SECRET` (the scheme is kept),
//!   `Proxy-Authorization:`, `Cookie:`, `X-Api-Key:`, `X-Auth-Token:`,
//!   `Private-Token:`, `X-Vault-Token:`.
//!
//! Redacting twice changes nothing, so a snapshot saved redacted can be
//! loaded (and redacted again) as often as one likes.

/// What replaces a secret.
pub const REDACTED: &str = "‹redacted›";

/// A command line from its arguments (as /proc/PID/cmdline separates them),
/// joined by spaces, with credentials redacted. An argument that is a whole
/// header (`-H "Authorization: Bearer a b"`) loses everything after its name
/// (and scheme), spaces included.
pub fn args<'a>(args: impl IntoIterator<Item = &'a str>) -> String {
    let mut st = State::default();
    let mut out = String::new();
    for (i, a) in args.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        st.arg(a, &mut out);
    }
    out
}

/// A command line already joined by spaces (a recorded snapshot's), with
/// credentials redacted; borrowed when nothing needed it.
pub fn line(text: &str) -> std::borrow::Cow<'_, str> {
    if !maybe_secret(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    State::default().words(text, &mut out);
    std::borrow::Cow::Owned(out)
}

/// Every command line of a recorded scan (one saved with `--no-redact`,
/// or by an unwedge that did not redact), redacted in place.
pub fn scan(scan: &mut crate::Scan) {
    for p in scan.snapshots.iter_mut().flat_map(|s| s.processes.iter_mut()) {
        if let std::borrow::Cow::Owned(l) = line(&p.cmdline) {
            p.cmdline = l;
        }
    }
}

/// Cheap pre-check: no `=`, `:`, `-` or `@` means no pattern can match.
fn maybe_secret(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'=' | b':' | b'-' | b'@'))
}

/// Header names whose value is a credential (lower case, without the colon).
const HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token", "private-token", "x-vault-token"];

/// Authorization schemes: kept, the credential after them is not.
const SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "negotiate", "ntlm", "apikey", "aws4-hmac-sha256"];

/// One argument that is a whole `Header: value`: the value as one redacted word.
fn header_arg(arg: &str) -> Option<String> {
    let (name, value) = arg.split_once(':')?;
    let lname = name.trim().to_ascii_lowercase();
    if !HEADERS.contains(&lname.as_str()) || value.trim().is_empty() || value.starts_with("//") {
        return None;
    }
    let value = value.trim_start();
    let first = value.split_whitespace().next().unwrap_or("");
    Some(if SCHEMES.contains(&first.to_ascii_lowercase().as_str()) && value.len() > first.len() {
        format!("{name}: {first} {REDACTED}")
    } else {
        format!("{name}: {REDACTED}")
    })
}

/// Runs of whitespace and of the rest, in order.
fn split_keep_spaces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// What the next word is, after the one just seen.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Next {
    #[default]
    Plain,
    /// A value: redact it (unless it is another option).
    Secret,
    /// `user:secret` (curl -u): redact after the colon.
    UserPass,
    /// After a header name: a scheme to keep, or the credential itself.
    Scheme,
}

/// Which client's options the words are (the last client program named).
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Client {
    #[default]
    None,
    /// mysql and kin: `-pSECRET`.
    Mysql,
    /// sshpass, mongo tools: `-p SECRET` or `-pSECRET`.
    DashP,
    /// redis-cli: `-a SECRET`.
    Redis,
    /// curl: `-u user:SECRET`.
    Curl,
}

#[derive(Default)]
struct State {
    next: Next,
    client: Client,
}

impl State {
    /// One whole argument: a header, a value with spaces, or words.
    fn arg(&mut self, a: &str, out: &mut String) {
        if !a.contains(char::is_whitespace) {
            out.push_str(&self.word(a));
            return;
        }
        if let Some(h) = header_arg(a) {
            self.next = Next::Plain;
            out.push_str(&h);
            return;
        }
        // The value of `--password` (or `-p` …) is the whole argument, spaces and all.
        if matches!(self.next, Next::Secret | Next::UserPass) && !a.starts_with('-') {
            out.push_str(&self.word(a));
            return;
        }
        if let Some((key, value)) = a.split_once('=') {
            if !value.is_empty() && !key.contains(char::is_whitespace) && names_credential(key, false) {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
                return;
            }
        }
        // A process title ("postgres: app shop …") or a shell script: its words.
        self.words(a, out);
    }

    fn words(&mut self, text: &str, out: &mut String) {
        for tok in split_keep_spaces(text) {
            if tok.chars().all(char::is_whitespace) {
                out.push_str(tok);
            } else {
                out.push_str(&self.word(tok));
            }
        }
    }

    fn word(&mut self, w: &str) -> String {
        match std::mem::take(&mut self.next) {
            Next::Secret if !w.starts_with('-') => return REDACTED.into(),
            Next::UserPass if !w.starts_with('-') => return user_pass(w),
            Next::Scheme => {
                if SCHEMES.contains(&w.to_ascii_lowercase().as_str()) {
                    self.next = Next::Secret;
                    return w.into();
                }
                return REDACTED.into();
            }
            _ => {}
        }
        if let Some(c) = client(w) {
            self.client = c;
            return w.into();
        }
        // A header name as its own word ("Authorization:"), or with the value attached.
        if let Some((name, value)) = w.split_once(':') {
            if HEADERS.contains(&name.to_ascii_lowercase().as_str()) && !value.starts_with("//") {
                if value.is_empty() {
                    self.next = Next::Scheme;
                    return w.into();
                }
                return format!("{name}:{REDACTED}");
            }
        }
        if let Some(short) = self.short_option(w) {
            return short;
        }
        let mut out = if w.contains("://") { url(w) } else { w.to_string() };
        if out.contains('?') || (out.contains('&') && out.contains('=')) {
            out = query(&out);
        }
        if let Some((key, value)) = out.split_once('=') {
            if !value.is_empty() && value != REDACTED && !key.contains(['?', '&', '/']) && names_credential(key, false)
            {
                return format!("{key}={REDACTED}");
            }
            return out;
        }
        // `--password VALUE`: the value is the next word.
        if let Some(name) = out.strip_prefix("--") {
            if names_credential(name, false) {
                self.next = Next::Secret;
            }
            if self.client == Client::Curl && matches!(name, "user" | "proxy-user") {
                self.next = Next::UserPass;
            }
        }
        out
    }

    /// The clients' short options: `-pSECRET`, `-p SECRET`, `-a SECRET`, `-u user:SECRET`.
    fn short_option(&mut self, w: &str) -> Option<String> {
        let rest = w.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
        let (flag, value) = (rest.chars().next()?, &rest[1..]);
        let wants = match (self.client, flag) {
            (Client::Mysql | Client::DashP, 'p') | (Client::Redis, 'a') => Next::Secret,
            (Client::Curl, 'u') => Next::UserPass,
            _ => return None,
        };
        if value.is_empty() {
            // mysql's bare -p prompts: the next word is not a password.
            if self.client != Client::Mysql {
                self.next = wants;
            }
            return Some(w.into());
        }
        Some(match wants {
            Next::UserPass => format!("-{flag}{}", user_pass(value)),
            _ if value == REDACTED => w.into(),
            _ => format!("-{flag}{REDACTED}"),
        })
    }
}

/// The client a word names, by its file name (`/usr/bin/mysql`).
fn client(w: &str) -> Option<Client> {
    if w.starts_with('-') {
        return None;
    }
    let base = w.rsplit('/').next().unwrap_or(w);
    Some(match base {
        "mysql" | "mysqldump" | "mysqladmin" | "mysqlimport" | "mysqlshow" | "mysqlcheck" | "mysqlpump"
        | "mysqlbinlog" | "mariadb" | "mariadb-dump" | "mariadb-admin" | "mariadb-import" | "mariadb-check" => {
            Client::Mysql
        }
        "sshpass" | "mongo" | "mongosh" | "mongodump" | "mongorestore" | "mongoexport" | "mongoimport"
        | "mongostat" | "mongotop" => Client::DashP,
        "redis-cli" | "keydb-cli" | "valkey-cli" => Client::Redis,
        "curl" => Client::Curl,
        _ => return None,
    })
}

/// `user:secret` as `user:‹redacted›`; a lone user name is kept.
fn user_pass(w: &str) -> String {
    match w.split_once(':') {
        Some((user, pass)) if !pass.is_empty() && pass != REDACTED => format!("{user}:{REDACTED}"),
        _ => w.into(),
    }
}

/// `scheme://user:secret@host…` as `scheme://user:‹redacted›@host…`.
fn url(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut rest = w;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(['/', '?', '#', ' ']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(&user_pass(&authority[..at]));
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Query or form parameters whose name names a credential, redacted.
fn query(w: &str) -> String {
    let (head, q) = match w.split_once('?') {
        Some((h, q)) => (Some(h), q),
        None => (None, w),
    };
    let (q, fragment) = match q.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (q, None),
    };
    let params: Vec<String> = q
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !v.is_empty() && v != REDACTED && names_credential(k, true) => format!("{k}={REDACTED}"),
            _ => p.to_string(),
        })
        .collect();
    let mut out = String::with_capacity(w.len());
    if let Some(h) = head {
        out.push_str(h);
        out.push('?');
    }
    out.push_str(&params.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Whether an option, variable or parameter name names a credential.
/// `in_query`: a URL's parameters, where `key`, `sig` and `auth` do too.
fn names_credential(raw: &str, in_query: bool) -> bool {
    // `--name`, `-Dname` (a Java system property), `name`.
    let name = match raw.strip_prefix("--") {
        Some(n) => n,
        None => match raw.strip_prefix('-') {
            Some(n) => n.strip_prefix('D').unwrap_or(n),
            None => raw,
        },
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')) {
        return false;
    }
    let lower: String =
        name.chars().map(|c| if matches!(c, '-' | '.' | ':') { '_' } else { c.to_ascii_lowercase() }).collect();
    let parts: Vec<&str> = lower.split('_').filter(|p| !p.is_empty()).collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else { return false };
    const WHERE_OR_WHAT: &[&str] = &[
        "file",
        "path",
        "dir",
        "fd",
        "env",
        "stdin",
        "type",
        "ttl",
        "timeout",
        "expiry",
        "expires",
        "length",
        "len",
        "size",
        "count",
        "min",
        "max",
        "cmd",
        "command",
        "prompt",
        "name",
        "id",
        "header",
        "mode",
        "url",
        "endpoint",
        "uri",
        "policy",
        "store",
        "storetype",
    ];
    if WHERE_OR_WHAT.contains(last) || matches!(*first, "no" | "ask" | "prompt") {
        return false;
    }
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
        "access_key",
        "private_key",
        "auth_key",
        "requirepass",
        "masterauth",
    ];
    let env_key = !raw.starts_with('-')
        && name.ends_with("_KEY")
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    WORDS.iter().any(|w| lower.contains(w))
        || parts.iter().any(|p| matches!(*p, "pass" | "pwd" | "pw"))
        || env_key
        || (in_query && matches!(lower.as_str(), "key" | "sig" | "signature" | "auth"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pattern the module doc names: (command line, what it must become).
    pub const CASES: &[(&str, &str)] = &[
        ("app --db-password=hunter2 --port 80", "app --db-password=‹redacted› --port 80"),
        ("app --password hunter2 -v", "app --password ‹redacted› -v"),
        ("app --api-key=k1 --secret-key k2", "app --api-key=‹redacted› --secret-key ‹redacted›"),
        ("java -Djavax.net.ssl.keyStorePassword=pw1 -Xmx1g Main", "java -Djavax.net.ssl.keyStorePassword=‹redacted› -Xmx1g Main"),
        ("env GITHUB_TOKEN=ghp_x APP_SECRET_VALUE=s AWS_SECRET_ACCESS_KEY=a STRIPE_KEY=sk run",
         "env GITHUB_TOKEN=‹redacted› APP_SECRET_VALUE=‹redacted› AWS_SECRET_ACCESS_KEY=‹redacted› STRIPE_KEY=‹redacted› run"),
        ("mysql -uapp -phunter2 -h db -P3306 shop", "mysql -uapp -p‹redacted› -h db -P3306 shop"),
        ("/usr/bin/mysqldump -p shop", "/usr/bin/mysqldump -p shop"),
        ("sshpass -p hunter2 ssh host", "sshpass -p ‹redacted› ssh host"),
        ("redis-cli -a hunter2 -h cache", "redis-cli -a ‹redacted› -h cache"),
        ("curl -u admin:hunter2 https://x/", "curl -u admin:‹redacted› https://x/"),
        ("worker postgres://app:hunter2@db:5432/shop", "worker postgres://app:‹redacted›@db:5432/shop"),
        ("app --dsn=mysql://root:pw@tcp(db)/x", "app --dsn=mysql://root:‹redacted›@tcp(db)/x"),
        ("curl https://api/x?user=bob&token=abc&key=k#top", "curl https://api/x?user=bob&token=‹redacted›&key=‹redacted›#top"),
        ("curl -d user=bob&password=pw https://x/", "curl -d user=bob&password=‹redacted› https://x/"),
        ("curl -H Authorization: Bearer abc.def https://x/", "curl -H Authorization: Bearer ‹redacted› https://x/"),
        ("curl -H Authorization:abc https://x/", "curl -H Authorization:‹redacted› https://x/"),
        ("curl -H X-Api-Key: abc https://x/", "curl -H X-Api-Key: ‹redacted› https://x/"),
        ("redis-server *:6379 --requirepass hunter2", "redis-server *:6379 --requirepass ‹redacted›"),
        ("app PASSWORD=x\ty  z", "app PASSWORD=‹redacted›\ty  z"),
    ];

    /// Look alike, and must stay as they are.
    const KEPT: &[&str] = &[
        "psql -p 5432 -h db shop",
        "mysql -P 3306 -h db",
        "unwedge serve --token-file /etc/unwedge/token --listen 0.0.0.0:9464",
        "docker login --password-stdin",
        "psql --no-password -h db",
        "app --key=/etc/ssl/key.pem --cert=/etc/ssl/cert.pem",
        "nginx: worker process",
        "postgres: app shop 10.0.0.1(5555) idle",
        "git clone https://github.com/a/b.git",
        "ssh git@host",
        "app TOKEN_TTL=60 PATH=/usr/bin",
        "curl https://x/?page=2&sort=asc",
        "python3 -u server.py --port 8080",
        "app --bypass=yes --compass=north",
    ];

    #[test]
    fn every_pattern_is_redacted_and_the_rest_kept() {
        for (input, want) in CASES {
            assert_eq!(line(input), *want, "{input}");
            assert_eq!(line(want), *want, "redacting twice changes nothing: {want}");
        }
        for input in KEPT {
            assert_eq!(line(input), *input, "{input}");
        }
    }

    #[test]
    fn a_whole_header_argument_loses_its_value() {
        assert_eq!(
            args(["curl", "-H", "Authorization: Digest username=\"a\", response=\"b c\"", "https://x/"]),
            "curl -H Authorization: Digest ‹redacted› https://x/"
        );
        assert_eq!(args(["curl", "-H", "Cookie: sid=1; other=2"]), "curl -H Cookie: ‹redacted›");
        assert_eq!(
            args(["app", "--db-password=a b", "--password", "c d", "-v"]),
            "app --db-password=‹redacted› --password ‹redacted› -v"
        );
        assert_eq!(args(["sh", "-c", "mysql -uapp -pX shop"]), "sh -c mysql -uapp -p‹redacted› shop");
        assert_eq!(args(["sleep", "30"]), "sleep 30");
    }

    #[test]
    fn nothing_to_look_at_is_borrowed() {
        assert!(matches!(line("sleep 30"), std::borrow::Cow::Borrowed(_)));
    }
}
