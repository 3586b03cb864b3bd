//! A minimal DNS client (RFC 1035 over UDP) for DNS-01's propagation check: one question
//! (TXT, SOA, NS or A) to one server, the answer's records read back. An answer too long
//! for a datagram comes back with the TC bit set; the question is then asked again over
//! TCP (RFC 7766, messages prefixed with their two-byte length). trafik needs nothing
//! more from DNS, and no DNS crate is in the tree: hickory-resolver would bring some twenty
//! crates (and a rebuild) for the one query type the check asks. Every answer is hostile:
//! a malformed message is an error, never a panic (each read is bounds-checked, name
//! compression pointers are followed a bounded number of times).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

pub const TXT: u16 = 16;
pub const SOA: u16 = 6;
pub const NS: u16 = 2;
pub const A: u16 = 1;

/// One resource record of an answer: its owner, type and data as trafik reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Lower case, with the trailing dot: `_acme-challenge.example.test.`.
    pub name: String,
    pub rtype: u16,
    pub data: RecordData,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordData {
    /// A TXT record's strings, joined (as lego compares them).
    Txt(String),
    /// An NS record's host name.
    Ns(String),
    A(Ipv4Addr),
    /// Any other type (an SOA is used for its owner name only).
    Other,
}

/// A server's answer: its response code, the answer and authority sections.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rcode: u8,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
}

/// Asks `server` for `name`'s records of type `rtype`, waiting up to `timeout`.
pub async fn query(
    server: SocketAddr,
    name: &str,
    rtype: u16,
    timeout: Duration,
) -> Result<Answer, String> {
    let id = query_id();
    let message = encode_query(id, name, rtype)?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("DNS: cannot open a UDP socket: {e}"))?;
    // Connected: only the server's datagrams are read.
    socket
        .connect(server)
        .await
        .map_err(|e| format!("DNS: {server}: {e}"))?;
    socket
        .send(&message)
        .await
        .map_err(|e| format!("DNS: {server}: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
            .await
            .map_err(|_| format!("DNS: {server} did not answer in {timeout:?}"))?
            .map_err(|e| format!("DNS: {server}: {e}"))?;
        // A stray or late datagram of an earlier question: not ours, keep waiting.
        if n < 2 || u16::from_be_bytes([buf[0], buf[1]]) != id {
            continue;
        }
        if is_truncated(&buf[..n]) {
            // Several long TXT values (a wildcard and its base name ordered together, old
            // records left behind) overflow 512 bytes: the full answer is only over TCP.
            return query_tcp(server, id, &message, deadline)
                .await
                .map_err(|e| {
                    format!(
                        "DNS: {server}: the answer over UDP was truncated (TC) and over TCP: {e}"
                    )
                });
        }
        return decode_answer(&buf[..n]).map_err(|e| format!("DNS: {server}: {e}"));
    }
}

/// The TC bit of a response: the server had more to say than fits a datagram.
fn is_truncated(m: &[u8]) -> bool {
    m.len() >= 4 && m[2] & 0x80 != 0 && m[2] & 0x02 != 0
}

/// The same question over TCP (RFC 7766 §8: each message preceded by its length as two
/// bytes), by the same deadline as the UDP question it follows.
async fn query_tcp(
    server: SocketAddr,
    id: u16,
    message: &[u8],
    deadline: tokio::time::Instant,
) -> Result<Answer, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(server)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let len = u16::try_from(message.len()).map_err(|_| "question too long".to_string())?;
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| format!("cannot send: {e}"))?;
        let mut len = [0u8; 2];
        stream
            .read_exact(&mut len)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let mut answer = vec![0u8; u16::from_be_bytes(len) as usize];
        stream
            .read_exact(&mut answer)
            .await
            .map_err(|e| format!("a short answer: {e}"))?;
        if answer.len() < 2 || u16::from_be_bytes([answer[0], answer[1]]) != id {
            return Err("an answer to another question".to_string());
        }
        decode_answer(&answer)
    };
    tokio::time::timeout_at(deadline, exchange)
        .await
        .map_err(|_| "no answer in time".to_string())?
}

/// Not security: the socket is connected to the server and the answer is only read to
/// see a record; the id tells this question's answer from a late one of a previous.
fn query_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos as u16) ^ NEXT.fetch_add(0x9e37, Ordering::Relaxed)
}

/// A standard query with recursion desired (a recursive resolver resolves it; an
/// authoritative server ignores the bit).
pub fn encode_query(id: u16, name: &str, rtype: u16) -> Result<Vec<u8>, String> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    m.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    m.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // AN, NS, AR
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("DNS: {name:?} is not a domain name"));
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    if m.len() - 12 > 255 {
        return Err(format!("DNS: {name:?} is longer than 255 bytes"));
    }
    m.extend_from_slice(&rtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes()); // IN
    Ok(m)
}

