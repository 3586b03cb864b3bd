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

use super::hold::{Hold, InPlace, Wrapped};
use super::key::{Extractor, Key, KeyExtractor};

/// Layer of [`MaxConn`]. The counts live in the layer: every service it builds, and their
/// clones, share them. `H` says how the response keeps the request's permit (see
/// [`Hold`]).
pub struct MaxConnLayer<K = Extractor, H = Wrapped> {
    limiter: Arc<Limiter>,
    /// Cloned with the layer, which every request through a stack may do: extractors are
    /// small (v1's are an enum).
    extractor: K,
    hold: PhantomData<fn() -> H>,
}

impl<K> MaxConnLayer<K> {
    /// At most `amount` requests in flight per key found by `extractor`. An amount of 0
    /// refuses everything (v1 installs no limit then).
    pub fn new(amount: usize, extractor: K) -> Self {
        MaxConnLayer {
            limiter: Arc::new(Limiter {
                amount,
                counts: Mutex::new(Counts {
                    slots: HashMap::default(),
                    prune_at: Counts::MIN_PRUNE_AT,
                }),
            }),
            extractor,
            hold: PhantomData,
        }
    }

    /// Responses keep the inner service's body type, which holds the permit itself (see
    /// [`InPlace`]): no response is moved to change its type.
    pub fn in_place(self) -> MaxConnLayer<K, InPlace> {
        MaxConnLayer {
            limiter: self.limiter,
            extractor: self.extractor,
            hold: PhantomData,
        }
    }
}

impl<K, H> MaxConnLayer<K, H> {
    pub fn amount(&self) -> usize {
        self.limiter.amount
    }

    /// Requests under the key that reads as `key` whose response has not ended yet. Scans
    /// the counts: for tests and diagnostics, not the request path.
    pub fn in_flight(&self, key: &str) -> usize {
        let counts = self.limiter.counts();
        counts
            .slots
            .iter()
            .find(|(k, _)| k.is(key))
            .map_or(0, |(_, slot)| in_flight(slot))
    }

    /// Keys remembered, counted or not: for tests of the pruning.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.limiter.counts().slots.len()
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

impl<K: Clone, H> Clone for MaxConnLayer<K, H> {
    fn clone(&self) -> Self {
        MaxConnLayer {
            limiter: self.limiter.clone(),
            extractor: self.extractor.clone(),
            hold: PhantomData,
        }
    }
}

impl<K, H> fmt::Debug for MaxConnLayer<K, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxConnLayer")
            .field("amount", &self.limiter.amount)
            .finish_non_exhaustive()
    }
}

impl<S, K: Clone, H> Layer<S> for MaxConnLayer<K, H> {
    type Service = MaxConn<S, K, H>;

    fn layer(&self, inner: S) -> MaxConn<S, K, H> {
        MaxConn {
            inner,
            layer: self.clone(),
        }
    }
}

/// Passes a request on while its key has fewer than `amount` requests in flight, else
/// answers `429 Too Many Requests` itself. See [the module](super).
pub struct MaxConn<S, K = Extractor, H = Wrapped> {
    inner: S,
    layer: MaxConnLayer<K, H>,
}

