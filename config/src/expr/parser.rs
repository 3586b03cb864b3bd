//! Recursive descent over the tokens, typing as it goes.
//!
//! Go's precedence: `||` < `&&` < comparisons, all left-associative. This module owns that
//! skeleton (chains, comparisons, parentheses and their nesting limit, the errors for a
//! missing operand or a stray token); a [`Grammar`] says what a call, a literal and a
//! comparison mean in its language. Every sub-expression is typed the moment it is built, so a
//! type error is reported at the operand that has the wrong type, not at the end.

use super::ExprError;
use super::lexer::{CmpOp, Lexicon, Tok, tokenize};

/// Deep enough for any hand-written expression, shallow enough that the parser's recursion
/// (six frames a level: `or`, `chain`, `and`, `chain`, `cmp`, `operand`) cannot exhaust the
/// stack on hostile input.
const MAX_NESTING: usize = 64;

/// A sub-expression with its type and where it starts.
pub(crate) struct Term<K> {
    pub(crate) at: usize,
    pub(crate) kind: K,
}

/// `&&` or `||`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Junction {
    And,
    Or,
}

/// One expression language: what its names, literals and comparisons mean.
pub(crate) trait Grammar {
    /// A condition, the language's syntax tree.
    type Node;
    /// The type of a sub-expression: a condition, or a function or literal still to be
    /// compared.
    type Kind;

    /// How the language is split into tokens.
    const LEXICON: Lexicon;

    /// The sub-expression that is this condition.
    fn cond(node: Self::Node) -> Self::Kind;
    /// An `&&` or `||` list of conditions.
    fn join(junction: Junction, items: Vec<Self::Node>) -> Self::Node;
    /// The items of `node` if it is a `junction` list itself, to flatten it into an enclosing
    /// one; otherwise `node` back.
    fn split(junction: Junction, node: Self::Node) -> Result<Vec<Self::Node>, Self::Node>;
    /// A number or string literal; `None` for a token that is not one.
    fn literal(tok: &Tok<'_>) -> Option<Self::Kind>;
    /// The call `name(…)`, with `name` (at `at`) consumed and `p` just past it.
    fn call(p: &mut Cursor<'_>, at: usize, name: &str) -> Result<Self::Kind, ExprError>;
    /// The term as a condition, or an error saying how to make it one.
    fn condition(term: Term<Self::Kind>) -> Result<Self::Node, ExprError>;
    /// Types `left op right`, with `op` at `op_at`.
    fn compare(
        left: Term<Self::Kind>,
        op: CmpOp,
        op_at: usize,
        right: Term<Self::Kind>,
    ) -> Result<Self::Node, ExprError>;
}

/// The [`Grammar`] items that only connect a language's own types to the parser: `$kind::Cond`
/// is a condition, `$node::And` and `$node::Or` are the lists. Both languages name these
/// variants alike, so the wiring is written once here; the types themselves stay each
/// language's, since its evaluation, printing and tests match on them.
macro_rules! grammar_tree {
    ($node:ident, $kind:ident) => {
        type Node = $node;
        type Kind = $kind;

        fn cond(node: $node) -> $kind {
            $kind::Cond(node)
        }

        fn join(junction: $crate::expr::parser::Junction, items: Vec<$node>) -> $node {
            use $crate::expr::parser::Junction;
            match junction {
                Junction::And => $node::And(items),
                Junction::Or => $node::Or(items),
            }
        }

        fn split(
            junction: $crate::expr::parser::Junction,
            node: $node,
        ) -> Result<Vec<$node>, $node> {
            use $crate::expr::parser::Junction;
            match (junction, node) {
                (Junction::And, $node::And(items)) | (Junction::Or, $node::Or(items)) => Ok(items),
                (_, node) => Err(node),
            }
        }
    };
}
pub(crate) use grammar_tree;

/// Parses and type-checks `src` in the language `G`.
pub(crate) fn parse<G: Grammar>(src: &str) -> Result<G::Node, ExprError> {
    let mut p = Cursor {
        toks: tokenize(src, &G::LEXICON)?,
        pos: 0,
    };
    if p.peek() == &Tok::End {
        return Err(ExprError::new(0, "empty expression"));
    }
    let root = or::<G>(&mut p, 0)?;
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
    G::condition(root)
}

/// The tokens and the position of the next one.
pub(crate) struct Cursor<'a> {
    toks: Vec<(usize, Tok<'a>)>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn peek(&self) -> &Tok<'a> {
        &self.toks[self.pos].1
    }

    fn offset(&self) -> usize {
        self.toks[self.pos].0
    }

    /// Where the token just consumed by [`Cursor::next`] starts.
    pub(crate) fn last_offset(&self) -> usize {
        self.toks[self.pos - 1].0
    }

    /// The current token and its offset; stays on [`Tok::End`] once there.
    pub(crate) fn next(&mut self) -> (usize, Tok<'a>) {
        let tok = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        tok
    }

    fn error_here(&self, message: impl Into<String>) -> ExprError {
        ExprError::new(self.offset(), message)
    }
}

type Item<'a, G> = fn(&mut Cursor<'a>, usize) -> Result<Term<<G as Grammar>::Kind>, ExprError>;

fn or<'a, G: Grammar>(p: &mut Cursor<'a>, depth: usize) -> Result<Term<G::Kind>, ExprError> {
    chain::<G>(p, depth, Junction::Or, and::<G>)
}

