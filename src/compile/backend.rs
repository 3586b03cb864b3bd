//! One backend of the merged configuration made ready to serve: its servers (with their
//! health checks), its balancer and its resilience layers. A bad server URL skips that
//! server; a bad option (breaker expression, extractor, sizes…) skips the whole backend,
//! with an error that names the backend and points at the key, and its frontends go too.

use std::collections::HashSet;
use std::sync::Arc;

use trafik_config::{Backend, Diagnostic};
use trafik_middleware::balance::{Drr, SameSite, Sticky, Wrr};
use trafik_middleware::buffer::BufferingLayer;
use trafik_middleware::limit::{self, Extractor, MaxConnLayer};

use super::{CompileSettings, Registries, path};
use crate::backend::{BalanceMethod, Balancer, Buffering, Layers, detached_layer};
use crate::health::CheckSpec;
use crate::provider::SourceMap;
use crate::proxy::Target;
use crate::request_context::ClientKey;
use crate::runtime::{BackendHandle, ServerHandle};

/// What outlives this compilation and must be kept: the rest is dropped from the
/// registries once every backend is built.
#[derive(Default)]
pub struct Live {
    pub checks: HashSet<crate::health::CheckSpec>,
    pub breakers: HashSet<(String, String)>,
}

pub struct Built {
    pub handle: Arc<BackendHandle>,
    pub layers: Layers,
}

pub fn build(
    name: &str,
    backend: &Backend,
    settings: &CompileSettings,
    sources: &SourceMap,
    mut registries: Option<&mut Registries>,
    live: &mut Live,
    problems: &mut Vec<Diagnostic>,
) -> Option<Built> {
    let fail = |keys: &[&str], message: String| {
        let mut p = vec!["backends", name];
        p.extend_from_slice(keys);
        sources.diagnostic(&path(&p), format!("backend {name:?} skipped: {message}"))
    };

    // Sized exactly: a first push reserves room for four, and most backends have one server.
    let mut servers = Vec::with_capacity(backend.servers.len());
    let mut checks = Vec::new();
    for (server_name, server) in &backend.servers {
        let target = match Target::parse(&server.url) {
            Ok(target) => target,
            Err(e) => {
                let p = path(&["backends", name, "servers", server_name, "url"]);
                problems.push(
                    sources.diagnostic(&p, format!("backend {name:?} server {server_name:?}: {e}")),
                );
                continue;
            }
        };
        let health = match &backend.health_check {
            None => None,
            Some(check) => {
                match CheckSpec::new(name, &server.url, check, settings.health_check_interval) {
                    Ok(spec) => {
                        let h = registries.as_deref_mut().map(|r| r.health.health(&spec));
                        checks.push(spec);
                        h
                    }
                    Err(e) => {
                        problems.push(fail(&["healthCheck", "path"], e));
                        return None;
                    }
                }
            }
        };
        let weight = match server.weight {
            0 if !settings.allow_min_weight_zero => 1,
            w => u32::try_from(w).unwrap_or(u32::MAX),
        };
        servers.push(ServerHandle {
            name: server_name.clone(),
            url: server.url.clone(),
            weight,
            target,
            health,
        });
    }
    if servers.is_empty() {
        tracing::warn!("backend {name:?} has no server: its frontends answer 503");
    }

    let balancer = match balancer(name, backend, &servers) {
        Ok(b) => b,
        Err((keys, message)) => {
            problems.push(fail(keys, message));
            return None;
        }
    };
    let mut layers = Layers::default();
    if let Some(max_conn) = &backend.max_conn {
        match max_conn_layer(max_conn) {
            Ok(layer) => layers.max_conn = layer,
            Err((key, message)) => {
                problems.push(fail(&["maxConn", key], message));
                return None;
            }
        }
    }
    if let Some(buffering) = &backend.buffering {
        match buffering_layer(name, buffering) {
            Ok(b) => layers.buffering = Some(b),
            Err(BufferingError::Key(key, message)) => {
                problems.push(fail(&["buffering", key], message));
                return None;
            }
            Err(BufferingError::Expression(offset, message)) => {
                let p = path(&["backends", name, "buffering", "retryExpression"]);
                let message = format!("backend {name:?} skipped: retryExpression: {message}");
                problems.push(sources.diagnostic_in_string(&p, offset, message));
                return None;
            }
        }
    }
    if let Some(attempts) = settings.retry_attempts {
        layers.retry = Some(Layers::retry(attempts, servers.len()));
    }
    let raw = backend
        .circuit_breaker
        .as_ref()
        .map_or("", |c| c.expression.as_str());
    let expression = raw.trim();
    if !expression.is_empty() {
        match trafik_config::breaker::parse(expression) {
            Ok(expr) => {
                let layer = match registries.as_deref_mut() {
                    Some(r) => r.breakers.layer(name, expression, expr),
                    None => detached_layer(expr),
                };
                live.breakers
                    .insert((name.to_string(), expression.to_string()));
                layers.breaker = Some(layer);
            }
            Err(e) => {
                let p = path(&["backends", name, "circuitBreaker", "expression"]);
                let message = format!(
                    "backend {name:?} skipped: circuitBreaker expression: {}",
                    e.message
                );
                let offset = e.offset + leading_space(raw);
                problems.push(sources.diagnostic_in_string(&p, offset, message));
                return None;
            }
        }
    }
    live.checks.extend(checks);

    let stats = match registries {
        Some(r) => crate::stats::BackendStatsSlot::in_registry(&r.stats),
        None => Default::default(),
    };
    let handle = Arc::new(BackendHandle {
        name: name.to_string(),
        servers: servers.into_boxed_slice(),
        balancer,
        breaker: layers.breaker.as_ref().map(|l| l.state().clone()),
        stats,
    });
    Some(Built { handle, layers })
}

