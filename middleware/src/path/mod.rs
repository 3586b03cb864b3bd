//! Path-rewriting tower layers, with Traefik 1.x semantics:
//!
//! | layer | does | header |
//! |---|---|---|
//! | [`StripPrefixLayer`] | removes the first matching prefix (longest first); none ⇒ 404 | `X-Forwarded-Prefix: <prefix>` |
//! | [`StripPrefixRegexLayer`] | removes what the first matching regex matched at the start; none ⇒ 404 | `X-Forwarded-Prefix: <matched>` |
//! | [`AddPrefixLayer`] | prepends a prefix | |
//! | [`ReplacePathLayer`] | replaces the whole path | `X-Replaced-Path: <old path>` |
//! | [`ReplacePathRegexLayer`] | if the regex matches, `replace_all` with `$1`/`${name}` expansion | `X-Replaced-Path: <old path>` |
//!
//! Each works on any `http::Request<B>` and rewrites only the path of the request URI: query,
//! scheme and authority are kept. Headers are appended (a second strip adds a second
//! `X-Forwarded-Prefix`). Each layer is also available as a plain function on a request
//! ([`strip_prefix()`], …), which is what the layer calls.
//!
//! **Encoding.** URI paths are percent-encoded; v1 compares and rewrites Go's decoded
//! `URL.Path`. So prefixes, regexes, added prefixes and replacement paths are about the decoded
//! path: `/a b` strips `/a%20b/x` to `/x`. What is kept of the original path keeps its original
//! encoding; what is new is percent-encoded as Go's `URL.EscapedPath` would (`/a b` ⇒ `/a%20b`,
//! `$&+,/:;=@` and unreserved characters left alone). Header values carry decoded text (the raw
//! text when the decoded one is not a valid header value).
//!
//! **Responses.** The strip layers answer `404 Not Found` themselves when no prefix matches (as
//! v1's `http.NotFound`), without calling the inner service; so their service needs the inner
//! response to be `http::Response<ResBody>` with `ResBody: Default` and uses an empty body. A
//! caller that wants another body maps the response. The other layers never answer and accept
//! any inner response type.
//!
//! A path always starts with `/` after a rewrite (an added prefix or a replacement without one
//! gets it). The layers do not clean paths themselves: [`normalize()`] (dot segments, refused
//! encodings) is for the caller to apply before routing and after rewriting.

mod add_prefix;
mod normalize;
mod replace_path;
mod replace_path_regex;
mod strip_prefix;
mod strip_prefix_regex;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::HeaderName;
use http::uri::PathAndQuery;
use http::{HeaderValue, Response, StatusCode, Uri};

pub use add_prefix::{AddPrefix, AddPrefixLayer, add_prefix};
pub use normalize::{EncodedCharacters, Refused, clean_decoded, normalize, normalize_request};
pub use replace_path::{ReplacePath, ReplacePathLayer, replace_path};
pub use replace_path_regex::{ReplacePathRegex, ReplacePathRegexLayer, replace_path_regex};
pub use strip_prefix::{StripPrefix, StripPrefixLayer, strip_prefix};
pub use strip_prefix_regex::{StripPrefixRegex, StripPrefixRegexLayer, strip_prefix_regex};

/// Set by the strip layers to the prefix they removed.
pub const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
/// Set by the replace layers to the path they replaced.
pub const X_REPLACED_PATH: HeaderName = HeaderName::from_static("x-replaced-path");