pub fn decode_answer(m: &[u8]) -> Result<Answer, String> {
    let u16_at = |pos: usize| -> Result<u16, String> {
        m.get(pos..pos + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated message".to_string())
    };
    let flags = u16_at(2)?;
    if flags & 0x8000 == 0 {
        return Err("not a response".into());
    }
    if flags & 0x0200 != 0 {
        // `query` asks again over TCP before decoding; over TCP the bit has no business.
        return Err("truncated answer (TC)".into());
    }
    let rcode = (flags & 0x000f) as u8;
    let (qd, an, ns) = (u16_at(4)?, u16_at(6)?, u16_at(8)?);
    let mut pos = 12;
    for _ in 0..qd {
        pos = read_name(m, pos)?.1 + 4;
    }
    let read_section = |count: u16, pos: &mut usize| -> Result<Vec<Record>, String> {
        let mut records = Vec::new();
        for _ in 0..count {
            let (name, at) = read_name(m, *pos)?;
            let rtype = u16_at(at)?;
            let len = u16_at(at + 8)? as usize;
            let start = at + 10;
            let rdata = m.get(start..start + len).ok_or("truncated record")?;
            let data = match rtype {
                TXT => RecordData::Txt(read_txt(rdata)?),
                NS => RecordData::Ns(read_name(m, start)?.0),
                A if len == 4 => {
                    RecordData::A(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]))
                }
                A => return Err("an A record that is not 4 bytes".into()),
                _ => RecordData::Other,
            };
            records.push(Record { name, rtype, data });
            *pos = start + len;
        }
        Ok(records)
    };
    let answers = read_section(an, &mut pos)?;
    let authority = read_section(ns, &mut pos)?;
    Ok(Answer {
        rcode,
        answers,
        authority,
    })
}

/// A TXT record's character-strings, joined.
fn read_txt(rdata: &[u8]) -> Result<String, String> {
    let (mut text, mut pos) = (Vec::new(), 0);
    while pos < rdata.len() {
        let len = rdata[pos] as usize;
        let part = rdata
            .get(pos + 1..pos + 1 + len)
            .ok_or("truncated TXT string")?;
        text.extend_from_slice(part);
        pos += 1 + len;
    }
    String::from_utf8(text).map_err(|_| "a TXT record that is not UTF-8".to_string())
}

