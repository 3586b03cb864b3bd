//! `[entryPoints.X.proxyProtocol]`: the PROXY protocol header (HAProxy's v1 text line or v2
//! binary block) that a load balancer in front of trafik writes first on each connection, to
//! name the client it is relaying. It is read in the connection's task, right after accept
//! and before any TLS handshake, under the connection's head deadline; the address it names
//! then stands for the peer everywhere (X-Forwarded-For, whitelists, rate limits, the access
//! log). The header itself is parsed by the `ppp` crate; this file decides what to believe.
//!
//! * A trusted peer (`trustedIPs`, or everyone with `insecure`) with a header: the header's
//!   source address. A v2 `LOCAL` or a v1 `UNKNOWN` header (a proxy's own health check):
//!   the peer's address. No header (its first bytes are not a PROXY signature): the peer's
//!   address, and the bytes read go to HTTP (or TLS) untouched.
//! * An untrusted peer whose first bytes are a PROXY signature is closed: believing it would
//!   let anyone choose their address, and passing the header on as request bytes would hand
//!   HTTP a line it was never meant to parse. Without a signature it is served as if
//!   `proxyProtocol` were off.
//! * A malformed header (a bad address, a missing CRLF, more than the bounds below) closes
//!   the connection, with a log line; other connections are not affected.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use bytes::BytesMut;
use ppp::PartialResult;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use trafik_middleware::whitelist::SourceRange;

/// The v1 signature: "PROXY" and one space.
const V1_SIGNATURE: &[u8] = b"PROXY ";
/// The v2 signature, chosen by the spec so that no text protocol starts with it.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line, CRLF included (the spec's bound).
const V1_MAX: usize = 107;
/// The v2 signature, version/command, family/protocol and the 16-bit length that follows.
const V2_FIXED: usize = 16;
/// The longest v2 header accepted, TLVs included. The format allows 64 KiB; proxies send a
/// few dozen bytes (addresses, an ALPN, a unique ID), so past this it is taken as malformed
/// rather than buffered.
const V2_MAX: usize = 4096;
/// What one read asks for; the first read usually brings the whole header.
const READ_SIZE: usize = 512;
/// A malformed header from a trusted peer is a warning at most this often per entry point
/// (its proxy is misconfigured, and says so on every connection); debug otherwise.
const WARN_GAP: Duration = Duration::from_secs(60);

/// An entry point's `proxyProtocol`, ready to judge connections.
#[derive(Debug)]
pub struct ProxyProtocol {
    trusted: Trusted,
    last_warned: Mutex<Option<Instant>>,
}

#[derive(Debug)]
enum Trusted {
    Everyone,
    Networks(SourceRange),
}

impl ProxyProtocol {
    /// From the entry point's table. Neither `trustedIPs` nor `insecure` is refused, as v1
    /// refuses it: such a table trusts nobody, surely not what was meant.
    pub fn new(cfg: &trafik_config::ProxyProtocol) -> Result<Self, String> {
        let trusted = if cfg.insecure {
            Trusted::Everyone
        } else if cfg.trusted_ips.is_empty() {
            return Err(
                "trustedIPs is empty and insecure is false, so no peer would be \
                 trusted: list the proxies in trustedIPs, or set insecure = true"
                    .into(),
            );
        } else {
            Trusted::Networks(SourceRange::parse(&cfg.trusted_ips).map_err(|e| {
                format!(
                    "trustedIPs[{}] {:?} is not an IP address or a CIDR network \
                     (e.g. \"10.0.0.0/8\", \"192.168.1.7\", \"fd00::/8\")",
                    e.index, e.entry
                )
            })?)
        };
        Ok(ProxyProtocol {
            trusted,
            last_warned: Mutex::new(None),
        })
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        match &self.trusted {
            Trusted::Everyone => true,
            Trusted::Networks(nets) => nets.contains(ip),
        }
    }

