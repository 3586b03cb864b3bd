//! The breaker expression's functions and types, plugged into the shared parser
//! ([`crate::expr::parser`]).
//!
//! Every sub-expression is typed (condition, float metric, int metric, float or int literal)
//! the moment it is built, so a type error is reported at the operand that has the wrong type,
//! not at the end.

use super::ExprError;
use super::ast::{Cmp, FloatMetric, IntMetric, Node};
use super::lexer::LEXICON;
use crate::expr::lexer::{CmpOp, Lexicon, Tok};
use crate::expr::parser::{Cursor, Grammar, Term, grammar_tree, int_instead_of};

const FUNCTIONS: &str =
    "NetworkErrorRatio(), LatencyAtQuantileMS(quantile) and ResponseCodeRatio(a, b, c, d)";

pub(crate) fn parse(src: &str) -> Result<Node, ExprError> {
    crate::expr::parser::parse::<Breaker>(src)
}

/// The type of a sub-expression.
enum Kind {
    Cond(Node),
    Float(FloatMetric),
    Int(IntMetric),
    FloatLit(f64),
    IntLit(i64),
}

/// A function argument: always a number literal.
enum Num {
    Int(i64),
    Float(f64),
}

struct Breaker;

impl Grammar for Breaker {
    grammar_tree!(Node, Kind);

    const LEXICON: Lexicon = LEXICON;

    fn literal(tok: &Tok<'_>) -> Option<Kind> {
        match *tok {
            Tok::Int(v) => Some(Kind::IntLit(v)),
            Tok::Float(v) => Some(Kind::FloatLit(v)),
            _ => None,
        }
    }

    fn condition(term: Term<Kind>) -> Result<Node, ExprError> {
        condition(term)
    }

    /// `Name(literal, …)`, with `name` at `at` already consumed.
    fn call(p: &mut Cursor<'_>, at: usize, name: &str) -> Result<Kind, ExprError> {
        let known = matches!(
            name,
            "NetworkErrorRatio" | "LatencyAtQuantileMS" | "ResponseCodeRatio"
        );
        if !known {
            let msg = format!("unknown function `{name}`; the functions are {FUNCTIONS}");
            return Err(ExprError::new(at, msg));
        }
        if p.peek() != &Tok::LParen {
            let msg = format!("`{name}` is a function: call it, e.g. `{name}(…)`");
            return Err(ExprError::new(at, msg));
        }
        let (open, _) = p.next();
        let mut args = Vec::new();
        loop {
            let (arg_at, tok) = p.next();
            match tok {
                Tok::RParen => break,
                Tok::Int(v) => args.push((arg_at, Num::Int(v))),
                Tok::Float(v) => args.push((arg_at, Num::Float(v))),
                Tok::End => return Err(ExprError::new(open, "unclosed `(`")),
                tok @ (Tok::Ident(_) | Tok::LParen) => {
                    let msg = format!(
                        "arguments of `{name}` are number literals, found {}",
                        tok.describe()
                    );
                    return Err(ExprError::new(arg_at, msg));
                }
                // An operator here most likely means the `)` was forgotten.
                tok => {
                    let msg = format!("expected `)` closing `{name}(`, found {}", tok.describe());
                    return Err(ExprError::new(arg_at, msg));
                }
            }
            // Go allows a trailing comma: `f(1, 2,)`.
            match p.next() {
                (_, Tok::Comma) => {}
                (_, Tok::RParen) => break,
                (_, Tok::End) => return Err(ExprError::new(open, "unclosed `(`")),
                (at, tok) => {
                    let msg = format!("expected `,` or `)`, found {}", tok.describe());
                    return Err(ExprError::new(at, msg));
                }
            }
        }
        let close = p.last_offset();
        let kind = match name {
            "NetworkErrorRatio" => {
                if let Some((arg_at, _)) = args.first() {
                    let msg = "`NetworkErrorRatio()` takes no arguments";
                    return Err(ExprError::new(*arg_at, msg));
                }
                Kind::Float(FloatMetric::NetworkErrorRatio)
            }
            "LatencyAtQuantileMS" => {
                let usage = "`LatencyAtQuantileMS` takes one argument, the quantile in percent \
                             as a float, e.g. `LatencyAtQuantileMS(50.0)`";
                let q = match args.as_slice() {
                    [] => return Err(ExprError::new(close, usage)),
                    [(_, Num::Float(q))] => *q,
                    [(at, Num::Int(q))] => {
                        let msg =
                            format!("the quantile must be a float such as {q}.0, not the int {q}");
                        return Err(ExprError::new(*at, msg));
                    }
                    [_, (at, _), ..] => return Err(ExprError::new(*at, usage)),
                };
                Kind::Int(IntMetric::LatencyAtQuantileMs(q))
            }
            _ => {
                let mut codes = [0u16; 4];
                for (i, (arg_at, tok)) in args.iter().enumerate() {
                    if i == 4 {
                        let msg = format!(
                            "`ResponseCodeRatio` takes 4 arguments (a, b, c, d), got {}",
                            args.len()
                        );
                        return Err(ExprError::new(*arg_at, msg));
                    }
                    codes[i] = match tok {
                        // Status codes are below 1000, so clamping a bound to u16 changes no
                        // result while keeping v1's acceptance of any int.
                        Num::Int(v) => u16::try_from((*v).max(0)).unwrap_or(u16::MAX),
                        Num::Float(v) => {
                            let msg = format!("status codes must be ints such as 500, not {v:?}");
                            return Err(ExprError::new(*arg_at, msg));
                        }
                    };
                }
                if args.len() < 4 {
                    let msg = format!(
                        "`ResponseCodeRatio` takes 4 arguments (a, b, c, d): the ratio of codes \
                         in [a, b) over codes in [c, d); got {}",
                        args.len()
                    );
                    return Err(ExprError::new(close, msg));
                }
                let [a, b, c, d] = codes;
                Kind::Float(FloatMetric::ResponseCodeRatio(a, b, c, d))
            }
        };
        Ok(kind)
    }

