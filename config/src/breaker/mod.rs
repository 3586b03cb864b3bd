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

/// Why an expression was refused, at a byte offset of the expression text (always a char
/// boundary, at most its length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

impl ExprError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        ExprError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for ExprError {}

/// Parses and type-checks a circuit-breaker expression.
pub fn parse(expr: &str) -> Result<BreakerExpr, ExprError> {
    parser::parse(expr).map(|root| BreakerExpr { root })
}
