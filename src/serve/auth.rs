//! Bearer-token authentication. The token is compared in constant time so
//! that response timing does not reveal how much of a guess was right.

use std::path::Path;
use subtle::ConstantTimeEq;

/// Reads the token: the file's content without surrounding whitespace (a
/// trailing newline from `echo` is not part of the token).
pub fn load_token(path: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let text = String::from_utf8(raw).map_err(|_| format!("token file {} is not UTF-8 text", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("token file {} must hold one token on one line", path.display()));
    }
    Ok(token.as_bytes().to_vec())
}

/// True when an `Authorization` header value carries `Bearer <token>`.
pub fn authorized(header: Option<&[u8]>, token: &[u8]) -> bool {
    let Some(h) = header else { return false };
    let Some(given) = h.strip_prefix(b"Bearer ").or_else(|| h.strip_prefix(b"bearer ")) else { return false };
    // ct_eq returns false at once on a length mismatch: that leaks the
    // length only, never the content.
    given.ct_eq(token).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_forms() {
        let t = b"s3cret";
        assert!(authorized(Some(b"Bearer s3cret"), t));
        assert!(authorized(Some(b"bearer s3cret"), t));
        for bad in [&b"Bearer s3cre"[..], b"Bearer s3cretx", b"s3cret", b"Basic s3cret", b"Bearer ", b""] {
            assert!(!authorized(Some(bad), t), "{}", String::from_utf8_lossy(bad));
        }
        assert!(!authorized(None, t));
    }

    #[test]
    fn token_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(load_token(&p).unwrap(), b"abc");
        std::fs::write(&p, " \n").unwrap();
        assert!(load_token(&p).unwrap_err().contains("is empty"));
        std::fs::write(&p, "a b").unwrap();
        assert!(load_token(&p).is_err());
        assert!(load_token(&dir.path().join("missing")).unwrap_err().contains("cannot read token file"));
    }
}
