//! Decoding a chunked response body (RFC 9112 §7.1) as its bytes arrive, in whatever
//! pieces the socket gives them: one byte at a time works as well as all at once.
//!
//! Strict where leniency lets a backend smuggle: a chunk size is hex digits only (no
//! sign, no `0x`, at most 16 digits), a line ends with CRLF (never a bare LF), a chunk's
//! data is followed by CRLF. Chunk extensions are skipped. Trailer fields are parsed and
//! passed on as a trailers frame, as hyper does. The size line with its extensions and
//! the trailer section are bounded, so a backend cannot make trafik buffer without end.

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// A chunk-size line (size and extensions) longer than this is refused.
pub const MAX_SIZE_LINE: usize = 4096;
/// The trailer section, as hyper bounds it.
pub const MAX_TRAILERS: usize = 16 * 1024;
/// At most this many trailer fields.
const MAX_TRAILER_FIELDS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `digits` so far.
    Size {
        digits: u8,
    },
    /// After the size: optional whitespace, then `;` extensions or CR.
    AfterSize,
    /// In the extensions, until CR.
    Extension,
    /// CR seen at the end of the size line.
    SizeLf,
    /// Data of the current chunk, this much left.
    Data(u64),
    DataCr,
    DataLf,
    /// After the last chunk: trailer fields, then the empty line.
    Trailers,
    Done,
}

/// What the decoder made of the buffered bytes.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// Body data, taken from the front of the buffer.
    Data(Bytes),
    Trailers(HeaderMap),
    /// The body ended (after its trailers, if any).
    End,
    /// Read more bytes into the buffer and call again.
    NeedMore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkError(pub &'static str);

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad chunked response body: {}", self.0)
    }
}

impl std::error::Error for ChunkError {}

#[derive(Debug)]
pub struct Chunked {
    state: State,
    size: u64,
    /// Bytes of the current size line so far.
    line: usize,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size { digits: 0 },
            size: 0,
            line: 0,
        }
    }
}

