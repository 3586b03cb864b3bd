//! Evaluating a parsed expression against the breaker's rolling metrics.

use super::ast::{Cmp, FloatMetric, IntMetric, Node};

/// What an expression reads. The circuit breaker implements it over its rolling window; the
/// expression knows nothing of how the numbers are kept.
pub trait Metrics {
    /// Network errors over all requests in the window; 0 when there were none.
    fn network_error_ratio(&self) -> f64;
    /// Latency at quantile `q` (in percent: 50.0 is the median), in milliseconds; 0 when no
    /// request was seen. The expression truncates it to whole milliseconds, as v1 does.
    fn latency_at_quantile_ms(&self, q: f64) -> f64;
    /// Responses with a status code in `[a, b)` over those in `[c, d)`; 0 when the latter is 0.
    fn response_code_ratio(&self, a: u16, b: u16, c: u16, d: u16) -> f64;
}

impl Node {
    pub(crate) fn eval(&self, m: &dyn Metrics) -> bool {
        match self {
            Node::And(items) => items.iter().all(|n| n.eval(m)),
            Node::Or(items) => items.iter().any(|n| n.eval(m)),
            Node::Cmp(cmp) => cmp.eval(m),
        }
    }
}

impl Cmp {
    fn eval(&self, m: &dyn Metrics) -> bool {
        match *self {
            Cmp::Float { metric, op, value } => {
                let actual = match metric {
                    FloatMetric::NetworkErrorRatio => m.network_error_ratio(),
                    FloatMetric::ResponseCodeRatio(a, b, c, d) => m.response_code_ratio(a, b, c, d),
                };
                op.holds(actual.partial_cmp(&value))
            }
            Cmp::Int { metric, op, value } => {
                let IntMetric::LatencyAtQuantileMs(q) = metric;
                // v1: `int(latency / time.Millisecond)`, i.e. truncated. `as` saturates and
                // maps NaN to 0, so a misbehaving `Metrics` cannot make this panic.
                let actual = m.latency_at_quantile_ms(q).trunc() as i64;
                op.holds(Some(actual.cmp(&value)))
            }
        }
    }
}
