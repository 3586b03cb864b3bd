//! Request-path normalisation: one reading of a path for the router and the backend.
//!
//! A proxy that routes on one reading of a path and forwards another lets a client reach a
//! backend through a rule meant for another one: `/public/../admin` matches `/public` and a
//! backend resolves it to `/admin` (Traefik's CVE-2025-32431 and the advisories after it). So,
//! before a path is matched and after every rewrite of it:
//!
//! 1. **Refused**: percent-encoded characters that change what a path means to some server —
//!    `%2F` (`/`), `%5C` and a raw `\`, `%00`, `%25` (double encoding), `%3B` (`;`), `%3F`
//!    (`?`), `%23` (`#`) — and `%2E` inside a dot segment (`%2e%2e`, `.%2E`), unless the
//!    entry point allows that character ([`EncodedCharacters`]). A `%` not followed by two hex
//!    digits is refused too: it is malformed (Go's server, hence Traefik 1.x, answered 400),
//!    and `%%32%65` decoded twice is `.`, the double encoding `%25` stands for.
//! 2. **Dot segments removed** (RFC 3986 §5.2.4): `.` and `..`, written plainly or encoded
//!    (when allowed), and any segment that is one of them before a `;` (`..;x`, which
//!    Tomcat-style servers resolve as `..`). `..` above the root stays at the root. `//` and
//!    other `;` parameters are kept as written; everything else keeps its encoding.
//!
//! [`normalize`] works on the raw (as-sent, percent-encoded) path, `/` its only separator: what
//! it returns is what a backend gets. Rules match that path percent-decoded; when `%2F` or a
//! backslash was allowed, decoding can make new separators, so [`clean_decoded`] removes dot
//! segments again on the decoded path, `/` and `\` both separators: `/public%2F..%2Fadmin`
//! (allowed) is matched as `/admin`, as a backend that decodes `%2F` would resolve it.
//!
//! The common path (no `%`, `\` or `.`) costs one scan and borrows; nothing is allocated
//! unless a dot segment has to go.

use std::borrow::Cow;
use std::fmt;

use http::Request;
use http::uri::PathAndQuery;

use super::{hex, set_path, unit};

/// Which encoded characters are let through (not refused); all `false` by default.
/// Allowed characters are still normalised: an allowed `%2E%2E` segment is removed as `..`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodedCharacters {
    /// `%2F`.
    pub allow_encoded_slash: bool,
    /// `%5C`, and a raw `\`.
    pub allow_encoded_back_slash: bool,
    /// `%00`.
    pub allow_encoded_null_character: bool,
    /// `%3B`.
    pub allow_encoded_semicolon: bool,
    /// `%25`.
    pub allow_encoded_percent: bool,
    /// `%3F`.
    pub allow_encoded_question_mark: bool,
    /// `%23`.
    pub allow_encoded_hash: bool,
    /// `%2E` in a dot segment (elsewhere, `%2E` is always let through).
    pub allow_encoded_dot: bool,
}

impl EncodedCharacters {
    /// All eight options from one byte, bit 0 (`allow_encoded_slash`) to bit 7
    /// (`allow_encoded_dot`) in field order: every combination, for the fuzz target and
    /// the properties.
    pub fn from_bits(bits: u8) -> Self {
        let on = |i: u8| bits & (1 << i) != 0;
        EncodedCharacters {
            allow_encoded_slash: on(0),
            allow_encoded_back_slash: on(1),
            allow_encoded_null_character: on(2),
            allow_encoded_semicolon: on(3),
            allow_encoded_percent: on(4),
            allow_encoded_question_mark: on(5),
            allow_encoded_hash: on(6),
            allow_encoded_dot: on(7),
        }
    }
}

/// Why a path was refused: the first offending character, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Slash,
    BackSlash,
    NullCharacter,
    Semicolon,
    Percent,
    QuestionMark,
    Hash,
    /// `%2E` in a segment that is `.` or `..` once decoded.
    Dot,
    /// A `%` not followed by two hex digits.
    MalformedEscape,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Slash => "encoded slash (%2F) in the path",
            Refused::BackSlash => "backslash (\\ or %5C) in the path",
            Refused::NullCharacter => "encoded NUL (%00) in the path",
            Refused::Semicolon => "encoded semicolon (%3B) in the path",
            Refused::Percent => "encoded percent (%25) in the path",
            Refused::QuestionMark => "encoded question mark (%3F) in the path",
            Refused::Hash => "encoded hash (%23) in the path",
            Refused::Dot => "encoded dot (%2E) in a dot segment of the path",
            Refused::MalformedEscape => "malformed percent-encoding in the path",
        })
    }
}

