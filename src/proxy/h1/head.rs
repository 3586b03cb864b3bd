//! Reading a backend's response head, and deciding from it how the body is framed
//! (RFC 9112 §6.3) and whether the connection may carry another request.
//!
//! Everything a backend sends is hostile: a backend can be compromised or just broken,
//! and what this accepts is what trafik passes on to its clients. httparse does the
//! grammar (status line, header names as tokens, no NUL or bare CR in values, no
//! obsolete line folding in responses unless asked, which it is not); the bounds and the
//! framing rules are here.

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

/// At most this many header fields in a response head, as hyper's client.
pub const MAX_HEADERS: usize = 100;

/// A response head larger than this is refused (502) and its connection closed. hyper's
/// default is about 400 KB; 64 KiB is what nginx's largest `proxy_buffer_size` setups
/// use and far past any real response head (a dozen cookies of 4 KiB fit), while it
/// bounds what one slow or hostile backend can make trafik hold per connection.
pub const MAX_HEAD: usize = 64 * 1024;

/// Why a response head was refused. Each is a 502: the backend broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// Not HTTP/1.x, a bad status line, a bad header name or value, obsolete folding…
    Malformed(String),
    TooLarge,
    TooManyHeaders,
    /// Content-Length values that differ, or one that is not a number.
    BadContentLength,
    /// `101 Switching Protocols` to a request that asked for no upgrade.
    UnaskedUpgrade,
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::Malformed(why) => write!(f, "malformed response head: {why}"),
            HeadError::TooLarge => write!(f, "response head larger than {MAX_HEAD} bytes"),
            HeadError::TooManyHeaders => {
                write!(f, "response head with more than {MAX_HEADERS} fields")
            }
            HeadError::BadContentLength => f.write_str("invalid Content-Length in response"),
            HeadError::UnaskedUpgrade => f.write_str("101 Switching Protocols not asked for"),
        }
    }
}

impl std::error::Error for HeadError {}

/// A parsed response head, its values copied out of the read buffer (so the buffer can
/// be freed or reused while the response lives on).
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    /// The reason phrase when it is not the status's canonical one (hyper passes such a
    /// phrase on to the client, and so does trafik).
    pub reason: Option<Vec<u8>>,
    pub headers: HeaderMap,
    /// Bytes of the buffer the head took.
    pub len: usize,
}

/// A response's header map has room for at least this many fields. hyper's server side
/// keeps the map of each response it sent and parses the next request on that client
/// connection into it, and trafik then adds up to six `X-Forwarded-*` fields. With room
/// for 12 (16 slots: what a map sized for 7 to 12 gets anyway), a request of up to six
/// fields (API clients, probes, load generators) takes them without the map growing: a
/// reallocation and a rehash of every field, about 700 instructions (2 %) of a hello
/// request behind a backend that answers with six fields or fewer.
const MIN_FIELD_ROOM: usize = 12;

/// The head at the start of `buf`: `Ok(None)` while it is incomplete (read more).
pub fn parse(buf: &[u8]) -> Result<Option<Head>, HeadError> {
    let mut slots: [MaybeUninit<httparse::Header<'_>>; MAX_HEADERS] =
        [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut slots,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(HeadError::TooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Malformed(e.to_string())),
    };
    if len > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let version = match response.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(HeadError::Malformed("HTTP version".into())),
    };
    let status = response
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| HeadError::Malformed("status code".into()))?;
    let reason = response
        .reason
        .filter(|r| Some(*r) != status.canonical_reason())
        .map(|r| r.as_bytes().to_vec());
    // The head is copied out of the read buffer once, and the values are slices of that
    // copy: one allocation for the head rather than one per value, and the buffer (8 KiB
    // or more, reused or freed with the connection) is not pinned by the response.
    let copy = Bytes::copy_from_slice(&buf[..len]);
    let start = buf.as_ptr() as usize;
    let mut headers = HeaderMap::with_capacity(response.headers.len().max(MIN_FIELD_ROOM));
    for h in response.headers.iter() {
        // httparse checked the name is a token and the value has no CR, LF or NUL;
        // http's types check again (and lowercase the name).
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HeadError::Malformed(format!("header name {:?}", h.name)))?;
        // Where the value lies in the head (an empty value may point anywhere: copied).
        let within = (h.value.as_ptr() as usize)
            .checked_sub(start)
            .filter(|offset| !h.value.is_empty() && offset + h.value.len() <= len);
        let value = match within {
            Some(offset) => {
                HeaderValue::from_maybe_shared(copy.slice(offset..offset + h.value.len()))
            }
            None => HeaderValue::from_bytes(h.value),
        }
        .map_err(|_| HeadError::Malformed(format!("value of {:?}", h.name)))?;
        headers.append(name, value);
    }
    Ok(Some(Head {
        status,
        version,
        reason,
        headers,
        len,
    }))
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body, whatever the headers say (HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// A response's framing, and whether its connection may carry another request once the
/// body has been read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub framing: Framing,
    pub reusable: bool,
}

