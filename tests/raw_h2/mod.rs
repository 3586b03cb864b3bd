//! A tiny raw HTTP/2 client for the hardening tests: frames written by hand, because a
//! real client library refuses to send the malformed requests these tests are about.
//!
//! Writing: a frame is a 9-byte header (24-bit length, type, flags, 31-bit stream id) and
//! its payload (RFC 9113 §4.1); header blocks use only HPACK's "literal header field
//! without indexing — new name" with plain (not Huffman) strings (RFC 7541 §6.2.2), which
//! any name and value, however wrong, can be written as.
//!
//! Reading: frames as they come; of a response's header block only `:status` is decoded.
//! The client's SETTINGS ask for an HPACK dynamic table of size 0, so the server can only
//! write `:status` as a static-table entry or as a literal whose value is three digits
//! (plain or Huffman): a decoder for those is a dozen lines.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_ENABLE_PUSH: u16 = 0x2;

pub const CANCEL: u32 = 0x8;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame, header and payload.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 1 << 24, "frame payload over 24 bits");
    let len = payload.len() as u32;
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (id, value) in pairs {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &payload)
}

pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

pub fn ping(data: [u8; 8]) -> Vec<u8> {
    frame(PING, 0, 0, &data)
}

/// HPACK integer with an `n`-bit prefix, the prefix's other bits set to `high` (RFC 7541
/// §5.1).
pub fn hpack_int(out: &mut Vec<u8>, n: u32, high: u8, value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(high | value as u8);
        return;
    }
    out.push(high | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// "Literal header field without indexing — new name", both strings plain.
pub fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    hpack_int(out, 7, 0, name.len());
    out.extend_from_slice(name);
    hpack_int(out, 7, 0, value.len());
    out.extend_from_slice(value);
}

/// A header block of `fields`, in order, exactly as given (no check of any kind).
pub fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        literal(&mut out, n.as_bytes(), v.as_bytes());
    }
    out
}

/// The four pseudo-headers of a request to `path`, then `extra`.
pub fn request_block(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut fields = vec![
        (":method", method),
        (":scheme", "http"),
        (":authority", "h"),
        (":path", path),
    ];
    fields.extend_from_slice(extra);
    block(&fields)
}

/// A frame as read.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// The next frame; `None` at end of stream.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 9];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }))
}

/// `:status` from the start of a response header block written for a dynamic table of
/// size 0: leading table-size updates skipped, then a static `:status` entry (index 8–14)
/// or a literal with a `:status` name index and a three-digit value.
pub fn decode_status(block: &[u8]) -> Result<u16, String> {
    let bad = || format!("cannot read :status from header block {block:02x?}");
    let mut pos = 0;
    // Dynamic table size updates: 001xxxxx with a 5-bit prefix integer.
    while pos < block.len() && block[pos] & 0xe0 == 0x20 {
        pos += 1;
        if block[pos - 1] & 0x1f == 0x1f {
            while pos < block.len() && block[pos] & 0x80 != 0 {
                pos += 1;
            }
            pos += 1;
        }
    }
    let first = *block.get(pos).ok_or_else(bad)?;
    const STATIC: [u16; 7] = [200, 204, 206, 304, 400, 404, 500];
    if first & 0x80 != 0 {
        let index = (first & 0x7f) as usize;
        return match index {
            8..=14 => Ok(STATIC[index - 8]),
            _ => Err(bad()),
        };
    }
    // A literal: with incremental indexing (01, 6-bit index) or without / never (0000,
    // 0001, 4-bit index); the name must be :status (static 8–14).
    let index = if first & 0xc0 == 0x40 {
        first & 0x3f
    } else {
        first & 0x0f
    };
    if !(8..=14).contains(&index) {
        return Err(bad());
    }
    let head = *block.get(pos + 1).ok_or_else(bad)?;
    let len = (head & 0x7f) as usize;
    let raw = block.get(pos + 2..pos + 2 + len).ok_or_else(bad)?;
    let digits = if head & 0x80 != 0 {
        huffman_digits(raw).ok_or_else(bad)?
    } else {
        String::from_utf8(raw.to_vec()).map_err(|_| bad())?
    };
    digits.parse().map_err(|_| bad())
}

/// Decodes a Huffman string of digits only (RFC 7541 Appendix B: '0'–'2' are the 5-bit
/// codes 0–2, '3'–'9' the 6-bit codes 0x19–0x1f); the padding is up to 7 one-bits.
fn huffman_digits(raw: &[u8]) -> Option<String> {
    let bits: Vec<u8> = raw
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let take = |at: usize, n: usize| -> Option<u8> {
        bits.get(at..at + n)
            .map(|s| s.iter().fold(0u8, |acc, b| acc << 1 | b))
    };
    let mut out = String::new();
    let mut at = 0;
    while at < bits.len() {
        let rest = bits.len() - at;
        if rest < 8 && bits[at..].iter().all(|b| *b == 1) {
            break;
        }
        if let Some(code @ 0..=2) = take(at, 5) {
            out.push((b'0' + code) as char);
            at += 5;
        } else if let Some(code @ 0x19..=0x1f) = take(at, 6) {
            out.push((b'3' + code - 0x19) as char);
            at += 6;
        } else {
            return None;
        }
    }
    Some(out)
}

/// How one stream ended, as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEnd {
    /// A whole response.
    Response { status: u16, body: Vec<u8> },
    /// RST_STREAM with this error code.
    Reset(u32),
    /// Not processed: a GOAWAY's last stream id is below it, or the connection closed
    /// before any answer.
    Unanswered,
    /// Still open when the deadline passed.
    Hung,
}