impl<S: Clone, K: Clone, H> Clone for MaxConn<S, K, H> {
    fn clone(&self) -> Self {
        MaxConn {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, K, H> fmt::Debug for MaxConn<S, K, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxConn")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, K, H> MaxConn<S, K, H> {
    pub fn new(inner: S, layer: MaxConnLayer<K, H>) -> Self {
        MaxConn { inner, layer }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, K, H, ReqBody, ResBody> Service<Request<ReqBody>> for MaxConn<S, K, H>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    K: KeyExtractor<ReqBody>,
    H: Hold<ResBody>,
    ResBody: From<String>,
{
    type Response = Response<H::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        call(&mut self.inner, &self.layer, req)
    }
}

/// maxConn is also a service by shared reference when its inner service is: a stack of
/// such layers is then called by every request as it is, without a clone per request
/// (each clone bumps a reference count per layer).
impl<'a, S, K, H, ReqBody, ResBody> Service<Request<ReqBody>> for &'a MaxConn<S, K, H>
where
    &'a S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    K: KeyExtractor<ReqBody>,
    H: Hold<ResBody>,
    ResBody: From<String>,
{
    type Response = Response<H::Body>;
    type Error = <&'a S as Service<Request<ReqBody>>>::Error;
    type Future = ResponseFuture<<&'a S as Service<Request<ReqBody>>>::Future, ResBody, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let mut inner = &self.inner;
        inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let this: &'a MaxConn<S, K, H> = self;
        call(&mut &this.inner, &this.layer, req)
    }
}

/// Inlined: it hands the request on, which a call would copy.
#[inline(always)]
fn call<S, K, H, ReqBody, ResBody>(
    inner: &mut S,
    layer: &MaxConnLayer<K, H>,
    req: Request<ReqBody>,
) -> ResponseFuture<S::Future, ResBody, H>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    K: KeyExtractor<ReqBody>,
{
    let Some(key) = layer.extractor.key(&req) else {
        return ResponseFuture::answer(StatusCode::INTERNAL_SERVER_ERROR, None);
    };
    let Some(permit) = layer.limiter.acquire(key) else {
        let text = format!("max connections reached: {}", layer.limiter.amount);
        return ResponseFuture::answer(StatusCode::TOO_MANY_REQUESTS, Some(text));
    };
    ResponseFuture {
        kind: Kind::Inner {
            future: inner.call(req),
            permit: Some(permit),
        },
        hold: PhantomData,
    }
}

/// In-flight counts per key. A key whose count drops to 0 is kept, so that a client's
/// next request finds its slot again instead of inserting and removing it every time; keys
/// at 0 are forgotten in bulk when the map grows past a threshold (see [`Counts`]).
struct Limiter {
    amount: usize,
    counts: Mutex<Counts>,
}

/// One key's slot, shared by the map and the key's permits: each permit is a reference,
/// so the count of requests in flight is the reference count less the map's own. A
/// permit then costs one atomic increment and one decrement, where a separate counter
/// would add one of each. Increments (clones) happen only under the map's lock;
/// decrements, by dropped [`Permit`]s, without it.
type Slot = Arc<()>;

fn in_flight(slot: &Slot) -> usize {
    Arc::strong_count(slot) - 1
}

struct Counts {
    /// foldhash rather than SipHash: a key is hashed once per request (twice when new),
    /// and foldhash is seeded per map, so its keys (client addresses, headers) cannot be
    /// chosen to collide without first learning the seed.
    slots: HashMap<Key, Slot, foldhash::fast::RandomState>,
    /// Past this many keys, a new key first prunes the ones at 0. Keys are chosen by
    /// clients, so they must not pile up; twice the keys left after the last prune, so
    /// that each prune is paid for by as many insertions as it scans.
    prune_at: usize,
}

impl Counts {
    const MIN_PRUNE_AT: usize = 1024;

    /// A new key's slot, pruning first if the map is full.
    fn insert(&mut self, key: Key) -> Slot {
        if self.slots.len() >= self.prune_at {
            // Under the lock every increment is seen, so a count read as 0 has no permit
            // left to decrement it: such a slot can go, a later request makes a new one.
            self.slots.retain(|_, slot| in_flight(slot) > 0);
            self.prune_at = Self::MIN_PRUNE_AT.max(2 * self.slots.len());
        }
        self.slots.entry(key).or_default().clone()
    }
}

impl Limiter {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn acquire(&self, key: Key) -> Option<Permit> {
        if self.amount == 0 {
            return None;
        }
        let mut counts = self.counts();
        // Checked then incremented under the lock, as every increment is: a permit
        // dropped meanwhile only lowers the count, so it cannot pass `amount`.
        let slot = match counts.slots.get(&key) {
            Some(slot) if in_flight(slot) >= self.amount => return None,
            Some(slot) => slot.clone(),
            // A new key starts at 0, below any amount but 0.
            None => counts.insert(key),
        };
        Some(Permit { slot })
    }
}

/// One request in flight, counted until this is dropped. A [`MaxConnBody`] holds it, or,
/// with [`MaxConnLayer::in_place`], a body type of the caller's own that is
/// [`HoldsPermit`](super::HoldsPermit).
pub struct Permit {
    /// Just the slot: dropping a permit, once per request, takes no lock and hashes
    /// nothing.
    slot: Slot,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("in_flight", &in_flight(&self.slot))
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// Future of [`MaxConn`]: the inner service's, or the layer's own answer.
    pub struct ResponseFuture<F, B, H = Wrapped> {
        #[pin]
        kind: Kind<F, B>,
        hold: PhantomData<fn() -> H>,
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

impl<F, B, H> ResponseFuture<F, B, H> {
    /// The layer's own answer: `text`, or the status text when it is `None`.
    fn answer(status: StatusCode, text: Option<String>) -> Self {
        ResponseFuture {
            kind: Kind::Answer {
                answer: Some((status, text)),
                body: PhantomData,
            },
            hold: PhantomData,
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

impl<F, B, H, E> Future for ResponseFuture<F, B, H>
where
    F: Future<Output = Result<Response<B>, E>>,
    H: Hold<B>,
    B: From<String>,
{
    type Output = Result<Response<H::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, permit } => {
                // An error drops the permit with this future.
                H::hold_output(future.poll(cx), permit)
            }
            KindProj::Answer { answer, .. } => {
                let (status, text) = answer.take().expect("polled after completion");
                Poll::Ready(Ok(H::hold(plain_text(status, text), None)))
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
    pub(super) fn new(inner: B, permit: Option<Permit>) -> Self {
        MaxConnBody { inner, permit }
    }

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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn ip(n: u32) -> Key {
        Key::Ip(IpAddr::V4(Ipv4Addr::from(n)))
    }

    #[test]
    fn a_dropped_permit_frees_its_key() {
        let layer = MaxConnLayer::client_ip(1);
        let permit = layer
            .limiter
            .acquire(ip(0x0a00_0001))
            .expect("first admitted");
        assert_eq!(layer.in_flight("10.0.0.1"), 1);
        assert!(layer.limiter.acquire(ip(0x0a00_0001)).is_none());
        // Another key has a count of its own.
        let other = layer
            .limiter
            .acquire(ip(0x0a00_0002))
            .expect("other key admitted");
        drop(permit);
        assert_eq!(layer.in_flight("10.0.0.1"), 0);
        assert_eq!(layer.in_flight("10.0.0.2"), 1);
        let again = layer.limiter.acquire(ip(0x0a00_0001));
        assert!(again.is_some(), "admitted again after the drop");
        assert_eq!(layer.in_flight("10.0.0.1"), 1);
        drop((again, other));
        assert_eq!(layer.in_flight("10.0.0.1"), 0);
        assert_eq!(layer.in_flight("10.0.0.2"), 0);
    }

    #[test]
    fn amount_zero_refuses_and_remembers_nothing() {
        let layer = MaxConnLayer::client_ip(0);
        assert!(layer.limiter.acquire(ip(1)).is_none());
        assert_eq!(layer.remembered(), 0);
    }

    #[test]
    fn keys_at_zero_are_pruned_but_counted_ones_kept() {
        let layer = MaxConnLayer::client_ip(1);
        let held = layer.limiter.acquire(ip(0x0a00_0001)).expect("admitted");
        let mut most = 0;
        for n in 0..5000 {
            let permit = layer.limiter.acquire(ip(0xc0a8_0000 + n));
            assert!(permit.is_some(), "a fresh key is admitted");
            drop(permit);
            most = most.max(layer.remembered());
        }
        assert!(
            most <= Counts::MIN_PRUNE_AT,
            "{most} keys remembered, pruning should keep at most {}",
            Counts::MIN_PRUNE_AT
        );
        // Pruned several times over, the held key still counts its request.
        assert_eq!(layer.in_flight("10.0.0.1"), 1);
        assert!(layer.limiter.acquire(ip(0x0a00_0001)).is_none());
        drop(held);
        assert_eq!(layer.in_flight("10.0.0.1"), 0);
        assert!(layer.limiter.acquire(ip(0x0a00_0001)).is_some());
    }

    #[test]
    fn many_counted_keys_raise_the_threshold() {
        let layer = MaxConnLayer::client_ip(1);
        let held: Vec<_> = (0..2000)
            .map(|n| layer.limiter.acquire(ip(n)).expect("admitted"))
            .collect();
        assert_eq!(layer.remembered(), 2000);
        for n in 0..2000 {
            assert!(
                layer.limiter.acquire(ip(n)).is_none(),
                "key {n} still counted"
            );
        }
        drop(held);
        // Keys at 0 linger until the next prune, which a burst of new keys triggers.
        for n in 10_000..20_000 {
            drop(layer.limiter.acquire(ip(n)));
        }
        assert!(layer.remembered() <= 4000);
    }
}
