//! The tower layer, service and future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use tokio::task::JoinError;
use tower::{Layer, Service};

use super::basic::{self, BasicAuth};
use super::digest::{self, DigestAuth};
use super::slow::{BcryptLimit, Verified};

/// How requests are authenticated.
#[derive(Debug)]
pub enum Authenticator {
    Basic(BasicAuth),
    Digest(DigestAuth),
}

impl From<BasicAuth> for Authenticator {
    fn from(auth: BasicAuth) -> Self {
        Authenticator::Basic(auth)
    }
}

impl From<DigestAuth> for Authenticator {
    fn from(auth: DigestAuth) -> Self {
        Authenticator::Digest(auth)
    }
}

/// Put in the extensions of an authenticated request: who it is (v1 sets the request URL's
/// user, which its access log prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser(pub String);

type ExemptFn = dyn Fn(&Method, &Uri) -> bool + Send + Sync;

/// Layer of [`Auth`]. The authenticator (and a digest one's nonces) lives in the layer:
/// every service it builds, and their clones, share it.
#[derive(Clone)]
pub struct AuthLayer {
    authenticator: Arc<Authenticator>,
    header_field: Option<HeaderName>,
    remove_header: bool,
    exempt_paths: Arc<[String]>,
    exempt_if: Option<Arc<ExemptFn>>,
    /// How many bcrypt verifications may run and wait (see `slow.rs`).
    bcrypt: BcryptLimit,
    /// bcrypt users and passwords verified recently; `None` without OS randomness.
    verified: Option<Arc<Verified>>,
}

impl AuthLayer {
    /// Requires every request to authenticate with `authenticator`.
    pub fn new(authenticator: impl Into<Authenticator>) -> Self {
        AuthLayer {
            authenticator: Arc::new(authenticator.into()),
            header_field: None,
            remove_header: false,
            exempt_paths: Arc::new([]),
            exempt_if: None,
            bcrypt: BcryptLimit::shared(),
            verified: Verified::new().map(Arc::new),
        }
    }

    /// Bounds bcrypt verifications with `limit` instead of the process-wide
    /// [`BcryptLimit::shared`]; past it a request is answered `503` without hashing.
    pub fn bcrypt_limit(mut self, limit: BcryptLimit) -> Self {
        self.bcrypt = limit;
        self
    }

    /// v1's `headerField`: the authenticated user name is passed on in this request
    /// header. The header is removed from every request first, so a client cannot forge
    /// it, whether it authenticates or is exempt.
    pub fn header_field(mut self, name: HeaderName) -> Self {
        self.header_field = Some(name);
        self
    }

    /// v1's `removeHeader`: drop `Authorization` from an authenticated request before
    /// passing it on, so the backend never sees the credentials.
    pub fn remove_header(mut self, remove: bool) -> Self {
        self.remove_header = remove;
        self
    }

    /// Requests whose path is exactly `path` pass without credentials (v1 serves `/ping`
    /// on the API entry point without auth). The path must be equal, without
    /// normalisation: `exempt_path("/ping")` lets `/ping?x` through, not `/ping/`.
    pub fn exempt_path(mut self, path: impl Into<String>) -> Self {
        let mut paths = self.exempt_paths.to_vec();
        paths.push(path.into());
        self.exempt_paths = paths.into();
        self
    }