pin_project_lite::pin_project! {
    /// Future of the strip services: the inner service's, or an immediate 404.
    #[project = ResponseFutureProj]
    pub enum ResponseFuture<F, B> {
        Inner { #[pin] future: F },
        NotFound { response: Option<Response<B>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn not_found() -> Self
    where
        B: Default,
    {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::NOT_FOUND;
        ResponseFuture::NotFound {
            response: Some(response),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseFutureProj::Inner { future } => future.poll(cx),
            ResponseFutureProj::NotFound { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded byte at raw offset `i` and the length of its raw form (`%XX` = 3). An invalid
/// escape stands for itself.
fn unit(raw: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *raw.get(i)?;
    if b == b'%'
        && let (Some(h), Some(l)) = (
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        )
    {
        return Some((h << 4 | l, 3));
    }
    Some((b, 1))
}

/// If the decoded `raw` path starts with `prefix`, the length of the raw text decoding to it.
pub(crate) fn raw_prefix_len(raw: &str, prefix: &[u8]) -> Option<usize> {
    let bytes = raw.as_bytes();
    let mut at = 0;
    for &p in prefix {
        let (b, n) = unit(bytes, at)?;
        if b != p {
            return None;
        }
        at += n;
    }
    Some(at)
}

/// Length of the raw text that decodes to the first `decoded` bytes.
pub(crate) fn raw_len(raw: &str, decoded: usize) -> usize {
    let bytes = raw.as_bytes();
    let mut at = 0;
    for _ in 0..decoded {
        match unit(bytes, at) {
            Some((_, n)) => at += n,
            None => break,
        }
    }
    at
}

/// The percent-decoded path bytes (borrowed when there is no `%`).
pub fn decode(raw: &str) -> Cow<'_, [u8]> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw.as_bytes());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some((b, n)) = unit(bytes, at) {
        out.push(b);
        at += n;
    }
    Cow::Owned(out)
}

/// Offset in `bytes` of the `lossy_offset` of `String::from_utf8_lossy(bytes)` (each invalid
/// sequence is one 3-byte U+FFFD there).
pub(crate) fn byte_offset_of_lossy(bytes: &[u8], lossy_offset: usize) -> usize {
    let (mut lossy, mut byte) = (0, 0);
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid().len();
        if lossy_offset <= lossy + valid {
            return byte + (lossy_offset - lossy);
        }
        lossy += valid;
        byte += valid;
        if !chunk.invalid().is_empty() {
            lossy += char::REPLACEMENT_CHARACTER.len_utf8();
            byte += chunk.invalid().len();
            if lossy_offset <= lossy {
                return byte;
            }
        }
    }
    byte
}

/// Percent-encodes a decoded path as Go's `escape(path, encodePath)`.
pub(crate) fn escape(decoded: &[u8]) -> Cow<'_, str> {
    fn keep(b: u8) -> bool {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            )
    }
    if decoded.iter().all(|&b| keep(b)) {
        // All ASCII, hence UTF-8.
        return Cow::Borrowed(std::str::from_utf8(decoded).unwrap_or_default());
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(decoded.len() + 8);
    for &b in decoded {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    Cow::Owned(out)
}

/// A header value for decoded text, falling back to `fallback` (visible ASCII) when the
/// decoded text holds control characters.
pub(crate) fn header_value(decoded: &[u8], fallback: &str) -> HeaderValue {
    HeaderValue::from_bytes(decoded)
        .or_else(|_| HeaderValue::from_str(fallback))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Replaces the path of `uri` (an encoded path; a `/` is prepended when missing), keeping
/// scheme, authority and query. Leaves `uri` alone if the result is not a valid URI (cannot
/// happen with paths built from a valid path and `escape`d text).
pub(crate) fn set_path(uri: &mut Uri, path: &str) {
    let slash = if path.starts_with('/') { "" } else { "/" };
    let pq = match uri.query() {
        Some(q) => format!("{slash}{path}?{q}"),
        None => format!("{slash}{path}"),
    };
    let Ok(pq) = PathAndQuery::try_from(pq) else {
        return;
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(new) = Uri::from_parts(parts) {
        *uri = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_len_on_decoded_path() {
        assert_eq!(raw_prefix_len("/a%20b/x", b"/a b"), Some(6));
        assert_eq!(raw_prefix_len("/a%20b/x", b"/a%20b"), None);
        assert_eq!(raw_prefix_len("/a%2Fb", b"/a/"), Some(5));
        assert_eq!(raw_prefix_len("/100%", b"/100%"), Some(5));
        assert_eq!(raw_prefix_len("/a", b"/ab"), None);
        assert_eq!(raw_prefix_len("/x", b""), Some(0));
    }

    #[test]
    fn decoding() {
        assert_eq!(&*decode("/a%20b%zz%"), b"/a b%zz%");
        assert!(matches!(decode("/plain"), Cow::Borrowed(_)));
        assert_eq!(raw_len("/%C3%A9/x", 3), 7);
        assert_eq!(raw_len("/ab", 10), 3);
    }

    #[test]
    fn lossy_offsets() {
        let bytes = b"/a\xffb/\xc3\xa9";
        let lossy = String::from_utf8_lossy(bytes);
        assert_eq!(lossy, "/a\u{fffd}b/é");
        assert_eq!(byte_offset_of_lossy(bytes, 2), 2);
        assert_eq!(byte_offset_of_lossy(bytes, 5), 3);
        assert_eq!(byte_offset_of_lossy(bytes, 6), 4);
        assert_eq!(byte_offset_of_lossy(bytes, lossy.len()), bytes.len());
    }

    #[test]
    fn escaping() {
        assert_eq!(escape(b"/a b/c?d#e%"), "/a%20b/c%3Fd%23e%25");
        assert_eq!(escape("/é".as_bytes()), "/%C3%A9");
        assert_eq!(escape(b"/a-_.~$&+,/:;=@"), "/a-_.~$&+,/:;=@");
    }

    #[test]
    fn set_path_keeps_the_rest() {
        let mut uri: Uri = "http://h:8080/a/b?x=1&y".parse().unwrap();
        set_path(&mut uri, "/c");
        assert_eq!(uri, "http://h:8080/c?x=1&y");
        let mut uri: Uri = "/a".parse().unwrap();
        set_path(&mut uri, "c");
        assert_eq!(uri, "/c");
        let mut uri: Uri = "/a".parse().unwrap();
        set_path(&mut uri, "/bad path");
        assert_eq!(uri, "/a");
    }
}
