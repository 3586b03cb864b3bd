//! A raw HTTP/1.1 backend for the hardening tests: a TCP listener that keeps every byte
//! trafik sent on each connection and reads them with a deliberately strict, minimal
//! parser, so what reached the backend can be asserted exactly.
//!
//! Why not hyper: hyper would quietly accept, normalise or reject what trafik sent, and a
//! smuggled request would look like any other. Here each complete request is recorded
//! (with a global arrival number, across connections) and answered at once with a small
//! fixed response whose body names it, `METHOD target`, and whose `X-Raw-Backend` header
//! says the answer came from the backend, not from trafik. Anything outside the grammar
//! (a bare CR or LF, a control byte in a value, two framings, a bad chunk line) is
//! recorded as the connection's error and the connection closed: trafik must only ever
//! send the plain, well-framed HTTP/1.1 that this parser accepts.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request as the backend read it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Arrival order across all connections (of complete requests and partial ones alike).
    pub seq: usize,
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, decoded from its framing (chunked or Content-Length); for a partial
    /// request, what arrived so far.
    pub body: Vec<u8>,
    /// Headers and the whole body arrived. A partial request is one whose head arrived but
    /// whose body did not (yet): the backend never answered it.
    pub complete: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Everything one connection from trafik carried.
#[derive(Clone, Debug, Default)]
pub struct ConnLog {
    pub bytes: Vec<u8>,
    /// The complete requests, in order, then the partial one at the end if any.
    pub requests: Vec<Request>,
    /// Where the bytes broke the grammar; the connection was closed there.
    pub error: Option<String>,
}

#[derive(Default)]
struct Conn {
    bytes: Vec<u8>,
    /// Start of the bytes not yet parsed into a complete request.
    pos: usize,
    requests: Vec<Request>,
    error: Option<String>,
}

pub struct RawBackend {
    pub addr: SocketAddr,
    conns: Arc<Mutex<Vec<Conn>>>,
    task: JoinHandle<()>,
}

impl RawBackend {
    pub async fn start() -> RawBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<Conn>>> = Arc::default();
        let seq = Arc::new(AtomicUsize::new(0));
        let all = conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = {
                    let mut all = all.lock().unwrap();
                    all.push(Conn::default());
                    all.len() - 1
                };
                tokio::spawn(serve(stream, index, all.clone(), seq.clone()));
            }
        });
        RawBackend { addr, conns, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What every connection carried so far, each with its partial request (if its head
    /// arrived) after the complete ones.
    pub fn snapshot(&self) -> Vec<ConnLog> {
        let conns = self.conns.lock().unwrap();
        conns
            .iter()
            .map(|c| {
                let mut requests = c.requests.clone();
                let mut error = c.error.clone();
                if error.is_none() {
                    match parse(&c.bytes[c.pos..]) {
                        Parse::Incomplete(Some(mut partial)) => {
                            partial.seq = usize::MAX;
                            requests.push(partial);
                        }
                        Parse::Invalid(e) => error = Some(e),
                        _ => {}
                    }
                }
                ConnLog {
                    bytes: c.bytes.clone(),
                    requests,
                    error,
                }
            })
            .collect()
    }

    /// Every request of every connection (partial ones included), in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        let mut all: Vec<Request> = self
            .snapshot()
            .into_iter()
            .flat_map(|c| c.requests)
            .collect();
        all.sort_by_key(|r| r.seq);
        all
    }

    /// trafik with one catch-all route to this backend, once it serves: the process and
    /// the address to send raw bytes to.
    pub async fn behind_trafik(&self) -> (crate::common::Trafik, SocketAddr) {
        let port = crate::common::free_port();
        let trafik = crate::common::Trafik::start(&crate::common::catch_all_config(
            port,
            &[(self.url(), 1)],
            "",
        ));
        trafik
            .wait_for(&format!("http://127.0.0.1:{port}/ready/"), 200)
            .await;
        (trafik, SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// What is wrong with what reached the backend, as readable lines: the connections
    /// whose bytes broke the grammar, requests no case sent (`known` says which targets a
    /// case or the readiness probe sent), and targets not in origin-form (RFC 9112 §3.2.1).
    pub fn stray(&self, requests: &[Request], known: impl Fn(&str) -> bool) -> Vec<String> {
        let mut failures = self.errors();
        for r in requests {
            if !(r.target.starts_with("/ready/") || known(&r.target)) {
                failures.push(format!(
                    "a request no case sent reached the backend: {} {}",
                    r.method, r.target
                ));
            }
            if !r.target.starts_with('/') {
                failures.push(format!("a request target not in origin-form: {}", r.target));
            }
        }
        failures
    }

    /// The connections whose bytes broke the grammar, as readable text.
    pub fn errors(&self) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter_map(|c| {
                c.error
                    .map(|e| format!("{e}; the connection carried {}", escape(&c.bytes)))
            })
            .collect()
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    index: usize,
    conns: Arc<Mutex<Vec<Conn>>>,
    seq: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Parse under the lock, answer after it.
        let mut answers = Vec::new();
        let broken = {
            let mut all = conns.lock().unwrap();
            let conn = &mut all[index];
            conn.bytes.extend_from_slice(&buf[..n]);
            loop {
                match parse(&conn.bytes[conn.pos..]) {
                    Parse::Complete(mut request, used) => {
                        request.seq = seq.fetch_add(1, Ordering::SeqCst);
                        conn.pos += used;
                        answers.push(answer(&request));
                        conn.requests.push(request);
                    }
                    Parse::Incomplete(_) => break false,
                    Parse::Invalid(e) => {
                        conn.error = Some(e);
                        break true;
                    }
                }
            }
        };
        for a in answers {
            if stream.write_all(&a).await.is_err() {
                return;
            }
        }
        if broken {
            return;
        }
    }
}

fn answer(r: &Request) -> Vec<u8> {
    let body = format!("{} {}", r.method, r.target);
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nX-Raw-Backend: {}\r\n\r\n{body}",
        body.len(),
        r.seq
    )
    .into_bytes()
}

