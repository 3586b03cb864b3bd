//! Circuit-breaker states that outlive a configuration, and the glue between the breaker
//! layer's rolling metrics and the expression language of `trafik-config`.

use std::collections::{HashMap, HashSet};

use trafik_config::breaker::{BreakerExpr, Metrics};
use trafik_middleware::breaker::{BreakerLayer, BreakerState, RollingMetrics, State};

use crate::proxy::{ErrorKind, ProxyError};

pub type Classifier = fn(&ProxyError) -> bool;

/// Every failure trafik sees on the way to a server counts as a network error, except
/// having no server at all (that is the breaker's own business, not the network's) and a
/// client's broken request body (the client's fault: a client must not trip the breaker).
fn is_network_error(e: &ProxyError) -> bool {
    !(e.kind == ErrorKind::NoServer || e.kind.is_clients())
}

/// `RollingMetrics` seen through the expression language's `Metrics` trait.
struct View<'a>(&'a RollingMetrics);

impl Metrics for View<'_> {
    fn network_error_ratio(&self) -> f64 {
        self.0.network_error_ratio()
    }
    fn latency_at_quantile_ms(&self, q: f64) -> f64 {
        self.0.latency_at_quantile_ms(q)
    }
    fn response_code_ratio(&self, a: u16, b: u16, c: u16, d: u16) -> f64 {
        self.0.response_code_ratio(a, b, c, d)
    }
}

/// Breaker states by (backend, expression): a reload that keeps both keeps the state, so
/// a tripped breaker stays tripped.
#[derive(Default)]
pub struct BreakerRegistry {
    states: HashMap<(String, String), BreakerState>,
}

impl BreakerRegistry {
    pub fn layer(
        &mut self,
        backend: &str,
        expression: &str,
        expr: BreakerExpr,
    ) -> BreakerLayer<Classifier> {
        let state = self
            .states
            .entry((backend.to_string(), expression.to_string()))
            .or_default()
            .clone();
        layer(state, expr)
    }

    pub fn retain(&mut self, live: &HashSet<(String, String)>) {
        self.states.retain(|k, _| live.contains(k));
    }

    /// The state of each backend's breaker, for the API and metrics.
    pub fn states(&self) -> impl Iterator<Item = (&str, State)> {
        self.states
            .iter()
            .map(|((b, _), s)| (b.as_str(), s.state()))
    }
}

/// A layer without a registry (for `trafik check`, which serves nothing).
pub fn detached_layer(expr: BreakerExpr) -> BreakerLayer<Classifier> {
    layer(BreakerState::new(), expr)
}

fn layer(state: BreakerState, expr: BreakerExpr) -> BreakerLayer<Classifier> {
    let timed = expr.uses_latency();
    BreakerLayer::new(state, move |m: &RollingMetrics| expr.eval(&View(m)))
        .network_errors(is_network_error as Classifier)
        .timed(timed)
}
