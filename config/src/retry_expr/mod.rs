//! Buffering retry expressions (v1 `[backends.<b>.buffering] retryExpression`).
//!
//! v1 handed the expression to oxy's `buffer` middleware, which parsed it as a Go expression
//! with `vulcand/predicate`. After each attempt the middleware asks the expression whether to
//! send the buffered request again. The accepted language is small:
//!
//! | form | type |
//! |---|---|
//! | `Attempts()` | int: attempts made so far, the one just answered included (1 after the first) |
//! | `ResponseCode()` | int: the status code that answered the last attempt |
//! | `IsNetworkError()` | condition: `ResponseCode()` is 502 or 504 |
//! | `RequestMethod()` | string: the request's method, case-sensitive |
//! | `func op literal`, `op` one of `== != < <= > >=` | condition |
//! | `cond && cond`, `cond \|\| cond`, `( … )` | condition |
//!
//! Go's precedence (`||` < `&&` < comparisons) and white space apply. Types are strict, as in
//! v1: `Attempts()` and `ResponseCode()` are compared to int literals (plain decimals without
//! sign: `2`, not `2.0` or `-1`), `RequestMethod()` to a string literal with `==` or `!=`
//! only (`"GET"` with Go's escapes, or a raw `` `GET` ``). `IsNetworkError()` is a condition
//! by itself and cannot be compared. There is no negation: `!` is an error, as it was in v1
//! (oxy gave `predicate` no `NOT`); write the opposite comparison instead.
//!
//! `IsNetworkError()` reads the status only, as oxy did: the forwarder answers 502 when it
//! cannot reach the server and 504 when the server times out, but a 502 or 504 sent by the
//! server itself counts too. With oxy, the expression is not consulted once `Attempts()` is
//! above [`MAX_RETRY_ATTEMPTS`]; [`RetryExpr::should_retry`] applies that cap, so a request is
//! sent at most 11 times whatever the expression says.
//!
//! **Departures** (only on expressions v1 refused): a literal may stand on the left
//! (`2 >= Attempts()` means `Attempts() <= 2`); a line break may stand anywhere white space
//! may (Go's semicolon insertion refused one after `)` or a literal). Every error carries the
//! byte offset of the token at fault, where v1 gave a Go parser message or a reflection panic.
//! One refusal v1 did not make: a string escape for a non-ASCII byte (`"\xff"`), which no
//! HTTP method can equal.
//!
//! The lexer and the precedence-climbing parser are shared with the circuit-breaker
//! expressions ([`crate::breaker`]); this module holds what is retry's own: its lexicon (with
//! string literals), its functions and their typing, its syntax tree and its evaluation.
//!
//! ```
//! use trafik_config::retry_expr::parse;
//!
//! let expr = parse("IsNetworkError() && Attempts() <= 2").unwrap();
//! assert!(expr.should_retry(1, 502)); // first attempt failed to connect: try again
//! assert!(expr.should_retry(2, 504));
//! assert!(!expr.should_retry(3, 502)); // three attempts made: give up
//! assert!(!expr.should_retry(1, 500)); // the server answered: pass its answer on
//!
//! let expr = parse(r#"RequestMethod() == "GET" && ResponseCode() >= 500"#).unwrap();
//! assert!(expr.should_retry_request("GET", 1, 503));
//! assert!(!expr.should_retry_request("POST", 1, 503));
//!
//! let err = parse("IsNetworkError() && Attempts() <= 2.0").unwrap_err();
//! assert_eq!(err.offset, 34);
//! assert!(err.message.starts_with("`Attempts()` is an int, compared to a float"));
//! ```

mod ast;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

/// Why an expression was refused, at a byte offset of the expression text (always a char
/// boundary, at most its length). The same type as the circuit-breaker expressions'.
pub use crate::breaker::ExprError;

/// oxy's `DefaultMaxRetryAttempts`: once this many attempts were made and the last one is
/// still answered, the expression is not consulted again and that answer is passed on.
pub const MAX_RETRY_ATTEMPTS: u32 = 10;

/// A parsed, type-checked expression. Its `Display` is the canonical Go-syntax form, which
/// parses back to an equal expression.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryExpr {
    root: ast::Node,
}

impl RetryExpr {
    /// Whether to send the request again, after `attempts` attempts (1 after the first) of
    /// which the last was answered with `status`. False once `attempts` exceeds
    /// [`MAX_RETRY_ATTEMPTS`].
    ///
    /// `RequestMethod()` reads as the empty string here: it equals no method. Callers that have
    /// the request use [`RetryExpr::should_retry_request`].
    pub fn should_retry(&self, attempts: u32, status: u16) -> bool {
        self.should_retry_request("", attempts, status)
    }

    /// [`RetryExpr::should_retry`] for a request with this `method` (e.g. `"GET"`), which
    /// `RequestMethod()` reads.
    pub fn should_retry_request(&self, method: &str, attempts: u32, status: u16) -> bool {
        attempts <= MAX_RETRY_ATTEMPTS
            && self.root.eval(&eval::Attempt {
                method,
                attempts,
                status,
            })
    }
}

impl fmt::Display for RetryExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl std::str::FromStr for RetryExpr {
    type Err = ExprError;

    fn from_str(s: &str) -> Result<Self, ExprError> {
        parse(s)
    }
}

/// Parses and type-checks a buffering retry expression.
pub fn parse(expr: &str) -> Result<RetryExpr, ExprError> {
    parser::parse(expr).map(|root| RetryExpr { root })
}
