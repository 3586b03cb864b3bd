//! `GET /api/state`: what v1's API lacks: each provider's last configuration error and
//! reload time, and the live state of every backend (breaker) and server (up/down,
//! open connections, retries).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Api;

pub async fn state(State(api): State<Arc<Api>>) -> Json<Value> {
    let providers: serde_json::Map<String, Value> = api
        .status
        .providers()
        .into_iter()
        .map(|(name, p)| {
            let rfc3339 = |t: std::time::SystemTime| {
                OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
            };
            let mut entry = json!({
                "lastError": p.last_error,
                "lastReload": p.last_reload.map(rfc3339),
            });
            if let Some(store) = &p.store {
                entry["store"] = json!({
                    "up": store.up,
                    "error": store.error,
                    "lastSuccess": store.last_success.map(rfc3339),
                });
            }
            (name, entry)
        })
        .collect();
    let runtime = api.runtime.load();
    let backends: serde_json::Map<String, Value> = runtime
        .backends
        .iter()
        .map(|b| {
            let servers: serde_json::Map<String, Value> = b
                .servers
                .iter()
                .map(|s| {
                    (
                        s.url.clone(),
                        json!({
                            "name": s.name,
                            "up": s.is_up(),
                            "weight": s.weight,
                            "healthChecked": s.health.is_some(),
                        }),
                    )
                })
                .collect();
            (
                b.name.clone(),
                json!({
                    "loadBalancer": b.balancer.method_name(),
                    "weights": b.balancer.weights(),
                    "breaker": b.breaker.as_ref().map(|s| s.state().as_str()),
                    "openConnections": b.open_connections(),
                    "retries": b.retries(),
                    "servers": servers,
                }),
            )
        })
        .collect();
    let reloads = api.status.reloads();
    Json(json!({
        "providers": providers,
        "backends": backends,
        "reloads": { "total": reloads.total, "failures": reloads.failures },
        "generation": runtime.generation,
        "acme": crate::acme::status::json(&api.status.acme_certificates()),
    }))
}
