//! `GET /api/providers/…`: each provider's configuration as it sent it, down to one
//! server or route, with v1's JSON field names, secrets redacted (`redact.rs`). The REST provider is `rest`; v1 called it
//! `web`, which is accepted as an alias.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::{Api, not_found};

/// The key under which v1 listed the REST provider.
const V1_REST_NAME: &str = "web";

pub fn canonical(provider: &str) -> &str {
    if provider == V1_REST_NAME {
        "rest"
    } else {
        provider
    }
}

fn all(api: &Api) -> Map<String, Value> {
    api.status
        .providers()
        .into_iter()
        .map(|(name, p)| {
            let value = super::redact::configuration(&p.config);
            (name, value)
        })
        .collect()
}

fn provider(api: &Api, name: &str) -> Option<Value> {
    all(api).remove(canonical(name))
}

/// Walks `keys` down from a provider's configuration; 404 where something is missing.
fn lookup(api: &Api, provider_name: &str, keys: &[&str]) -> Response {
    let mut value = match provider(api, provider_name) {
        Some(v) => v,
        None => return not_found(),
    };
    for key in keys {
        value = match value.get_mut(*key) {
            Some(v) => v.take(),
            None => return not_found(),
        };
    }
    Json(value).into_response()
}

pub async fn providers(State(api): State<Arc<Api>>) -> Response {
    Json(Value::Object(all(&api))).into_response()
}

pub async fn one(State(api): State<Arc<Api>>, Path(p): Path<String>) -> Response {
    lookup(&api, &p, &[])
}

pub async fn kind(
    State(api): State<Arc<Api>>,
    Path((p, kind)): Path<(String, String)>,
) -> Response {
    match kind.as_str() {
        "backends" | "frontends" => lookup(&api, &p, &[&kind]),
        _ => not_found(),
    }
}

pub async fn item(
    State(api): State<Arc<Api>>,
    Path((p, kind, name)): Path<(String, String, String)>,
) -> Response {
    match kind.as_str() {
        "backends" | "frontends" => lookup(&api, &p, &[&kind, &name]),
        _ => not_found(),
    }
}

/// `…/backends/{b}/servers` and `…/frontends/{f}/routes`.
pub async fn children(
    State(api): State<Arc<Api>>,
    Path((p, kind, name, sub)): Path<(String, String, String, String)>,
) -> Response {
    match (kind.as_str(), sub.as_str()) {
        ("backends", "servers") | ("frontends", "routes") => {
            lookup(&api, &p, &[&kind, &name, &sub])
        }
        _ => not_found(),
    }
}

pub async fn child(
    State(api): State<Arc<Api>>,
    Path((p, kind, name, sub, id)): Path<(String, String, String, String, String)>,
) -> Response {
    match (kind.as_str(), sub.as_str()) {
        ("backends", "servers") | ("frontends", "routes") => {
            lookup(&api, &p, &[&kind, &name, &sub, &id])
        }
        _ => not_found(),
    }
}