/// The name at `pos` (lower case, trailing dot) and the position after it in the record
/// (after the first compression pointer, if any).
fn read_name(m: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut end = None;
    // Each pointer must go backwards, so a loop is impossible; the bound is belt and braces.
    for _ in 0..128 {
        let len = *m.get(pos).ok_or("truncated name")? as usize;
        match len {
            0 => {
                if name.is_empty() {
                    name.push('.');
                }
                return Ok((name, end.unwrap_or(pos + 1)));
            }
            0xc0..=0xff => {
                let low = *m.get(pos + 1).ok_or("truncated name pointer")? as usize;
                let target = ((len & 0x3f) << 8) | low;
                if target >= pos {
                    return Err("a name pointer that does not point backwards".into());
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            1..=63 => {
                let label = m.get(pos + 1..pos + 1 + len).ok_or("truncated label")?;
                name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
                name.push('.');
                pos += 1 + len;
            }
            _ => return Err("a label of an unknown kind".into()),
        }
    }
    Err("a name with too many labels".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_txt_query_is_encoded_as_rfc_1035_says() {
        let q = encode_query(0x1234, "_acme-challenge.example.test.", TXT).unwrap();
        let mut want = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x0f_acme-challenge\x07example\x04test\x00");
        want.extend_from_slice(&[0, 16, 0, 1]);
        assert_eq!(q, want);
        assert!(encode_query(1, "a..b", TXT).is_err());
        assert!(encode_query(1, &"x".repeat(64), TXT).is_err());
    }

    /// An answer as a DNS server sends it: the question echoed, two TXT records (one split
    /// in two strings), owner names compressed to the question's.
    fn recorded_txt_answer() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x0f_acme-challenge\x07Example\x04test\x00");
        m.extend_from_slice(&[0, 16, 0, 1]);
        // Pointer to offset 12 (the question's name), TXT, IN, TTL 60, "abc".
        m.extend_from_slice(&[
            0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, b'a', b'b', b'c',
        ]);
        // "de" + "f" in two strings.
        m.extend_from_slice(&[
            0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 5, 2, b'd', b'e', 1, b'f',
        ]);
        m
    }

    #[test]
    fn txt_records_are_read_with_compressed_names() {
        let a = decode_answer(&recorded_txt_answer()).unwrap();
        assert_eq!(a.rcode, 0);
        let values: Vec<_> = a.answers.iter().map(|r| r.data.clone()).collect();
        assert_eq!(
            values,
            vec![RecordData::Txt("abc".into()), RecordData::Txt("def".into())]
        );
        assert_eq!(a.answers[0].name, "_acme-challenge.example.test.");
    }

    #[test]
    fn an_ns_answer_and_an_soa_in_the_authority_section() {
        // NS query for example.test: one NS (name compressed against the question), and
        // an NXDOMAIN-style answer with an SOA in the authority section.
        let mut m = vec![0, 7, 0x84, 0x00, 0, 1, 0, 1, 0, 1, 0, 0];
        m.extend_from_slice(b"\x07example\x04test\x00");
        m.extend_from_slice(&[0, 2, 0, 1]);
        m.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 1, 0, 0, 6]);
        m.extend_from_slice(&[3, b'n', b's', b'1', 0xc0, 12]);
        m.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 1, 0, 0, 2, 0xde, 0xad]);
        let a = decode_answer(&m).unwrap();
        assert_eq!(
            a.answers[0].data,
            RecordData::Ns("ns1.example.test.".into())
        );
        assert_eq!(a.authority[0].rtype, SOA);
        assert_eq!(a.authority[0].name, "example.test.");
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        let good = recorded_txt_answer();
        // Every truncation of a good answer.
        for n in 0..good.len() {
            let _ = decode_answer(&good[..n]);
        }
        assert!(decode_answer(&good[..good.len() - 1]).is_err());
        // A pointer to itself, and one forwards.
        let mut looping = good.clone();
        looping[47] = 46;
        assert!(decode_answer(&looping).is_err());
        let mut query = good.clone();
        query[2] = 0x01; // QR clear: a question, not an answer
        assert!(decode_answer(&query).is_err());
        let mut tc = good;
        tc[2] |= 0x02;
        assert!(decode_answer(&tc).unwrap_err().contains("truncated"));
    }

    /// An answer to `question` (its id and question section echoed) with `flags` and
    /// `records` in the answer section.
    fn answer_to(question: &[u8], flags: u16, records: &[Vec<u8>]) -> Vec<u8> {
        let mut m = question[..2].to_vec();
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&(records.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&question[12..]);
        for r in records {
            m.extend_from_slice(r);
        }
        m
    }

    /// A TXT record owned by the question's name (a pointer to offset 12), one string.
    fn txt_record(value: &[u8]) -> Vec<u8> {
        let mut r = vec![0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60];
        r.extend_from_slice(&(value.len() as u16 + 1).to_be_bytes());
        r.push(value.len() as u8);
        r.extend_from_slice(value);
        r
    }

    /// Three 200-byte values: more than a 512-byte datagram holds.
    fn long_values() -> Vec<Vec<u8>> {
        vec![vec![b'a'; 200], vec![b'b'; 200], vec![b'c'; 200]]
    }

    /// A DNS server on 127.0.0.1 that answers every UDP question truncated (TC set, no
    /// records, as a server does when the records do not fit), and, when `tcp`, the same
    /// question over TCP in full. Without `tcp` the port refuses TCP connections.
    async fn truncating_server(tcp: bool) -> SocketAddr {
        loop {
            // The TCP port taken first, then the same port number for UDP.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let Ok(udp) = tokio::net::UdpSocket::bind(addr).await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 512];
                while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                    let _ = udp.send_to(&answer_to(&buf[..n], 0x8380, &[]), from).await;
                }
            });
            if !tcp {
                drop(listener);
                return addr;
            }
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                while let Ok((mut stream, _)) = listener.accept().await {
                    let mut len = [0u8; 2];
                    stream.read_exact(&mut len).await.unwrap();
                    let mut question = vec![0u8; u16::from_be_bytes(len) as usize];
                    stream.read_exact(&mut question).await.unwrap();
                    let records: Vec<Vec<u8>> =
                        long_values().iter().map(|v| txt_record(v)).collect();
                    let answer = answer_to(&question, 0x8180, &records);
                    let mut framed = (answer.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&answer);
                    stream.write_all(&framed).await.unwrap();
                }
            });
            return addr;
        }
    }

    #[tokio::test]
    async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
        let server = truncating_server(true).await;
        let answer = query(
            server,
            "_acme-challenge.example.test",
            TXT,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        let values: Vec<RecordData> = answer.answers.into_iter().map(|r| r.data).collect();
        let want: Vec<RecordData> = long_values()
            .into_iter()
            .map(|v| RecordData::Txt(String::from_utf8(v).unwrap()))
            .collect();
        // Only the TCP answer carries records: the UDP one was empty and truncated.
        assert_eq!(values, want);
    }

    #[tokio::test]
    async fn a_server_that_refuses_tcp_after_truncating_is_named_in_the_error() {
        let server = truncating_server(false).await;
        let err = query(
            server,
            "_acme-challenge.example.test",
            TXT,
            Duration::from_secs(30),
        )
        .await
        .unwrap_err();
        assert!(
            err.contains(&server.to_string()) && err.contains("TCP") && err.contains("truncated"),
            "{err}"
        );
    }
}
