//! The tower layer and service.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Method, Request, Response, Uri, Version};
use http_body::Body;
use tower::{Layer, Service};

use super::body::ReplayBody;
use super::carry::{Carry, InPlace, Wrapped};
use super::headers::FlatHeaders;
use super::keep::{AllExtensions, KeepExtensions};
use super::{IsRetryable, RetryAttempts};

/// The largest request body kept for replay unless told otherwise (linkerd's bound).
pub const DEFAULT_MAX_REPLAY_BYTES: usize = 64 * 1024;

/// Layer of [`Retry`]: `attempts` tries in all, retrying the errors `classifier` accepts.
/// `W` says how the inner service gets the request body (see [`Carry`]), `K` what of the
/// request's extensions further attempts get (see [`KeepExtensions`]).
pub struct RetryLayer<C, W = Wrapped, K = AllExtensions> {
    attempts: u32,
    max_replay_bytes: usize,
    /// Cloned into every retryable request's future: a plain function or a closure that
    /// captures little is the cheap choice.
    classifier: C,
    carry: PhantomData<fn() -> (W, K)>,
}

impl<C> RetryLayer<C> {
    /// Up to `attempts` calls per request (0 counts as 1: no retry), retrying errors
    /// `classifier` accepts, e.g. `|e: &MyError| e.is_connect()`.
    pub fn new(attempts: u32, classifier: C) -> Self {
        RetryLayer {
            attempts: attempts.max(1),
            max_replay_bytes: DEFAULT_MAX_REPLAY_BYTES,
            classifier,
            carry: PhantomData,
        }
    }
}

impl<C, K> RetryLayer<C, Wrapped, K> {
    /// The inner service gets the request's own body type, which then holds the
    /// replayable copy itself (see [`InPlace`]): no request is moved to change its type,
    /// and one that will not be retried passes through untouched.
    pub fn in_place(self) -> RetryLayer<C, InPlace, K> {
        RetryLayer {
            attempts: self.attempts,
            max_replay_bytes: self.max_replay_bytes,
            classifier: self.classifier,
            carry: PhantomData,
        }
    }
}

impl<C, W> RetryLayer<C, W> {
    /// Further attempts get what `K` keeps of the first request's extensions (e.g.
    /// [`Only`](super::Only) one of them) instead of a clone of them all: see [`KeepExtensions`].
    pub fn keep_extensions<K: KeepExtensions>(self) -> RetryLayer<C, W, K> {
        RetryLayer {
            attempts: self.attempts,
            max_replay_bytes: self.max_replay_bytes,
            classifier: self.classifier,
            carry: PhantomData,
        }
    }
}

impl<C, W, K> RetryLayer<C, W, K> {
    /// The largest request body kept for replay; larger requests are not retried.
    pub fn max_replay_bytes(mut self, bytes: usize) -> Self {
        self.max_replay_bytes = bytes;
        self
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl<C: Clone, W, K> Clone for RetryLayer<C, W, K> {
    fn clone(&self) -> Self {
        RetryLayer {
            attempts: self.attempts,
            max_replay_bytes: self.max_replay_bytes,
            classifier: self.classifier.clone(),
            carry: PhantomData,
        }
    }
}

impl<C, W, K> fmt::Debug for RetryLayer<C, W, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("attempts", &self.attempts)
            .field("max_replay_bytes", &self.max_replay_bytes)
            .finish_non_exhaustive()
    }
}

impl<S: Clone, C: Clone, W, K> Layer<S> for RetryLayer<C, W, K> {
    type Service = Retry<S, C, W, K>;

    fn layer(&self, inner: S) -> Retry<S, C, W, K> {
        Retry::new(inner, self.clone())
    }
}

/// Calls the inner service again, on a fresh clone, when it fails before reaching the
/// backend. See [the module](super).
pub struct Retry<S, C, W = Wrapped, K = AllExtensions> {
    inner: S,
    /// A copy of `inner` behind one reference count, which a retryable request keeps
    /// for further attempts: one count to bump per request, where a clone of `inner`
    /// bumps one per layer below. It is cloned again only for an actual retry.
    spare: Arc<S>,
    layer: RetryLayer<C, W, K>,
}

impl<S: Clone, C: Clone, W, K> Clone for Retry<S, C, W, K> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
            spare: self.spare.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, C, W, K> fmt::Debug for Retry<S, C, W, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S: Clone, C, W, K> Retry<S, C, W, K> {
    pub fn new(inner: S, layer: RetryLayer<C, W, K>) -> Self {
        Retry {
            spare: Arc::new(inner.clone()),
            inner,
            layer,
        }
    }
}

impl<S, C, W, K> Retry<S, C, W, K> {
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, W, K, ReqBody, ResBody> Service<Request<ReqBody>> for Retry<S, C, W, K>
where
    W: Carry<ReqBody>,
    K: KeepExtensions,
    S: Service<Request<W::Body>, Response = Response<ResBody>> + Clone,
    C: IsRetryable<S::Error> + Clone,
    ReqBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, C, ReqBody, W, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        call(&mut self.inner, &self.spare, &self.layer, req)
    }
}

/// Retry is also a service by shared reference when its inner service is: a stack of such
/// layers is then called by every request as it is, without a clone per request (each
/// clone bumps a reference count per layer). Further attempts still go to a clone of the
/// inner service, which the request's future owns.
impl<'a, S, C, W, K, ReqBody, ResBody> Service<Request<ReqBody>> for &'a Retry<S, C, W, K>
where
    W: Carry<ReqBody>,
    K: KeepExtensions,
    S: Service<Request<W::Body>, Response = Response<ResBody>> + Clone,
    &'a S: Service<
            Request<W::Body>,
            Response = Response<ResBody>,
            Error = S::Error,
            Future = S::Future,
        >,
    C: IsRetryable<S::Error> + Clone,
    ReqBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, C, ReqBody, W, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let mut inner = &self.inner;
        inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let this: &'a Retry<S, C, W, K> = self;
        call(&mut &this.inner, &this.spare, &this.layer, req)
    }
}