impl std::error::Error for Refused {}

/// The raw path, checked and with its dot segments removed; borrowed when it was already so.
/// A path not starting with `/` (`*` of `OPTIONS *`) is only checked.
pub fn normalize<'a>(raw: &'a str, allow: &EncodedCharacters) -> Result<Cow<'a, str>, Refused> {
    let bytes = raw.as_bytes();
    let (mut escaped, mut dot) = (false, false);
    for &b in bytes {
        match b {
            b'%' | b'\\' => escaped = true,
            b'.' => dot = true,
            _ => {}
        }
    }
    if escaped {
        check(bytes, allow)?;
    }
    if !(escaped || dot) || !raw.starts_with('/') {
        return Ok(Cow::Borrowed(raw));
    }
    Ok(
        match remove_dot_segments(raw, |b| b == b'/', is_raw_dot_segment) {
            Some(clean) => Cow::Owned(clean),
            None => Cow::Borrowed(raw),
        },
    )
}

/// A percent-decoded path with its dot segments removed again, `/` and `\` both separators
/// (see the module's documentation). Returned as is when it has none.
pub fn clean_decoded(decoded: Cow<'_, str>) -> Cow<'_, str> {
    let is_sep = |b| b == b'/' || b == b'\\';
    // No dot, no dot segment: the common case is one (memchr) scan.
    if !decoded.starts_with('/') || !decoded.contains('.') {
        return decoded;
    }
    match remove_dot_segments(&decoded, is_sep, is_decoded_dot_segment) {
        Some(clean) => Cow::Owned(clean),
        None => decoded,
    }
}

/// [`normalize`]s the request's path in place (scheme, authority and query kept). Returns the
/// path and query as they were when the path changed, `None` when it was already normal.
pub fn normalize_request<B>(
    req: &mut Request<B>,
    allow: &EncodedCharacters,
) -> Result<Option<PathAndQuery>, Refused> {
    let clean = match normalize(req.uri().path(), allow)? {
        Cow::Borrowed(_) => return Ok(None),
        Cow::Owned(clean) => clean,
    };
    let sent = req.uri().path_and_query().cloned();
    set_path(req.uri_mut(), &clean);
    Ok(sent)
}

/// Refuses the encodings `allow` does not let through. Segments are split on every slash and
/// backslash, raw or encoded, for the dot-segment test: a server may decode `%2F` first.
fn check(raw: &[u8], allow: &EncodedCharacters) -> Result<(), Refused> {
    let mut segment = DotSegment::default();
    let mut at = 0;
    while at < raw.len() {
        let (b, encoded, len) = match raw[at] {
            b'%' => match (
                raw.get(at + 1).copied().and_then(hex),
                raw.get(at + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => (h << 4 | l, true, 3),
                _ => return Err(Refused::MalformedEscape),
            },
            // A raw backslash is a separator to some servers, as an encoded one is.
            b'\\' => (b'\\', true, 1),
            b => (b, false, 1),
        };
        if encoded {
            refuse_encoded(b, allow)?;
        }
        if b == b'/' || b == b'\\' {
            segment.end(allow)?;
            segment = DotSegment::default();
        } else {
            segment.push(b, encoded);
        }
        at += len;
    }
    segment.end(allow)
}

fn refuse_encoded(b: u8, allow: &EncodedCharacters) -> Result<(), Refused> {
    let (allowed, refused) = match b {
        b'/' => (allow.allow_encoded_slash, Refused::Slash),
        b'\\' => (allow.allow_encoded_back_slash, Refused::BackSlash),
        0 => (allow.allow_encoded_null_character, Refused::NullCharacter),
        b';' => (allow.allow_encoded_semicolon, Refused::Semicolon),
        b'%' => (allow.allow_encoded_percent, Refused::Percent),
        b'?' => (allow.allow_encoded_question_mark, Refused::QuestionMark),
        b'#' => (allow.allow_encoded_hash, Refused::Hash),
        _ => return Ok(()),
    };
    if allowed { Ok(()) } else { Err(refused) }
}

/// Whether the segment being read is a dot segment holding an encoded dot.
#[derive(Default)]
struct DotSegment {
    dots: u8,
    encoded_dot: bool,
    /// Something other than `.` came before any `;`.
    other: bool,
    /// A `;` was met: the rest is a parameter.
    parameter: bool,
}

impl DotSegment {
    fn push(&mut self, b: u8, encoded: bool) {
        if self.parameter || self.other {
            return;
        }
        match b {
            b';' => self.parameter = true,
            b'.' if self.dots < 2 => {
                self.dots += 1;
                self.encoded_dot |= encoded;
            }
            _ => self.other = true,
        }
    }

    fn end(&self, allow: &EncodedCharacters) -> Result<(), Refused> {
        if self.encoded_dot && !self.other && !allow.allow_encoded_dot {
            Err(Refused::Dot)
        } else {
            Ok(())
        }
    }
}

/// `.` or `..`, the segment being raw (percent-decoded here) and read up to its first `;`.
fn is_raw_dot_segment(segment: &[u8]) -> Option<Dot> {
    let (mut dots, mut at) = (0, 0);
    while let Some((b, len)) = unit(segment, at) {
        match b {
            b';' => break,
            b'.' if dots < 2 => dots += 1,
            _ => return None,
        }
        at += len;
    }
    Dot::of(dots)
}

/// `.` or `..`, the segment being decoded already, read up to its first `;`.
fn is_decoded_dot_segment(segment: &[u8]) -> Option<Dot> {
    let name = segment.split(|&b| b == b';').next().unwrap_or_default();
    if name.iter().all(|&b| b == b'.') {
        Dot::of(name.len())
    } else {
        None
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dot {
    /// `.`: the segment goes.
    Current,
    /// `..`: it goes with the segment before it.
    Parent,
}

impl Dot {
    fn of(dots: usize) -> Option<Dot> {
        match dots {
            1 => Some(Dot::Current),
            2 => Some(Dot::Parent),
            _ => None,
        }
    }
}

/// The segments of a path starting with a separator, each with the separator before it:
/// `/a//b/` is `/a`, `/`, `/b`, `/`.
fn segments(path: &[u8], is_sep: impl Fn(u8) -> bool) -> impl Iterator<Item = (usize, usize)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= path.len() {
            return None;
        }
        let start = at;
        at += 1;
        while at < path.len() && !is_sep(path[at]) {
            at += 1;
        }
        Some((start, at))
    })
}

/// RFC 3986 §5.2.4 over segments, each kept as written with its own separator; `None` when
/// there is no dot segment (nothing to do). `path` starts with a separator.
fn remove_dot_segments(
    path: &str,
    is_sep: impl Fn(u8) -> bool + Copy,
    dot: impl Fn(&[u8]) -> Option<Dot>,
) -> Option<String> {
    let bytes = path.as_bytes();
    segments(bytes, is_sep).find(|&(s, e)| dot(&bytes[s + 1..e]).is_some())?;
    let mut out = String::with_capacity(path.len());
    // Where each segment kept in `out` starts, for `..` to cut it off.
    let mut starts = Vec::new();
    for (s, e) in segments(bytes, is_sep) {
        let last = e == bytes.len();
        match dot(&bytes[s + 1..e]) {
            None => {
                starts.push(out.len());
                out.push_str(&path[s..e]);
            }
            Some(d) => {
                if d == Dot::Parent
                    && let Some(start) = starts.pop()
                {
                    out.truncate(start);
                }
                // `/a/b/..` is `/a/`: a path ending in a dot segment ends in a separator.
                if last {
                    starts.push(out.len());
                    out.push_str(&path[s..s + 1]);
                }
            }
        }
    }
    // A path keeps its first separator: `/a\..\b` is `/b`, not `\b`.
    if out.is_empty() {
        out.push_str(&path[..1]);
    } else if out.as_bytes()[0] != bytes[0] {
        out.replace_range(..1, &path[..1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: EncodedCharacters = EncodedCharacters {
        allow_encoded_slash: false,
        allow_encoded_back_slash: false,
        allow_encoded_null_character: false,
        allow_encoded_semicolon: false,
        allow_encoded_percent: false,
        allow_encoded_question_mark: false,
        allow_encoded_hash: false,
        allow_encoded_dot: false,
    };

    fn ok(raw: &str) -> String {
        normalize(raw, &NONE).unwrap().into_owned()
    }

    #[test]
    fn dot_segments_are_removed() {
        for (raw, clean) in [
            ("/public/../admin", "/admin"),
            ("/public/./../admin/x", "/admin/x"),
            ("/a/b/c/./../../g", "/a/g"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/..", "/"),
            ("/.", "/"),
            ("/../a", "/a"),
            ("/../../a/..", "/"),
            ("/a//../b", "/a/b"),
            ("/a/..;/b", "/b"),
            ("/a/..;x=1/b", "/b"),
            ("/a/.;x/b", "/a/b"),
            ("/a/b/..;", "/a/"),
            ("/a/...", "/a/..."),
            ("/a/..b/.c", "/a/..b/.c"),
        ] {
            assert_eq!(ok(raw), clean, "{raw}");
        }
    }

    #[test]
    fn what_is_normal_is_borrowed() {
        for raw in [
            "/",
            "/a/b",
            "/app.js",
            "/a//b;x=1/",
            "/a%20b/%2ex",
            "/x/.../y",
            "*",
            "",
        ] {
            assert!(
                matches!(normalize(raw, &NONE), Ok(Cow::Borrowed(p)) if p == raw),
                "{raw}"
            );
        }
        // `%2E` outside a dot segment is not refused and keeps its encoding.
        assert_eq!(ok("/a%2Eb/%2e%2e%2e/x/../y"), "/a%2Eb/%2e%2e%2e/y");
    }

    #[test]
    fn meaningful_encodings_are_refused() {
        for (raw, why) in [
            ("/public%2F..%2Fadmin", Refused::Slash),
            ("/public/..%2fadmin", Refused::Slash),
            ("/public/..%5Cadmin", Refused::BackSlash),
            ("/public/..\\admin", Refused::BackSlash),
            ("/public/%00/x", Refused::NullCharacter),
            ("/public/%3b/x", Refused::Semicolon),
            ("/public/%252e%252e/x", Refused::Percent),
            ("/public/%3F", Refused::QuestionMark),
            ("/public/%23", Refused::Hash),
            ("/public/%2e%2e/admin", Refused::Dot),
            ("/public/.%2E/admin", Refused::Dot),
            ("/public/%2e", Refused::Dot),
            ("/public/%2e%2e;x/admin", Refused::Dot),
            ("/public/%zz", Refused::MalformedEscape),
            ("/public/100%", Refused::MalformedEscape),
            ("/public/%%32%65", Refused::MalformedEscape),
            // The first offender, left to right.
            ("/%2F%5C", Refused::Slash),
        ] {
            assert_eq!(normalize(raw, &NONE), Err(why), "{raw}");
        }
        // The dot test reads encoded separators as separators.
        let slash = EncodedCharacters {
            allow_encoded_slash: true,
            ..NONE
        };
        assert_eq!(normalize("/a%2F%2e%2e%2Fb", &slash), Err(Refused::Dot));
        assert_eq!(normalize("/a%2F..%2Fb", &slash).unwrap(), "/a%2F..%2Fb");
    }

    /// Turns one allowance on.
    type Allow = fn(&mut EncodedCharacters);

    #[test]
    fn each_allowance_lets_its_character_through_and_only_it() {
        let cases: [(&str, Refused, Allow); 8] = [
            ("/a%2Fb", Refused::Slash, |a| a.allow_encoded_slash = true),
            ("/a%5cb", Refused::BackSlash, |a| {
                a.allow_encoded_back_slash = true
            }),
            ("/a%00b", Refused::NullCharacter, |a| {
                a.allow_encoded_null_character = true
            }),
            ("/a%3Bb", Refused::Semicolon, |a| {
                a.allow_encoded_semicolon = true
            }),
            ("/a%25b", Refused::Percent, |a| {
                a.allow_encoded_percent = true
            }),
            ("/a%3fb", Refused::QuestionMark, |a| {
                a.allow_encoded_question_mark = true
            }),
            ("/a%23b", Refused::Hash, |a| a.allow_encoded_hash = true),
            ("/a/%2E/b", Refused::Dot, |a| a.allow_encoded_dot = true),
        ];
        for (i, (_, _, set)) in cases.iter().enumerate() {
            let mut allow = NONE;
            set(&mut allow);
            for (j, (raw, why, _)) in cases.iter().enumerate() {
                let got = normalize(raw, &allow);
                if i == j {
                    assert!(got.is_ok(), "{raw} with {allow:?}: {got:?}");
                } else {
                    assert_eq!(got, Err(*why), "{raw} with {allow:?}");
                }
            }
        }
        // Allowed, still normalised.
        let dot = EncodedCharacters {
            allow_encoded_dot: true,
            ..NONE
        };
        assert_eq!(normalize("/public/%2E%2E/admin", &dot).unwrap(), "/admin");
        assert_eq!(normalize("/public/.%2e;x/admin", &dot).unwrap(), "/admin");
        let semicolon = EncodedCharacters {
            allow_encoded_semicolon: true,
            ..NONE
        };
        assert_eq!(
            normalize("/public/..%3Bx/admin", &semicolon).unwrap(),
            "/admin"
        );
    }

    #[test]
    fn decoded_separators_are_resolved_for_matching() {
        let clean = |s: &str| clean_decoded(Cow::Borrowed(s)).into_owned();
        assert_eq!(clean("/public/../admin"), "/admin");
        assert_eq!(clean("/public\\..\\admin"), "/admin");
        assert_eq!(clean("/public/..\\admin"), "/admin");
        assert_eq!(clean("/a\\b/..\\c"), "/a\\c");
        assert_eq!(clean("/a/b\\..;x"), "/a\\");
        assert!(matches!(
            clean_decoded(Cow::Borrowed("/a/b.c")),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            clean_decoded(Cow::Borrowed("*")),
            Cow::Borrowed("*")
        ));
    }

    #[test]
    fn requests_keep_their_query_and_authority() {
        let mut req = Request::new(());
        *req.uri_mut() = "http://h:81/a/../b?x=/../%2F&y".parse().unwrap();
        let sent = normalize_request(&mut req, &NONE).unwrap();
        assert_eq!(req.uri(), "http://h:81/b?x=/../%2F&y");
        assert_eq!(sent.unwrap(), "/a/../b?x=/../%2F&y");
        let mut req = Request::new(());
        *req.uri_mut() = "/a/b?q=%2F".parse().unwrap();
        assert_eq!(normalize_request(&mut req, &NONE), Ok(None));
        *req.uri_mut() = "/a%2Fb?q".parse().unwrap();
        assert_eq!(normalize_request(&mut req, &NONE), Err(Refused::Slash));
        assert_eq!(req.uri(), "/a%2Fb?q");
    }

    /// Properties over paths made of the pieces attacks are made of.
    mod props {
        use super::*;
        use proptest::prelude::*;

        fn path() -> impl Strategy<Value = String> {
            let token = prop_oneof![
                Just("/"),
                Just("//"),
                Just("a"),
                Just("public"),
                Just("."),
                Just(".."),
                Just("..."),
                Just(";"),
                Just(";x=1"),
                Just("%2e"),
                Just("%2E"),
                Just(".%2e"),
                Just("%2f"),
                Just("%2F"),
                Just("%5c"),
                Just("%5C"),
                Just("\\"),
                Just("%00"),
                Just("%25"),
                Just("%252e"),
                Just("%3b"),
                Just("%3B"),
                Just("%3f"),
                Just("%23"),
                Just("%41"),
                Just("%"),
                Just("%z"),
                Just("%2"),
                Just("é"),
                Just("%C3%A9"),
            ];
            proptest::collection::vec(token, 0..12).prop_map(|t| format!("/{}", t.concat()))
        }

        fn allowances() -> impl Strategy<Value = EncodedCharacters> {
            any::<u8>().prop_map(EncodedCharacters::from_bits)
        }

        /// (byte, was encoded) per unit, `None` if an escape is malformed; a raw `\` counts
        /// as encoded.
        fn units(raw: &str) -> Option<Vec<(u8, bool)>> {
            let b = raw.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    let h = b.get(i + 1).copied().and_then(hex)?;
                    let l = b.get(i + 2).copied().and_then(hex)?;
                    out.push((h << 4 | l, true));
                    i += 3;
                } else {
                    out.push((b[i], b[i] == b'\\'));
                    i += 1;
                }
            }
            Some(out)
        }

        /// `.`/`..` before any `;`.
        fn is_dot(segment: &[(u8, bool)]) -> bool {
            let name = segment.split(|&(c, _)| c == b';').next().unwrap();
            (1..=2).contains(&name.len()) && name.iter().all(|&(c, _)| c == b'.')
        }

        /// The oracle: the rule as the README states it, written plainly.
        fn forbidden(raw: &str, allow: &EncodedCharacters) -> bool {
            let Some(units) = units(raw) else {
                return true;
            };
            let refused_char = units.iter().any(|&(c, encoded)| {
                encoded
                    && match c {
                        b'/' => !allow.allow_encoded_slash,
                        b'\\' => !allow.allow_encoded_back_slash,
                        0 => !allow.allow_encoded_null_character,
                        b';' => !allow.allow_encoded_semicolon,
                        b'%' => !allow.allow_encoded_percent,
                        b'?' => !allow.allow_encoded_question_mark,
                        b'#' => !allow.allow_encoded_hash,
                        _ => false,
                    }
            });
            let refused_dot = !allow.allow_encoded_dot
                && units
                    .split(|&(c, _)| c == b'/' || c == b'\\')
                    .any(|s| is_dot(s) && s.iter().take_while(|u| u.0 != b';').any(|u| u.1));
            refused_char || refused_dot
        }

        fn has_dot_segment(path: &str, separators: &[u8]) -> bool {
            let plain: Vec<(u8, bool)> = path.bytes().map(|b| (b, false)).collect();
            plain.split(|&(c, _)| separators.contains(&c)).any(is_dot)
        }

        fn decoded(path: &str) -> String {
            String::from_utf8_lossy(&crate::path::decode(path)).into_owned()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn refusing_is_exactly_a_forbidden_encoding(raw in path(), allow in allowances()) {
                let got = normalize(&raw, &allow);
                prop_assert_eq!(got.is_err(), forbidden(&raw, &allow), "{} → {:?}", raw, got);
            }

            #[test]
            fn what_passes_is_clean_and_stays_so(raw in path(), allow in allowances()) {
                let Ok(out) = normalize(&raw, &allow) else { return Ok(()) };
                prop_assert!(out.starts_with('/'), "{} → {}", raw, out);
                // No raw segment is a dot segment once decoded.
                let segments_decoded = units(&out).unwrap();
                prop_assert!(
                    !segments_decoded
                        .split(|&(c, e)| c == b'/' && !e)
                        .skip(1)
                        .any(is_dot),
                    "{} → {}", raw, out
                );
                // Idempotent, and borrowed the second time.
                prop_assert!(matches!(normalize(&out, &allow), Ok(Cow::Borrowed(o)) if o == out));
                // What rules match: decoded, dot segments resolved across decoded separators.
                let matched = clean_decoded(Cow::Owned(decoded(&out)));
                prop_assert!(matched.starts_with('/'), "{} → {}", raw, matched);
                prop_assert!(!matched.contains("/../"), "{} → {}", raw, matched);
                prop_assert!(!has_dot_segment(&matched, b"/\\"), "{} → {}", raw, matched);
                let again = clean_decoded(Cow::Borrowed(&matched));
                prop_assert!(matches!(again, Cow::Borrowed(_)));
                // Without encoded separators, decoding alone leaves no dot segment.
                if !allow.allow_encoded_slash && !allow.allow_encoded_back_slash {
                    let d = decoded(&out);
                    prop_assert!(!d.contains("/../") && !has_dot_segment(&d, b"/"), "{} → {}", raw, d);
                }
            }
        }
    }
}