pub enum Parse {
    /// A whole request and how many bytes it took.
    Complete(Request, usize),
    /// More bytes needed; with the request so far once its head is complete.
    Incomplete(Option<Request>),
    Invalid(String),
}

const MAX_HEAD: usize = 256 * 1024;

/// Parses one request at the start of `buf`, as strictly as RFC 9112 allows a sender to
/// write it: CRLF line ends only, one framing, plain values.
pub fn parse(buf: &[u8]) -> Parse {
    let Some(head_len) = find(buf, b"\r\n\r\n") else {
        if let Err(e) = check_line_ends(buf) {
            return Parse::Invalid(e);
        }
        if buf.len() > MAX_HEAD {
            return Parse::Invalid("request head over 256 KiB".into());
        }
        return Parse::Incomplete(None);
    };
    let head = &buf[..head_len];
    let rest = &buf[head_len + 4..];
    let lines = split_crlf(head);
    let line = lines[0];
    let (method, target, version) = match request_line(line) {
        Ok(parts) => parts,
        Err(e) => return Parse::Invalid(e),
    };
    let mut headers = Vec::new();
    for line in &lines[1..] {
        match header_line(line) {
            Ok(h) => headers.push(h),
            Err(e) => return Parse::Invalid(format!("{e} in the head of {method} {target}")),
        }
    }
    let mut request = Request {
        seq: 0,
        method,
        target,
        version,
        headers,
        body: Vec::new(),
        complete: false,
    };
    let te: Vec<&[u8]> = values(&request.headers, "transfer-encoding");
    let cl: Vec<&[u8]> = values(&request.headers, "content-length");
    let what = format!("{} {}", request.method, request.target);
    let framed = if !te.is_empty() {
        if !cl.is_empty() {
            return Parse::Invalid(format!("{what}: both Transfer-Encoding and Content-Length"));
        }
        if te.len() != 1 || !te[0].eq_ignore_ascii_case(b"chunked") {
            return Parse::Invalid(format!(
                "{what}: Transfer-Encoding other than one `chunked`: {}",
                te.iter().map(|v| escape(v)).collect::<Vec<_>>().join(" | ")
            ));
        }
        chunked(rest)
    } else if !cl.is_empty() {
        if cl.len() != 1 {
            return Parse::Invalid(format!("{what}: {} Content-Length fields", cl.len()));
        }
        let v = cl[0];
        if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
            return Parse::Invalid(format!("{what}: Content-Length {}", escape(v)));
        }
        let n: usize = std::str::from_utf8(v).unwrap().parse().unwrap();
        if rest.len() >= n {
            Ok((rest[..n].to_vec(), Some(n)))
        } else {
            Ok((rest.to_vec(), None))
        }
    } else {
        Ok((Vec::new(), Some(0)))
    };
    match framed {
        Err(e) => Parse::Invalid(format!("{what}: {e}")),
        Ok((body, Some(used))) => {
            request.body = body;
            request.complete = true;
            Parse::Complete(request, head_len + 4 + used)
        }
        Ok((body, None)) => {
            request.body = body;
            Parse::Incomplete(Some(request))
        }
    }
}

