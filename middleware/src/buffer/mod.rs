//! Buffering whole requests and responses, with Traefik 1.x semantics (a backend's
//! `[buffering]`, oxy `buffer`).
//!
//! [`BufferingLayer`] reads the whole request body before it calls the inner service, and
//! the whole response body before it answers, so a slow client never holds a backend
//! connection and a backend's response is all-or-nothing:
//!
//! | setting | v1 key | when exceeded |
//! |---|---|---|
//! | [`max_request_body_bytes`](BufferingLayer::max_request_body_bytes) | `maxRequestBodyBytes` | `413 Request Entity Too Large`, inner not called; checked on `Content-Length` (and the body's size hint) first, then counted while reading |
//! | [`max_response_body_bytes`](BufferingLayer::max_response_body_bytes) | `maxResponseBodyBytes` | `500 Internal Server Error` instead of the response |
//! | [`retry_if`](BufferingLayer::retry_if) | `retryExpression` | sends the buffered request again while a predicate over `(attempt, status)` holds |
//!
//! 0 means no limit, as in v1. The layer's own answers have the status text as a
//! plain-text body. A request body that fails to arrive is answered `400 Bad Request`: the
//! client's fault (oxy's default error handler answered 500, blaming the server); a response body that breaks off, `502 Bad Gateway` (v1 aborts the
//! connection). Inner errors are passed on unchanged and never retried.
//!
//! **Memory.** v1's `memRequestBodyBytes` / `memResponseBodyBytes` are thresholds past which
//! oxy spills a body to a temporary file. This layer keeps every body in memory, so the
//! `mem*` settings have no counterpart here: a caller should set the `max*` limits to bound
//! memory (without them a body of any size is held).
//!
//! **The bodies** the inner service gets and the client gets are [`BufferedBody`]s (trailers
//! kept). The request's `Transfer-Encoding` is dropped and its `Content-Length` set to the
//! real length, as oxy does; so is the response's when it has a body.
//!
//! **Readiness.** [`Buffering`] is always ready; a clone of the inner service is driven to
//! readiness once the request is read (per attempt, when retrying), so waiting for a slow
//! upload reserves nothing below. The inner service must be `Clone`.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use tower::{Layer, service_fn};
//! use trafik_middleware::buffer::{BufferedBody, BufferingLayer};
//!
//! let layer = BufferingLayer::new()
//!     .max_request_body_bytes(2_000_000)
//!     .max_response_body_bytes(10_000_000)
//!     .retry_if(|attempt, status| (status == 502 || status == 504) && attempt <= 2);
//! let _svc = layer.layer(service_fn(|_: Request<BufferedBody>| async {
//!     Ok::<_, Infallible>(Response::new(String::from("hi")))
//! }));
//! ```

mod body;
mod layer;
mod read;

pub use body::BufferedBody;
pub use layer::{Buffering, BufferingLayer, MAX_RETRY_ATTEMPTS, ResponseFuture};
