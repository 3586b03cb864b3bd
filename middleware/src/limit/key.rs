//! What requests are counted together: v1's `extractorFunc` (oxy `utils.SourceExtractor`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use http::header::{HOST, HeaderName};
use http::{HeaderValue, Request};

/// The peer address of the connection a request came on. The server inserts it into the
/// request extensions; [`Extractor::ClientIp`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub SocketAddr);

/// What requests are counted together under. Made without copying or formatting the
/// request's bytes, as it is taken on every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Ip(IpAddr),
    /// A header's value, sharing the request's bytes.
    Value(HeaderValue),
    Text(String),
}

impl Key {
    /// Whether this key reads as `text` (an IP address in its usual notation).
    pub fn is(&self, text: &str) -> bool {
        match self {
            Key::Ip(ip) => text.parse::<IpAddr>().is_ok_and(|t| t == *ip),
            Key::Value(value) => value.as_bytes() == text.as_bytes(),
            Key::Text(own) => own == text,
        }
    }
}

impl From<String> for Key {
    fn from(text: String) -> Self {
        Key::Text(text)
    }
}

/// Finds the key a request is counted under; `None` when it has none (v1 then answers
/// `500`). Any `Fn(&Request<B>) -> Option<String>` is one.
pub trait KeyExtractor<B> {
    fn key(&self, req: &Request<B>) -> Option<Key>;
}

impl<B, F> KeyExtractor<B> for F
where
    F: Fn(&Request<B>) -> Option<String>,
{
    fn key(&self, req: &Request<B>) -> Option<Key> {
        self(req).map(Key::Text)
    }
}

/// v1's three extractors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extractor {
    /// `client.ip`: the peer's IP address, from [`ClientAddr`] (not `X-Forwarded-For`, as
    /// v1). v1 cuts `RemoteAddr` at its first `:`, which lumps every IPv6 client together;
    /// this uses the whole address.
    ClientIp,
    /// `request.host`: the `Host` header, else the URI's authority (HTTP/2), port included.
    RequestHost,
    /// `request.header.<Name>`: the header's first value; a missing header is the empty
    /// key, shared by every request without it (as v1's `Header.Get`).
    RequestHeader(HeaderName),
}

impl<B> KeyExtractor<B> for Extractor {
    fn key(&self, req: &Request<B>) -> Option<Key> {
        match self {
            Extractor::ClientIp => req
                .extensions()
                .get::<ClientAddr>()
                .map(|a| Key::Ip(a.0.ip())),
            Extractor::RequestHost => Some(match req.headers().get(HOST) {
                Some(host) => Key::Value(host.clone()),
                None => Key::Text(
                    req.uri()
                        .authority()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            }),
            Extractor::RequestHeader(name) => Some(Key::Value(
                req.headers()
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| HeaderValue::from_static("")),
            )),
        }
    }
}

/// An `extractorFunc` that is none of v1's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownExtractor(pub String);

impl fmt::Display for UnknownExtractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown extractor {:?}: expected client.ip, request.host or request.header.<Name>",
            self.0
        )
    }
}

impl std::error::Error for UnknownExtractor {}

impl FromStr for Extractor {
    type Err = UnknownExtractor;

    /// Parses v1's names: `client.ip`, `request.host`, `request.header.<Name>`.
    fn from_str(s: &str) -> Result<Self, UnknownExtractor> {
        match s {
            "client.ip" => Ok(Extractor::ClientIp),
            "request.host" => Ok(Extractor::RequestHost),
            _ => s
                .strip_prefix("request.header.")
                .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok())
                .map(Extractor::RequestHeader)
                .ok_or_else(|| UnknownExtractor(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(extractor: &str, req: &Request<()>) -> Option<Key> {
        extractor.parse::<Extractor>().unwrap().key(req)
    }

    #[test]
    fn v1_names() {
        assert_eq!("client.ip".parse(), Ok(Extractor::ClientIp));
        assert_eq!("request.host".parse(), Ok(Extractor::RequestHost));
        assert_eq!(
            "request.header.X-User".parse(),
            Ok(Extractor::RequestHeader(HeaderName::from_static("x-user")))
        );
        assert!("request.header.".parse::<Extractor>().is_err());
        assert!("client.port".parse::<Extractor>().is_err());
    }

    #[test]
    fn keys() {
        let mut req = Request::builder()
            .uri("http://from-uri:81/x")
            .header("host", "example.com:8080")
            .header("x-user", "ann")
            .body(())
            .unwrap();
        assert_eq!(key("client.ip", &req), None);
        req.extensions_mut()
            .insert(ClientAddr("[2001:db8::1]:4242".parse().unwrap()));
        assert!(key("client.ip", &req).unwrap().is("2001:db8::1"));
        assert!(key("request.host", &req).unwrap().is("example.com:8080"));
        assert!(key("request.header.X-User", &req).unwrap().is("ann"));
        assert!(key("request.header.X-Other", &req).unwrap().is(""));
        req.headers_mut().remove("host");
        assert!(key("request.host", &req).unwrap().is("from-uri:81"));
        assert!(!key("request.host", &req).unwrap().is("from-uri"));
    }
}
