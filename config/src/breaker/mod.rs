//! Circuit-breaker expressions (v1 `[backends.<b>.circuitBreaker] expression`).
//!
//! v1 handed the expression to oxy's `cbreaker`, which parsed it as a Go expression with
//! `mailgun/predicate`. The accepted language is small:
//!
//! | form | type |
//! |---|---|
//! | `NetworkErrorRatio()` | float: network errors over requests |
//! | `LatencyAtQuantileMS(q)`, `q` a float in percent (`50.0`) | int: whole milliseconds |
//! | `ResponseCodeRatio(a, b, c, d)`, four ints | float: codes in `[a, b)` over codes in `[c, d)` |
//! | `metric op literal`, `op` one of `== != < <= > >=` | condition |
//! | `cond && cond`, `cond \|\| cond`, `( … )` | condition |
//!
//! Go's precedence (`||` < `&&` < comparisons) and white space apply. Types are strict, as in
//! v1: a ratio is compared to a float literal (`> 0.5`, and `> 1` is the error "ratio compared
//! to an int"), a latency to an int literal (`> 50`, not `> 50.0`), the quantile is a float
//! (`LatencyAtQuantileMS(50.0)`, not `(50)`), status codes are ints. Numbers are plain
//! decimals without sign (`.5`, `5.`, `1e3` are floats).
//!
//! **Departures** (only on expressions v1 refused): a literal may stand on the left
//! (`0.5 < NetworkErrorRatio()` means `NetworkErrorRatio() > 0.5`). Every error carries the
//! byte offset of the token at fault, where v1 gave a Go parser message or a reflection panic.
//!
//! The lexer and the precedence-climbing parser are shared with the retry expressions
//! ([`crate::retry_expr`]); this module holds what is the breaker's own: its lexicon (no
//! strings), its metrics and their typing, its syntax tree and its evaluation.
//!
//! ```
//! use trafik_config::breaker::{Metrics, parse};
//!
//! struct Fixed;
//! impl Metrics for Fixed {
//!     fn network_error_ratio(&self) -> f64 { 0.1 }
//!     fn latency_at_quantile_ms(&self, _q: f64) -> f64 { 120.7 }
//!     fn response_code_ratio(&self, _: u16, _: u16, _: u16, _: u16) -> f64 { 0.0 }
//! }
//!
//! let expr = parse("NetworkErrorRatio() > 0.5 || LatencyAtQuantileMS(50.0) > 100").unwrap();
//! assert!(expr.eval(&Fixed));
//!
//! let err = parse("NetworkErrorRatio() > 1").unwrap_err();
//! assert_eq!(err.offset, 22);
//! assert!(err.message.starts_with("ratio compared to an int"));
//! ```

mod ast;
mod eval;
mod lexer;
mod parser;

use std::fmt;

pub use eval::Metrics;

/// A parsed, type-checked expression. Its `Display` is the canonical Go-syntax form, which
/// parses back to an equal expression.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerExpr {
    root: ast::Node,
}

impl BreakerExpr {
    /// Whether the breaker should trip given these metrics.
    pub fn eval(&self, m: &dyn Metrics) -> bool {
        self.root.eval(m)
    }

    /// Whether it reads `LatencyAtQuantileMS`: a breaker that never does need not time
    /// its requests.
    pub fn uses_latency(&self) -> bool {
        self.root.uses_latency()
    }
}

impl fmt::Display for BreakerExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl std::str::FromStr for BreakerExpr {
    type Err = ExprError;

    fn from_str(s: &str) -> Result<Self, ExprError> {
        parse(s)
    }
}

// Defined with the shared lexer and parser that produce it, and public from here as before;
// `retry_expr::ExprError` is the same type.
pub use crate::expr::ExprError;

/// Parses and type-checks a circuit-breaker expression.
pub fn parse(expr: &str) -> Result<BreakerExpr, ExprError> {
    parser::parse(expr).map(|root| BreakerExpr { root })
}