    /// Requests for which `exempt(method, uri)` holds pass without credentials, e.g.
    /// `|m, u| (m == Method::GET || m == Method::HEAD) && u.path() == "/ping"`.
    pub fn exempt_if<F>(mut self, exempt: F) -> Self
    where
        F: Fn(&Method, &Uri) -> bool + Send + Sync + 'static,
    {
        self.exempt_if = Some(Arc::new(exempt));
        self
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    fn is_exempt(&self, method: &Method, uri: &Uri) -> bool {
        self.exempt_paths.iter().any(|p| p == uri.path())
            || self.exempt_if.as_ref().is_some_and(|f| f(method, uri))
    }

    /// What an authenticated request carries on.
    fn grant<B>(&self, req: &mut Request<B>, user: String) {
        if let Some(name) = &self.header_field {
            // Users are checked for control characters when loaded, so this holds.
            if let Ok(value) = HeaderValue::from_str(&user) {
                req.headers_mut().insert(name.clone(), value);
            }
        }
        if self.remove_header {
            req.headers_mut().remove(AUTHORIZATION);
        }
        req.extensions_mut().insert(AuthUser(user));
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("authenticator", &self.authenticator)
            .field("header_field", &self.header_field)
            .field("remove_header", &self.remove_header)
            .field("exempt_paths", &self.exempt_paths)
            .field("exempt_if", &self.exempt_if.is_some())
            .field("bcrypt", &self.bcrypt)
            .finish()
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// Passes on requests with valid credentials (or exempt ones), else answers
/// `401 Unauthorized` with a challenge. See [the module](super).
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Auth<S> {
    pub fn new(inner: S, layer: AuthLayer) -> Self {
        Auth { inner, layer }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match self.layer.begin(&mut req) {
            Begin::Pass => ResponseFuture::inner(self.inner.call(req)),
            Begin::Answer(response) => ResponseFuture::answer(response),
            Begin::Verify { job, challenge } => {
                // The service that was polled ready goes with the request; this one
                // keeps a clone (tower's usual move for calling later).
                let ready = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, ready);
                ResponseFuture {
                    state: State::Verify {
                        job,
                        pending: Some((service, req)),
                        challenge,
                    },
                }
            }
        }
    }
}

/// What [`AuthLayer::begin`] decided: pass the request on (already marked with its user),
/// answer it, or wait for a bcrypt verification first.
enum Begin<ResBody> {
    Pass,
    Answer(Response<ResBody>),
    Verify {
        job: Verification,
        challenge: HeaderValue,
    },
}

impl AuthLayer {
    /// Checks `req`'s credentials, for a caller that is not a tower stack (a frontend's
    /// auth in the proxy's request path): `Ok` when the request may go on, with the user in
    /// `headerField`, `Authorization` removed with `removeHeader` and [`AuthUser`] in its
    /// extensions; `Err` with the answer to send instead (401, or 503 when bcrypt is
    /// saturated). A bcrypt verification is awaited on the blocking pool as the layer does.
    /// A refused request is for dropping: it may carry the marks prepared before bcrypt
    /// said no (never the client's own `headerField`).
    pub async fn check<B, ResBody: From<String>>(
        &self,
        req: &mut Request<B>,
    ) -> Result<(), Response<ResBody>> {
        match self.begin(req) {
            Begin::Pass => Ok(()),
            Begin::Answer(response) => Err(response),
            Begin::Verify { job, challenge } => match job.await {
                Ok(true) => Ok(()),
                Ok(false) => Err(unauthorized(challenge)),
                // The verification panicked: fail closed.
                Err(_) => Err(text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "500 Internal Server Error\n",
                )),
            },
        }
    }

    /// The synchronous part of a check, shared by the service and [`AuthLayer::check`].
    fn begin<B, ResBody: From<String>>(&self, req: &mut Request<B>) -> Begin<ResBody> {
        if let Some(name) = &self.header_field {
            req.headers_mut().remove(name);
        }
        if self.is_exempt(req.method(), req.uri()) {
            return Begin::Pass;
        }
        match &*self.authenticator {
            Authenticator::Basic(auth) => match auth.check(req.headers()) {
                basic::Check::Granted(user) => {
                    self.grant(req, user);
                    Begin::Pass
                }
                basic::Check::Denied => Begin::Answer(unauthorized(auth.challenge())),
                basic::Check::Slow(job) => {
                    let challenge = auth.challenge();
                    let key = self
                        .verified
                        .as_ref()
                        .map(|v| v.key(&job.user, job.password()));
                    // Prepared now, passed on only if the password verifies.
                    self.grant(req, job.user.clone());
                    if let (Some(verified), Some(key)) = (&self.verified, &key)
                        && verified.contains(key)
                    {
                        return Begin::Pass;
                    }
                    let remember = self.verified.clone().zip(key);
                    if tokio::runtime::Handle::try_current().is_err() {
                        return if job.run() {
                            if let Some((verified, key)) = remember {
                                verified.insert(key);
                            }
                            Begin::Pass
                        } else {
                            Begin::Answer(unauthorized(challenge))
                        };
                    }
                    let Some(admitted) = self.bcrypt.try_admit() else {
                        return Begin::Answer(busy());
                    };
                    let job = Box::pin(async move {
                        let granted = admitted.run(move || job.run()).await?;
                        if granted && let Some((verified, key)) = remember {
                            verified.insert(key);
                        }
                        Ok(granted)
                    });
                    Begin::Verify { job, challenge }
                }
            },
            Authenticator::Digest(auth) => {
                match auth.check(req.method(), req.uri(), req.headers()) {
                    digest::Check::Granted(user) => {
                        self.grant(req, user);
                        Begin::Pass
                    }
                    digest::Check::Denied { stale } => match auth.challenge(stale) {
                        Some(challenge) => Begin::Answer(unauthorized(challenge)),
                        None => Begin::Answer(text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "500 Internal Server Error\n",
                        )),
                    },
                }
            }
        }
    }
}