    /// Reads the header of a connection from `peer`, until `deadline` (the head deadline)
    /// or `stop`. Returns the client's address and the bytes read past the header (to be
    /// replayed to TLS or HTTP), or `None` when the connection is to be closed (said in the
    /// log here).
    pub async fn accept<S: AsyncRead + Unpin>(
        &self,
        io: &mut S,
        peer: SocketAddr,
        deadline: Option<Instant>,
        stop: &CancellationToken,
        entry_point: &str,
    ) -> Option<(SocketAddr, BytesMut)> {
        let reading = async {
            let read = read_header(io, self.trusts(peer.ip()));
            match deadline {
                Some(at) => tokio::time::timeout_at(at, read)
                    .await
                    .unwrap_or(Err(Refused::Expired)),
                None => read.await,
            }
        };
        let read = tokio::select! {
            biased;
            _ = stop.cancelled() => return None,
            read = reading => read,
        };
        let refused = match read {
            Ok((source, rest)) => return Some((source.unwrap_or(peer), rest)),
            Err(refused) => refused,
        };
        match refused {
            Refused::Malformed(why) if self.warn_now(Instant::now()) => tracing::warn!(
                entry_point,
                "closed the connection from {peer}: malformed PROXY protocol header: {why} \
                 (logged at most once a minute; the others at debug level)"
            ),
            Refused::Malformed(why) => tracing::debug!(
                entry_point,
                "closed the connection from {peer}: malformed PROXY protocol header: {why}"
            ),
            Refused::Untrusted => tracing::debug!(
                entry_point,
                "closed the connection from {peer}: it sent a PROXY protocol header but is \
                 not in proxyProtocol.trustedIPs"
            ),
            Refused::Expired => tracing::debug!(
                entry_point,
                "closed the connection from {peer}: no complete PROXY protocol header within \
                 readHeaderTimeout"
            ),
            Refused::Closed => {}
            Refused::Io(e) => tracing::trace!("connection from {peer}: {e}"),
        }
        None
    }

    /// Whether a malformed header seen at `now` is worth a warning.
    fn warn_now(&self, now: Instant) -> bool {
        let mut last = self.last_warned.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| now < t + WARN_GAP) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// Why a connection is closed before HTTP.
#[derive(Debug)]
enum Refused {
    /// An untrusted peer sent a PROXY signature.
    Untrusted,
    Malformed(String),
    /// The head deadline passed first.
    Expired,
    /// The peer closed the connection before its first bytes said anything.
    Closed,
    Io(io::Error),
}

/// Reads until the first bytes decide: the header's source (`None`: no header, or one that
/// names no client) and what was read past it. An untrusted peer's bytes are only checked
/// for a signature. Never more than `V2_MAX` + one read is buffered.
async fn read_header<S: AsyncRead + Unpin>(
    io: &mut S,
    trusted: bool,
) -> Result<(Option<SocketAddr>, BytesMut), Refused> {
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(READ_SIZE);
        }
        match io.read_buf(&mut buf).await {
            Ok(0) => return Err(Refused::Closed),
            Ok(_) => {}
            Err(e) => return Err(Refused::Io(e)),
        }
        let parsed = match (trusted, signature(&buf)) {
            (_, Signature::NeedMore) => Parsed::NeedMore,
            (_, Signature::None) => Parsed::NotProxy,
            (false, _) => return Err(Refused::Untrusted),
            (true, _) => parse(&buf),
        };
        match parsed {
            Parsed::NeedMore => continue,
            Parsed::NotProxy => return Ok((None, buf)),
            Parsed::Header { len, source } => return Ok((source, buf.split_off(len))),
            Parsed::Malformed(why) => return Err(Refused::Malformed(why)),
        }
    }
}

/// Which PROXY signature, if any, the first bytes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// A strict prefix of a signature (or nothing yet): wait for more.
    NeedMore,
    None,
    V1,
    V2,
}

