//! Tokens of the expression, each with the byte offset where it starts.
//!
//! Only the part of Go's lexical grammar that a breaker expression can use is recognised;
//! anything else (strings, `!`, a lone `=`, unicode operators…) is an error at its offset, so
//! the user sees where the expression stops making sense rather than a later, vaguer error.

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    Ident(&'a str),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    Comma,
    AndAnd,
    OrOr,
    Op(CmpOp),
    End,
}

/// A comparison operator. All six share one precedence level, as in Go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator that gives the same answer with its operands swapped (`a < b` ⇔ `b > a`).
    pub(crate) fn mirrored(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
        }
    }
}

impl Tok<'_> {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Int(v) => format!("the number {v}"),
            Tok::Float(v) => format!("the number {v:?}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::AndAnd => "`&&`".into(),
            Tok::OrOr => "`||`".into(),
            Tok::Op(op) => format!("`{}`", op.symbol()),
            Tok::End => "the end of the expression".into(),
        }
    }
}

/// Splits `src` into tokens; the last one is always [`Tok::End`] at `src.len()`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<(usize, Tok<'_>)>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Go's white space: only these four.
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let two = bytes.get(i..i + 2);
        let (tok, len) = match b {
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'&' if two == Some(b"&&") => (Tok::AndAnd, 2),
            b'|' if two == Some(b"||") => (Tok::OrOr, 2),
            b'=' if two == Some(b"==") => (Tok::Op(CmpOp::Eq), 2),
            b'!' if two == Some(b"!=") => (Tok::Op(CmpOp::Ne), 2),
            b'<' if two == Some(b"<=") => (Tok::Op(CmpOp::Le), 2),
            b'>' if two == Some(b">=") => (Tok::Op(CmpOp::Ge), 2),
            b'<' => (Tok::Op(CmpOp::Lt), 1),
            b'>' => (Tok::Op(CmpOp::Gt), 1),
            b'0'..=b'9' => number(src, i)?,
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => number(src, i)?,
            _ => {
                let c = src[i..].chars().next().unwrap_or_default();
                if is_ident_start(c) {
                    let len = src[i..]
                        .char_indices()
                        .find(|&(_, c)| !is_ident_continue(c))
                        .map_or(src.len() - i, |(n, _)| n);
                    (Tok::Ident(&src[i..i + len]), len)
                } else {
                    return Err(ExprError::new(i, unexpected(c)));
                }
            }
        };
        out.push((i, tok));
        i += len;
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

fn unexpected(c: char) -> String {
    match c {
        '=' => "`=` is not an operator here; use `==` to compare".into(),
        '!' => "`!` (negation) is not supported".into(),
        '&' => "`&` is not supported; use `&&`".into(),
        '|' => "`|` is not supported; use `||`".into(),
        '-' | '+' => format!("`{c}` is not supported; numbers are written without a sign"),
        _ => format!("unexpected character {c:?}"),
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// A decimal number starting at `start`: `12`, `12.5`, `12.`, `.5`, `1e3`, `1.5E-2`. An int
/// has neither `.` nor exponent, as in Go. Letters, digits, `_` or `.` glued to it (`0x10`,
/// `1_000`, `50ms`, `1.2.3`) make it a bad literal, reported at its start.
fn number(src: &str, start: usize) -> Result<(Tok<'static>, usize), ExprError> {
    let bytes = src.as_bytes();
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = digits(start);
    let mut float = false;
    if bytes.get(i) == Some(&b'.') {
        float = true;
        i = digits(i + 1);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        float = true;
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let end = digits(j);
        if end == j {
            return Err(ExprError::new(
                start,
                format!("bad number `{}`: exponent has no digits", &src[start..end]),
            ));
        }
        i = end;
    }
    let glued = src[i..]
        .chars()
        .next()
        .filter(|&c| c == '.' || is_ident_continue(c));
    if glued.is_some() {
        let end = src[i..]
            .char_indices()
            .find(|&(_, c)| c != '.' && !is_ident_continue(c))
            .map_or(src.len(), |(n, _)| i + n);
        return Err(ExprError::new(
            start,
            format!(
                "bad number `{}`: only plain decimal numbers such as 50 or 0.5 are allowed",
                &src[start..end]
            ),
        ));
    }
    let text = &src[start..i];
    let tok = if float {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Tok::Float(v),
            _ => {
                return Err(ExprError::new(
                    start,
                    format!("bad number `{text}`: out of range"),
                ));
            }
        }
    } else {
        match text.parse::<i64>() {
            Ok(v) => Tok::Int(v),
            Err(_) => {
                return Err(ExprError::new(
                    start,
                    format!("bad number `{text}`: out of range"),
                ));
            }
        }
    };
    Ok((tok, i - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<(usize, Tok<'_>)> {
        tokenize(src).unwrap()
    }

    #[test]
    fn operators_and_offsets() {
        assert_eq!(
            toks("a()>=0.5 ||b<2"),
            vec![
                (0, Tok::Ident("a")),
                (1, Tok::LParen),
                (2, Tok::RParen),
                (3, Tok::Op(CmpOp::Ge)),
                (5, Tok::Float(0.5)),
                (9, Tok::OrOr),
                (11, Tok::Ident("b")),
                (12, Tok::Op(CmpOp::Lt)),
                (13, Tok::Int(2)),
                (14, Tok::End),
            ]
        );
    }

    #[test]
    fn numbers() {
        fn one(s: &str) -> Tok<'_> {
            toks(s).remove(0).1
        }
        assert_eq!(one("50"), Tok::Int(50));
        assert_eq!(one("50.0"), Tok::Float(50.0));
        assert_eq!(one("5."), Tok::Float(5.0));
        assert_eq!(one(".5"), Tok::Float(0.5));
        assert_eq!(one("1e3"), Tok::Float(1000.0));
        assert_eq!(one("2.5E-1"), Tok::Float(0.25));
    }

    #[test]
    fn bad_numbers_point_at_their_start() {
        for (src, offset) in [
            ("x > 0x10", 4),
            ("x > 1_000", 4),
            ("x > 50ms", 4),
            ("x > 0.5.5", 4),
            ("x > 1e", 4),
            ("x > 1e+", 4),
            ("x > 99999999999999999999", 4),
            ("x > 1e999", 4),
        ] {
            let err = tokenize(src).unwrap_err();
            assert_eq!(err.offset, offset, "{src}: {err}");
            assert!(err.message.starts_with("bad number"), "{src}: {err}");
        }
    }

    #[test]
    fn unexpected_characters() {
        let err = tokenize("a() = 1").unwrap_err();
        assert_eq!(err.offset, 4);
        assert!(err.message.contains("=="));
        let err = tokenize("é() ≥ 1").unwrap_err();
        assert_eq!(err.offset, 5);
        assert_eq!(tokenize("a & b").unwrap_err().offset, 2);
        assert_eq!(tokenize("!a").unwrap_err().offset, 0);
        assert_eq!(tokenize("a > -1").unwrap_err().offset, 4);
    }
}
