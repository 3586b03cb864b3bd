//! The tower layer, service and future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{
    Extensions, HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version,
};
use http_body::Body;
use tower::{Layer, Service};

use super::body::BufferedBody;
use super::read::{ReadAll, ReadError};

/// The predicate is asked after attempts 1 to 10 and no more, so a request is sent at most
/// 11 times (oxy `buffer.DefaultMaxRetryAttempts`).
pub const MAX_RETRY_ATTEMPTS: u32 = 10;

type RetryIf = dyn Fn(u32, StatusCode) -> bool + Send + Sync;

/// Layer of [`Buffering`]. Sizes are in bytes; 0 means no limit (v1's meaning).
#[derive(Clone, Default)]
pub struct BufferingLayer {
    max_request_body_bytes: u64,
    max_response_body_bytes: u64,
    retry_if: Option<Arc<RetryIf>>,
}

impl BufferingLayer {
    /// Buffers requests and responses of any size.
    pub fn new() -> Self {
        BufferingLayer::default()
    }

    /// A larger request body is answered `413 Request Entity Too Large`.
    pub fn max_request_body_bytes(mut self, bytes: u64) -> Self {
        self.max_request_body_bytes = bytes;
        self
    }

    /// A larger response body is replaced by `500 Internal Server Error`.
    pub fn max_response_body_bytes(mut self, bytes: u64) -> Self {
        self.max_response_body_bytes = bytes;
        self
    }

    /// Sends the buffered request again while `retry(attempt, status)` holds for the
    /// buffered response (`attempt` counts from 1): v1's `retryExpression`, e.g.
    /// `IsNetworkError() && Attempts() <= 2` is
    /// `|a, s| (s == 502 || s == 504) && a <= 2`. At most [`MAX_RETRY_ATTEMPTS`] retries.
    pub fn retry_if<F>(mut self, retry: F) -> Self
    where
        F: Fn(u32, StatusCode) -> bool + Send + Sync + 'static,
    {
        self.retry_if = Some(Arc::new(retry));
        self
    }
}

impl fmt::Debug for BufferingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferingLayer")
            .field("max_request_body_bytes", &self.max_request_body_bytes)
            .field("max_response_body_bytes", &self.max_response_body_bytes)
            .field("retry_if", &self.retry_if.is_some())
            .finish()
    }
}

impl<S> Layer<S> for BufferingLayer {
    type Service = Buffering<S>;

    fn layer(&self, inner: S) -> Buffering<S> {
        Buffering {
            inner,
            layer: self.clone(),
        }
    }
}

/// Reads the whole request before calling the inner service, and the whole response
/// before answering. See [the module](super).
#[derive(Clone, Debug)]
pub struct Buffering<S> {
    inner: S,
    layer: BufferingLayer,
}

impl<S> Buffering<S> {
    pub fn new(inner: S, layer: BufferingLayer) -> Self {
        Buffering { inner, layer }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Buffering<S>
where
    S: Service<Request<BufferedBody>, Response = Response<ResBody>> + Clone,
    ReqBody: Body,
    ResBody: Body,
{
    type Response = Response<BufferedBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqBody, ResBody>;

    /// Always ready: the inner service is made ready only once the request body is in, so
    /// a slow upload holds no capacity of the backend (which is what buffering is for).
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let max = self.layer.max_request_body_bytes;
        let declared = content_length(&parts.headers).unwrap_or(0);
        let state = if max > 0 && (declared > max || body.size_hint().lower() > max) {
            State::Answer {
                response: Some(status_response(StatusCode::PAYLOAD_TOO_LARGE)),
            }
        } else {
            State::ReadRequest {
                read: ReadAll::new(body, max),
            }
        };
        ResponseFuture {
            state,
            service: Some(self.inner.clone()),
            head: Some(Head {
                method: parts.method,
                uri: parts.uri,
                version: parts.version,
                headers: parts.headers,
                extensions: parts.extensions,
            }),
            body: BufferedBody::default(),
            layer: self.layer.clone(),
            attempt: 0,
        }
    }
}

/// The `Content-Length` header, when there is exactly one valid one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()?.trim().parse().ok()
}

