//! HTTP/1.1 response framing, pure over bytes (no I/O, no crate imports
//! beyond httparse), so a hostile server's bytes can be fuzzed directly.

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Minor version: HTTP/1.0 or HTTP/1.1.
    pub minor: u8,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Heads larger than this are refused (a real server's head is a few KiB).
pub const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;

/// Parses a response head from the start of `buf`: `Ok(None)` until it is
/// complete, then the head and its length. Hostile input gives `Err`.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let clean = |b: &[u8]| {
                String::from_utf8_lossy(b).chars().map(|c| if c.is_control() { '?' } else { c }).collect::<String>()
            };
            let head = Head {
                minor: resp.version.unwrap_or(1),
                status: resp.code.unwrap_or(0),
                reason: clean(resp.reason.unwrap_or("").as_bytes()),
                headers: resp.headers.iter().map(|h| (h.name.to_string(), clean(h.value).trim().to_string())).collect(),
            };
            Ok(Some((head, len)))
        }
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            Err(format!("response head exceeds {MAX_HEAD} bytes"))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(format!("response has more than {MAX_HEADERS} headers")),
        Err(e) => Err(format!("malformed HTTP response: {e}")),
    }
}

/// How the body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Framing::None => "none",
            Framing::Length(_) => "content-length",
            Framing::Chunked => "chunked",
            Framing::UntilClose => "until-close",
        }
    }
}

pub fn framing(head_request: bool, head: &Head) -> Result<Framing, String> {
    if head_request || (100..200).contains(&head.status) || head.status == 204 || head.status == 304 {
        return Ok(Framing::None);
    }
    let te: Vec<String> =
        head.all("transfer-encoding").flat_map(|v| v.split(',')).map(|s| s.trim().to_ascii_lowercase()).collect();
    if let Some(last) = te.last() {
        return Ok(if last == "chunked" { Framing::Chunked } else { Framing::UntilClose });
    }
    let mut len: Option<u64> = None;
    for v in head.all("content-length").flat_map(|v| v.split(',')) {
        let v = v.trim();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid Content-Length '{v}'"));
        }
        let n: u64 = v.parse().map_err(|_| format!("Content-Length '{v}' is too large"))?;
        if len.is_some_and(|l| l != n) {
            return Err("conflicting Content-Length headers".into());
        }
        len = Some(n);
    }
    Ok(len.map_or(Framing::UntilClose, Framing::Length))
}

/// Whether the connection stays open after this response.
pub fn keeps_alive(head: &Head, framing: Framing) -> bool {
    if framing == Framing::UntilClose {
        return false;
    }
    let tokens: Vec<String> =
        head.all("connection").flat_map(|v| v.split(',')).map(|s| s.trim().to_ascii_lowercase()).collect();
    if tokens.iter().any(|t| t == "close") {
        return false;
    }
    head.minor >= 1 || tokens.iter().any(|t| t == "keep-alive")
}

/// Incremental chunked-body decoder: counts body bytes, finds the end.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
    line: Vec<u8>,
    pub body: u64,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

const MAX_CHUNK_LINE: usize = 4096;

impl Chunked {
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Consumes bytes; returns how many belong to the body framing.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<usize, String> {
        let total = data.len();
        while !data.is_empty() && !self.done() {
            match self.state {
                ChunkState::Data(left) => {
                    let n = (left.min(data.len() as u64)) as usize;
                    self.body += n as u64;
                    data = &data[n..];
                    self.state = if left == n as u64 { ChunkState::DataEnd } else { ChunkState::Data(left - n as u64) };
                }
                _ => {
                    let Some(pos) = data.iter().position(|&b| b == b'\n') else {
                        self.push_line(data)?;
                        data = &[];
                        continue;
                    };
                    self.push_line(&data[..pos])?;
                    data = &data[pos + 1..];
                    let line = std::mem::take(&mut self.line);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    self.state = match self.state {
                        ChunkState::Size => {
                            let size = chunk_size(line)?;
                            if size == 0 {
                                ChunkState::Trailer
                            } else {
                                ChunkState::Data(size)
                            }
                        }
                        ChunkState::DataEnd if line.is_empty() => ChunkState::Size,
                        ChunkState::DataEnd => return Err("chunk data not followed by CRLF".into()),
                        ChunkState::Trailer if line.is_empty() => ChunkState::Done,
                        ChunkState::Trailer => ChunkState::Trailer,
                        ChunkState::Data(_) | ChunkState::Done => unreachable!("handled above"),
                    };
                }
            }
        }
        Ok(total - data.len())
    }

