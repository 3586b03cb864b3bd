//! Retrying requests that never reached a backend, with Traefik 1.x semantics
//! (`middlewares/retry.go`).
//!
//! [`RetryLayer`] calls the inner service up to `attempts` times in all. An attempt is
//! retried only when the inner service returned an **error** that the caller-supplied
//! classifier accepts ([`IsRetryable`], any `Fn(&E) -> bool`); v1 retries only failures that
//! happened before anything was written to the backend (dial errors), and which errors those
//! are is known only to the service that forwards. A response, whatever its status, is never
//! retried: once a response has started it belongs to the client (this is also why a `503`
//! from an empty backend stops v1's retries).
//!
//! **The inner service is cloned for every further attempt** and driven to readiness again,
//! so a load balancer below picks a server per attempt, usually another one.
//!
//! **Request bodies.** The inner service gets the body wrapped in a [`ReplayBody`] (as a
//! `Request<ReplayBody<B>>`, or inside the body type itself with
//! [`RetryLayer::in_place`]), which keeps every chunk it reads, up to `max_replay_bytes`
//! (64 KiB by default), so that the next attempt is sent the same bytes: those already read
//! are replayed, the rest still comes from the client. A request whose `Content-Length` (or
//! body size hint) says it is larger, or whose body turns out to be larger while read, or
//! whose body failed, is not retried: the error of the attempt is returned. This follows
//! linkerd's replay body (bounded, decided before reading when the size is known). v1 only
//! keeps the body from being closed between attempts, which is enough when nothing of it
//! was sent; keeping what was read also covers a classifier that retries errors raised
//! after the body started to go out.
//!
//! **Extensions.** A further attempt gets a clone of the first request's extensions, kept
//! before the first attempt; [`RetryLayer::keep_extensions`] keeps only some instead, which
//! spares a request that may be retried the clone of the whole map (see
//! [`KeepExtensions`]).
//!
//! **Attempts** are reported in the response extensions as [`RetryAttempts`] when there was
//! more than one; a response without it came from the first attempt. When every attempt
//! failed, the last error is returned unchanged.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use tower::{Layer, service_fn};
//! use trafik_middleware::retry::{ReplayBody, RetryLayer};
//!
//! #[derive(Debug)]
//! enum ProxyError { Connect, Other }
//!
//! let layer = RetryLayer::new(3, |e: &ProxyError| matches!(e, ProxyError::Connect));
//! let _svc = layer.layer(service_fn(|_: Request<ReplayBody<String>>| async {
//!     Ok::<_, ProxyError>(Response::new(String::new()))
//! }));
//! ```

mod body;
mod carry;
mod headers;
mod keep;
mod layer;

pub use body::{ReplayBody, ReplayError};
pub use carry::{Carry, InPlace, Wrapped};
pub use keep::{AllExtensions, KeepExtensions, Only};
pub use layer::{DEFAULT_MAX_REPLAY_BYTES, ResponseFuture, Retry, RetryLayer};

/// Decides whether an error of the inner service may be retried: the request did not reach
/// the backend (refused connection, DNS failure…). Any `Fn(&E) -> bool` is one.
pub trait IsRetryable<E> {
    fn is_retryable(&self, error: &E) -> bool;
}

impl<E, F> IsRetryable<E> for F
where
    F: Fn(&E) -> bool,
{
    fn is_retryable(&self, error: &E) -> bool {
        self(error)
    }
}

/// How many times the inner service was called for a response, found in its extensions
/// when that was more than once.
///
/// v1's access-log field `RetryAttempts` counts retries only: that is [`RetryAttempts::retries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryAttempts(pub u32);

impl RetryAttempts {
    /// Attempts after the first.
    pub fn retries(self) -> u32 {
        self.0.saturating_sub(1)
    }
}