fn and<'a, G: Grammar>(p: &mut Cursor<'a>, depth: usize) -> Result<Term<G::Kind>, ExprError> {
    chain::<G>(p, depth, Junction::And, cmp::<G>)
}

/// `item (sep item)*` with `sep` `&&` or `||`, every item a condition; a parenthesised list of
/// the same kind is flattened into this one.
fn chain<'a, G: Grammar>(
    p: &mut Cursor<'a>,
    depth: usize,
    junction: Junction,
    item: Item<'a, G>,
) -> Result<Term<G::Kind>, ExprError> {
    let sep = match junction {
        Junction::And => Tok::AndAnd,
        Junction::Or => Tok::OrOr,
    };
    let first = item(p, depth)?;
    if *p.peek() != sep {
        return Ok(first);
    }
    let at = first.at;
    let mut items = Vec::new();
    let mut push = |node| match G::split(junction, node) {
        Ok(inner) => items.extend(inner),
        Err(node) => items.push(node),
    };
    push(G::condition(first)?);
    while *p.peek() == sep {
        p.next();
        push(G::condition(item(p, depth)?)?);
    }
    Ok(Term {
        at,
        kind: G::cond(G::join(junction, items)),
    })
}

fn cmp<'a, G: Grammar>(p: &mut Cursor<'a>, depth: usize) -> Result<Term<G::Kind>, ExprError> {
    let mut left = operand::<G>(p, depth)?;
    while let Tok::Op(op) = *p.peek() {
        let (op_at, _) = p.next();
        let right = operand::<G>(p, depth)?;
        left = Term {
            at: left.at,
            kind: G::cond(G::compare(left, op, op_at, right)?),
        };
    }
    Ok(left)
}

fn operand<'a, G: Grammar>(p: &mut Cursor<'a>, depth: usize) -> Result<Term<G::Kind>, ExprError> {
    let pos = p.pos;
    let (at, tok) = p.next();
    let kind = match tok {
        Tok::Ident(name) => G::call(p, at, name)?,
        Tok::LParen => {
            if depth >= MAX_NESTING {
                return Err(ExprError::new(at, "parentheses nested too deeply"));
            }
            let inner = or::<G>(p, depth + 1)?;
            match p.peek() {
                Tok::RParen => {
                    p.next();
                }
                Tok::End => return Err(ExprError::new(at, "unclosed `(`")),
                tok => {
                    let msg = format!("expected `)`, found {}", tok.describe());
                    return Err(p.error_here(msg));
                }
            }
            // Keep the `(` as the start, so that "not a condition" points at the group.
            inner.kind
        }
        tok => match G::literal(&tok) {
            Some(kind) => kind,
            None => {
                let msg = match pos.checked_sub(1) {
                    Some(prev) => format!("missing operand after {}", p.toks[prev].1.describe()),
                    None => format!("missing operand before {}", tok.describe()),
                };
                return Err(ExprError::new(at, msg));
            }
        },
    };
    Ok(Term { at, kind })
}

/// The advice for a float written where an int is expected: the same number without its
/// fraction when it has none, else an int such as `example`.
pub(crate) fn int_instead_of(value: f64, example: i64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("write {} instead of {value:?}", value as i64)
    } else {
        format!("write an int such as {example}")
    }
}
