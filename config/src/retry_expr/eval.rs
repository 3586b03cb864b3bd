//! Evaluating a parsed expression against the attempt just made.

use super::ast::{Cmp, IntFn, Node};

/// What an expression reads: the request's method, how many attempts were made and the status
/// of the last one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub(crate) method: &'a str,
    pub(crate) attempts: u32,
    pub(crate) status: u16,
}

impl Node {
    pub(crate) fn eval(&self, a: &Attempt<'_>) -> bool {
        match self {
            Node::And(items) => items.iter().all(|n| n.eval(a)),
            Node::Or(items) => items.iter().any(|n| n.eval(a)),
            // oxy: `responseCode == 502 || responseCode == 504`, the forwarder's own answers
            // to a failed dial or an upstream timeout.
            Node::IsNetworkError => matches!(a.status, 502 | 504),
            Node::Cmp(cmp) => cmp.eval(a),
        }
    }
}

impl Cmp {
    fn eval(&self, a: &Attempt<'_>) -> bool {
        match self {
            Cmp::Int { func, op, value } => {
                let actual = match func {
                    IntFn::Attempts => i64::from(a.attempts),
                    IntFn::ResponseCode => i64::from(a.status),
                };
                op.holds(Some(actual.cmp(value)))
            }
            // Go's `==` on strings: exact, case-sensitive.
            Cmp::Method { equal, value } => (a.method == value) == *equal,
        }
    }
}