    fn push_line(&mut self, part: &[u8]) -> Result<(), String> {
        if self.line.len() + part.len() > MAX_CHUNK_LINE {
            return Err("chunk size or trailer line too long".into());
        }
        self.line.extend_from_slice(part);
        Ok(())
    }
}

fn chunk_size(line: &[u8]) -> Result<u64, String> {
    let hex = line.split(|&b| b == b';').next().unwrap_or(b"");
    let hex = hex.trim_ascii();
    if hex.is_empty() || hex.len() > 15 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!("invalid chunk size line '{}'", String::from_utf8_lossy(&line[..line.len().min(40)])));
    }
    // At most 15 hex digits: fits in u64.
    Ok(hex.iter().fold(0u64, |acc, &b| acc * 16 + (b as char).to_digit(16).unwrap_or(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn parses_heads() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        let (h, len) =
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX:  y \r\n\r\nbody").unwrap().unwrap();
        assert_eq!((h.minor, h.status, h.reason.as_str(), len), (1, 200, "OK", 53));
        assert_eq!(h.header("content-type"), Some("text/plain"));
        assert_eq!(h.header("x"), Some("y"));
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "A: b\r\n".repeat(200));
        assert!(parse_head(many.as_bytes()).is_err());
        assert!(parse_head(&vec![b'a'; MAX_HEAD + 1]).is_err());
        // Non-UTF-8 values are shown, not fatal.
        let (h, _) = parse_head(b"HTTP/1.0 404 \xff\r\nServer: \xfe\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.status, 404);
    }

    #[test]
    fn hostile_heads_never_panic() {
        let sample: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        for i in 0..sample.len() {
            for b in [0u8, b'\n', b':', 0xff] {
                let mut m = sample.to_vec();
                m[i] = b;
                if let Ok(Some((h, _))) = parse_head(&m) {
                    let _ = framing(false, &h).map(|f| keeps_alive(&h, f));
                }
            }
        }
    }

    #[test]
    fn framing_rules() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::Length(10)));
        assert_eq!(framing(true, &h), Ok(Framing::None));
        assert!(keeps_alive(&h, Framing::Length(10)));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::Chunked));
        let h = head("HTTP/1.1 204 No\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::None));
        let h = head("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::UntilClose));
        assert!(!keeps_alive(&h, Framing::UntilClose));
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(keeps_alive(&h, Framing::Length(1)));
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n");
        assert!(!keeps_alive(&h, Framing::Length(1)));
        for bad in
            ["Content-Length: -1", "Content-Length: 1\r\nContent-Length: 2", "Content-Length: 99999999999999999999999"]
        {
            let h = head(&format!("HTTP/1.1 200 OK\r\n{bad}\r\n\r\n"));
            assert!(framing(false, &h).is_err(), "{bad}");
        }
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n");
        assert_eq!(framing(false, &h), Ok(Framing::Length(3)));
    }

    #[test]
    fn chunked_decoding() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        // Every split point gives the same answer.
        for split in 0..body.len() {
            let mut c = Chunked::default();
            let n1 = c.feed(&body[..split]).unwrap();
            let n2 = c.feed(&body[split..]).unwrap();
            assert!(c.done());
            assert_eq!(c.body, 23);
            assert_eq!(n1 + n2, body.len() - 4, "split {split}");
        }
        for bad in [&b"x\r\n"[..], b"4\r\nWikiXX\r\n", b"1234567890123456\r\n", &[b'1'; 5000]] {
            assert!(Chunked::default().feed(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut c = Chunked::default();
        c.feed(b"fffffffffffffff\r\n").unwrap();
        assert!(!c.done());
    }
}