/// v1's (go-http-auth's) answer: the challenge and a plain-text body.
fn unauthorized<B: From<String>>(challenge: HeaderValue) -> Response<B> {
    let mut response = text(StatusCode::UNAUTHORIZED, "401 Unauthorized\n");
    response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    response
}

/// Too many bcrypt verifications running and waiting: try again shortly.
fn busy<B: From<String>>() -> Response<B> {
    let mut response = text(StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable\n");
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn text<B: From<String>>(status: StatusCode, body: &str) -> Response<B> {
    let mut response = Response::new(B::from(body.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pin_project_lite::pin_project! {
    /// Future of [`Auth`]: the inner service's, the layer's own answer, or a bcrypt
    /// verification on tokio's blocking pool followed by the inner service's.
    pub struct ResponseFuture<F, S, ReqBody, ResBody> {
        #[pin]
        state: State<F, S, ReqBody, ResBody>,
    }
}

/// A bcrypt verification waiting for its turn, then running on the blocking pool. Boxed:
/// it is rare next to the requests that pass or fail at once, and bcrypt dwarfs the cost.
type Verification = Pin<Box<dyn Future<Output = Result<bool, JoinError>> + Send>>;

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, S, ReqBody, ResBody> {
        Inner { #[pin] future: F },
        Answer { response: Option<Response<ResBody>> },
        Verify {
            job: Verification,
            pending: Option<(S, Request<ReqBody>)>,
            challenge: HeaderValue,
        },
    }
}

impl<F, S, ReqBody, ResBody> ResponseFuture<F, S, ReqBody, ResBody> {
    fn inner(future: F) -> Self {
        ResponseFuture {
            state: State::Inner { future },
        }
    }

    fn answer(response: Response<ResBody>) -> Self {
        ResponseFuture {
            state: State::Answer {
                response: Some(response),
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S::Future, S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Inner { future } => return future.poll(cx),
                StateProj::Answer { response } => {
                    return Poll::Ready(Ok(response.take().expect("polled after completion")));
                }
                StateProj::Verify {
                    job,
                    pending,
                    challenge,
                } => match ready!(job.as_mut().poll(cx)) {
                    Ok(true) => {
                        let (mut service, req) = pending.take().expect("polled after completion");
                        State::Inner {
                            future: service.call(req),
                        }
                    }
                    Ok(false) => State::Answer {
                        response: Some(unauthorized(challenge.clone())),
                    },
                    // The verification panicked: fail closed.
                    Err(_) => State::Answer {
                        response: Some(text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "500 Internal Server Error\n",
                        )),
                    },
                },
            };
            state.set(next);
        }
    }
}
