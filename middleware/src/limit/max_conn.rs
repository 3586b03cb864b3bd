//! The tower layer, service, future and response body.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

use super::key::{Extractor, KeyExtractor};

/// Layer of [`MaxConn`]. The counts live in the layer: every service it builds, and their
/// clones, share them.
pub struct MaxConnLayer<K = Extractor> {
    limiter: Arc<Limiter>,
    extractor: Arc<K>,
}

impl<K> MaxConnLayer<K> {
    /// At most `amount` requests in flight per key found by `extractor`. An amount of 0
    /// refuses everything (v1 installs no limit then).
    pub fn new(amount: usize, extractor: K) -> Self {
        MaxConnLayer {
            limiter: Arc::new(Limiter {
                amount,
                counts: Mutex::default(),
            }),
            extractor: Arc::new(extractor),
        }
    }

    pub fn amount(&self) -> usize {
        self.limiter.amount
    }

    /// Requests under `key` whose response has not ended yet.
    pub fn in_flight(&self, key: &str) -> usize {
        self.limiter.counts().get(key).copied().unwrap_or(0)
    }
}

impl MaxConnLayer {
    /// v1's `client.ip`: per peer IP, read from [`ClientAddr`](super::ClientAddr).
    pub fn client_ip(amount: usize) -> Self {
        Self::new(amount, Extractor::ClientIp)
    }

    /// v1's `request.host`.
    pub fn request_host(amount: usize) -> Self {
        Self::new(amount, Extractor::RequestHost)
    }

    /// v1's `request.header.<name>`.
    pub fn request_header(amount: usize, name: HeaderName) -> Self {
        Self::new(amount, Extractor::RequestHeader(name))
    }
}

impl<K> Clone for MaxConnLayer<K> {
    fn clone(&self) -> Self {
        MaxConnLayer {
            limiter: self.limiter.clone(),
            extractor: self.extractor.clone(),
        }
    }
}

impl<K> fmt::Debug for MaxConnLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxConnLayer")
            .field("amount", &self.limiter.amount)
            .finish_non_exhaustive()
    }
}

impl<S, K> Layer<S> for MaxConnLayer<K> {
    type Service = MaxConn<S, K>;

    fn layer(&self, inner: S) -> MaxConn<S, K> {
        MaxConn {
            inner,
            layer: self.clone(),
        }
    }
}

/// Passes a request on while its key has fewer than `amount` requests in flight, else
/// answers `429 Too Many Requests` itself. See [the module](super).
pub struct MaxConn<S, K = Extractor> {
    inner: S,
    layer: MaxConnLayer<K>,
}

impl<S: Clone, K> Clone for MaxConn<S, K> {
    fn clone(&self) -> Self {
        MaxConn {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, K> fmt::Debug for MaxConn<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxConn")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, K> MaxConn<S, K> {
    pub fn new(inner: S, layer: MaxConnLayer<K>) -> Self {
        MaxConn { inner, layer }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for MaxConn<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    K: KeyExtractor<ReqBody>,
    ResBody: From<String>,
{
    type Response = Response<MaxConnBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(key) = self.layer.extractor.key(&req) else {
            return ResponseFuture::answer(StatusCode::INTERNAL_SERVER_ERROR, None);
        };
        let Some(slot) = self.layer.limiter.acquire(key) else {
            let text = format!("max connections reached: {}", self.layer.limiter.amount);
            return ResponseFuture::answer(StatusCode::TOO_MANY_REQUESTS, Some(text));
        };
        ResponseFuture {
            kind: Kind::Inner {
                future: self.inner.call(req),
                slot: Some(slot),
            },
        }
    }
}

/// In-flight counts per key; a key is forgotten when its count drops to 0.
struct Limiter {
    amount: usize,
    counts: Mutex<HashMap<String, usize>>,
}

impl Limiter {
    fn counts(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn acquire(self: &Arc<Self>, key: String) -> Option<Slot> {
        let mut counts = self.counts();
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= self.amount {
            if *count == 0 {
                counts.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(Slot {
            limiter: self.clone(),
            key,
        })
    }
}

/// One request in flight; counted until dropped.
struct Slot {
    limiter: Arc<Limiter>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.limiter.counts();
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`MaxConn`]: the inner service's, or the layer's own answer.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F, slot: Option<Slot> },
        Answer { response: Option<Response<B>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    /// Plain text as v1 writes it (Go sniffs the content type); the status text when
    /// `text` is `None`.
    fn answer(status: StatusCode, text: Option<String>) -> Self
    where
        B: From<String>,
    {
        let text = text.unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        let mut response = Response::new(B::from(text));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        ResponseFuture {
            kind: Kind::Answer {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<MaxConnBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, slot } => {
                // An error drops the slot with this future.
                let response = ready!(future.poll(cx))?;
                let slot = slot.take();
                Poll::Ready(Ok(response.map(|inner| MaxConnBody { inner, slot })))
            }
            KindProj::Answer { response } => {
                let response = response.take().expect("polled after completion");
                Poll::Ready(Ok(response.map(|inner| MaxConnBody { inner, slot: None })))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner response body, holding the request's slot until it ends or is dropped:
    /// a request is in flight while its response streams, as in v1 where the handler
    /// returns only after copying the body.
    pub struct MaxConnBody<B> {
        #[pin]
        inner: B,
        slot: Option<Slot>,
    }
}

impl<B> MaxConnBody<B> {
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

/// Uncounted bodies, so that layers above can build their own answers (a circuit breaker's
/// `503`) over this one's response type.
impl<B: From<&'static str>> From<&'static str> for MaxConnBody<B> {
    fn from(text: &'static str) -> Self {
        MaxConnBody {
            inner: B::from(text),
            slot: None,
        }
    }
}

impl<B: From<String>> From<String> for MaxConnBody<B> {
    fn from(text: String) -> Self {
        MaxConnBody {
            inner: B::from(text),
            slot: None,
        }
    }
}

impl<B: Body> Body for MaxConnBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let done = match &frame {
            None | Some(Err(_)) => true,
            Some(Ok(_)) => this.inner.is_end_stream(),
        };
        if done {
            *this.slot = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug> fmt::Debug for MaxConnBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxConnBody")
            .field("inner", &self.inner)
            .field("counted", &self.slot.is_some())
            .finish()
    }
}
