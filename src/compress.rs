//! `[entryPoints.X] compress = true`: responses compressed with gzip, brotli or zstd, as
//! the client's `Accept-Encoding` asks, by tower-http's compression layer.
//!
//! What is compressed (tower-http's rules, plus ours):
//! * the client accepts one of gzip, br, zstd (q-values respected; at equal q tower-http
//!   prefers zstd, then br, then gzip); `identity` or nothing ⇒ untouched;
//! * the response has no `Content-Encoding` (never compressed twice) and no `Content-Range`;
//! * it is at least [`MIN_SIZE`] bytes by its `Content-Length` (v1's gziphandler's
//!   threshold); one of unknown length (streamed) is compressed from its first byte;
//! * not gRPC, not `image/*` (except SVG), not `text/event-stream` (tower-http's default
//!   exclusions: the encoders buffer, so an event stream would stop streaming event by
//!   event);
//! * not a 1xx (upgrades), 204 or 304, nor the answer to a `HEAD`.
//!
//! Levels: tower-http's defaults, fast ones fit for a proxy that compresses every response
//! on the fly: gzip 6 (v1's and nginx's), brotli 4 (nginx's brotli module's default; 11,
//! the format's own default, is ~10× slower), zstd 3 (the format's default, faster than
//! gzip 6 at a better ratio). When compressed, `Content-Length` and `Accept-Ranges` go,
//! `Vary: Accept-Encoding` comes, and a strong `ETag` is made weak (the bytes differ from
//! the identity representation's, as nginx does).
//!
//! Applied in `handler::handle` to the finished response, inside the access log's observer,
//! so the log counts the bytes sent, as v1's did.

use std::convert::Infallible;

use futures_util::FutureExt;
use http::header::{self, HeaderValue};
use http::{Extensions, HeaderMap, Method, Request, Response, StatusCode, Version};
use tower::{Layer, ServiceExt};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{And, NotForContentType, Predicate, SizeAbove};

use crate::proxy::ResponseBody;

/// v1's threshold (gziphandler's `DefaultMinSize`): below this, compression costs more than
/// it saves (a response this small fits in one TCP segment anyway).
pub const MIN_SIZE: u16 = 1400;

type StatusAllows = fn(StatusCode, Version, &HeaderMap, &Extensions) -> bool;
type Rules = And<
    And<And<And<SizeAbove, NotForContentType>, NotForContentType>, NotForContentType>,
    StatusAllows,
>;

/// One entry point's compression: built once at start, used by reference per request.
#[derive(Clone)]
pub struct Compress {
    layer: CompressionLayer<Rules>,
}

impl Default for Compress {
    fn default() -> Self {
        Compress::new()
    }
}

impl Compress {
    pub fn new() -> Self {
        Compress {
            layer: CompressionLayer::new().compress_when(Compress::rules()),
        }
    }

    /// What of the request decides the encoding: its `Accept-Encoding`, kept before the
    /// request is consumed. `None` when nothing may be compressed (no `Accept-Encoding`, a
    /// `HEAD`, an upgrade), so such a response is never wrapped.
    pub fn probe<B>(&self, req: &Request<B>) -> Option<Probe> {
        if req.method() == Method::HEAD || req.headers().contains_key(header::UPGRADE) {
            return None;
        }
        let mut accept = req
            .headers()
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .peekable();
        accept.peek()?;
        let mut probe = Request::new(());
        for value in accept {
            probe
                .headers_mut()
                .append(header::ACCEPT_ENCODING, value.clone());
        }
        Some(Probe(probe))
    }

    /// `response`, compressed if the client's `Accept-Encoding` and the rules allow it.
    pub fn apply(
        &self,
        probe: Option<Probe>,
        response: Response<ResponseBody>,
    ) -> Response<ResponseBody> {
        let Some(Probe(probe)) = probe else {
            return response;
        };
        // The rules are checked here first so that a response left alone keeps its own body
        // type (no wrapper, no box) — only a compressed one pays for the boxing.
        let encoded = response.headers().contains_key(header::CONTENT_ENCODING)
            || response.headers().contains_key(header::CONTENT_RANGE);
        if encoded || !Compress::rules().should_compress(&response) {
            return response;
        }
        // Called once, by `oneshot`.
        let mut response = Some(response);
        let inner = tower::service_fn(move |_: Request<()>| {
            std::future::ready(Ok::<_, Infallible>(response.take().expect("called once")))
        });
        // The inner future is ready, so the layer's future is too: no await needed.
        let compressed = self
            .layer
            .layer(inner)
            .oneshot(probe)
            .now_or_never()
            .expect("compression of a ready response completes at once");
        let Ok(compressed) = compressed;
        let (mut parts, body) = compressed.into_parts();
        if parts.headers.contains_key(header::CONTENT_ENCODING) {
            weaken_etag(&mut parts.headers);
        }
        Response::from_parts(parts, ResponseBody::boxed(body))
    }

