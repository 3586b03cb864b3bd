//! A frontend's `rateLimit`, compiled. A bad rate set or extractor skips the frontend,
//! located at the key, rather than serving it unlimited.

use std::collections::HashSet;

use trafik_config::{Diagnostic, Frontend};
use trafik_middleware::limit::Extractor;
use trafik_middleware::rate::{MAX_KEYS, Rate, RateLimiter};

use crate::frontend::rate_limit::{RateLimit, RateLimitRegistry};
use crate::provider::SourceMap;

/// `Ok(None)`: no limit. `Err(())`: reported in `problems`; skip the frontend. With a
/// registry the limiter is the one kept for this frontend and settings, and the name is
/// added to `live`.
pub(super) fn frontend(
    name: &str,
    frontend: &Frontend,
    sources: &SourceMap,
    registry: Option<&mut RateLimitRegistry>,
    live: &mut HashSet<String>,
    problems: &mut Vec<Diagnostic>,
) -> Result<Option<RateLimit>, ()> {
    let Some(settings) = &frontend.rate_limit else {
        return Ok(None);
    };
    let mut report = |rest: &[&str], message: String| {
        let path: Vec<String> = ["frontends", name, "rateLimit"]
            .iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect();
        let message = format!("frontend {name:?} skipped: rateLimit: {message}");
        problems.push(sources.diagnostic(&path, message));
    };
    let extractor = match settings.extractor_func.parse::<Extractor>() {
        Ok(e) => e,
        Err(e) => {
            report(&["extractorFunc"], e.to_string());
            return Err(());
        }
    };
    if settings.rate_set.is_empty() {
        report(&[], "no rateSet: at least one is needed".into());
        return Err(());
    }
    let mut rates = Vec::with_capacity(settings.rate_set.len());
    for (set, r) in &settings.rate_set {
        let period = r.period.map(|p| p.get()).unwrap_or_default();
        match Rate::new(period, r.average, r.burst) {
            Ok(rate) => rates.push(rate),
            Err(e) => {
                report(&["rateSet", set, e.field], format!("rateSet {set:?}: {e}"));
                return Err(());
            }
        }
    }
    let make = || RateLimiter::new(rates, MAX_KEYS);
    let limiter = match registry {
        Some(registry) => {
            live.insert(name.to_string());
            registry.limiter(name, settings, make)
        }
        None => std::sync::Arc::new(make()),
    };
    Ok(Some(RateLimit::new(extractor, limiter)))
}
