//! The tower layer and service.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use super::classify::{AllErrors, ClassifyError};
use super::metrics::{Outcome, RollingMetrics};
use super::state::{BreakerState, Policy, Ticket};

/// v1's defaults (oxy `cbreaker`).
pub const DEFAULT_CHECK_PERIOD: Duration = Duration::from_millis(100);
pub const DEFAULT_FALLBACK_DURATION: Duration = Duration::from_secs(10);
pub const DEFAULT_RECOVERY_DURATION: Duration = Duration::from_secs(10);

/// Layer of [`Breaker`]: the condition, the durations and the error classifier `C`, over a
/// [`BreakerState`] that outlives the layer.
#[derive(Clone)]
pub struct BreakerLayer<C = AllErrors> {
    state: BreakerState,
    policy: Policy,
    classifier: C,
}

impl BreakerLayer {
    /// A breaker over `state` that trips when `condition` holds, with v1's durations and every
    /// inner error counted as a network error.
    ///
    /// The condition runs with the state locked: it must not call back into `state`.
    pub fn new<F>(state: BreakerState, condition: F) -> Self
    where
        F: Fn(&RollingMetrics) -> bool + Send + Sync + 'static,
    {
        BreakerLayer {
            state,
            policy: Policy {
                condition: Arc::new(condition),
                check_period: DEFAULT_CHECK_PERIOD,
                fallback_duration: DEFAULT_FALLBACK_DURATION,
                recovery_duration: DEFAULT_RECOVERY_DURATION,
                latency: true,
            },
            classifier: AllErrors,
        }
    }
}

impl<C> BreakerLayer<C> {
    /// The least time between two evaluations of the condition (v1: 100 ms).
    pub fn check_period(mut self, period: Duration) -> Self {
        self.policy.check_period = period;
        self
    }

    /// How long a trip answers every request itself (v1: 10 s).
    pub fn fallback_duration(mut self, duration: Duration) -> Self {
        self.policy.fallback_duration = duration;
        self
    }

    /// How long the ramp from 0 to 100 % of requests lasts after the fallback (v1: 10 s).
    pub fn recovery_duration(mut self, duration: Duration) -> Self {
        self.policy.recovery_duration = duration;
        self
    }

    /// Whether requests are timed for the latency metrics (yes by default). A condition
    /// that reads no latency spares every request two clock reads.
    pub fn timed(mut self, timed: bool) -> Self {
        self.policy.latency = timed;
        self
    }

    /// Counts only the inner errors `classifier` accepts as network errors; the others still
    /// count as requests. E.g. `|e: &MyError| e.is_connect()`.
    pub fn network_errors<C2>(self, classifier: C2) -> BreakerLayer<C2> {
        BreakerLayer {
            state: self.state,
            policy: self.policy,
            classifier,
        }
    }

    pub fn state(&self) -> &BreakerState {
        &self.state
    }
}

impl<S, C: Clone> Layer<S> for BreakerLayer<C> {
    type Service = Breaker<S, C>;

    fn layer(&self, inner: S) -> Breaker<S, C> {
        Breaker {
            inner,
            shared: Arc::new(Shared {
                state: self.state.clone(),
                policy: self.policy.clone(),
                classifier: self.classifier.clone(),
            }),
        }
    }
}

/// What each response future needs, behind one `Arc` so a request costs one count increment.
struct Shared<C> {
    state: BreakerState,
    policy: Policy,
    classifier: C,
}

/// Passes requests to the inner service, or answers `503 Service Unavailable` itself while
/// tripped (and for the refused share while recovering). See [the module](super).
pub struct Breaker<S, C = AllErrors> {
    inner: S,
    shared: Arc<Shared<C>>,
}

impl<S: Clone, C> Clone for Breaker<S, C> {
    fn clone(&self) -> Self {
        Breaker {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for Breaker<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("inner", &self.inner)
            .field("state", &self.shared.state)
            .finish_non_exhaustive()
    }
}

impl<S, C> Breaker<S, C> {
    pub fn state(&self) -> &BreakerState {
        &self.shared.state
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for Breaker<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: ClassifyError<S::Error>,
    ResBody: From<&'static str>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is the inner service's even while tripped: the decision is taken per
        // request in `call`, as v1 does, and a reserved slot is released with the next call.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        call(&mut self.inner, &self.shared, req)
    }
}

/// A breaker is also a service by shared reference when its inner service is: a stack of
/// such layers is then called by every request as it is, without a clone per request
/// (each clone bumps a reference count per layer). Readiness is as for the owned service.
impl<'a, S, C, ReqBody, ResBody> Service<Request<ReqBody>> for &'a Breaker<S, C>
where
    &'a S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: ClassifyError<<&'a S as Service<Request<ReqBody>>>::Error>,
    ResBody: From<&'static str>,
{
    type Response = Response<ResBody>;
    type Error = <&'a S as Service<Request<ReqBody>>>::Error;
    type Future = ResponseFuture<<&'a S as Service<Request<ReqBody>>>::Future, C, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let mut inner = &self.inner;
        inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let this: &'a Breaker<S, C> = self;
        call(&mut &this.inner, &this.shared, req)
    }
}

/// Inlined: it hands the request on, which a call would copy.
#[inline(always)]
fn call<S, C, ReqBody, ResBody>(
    inner: &mut S,
    shared: &Arc<Shared<C>>,
    req: Request<ReqBody>,
) -> ResponseFuture<S::Future, C, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    let kind = match shared.state.admit(&shared.policy) {
        Some(ticket) => Kind::Inner {
            future: inner.call(req),
            shared: shared.clone(),
            ticket,
        },
        None => Kind::Fallback {
            answered: false,
            body: PhantomData,
        },
    };
    ResponseFuture { kind }
}

/// v1's fallback: `503` with the status text as a plain-text body (Go sniffs that content
/// type).
fn service_unavailable<B: From<&'static str>>() -> Response<B> {
    let mut response = Response::new(B::from("Service Unavailable"));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pin_project_lite::pin_project! {
    /// Future of [`Breaker`]: the inner service's, recorded when it ends, or the fallback.
    pub struct ResponseFuture<F, C, B> {
        #[pin]
        kind: Kind<F, C, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, C, B> {
        Inner { #[pin] future: F, shared: Arc<Shared<C>>, ticket: Ticket },
        // The 503 is made when polled: a future that holds no response stays small, and
        // every request pays for moving its future around.
        Fallback { answered: bool, body: PhantomData<fn() -> B> },
    }
}

impl<F, C, B, E> Future for ResponseFuture<F, C, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    C: ClassifyError<E>,
    B: From<&'static str>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner {
                future,
                shared,
                ticket,
            } => {
                // Handed up where it lies: moving a response out and back costs a copy
                // of it on every request.
                let output = future.poll(cx);
                let outcome = match &output {
                    Poll::Pending => return output,
                    Poll::Ready(Ok(response)) => Outcome::Response(response.status()),
                    Poll::Ready(Err(e)) => Outcome::Error {
                        network: shared.classifier.is_network_error(e),
                    },
                };
                // A request whose future is dropped first (client gone) is not counted, as
                // nothing says how it would have ended.
                shared.state.complete(*ticket, outcome, &shared.policy);
                output
            }
            KindProj::Fallback { answered, .. } => {
                assert!(!*answered, "polled after completion");
                *answered = true;
                Poll::Ready(Ok(service_unavailable()))
            }
        }
    }
}
