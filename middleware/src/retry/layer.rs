//! The tower layer and service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::CONTENT_LENGTH;
use http::{Extensions, HeaderMap, Method, Request, Response, Uri, Version};
use http_body::Body;
use tower::{Layer, Service};

use super::body::ReplayBody;
use super::headers::FlatHeaders;
use super::{IsRetryable, RetryAttempts};

/// The largest request body kept for replay unless told otherwise (linkerd's bound).
pub const DEFAULT_MAX_REPLAY_BYTES: usize = 64 * 1024;

/// Layer of [`Retry`]: `attempts` tries in all, retrying the errors `classifier` accepts.
pub struct RetryLayer<C> {
    attempts: u32,
    max_replay_bytes: usize,
    /// Cloned into every retryable request's future: a plain function or a closure that
    /// captures little is the cheap choice.
    classifier: C,
}

impl<C> RetryLayer<C> {
    /// Up to `attempts` calls per request (0 counts as 1: no retry), retrying errors
    /// `classifier` accepts, e.g. `|e: &MyError| e.is_connect()`.
    pub fn new(attempts: u32, classifier: C) -> Self {
        RetryLayer {
            attempts: attempts.max(1),
            max_replay_bytes: DEFAULT_MAX_REPLAY_BYTES,
            classifier,
        }
    }

    /// The largest request body kept for replay; larger requests are not retried.
    pub fn max_replay_bytes(mut self, bytes: usize) -> Self {
        self.max_replay_bytes = bytes;
        self
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl<C: Clone> Clone for RetryLayer<C> {
    fn clone(&self) -> Self {
        RetryLayer {
            attempts: self.attempts,
            max_replay_bytes: self.max_replay_bytes,
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for RetryLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("attempts", &self.attempts)
            .field("max_replay_bytes", &self.max_replay_bytes)
            .finish_non_exhaustive()
    }
}

impl<S, C: Clone> Layer<S> for RetryLayer<C> {
    type Service = Retry<S, C>;

    fn layer(&self, inner: S) -> Retry<S, C> {
        Retry {
            inner,
            layer: self.clone(),
        }
    }
}

/// Calls the inner service again, on a fresh clone, when it fails before reaching the
/// backend. See [the module](super).
pub struct Retry<S, C> {
    inner: S,
    layer: RetryLayer<C>,
}

impl<S: Clone, C: Clone> Clone for Retry<S, C> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for Retry<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, C> Retry<S, C> {
    pub fn new(inner: S, layer: RetryLayer<C>) -> Self {
        Retry { inner, layer }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for Retry<S, C>
where
    S: Service<Request<ReplayBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    C: IsRetryable<S::Error> + Clone,
    ReqBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, C, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let max = self.layer.max_replay_bytes;
        // Decided before reading anything when the size is known (linkerd2-proxy#1017): a
        // body that cannot be kept is not kept at all. A body that knows its exact size
        // (hyper's know their Content-Length) saves looking the header up.
        let hint = body.size_hint();
        let fits = match hint.exact() {
            Some(n) => n <= max as u64,
            None => {
                hint.lower() <= max as u64
                    && content_length(&parts.headers).is_none_or(|n| n <= max as u64)
            }
        };
        let retry = self.layer.attempts > 1 && fits;
        let body = ReplayBody::new(body, max, retry);
        let replay = retry.then(|| {
            Box::new(Replay {
                service: self.inner.clone(),
                classifier: self.layer.classifier.clone(),
                max_attempts: self.layer.attempts,
                method: parts.method.clone(),
                uri: parts.uri.clone(),
                version: parts.version,
                headers: FlatHeaders::new(&parts.headers),
                extensions: parts.extensions.clone(),
                body: body.replay(),
            })
        });
        let future = self.inner.call(Request::from_parts(parts, body));
        ResponseFuture {
            state: State::Called { future },
            replay,
            attempts: 1,
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
struct Replay<S, C, B> {
    /// Cloned for each further attempt.
    service: S,
    classifier: C,
    max_attempts: u32,
    method: Method,
    uri: Uri,
    version: Version,
    headers: FlatHeaders,
    extensions: Extensions,
    /// Never read itself: copies of it are.
    body: ReplayBody<B>,
}

impl<S, C, B> Replay<S, C, B> {
    fn request(&self) -> Request<ReplayBody<B>> {
        let mut request = Request::new(self.body.replay());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.to_map();
        *request.extensions_mut() = self.extensions.clone();
        request
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Retry`]: an attempt in flight, or a fresh clone of the inner service
    /// getting ready for the next one.
    pub struct ResponseFuture<F, S, C, B> {
        #[pin]
        state: State<F, S>,
        // `None` when the request cannot be retried. Boxed: a retried request allocates
        // for its copies anyway, and the others keep a small future to move around.
        replay: Option<Box<Replay<S, C, B>>>,
        attempts: u32,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, S> {
        Called { #[pin] future: F },
        Readying { service: S },
    }
}

impl<F, S, C, B, ResBody, E> Future for ResponseFuture<F, S, C, B>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    S: Service<Request<ReplayBody<B>>, Future = F, Error = E> + Clone,
    C: IsRetryable<E>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Called { future } => {
                    let error = match ready!(future.poll(cx)) {
                        Ok(mut response) => {
                            // Only after a retry: the first insert into a response's
                            // extensions allocates, and most responses need no retry.
                            if *this.attempts > 1 {
                                response
                                    .extensions_mut()
                                    .insert(RetryAttempts(*this.attempts));
                            }
                            return Poll::Ready(Ok(response));
                        }
                        Err(error) => error,
                    };
                    let service = match this.replay.as_ref() {
                        Some(replay)
                            if *this.attempts < replay.max_attempts
                                && replay.body.is_replayable()
                                && replay.classifier.is_retryable(&error) =>
                        {
                            replay.service.clone()
                        }
                        _ => return Poll::Ready(Err(error)),
                    };
                    this.state.set(State::Readying { service });
                }
                StateProj::Readying { service } => {
                    ready!(service.poll_ready(cx))?;
                    let Some(replay) = this.replay.as_ref() else {
                        unreachable!("only a replayable request gets here");
                    };
                    let future = service.call(replay.request());
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