    fn compare(l: Term<Kind>, op: CmpOp, at: usize, r: Term<Kind>) -> Result<Node, ExprError> {
        compare(l, op, at, r).map(Node::Cmp)
    }
}

/// The term as a condition, or an error saying how to make it one.
fn condition(term: Term<Kind>) -> Result<Node, ExprError> {
    let msg = match term.kind {
        Kind::Cond(node) => return Ok(node),
        Kind::Float(m) => format!("`{m}` alone is not a condition; compare it, e.g. `{m} > 0.5`"),
        Kind::Int(m) => format!("`{m}` alone is not a condition; compare it, e.g. `{m} > 50`"),
        Kind::FloatLit(_) | Kind::IntLit(_) => {
            "a number alone is not a condition; compare a metric to it".to_string()
        }
    };
    Err(ExprError::new(term.at, msg))
}

/// Types `left op right`: one side a metric, the other a literal of the metric's type.
fn compare(left: Term<Kind>, op: CmpOp, op_at: usize, right: Term<Kind>) -> Result<Cmp, ExprError> {
    use Kind::*;
    let err = |at: usize, msg: String| Err(ExprError::new(at, msg));
    match (left.kind, right.kind) {
        (Float(metric), FloatLit(value)) => Ok(Cmp::Float { metric, op, value }),
        (Int(metric), IntLit(value)) => Ok(Cmp::Int { metric, op, value }),
        // v1 refused a literal on the left; accepting it changes no expression v1 accepted.
        (FloatLit(value), Float(metric)) => Ok(Cmp::Float {
            metric,
            op: op.mirrored(),
            value,
        }),
        (IntLit(value), Int(metric)) => Ok(Cmp::Int {
            metric,
            op: op.mirrored(),
            value,
        }),
        (Float(m), IntLit(v)) => err(right.at, ratio_vs_int(m, v)),
        (IntLit(v), Float(m)) => err(left.at, ratio_vs_int(m, v)),
        (Int(m), FloatLit(v)) => err(right.at, latency_vs_float(m, v)),
        (FloatLit(v), Int(m)) => err(left.at, latency_vs_float(m, v)),
        (Cond(_), _) => err(
            op_at,
            format!(
                "a comparison cannot be compared again with `{}`; join conditions with `&&` or `||`",
                op.symbol()
            ),
        ),
        (_, Cond(_)) => err(
            right.at,
            "a condition cannot be compared; compare a metric to a number".to_string(),
        ),
        (Float(_) | Int(_), Float(_) | Int(_)) => err(
            right.at,
            "a metric can only be compared to a number literal, not to another metric".to_string(),
        ),
        (FloatLit(_) | IntLit(_), FloatLit(_) | IntLit(_)) => err(
            left.at,
            "two numbers compared: one side must be a metric such as NetworkErrorRatio()"
                .to_string(),
        ),
    }
}

