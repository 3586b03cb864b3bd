//! The internal routes of an entry point: v1's API (`[api]`), dashboard, `[ping]`,
//! `[rest]` and `[metrics.prometheus]`, each on the entry point its section names. An
//! axum router over the live state; the proxy's own requests never go through it: the
//! entry point hands over only the paths that an enabled feature claims.

mod dashboard;
pub mod plan;
mod providers;
mod redact;
mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use http::Request;
use hyper::body::Incoming;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower::ServiceExt;

use crate::metrics::Telemetry;
use crate::provider::rest::RestProvider;
use crate::proxy::ResponseBody;
use crate::runtime::Runtime;
use crate::status::StatusBoard;

pub use dashboard::files as dashboard_files;
pub use plan::{DEFAULT_INTERNAL_ADDRESS, plan};

/// A configuration PUT larger than this is refused (413) before it is read whole.
pub const MAX_PUT_BYTES: usize = 1 << 20;

/// The OpenAPI description of everything here, served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the internal routes read.
pub struct Api {
    pub runtime: Arc<ArcSwap<Runtime>>,
    pub status: Arc<StatusBoard>,
    pub telemetry: Arc<Telemetry>,
    pub rest: Option<Arc<RestProvider>>,
    /// Set when shutdown begins: `/ping` answers 503 from then on, as v1 does during the
    /// accept grace period, so load balancers in front stop sending.
    pub terminating: Arc<AtomicBool>,
    pub started_at: SystemTime,
}

/// Which features an entry point serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub api: bool,
    pub dashboard: bool,
    pub ping: bool,
    pub rest: bool,
    pub metrics: bool,
}

impl Features {
    pub fn any(&self) -> bool {
        self.api || self.ping || self.rest || self.metrics
    }
}

pub struct Internal {
    features: Features,
    router: Router,
}

impl Internal {
    pub fn new(features: Features, api: Arc<Api>) -> Self {
        let mut router = Router::new();
        if features.api {
            router = router
                .route("/api", get(providers::providers))
                .route("/api/providers", get(providers::providers))
                .route("/api/version", get(version))
                .route("/api/state", get(state::state))
                .route("/api/openapi.json", get(openapi))
                .route("/health", get(health))
                .route("/api/providers/{p}/{kind}", get(providers::kind))
                .route("/api/providers/{p}/{kind}/{name}", get(providers::item))
                .route(
                    "/api/providers/{p}/{kind}/{name}/{sub}",
                    get(providers::children),
                )
                .route(
                    "/api/providers/{p}/{kind}/{name}/{sub}/{id}",
                    get(providers::child),
                );
        }
        router = match (features.api, features.rest) {
            (true, true) => {
                router.route("/api/providers/{p}", get(providers::one).put(put_provider))
            }
            (true, false) => router.route("/api/providers/{p}", get(providers::one)),
            (false, true) => router.route("/api/providers/{p}", put(put_provider)),
            (false, false) => router,
        };
        if features.api && features.dashboard {
            router = router
                .route("/", get(dashboard::to_dashboard))
                .route("/dashboard", get(dashboard::to_dashboard))
                .route("/dashboard/", get(dashboard::index))
                .route("/dashboard/{*path}", get(dashboard::file));
        }
        if features.ping {
            router = router.route("/ping", get(ping).head(ping));
        }
        if features.metrics {
            router = router.route("/metrics", get(metrics));
        }
        let router = router
            .fallback(|| async { not_found() })
            .layer(DefaultBodyLimit::max(MAX_PUT_BYTES))
            .with_state(api);
        Internal { features, router }
    }

    /// Whether a request to `path` is for the internal routes rather than the proxy.
    pub fn claims(&self, path: &str) -> bool {
        let f = &self.features;
        // `prefix` itself or anything below it, without allocating on every request.
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        (f.api && (under("/api") || path == "/health"))
            || (f.rest && path.starts_with("/api/providers/"))
            || (f.api && f.dashboard && (path == "/" || under("/dashboard")))
            || (f.ping && path == "/ping")
            || (f.metrics && path == "/metrics")
    }

    pub async fn call(&self, req: Request<Incoming>) -> http::Response<ResponseBody> {
        match self.router.clone().oneshot(req).await {
            Ok(response) => response.map(ResponseBody::boxed),
            Err(never) => match never {},
        }
    }
}

/// Go's `http.NotFound`, as v1's API answers.
pub fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "404 page not found\n")
}

fn text(status: StatusCode, body: &str) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn version(State(api): State<Arc<Api>>) -> Response {
    let start = OffsetDateTime::from(api.started_at)
        .format(&Rfc3339)
        .unwrap_or_default();
    axum::Json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Codename": "trafik",
        "startDate": start,
    }))
    .into_response()
}

async fn health(State(api): State<Arc<Api>>) -> Response {
    match &api.telemetry.health {
        Some(h) => axum::Json(h.to_json()).into_response(),
        None => not_found(),
    }
}

async fn ping(State(api): State<Arc<Api>>) -> Response {
    if api.terminating.load(Ordering::Relaxed) {
        text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    } else {
        text(StatusCode::OK, "OK")
    }
}

async fn metrics(State(api): State<Arc<Api>>) -> Response {
    let Some(p) = &api.telemetry.prometheus else {
        return not_found();
    };
    let body = p.render(&api.runtime.load(), &api.status);
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn put_provider(State(api): State<Arc<Api>>, Path(p): Path<String>, body: Bytes) -> Response {
    let Some(rest) = &api.rest else {
        return text(StatusCode::METHOD_NOT_ALLOWED, "[rest] is not enabled\n");
    };
    if providers::canonical(&p) != crate::provider::rest::NAME {
        // v1's message, word for word.
        return text(
            StatusCode::BAD_REQUEST,
            "Only 'rest' provider can be updated through the REST API\n",
        );
    }
    match rest.put(&body).await {
        // What was stored, as GET shows it: without its secrets.
        Ok(config) => axum::Json(redact::configuration(&config)).into_response(),
        Err(refused) => text(StatusCode::BAD_REQUEST, &format!("{}\n", refused.0)),
    }
}
