//! Reading `Authorization` and writing `WWW-Authenticate` values.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::error::AuthError;

/// The credentials after `<scheme> ` in the request's (first) `Authorization` header, when
/// its scheme is `scheme` (case-insensitive, RFC 7235).
pub(super) fn credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = std::str::from_utf8(headers.get(AUTHORIZATION)?.as_bytes()).ok()?;
    let (given, rest) = value.trim_start().split_once([' ', '\t'])?;
    given
        .eq_ignore_ascii_case(scheme)
        .then_some(rest.trim_matches([' ', '\t']))
}

/// `s` as an HTTP quoted-string.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A realm goes into a header value, so it may not hold control characters.
pub(super) fn check_realm(realm: &str) -> Result<(), AuthError> {
    if realm.chars().any(char::is_control) {
        return Err(AuthError::Realm(realm.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        assert_eq!(credentials(&headers, "Basic"), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bAsIc  dGVzdA== "));
        assert_eq!(credentials(&headers, "Basic"), Some("dGVzdA=="));
        assert_eq!(credentials(&headers, "Digest"), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic"));
        assert_eq!(credentials(&headers, "Basic"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
