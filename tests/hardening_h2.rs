//! h2c downgrade: malformed HTTP/2 requests (prior knowledge, cleartext) to the real trafik
//! binary, which speaks HTTP/1.1 to a raw backend; asserted on what the backend received.
//!
//! What this file proves, for every case of the table in `cases()` (a `content-length`
//! that disagrees with the DATA sent, `transfer-encoding` and the other connection-specific
//! headers, CR/LF/NUL in values, names and `:path`, a pseudo-header after a regular one,
//! an empty, spaced, duplicated or missing `:path`, a spaced `:method`, uppercase names,
//! and DATA frames that hold a whole HTTP/1.1 request), each on its own connection as
//! stream 1 with a well-formed `GET /<case>/next` as stream 3:
//!
//! * a malformed request is refused (RST_STREAM, GOAWAY, or a 4xx of trafik's own) and no
//!   complete request of it reaches the backend;
//! * a well-formed one reaches the backend exactly once with the body the client sent:
//!   a DATA frame holding `GET /<case>/smuggled HTTP/1.1…` arrives as body bytes, framed
//!   (chunked or Content-Length), never as a request of its own;
//! * no header line is ever injected into the HTTP/1.1 request trafik writes (no
//!   `injected` header, no request line the client did not send): the raw backend
//!   (tests/raw_backend) parses what it gets strictly and fails the test on anything
//!   outside HTTP/1.1's grammar;
//! * the other stream of the connection is answered with its own response, or not at all
//!   when the connection is closed: never with another request's answer.

use crate::common;
use crate::raw_backend;
use crate::raw_h2;

use std::net::SocketAddr;

use common::*;
use raw_backend::{RawBackend, Request, escape};
use raw_h2::*;

