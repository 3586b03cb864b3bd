//! The retry expression's functions and types, plugged into the shared parser
//! ([`crate::expr::parser`]).
//!
//! Every sub-expression is typed (condition, int function, string function, int, float or
//! string literal) the moment it is built, so a type error is reported at the operand that has
//! the wrong type, not at the end.

use super::ExprError;
use super::ast::{Cmp, IntFn, Node};
use super::lexer::LEXICON;
use crate::expr::lexer::{CmpOp, Lexicon, Tok};
use crate::expr::parser::{Cursor, Grammar, Term, grammar_tree, int_instead_of};

const FUNCTIONS: &str = "IsNetworkError(), Attempts(), ResponseCode() and RequestMethod()";

pub(crate) fn parse(src: &str) -> Result<Node, ExprError> {
    crate::expr::parser::parse::<Retry>(src)
}

/// The type of a sub-expression.
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

struct Retry;

impl Grammar for Retry {
    grammar_tree!(Node, Kind);

    const LEXICON: Lexicon = LEXICON;

    fn literal(tok: &Tok<'_>) -> Option<Kind> {
        let lit = match tok {
            Tok::Int(v) => Lit::Int(*v),
            Tok::Float(v) => Lit::Float(*v),
            Tok::Str(s) => Lit::Str(s.clone()),
            _ => return None,
        };
        Some(Kind::Lit(lit))
    }

    fn condition(term: Term<Kind>) -> Result<Node, ExprError> {
        condition(term)
    }

    /// `Name()`, with `name` at `at` already consumed. No function takes arguments.
    fn call(p: &mut Cursor<'_>, at: usize, name: &str) -> Result<Kind, ExprError> {
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
        if p.peek() != &Tok::LParen {
            let msg = format!("`{name}` is a function: call it, `{name}()`");
            return Err(ExprError::new(at, msg));
        }
        let (open, _) = p.next();
        match p.next() {
            (_, Tok::RParen) => Ok(kind),
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

    fn compare(l: Term<Kind>, op: CmpOp, at: usize, r: Term<Kind>) -> Result<Node, ExprError> {
        compare(l, op, at, r).map(Node::Cmp)
    }
}

/// The term as a condition, or an error saying how to make it one.
fn condition(term: Term<Kind>) -> Result<Node, ExprError> {
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
fn compare(left: Term<Kind>, op: CmpOp, op_at: usize, right: Term<Kind>) -> Result<Cmp, ExprError> {
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
            let hint = int_instead_of(v, 2);
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