impl Chunked {
    /// Consumes from the front of `buf` what it can; data comes out as owned pieces of the
    /// buffer (`split_to`), never copied.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::End),
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = (buf.len() as u64).min(left) as usize;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data(left)
                    };
                    return Ok(Decoded::Data(buf.split_to(n).freeze()));
                }
                State::Trailers => return self.trailers(buf),
                _ => {}
            }
            let Some(&byte) = buf.first() else {
                return Ok(Decoded::NeedMore);
            };
            buf.advance(1);
            self.byte(byte)?;
        }
    }

    /// One byte of the framing around the data.
    fn byte(&mut self, b: u8) -> Result<(), ChunkError> {
        if matches!(
            self.state,
            State::Size { .. } | State::AfterSize | State::Extension | State::SizeLf
        ) {
            self.line += 1;
            if self.line > MAX_SIZE_LINE {
                return Err(ChunkError("chunk size line too long"));
            }
        }
        self.state = match (self.state, b) {
            (State::Size { digits }, b) if b.is_ascii_hexdigit() => {
                if digits == 16 {
                    return Err(ChunkError("chunk size too large"));
                }
                let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                self.size = (self.size << 4) | d;
                State::Size { digits: digits + 1 }
            }
            (State::Size { digits: 0 }, _) => return Err(ChunkError("chunk size expected")),
            (State::Size { .. } | State::AfterSize, b' ' | b'\t') => State::AfterSize,
            (State::Size { .. } | State::AfterSize, b';') => State::Extension,
            (State::Size { .. } | State::AfterSize | State::Extension, b'\r') => State::SizeLf,
            (State::Size { .. } | State::AfterSize, _) => {
                return Err(ChunkError("invalid byte after chunk size"));
            }
            (State::Extension, b'\n') => return Err(ChunkError("bare LF in chunk extension")),
            (State::Extension, _) => State::Extension,
            (State::SizeLf, b'\n') => {
                self.line = 0;
                let size = std::mem::take(&mut self.size);
                if size == 0 {
                    State::Trailers
                } else {
                    State::Data(size)
                }
            }
            (State::SizeLf, _) => return Err(ChunkError("CR without LF after chunk size")),
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size { digits: 0 },
            (State::DataCr | State::DataLf, _) => {
                return Err(ChunkError("chunk data not followed by CRLF"));
            }
            (State::Data(_) | State::Trailers | State::Done, _) => {
                unreachable!("handled by decode")
            }
        };
        Ok(())
    }

    /// The trailer section: nothing until it is whole (it ends with an empty line).
    fn trailers(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkError> {
        if buf.starts_with(b"\r\n") {
            buf.advance(2);
            self.state = State::Done;
            return Ok(Decoded::End);
        }
        if buf.len() < 2 {
            return Ok(Decoded::NeedMore);
        }
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() >= MAX_TRAILERS {
                return Err(ChunkError("trailer section too large"));
            }
            return Ok(Decoded::NeedMore);
        };
        if end + 4 > MAX_TRAILERS {
            return Err(ChunkError("trailer section too large"));
        }
        let section = buf.split_to(end + 4);
        let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
        let parsed = match httparse::parse_headers(&section, &mut fields) {
            Ok(httparse::Status::Complete((_, parsed))) => parsed,
            _ => return Err(ChunkError("malformed trailer section")),
        };
        let mut trailers = HeaderMap::with_capacity(parsed.len());
        for field in parsed {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| ChunkError("bad trailer name"))?;
            let value = HeaderValue::from_bytes(field.value)
                .map_err(|_| ChunkError("bad trailer value"))?;
            trailers.append(name, value);
        }
        self.state = State::Done;
        Ok(Decoded::Trailers(trailers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data, the trailers, whether the body ended, what was left unread.
    type Fed = (Vec<u8>, Option<HeaderMap>, bool, Vec<u8>);

    /// Decodes `raw` fed `step` bytes at a time: the data, the trailers, and whether the
    /// body ended, plus what was left unread.
    fn feed(raw: &[u8], step: usize) -> Result<Fed, ChunkError> {
        let mut decoder = Chunked::default();
        let mut buf = BytesMut::new();
        let mut data = Vec::new();
        let mut trailers = None;
        let mut pieces = raw.chunks(step.max(1));
        loop {
            match decoder.decode(&mut buf)? {
                Decoded::Data(d) => data.extend_from_slice(&d),
                Decoded::Trailers(t) => trailers = Some(t),
                Decoded::End => return Ok((data, trailers, true, buf.to_vec())),
                Decoded::NeedMore => match pieces.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None => return Ok((data, trailers, false, buf.to_vec())),
                },
            }
        }
    }

    fn every_split(raw: &[u8]) -> Result<Fed, ChunkError> {
        let whole = feed(raw, raw.len());
        for step in [1, 2, 3, 7] {
            // What is left unread depends on how much was fed: the rest must match.
            let split = feed(raw, step).map(|(d, t, e, _)| (d, t, e));
            let expected = whole.clone().map(|(d, t, e, _)| (d, t, e));
            assert_eq!(split, expected, "step {step}");
        }
        whole
    }

    #[test]
    fn decodes_chunks_with_extensions_over_any_split() {
        let raw = b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n";
        let (data, trailers, ended, left) = every_split(raw).unwrap();
        assert_eq!(data, b"hello world0123456789");
        assert!(trailers.is_none());
        assert!(ended);
        assert!(left.is_empty());
    }

    #[test]
    fn passes_trailers_on() {
        let raw = b"2\r\nok\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\nNEXT";
        let (data, trailers, ended, left) = every_split(raw).unwrap();
        assert_eq!(data, b"ok");
        let trailers = trailers.unwrap();
        assert_eq!(trailers["x-checksum"], "abc");
        assert_eq!(trailers["x-other"], "d");
        assert!(ended);
        // What follows the body stays in the buffer (the pool then closes the connection).
        assert_eq!(left, b"NEXT");
    }

    #[test]
    fn an_unfinished_body_needs_more() {
        let (data, _, ended, _) = every_split(b"5\r\nhel").unwrap();
        assert_eq!(data, b"hel");
        assert!(!ended);
        let (_, _, ended, _) = every_split(b"0\r\nX-A: b\r\n").unwrap();
        assert!(!ended);
    }

    #[test]
    fn refuses_bad_framing() {
        for raw in [
            &b"0x5\r\nhello\r\n0\r\n\r\n"[..],
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"-1\r\nx\r\n0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"10000000000000005\r\nhello\r\n0\r\n\r\n",
            b"5;ext\nhello\r\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"0\r\nBad Name: x\r\n\r\n",
        ] {
            for step in [1, raw.len()] {
                assert!(
                    feed(raw, step).is_err(),
                    "{:?} by {step}",
                    String::from_utf8_lossy(raw)
                );
            }
        }
    }

    #[test]
    fn bounds_the_size_line_and_the_trailers() {
        let mut long = b"5;".to_vec();
        long.resize(MAX_SIZE_LINE + 10, b'x');
        long.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(
            feed(&long, 100).unwrap_err(),
            ChunkError("chunk size line too long")
        );
        let mut trailers = b"0\r\n".to_vec();
        for i in 0..2000 {
            trailers.extend_from_slice(format!("X-T{i}: vvvvvvvvvv\r\n").as_bytes());
        }
        trailers.extend_from_slice(b"\r\n");
        assert_eq!(
            feed(&trailers, 1000).unwrap_err(),
            ChunkError("trailer section too large")
        );
    }

    #[test]
    fn the_largest_chunk_size_is_accepted() {
        let mut decoder = Chunked::default();
        let mut buf = BytesMut::from(&b"ffffffffffffffff\r\nab"[..]);
        assert_eq!(
            decoder.decode(&mut buf).unwrap(),
            Decoded::Data(Bytes::from("ab"))
        );
    }
}
