//! Recursive descent over the tokens, typing as it goes.
//!
//! Go's precedence: `||` < `&&` < comparisons, all left-associative. Every sub-expression is
//! typed (condition, float metric, int metric, float or int literal) the moment it is built,
//! so a type error is reported at the operand that has the wrong type, not at the end.

use super::ExprError;
use super::ast::{Cmp, FloatMetric, IntMetric, Node};
use super::lexer::{CmpOp, Tok, tokenize};

/// Deep enough for any hand-written expression, shallow enough that the parser's recursion
/// (four frames a level) cannot exhaust the stack on hostile input.
const MAX_NESTING: usize = 64;

const FUNCTIONS: &str =
    "NetworkErrorRatio(), LatencyAtQuantileMS(quantile) and ResponseCodeRatio(a, b, c, d)";

pub(crate) fn parse(src: &str) -> Result<Node, ExprError> {
    let mut p = Parser {
        toks: tokenize(src)?,
        pos: 0,
    };
    if p.peek() == &Tok::End {
        return Err(ExprError::new(0, "empty expression"));
    }
    let root = p.or(0)?;
    match p.peek() {
        Tok::End => {}
        Tok::RParen => return Err(p.error_here("unmatched `)`")),
        tok => {
            let msg = format!(
                "unexpected {}; expected `&&`, `||` or the end",
                tok.describe()
            );
            return Err(p.error_here(msg));
        }
    }
    condition(root)
}

/// A sub-expression with its type and where it starts.
struct Term {
    at: usize,
    kind: Kind,
}

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

struct Parser<'a> {
    toks: Vec<(usize, Tok<'a>)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok<'a> {
        &self.toks[self.pos].1
    }

    fn offset(&self) -> usize {
        self.toks[self.pos].0
    }

    /// The current token and its offset; stays on [`Tok::End`] once there.
    fn next(&mut self) -> (usize, Tok<'a>) {
        let tok = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        tok
    }

    fn error_here(&self, message: impl Into<String>) -> ExprError {
        ExprError::new(self.offset(), message)
    }

    fn or(&mut self, depth: usize) -> Result<Term, ExprError> {
        self.chain(depth, Tok::OrOr, Self::and)
    }

    fn and(&mut self, depth: usize) -> Result<Term, ExprError> {
        self.chain(depth, Tok::AndAnd, Self::cmp)
    }

    /// `item (sep item)*` with `sep` `&&` or `||`, every item a condition; a parenthesised
    /// list of the same kind is flattened into this one.
    fn chain(
        &mut self,
        depth: usize,
        sep: Tok<'static>,
        item: fn(&mut Self, usize) -> Result<Term, ExprError>,
    ) -> Result<Term, ExprError> {
        let first = item(self, depth)?;
        if *self.peek() != sep {
            return Ok(first);
        }
        let at = first.at;
        let is_and = sep == Tok::AndAnd;
        let mut items = Vec::new();
        let mut push = |node| match node {
            Node::And(inner) if is_and => items.extend(inner),
            Node::Or(inner) if !is_and => items.extend(inner),
            node => items.push(node),
        };
        push(condition(first)?);
        while *self.peek() == sep {
            self.next();
            push(condition(item(self, depth)?)?);
        }
        let node = if is_and {
            Node::And(items)
        } else {
            Node::Or(items)
        };
        Ok(Term {
            at,
            kind: Kind::Cond(node),
        })
    }

    fn cmp(&mut self, depth: usize) -> Result<Term, ExprError> {
        let mut left = self.operand(depth)?;
        while let Tok::Op(op) = *self.peek() {
            let (op_at, _) = self.next();
            let right = self.operand(depth)?;
            left = Term {
                at: left.at,
                kind: Kind::Cond(Node::Cmp(compare(left, op, op_at, right)?)),
            };
        }
        Ok(left)
    }

    fn operand(&mut self, depth: usize) -> Result<Term, ExprError> {
        let pos = self.pos;
        let (at, tok) = self.next();
        let kind = match tok {
            Tok::Ident(name) => return self.call(at, name),
            Tok::Int(v) => Kind::IntLit(v),
            Tok::Float(v) => Kind::FloatLit(v),
            Tok::LParen => {
                if depth >= MAX_NESTING {
                    return Err(ExprError::new(at, "parentheses nested too deeply"));
                }
                let inner = self.or(depth + 1)?;
                match self.peek() {
                    Tok::RParen => {
                        self.next();
                    }
                    Tok::End => return Err(ExprError::new(at, "unclosed `(`")),
                    tok => {
                        let msg = format!("expected `)`, found {}", tok.describe());
                        return Err(self.error_here(msg));
                    }
                }
                // Keep the `(` as the start, so that "not a condition" points at the group.
                return Ok(Term {
                    at,
                    kind: inner.kind,
                });
            }
            tok => {
                let msg = match pos.checked_sub(1) {
                    Some(prev) => format!("missing operand after {}", self.toks[prev].1.describe()),
                    None => format!("missing operand before {}", tok.describe()),
                };
                return Err(ExprError::new(at, msg));
            }
        };
        Ok(Term { at, kind })
    }

    /// `Name(literal, …)`, with `name` at `at` already consumed.
    fn call(&mut self, at: usize, name: &str) -> Result<Term, ExprError> {
        let known = matches!(
            name,
            "NetworkErrorRatio" | "LatencyAtQuantileMS" | "ResponseCodeRatio"
        );
        if !known {
            let msg = format!("unknown function `{name}`; the functions are {FUNCTIONS}");
            return Err(ExprError::new(at, msg));
        }
        if self.peek() != &Tok::LParen {
            let msg = format!("`{name}` is a function: call it, e.g. `{name}(…)`");
            return Err(ExprError::new(at, msg));
        }
        let (open, _) = self.next();
        let mut args = Vec::new();
        loop {
            let (arg_at, tok) = self.next();
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
            match self.next() {
                (_, Tok::Comma) => {}
                (_, Tok::RParen) => break,
                (_, Tok::End) => return Err(ExprError::new(open, "unclosed `(`")),
                (at, tok) => {
                    let msg = format!("expected `,` or `)`, found {}", tok.describe());
                    return Err(ExprError::new(at, msg));
                }
            }
        }
        let close = self.toks[self.pos - 1].0;
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
        Ok(Term { at, kind })
    }
}

/// The term as a condition, or an error saying how to make it one.
fn condition(term: Term) -> Result<Node, ExprError> {
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
fn compare(left: Term, op: CmpOp, op_at: usize, right: Term) -> Result<Cmp, ExprError> {
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
    let hint = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("write {} instead of {value:?}", value as i64)
    } else {
        "write an int such as 50".to_string()
    };
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
