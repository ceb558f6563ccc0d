//! Building responses, shared by every endpoint: the common headers, JSON
//! bodies and errors, and the query-string reader. Both `routes` and the
//! probe endpoints use it; it uses neither.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

pub const JSON: &str = "application/json";

pub type Resp = Response<Full<Bytes>>;

/// Query parameters, percent-decoded; a malformed escape is kept as is.
pub fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(x) => {
                        out.push(x);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn body(status: StatusCode, content_type: &'static str, bytes: Bytes) -> Resp {
    let mut r = Response::new(Full::new(bytes));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

pub fn json_body<T: serde::Serialize>(status: StatusCode, v: &T) -> Resp {
    body(status, JSON, Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
}

pub fn error(status: StatusCode, msg: &str) -> Resp {
    json_body(status, &json!({ "error": msg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let p = params("url=http%3A%2F%2F127.0.0.1%3A80%2Fa%20b&count=3&x&bad=%zz%4");
        assert_eq!(p[0], ("url".into(), "http://127.0.0.1:80/a b".into()));
        assert_eq!(p[1], ("count".into(), "3".into()));
        assert_eq!(p[2], ("x".into(), "".into()));
        assert_eq!(p[3], ("bad".into(), "%zz%4".into()));
    }
}
