//! Reading one parameter out of a raw query string as Go's `url.URL.Query()` would, without
//! building the whole map: pairs split on `&`, a pair holding `;` is rejected (Go ≥ 1.17), key and
//! value are query-unescaped (`+` is a space), a pair whose escapes are invalid is skipped.

use std::borrow::Cow;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Query-unescapes `s`; `None` if an escape is invalid. Borrows when there is nothing to do.
pub(crate) fn unescape(s: &str) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let h = hex(*bytes.get(i + 1)?)?;
                let l = hex(*bytes.get(i + 2)?)?;
                out.push(h << 4 | l);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    })
}

/// The first value of `key` in the raw query, decoded.
pub(crate) fn first_value<'q>(query: &'q str, key: &str) -> Option<Cow<'q, str>> {
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(k) = unescape(k) else { continue };
        if k != key {
            continue;
        }
        let Some(v) = unescape(v) else { continue };
        return Some(v);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_like_go() {
        assert_eq!(first_value("a=1&b=2&a=3", "a").as_deref(), Some("1"));
        assert_eq!(first_value("a=1&b=2", "b").as_deref(), Some("2"));
        assert_eq!(first_value("a=1&b=2", "c"), None);
        assert_eq!(first_value("a&b=", "a").as_deref(), Some(""));
        assert_eq!(first_value("a&b=", "b").as_deref(), Some(""));
        assert_eq!(first_value("x%20y=a+b%21", "x y").as_deref(), Some("a b!"));
        assert_eq!(first_value("a=%zz&a=2", "a").as_deref(), Some("2"));
        assert_eq!(first_value("a=1;b=2&a=3", "a").as_deref(), Some("3"));
        assert_eq!(first_value("a=b=c", "a").as_deref(), Some("b=c"));
        assert_eq!(first_value("=v", "").as_deref(), Some("v"));
    }
}
