//! HTTP/1.1 request smuggling through the real trafik binary, asserted on what the backend
//! received.
//!
//! What this file proves, for every case of the table in `cases()` (CL.CL, CL.TE, TE.CL,
//! `Transfer-Encoding` obfuscations alone and behind a `Content-Length`, bad chunk sizes
//! and lines, bare LF / bare CR / NUL / obs-fold in the head, `Content-Length` spellings,
//! absurd lengths, absolute-form with another Host, a space in the target, a GET with a
//! body, HTTP/1.0 keep-alive and HTTP/1.0 chunked, a malformed request with others
//! pipelined behind it), each sent as raw bytes on its own connection followed by a
//! well-formed pipelined `GET /<case>/next`:
//!
//! * trafik either refuses the request (a 4xx, 501 or 505 of its own and/or a closed
//!   connection; never a 502, which would blame the backend, see the test at the end)
//!   or forwards exactly one request, whose body the backend
//!   got as the client meant it (the table lists the acceptable bodies, and whether
//!   refusing is acceptable at all);
//! * no request the client did not send as a separate, well-framed request ever reaches
//!   the backend: every case hides a `GET /<case>/smuggled` where a misreading would
//!   turn it into a request, and no such target may arrive;
//! * the connection never desyncs: its second response, if any, is the backend's answer
//!   to `/<case>/next` (the backend's answers name the request they answer), and after a
//!   request carrying both `Content-Length` and `Transfer-Encoding`, nothing more is
//!   processed on the connection (RFC 9112 §6.1);
//! * what trafik sends the backend is plain, well-framed HTTP/1.1: the raw backend
//!   (tests/raw_backend) parses it strictly and any bare CR/LF, control byte, double
//!   framing or bad chunk line fails the test.
//!
//! All cases run at once against one trafik, each on its own connection, so the file
//! takes a few seconds. Adding a case is one line in `cases()`.

use crate::common;
use crate::raw_backend;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use raw_backend::{RawBackend, Request, escape, find};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a request that is incomplete by its own framing is watched for an answer it
/// must not get: only an upper bound on what a wrong answer would take to show.
const QUIET: Duration = Duration::from_secs(2);

/// A request the client hides where a misreading would make it a request of its own.
const SMUGGLED: &str = "GET {p}/smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
/// The well-formed request pipelined after every case that is complete by its framing.
const NEXT: &str = "GET {p}/next HTTP/1.1\r\nHost: h\r\n\r\n";

/// What the client meant by a case, and so what trafik may do with it.
#[derive(Clone, Debug)]
struct Expect {
    /// The bodies the backend may receive for the request when trafik forwards it.
    /// Empty: trafik must not forward it.
    bodies: Vec<String>,
    /// Refusing it (a 4xx/501/505 of trafik's own, or closing) is acceptable.
    may_refuse: bool,
    /// Once it is answered, nothing more on the connection may be processed.
    last: bool,
    /// Incomplete by its own framing: no answer is due; the backend may have the part that
    /// arrived (a prefix of `bodies[0]`), never a complete request.
    pending: bool,
}

fn refused() -> Expect {
    Expect {
        bodies: vec![],
        may_refuse: true,
        last: false,
        pending: false,
    }
}

fn refused_or(body: &str) -> Expect {
    Expect {
        bodies: vec![body.into()],
        ..refused()
    }
}

/// Both `Content-Length` and `Transfer-Encoding`: refused, or answered and the connection
/// closed after it (RFC 9112 §6.1).
fn refused_or_last(body: &str) -> Expect {
    Expect {
        last: true,
        ..refused_or(body)
    }
}

fn accepted(body: &str) -> Expect {
    Expect {
        may_refuse: false,
        ..refused_or(body)
    }
}

fn pending(body: &str) -> Expect {
    Expect {
        pending: true,
        ..refused_or(body)
    }
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
}

impl Case {
    fn marker(&self) -> String {
        format!("/{}/", self.name)
    }
}