/// Decodes a chunked body: (the data so far, Some(bytes used) once the last chunk and the
/// trailers arrived). Chunk lines are bare hexadecimal sizes: trafik's client (hyper)
/// writes no extensions.
fn chunked(buf: &[u8]) -> Result<(Vec<u8>, Option<usize>), String> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(end) = find(&buf[pos..], b"\r\n") else {
            check_line_ends(&buf[pos..])?;
            if buf.len() - pos > 18 {
                return Err(format!("chunk size line {}", escape(&buf[pos..])));
            }
            return Ok((body, None));
        };
        let line = &buf[pos..pos + end];
        if line.is_empty() || line.len() > 16 || !line.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!("chunk size line {}", escape(line)));
        }
        let size = usize::from_str_radix(std::str::from_utf8(line).unwrap(), 16).unwrap();
        pos += end + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(end) = find(&buf[pos..], b"\r\n") else {
                    check_line_ends(&buf[pos..])?;
                    return Ok((body, None));
                };
                if end == 0 {
                    return Ok((body, Some(pos + 2)));
                }
                header_line(&buf[pos..pos + end]).map_err(|e| format!("trailer: {e}"))?;
                pos += end + 2;
            }
        }
        let available = buf.len() - pos;
        if available < size + 2 {
            body.extend_from_slice(&buf[pos..pos + available.min(size)]);
            if available > size && buf[pos + size] != b'\r' {
                return Err("chunk data not followed by CRLF".into());
            }
            return Ok((body, None));
        }
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

fn request_line(line: &[u8]) -> Result<(String, String, String), String> {
    let parts: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    let bad = || format!("request line {}", escape(line));
    if parts.len() != 3 {
        return Err(bad());
    }
    if parts[0].is_empty() || !parts[0].iter().all(|b| is_tchar(*b)) {
        return Err(bad());
    }
    if parts[1].is_empty() || !parts[1].iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(bad());
    }
    if parts[2] != b"HTTP/1.1" && parts[2] != b"HTTP/1.0" {
        return Err(bad());
    }
    let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    Ok((s(parts[0]), s(parts[1]), s(parts[2])))
}

/// `name: value`: a token name right before the colon, a value of visible bytes, spaces and
/// tabs (no control byte), surrounding blanks dropped.
fn header_line(line: &[u8]) -> Result<(String, Vec<u8>), String> {
    let bad = |why: &str| format!("header line {} ({why})", escape(line));
    let colon = line
        .iter()
        .position(|b| *b == b':')
        .ok_or_else(|| bad("no colon"))?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
        return Err(bad("name not a token"));
    }
    let value = line[colon + 1..].trim_ascii();
    if !value
        .iter()
        .all(|b| *b == b'\t' || (0x20..=0x7e).contains(b) || *b >= 0x80)
    {
        return Err(bad("control byte in the value"));
    }
    Ok((
        String::from_utf8(name.to_vec())
            .unwrap()
            .to_ascii_lowercase(),
        value.to_vec(),
    ))
}

fn values<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Vec<&'a [u8]> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// A CR not followed by LF, or an LF not preceded by CR (the last byte may be a CR whose LF
/// has not arrived yet).
fn check_line_ends(buf: &[u8]) -> Result<(), String> {
    for (i, b) in buf.iter().enumerate() {
        let bare_cr = *b == b'\r' && buf.get(i + 1).is_some_and(|n| *n != b'\n');
        let bare_lf = *b == b'\n' && (i == 0 || buf[i - 1] != b'\r');
        if bare_cr || bare_lf {
            return Err(format!("bare CR or LF in {}", escape(buf)));
        }
    }
    Ok(())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Bytes as readable text: printable ASCII as is, the rest escaped (`\r`, `\n`, `\x00`).
pub fn escape(bytes: &[u8]) -> String {
    const MAX: usize = 2000;
    let mut s: String = bytes[..bytes.len().min(MAX)]
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > MAX {
        s.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    format!("\"{s}\"")
}

/// Lines of a head split at CRLF; a line keeps any bare CR or LF inside it, which the line
/// parsers refuse.
fn split_crlf(head: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = head;
    while let Some(i) = find(rest, b"\r\n") {
        out.push(&rest[..i]);
        rest = &rest[i + 2..];
    }
    out.push(rest);
    out
}
