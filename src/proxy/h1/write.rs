//! Encoding a request for a backend: the head, and the body's framing.
//!
//! The head is what `forward.rs` leaves: hop-by-hop fields already stripped (among them
//! any Transfer-Encoding the client sent), Host set, the URI in origin form. Header
//! values cannot hold CR, LF or NUL (`HeaderValue` refuses them when it is made), names
//! are tokens, and the method and path were checked by hyper's server: nothing written
//! here can end a line early or smuggle a second request.

use bytes::{BufMut, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;

use crate::proxy::headers::ForwardedFields;

/// The body's framing on the wire, and what the head says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body at all.
    None,
    /// Exactly this many bytes (the client's Content-Length, or an exact size).
    Length(u64),
    Chunked,
}

/// Chooses the body's framing and sets the header that says so: a Content-Length the
/// client gave is kept and honoured exactly; no body (the body has ended before it
/// began) sends nothing, as hyper did (a client's `Content-Length: 0` passes as it is);
/// an exact size becomes a Content-Length; anything else is chunked.
pub fn body_framing(
    headers: &mut HeaderMap,
    end_stream: bool,
    exact: Option<u64>,
) -> Result<BodyFraming, &'static str> {
    // Whatever the client sent is gone already (hop-by-hop); a layer cannot add one.
    headers.remove(header::TRANSFER_ENCODING);
    if let Some(value) = headers.get(header::CONTENT_LENGTH) {
        let length = super::head::parse_decimal(value.as_bytes())
            .filter(|_| headers.get_all(header::CONTENT_LENGTH).iter().count() == 1)
            .ok_or("invalid Content-Length in the request")?;
        return Ok(if length == 0 && end_stream {
            BodyFraming::None
        } else {
            BodyFraming::Length(length)
        });
    }
    if end_stream {
        return Ok(BodyFraming::None);
    }
    if let Some(length) = exact {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        return Ok(BodyFraming::Length(length));
    }
    headers.insert(
        header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    Ok(BodyFraming::Chunked)
}

/// `METHOD target HTTP/1.1`, the fields (the map's, then the forwarded ones, which the
/// map does not have), the empty line.
pub fn encode_head(parts: &Parts, forwarded: &ForwardedFields, out: &mut BytesMut) {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let method = parts.method.as_str();
    let fields = || parts.headers.iter().chain(forwarded.iter());
    let mut size = method.len() + target.len() + 14;
    for (name, value) in fields() {
        size += name.as_str().len() + value.len() + 4;
    }
    out.reserve(size);
    out.put_slice(method.as_bytes());
    out.put_u8(b' ');
    out.put_slice(target.as_bytes());
    out.put_slice(b" HTTP/1.1\r\n");
    for (name, value) in fields() {
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
}

/// One piece of body data as the framing puts it on the wire.
pub fn encode_data(framing: BodyFraming, data: &[u8], out: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    if framing == BodyFraming::Chunked {
        out.reserve(data.len() + 20);
        out.put_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.put_slice(data);
        out.put_slice(b"\r\n");
    } else {
        out.put_slice(data);
    }
}

/// The end of a chunked body (no trailers: the Trailer field that would announce them is
/// hop-by-hop, and hyper's client did not send them either).
pub fn encode_end(framing: BodyFraming, out: &mut BytesMut) {
    if framing == BodyFraming::Chunked {
        out.put_slice(b"0\r\n\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn encodes_the_head_in_origin_form() {
        let p = parts("GET", "/a/b?c=d", &[("host", "backend"), ("x-a", "1")]);
        let mut out = BytesMut::new();
        encode_head(&p, &ForwardedFields::default(), &mut out);
        assert_eq!(
            &out[..],
            b"GET /a/b?c=d HTTP/1.1\r\nhost: backend\r\nx-a: 1\r\n\r\n"
        );
    }

    #[test]
    fn writes_the_forwarded_fields_after_the_map() {
        let mut p = parts(
            "GET",
            "/",
            &[("host", "backend"), ("x-forwarded-proto", "https")],
        );
        let client = crate::proxy::headers::Forwarded {
            ip: "10.0.0.7".parse().unwrap(),
            proto: "http",
            host: None,
        };
        let fields = crate::proxy::headers::forwarded_fields(
            &mut p.headers,
            &client,
            &HeaderValue::from_static("proxy1"),
        );
        let mut out = BytesMut::new();
        encode_head(&p, &fields, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "GET / HTTP/1.1\r\nhost: backend\r\nx-forwarded-proto: https\r\n\
             x-forwarded-for: 10.0.0.7\r\nx-forwarded-port: 80\r\n\
             x-forwarded-server: proxy1\r\nx-real-ip: 10.0.0.7\r\n\r\n"
        );
    }

    #[test]
    fn frames_the_body() {
        let mut h = HeaderMap::new();
        assert_eq!(body_framing(&mut h, true, Some(0)), Ok(BodyFraming::None));
        assert!(h.is_empty());
        assert_eq!(
            body_framing(&mut h, false, Some(5)),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(h["content-length"], "5");
        let mut h = HeaderMap::new();
        assert_eq!(body_framing(&mut h, false, None), Ok(BodyFraming::Chunked));
        assert_eq!(h["transfer-encoding"], "chunked");
        // The client's Content-Length is honoured, even against a size hint.
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("7"));
        assert_eq!(
            body_framing(&mut h, false, None),
            Ok(BodyFraming::Length(7))
        );
        // `Content-Length: 0` on an empty body passes as it is.
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("0"));
        assert_eq!(body_framing(&mut h, true, Some(0)), Ok(BodyFraming::None));
        assert_eq!(h["content-length"], "0");
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("x"));
        assert!(body_framing(&mut h, false, None).is_err());
        // Read as a response's is: digits only, one field.
        for bad in [&["+5"][..], &["5 "], &["18446744073709551616"], &["5", "5"]] {
            let mut h = HeaderMap::new();
            for v in bad {
                h.append("content-length", HeaderValue::from_static(v));
            }
            assert!(body_framing(&mut h, false, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn encodes_chunks() {
        let mut out = BytesMut::new();
        encode_data(BodyFraming::Chunked, b"hello world, 17 b", &mut out);
        encode_data(BodyFraming::Chunked, b"", &mut out);
        encode_end(BodyFraming::Chunked, &mut out);
        assert_eq!(&out[..], b"11\r\nhello world, 17 b\r\n0\r\n\r\n");
        let mut out = BytesMut::new();
        encode_data(BodyFraming::Length(2), b"ok", &mut out);
        encode_end(BodyFraming::Length(2), &mut out);
        assert_eq!(&out[..], b"ok");
    }
}