fn ratio_vs_int(metric: FloatMetric, value: i64) -> String {
    format!("ratio compared to an int: `{metric}` is a float, write {value}.0 instead of {value}")
}

fn latency_vs_float(metric: IntMetric, value: f64) -> String {
    let hint = int_instead_of(value, 50);
    format!("latency compared to a float: `{metric}` is an int number of milliseconds, {hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> ExprError {
        parse(src).expect_err(src)
    }

    #[test]
    fn precedence_and_flattening() {
        let node = parse("NetworkErrorRatio() > 0.5 || NetworkErrorRatio() < 0.1 && LatencyAtQuantileMS(50.0) > 10")
            .unwrap();
        let Node::Or(items) = &node else {
            panic!("{node:?}")
        };
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[1], Node::And(v) if v.len() == 2));

        let node = parse("(NetworkErrorRatio() > 0.5 && NetworkErrorRatio() > 0.6) && (NetworkErrorRatio() > 0.7)").unwrap();
        assert!(matches!(&node, Node::And(v) if v.len() == 3), "{node:?}");
    }

    #[test]
    fn latency_is_found_at_any_depth() {
        let uses = |src: &str| parse(src).unwrap().uses_latency();
        assert!(!uses("NetworkErrorRatio() > 0.5"));
        assert!(!uses(
            "ResponseCodeRatio(500, 600, 0, 600) > 0.5 || NetworkErrorRatio() > 0.1"
        ));
        assert!(uses("LatencyAtQuantileMS(50.0) > 100"));
        assert!(uses(
            "NetworkErrorRatio() > 0.5 || (NetworkErrorRatio() < 0.1 && LatencyAtQuantileMS(99.0) > 10)"
        ));
    }

    #[test]
    fn literal_on_the_left_is_mirrored() {
        assert_eq!(
            parse("0.5 < NetworkErrorRatio()").unwrap(),
            parse("NetworkErrorRatio() > 0.5").unwrap()
        );
        assert_eq!(
            parse("100 >= LatencyAtQuantileMS(99.0)").unwrap(),
            parse("LatencyAtQuantileMS(99.0) <= 100").unwrap()
        );
    }

    #[test]
    fn status_code_bounds_are_clamped() {
        let node = parse("ResponseCodeRatio(500, 100000, 0, 600) > 0.5").unwrap();
        assert_eq!(
            node.to_string(),
            "ResponseCodeRatio(500, 65535, 0, 600) > 0.5"
        );
    }

    #[test]
    fn missing_operands() {
        let e = err("NetworkErrorRatio() >");
        assert_eq!(
            (e.offset, e.message.as_str()),
            (21, "missing operand after `>`")
        );
        let e = err("> 0.5");
        assert_eq!(
            (e.offset, e.message.as_str()),
            (0, "missing operand before `>`")
        );
        let e = err("NetworkErrorRatio() > 0.5 && && NetworkErrorRatio() > 0.5");
        assert_eq!(
            (e.offset, e.message.as_str()),
            (29, "missing operand after `&&`")
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!(
            "{}NetworkErrorRatio() > 0.5{}",
            "(".repeat(100),
            ")".repeat(100)
        );
        assert_eq!(err(&deep).message, "parentheses nested too deeply");
        let ok = format!(
            "{}NetworkErrorRatio() > 0.5{}",
            "(".repeat(60),
            ")".repeat(60)
        );
        assert!(parse(&ok).is_ok());
    }
}
