//! Recursive descent over the tokens, typing as it goes.
//!
//! Go's precedence: `||` < `&&` < comparisons, all left-associative. Every sub-expression is
//! typed (condition, int function, string function, int, float or string literal) the moment
//! it is built, so a type error is reported at the operand that has the wrong type, not at the
//! end.

use super::ExprError;
use super::ast::{Cmp, IntFn, Node};
use super::lexer::{CmpOp, Tok, tokenize};

/// Deep enough for any hand-written expression, shallow enough that the parser's recursion
/// (four frames a level) cannot exhaust the stack on hostile input.
const MAX_NESTING: usize = 64;

const FUNCTIONS: &str = "IsNetworkError(), Attempts(), ResponseCode() and RequestMethod()";

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
    Func(Func),
    Lit(Lit),
}

/// A function that is not itself a condition.
#[derive(Clone, Copy)]
enum Func {
    Int(IntFn),
    /// `RequestMethod()`, a string.
    Method,
}

enum Lit {
    Int(i64),
    Float(f64),
    Str(String),
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
            Tok::Int(v) => Kind::Lit(Lit::Int(v)),
            Tok::Float(v) => Kind::Lit(Lit::Float(v)),
            Tok::Str(s) => Kind::Lit(Lit::Str(s)),
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

    /// `Name()`, with `name` at `at` already consumed. No function takes arguments.
    fn call(&mut self, at: usize, name: &str) -> Result<Term, ExprError> {
        let kind = match name {
            "IsNetworkError" => Kind::Cond(Node::IsNetworkError),
            "Attempts" => Kind::Func(Func::Int(IntFn::Attempts)),
            "ResponseCode" => Kind::Func(Func::Int(IntFn::ResponseCode)),
            "RequestMethod" => Kind::Func(Func::Method),
            "true" | "false" => {
                let msg = format!(
                    "`{name}` is not supported: conditions are comparisons and IsNetworkError()"
                );
                return Err(ExprError::new(at, msg));
            }
            _ => {
                let hint = [
                    "IsNetworkError",
                    "Attempts",
                    "ResponseCode",
                    "RequestMethod",
                ]
                .into_iter()
                .find(|f| f.eq_ignore_ascii_case(name))
                .map_or_else(String::new, |f| {
                    format!(" (names are case-sensitive: `{f}`)")
                });
                let msg = format!("unknown function `{name}`{hint}; the functions are {FUNCTIONS}");
                return Err(ExprError::new(at, msg));
            }
        };
        if self.peek() != &Tok::LParen {
            let msg = format!("`{name}` is a function: call it, `{name}()`");
            return Err(ExprError::new(at, msg));
        }
        let (open, _) = self.next();
        match self.next() {
            (_, Tok::RParen) => Ok(Term { at, kind }),
            (_, Tok::End) => Err(ExprError::new(open, "unclosed `(`")),
            (arg_at, Tok::Ident(_) | Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::LParen) => {
                let msg = format!("`{name}()` takes no arguments");
                Err(ExprError::new(arg_at, msg))
            }
            // An operator here most likely means the `)` was forgotten.
            (tok_at, tok) => {
                let msg = format!("expected `)` closing `{name}(`, found {}", tok.describe());
                Err(ExprError::new(tok_at, msg))
            }
        }
    }
}

/// The term as a condition, or an error saying how to make it one.
fn condition(term: Term) -> Result<Node, ExprError> {
    let msg = match term.kind {
        Kind::Cond(node) => return Ok(node),
        Kind::Func(Func::Int(f @ IntFn::Attempts)) => {
            format!("`{f}` alone is not a condition; compare it, e.g. `{f} <= 2`")
        }
        Kind::Func(Func::Int(f @ IntFn::ResponseCode)) => {
            format!("`{f}` alone is not a condition; compare it, e.g. `{f} == 503`")
        }
        Kind::Func(Func::Method) => "`RequestMethod()` alone is not a condition; compare it, \
                                     e.g. `RequestMethod() == \"GET\"`"
            .to_string(),
        Kind::Lit(Lit::Int(_) | Lit::Float(_)) => {
            "a number alone is not a condition; compare Attempts() or ResponseCode() to it"
                .to_string()
        }
        Kind::Lit(Lit::Str(_)) => {
            "a string alone is not a condition; compare RequestMethod() to it".to_string()
        }
    };
    Err(ExprError::new(term.at, msg))
}

/// Types `left op right`: one side a function, the other a literal of the function's type.
fn compare(left: Term, op: CmpOp, op_at: usize, right: Term) -> Result<Cmp, ExprError> {
    let err = |at: usize, msg: String| Err(ExprError::new(at, msg));
    // v1 refused a literal on the left; accepting it changes no expression v1 accepted.
    let (func, op, lit, lit_at) = match (left.kind, right.kind) {
        (Kind::Func(func), Kind::Lit(lit)) => (func, op, lit, right.at),
        (Kind::Lit(lit), Kind::Func(func)) => (func, op.mirrored(), lit, left.at),
        (Kind::Cond(Node::IsNetworkError), _) => {
            let msg = format!(
                "`IsNetworkError()` is a condition already and cannot be compared with `{}`; \
                 use it as is",
                op.symbol()
            );
            return err(op_at, msg);
        }
        (Kind::Cond(_), _) => {
            let msg = format!(
                "a comparison cannot be compared again with `{}`; join conditions with `&&` \
                 or `||`",
                op.symbol()
            );
            return err(op_at, msg);
        }
        (_, Kind::Cond(_)) => {
            let msg = "a condition cannot be compared; compare Attempts(), ResponseCode() or \
                       RequestMethod() to a literal";
            return err(right.at, msg.to_string());
        }
        (Kind::Func(_), Kind::Func(_)) => {
            let msg = "a function can only be compared to a literal, not to another function";
            return err(right.at, msg.to_string());
        }
        (Kind::Lit(_), Kind::Lit(_)) => {
            let msg = "two literals compared: one side must be Attempts(), ResponseCode() or \
                       RequestMethod()";
            return err(left.at, msg.to_string());
        }
    };
    match (func, lit) {
        (Func::Int(func), Lit::Int(value)) => Ok(Cmp::Int { func, op, value }),
        (Func::Method, Lit::Str(value)) => match op {
            CmpOp::Eq | CmpOp::Ne => Ok(Cmp::Method {
                equal: op == CmpOp::Eq,
                value,
            }),
            _ => err(
                op_at,
                format!(
                    "`RequestMethod()` is a string and can only be compared with `==` or `!=`, \
                     not `{}`",
                    op.symbol()
                ),
            ),
        },
        (Func::Int(func), Lit::Float(v)) => {
            let hint = if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("write {} instead of {v:?}", v as i64)
            } else {
                "write an int such as 2".to_string()
            };
            err(
                lit_at,
                format!("`{func}` is an int, compared to a float: {hint}"),
            )
        }
        (Func::Int(func), Lit::Str(_)) => err(
            lit_at,
            format!("`{func}` is an int, compared to a string: write a number such as 2"),
        ),
        (Func::Method, Lit::Int(_) | Lit::Float(_)) => err(
            lit_at,
            "`RequestMethod()` is a string, compared to a number: write a quoted method such \
             as \"GET\""
                .to_string(),
        ),
    }
}