/// `request` with `{smuggled}` → [`SMUGGLED`], `{p}` → `/<name>`, `{cl}` → the length of
/// what follows the first blank line; [`NEXT`] is appended unless the request is pending.
fn case(name: &'static str, request: &str, expect: Expect) -> Case {
    let expand = |s: &str| {
        s.replace("{smuggled}", SMUGGLED)
            .replace("{p}", &format!("/{name}"))
    };
    let mut request = expand(request);
    if request.contains("{cl}") {
        let at = find(request.as_bytes(), b"\r\n\r\n").expect("{cl} needs a blank line") + 4;
        let tail_len = request.len() - at;
        request = request.replace("{cl}", &tail_len.to_string());
    }
    if !expect.pending {
        request.push_str(&expand(NEXT));
    }
    let expect = Expect {
        bodies: expect.bodies.iter().map(|b| expand(b)).collect(),
        ..expect
    };
    Case {
        name,
        bytes: request.into_bytes(),
        expect,
    }
}

/// A chunked "hello", and what a chunked reading of the obfuscated `Transfer-Encoding`
/// cases must forward.
const CHUNKED_HELLO: &str = "5\r\nhello\r\n0\r\n\r\n";

/// `Transfer-Encoding` spellings: (name, header lines, whether trafik may read them as
/// `chunked`; where `chunked` is not the final coding, RFC 9112 §6.3 wants a 400).
#[rustfmt::skip]
const TE_VARIANTS: &[(&str, &str, bool)] = &[
    ("te-trailing-space", "Transfer-Encoding: chunked \r\n", true),
    ("te-trailing-tab", "Transfer-Encoding: chunked\t\r\n", true),
    ("te-leading-space", "Transfer-Encoding:   chunked\r\n", true),
    ("te-uppercase", "Transfer-Encoding: CHUNKED\r\n", true),
    ("te-xchunked", "Transfer-Encoding: xchunked\r\n", false),
    ("te-chunked-identity", "Transfer-Encoding: chunked, identity\r\n", false),
    ("te-identity-chunked", "Transfer-Encoding: identity, chunked\r\n", true),
    ("te-duplicated", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", true),
    ("te-duplicated-identity-first", "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", true),
    ("te-duplicated-chunked-first", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", false),
    ("te-folded", "Transfer-Encoding:\r\n chunked\r\n", true),
    ("te-space-before-colon", "Transfer-Encoding : chunked\r\n", false),
    ("te-vertical-tab", "Transfer-Encoding:\x0bchunked\r\n", true),
    ("te-nul", "Transfer-Encoding: chunked\0\r\n", true),
];

// One case a line: a table reads better unwrapped.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let mut cases = vec![
        // Controls: plain requests that must go through, so the harness itself is checked.
        case("control-get", "GET {p}/first HTTP/1.1\r\nHost: h\r\n\r\n", accepted("")),
        case("control-cl", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", accepted("hello")),
        case("control-chunked", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", accepted("hello")),
        case("control-chunk-extension", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n", accepted("hello")),
        // CL.CL
        case("cl-cl-different", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: {cl}\r\n\r\nhello{smuggled}", refused()),
        case("cl-cl-same", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", refused_or("hello")),
        case("cl-list-same", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", refused_or("hello")),
        case("cl-list-different", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 5, {cl}\r\n\r\nhello{smuggled}", refused()),
        // Content-Length spellings
        case("cl-plus", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", refused()),
        case("cl-negative", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\nhello", refused()),
        case("cl-hex", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", refused()),
        case("cl-leading-zeros", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\n\r\nhello", refused_or("hello")),
        case("cl-spaces-around", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length:   5   \r\n\r\nhello", refused_or("hello")),
        case("cl-space-inside", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 1 5\r\n\r\nhello", refused()),
        case("cl-space-before-colon", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello", refused()),
        case("cl-overflow", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551621\r\n\r\nhello{smuggled}", refused()),
        case("cl-huge", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000000\r\n\r\nhello{smuggled}", pending("hello{smuggled}")),
        // CL.TE and TE.CL: Transfer-Encoding wins, and the connection ends after it.
        case("cl-te", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: {cl}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}", refused_or_last("hello")),
        case("te-cl", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}", refused_or_last("hello")),
        case("cl-te-zero-chunk", "POST {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: {cl}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}", refused_or_last("")),
        // Bad chunk lines (each hides a request behind the line a lax parser misreads).
        case("chunk-size-0x", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n{smuggled}", refused()),
        case("chunk-size-plus", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n{smuggled}", refused()),
        case("chunk-size-negative", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n{smuggled}", refused()),
        case("chunk-size-overflow", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n{smuggled}", refused()),
        case("chunk-size-empty", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n{smuggled}", refused()),
        case("chunk-size-space", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", refused_or("hello")),
        case("chunk-ext-bare-lf", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext\nhello\r\n0\r\n\r\n", refused_or("hello")),
        // Ending the extension at the LF, the chunk is "xx" and 0xab bytes follow (never
        // sent); ending it at the CRLF, the chunk is "ab" and the request behind is served.
        case("chunk-ext-bare-lf-smuggle", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;\nxx\r\nab\r\n0\r\n\r\n{smuggled}", pending("xx0\r\n\r\n{smuggled}")),
        case("chunk-missing-crlf", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n{smuggled}", refused()),
        case("chunk-lf-only", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", refused_or("hello")),
        case("chunk-huge-size", "POST {p}/first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffff\r\nhello{smuggled}", pending("hello{smuggled}")),
        // Line ends and bytes that do not belong in a head.
        case("bare-lf-head", "POST {p}/first HTTP/1.1\nHost: h\nContent-Length: 5\n\nhello", refused_or("hello")),
        case("bare-cr-line-end", "GET {p}/first HTTP/1.1\rHost: h\r\n\r\n{smuggled}", refused()),
        // A lax reader would end the line at the CR and take the next request as the body.
        case("bare-cr-in-value", "GET {p}/first HTTP/1.1\r\nHost: h\r\nX-A: a\rContent-Length: 37\r\n\r\n", refused_or("")),
        case("nul-in-value", "GET {p}/first HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", refused_or("")),
        case("nul-in-name", "GET {p}/first HTTP/1.1\r\nHost: h\r\nX-\0A: b\r\n\r\n{smuggled}", refused()),
        case("obs-fold", "GET {p}/first HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", refused_or("")),
        case("obs-fold-content-length", "GET {p}/first HTTP/1.1\r\nHost: h\r\nX-A: a\r\n Content-Length: 37\r\n\r\n", refused_or("")),
        case("leading-space-first-header", "GET {p}/first HTTP/1.1\r\n Content-Length: 37\r\nHost: h\r\n\r\n", refused_or("")),
        case("leading-space-te-line", "POST {p}/first HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: h\r\nContent-Length: 15\r\n\r\n5\r\nhello\r\n0\r\n\r\n", refused_or(CHUNKED_HELLO)),
        // The request target.
        case("space-in-target", "GET {p}/fir st HTTP/1.1\r\nHost: h\r\n\r\n{smuggled}", refused()),
        case("absolute-form-other-host", "GET http://other.example{p}/first HTTP/1.1\r\nHost: h\r\n\r\n", refused_or("")),
        // Bodies where a reader might not expect one, and HTTP/1.0.
        case("get-with-body", "GET {p}/first HTTP/1.1\r\nHost: h\r\nContent-Length: {cl}\r\n\r\n{smuggled}", refused_or("{smuggled}")),
        case("http10-keep-alive-body", "POST {p}/first HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello", refused_or("hello")),
        case("http10-chunked", "POST {p}/first HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}", refused_or_last("hello")),
        case("http10-cl-te", "POST {p}/first HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nContent-Length: {cl}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}", refused_or_last("hello")),
        // A malformed request with others pipelined behind it: none of them may be served.
        case("malformed-header-pipelined", "GET {p}/first HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n{smuggled}", refused()),
        case("malformed-request-line-pipelined", "GET {p}/first\r\nHost: h\r\n\r\n{smuggled}", refused()),
        case("bad-version-pipelined", "GET {p}/first HTTP/9.9\r\nHost: h\r\n\r\n{smuggled}", refused()),
    ];
    for (name, lines, honoured) in TE_VARIANTS {
        // Alone: trafik reads it as chunked, or refuses it.
        let alone = format!("POST {{p}}/first HTTP/1.1\r\nHost: h\r\n{lines}\r\n{CHUNKED_HELLO}");
        let expect = if *honoured { refused_or("hello") } else { refused() };
        cases.push(case(name, &alone, expect));
        // Behind a Content-Length (the classic CL.TE shape): whatever trafik's reading, the
        // connection must not go on to the request hidden after the chunked body.
        let behind = format!(
            "POST {{p}}/first HTTP/1.1\r\nHost: h\r\nContent-Length: {{cl}}\r\n{lines}\r\n{CHUNKED_HELLO}{{smuggled}}"
        );
        let expect = if *honoured {
            refused_or_last("hello")
        } else {
            refused()
        };
        let name: &'static str = format!("cl-{name}").leak();
        cases.push(case(name, &behind, expect));
    }
    cases
}

/// A response as the client read it.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// Answered by the raw backend (its marker header), not by trafik itself.
    fn by_backend(&self) -> bool {
        self.headers.iter().any(|(n, _)| n == "x-raw-backend")
    }

    fn describe(&self) -> String {
        let who = if self.by_backend() {
            "backend"
        } else {
            "trafik"
        };
        format!("{} from {who} {}", self.status, escape(&self.body))
    }
}

/// What the client saw on its connection.
#[derive(Debug, Default)]
struct Observed {
    responses: Vec<Response>,
    /// trafik closed (or reset) the connection.
    closed: bool,
    /// Nothing more came within the wait (a deadline for complete requests, [`QUIET`] for
    /// pending ones).
    hung: bool,
    /// Bytes that are no HTTP/1.1 response.
    garbage: Option<String>,
}

/// Sends the case's bytes on a fresh connection and reads what comes back: up to two
/// responses (the request's and the pipelined `next`'s), or until trafik closes.
async fn exchange(addr: SocketAddr, bytes: Vec<u8>, pending: bool) -> Observed {
    let mut seen = Observed::default();
    let mut stream = TcpStream::connect(addr).await.expect("connect to trafik");
    // trafik may close before reading it all; what it answered is still to be read.
    let _ = stream.write_all(&bytes).await;
    let want = if pending { 1 } else { 2 };
    let wait = if pending { QUIET } else { DEADLINE };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        loop {
            match parse_response(&buf, false) {
                Ok(Some((r, used))) => {
                    buf.drain(..used);
                    seen.responses.push(r);
                }
                Ok(None) => break,
                Err(e) => {
                    seen.garbage = Some(e);
                    return seen;
                }
            }
        }
        if seen.responses.len() >= want {
            return seen;
        }
        match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
            Err(_) => {
                seen.hung = true;
                return seen;
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                seen.closed = true;
                match parse_response(&buf, true) {
                    Ok(Some((r, _))) => seen.responses.push(r),
                    Ok(None) => {}
                    Err(e) => seen.garbage = Some(e),
                }
                return seen;
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// One HTTP/1.1 response at the start of `buf`; `eof`: the connection is closed, so a
/// body without a length ends here.
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<(Response, usize)>, String> {
    let Some(head_len) = find(buf, b"\r\n\r\n") else {
        return if eof && !buf.is_empty() {
            Err(format!("truncated response {}", escape(buf)))
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not a response: {}", escape(buf)))?;
    let mut headers = Vec::new();
    for line in lines {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| format!("bad response header {line:?}"))?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let rest = &buf[head_len + 4..];
    let body_len = if status < 200 || status == 204 || status == 304 {
        Some(0)
    } else if header("transfer-encoding").is_some() {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let Some(end) = find(&rest[pos..], b"\r\n") else {
                return Ok(None);
            };
            let size_hex = String::from_utf8_lossy(&rest[pos..pos + end]);
            let size = usize::from_str_radix(size_hex.split(';').next().unwrap().trim(), 16)
                .map_err(|_| format!("bad chunk size in response: {}", escape(rest)))?;
            pos += end + 2;
            if size == 0 {
                let Some(end) = find(&rest[pos..], b"\r\n\r\n")
                    .or_else(|| rest[pos..].starts_with(b"\r\n").then_some(0))
                else {
                    return Ok(None);
                };
                let used = head_len + 4 + pos + if end == 0 { 2 } else { end + 4 };
                let response = Response {
                    status,
                    headers,
                    body,
                };
                return Ok(Some((response, used)));
            }
            if rest.len() < pos + size + 2 {
                return Ok(None);
            }
            body.extend_from_slice(&rest[pos..pos + size]);
            pos += size + 2;
        }
    } else if let Some(cl) = header("content-length") {
        Some(
            cl.parse::<usize>()
                .map_err(|_| format!("bad Content-Length in response: {cl}"))?,
        )
    } else if eof {
        Some(rest.len())
    } else {
        None
    };
    match body_len {
        Some(n) if rest.len() >= n => {
            let response = Response {
                status,
                headers,
                body: rest[..n].to_vec(),
            };
            Ok(Some((response, head_len + 4 + n)))
        }
        _ => Ok(None),
    }
}

/// A refusal of trafik's own: a client error, or "not implemented" / "version not
/// supported". Never a 502: a body that proves malformed while it streams is the
/// client's fault (see `a_malformed_chunked_body_is_answered_400_not_502` below).
fn is_refusal(r: &Response) -> bool {
    !r.by_backend() && ((400..500).contains(&r.status) || [501, 505].contains(&r.status))
}

/// Judges one case against the rules at the top of the file; `requests` are the backend's
/// requests that belong to this case, in arrival order. Ok: a one-line account of what
/// happened.
fn judge(case: &Case, seen: &Observed, requests: &[&Request]) -> Result<String, String> {
    let e = &case.expect;
    let first = format!("/{}/first", case.name);
    let next = format!("/{}/next", case.name);
    if let Some(r) = requests.iter().find(|r| r.target.contains("/smuggled")) {
        return Err(format!(
            "a smuggled request reached the backend: {} {}",
            r.method, r.target
        ));
    }
    if let Some(g) = &seen.garbage {
        return Err(format!("the client read no HTTP response: {g}"));
    }
    // The backend's requests must be: the first (maybe), then the next (maybe), nothing else.
    let mut rest = requests.iter().copied().peekable();
    let got_first = rest.next_if(|r| r.target.ends_with(&first));
    let got_next = rest.next_if(|r| r.target.ends_with(&next));
    if let Some(r) = rest.next() {
        return Err(format!(
            "unexpected request at the backend: {} {} (complete: {}) body {}",
            r.method,
            r.target,
            r.complete,
            escape(&r.body)
        ));
    }
    let r0 = seen.responses.first();
    let r1 = seen.responses.get(1);
    let first_forwarded = got_first.is_some_and(|r| r.complete);
    // The first request at the backend.
    if let Some(r) = got_first {
        if r.complete {
            if e.pending {
                return Err(format!(
                    "the backend got a complete request although the client never finished \
                     it: body {}",
                    escape(&r.body)
                ));
            }
            if !e.bodies.iter().any(|b| b.as_bytes() == r.body) {
                return Err(if e.bodies.is_empty() {
                    format!(
                        "trafik forwarded a request it must refuse; the backend got body {}",
                        escape(&r.body)
                    )
                } else {
                    format!(
                        "the backend got body {}, the client meant {}",
                        escape(&r.body),
                        e.bodies
                            .iter()
                            .map(|b| escape(b.as_bytes()))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )
                });
            }
        } else if e.pending && !e.bodies[0].as_bytes().starts_with(&r.body) {
            return Err(format!(
                "the backend's part of the request, {}, is not what the client sent",
                escape(&r.body)
            ));
        } else if !e.pending && r0.is_some_and(Response::by_backend) {
            let why = "the client got a backend answer to a request the backend never finished";
            return Err(why.into());
        }
    }
    // The client's first response.
    let outcome = match r0 {
        Some(r) if r.by_backend() => {
            let want = got_first.map(|q| format!("{} {}", q.method, q.target));
            if !first_forwarded || want.as_deref().map(str::as_bytes) != Some(&r.body[..]) {
                return Err(format!(
                    "desync: the first response is {} but the backend's request was {want:?}",
                    r.describe()
                ));
            }
            "forwarded".to_string()
        }
        Some(r) => {
            if !is_refusal(r) {
                return Err(format!("unexpected response {}", r.describe()));
            }
            if first_forwarded {
                return Err(format!(
                    "the backend got the request but the client got {}",
                    r.describe()
                ));
            }
            if !e.may_refuse {
                return Err(format!(
                    "refused a request that must pass: {}",
                    r.describe()
                ));
            }
            format!("refused ({})", r.status)
        }
        None if seen.closed && !first_forwarded => {
            if !e.may_refuse {
                return Err("closed without an answer to a request that must pass".into());
            }
            "closed".to_string()
        }
        None if seen.hung && e.pending && !first_forwarded => "pending".to_string(),
        None => {
            return Err(format!(
                "no answer (closed: {}, hung: {}, backend got the request: {first_forwarded})",
                seen.closed, seen.hung
            ));
        }
    };
    // The pipelined next request.
    match (r1, got_next) {
        (Some(r), Some(q)) if r.by_backend() && q.complete => {
            if r.body != format!("GET {}", q.target).as_bytes() || q.method != "GET" {
                return Err(format!(
                    "desync: the second response is {} for the backend's {} {}",
                    r.describe(),
                    q.method,
                    q.target
                ));
            }
            if !q.body.is_empty() {
                return Err(format!(
                    "the next request reached the backend with body {}",
                    escape(&q.body)
                ));
            }
            if e.last && outcome == "forwarded" {
                return Err("the connection went on after a request with both \
                            Content-Length and Transfer-Encoding"
                    .into());
            }
            Ok(format!("{outcome}; next answered"))
        }
        (Some(r), _) => Err(format!(
            "desync: second response {} (backend's next request: {:?})",
            r.describe(),
            got_next.map(|q| (&q.method, &q.target, q.complete))
        )),
        (None, Some(q)) => Err(format!(
            "the backend got the next request ({} {}) but the client got no answer to it",
            q.method, q.target
        )),
        (None, None) if seen.closed => match got_first {
            Some(q) if !q.complete => Ok(format!(
                "{outcome}; closed (the backend had the head and {} body bytes, then the \
                 connection was cut)",
                q.body.len()
            )),
            _ => Ok(format!("{outcome}; closed")),
        },
        (None, None) if e.pending => Ok(format!("{outcome}; waiting for the rest")),
        (None, None) => Err(format!(
            "{outcome}, then no answer to the pipelined next request and the connection \
             still open"
        )),
    }
}

/// Runs `cases` at once against one trafik in front of one raw backend; panics with every
/// failing case named.
async fn run_table(cases: Vec<Case>) {
    let names: std::collections::HashSet<_> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    let backend = RawBackend::start().await;
    let (trafik, addr) = backend.behind_trafik().await;
    let tasks: Vec<_> = cases
        .iter()
        .map(|c| tokio::spawn(exchange(addr, c.bytes.clone(), c.expect.pending)))
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    let requests = backend.requests();
    let mut failures = backend.stray(&requests, |target| {
        cases.iter().any(|c| target.contains(&c.marker()))
    });
    for (case, seen) in cases.iter().zip(&seen) {
        let mine: Vec<&Request> = requests
            .iter()
            .filter(|r| r.target.contains(&case.marker()))
            .collect();
        match judge(case, seen, &mine) {
            Ok(how) => println!("ok   {:<40} {how}", case.name),
            Err(why) => {
                println!("FAIL {:<40} {why}", case.name);
                failures.push(format!(
                    "{}: {why}\n    sent {}\n    got {}",
                    case.name,
                    escape(&case.bytes),
                    seen.responses
                        .iter()
                        .map(Response::describe)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} smuggling cases failed:\n{}\ntrafik log:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n"),
        trafik.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn smuggling_variants_are_refused_or_forwarded_once_as_meant() {
    run_table(cases()).await;
}

/// A chunked body whose chunk line is malformed, sent raw; returns the status trafik
/// answered (0: closed without an answer).
async fn send_bad_chunk(addr: SocketAddr, path: &str) -> u16 {
    let bytes = format!(
        "PUT {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
    );
    let seen = exchange(addr, bytes.into_bytes(), false).await;
    seen.responses.first().map_or(0, |r| r.status)
}

/// Found by this suite: when a client's chunked body turned out malformed after trafik
/// had started streaming it to the backend, trafik answered 502 Bad Gateway and counted a
/// backend failure, so a client could trip a backend's `NetworkErrorRatio()` circuit
/// breaker for everyone with malformed bodies. The client's body error is a 400 now
/// (`ErrorKind::ClientBody`) and does not count against the backend.
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_chunked_body_is_answered_400_not_502() {
    let backend = RawBackend::start().await;
    let port = free_port();
    let trafik = Trafik::start(&catch_all_config(
        port,
        &[(backend.url(), 1)],
        "[backends.b.circuitBreaker]\nexpression = \"NetworkErrorRatio() > 0.5\"\n",
    ));
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/ready/"), 200).await;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Twenty clients' malformed bodies: each a client error, and none may cut the backend
    // off from everyone else.
    let mut statuses = Vec::new();
    for i in 0..20 {
        statuses.push(send_bad_chunk(addr, &format!("/bad/{i}")).await);
    }
    let (after, _) = get_json(&format!("{base}/ok/")).await;
    assert!(
        statuses.iter().all(|s| *s == 400) && after == 200,
        "malformed chunked bodies were answered {statuses:?}, and a good request after \
         them {after} (503: the backend's breaker tripped)"
    );
}

/// The raw backend's parser is the judge of what trafik sent: it must accept plain
/// HTTP/1.1 and refuse everything the cases above try to slip through.
#[test]
fn the_raw_backends_parser_is_strict() {
    use raw_backend::{Parse, parse};
    let complete = |bytes: &str| match parse(bytes.as_bytes()) {
        Parse::Complete(r, used) => (r, used),
        Parse::Incomplete(_) => panic!("incomplete: {bytes:?}"),
        Parse::Invalid(e) => panic!("invalid: {bytes:?}: {e}"),
    };
    let invalid = |bytes: &str| {
        assert!(
            matches!(parse(bytes.as_bytes()), Parse::Invalid(_)),
            "accepted {bytes:?}"
        )
    };
    let (r, used) = complete("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET");
    assert_eq!(
        (r.method.as_str(), r.target.as_str(), used),
        ("POST", "/a", 53)
    );
    assert_eq!(r.body, b"hello");
    let chunked = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\nT: 1\r\n\r\n";
    let (r, used) = complete(chunked);
    assert_eq!((r.body.as_slice(), used), (&b"hello!"[..], chunked.len()));
    // A body still arriving: the partial request, with what came so far.
    match parse(b"POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\nhel") {
        Parse::Incomplete(Some(r)) => {
            assert_eq!((r.body.as_slice(), r.complete), (&b"hel"[..], false))
        }
        _ => panic!("a partial body is an incomplete request"),
    }
    invalid("GET /a HTTP/1.1\nHost: h\r\n\r\n");
    invalid("GET /a HTTP/1.1\r\nHost: h\rX: y\r\n\r\n");
    invalid("GET /a HTTP/1.1\r\nX: a\0b\r\n\r\n");
    invalid("GET /a HTTP/1.1\r\nX: a\r\n b\r\n\r\n");
    invalid("GET /a b HTTP/1.1\r\n\r\n");
    invalid("GET http://x/a HTTP/2.0\r\n\r\n");
    invalid("POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
    invalid("POST /a HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello");
    invalid("POST /a HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    invalid("POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    invalid("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\n\r\n");
    invalid("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n");
}
