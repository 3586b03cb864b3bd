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
    /// The end-to-end fields: the hop-by-hop ones are read into `hop` instead (a
    /// `Connection` that nominates other fields stays, for `strip_hop_by_hop`).
    pub headers: HeaderMap,
    /// What the fields that frame the body and scope the connection say.
    pub hop: Hop,
    /// Bytes of the buffer the head took.
    pub len: usize,
}

/// What a head's framing and connection fields say, read in the one pass that builds its
/// map: no lookup in the map afterwards, and the hop-by-hop fields, which trafik would
/// remove before the response goes on anyway, are never put in it. About 1,100
/// instructions of a hello request (`Connection: keep-alive` hashed in, looked up, parsed
/// twice and taken out again; `Content-Length` and `Transfer-Encoding` looked up).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// The one length every Content-Length field and comma-separated value agree on
    /// (`Err`: they do not, or one is not a number); `None`: no Content-Length.
    content_length: Option<Result<u64, ()>>,
    transfer_encoding: bool,
    /// The last transfer coding of the last Transfer-Encoding field is chunked.
    chunked_last: bool,
    /// `Connection` tokens.
    close: bool,
    keep_alive: bool,
}

/// How the pass over a head's fields treats one, by its name.
#[derive(Debug, PartialEq, Eq)]
enum Field {
    ContentLength,
    TransferEncoding,
    Connection,
    /// Another hop-by-hop field (`headers::HOP_BY_HOP`): left out of the map.
    OtherHop,
    EndToEnd,
}

/// A field's kind by its name in any letter case: the length picks the one or two
/// candidates to compare (the unit test checks this against `headers::HOP_BY_HOP`).
fn field(name: &[u8]) -> Field {
    let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
    match name.len() {
        14 if is("content-length") => Field::ContentLength,
        17 if is("transfer-encoding") => Field::TransferEncoding,
        10 if is("connection") => Field::Connection,
        10 if is("keep-alive") => Field::OtherHop,
        16 if is("proxy-connection") => Field::OtherHop,
        18 if is("proxy-authenticate") => Field::OtherHop,
        19 if is("proxy-authorization") => Field::OtherHop,
        7 if is("trailer") || is("upgrade") => Field::OtherHop,
        2 if is("te") => Field::OtherHop,
        _ => Field::EndToEnd,
    }
}

impl Hop {
    fn read_content_length(&mut self, value: &[u8]) {
        for part in value.split(|b| *b == b',') {
            let n = parse_decimal(part.trim_ascii()).ok_or(());
            self.content_length = Some(match (self.content_length, n) {
                (Some(Err(())), _) | (_, Err(())) => Err(()),
                (Some(Ok(found)), Ok(n)) if found != n => Err(()),
                (_, Ok(n)) => Ok(n),
            });
        }
    }

    fn read_transfer_encoding(&mut self, value: &[u8]) {
        self.transfer_encoding = true;
        self.chunked_last = value
            .rsplit(|b| *b == b',')
            .next()
            .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
    }

    /// Reads a `Connection` field's tokens; true when it nominates other fields (or says
    /// `upgrade`), which `strip_hop_by_hop` then removes with it.
    fn read_connection(&mut self, value: &[u8]) -> bool {
        let mut nominates = false;
        for token in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if !token.is_empty() {
                nominates = true;
            }
        }
        nominates
    }
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
    let mut hop = Hop::default();
    for h in response.headers.iter() {
        let kept = match field(h.name.as_bytes()) {
            Field::ContentLength => {
                hop.read_content_length(h.value);
                true
            }
            Field::TransferEncoding => {
                hop.read_transfer_encoding(h.value);
                false
            }
            Field::Connection => hop.read_connection(h.value),
            Field::OtherHop => false,
            Field::EndToEnd => true,
        };
        if !kept {
            continue;
        }
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
        hop,
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
    let hop = head.hop;
    // HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 only with
    // `Connection: keep-alive`.
    let keep_alive = !hop.close && (head.version == Version::HTTP_11 || hop.keep_alive);
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
    let has_length = hop.content_length.is_some();
    if hop.transfer_encoding {
        // Transfer-Encoding wins over Content-Length; both at once is how responses are
        // smuggled, so such a connection carries nothing more. Nor does an HTTP/1.0 one:
        // 1.0 has no Transfer-Encoding, and RFC 9112 §6.1 treats its framing as faulty.
        if has_length {
            head.headers.remove(header::CONTENT_LENGTH);
        }
        return Ok(if hop.chunked_last {
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
    if let Some(length) = hop.content_length {
        return Ok(Decision {
            framing: Framing::Length(length.map_err(|()| HeadError::BadContentLength)?),
            reusable: keep_alive,
        });
    }
    Ok(Decision {
        framing: Framing::Close,
        reusable: false,
    })
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
    fn knows_every_hop_by_hop_field_in_any_case() {
        for name in crate::proxy::headers::HOP_BY_HOP {
            let name = name.as_str();
            assert_ne!(field(name.as_bytes()), Field::EndToEnd, "{name}");
            assert_ne!(
                field(name.to_uppercase().as_bytes()),
                Field::EndToEnd,
                "{name}"
            );
        }
        for name in [
            "content-lengthx",
            "connections",
            "x-te",
            "date",
            "upgrades",
            "",
        ] {
            assert_eq!(field(name.as_bytes()), Field::EndToEnd, "{name}");
        }
    }

    /// The hop-by-hop fields are read, not kept; `Connection` stays only when it names
    /// other fields, for `strip_hop_by_hop` to remove them with it.
    #[test]
    fn keeps_only_end_to_end_fields_in_the_map() {
        let raw = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\
                   Transfer-Encoding: chunked\r\nTrailer: X-T\r\nUpgrade: h2c\r\n\
                   Proxy-Connection: x\r\nTE: trailers\r\nContent-Type: text/plain\r\n\r\n";
        let h = head(raw).unwrap().unwrap();
        assert_eq!(
            h.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["content-type"]
        );
        assert!(h.hop.transfer_encoding && h.hop.chunked_last && h.hop.keep_alive);
        let raw = "HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: X-Secret\r\n\
                   X-Secret: s\r\nContent-Length: 0\r\n\r\n";
        let h = head(raw).unwrap().unwrap();
        assert_eq!(h.headers["connection"], "X-Secret");
        assert_eq!(h.headers["content-length"], "0");
        assert!(h.hop.close);
        let mut h = h;
        let mut map = std::mem::take(&mut h.headers);
        crate::proxy::headers::strip_hop_by_hop(&mut map);
        assert_eq!(
            map.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["content-length"]
        );
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