pub fn signature(bytes: &[u8]) -> Signature {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    let could_be = |sig: &[u8]| sig.starts_with(bytes);
    if starts(V1_SIGNATURE) {
        Signature::V1
    } else if starts(V2_SIGNATURE) {
        Signature::V2
    } else if could_be(V1_SIGNATURE) || could_be(V2_SIGNATURE) {
        Signature::NeedMore
    } else {
        Signature::None
    }
}

/// What a trusted peer's first bytes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    NeedMore,
    /// No PROXY signature: the bytes belong to the protocol that follows.
    NotProxy,
    /// A complete header of `len` bytes. `source`: the client it names; `None` for a v2
    /// `LOCAL`, a v1 `UNKNOWN`, or an address family without an IP address (the peer's own
    /// address stands).
    Header {
        len: usize,
        source: Option<SocketAddr>,
    },
    Malformed(String),
}

pub fn parse(bytes: &[u8]) -> Parsed {
    match signature(bytes) {
        Signature::NeedMore => Parsed::NeedMore,
        Signature::None => Parsed::NotProxy,
        Signature::V1 => parse_v1(bytes),
        Signature::V2 => parse_v2(bytes),
    }
}

/// A v1 header is one line: it is parsed once whole (ppp judges some cut-short lines, such
/// as one ending in the space before the last port, malformed rather than incomplete).
fn parse_v1(bytes: &[u8]) -> Parsed {
    let Some(end) = bytes.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        return if bytes.len() >= V1_MAX {
            Parsed::Malformed(format!("v1: no end of line within {V1_MAX} bytes"))
        } else {
            Parsed::NeedMore
        };
    };
    let line = &bytes[..=end];
    match ppp::v1::Header::try_from(line) {
        Ok(header) if header.header.len() == line.len() => Parsed::Header {
            len: line.len(),
            source: match header.addresses {
                ppp::v1::Addresses::Tcp4(a) => Some((a.source_address, a.source_port).into()),
                ppp::v1::Addresses::Tcp6(a) => Some((a.source_address, a.source_port).into()),
                ppp::v1::Addresses::Unknown => None,
            },
        },
        Ok(_) => Parsed::Malformed("v1: the line does not end in CRLF".into()),
        Err(e) => Parsed::Malformed(format!("v1: {e}")),
    }
}

