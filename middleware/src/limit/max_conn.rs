//! The tower layer, service, future and response body.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

use super::key::{Extractor, Key, KeyExtractor};

/// Layer of [`MaxConn`]. The counts live in the layer: every service it builds, and their
/// clones, share them.
pub struct MaxConnLayer<K = Extractor> {
    limiter: Arc<Limiter>,
    /// Cloned with the layer, which every request through a stack may do: extractors are
    /// small (v1's are an enum).
    extractor: K,
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
            extractor,
        }
    }

    pub fn amount(&self) -> usize {
        self.limiter.amount
    }

    /// Requests under the key that reads as `key` whose response has not ended yet. Scans
    /// the counts: for tests and diagnostics, not the request path.
    pub fn in_flight(&self, key: &str) -> usize {
        let counts = self.limiter.counts();
        counts
            .iter()
            .find(|(k, _)| k.is(key))
            .map_or(0, |(_, n)| *n)
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

impl<K: Clone> Clone for MaxConnLayer<K> {
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

impl<S, K: Clone> Layer<S> for MaxConnLayer<K> {
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

impl<S: Clone, K: Clone> Clone for MaxConn<S, K> {
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
        let Some(permit) = self.layer.limiter.acquire(key) else {
            let text = format!("max connections reached: {}", self.layer.limiter.amount);
            return ResponseFuture::answer(StatusCode::TOO_MANY_REQUESTS, Some(text));
        };
        ResponseFuture {
            kind: Kind::Inner {
                future: self.inner.call(req),
                permit: Some(permit),
            },
        }
    }
}

/// In-flight counts per key; a key is forgotten when its count drops to 0.
struct Limiter {
    amount: usize,
    /// foldhash rather than SipHash: a key is hashed two or three times per request, and
    /// foldhash is seeded per map, so its keys (client addresses, headers) cannot be
    /// chosen to collide without first learning the seed.
    counts: Mutex<HashMap<Key, usize, foldhash::fast::RandomState>>,
}

impl Limiter {
    fn counts(&self) -> MutexGuard<'_, HashMap<Key, usize, foldhash::fast::RandomState>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn acquire(self: &Arc<Self>, key: Key) -> Option<Permit> {
        let mut counts = self.counts();
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= self.amount {
            if *count == 0 {
                counts.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(Permit {
            limiter: self.clone(),
            key,
        })
    }
}

/// One request in flight, counted until this is dropped. A [`MaxConnBody`] holds it; a
/// caller with a body type of its own can take it out with
/// [`MaxConnBody::into_parts`] and hold it there instead.
pub struct Permit {
    limiter: Arc<Limiter>,
    key: Key,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("key", &self.key).finish()
    }
}

impl Drop for Permit {
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
        Inner { #[pin] future: F, permit: Option<Permit> },
        // The response is made when polled, so that the future stays small: every
        // request pays for moving it around.
        Answer { answer: Option<(StatusCode, Option<String>)>, body: PhantomData<fn() -> B> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    /// The layer's own answer: `text`, or the status text when it is `None`.
    fn answer(status: StatusCode, text: Option<String>) -> Self {
        ResponseFuture {
            kind: Kind::Answer {
                answer: Some((status, text)),
                body: PhantomData,
            },
        }
    }
}

/// Plain text as v1 writes it (Go sniffs the content type).
fn plain_text<B: From<String>>(status: StatusCode, text: Option<String>) -> Response<B> {
    let text = text.unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
    let mut response = Response::new(B::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<String>,
{
    type Output = Result<Response<MaxConnBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, permit } => {
                // An error drops the permit with this future.
                let response = ready!(future.poll(cx))?;
                let permit = permit.take();
                Poll::Ready(Ok(response.map(|inner| MaxConnBody { inner, permit })))
            }
            KindProj::Answer { answer, .. } => {
                let (status, text) = answer.take().expect("polled after completion");
                let response = plain_text(status, text);
                Poll::Ready(Ok(response.map(|inner| MaxConnBody {
                    inner,
                    permit: None,
                })))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner response body, holding the request's permit until it ends or is
    /// dropped: a request is in flight while its response streams, as in v1 where the
    /// handler returns only after copying the body.
    pub struct MaxConnBody<B> {
        #[pin]
        inner: B,
        permit: Option<Permit>,
    }
}

impl<B> MaxConnBody<B> {
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// The inner body and the permit (none for the layer's own answers). The request
    /// stays counted until the permit is dropped, so hold it as long as the body.
    pub fn into_parts(self) -> (B, Option<Permit>) {
        (self.inner, self.permit)
    }
}

/// Uncounted bodies, so that layers above can build their own answers (a circuit breaker's
/// `503`) over this one's response type.
impl<B: From<&'static str>> From<&'static str> for MaxConnBody<B> {
    fn from(text: &'static str) -> Self {
        MaxConnBody {
            inner: B::from(text),
            permit: None,
        }
    }
}

impl<B: From<String>> From<String> for MaxConnBody<B> {
    fn from(text: String) -> Self {
        MaxConnBody {
            inner: B::from(text),
            permit: None,
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
            *this.permit = None;
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
            .field("counted", &self.permit.is_some())
            .finish()
    }
}
