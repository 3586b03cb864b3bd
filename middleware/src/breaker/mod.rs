//! A circuit breaker with Traefik 1.x semantics (oxy `cbreaker`).
//!
//! [`BreakerLayer`] watches the requests that go through it and, when a caller-supplied
//! condition over [`RollingMetrics`] holds, stops sending requests to the inner service for a
//! while:
//!
//! | state | requests | leaves it |
//! |---|---|---|
//! | [`State::Standby`] | all go through; the condition is checked after a response, at most once per `check_period` (100 ms) | condition holds ⇒ Tripped, metrics reset |
//! | [`State::Tripped`] | all answered `503 Service Unavailable` by the breaker itself | after `fallback_duration` (10 s) ⇒ Recovering |
//! | [`State::Recovering`] | a share growing linearly from 0 to 100 % over `recovery_duration` (10 s) goes through, the rest get `503` | condition holds ⇒ Tripped; ramp done ⇒ Standby |
//!
//! **Metrics** cover the last ten seconds in one-second buckets: requests, network errors,
//! status codes and latencies (time to the response head or the error, not to the end of the
//! body). A network error is an inner error the classifier accepts (by default every error,
//! see [`BreakerLayer::network_errors`]) or a `502`/`504` response, which is how v1's
//! forwarder reported them. Refused requests are not measured, nor are requests admitted
//! before the latest trip, so a fresh window after a trip is not polluted by stragglers.
//!
//! **The condition** is any `Fn(&RollingMetrics) -> bool`; this crate knows nothing of
//! trafik.toml. To use a parsed `trafik_config::breaker::BreakerExpr`, wrap the metrics in a
//! type implementing its `Metrics` trait:
//!
//! ```ignore
//! struct View<'a>(&'a RollingMetrics);
//! impl trafik_config::breaker::Metrics for View<'_> {
//!     fn network_error_ratio(&self) -> f64 { self.0.network_error_ratio() }
//!     fn latency_at_quantile_ms(&self, q: f64) -> f64 { self.0.latency_at_quantile_ms(q) }
//!     fn response_code_ratio(&self, a: u16, b: u16, c: u16, d: u16) -> f64 {
//!         self.0.response_code_ratio(a, b, c, d)
//!     }
//! }
//! let layer = BreakerLayer::new(state, move |m| expr.eval(&View(m)));
//! ```
//!
//! **State** lives in a [`BreakerState`] that the caller creates once per backend and passes
//! to every layer built for it, so a configuration reload that keeps the backend keeps a
//! tripped breaker tripped. [`BreakerState::state`] reports the state for metrics and the API.
//!
//! **Responses.** The service works on `http::Request<ReqBody>` → `http::Response<ResBody>`
//! with any error type; it builds its `503` with `ResBody: From<&'static str>` (body
//! `Service Unavailable`, `Content-Type: text/plain; charset=utf-8`, as v1), which `String`,
//! `http_body_util::Full<Bytes>` and most body types provide. Errors of the inner service are
//! passed on unchanged.
//!
//! All times are `tokio::time::Instant`, so tests can pause and advance the clock.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use tower::{Layer, service_fn};
//! use trafik_middleware::breaker::{BreakerLayer, BreakerState, State};
//!
//! let state = BreakerState::new();
//! let layer = BreakerLayer::new(state.clone(), |m| {
//!     m.network_error_ratio() > 0.5 || m.response_code_ratio(500, 600, 0, 600) > 0.25
//! });
//! let _svc = layer.layer(service_fn(|_: Request<()>| async {
//!     Ok::<_, Infallible>(Response::new(String::new()))
//! }));
//! assert_eq!(state.state(), State::Standby);
//! ```

mod classify;
mod histogram;
mod layer;
mod metrics;
mod state;

pub use classify::{AllErrors, ClassifyError};
pub use layer::{
    Breaker, BreakerLayer, DEFAULT_CHECK_PERIOD, DEFAULT_FALLBACK_DURATION,
    DEFAULT_RECOVERY_DURATION, ResponseFuture,
};
pub use metrics::{BUCKET_WIDTH, Outcome, RollingMetrics, WINDOW_BUCKETS};
pub use state::{BreakerState, State};