/// RFC 9112 §6.3 for the response to a request (`head_request`: its method was HEAD).
/// When Transfer-Encoding decides, a Content-Length beside it is removed from `head`, as
/// the RFC asks of an intermediary: passed on, it would frame the body anew for the
/// client.
pub fn decide(head: &mut Head, head_request: bool) -> Result<Decision, HeadError> {
    let keep_alive = keep_alive(head.version, &head.headers);
    let status = head.status.as_u16();
    if status == 101 {
        // The pool never asks for an upgrade (those go through hyper-util's client).
        return Err(HeadError::UnaskedUpgrade);
    }
    // Headers of a bodiless response pass through as they are (a HEAD's Content-Length
    // tells the size of what a GET would get).
    if head_request || status < 200 || status == 204 || status == 304 {
        return Ok(Decision {
            framing: Framing::Empty,
            reusable: keep_alive,
        });
    }
    let has_length = head.headers.contains_key(header::CONTENT_LENGTH);
    if head.headers.contains_key(header::TRANSFER_ENCODING) {
        // Transfer-Encoding wins over Content-Length; both at once is how responses are
        // smuggled, so such a connection carries nothing more. Nor does an HTTP/1.0 one:
        // 1.0 has no Transfer-Encoding, and RFC 9112 §6.1 treats its framing as faulty.
        if has_length {
            head.headers.remove(header::CONTENT_LENGTH);
        }
        return Ok(if chunked_last(&head.headers) {
            Decision {
                framing: Framing::Chunked,
                reusable: keep_alive && !has_length && head.version == Version::HTTP_11,
            }
        } else {
            Decision {
                framing: Framing::Close,
                reusable: false,
            }
        });
    }
    if has_length {
        return Ok(Decision {
            framing: Framing::Length(content_length(&head.headers)?),
            reusable: keep_alive,
        });
    }
    Ok(Decision {
        framing: Framing::Close,
        reusable: false,
    })
}

/// HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 only with
/// `Connection: keep-alive`.
fn keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let has = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if version == Version::HTTP_11 {
        !has("close")
    } else {
        has("keep-alive") && !has("close")
    }
}

/// Whether the last transfer coding (across every Transfer-Encoding field) is chunked.
fn chunked_last(headers: &HeaderMap) -> bool {
    let Some(last) = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
    else {
        return false;
    };
    last.as_bytes()
        .rsplit(|b| *b == b',')
        .next()
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The one length every Content-Length field (and comma-separated value) agrees on.
fn content_length(headers: &HeaderMap) -> Result<u64, HeadError> {
    let mut found: Option<u64> = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|b| *b == b',') {
            let n = parse_decimal(part.trim_ascii()).ok_or(HeadError::BadContentLength)?;
            if found.is_some_and(|f| f != n) {
                return Err(HeadError::BadContentLength);
            }
            found = Some(n);
        }
    }
    found.ok_or(HeadError::BadContentLength)
}

