//! What the circuit-breaker ([`crate::breaker`]) and buffering retry ([`crate::retry_expr`])
//! expressions share.
//!
//! Both are the same small slice of Go: v1 handed each to oxy, which parsed it as a Go
//! expression (`mailgun/predicate` and `vulcand/predicate`). So both have Go's lexical grammar
//! (white space, identifiers, plain decimal numbers, the comparison operators, `&&`, `||`,
//! parentheses), Go's precedence (`||` < `&&` < comparisons), calls with literal arguments,
//! and the same error wording and byte offsets. That part lives here, once:
//!
//! - [`lexer`]: the tokens and [`lexer::tokenize`]. What differs between the languages is a
//!   [`lexer::Lexicon`]: whether there are string literals at all (only retry expressions have
//!   them, for `RequestMethod()`; in a breaker expression a quote stays an unexpected
//!   character), how a refused character is explained, which numbers the examples show.
//! - [`parser`]: precedence climbing over `||`, `&&`, comparisons and parentheses, with the
//!   nesting limit and the flattening of `&&`/`||` chains. A language plugs in as a
//!   [`parser::Grammar`]: its functions, its literal types, its type checks and their messages.
//! - [`write_list`], [`lexer::CmpOp::symbol`] and [`lexer::GoQuoted`]: the pieces of the canonical `Display`
//!   form.
//!
//! Each language keeps what is its own: its syntax tree, its typing rules and their error
//! messages, its evaluation and its documentation.

pub(crate) mod lexer;
pub(crate) mod parser;

use std::fmt;

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

/// Writes `a op b op c`, the canonical form of an `&&` or `||` list, parenthesising the items
/// `looser` says bind looser than `op` (an `||` inside `&&`). Same-kind chains need none: `&&`
/// and `||` are associative, and the parser flattens them.
pub(crate) fn write_list<N: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[N],
    op: &str,
    looser: impl Fn(&N) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            write!(f, " {op} ")?;
        }
        if looser(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}