/// The first attempt goes to `inner`, further ones to clones of `spare`.
fn call<I, S, C, W, K, ReqBody>(
    inner: &mut I,
    spare: &Arc<S>,
    layer: &RetryLayer<C, W, K>,
    req: Request<ReqBody>,
) -> ResponseFuture<S::Future, S, C, ReqBody, W, K>
where
    W: Carry<ReqBody>,
    K: KeepExtensions,
    I: Service<Request<W::Body>, Future = S::Future>,
    S: Service<Request<W::Body>>,
    C: Clone,
    ReqBody: Body,
{
    let max = layer.max_replay_bytes;
    let retry = layer.attempts > 1 && fits(&req, max);
    if !retry {
        return ResponseFuture {
            state: State::Called {
                future: inner.call(W::pass(req, max)),
            },
            replay: None,
            attempts: 1,
            carry: PhantomData,
        };
    }
    let mut replay = Box::new(Replay {
        service: spare.clone(),
        classifier: layer.classifier.clone(),
        max_attempts: layer.attempts,
        method: req.method().clone(),
        uri: req.uri().clone(),
        version: req.version(),
        headers: FlatHeaders::new(req.headers()),
        extensions: K::keep(req.extensions()),
        // Filled in below, once the request's body is taken.
        body: ReplayBody::empty(),
    });
    let future = inner.call(W::keep(req, max, &mut replay.body));
    ResponseFuture {
        state: State::Called { future },
        replay: Some(replay),
        attempts: 1,
        carry: PhantomData,
    }
}

/// Whether the body can be kept for a replay. Decided before reading anything when the
/// size is known (linkerd2-proxy#1017): a body that cannot be kept is not kept at all. A
/// body that knows its exact size (hyper's know their Content-Length) saves looking the
/// header up.
fn fits<B: Body>(req: &Request<B>, max: usize) -> bool {
    let hint = req.body().size_hint();
    match hint.exact() {
        Some(n) => n <= max as u64,
        None => {
            hint.lower() <= max as u64
                && content_length(req.headers()).is_none_or(|n| n <= max as u64)
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

/// What it takes to send the request again.
struct Replay<S, C, B, K: KeepExtensions> {
    /// Cloned for each further attempt.
    service: Arc<S>,
    classifier: C,
    max_attempts: u32,
    method: Method,
    uri: Uri,
    version: Version,
    headers: FlatHeaders,
    extensions: K::Kept,
    /// Never read itself: copies of it are.
    body: ReplayBody<B>,
}

impl<S, C, B, K: KeepExtensions> Replay<S, C, B, K> {
    fn request<W: Carry<B>>(&self) -> Request<W::Body> {
        let mut request = Request::new(W::replay(self.body.replay()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.to_map();
        *request.extensions_mut() = K::restore(&self.extensions);
        request
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Retry`]: an attempt in flight, or a fresh clone of the inner service
    /// getting ready for the next one.
    pub struct ResponseFuture<F, S, C, B, W = Wrapped, K: KeepExtensions = AllExtensions> {
        #[pin]
        state: State<F, S>,
        // `None` when the request cannot be retried. Boxed: a retried request allocates
        // for its copies anyway, and the others keep a small future to move around.
        replay: Option<Box<Replay<S, C, B, K>>>,
        attempts: u32,
        carry: PhantomData<fn() -> W>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, S> {
        Called { #[pin] future: F },
        Readying { service: S },
    }
}

impl<F, S, C, B, W, K, ResBody, E> Future for ResponseFuture<F, S, C, B, W, K>
where
    K: KeepExtensions,
    F: Future<Output = Result<Response<ResBody>, E>>,
    W: Carry<B>,
    S: Service<Request<W::Body>, Future = F, Error = E> + Clone,
    C: IsRetryable<E>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Called { future } => {
                    // The output is handed up where it lies unless it is retried: moving a
                    // response out and back costs a copy of it on every request.
                    let mut output = future.poll(cx);
                    let service = match &mut output {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(response)) => {
                            // Only after a retry: the first insert into a response's
                            // extensions allocates, and most responses need no retry.
                            if *this.attempts > 1 {
                                response
                                    .extensions_mut()
                                    .insert(RetryAttempts(*this.attempts));
                            }
                            return output;
                        }
                        Poll::Ready(Err(error)) => match this.replay.as_ref() {
                            Some(replay)
                                if *this.attempts < replay.max_attempts
                                    && replay.body.is_replayable()
                                    && replay.classifier.is_retryable(error) =>
                            {
                                S::clone(&replay.service)
                            }
                            _ => return output,
                        },
                    };
                    this.state.set(State::Readying { service });
                }
                StateProj::Readying { service } => {
                    ready!(service.poll_ready(cx))?;
                    let Some(replay) = this.replay.as_ref() else {
                        unreachable!("only a replayable request gets here");
                    };
                    let future = service.call(replay.request::<W>());
                    *this.attempts += 1;
                    this.state.set(State::Called { future });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_one_valid_value() {
        let mut headers = HeaderMap::new();
        assert_eq!(content_length(&headers), None);
        headers.insert(CONTENT_LENGTH, "12".parse().unwrap());
        assert_eq!(content_length(&headers), Some(12));
        headers.append(CONTENT_LENGTH, "12".parse().unwrap());
        assert_eq!(content_length(&headers), None);
        headers.insert(CONTENT_LENGTH, "x".parse().unwrap());
        assert_eq!(content_length(&headers), None);
    }
}
