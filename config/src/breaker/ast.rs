//! The typed syntax tree. Typing happens while parsing, so a tree that exists is well typed:
//! every comparison sets a metric against a literal of the metric's own type.

use std::fmt;

use crate::expr::write_list;

use super::lexer::CmpOp;

/// A boolean node. `&&` and `||` chains are flat lists (not nested pairs) so that a long chain
/// costs no recursion depth when it is evaluated, printed or dropped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(Cmp),
}

/// `metric op literal`. A literal written on the left was moved to the right by the parser,
/// mirroring the operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cmp {
    Float {
        metric: FloatMetric,
        op: CmpOp,
        value: f64,
    },
    Int {
        metric: IntMetric,
        op: CmpOp,
        value: i64,
    },
}

/// Metrics that are ratios (Go `float64`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FloatMetric {
    NetworkErrorRatio,
    /// Codes in `[a, b)` over codes in `[c, d)`.
    ResponseCodeRatio(u16, u16, u16, u16),
}

/// Metrics that are whole numbers (Go `int`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum IntMetric {
    /// Whole milliseconds at a quantile given in percent (50.0 = median).
    LatencyAtQuantileMs(f64),
}

impl Node {
    pub(crate) fn uses_latency(&self) -> bool {
        match self {
            Node::And(items) | Node::Or(items) => items.iter().any(Node::uses_latency),
            Node::Cmp(Cmp::Int { metric, .. }) => match metric {
                IntMetric::LatencyAtQuantileMs(_) => true,
            },
            Node::Cmp(Cmp::Float { .. }) => false,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::And(items) => write_list(f, items, "&&", |n| matches!(n, Node::Or(_))),
            Node::Or(items) => write_list(f, items, "||", |_| false),
            Node::Cmp(cmp) => cmp.fmt(f),
        }
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `{:?}` always prints a `.` or an exponent, so the literal stays a float when read
            // back (`1.0`, not `1`).
            Cmp::Float { metric, op, value } => write!(f, "{metric} {} {value:?}", op.symbol()),
            Cmp::Int { metric, op, value } => write!(f, "{metric} {} {value}", op.symbol()),
        }
    }
}

impl fmt::Display for FloatMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FloatMetric::NetworkErrorRatio => f.write_str("NetworkErrorRatio()"),
            FloatMetric::ResponseCodeRatio(a, b, c, d) => {
                write!(f, "ResponseCodeRatio({a}, {b}, {c}, {d})")
            }
        }
    }
}

impl fmt::Display for IntMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntMetric::LatencyAtQuantileMs(q) => write!(f, "LatencyAtQuantileMS({q:?})"),
        }
    }
}
