//! The typed syntax tree. Typing happens while parsing, so a tree that exists is well typed:
//! every comparison sets a function against a literal of the function's own type.

use std::fmt;

use crate::expr::write_list;

use super::lexer::{CmpOp, GoQuoted};

/// A boolean node. `&&` and `||` chains are flat lists (not nested pairs) so that a long chain
/// costs no recursion depth when it is evaluated, printed or dropped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    /// `IsNetworkError()`: the response code is 502 or 504.
    IsNetworkError,
    Cmp(Cmp),
}

/// `function op literal`. A literal written on the left was moved to the right by the parser,
/// mirroring the operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cmp {
    Int {
        func: IntFn,
        op: CmpOp,
        value: i64,
    },
    /// `RequestMethod() == "GET"` or `!=`: strings have no order in v1.
    Method {
        equal: bool,
        value: String,
    },
}

/// Functions that are whole numbers (Go `int`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntFn {
    /// Attempts made so far, the one just made included: 1 after the first.
    Attempts,
    /// Status code of the response to the attempt just made.
    ResponseCode,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::And(items) => write_list(f, items, "&&", |n| matches!(n, Node::Or(_))),
            Node::Or(items) => write_list(f, items, "||", |_| false),
            Node::IsNetworkError => f.write_str("IsNetworkError()"),
            Node::Cmp(cmp) => cmp.fmt(f),
        }
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cmp::Int { func, op, value } => write!(f, "{func} {} {value}", op.symbol()),
            Cmp::Method { equal, value } => {
                let op = if *equal { "==" } else { "!=" };
                write!(f, "RequestMethod() {op} {}", GoQuoted(value))
            }
        }
    }
}

impl fmt::Display for IntFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntFn::Attempts => "Attempts()",
            IntFn::ResponseCode => "ResponseCode()",
        })
    }
}
