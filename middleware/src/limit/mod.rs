//! Limiting concurrent requests per source, with Traefik 1.x semantics (a backend's
//! `maxConn`, oxy `connlimit`).
//!
//! [`MaxConnLayer`] lets at most `amount` requests with the same key be in flight at once;
//! past that it answers `429 Too Many Requests` (body `max connections reached: <amount>`,
//! as v1) without calling the inner service. The key comes from a [`KeyExtractor`]: one of
//! v1's [`Extractor`]s (`client.ip`, `request.host`, `request.header.<Name>`, parsed by
//! `str::parse`) or any `Fn(&Request<B>) -> Option<String>`. A request without a key (no
//! [`ClientAddr`] in its extensions for `client.ip`) is answered `500 Internal Server
//! Error`, as v1 answers a failed extraction.
//!
//! **A request stays in flight until its response body ends** (or is dropped, or fails),
//! not merely until the response head arrives: the response body is wrapped in a
//! [`MaxConnBody`] that holds the request's [`Permit`] (or, with
//! [`MaxConnLayer::in_place`], the body type holds it itself: [`HoldsPermit`]). An error of
//! the inner service frees it at once.
//!
//! **Responses.** The service's answers need `ResBody: From<String>` (`String`,
//! `http_body_util::Full<Bytes>`, axum's `Body`…) and carry `Content-Type: text/plain;
//! charset=utf-8`. Inner errors are passed on unchanged.
//!
//! ```
//! use std::convert::Infallible;
//! use std::net::SocketAddr;
//! use http::{Request, Response};
//! use tower::{Layer, service_fn};
//! use trafik_middleware::limit::{ClientAddr, MaxConnLayer};
//!
//! let layer = MaxConnLayer::client_ip(10);
//! let _svc = layer.layer(service_fn(|_: Request<()>| async {
//!     Ok::<_, Infallible>(Response::new(String::new()))
//! }));
//! // The server puts the peer address in each request's extensions:
//! let mut req = Request::new(());
//! req.extensions_mut().insert(ClientAddr(SocketAddr::from(([10, 0, 0, 1], 4242))));
//! assert_eq!(layer.in_flight("10.0.0.1"), 0);
//! ```

mod hold;
mod key;
mod max_conn;

pub use hold::{Hold, HoldsPermit, InPlace, Wrapped};
pub use key::{ClientAddr, Extractor, Key, KeyExtractor, UnknownExtractor};
pub use max_conn::{MaxConn, MaxConnBody, MaxConnLayer, Permit, ResponseFuture};