fn parse_v2(bytes: &[u8]) -> Parsed {
    if let Some(length) = bytes.get(V2_FIXED - 2..V2_FIXED) {
        let total = V2_FIXED + usize::from(u16::from_be_bytes([length[0], length[1]]));
        if total > V2_MAX {
            return Parsed::Malformed(format!(
                "v2: a header of {total} bytes, more than the {V2_MAX} accepted"
            ));
        }
    }
    match ppp::v2::Header::try_from(bytes) {
        Ok(header) => Parsed::Header {
            len: header.len(),
            source: match header.command {
                ppp::v2::Command::Local => None,
                ppp::v2::Command::Proxy => match header.addresses {
                    ppp::v2::Addresses::IPv4(a) => Some((a.source_address, a.source_port).into()),
                    ppp::v2::Addresses::IPv6(a) => Some((a.source_address, a.source_port).into()),
                    ppp::v2::Addresses::Unspecified | ppp::v2::Addresses::Unix(_) => None,
                },
            },
        },
        Err(e) if e.is_incomplete() => Parsed::NeedMore,
        Err(e) => Parsed::Malformed(format!("v2: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A v2 header written byte by byte from the spec: signature, version 2 + command,
    /// family + protocol, big-endian length, addresses, then `tlvs`.
    fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut v = V2_SIGNATURE.to_vec();
        v.push(0x20 | command);
        v.push(family);
        let len = (addresses.len() + tlvs.len()) as u16;
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(addresses);
        v.extend_from_slice(tlvs);
        v
    }

    fn tcp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut a = src.to_vec();
        a.extend_from_slice(&dst);
        a.extend_from_slice(&sport.to_be_bytes());
        a.extend_from_slice(&dport.to_be_bytes());
        a
    }

    fn header(len: usize, source: &str) -> Parsed {
        Parsed::Header {
            len,
            source: Some(source.parse().unwrap()),
        }
    }

    #[test]
    fn v1_tcp4_tcp6_and_unknown() {
        let line = b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n";
        assert_eq!(parse(line), header(line.len(), "203.0.113.7:51234"));
        let line = b"PROXY TCP6 2001:db8::7 2001:db8::1 51234 443\r\n";
        assert_eq!(parse(line), header(line.len(), "[2001:db8::7]:51234"));
        let line = b"PROXY UNKNOWN\r\n";
        assert_eq!(
            parse(line),
            Parsed::Header {
                len: line.len(),
                source: None
            }
        );
        let line = b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
        assert!(matches!(parse(line), Parsed::Header { source: None, .. }));
    }

    #[test]
    fn v1_followed_by_a_request_counts_only_the_line() {
        let bytes = b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(parse(bytes), header(44, "203.0.113.7:51234"));
    }

    #[test]
    fn v1_malformed() {
        for bad in [
            &b"PROXY TCP4 not-an-ip 192.0.2.1 1 2\r\n"[..],
            b"PROXY TCP4 203.0.113.7 192.0.2.1 1 99999\r\n",
            b"PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n",
            b"PROXY TCP5 203.0.113.7 192.0.2.1 1 2\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 1 2\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 1 2 3\r\n",
            b"PROXY \r\n",
        ] {
            assert!(
                matches!(parse(bad), Parsed::Malformed(_)),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert!(matches!(parse(&long), Parsed::Malformed(_)));
        // A line that ends only past 107 bytes is too long, even if it would parse.
        let long = [b"PROXY UNKNOWN ".as_slice(), &[b' '; 100], b"\r\n"].concat();
        assert!(matches!(parse(&long), Parsed::Malformed(_)));
    }

    #[test]
    fn v2_tcp4_tcp6_local_and_tlvs() {
        let bytes = v2(
            1,
            0x11,
            &tcp4([203, 0, 113, 7], 51234, [192, 0, 2, 1], 443),
            &[],
        );
        assert_eq!(parse(&bytes), header(28, "203.0.113.7:51234"));

        let mut addrs = "2001:db8::7"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
            .to_vec();
        addrs.extend_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        addrs.extend_from_slice(&[0xc8, 0x22, 0x01, 0xbb]);
        let bytes = v2(1, 0x21, &addrs, &[]);
        assert_eq!(parse(&bytes), header(52, "[2001:db8::7]:51234"));

        // LOCAL (a health check), with or without addresses: the peer's own address.
        let local = v2(0, 0x00, &[], &[]);
        assert_eq!(
            parse(&local),
            Parsed::Header {
                len: 16,
                source: None
            }
        );
        let local = v2(0, 0x11, &tcp4([1, 2, 3, 4], 1, [5, 6, 7, 8], 2), &[]);
        assert!(matches!(parse(&local), Parsed::Header { source: None, .. }));

        // TLVs (an ALPN, a NOOP) are counted in the length and skipped.
        let tlvs = [0x01, 0x00, 0x02, b'h', b'2', 0x04, 0x00, 0x00];
        let mut bytes = v2(1, 0x11, &tcp4([10, 0, 0, 9], 80, [10, 0, 0, 1], 443), &tlvs);
        let len = bytes.len();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(parse(&bytes), header(len, "10.0.0.9:80"));
    }

    #[test]
    fn v2_malformed() {
        // Too short for the addresses its family needs.
        assert!(matches!(
            parse(&v2(1, 0x11, &[1, 2, 3, 4], &[])),
            Parsed::Malformed(_)
        ));
        // Version 1 in the binary form, an unknown command, an unknown family.
        let mut bad = v2(1, 0x11, &tcp4([1, 2, 3, 4], 1, [5, 6, 7, 8], 2), &[]);
        bad[12] = 0x11;
        assert!(matches!(parse(&bad), Parsed::Malformed(_)));
        bad[12] = 0x2f;
        assert!(matches!(parse(&bad), Parsed::Malformed(_)));
        let mut bad = v2(1, 0x11, &tcp4([1, 2, 3, 4], 1, [5, 6, 7, 8], 2), &[]);
        bad[13] = 0x41;
        assert!(matches!(parse(&bad), Parsed::Malformed(_)));
        // A length past the bound is refused as soon as it is read, not waited for.
        let mut big = V2_SIGNATURE.to_vec();
        big.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(matches!(parse(&big), Parsed::Malformed(_)));
    }

    #[test]
    fn no_signature_is_not_proxy_and_prefixes_wait() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Parsed::NotProxy);
        assert_eq!(parse(b"\x16\x03\x01\x02\x00"), Parsed::NotProxy);
        assert_eq!(parse(b"PRI * HTTP/2.0\r\n"), Parsed::NotProxy);
        assert_eq!(parse(b"PROPFIND / HTTP/1.1\r\n"), Parsed::NotProxy);
        assert_eq!(parse(b"PROXY"), Parsed::NeedMore);
        assert_eq!(parse(b"PROXY\r\n"), Parsed::NotProxy);
        assert_eq!(parse(b""), Parsed::NeedMore);
        assert_eq!(parse(b"\r\n\r\n"), Parsed::NeedMore);
        assert_eq!(parse(b"\r\n\r\nX"), Parsed::NotProxy);
        assert_eq!(signature(b"PROXY TCP4"), Signature::V1);
        assert_eq!(signature(&V2_SIGNATURE[..]), Signature::V2);
    }

    #[test]
    fn trust_comes_from_trusted_ips_or_insecure() {
        let cfg = |ips: &[&str], insecure| trafik_config::ProxyProtocol {
            trusted_ips: ips.iter().map(|s| s.to_string()).collect(),
            insecure,
        };
        let p = ProxyProtocol::new(&cfg(&["10.0.0.0/8", "192.0.2.7"], false)).unwrap();
        assert!(p.trusts("10.1.2.3".parse().unwrap()));
        assert!(p.trusts("::ffff:10.1.2.3".parse().unwrap()));
        assert!(p.trusts("192.0.2.7".parse().unwrap()));
        assert!(!p.trusts("192.0.2.8".parse().unwrap()));
        let p = ProxyProtocol::new(&cfg(&[], true)).unwrap();
        assert!(p.trusts("198.51.100.1".parse().unwrap()));
        let e = ProxyProtocol::new(&cfg(&[], false)).unwrap_err();
        assert!(e.contains("trustedIPs is empty"), "{e}");
        let e = ProxyProtocol::new(&cfg(&["10.0.0.1", "10.0.0.0/33"], false)).unwrap_err();
        assert!(e.contains("trustedIPs[1] \"10.0.0.0/33\""), "{e}");
    }

    #[test]
    fn a_malformed_header_warns_once_a_minute() {
        let p = ProxyProtocol::new(&trafik_config::ProxyProtocol {
            trusted_ips: vec![],
            insecure: true,
        })
        .unwrap();
        let t0 = Instant::now();
        assert!(p.warn_now(t0));
        assert!(!p.warn_now(t0 + Duration::from_secs(59)));
        assert!(p.warn_now(t0 + WARN_GAP));
    }

    #[tokio::test]
    async fn read_header_keeps_what_follows_and_reads_across_small_reads() {
        let mut bytes = b"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n".to_vec();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let mut io = crate::connection::chunked_reader(&bytes, 3);
        let (source, rest) = read_header(&mut io, true).await.unwrap();
        assert_eq!(source, Some("203.0.113.7:51234".parse().unwrap()));
        // The reads were 3 bytes each: what came with the header's last read is kept.
        assert!(b"GET / HTTP/1.1\r\n\r\n".starts_with(&rest));
        let (source, rest) = read_header(&mut &b"GET / HTTP/1.1\r\n"[..], true)
            .await
            .unwrap();
        assert_eq!((source, &rest[..]), (None, &b"GET / HTTP/1.1\r\n"[..]));
    }

    #[tokio::test]
    async fn read_header_refuses_an_untrusted_signature_and_serves_the_rest() {
        let got = read_header(&mut &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"[..], false).await;
        assert!(matches!(got, Err(Refused::Untrusted)));
        let mut v2 = crate::connection::chunked_reader(&V2_SIGNATURE[..], 1);
        assert!(matches!(
            read_header(&mut v2, false).await,
            Err(Refused::Untrusted)
        ));
        let (source, rest) = read_header(&mut &b"GET / HTTP/1.1\r\n"[..], false)
            .await
            .unwrap();
        assert_eq!((source, &rest[..]), (None, &b"GET / HTTP/1.1\r\n"[..]));
        assert!(matches!(
            read_header(&mut &b"PROX"[..], true).await,
            Err(Refused::Closed)
        ));
    }

    proptest! {
        /// A valid header cut anywhere waits for more, and whole (followed by anything) is
        /// read to its exact end with the address it names.
        #[test]
        fn valid_headers_cut_anywhere(
            src in any::<[u8; 4]>(), sport in any::<u16>(), dport in any::<u16>(),
            v6 in any::<[u8; 16]>(), binary in any::<bool>(), family6 in any::<bool>(),
            cut in 0usize..200, tail in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let (bytes, source): (Vec<u8>, SocketAddr) = match (binary, family6) {
                (false, false) => {
                    let ip = std::net::Ipv4Addr::from(src);
                    (format!("PROXY TCP4 {ip} 192.0.2.1 {sport} {dport}\r\n").into_bytes(), (ip, sport).into())
                }
                (false, true) => {
                    let ip = std::net::Ipv6Addr::from(v6);
                    (format!("PROXY TCP6 {ip} ::1 {sport} {dport}\r\n").into_bytes(), (ip, sport).into())
                }
                (true, false) => (v2(1, 0x11, &tcp4(src, sport, [192, 0, 2, 1], dport), &[]), (std::net::Ipv4Addr::from(src), sport).into()),
                (true, true) => {
                    let mut a = v6.to_vec();
                    a.extend_from_slice(&[0; 16]);
                    a.extend_from_slice(&sport.to_be_bytes());
                    a.extend_from_slice(&dport.to_be_bytes());
                    (v2(1, 0x21, &a, &[]), (std::net::Ipv6Addr::from(v6), sport).into())
                }
            };
            let cut = cut.min(bytes.len() - 1);
            prop_assert_eq!(parse(&bytes[..cut]), Parsed::NeedMore);
            let mut whole = bytes.clone();
            whole.extend_from_slice(&tail);
            prop_assert_eq!(parse(&whole), Parsed::Header { len: bytes.len(), source: Some(source) });
        }

        /// Whatever the bytes, parsing does not panic, and once it decides, more bytes do
        /// not change the decision.
        #[test]
        fn decisions_are_final(
            start in prop_oneof![Just(b"PROXY ".to_vec()), Just(V2_SIGNATURE.to_vec()), Just(Vec::new())],
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            cut in 0usize..300,
        ) {
            let whole = [start, bytes].concat();
            let cut = cut.min(whole.len());
            let early = parse(&whole[..cut]);
            if early != Parsed::NeedMore {
                let late = parse(&whole);
                match (&early, &late) {
                    (Parsed::Malformed(_), Parsed::Malformed(_)) => {}
                    _ => prop_assert_eq!(early, late),
                }
            }
        }
    }
}