/// The layer's own answers: Go's status text as a plain-text body, as v1 writes them (Go
/// still calls 413 by its RFC 2616 name).
fn status_response(status: StatusCode) -> Response<BufferedBody> {
    let text = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        _ => status.canonical_reason().unwrap_or(""),
    };
    let mut response = Response::new(BufferedBody::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Declares the real length of a body now in memory: it is no longer chunked. An empty
/// body gets `Content-Length: 0` only if it `had_length` (a request); otherwise its headers
/// stay, as a `HEAD` response's `Content-Length` describes another body.
fn set_length(headers: &mut HeaderMap, len: usize, had_length: bool) {
    headers.remove(TRANSFER_ENCODING);
    if len > 0 || had_length {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}

struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
}

pin_project_lite::pin_project! {
    /// Future of [`Buffering`]: reads the request, readies a clone of the inner service,
    /// calls it, reads the response; again when a retry predicate says so.
    pub struct ResponseFuture<F, S, ReqBody, ResBody> {
        #[pin]
        state: State<F, S, ReqBody, ResBody>,
        // Cloned for each attempt when retrying, else taken for the only one.
        service: Option<S>,
        head: Option<Head>,
        body: BufferedBody,
        layer: BufferingLayer,
        attempt: u32,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, S, ReqBody, ResBody> {
        ReadRequest { #[pin] read: ReadAll<ReqBody> },
        Readying { service: S },
        Calling { #[pin] future: F },
        ReadResponse {
            #[pin]
            read: ReadAll<ResBody>,
            parts: Option<http::response::Parts>,
        },
        Answer { response: Option<Response<BufferedBody>> },
    }
}

impl<F, S, ReqBody, ResBody, E> Future for ResponseFuture<F, S, ReqBody, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    S: Service<Request<BufferedBody>, Future = F, Error = E> + Clone,
    ReqBody: Body,
    ResBody: Body,
{
    type Output = Result<Response<BufferedBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::ReadRequest { read } => {
                    *this.body = match ready!(read.poll_read(cx)) {
                        Ok(body) => body,
                        Err(ReadError::TooLarge) => {
                            return Poll::Ready(Ok(status_response(StatusCode::PAYLOAD_TOO_LARGE)));
                        }
                        // A body that failed to arrive (malformed chunks, cut short) is the
                        // client's fault: 400, where oxy's default handler answered 500.
                        Err(ReadError::Body) => {
                            let status = StatusCode::BAD_REQUEST;
                            return Poll::Ready(Ok(status_response(status)));
                        }
                    };
                    let service = next_service(this.service, this.layer);
                    this.state.set(State::Readying { service });
                }
                StateProj::Readying { service } => {
                    ready!(service.poll_ready(cx))?;
                    let request = next_request(this.head, this.body, this.layer);
                    *this.attempt += 1;
                    let future = service.call(request);
                    this.state.set(State::Calling { future });
                }
                StateProj::Calling { future } => {
                    let (parts, body) = ready!(future.poll(cx))?.into_parts();
                    let max = this.layer.max_response_body_bytes;
                    this.state.set(State::ReadResponse {
                        read: ReadAll::new(body, max),
                        parts: Some(parts),
                    });
                }
                StateProj::ReadResponse { read, parts } => {
                    let body = match ready!(read.poll_read(cx)) {
                        Ok(body) => body,
                        // Too large: v1's documented 500. A backend whose body broke off
                        // is a bad gateway (v1 aborts the connection instead).
                        Err(e) => {
                            let status = match e {
                                ReadError::TooLarge => StatusCode::INTERNAL_SERVER_ERROR,
                                ReadError::Body => StatusCode::BAD_GATEWAY,
                            };
                            return Poll::Ready(Ok(status_response(status)));
                        }
                    };
                    let mut parts = parts.take().expect("polled after completion");
                    let retry = this.layer.retry_if.as_ref().is_some_and(|retry| {
                        *this.attempt <= MAX_RETRY_ATTEMPTS && retry(*this.attempt, parts.status)
                    });
                    if retry {
                        let service = next_service(this.service, this.layer);
                        this.state.set(State::Readying { service });
                        continue;
                    }
                    set_length(&mut parts.headers, body.data().len(), false);
                    return Poll::Ready(Ok(Response::from_parts(parts, body)));
                }
                StateProj::Answer { response } => {
                    let response = response.take().expect("polled after completion");
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

/// The service for the next attempt: a clone while retries are possible.
fn next_service<S: Clone>(service: &mut Option<S>, layer: &BufferingLayer) -> S {
    match layer.retry_if {
        Some(_) => service.clone(),
        None => service.take(),
    }
    .expect("a service for each attempt")
}

/// The request for the next attempt, its body the buffered one with its real length.
fn next_request(
    head: &mut Option<Head>,
    body: &BufferedBody,
    layer: &BufferingLayer,
) -> Request<BufferedBody> {
    let head = match layer.retry_if {
        Some(_) => head.as_ref().map(|h| Head {
            method: h.method.clone(),
            uri: h.uri.clone(),
            version: h.version,
            headers: h.headers.clone(),
            extensions: h.extensions.clone(),
        }),
        None => head.take(),
    }
    .expect("a request head for each attempt");
    let mut request = Request::new(body.clone());
    *request.method_mut() = head.method;
    *request.uri_mut() = head.uri;
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers;
    *request.extensions_mut() = head.extensions;
    let had_length = request.headers().contains_key(CONTENT_LENGTH);
    set_length(request.headers_mut(), body.data().len(), had_length);
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let mut headers = HeaderMap::new();
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        set_length(&mut headers, 5, false);
        assert_eq!(headers[CONTENT_LENGTH], "5");
        assert!(!headers.contains_key(TRANSFER_ENCODING));

        let mut headers = HeaderMap::new();
        set_length(&mut headers, 0, false);
        assert!(!headers.contains_key(CONTENT_LENGTH));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("7"));
        set_length(&mut headers, 0, true);
        assert_eq!(headers[CONTENT_LENGTH], "0");
    }
}