#[derive(Clone, Debug)]
enum Expect {
    /// RST_STREAM, GOAWAY or a 4xx; nothing complete at the backend.
    Refused,
    /// Forwarded once with this body, or refused.
    RefusedOr(&'static str),
    /// Forwarded once with this body.
    Accepted(&'static str),
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    /// The header block's fields in order, `{p}` standing for `/<name>`.
    fields: Vec<(&'static str, String)>,
    /// DATA (one frame, END_STREAM); `None`: END_STREAM on the HEADERS.
    data: Option<String>,
    expect: Expect,
}

const SMUGGLED: &str = "GET {p}/smuggled HTTP/1.1\r\nHost: h\r\n\r\n";

/// A POST to `{p}/first` with `extra` fields after the pseudo-headers.
fn post(
    name: &'static str,
    extra: &[(&'static str, &str)],
    data: Option<&str>,
    expect: Expect,
) -> Case {
    let mut fields = vec![
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "h"),
        (":path", "{p}/first"),
    ];
    fields.extend_from_slice(extra);
    raw(name, &fields, data, expect)
}

/// Exactly these fields, in this order.
fn raw(
    name: &'static str,
    fields: &[(&'static str, &str)],
    data: Option<&str>,
    expect: Expect,
) -> Case {
    let p = format!("/{name}");
    let expand = |s: &str| s.replace("{smuggled}", SMUGGLED).replace("{p}", &p);
    Case {
        name,
        fields: fields.iter().map(|(n, v)| (*n, expand(v))).collect(),
        data: data.map(expand),
        expect,
    }
}

// One case a line: a table reads better unwrapped.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Expect::*;
    let smuggled_cl = SMUGGLED.replace("{p}", "/data-holds-request-with-cl").len().to_string();
    vec![
        // Controls: the harness's own check.
        post("control-cl", &[("content-length", "5")], Some("hello"), Accepted("hello")),
        post("control-no-length", &[], Some("hello"), Accepted("hello")),
        post("control-te-trailers", &[("te", "trailers")], Some("hello"), Accepted("hello")),
        // content-length against the DATA sent (RFC 9113 §8.1.1: malformed).
        post("cl-shorter", &[("content-length", "3")], Some("hello"), Refused),
        post("cl-longer", &[("content-length", "10")], Some("hello"), Refused),
        post("cl-without-data", &[("content-length", "5")], None, Refused),
        post("cl-twice-different", &[("content-length", "5"), ("content-length", "3")], Some("hello"), Refused),
        post("cl-not-a-number", &[("content-length", "5x")], Some("hello"), Refused),
        post("cl-list", &[("content-length", "5, 5")], Some("hello"), RefusedOr("hello")),
        // Connection-specific headers (RFC 9113 §8.2.2: malformed).
        post("transfer-encoding-chunked", &[("transfer-encoding", "chunked")], Some("5\r\nhello\r\n0\r\n\r\n{smuggled}"), Refused),
        post("connection", &[("connection", "keep-alive")], Some("hello"), Refused),
        post("keep-alive", &[("keep-alive", "timeout=5")], Some("hello"), Refused),
        post("upgrade", &[("upgrade", "websocket")], Some("hello"), Refused),
        post("proxy-connection", &[("proxy-connection", "keep-alive")], Some("hello"), Refused),
        post("te-gzip", &[("te", "gzip")], Some("hello"), Refused),
        // Bytes that would split the HTTP/1.1 head trafik writes.
        post("crlf-in-value", &[("x", "a\r\nInjected: 1")], Some("hello"), Refused),
        post("crlf-content-length-in-value", &[("x", "a\r\nContent-Length: 0\r\n\r\n{smuggled}")], Some("hello"), Refused),
        post("lf-in-value", &[("x", "a\nInjected: 1")], Some("hello"), Refused),
        post("cr-in-value", &[("x", "a\rInjected: 1")], Some("hello"), Refused),
        post("nul-in-value", &[("x", "a\0b")], Some("hello"), Refused),
        post("crlf-in-name", &[("x\r\ninjected", "1")], Some("hello"), Refused),
        post("colon-in-name", &[("injected:x", "1")], Some("hello"), Refused),
        post("space-in-name", &[("injected x", "1")], Some("hello"), Refused),
        post("uppercase-name", &[("X-Upper", "1")], Some("hello"), Refused),
        raw("crlf-in-path", &[(":method", "POST"), (":scheme", "http"), (":authority", "h"), (":path", "{p}/first HTTP/1.1\r\nInjected: 1\r\n\r\nGET {p}/smuggled")], Some("hello"), Refused),
        raw("crlf-in-authority", &[(":method", "POST"), (":scheme", "http"), (":authority", "h\r\nInjected: 1"), (":path", "{p}/first")], Some("hello"), Refused),
        // Pseudo-headers out of place, missing or twice (RFC 9113 §8.3).
        raw("pseudo-after-regular", &[(":method", "POST"), (":scheme", "http"), (":authority", "h"), ("x", "1"), (":path", "{p}/first")], Some("hello"), Refused),
        raw("path-twice", &[(":method", "POST"), (":scheme", "http"), (":authority", "h"), (":path", "{p}/first"), (":path", "{p}/smuggled")], Some("hello"), Refused),
        raw("path-missing", &[(":method", "POST"), (":scheme", "http"), (":authority", "h")], Some("hello"), Refused),
        raw("path-empty", &[(":method", "POST"), (":scheme", "http"), (":authority", "h"), (":path", "")], Some("hello"), Refused),
        raw("path-with-space", &[(":method", "POST"), (":scheme", "http"), (":authority", "h"), (":path", "{p}/fir st")], Some("hello"), Refused),
        raw("method-with-space", &[(":method", "GET {p}/smuggled"), (":scheme", "http"), (":authority", "h"), (":path", "{p}/first")], Some("hello"), Refused),
        raw("unknown-pseudo", &[(":method", "POST"), (":scheme", "http"), (":authority", "h"), (":path", "{p}/first"), (":injected", "1")], Some("hello"), Refused),
        // A whole HTTP/1.1 request as the body: body bytes, nothing more.
        post("data-holds-request", &[], Some("{smuggled}"), Accepted("{smuggled}")),
        post("data-holds-request-with-cl", &[("content-length", &smuggled_cl)], Some("{smuggled}"), Accepted("{smuggled}")),
    ]
}

fn is_backend_answer(body: &[u8], name: &str) -> bool {
    let text = String::from_utf8_lossy(body);
    text.ends_with(&format!("/{name}/first")) || text.ends_with(&format!("/{name}/next"))
}

/// Judges one case: `seen` is how streams 1 (the case) and 3 (a well-formed GET) ended,
/// `requests` the backend's requests of this case in arrival order.
fn judge(case: &Case, seen: &Outcome, requests: &[&Request]) -> Result<String, String> {
    let first = format!("/{}/first", case.name);
    let next = format!("/{}/next", case.name);
    let smuggled_body = SMUGGLED.replace("{p}", &format!("/{}", case.name));
    for r in requests {
        if r.target.contains("/smuggled") || r.method.contains(' ') {
            return Err(format!(
                "a smuggled request reached the backend: {} {}",
                r.method, r.target
            ));
        }
        if let Some((n, v)) = r.headers.iter().find(|(n, _)| n.contains("injected")) {
            return Err(format!(
                "an injected header reached the backend: {n}: {}",
                escape(v)
            ));
        }
    }
    // Streams run side by side: the two may arrive in either order, each at most once.
    let firsts: Vec<&Request> = requests
        .iter()
        .copied()
        .filter(|r| r.target.ends_with(&first))
        .collect();
    let nexts: Vec<&Request> = requests
        .iter()
        .copied()
        .filter(|r| r.target.ends_with(&next))
        .collect();
    if let Some(r) = requests
        .iter()
        .find(|r| !r.target.ends_with(&first) && !r.target.ends_with(&next))
    {
        return Err(format!(
            "unexpected request at the backend: {} {} body {}",
            r.method,
            r.target,
            escape(&r.body)
        ));
    }
    if firsts.len() > 1 || nexts.len() > 1 {
        return Err(format!(
            "a request reached the backend twice: {} × first, {} × next",
            firsts.len(),
            nexts.len()
        ));
    }
    let got_first = firsts.first().copied();
    let got_next = nexts.first().copied();
    let first_forwarded = got_first.is_some_and(|r| r.complete);
    let (allowed, may_refuse) = match &case.expect {
        Expect::Refused => (None, true),
        Expect::RefusedOr(b) => (Some(b.replace("{smuggled}", &smuggled_body)), true),
        Expect::Accepted(b) => (Some(b.replace("{smuggled}", &smuggled_body)), false),
    };
    if let Some(r) = got_first.filter(|r| r.complete) {
        match &allowed {
            None => {
                return Err(format!(
                    "forwarded a malformed request; the backend got body {}",
                    escape(&r.body)
                ));
            }
            Some(b) if b.as_bytes() != r.body => {
                return Err(format!(
                    "the backend got body {}, the client sent {}",
                    escape(&r.body),
                    escape(b.as_bytes())
                ));
            }
            _ => {}
        }
    }
    let s1 = &seen.streams[&1];
    let outcome = match s1 {
        StreamEnd::Response { status, body } if is_backend_answer(body, case.name) => {
            let want = got_first.map(|q| format!("{} {}", q.method, q.target));
            if !first_forwarded
                || want.as_deref().map(str::as_bytes) != Some(&body[..])
                || *status != 200
            {
                return Err(format!(
                    "desync: stream 1 answered {status} {} for the backend's {want:?}",
                    escape(body)
                ));
            }
            "forwarded".to_string()
        }
        StreamEnd::Response { status, body } => {
            if !(400..500).contains(status) {
                return Err(format!("stream 1 answered {status} {}", escape(body)));
            }
            format!("refused ({status})")
        }
        StreamEnd::Reset(code) => format!("reset ({code:#x})"),
        StreamEnd::Unanswered => format!("connection ended (goaway {:?})", seen.goaway),
        StreamEnd::Hung => return Err("stream 1 got no answer".into()),
    };
    if outcome != "forwarded" {
        if !may_refuse {
            return Err(format!("{outcome}: a well-formed request must pass"));
        }
        if first_forwarded {
            return Err(format!(
                "{outcome} for the client, but the backend got the whole request"
            ));
        }
    }
    match (&seen.streams[&3], got_next) {
        (StreamEnd::Response { status: 200, body }, Some(q))
            if q.complete && body == format!("GET {}", q.target).as_bytes() =>
        {
            Ok(format!("{outcome}; stream 3 answered"))
        }
        (StreamEnd::Response { status, body }, _) => Err(format!(
            "desync: stream 3 answered {status} {} (backend's next: {:?})",
            escape(body),
            got_next.map(|q| (&q.method, &q.target))
        )),
        (StreamEnd::Hung, _) => Err("stream 3 got no answer".into()),
        (_, Some(q)) => Err(format!(
            "the backend got {} {} but stream 3 was not answered",
            q.method, q.target
        )),
        (end, None) => Ok(format!("{outcome}; stream 3 {end:?}")),
    }
}

async fn exchange(addr: SocketAddr, case: &Case) -> Outcome {
    let mut h2 = H2::connect(addr).await;
    let fields: Vec<(&str, &str)> = case.fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut bytes = match &case.data {
        Some(d) => {
            let mut b = frame(HEADERS, END_HEADERS, 1, &block(&fields));
            b.extend(frame(DATA, END_STREAM, 1, d.as_bytes()));
            b
        }
        None => frame(HEADERS, END_HEADERS | END_STREAM, 1, &block(&fields)),
    };
    let next = format!("/{}/next", case.name);
    bytes.extend(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        3,
        &request_block("GET", &next, &[]),
    ));
    // trafik may close before reading it all; what it answered is still to be read.
    let _ = h2.send(&bytes).await;
    h2.collect(&[1, 3], DEADLINE).await
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_h2_requests_never_reach_the_http1_backend() {
    let cases = cases();
    let backend = RawBackend::start().await;
    let (trafik, addr) = backend.behind_trafik().await;
    let tasks: Vec<_> = cases
        .iter()
        .map(|c| {
            let c = c.clone();
            tokio::spawn(async move { exchange(addr, &c).await })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    let requests = backend.requests();
    let mut failures = backend.stray(&requests, |target| {
        cases
            .iter()
            .any(|c| target.contains(&format!("/{}/", c.name)))
    });
    for (case, seen) in cases.iter().zip(&seen) {
        let marker = format!("/{}/", case.name);
        let mine: Vec<&Request> = requests
            .iter()
            .filter(|r| r.target.contains(&marker))
            .collect();
        match judge(case, seen, &mine) {
            Ok(how) => println!("ok   {:<32} {how}", case.name),
            Err(why) => {
                println!("FAIL {:<32} {why}", case.name);
                failures.push(format!(
                    "{}: {why}\n    fields {:?} data {:?}\n    saw {seen:?}",
                    case.name, case.fields, case.data
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} h2 cases failed:\n{}\ntrafik log:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n"),
        trafik.logs()
    );
}

/// The frame writer's integers and the `:status` reader, against RFC 7541's examples
/// and Huffman table.
#[test]
fn hpack_integers_and_status_decoding() {
    let mut out = Vec::new();
    hpack_int(&mut out, 5, 0, 1337);
    assert_eq!(out, [31, 154, 10]); // RFC 7541 §C.1.2
    out.clear();
    hpack_int(&mut out, 7, 0, 126);
    assert_eq!(out, [126]);
    // Static :status entries, after a dynamic table size update to 0.
    assert_eq!(decode_status(&[0x20, 0x88]), Ok(200));
    assert_eq!(decode_status(&[0x8c]), Ok(400));
    // Literals with the :status name: plain "413", Huffman "502" and "431" (padded).
    assert_eq!(decode_status(&[0x08, 0x03, b'4', b'1', b'3']), Ok(413));
    assert_eq!(decode_status(&[0x48, 0x82, 0x6c, 0x02]), Ok(502));
    assert_eq!(decode_status(&[0x08, 0x83, 0x69, 0x90, 0xff]), Ok(431));
    assert!(
        decode_status(&[0xbe]).is_err(),
        "a dynamic index is not expected"
    );
}