/// What a connection told the client.
#[derive(Debug, Default)]
pub struct Outcome {
    pub streams: BTreeMap<u32, StreamEnd>,
    /// (last stream id, error code) of the server's GOAWAY, if any.
    pub goaway: Option<(u32, u32)>,
    pub closed: bool,
}

/// A raw h2c (prior knowledge) connection.
pub struct H2 {
    pub stream: TcpStream,
}

impl H2 {
    /// Connects and sends the preface and SETTINGS: no dynamic HPACK table, no push.
    pub async fn connect(addr: SocketAddr) -> H2 {
        let mut stream = TcpStream::connect(addr).await.expect("connect to trafik");
        stream.set_nodelay(true).unwrap();
        let mut hello = PREFACE.to_vec();
        hello.extend(settings(&[
            (SETTINGS_HEADER_TABLE_SIZE, 0),
            (SETTINGS_ENABLE_PUSH, 0),
        ]));
        stream.write_all(&hello).await.unwrap();
        H2 { stream }
    }

    /// Writes raw bytes; an error means trafik closed the connection.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads until each of `streams` has ended (a whole response, a reset, a GOAWAY that
    /// excludes it), the connection closes, or `limit` passes. Acknowledges SETTINGS and
    /// PING as a client must.
    pub async fn collect(&mut self, streams: &[u32], limit: Duration) -> Outcome {
        let mut outcome = Outcome::default();
        let mut status: BTreeMap<u32, u16> = BTreeMap::new();
        let mut bodies: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        // A header block in progress: (stream, fragments so far).
        let mut block: Option<(u32, Vec<u8>)> = None;
        let start = Instant::now();
        let done = |o: &Outcome| streams.iter().all(|s| o.streams.contains_key(s));
        while !done(&outcome) {
            let left = limit.saturating_sub(start.elapsed());
            let f = match tokio::time::timeout(left, read_frame(&mut self.stream)).await {
                Err(_) => break,
                Ok(Ok(Some(f))) => f,
                Ok(Ok(None)) | Ok(Err(_)) => {
                    outcome.closed = true;
                    break;
                }
            };
            match f.kind {
                SETTINGS if f.flags & ACK == 0 => {
                    let _ = self.send(&frame(SETTINGS, ACK, 0, &[])).await;
                }
                PING if f.flags & ACK == 0 => {
                    let _ = self.send(&frame(PING, ACK, 0, &f.payload)).await;
                }
                GOAWAY if f.payload.len() >= 8 => {
                    let p = &f.payload;
                    let last = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                    let code = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                    outcome.goaway = Some((last, code));
                    for s in streams.iter().filter(|s| **s > last) {
                        outcome.streams.entry(*s).or_insert(StreamEnd::Unanswered);
                    }
                }
                RST_STREAM if f.payload.len() == 4 => {
                    let code = u32::from_be_bytes(f.payload[..4].try_into().unwrap());
                    outcome
                        .streams
                        .entry(f.stream)
                        .or_insert(StreamEnd::Reset(code));
                }
                HEADERS | CONTINUATION => {
                    let fragment = if f.kind == HEADERS {
                        block = Some((f.stream, Vec::new()));
                        headers_fragment(&f)
                    } else {
                        &f.payload[..]
                    };
                    if let Some((_, b)) = block.as_mut() {
                        b.extend_from_slice(fragment);
                    }
                    if f.flags & END_HEADERS != 0
                        && let Some((s, b)) = block.take()
                        && !status.contains_key(&s)
                    {
                        // Trailers (a second block) carry no status: only the first counts.
                        let code = decode_status(&b).unwrap_or_else(|e| panic!("{e}"));
                        status.insert(s, code);
                    }
                    if f.kind == HEADERS && f.flags & END_STREAM != 0 {
                        end_response(&mut outcome, &status, &mut bodies, f.stream);
                    }
                }
                DATA => {
                    bodies
                        .entry(f.stream)
                        .or_default()
                        .extend_from_slice(data_payload(&f));
                    if f.flags & END_STREAM != 0 {
                        end_response(&mut outcome, &status, &mut bodies, f.stream);
                    }
                }
                _ => {}
            }
        }
        for s in streams {
            let end = if outcome.closed {
                StreamEnd::Unanswered
            } else {
                StreamEnd::Hung
            };
            outcome.streams.entry(*s).or_insert(end);
        }
        outcome
    }
}

fn end_response(
    outcome: &mut Outcome,
    status: &BTreeMap<u32, u16>,
    bodies: &mut BTreeMap<u32, Vec<u8>>,
    stream: u32,
) {
    let end = StreamEnd::Response {
        status: status.get(&stream).copied().unwrap_or(0),
        body: bodies.remove(&stream).unwrap_or_default(),
    };
    outcome.streams.entry(stream).or_insert(end);
}

/// A HEADERS frame's block fragment, without padding and priority fields.
fn headers_fragment(f: &Frame) -> &[u8] {
    let mut p = &f.payload[..];
    let mut pad = 0;
    if f.flags & 0x8 != 0 {
        pad = p[0] as usize;
        p = &p[1..];
    }
    if f.flags & 0x20 != 0 {
        p = &p[5..];
    }
    &p[..p.len() - pad]
}

fn data_payload(f: &Frame) -> &[u8] {
    if f.flags & 0x8 != 0 {
        let pad = f.payload[0] as usize;
        &f.payload[1..f.payload.len() - pad]
    } else {
        &f.payload
    }
}

/// trafik's resident memory now and at its peak, in KiB (`VmRSS`, `VmHWM`).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}