    /// The rules the layer is given, also checked before it (a cheap value: an integer and
    /// a few `&'static str`s).
    fn rules() -> Rules {
        SizeAbove::new(MIN_SIZE)
            .and(NotForContentType::GRPC)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::SSE)
            .and(status_allows as StatusAllows)
    }
}

/// The request side of the negotiation: only the `Accept-Encoding` values.
pub struct Probe(Request<()>);

/// Never a 1xx (a 101's connection is no longer HTTP), a 204 or a 304 (no body).
fn status_allows(status: StatusCode, _: Version, _: &HeaderMap, _: &Extensions) -> bool {
    !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
}

/// A strong validator names exact bytes; the compressed bytes are others.
fn weaken_etag(headers: &mut HeaderMap) {
    if let Some(etag) = headers.get(header::ETAG)
        && !etag.as_bytes().starts_with(b"W/")
    {
        let mut weak = b"W/".to_vec();
        weak.extend_from_slice(etag.as_bytes());
        if let Ok(weak) = HeaderValue::from_bytes(&weak) {
            headers.insert(header::ETAG, weak);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, len: usize, content_type: &str) -> Response<ResponseBody> {
        let mut r = Response::new(ResponseBody::full(vec![b'a'; len]));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        r.headers_mut()
            .insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        r
    }

    fn get(accept: &str) -> Request<()> {
        Request::builder()
            .header(header::ACCEPT_ENCODING, accept)
            .body(())
            .unwrap()
    }

    fn encoding(c: &Compress, req: &Request<()>, res: Response<ResponseBody>) -> Option<String> {
        let out = c.apply(c.probe(req), res);
        out.headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn negotiates_by_q_value_then_tower_http_order() {
        let c = Compress::new();
        let big = || response(200, 4096, "text/plain");
        assert_eq!(encoding(&c, &get("gzip"), big()).as_deref(), Some("gzip"));
        assert_eq!(encoding(&c, &get("br"), big()).as_deref(), Some("br"));
        assert_eq!(encoding(&c, &get("zstd"), big()).as_deref(), Some("zstd"));
        assert_eq!(
            encoding(&c, &get("gzip;q=1, br;q=0.5"), big()).as_deref(),
            Some("gzip")
        );
        assert_eq!(
            encoding(&c, &get("gzip, br, zstd"), big()).as_deref(),
            Some("zstd")
        );
        assert_eq!(encoding(&c, &get("identity"), big()), None);
        assert_eq!(encoding(&c, &get("gzip;q=0"), big()), None);
    }

    #[test]
    fn leaves_small_bodyless_images_events_and_heads_alone() {
        let c = Compress::new();
        assert_eq!(
            encoding(&c, &get("gzip"), response(200, 1399, "text/plain")),
            None
        );
        assert_eq!(
            encoding(&c, &get("gzip"), response(200, 1400, "text/plain")).as_deref(),
            Some("gzip")
        );
        assert_eq!(
            encoding(&c, &get("gzip"), response(200, 4096, "image/png")),
            None
        );
        assert_eq!(
            encoding(&c, &get("gzip"), response(200, 4096, "text/event-stream")),
            None
        );
        assert_eq!(
            encoding(&c, &get("gzip"), response(304, 4096, "text/plain")),
            None
        );
        assert_eq!(
            encoding(&c, &get("gzip"), response(204, 4096, "text/plain")),
            None
        );
        assert_eq!(
            encoding(&c, &get("gzip"), response(101, 4096, "text/plain")),
            None
        );
        let mut head = get("gzip");
        *head.method_mut() = Method::HEAD;
        assert_eq!(encoding(&c, &head, response(200, 4096, "text/plain")), None);
    }

    #[test]
    fn compressed_response_headers() {
        let c = Compress::new();
        let mut res = response(200, 4096, "text/plain");
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("4096"));
        let out = c.apply(c.probe(&get("gzip")), res);
        assert_eq!(out.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(out.headers()[header::VARY], "accept-encoding");
        assert_eq!(out.headers()[header::ETAG], "W/\"v1\"");
        assert!(!out.headers().contains_key(header::CONTENT_LENGTH));
    }

    #[test]
    fn already_encoded_is_untouched() {
        let c = Compress::new();
        let mut res = response(200, 4096, "text/plain");
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        let out = c.apply(c.probe(&get("gzip")), res);
        assert_eq!(out.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(out.headers()[header::ETAG], "\"v1\"");
        assert!(!out.headers().contains_key(header::VARY));
    }
}