/// A Content-Length's digits, either way: digits only (no sign, no space inside), and no
/// overflow.
pub(super) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Result<Option<Head>, HeadError> {
        parse(raw.as_bytes())
    }

    fn decision(raw: &str, head_request: bool) -> Result<Decision, HeadError> {
        decide(&mut head(raw)?.expect("complete"), head_request)
    }

    fn framing(raw: &str) -> (Framing, bool) {
        let d = decision(raw, false).unwrap();
        (d.framing, d.reusable)
    }

    #[test]
    fn parses_a_complete_head_and_says_how_long_it_is() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nok";
        let h = head(raw).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.version, Version::HTTP_11);
        assert_eq!(h.len, raw.len() - 2);
        assert_eq!(h.headers["x-a"], "b");
        assert_eq!(h.reason, None);
    }

    #[test]
    fn an_incomplete_head_asks_for_more_byte_by_byte() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        for end in 0..raw.len() {
            assert!(parse(&raw[..end]).unwrap().is_none(), "at {end}");
        }
        assert!(parse(raw).unwrap().is_some());
    }

    #[test]
    fn copies_every_value_exactly_even_empty_ones() {
        let raw =
            "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-A: a b\r\nX-Spaces:   c  \r\nX-Empty-Too: \r\n\r\n";
        let h = head(raw).unwrap().unwrap();
        assert_eq!(h.headers["x-empty"], "");
        assert_eq!(h.headers["x-a"], "a b");
        assert_eq!(h.headers["x-spaces"], "c");
        assert_eq!(h.headers["x-empty-too"], "");
    }

    #[test]
    fn keeps_an_unusual_reason_phrase() {
        let h = head("HTTP/1.1 200 Fine Thanks\r\n\r\n").unwrap().unwrap();
        assert_eq!(h.reason.as_deref(), Some(&b"Fine Thanks"[..]));
    }

    #[test]
    fn refuses_malformed_heads() {
        for raw in [
            "HTTP/2.0 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 099 OK\r\n\r\n",
            "ICY 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A : a\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
        ] {
            assert!(
                matches!(head(raw), Err(HeadError::Malformed(_))),
                "{raw:?}: {:?}",
                head(raw)
            );
        }
    }

    #[test]
    fn bounds_the_head() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let raw = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert_eq!(head(&raw).unwrap_err(), HeadError::TooManyHeaders);
        let big = format!("HTTP/1.1 200 OK\r\nX-A: {}", "a".repeat(MAX_HEAD));
        assert_eq!(head(&big).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn frames_by_rfc_9112() {
        let ok = |extra: &str| format!("HTTP/1.1 200 OK\r\n{extra}\r\n");
        assert_eq!(
            framing(&ok("Content-Length: 5\r\n")),
            (Framing::Length(5), true)
        );
        assert_eq!(
            framing(&ok("Content-Length: 5\r\nContent-Length: 5\r\n")),
            (Framing::Length(5), true)
        );
        assert_eq!(
            framing(&ok("Content-Length: 5, 5\r\n")),
            (Framing::Length(5), true)
        );
        assert_eq!(
            framing(&ok("Transfer-Encoding: chunked\r\n")),
            (Framing::Chunked, true)
        );
        assert_eq!(
            framing(&ok("Transfer-Encoding: gzip, chunked\r\n")),
            (Framing::Chunked, true)
        );
        assert_eq!(
            framing(&ok(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"
            )),
            (Framing::Close, false)
        );
        assert_eq!(
            framing(&ok("Transfer-Encoding: gzip\r\n")),
            (Framing::Close, false)
        );
        // TE wins, and the connection is not trusted again.
        assert_eq!(
            framing(&ok("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")),
            (Framing::Chunked, false)
        );
        let mut both = head(&ok("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"))
            .unwrap()
            .unwrap();
        decide(&mut both, false).unwrap();
        assert!(
            !both.headers.contains_key("content-length"),
            "not passed on"
        );
        assert_eq!(framing(&ok("")), (Framing::Close, false));
        assert_eq!(
            framing(&ok("Content-Length: 5\r\nConnection: close\r\n")),
            (Framing::Length(5), false)
        );
    }

    #[test]
    fn refuses_bad_content_lengths() {
        for cl in [
            "5\r\nContent-Length: 6",
            "5, 6",
            "five",
            "-1",
            "+5",
            "",
            "1 2",
        ] {
            let raw = format!("HTTP/1.1 200 OK\r\nContent-Length: {cl}\r\n\r\n");
            assert_eq!(
                decision(&raw, false).unwrap_err(),
                HeadError::BadContentLength,
                "{cl}"
            );
        }
        let huge = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n";
        assert_eq!(
            decision(huge, false).unwrap_err(),
            HeadError::BadContentLength
        );
    }

    #[test]
    fn bodiless_responses_have_no_body_whatever_the_headers() {
        for raw in [
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        ] {
            assert_eq!(framing(raw), (Framing::Empty, true), "{raw:?}");
        }
        let d = decision("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).unwrap();
        assert_eq!(d.framing, Framing::Empty);
        assert_eq!(
            decision("HTTP/1.1 101 Switching\r\n\r\n", false).unwrap_err(),
            HeadError::UnaskedUpgrade
        );
    }

    #[test]
    fn http_1_0_keeps_alive_only_when_it_says_so() {
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"),
            (Framing::Length(1), false)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n"),
            (Framing::Length(1), true)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive, close\r\n\r\n"
            ),
            (Framing::Length(1), false)
        );
        // Transfer-Encoding in HTTP/1.0 frames this response, never the next one.
        assert_eq!(
            framing(
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
            ),
            (Framing::Chunked, false)
        );
    }
}
