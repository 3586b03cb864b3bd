//! HTTP/1 or HTTP/2? A connection's first bytes say: HTTP/2 (prior knowledge, or TLS with
//! ALPN h2) opens with a fixed 24-byte preface, followed by a SETTINGS frame. Reading them
//! here, before hyper, lets the head deadline cover them as plain async code (a client that
//! sends nothing, or a preface alone, is closed at the deadline), and lets each protocol be
//! served by hyper's own builder, whose HTTP/1 side bounds the request head exactly
//! (`max_header_size`, which hyper-util's auto builder does not expose).

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
const SETTINGS: u8 = 0x4;
/// The largest SETTINGS frame waited for (HTTP/2's initial maximum frame size); past it the
/// bytes go to hyper as they are, which refuses them.
const MAX_SETTINGS: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

/// What the bytes read so far say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    NeedMore,
    Is(Protocol),
}

/// Classifies a connection's first bytes. HTTP/2 is reported once its preface and first
/// frame (a SETTINGS frame, if the client follows the protocol) are complete.
pub fn classify(bytes: &[u8]) -> Sniffed {
    let n = bytes.len().min(PREFACE.len());
    if bytes[..n] != PREFACE[..n] {
        return Sniffed::Is(Protocol::Http1);
    }
    if bytes.len() < PREFACE.len() + FRAME_HEADER {
        return Sniffed::NeedMore;
    }
    let header = &bytes[PREFACE.len()..PREFACE.len() + FRAME_HEADER];
    let length =
        usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    if header[3] != SETTINGS || length > MAX_SETTINGS {
        // Not what a client must send: hyper says so to the client.
        return Sniffed::Is(Protocol::Http2);
    }
    if bytes.len() < PREFACE.len() + FRAME_HEADER + length {
        return Sniffed::NeedMore;
    }
    Sniffed::Is(Protocol::Http2)
}

/// Reads until the protocol is known, starting from `buf` (bytes read already: what followed
/// a PROXY header; usually none); the bytes read are returned to be replayed to hyper.
/// `None`: the client closed the connection before saying anything decisive.
pub async fn sniff<S: AsyncRead + Unpin>(
    io: &mut S,
    mut buf: BytesMut,
) -> std::io::Result<Option<(Protocol, BytesMut)>> {
    // One read is usually enough: an HTTP/1 request line differs from the preface at once.
    buf.reserve(2048);
    loop {
        if !buf.is_empty()
            && let Sniffed::Is(protocol) = classify(&buf)
        {
            return Ok(Some((protocol, buf)));
        }
        if io.read_buf(&mut buf).await? == 0 {
            return Ok(None);
        }
        // Room for the next read: the preface and a SETTINGS frame of any allowed size.
        buf.reserve(1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(payload: &[u8]) -> Vec<u8> {
        let mut v = PREFACE.to_vec();
        let len = payload.len();
        v.extend_from_slice(&[
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            SETTINGS,
            0,
            0,
            0,
            0,
            0,
        ]);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn http1_is_known_from_its_first_differing_byte() {
        assert_eq!(classify(b"G"), Sniffed::Is(Protocol::Http1));
        assert_eq!(
            classify(b"GET / HTTP/1.1\r\n"),
            Sniffed::Is(Protocol::Http1)
        );
        assert_eq!(classify(b"P"), Sniffed::NeedMore);
        assert_eq!(classify(b"POST"), Sniffed::Is(Protocol::Http1));
        assert_eq!(classify(b"PRI * HTTP/1.1"), Sniffed::Is(Protocol::Http1));
    }

    #[test]
    fn http2_waits_for_the_whole_settings_frame() {
        let full = settings(&[0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0]);
        for cut in 1..full.len() {
            assert_eq!(classify(&full[..cut]), Sniffed::NeedMore, "cut at {cut}");
        }
        assert_eq!(classify(&full), Sniffed::Is(Protocol::Http2));
        assert_eq!(classify(&settings(&[])), Sniffed::Is(Protocol::Http2));
    }

    #[test]
    fn a_broken_first_frame_is_left_to_hyper() {
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(&[0, 0, 4, 0x8, 0, 0, 0, 0, 0]); // WINDOW_UPDATE
        assert_eq!(classify(&v), Sniffed::Is(Protocol::Http2));
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(&[0xff, 0xff, 0xff, SETTINGS, 0, 0, 0, 0, 0]);
        assert_eq!(classify(&v), Sniffed::Is(Protocol::Http2));
    }

    proptest! {
        /// Whatever follows, a start that is not the preface is HTTP/1, and more bytes
        /// never change a decision once made.
        #[test]
        fn decisions_are_final(bytes in proptest::collection::vec(any::<u8>(), 1..80), cut in 1usize..80) {
            let cut = cut.min(bytes.len());
            if let Sniffed::Is(p) = classify(&bytes[..cut]) {
                prop_assert_eq!(classify(&bytes), Sniffed::Is(p));
            }
        }

        #[test]
        fn preface_prefixes_need_more(cut in 1usize..24) {
            prop_assert_eq!(classify(&PREFACE[..cut]), Sniffed::NeedMore);
        }
    }

    #[tokio::test]
    async fn sniff_reads_across_small_reads() {
        let full = settings(&[0, 3, 0, 0, 0, 100]);
        let mut mock = crate::connection::chunked_reader(&full, 5);
        let (p, bytes) = sniff(&mut mock, BytesMut::new()).await.unwrap().unwrap();
        assert_eq!(p, Protocol::Http2);
        assert_eq!(&bytes[..], &full[..]);
        let mut empty: &[u8] = &[];
        assert!(sniff(&mut empty, BytesMut::new()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn sniff_starts_from_bytes_read_already() {
        // Decisive already: nothing more is read.
        let mut silent: &[u8] = &[];
        let (p, bytes) = sniff(&mut silent, BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (p, &bytes[..]),
            (Protocol::Http1, &b"GET / HTTP/1.1\r\n"[..])
        );
        // Part of the preface: the rest is read after it.
        let full = settings(&[]);
        let mut rest = crate::connection::chunked_reader(&full[10..], 4);
        let (p, bytes) = sniff(&mut rest, BytesMut::from(&full[..10]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((p, &bytes[..]), (Protocol::Http2, &full[..]));
    }
}