type KeyError = (&'static [&'static str], String);

fn balancer(name: &str, backend: &Backend, servers: &[ServerHandle]) -> Result<Balancer, KeyError> {
    let weights: Vec<u32> = servers.iter().map(|s| s.weight).collect();
    let Some(lb) = &backend.load_balancer else {
        return Ok(Balancer::new(
            BalanceMethod::Wrr(Wrr::new(weights)),
            None,
            servers,
        ));
    };
    let method = match lb.method.to_ascii_lowercase().as_str() {
        "drr" => BalanceMethod::Drr(Box::new(Drr::new(weights))),
        "wrr" | "" => BalanceMethod::Wrr(Wrr::new(weights)),
        other => {
            // v1 falls back to wrr here; say so rather than fail.
            tracing::warn!(
                "backend {name:?}: unknown loadBalancer method {other:?}, using \"wrr\" (valid: \"wrr\", \"drr\")"
            );
            BalanceMethod::Wrr(Wrr::new(weights))
        }
    };
    let sticky = match (&lb.stickiness, lb.sticky) {
        (Some(s), _) => {
            let same_site = match s.same_site.as_str() {
                "" => None,
                value => Some(SameSite::parse(value).ok_or_else(|| {
                    (
                        &["loadBalancer", "stickiness", "sameSite"][..],
                        format!("sameSite {value:?} is not one of \"none\", \"lax\", \"strict\""),
                    )
                })?),
            };
            Some(
                Sticky::for_backend(name, &s.cookie_name)
                    .secure(s.secure)
                    .http_only(s.http_only)
                    .same_site(same_site),
            )
        }
        // The deprecated `sticky = true`: v1 names the cookie as for `stickiness`.
        (None, true) => Some(Sticky::for_backend(name, "")),
        (None, false) => None,
    };
    Ok(Balancer::new(method, sticky, servers))
}

fn max_conn_layer(
    max_conn: &trafik_config::MaxConn,
) -> Result<Option<MaxConnLayer<ClientKey, limit::InPlace>>, (&'static str, String)> {
    // v1 installs no limit for an amount of 0.
    if max_conn.amount == 0 {
        return Ok(None);
    }
    let amount = usize::try_from(max_conn.amount).map_err(|_| {
        (
            "amount",
            format!("amount {} must be positive", max_conn.amount),
        )
    })?;
    let extractor: Extractor = max_conn
        .extractor_func
        .parse()
        .map_err(|e| ("extractorFunc", format!("{e}")))?;
    Ok(Some(
        MaxConnLayer::new(amount, ClientKey(extractor)).in_place(),
    ))
}

enum BufferingError {
    Key(&'static str, String),
    Expression(usize, String),
}

fn buffering_layer(name: &str, b: &trafik_config::Buffering) -> Result<Buffering, BufferingError> {
    let size = |key: &'static str, v: i64| {
        u64::try_from(v)
            .map_err(|_| BufferingError::Key(key, format!("{key} {v} must not be negative")))
    };
    let max_request = size("maxRequestBodyBytes", b.max_request_body_bytes)?;
    let max_response = size("maxResponseBodyBytes", b.max_response_body_bytes)?;
    size("memRequestBodyBytes", b.mem_request_body_bytes)?;
    size("memResponseBodyBytes", b.mem_response_body_bytes)?;
    if max_request == 0 || max_response == 0 {
        // Bodies are held in memory, never spilled to disk as v1 does past mem*BodyBytes.
        tracing::warn!(
            "backend {name:?}: buffering without maxRequestBodyBytes and maxResponseBodyBytes holds bodies of any size in memory"
        );
    }
    let mut layer = BufferingLayer::new()
        .max_request_body_bytes(max_request)
        .max_response_body_bytes(max_response);
    let expression = b.retry_expression.trim();
    let retries = !expression.is_empty();
    if retries {
        let lead = leading_space(&b.retry_expression);
        let expr = trafik_config::retry_expr::parse(expression)
            .map_err(|e| BufferingError::Expression(e.offset + lead, e.message.clone()))?;
        layer = layer.retry_if(move |attempt, status| expr.should_retry(attempt, status.as_u16()));
    }
    Ok(Buffering { layer, retries })
}

/// Errors point into the expression as written, white space included.
fn leading_space(s: &str) -> usize {
    s.len() - s.trim_start().len()
}
