//! Tokens of an expression, each with the byte offset where it starts.
//!
//! Only the part of Go's lexical grammar that the expressions can use is recognised; anything
//! else (`!`, a lone `=`, unicode operators…) is an error at its offset, so the user sees
//! where the expression stops making sense rather than a later, vaguer error. String literals
//! are recognised only for a language whose [`Lexicon`] lexes them.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    Ident(&'a str),
    Int(i64),
    Float(f64),
    /// The value of a string literal, escapes resolved. Only produced where the [`Lexicon`]
    /// has strings.
    Str(String),
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

    /// Whether `actual op literal` holds, given how `actual` compares to the literal. `None`
    /// (a NaN) satisfies only `!=`, as in Go.
    pub(crate) fn holds(self, ord: Option<Ordering>) -> bool {
        use Ordering::*;
        match self {
            CmpOp::Eq => ord == Some(Equal),
            CmpOp::Ne => ord != Some(Equal),
            CmpOp::Lt => ord == Some(Less),
            CmpOp::Le => matches!(ord, Some(Less | Equal)),
            CmpOp::Gt => ord == Some(Greater),
            CmpOp::Ge => matches!(ord, Some(Greater | Equal)),
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
            Tok::Str(s) => format!("the string {}", GoQuoted(s)),
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

/// One token lexed at a given offset, with its length in bytes.
pub(crate) type Lexed = Result<(Tok<'static>, usize), ExprError>;

/// Where one language's lexical grammar departs from the other's.
pub(crate) struct Lexicon {
    /// Lexes the string literal whose opening `"` or `` ` `` is at the given offset, into a
    /// [`Tok::Str`] and its length in bytes. `None` for a language without strings: there a
    /// quote is refused like any other unexpected character, before parsing starts.
    pub(crate) string: Option<fn(&str, usize) -> Lexed>,
    /// The language's own explanation for a character it refuses (`!`, a rune quote…), tried
    /// before the shared ones; `None` leaves the character to those.
    pub(crate) refused: fn(char) -> Option<&'static str>,
    /// The numbers shown in "only plain decimal numbers such as … are allowed".
    pub(crate) number_examples: &'static str,
}

/// Splits `src` into tokens; the last one is always [`Tok::End`] at `src.len()`.
pub(crate) fn tokenize<'a>(
    src: &'a str,
    lexicon: &Lexicon,
) -> Result<Vec<(usize, Tok<'a>)>, ExprError> {
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
            b'"' | b'`' => match lexicon.string {
                Some(string) => string(src, i)?,
                None => return Err(refused(src, i, lexicon)),
            },
            b'0'..=b'9' => number(src, i, lexicon)?,
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => number(src, i, lexicon)?,
            _ => {
                let c = src[i..].chars().next().unwrap_or_default();
                if !is_ident_start(c) {
                    return Err(refused(src, i, lexicon));
                }
                let len = src[i..]
                    .char_indices()
                    .find(|&(_, c)| !is_ident_continue(c))
                    .map_or(src.len() - i, |(n, _)| n);
                (Tok::Ident(&src[i..i + len]), len)
            }
        };
        out.push((i, tok));
        i += len;
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

/// The error for the character at `at`, which starts no token.
fn refused(src: &str, at: usize, lexicon: &Lexicon) -> ExprError {
    let c = src[at..].chars().next().unwrap_or_default();
    let message = match (lexicon.refused)(c) {
        Some(own) => own.to_string(),
        None => match c {
            '=' => "`=` is not an operator here; use `==` to compare".into(),
            '&' => "`&` is not supported; use `&&`".into(),
            '|' => "`|` is not supported; use `||`".into(),
            '-' | '+' => format!("`{c}` is not supported; numbers are written without a sign"),
            _ => format!("unexpected character {c:?}"),
        },
    };
    ExprError::new(at, message)
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
fn number(src: &str, start: usize, lexicon: &Lexicon) -> Lexed {
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
                "bad number `{}`: only plain decimal numbers such as {} are allowed",
                &src[start..end],
                lexicon.number_examples
            ),
        ));
    }
    let text = &src[start..i];
    let out_of_range = || ExprError::new(start, format!("bad number `{text}`: out of range"));
    let tok = if float {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Tok::Float(v),
            _ => return Err(out_of_range()),
        }
    } else {
        Tok::Int(text.parse::<i64>().map_err(|_| out_of_range())?)
    };
    Ok((tok, i - start))
}

/// A string written as a Go interpreted literal that reads back to itself: the canonical form
/// of a [`Tok::Str`].
pub(crate) struct GoQuoted<'a>(pub(crate) &'a str);

impl fmt::Display for GoQuoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() || c == '\u{feff}' => {
                    let n = u32::from(c);
                    if n <= 0xffff {
                        write!(f, "\\u{n:04x}")?;
                    } else {
                        write!(f, "\\U{n:08x}")?;
                    }
                }
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Lexicon = Lexicon {
        string: None,
        refused: |_| None,
        number_examples: "1 or 2",
    };

    #[test]
    fn quotes_are_refused_without_strings() {
        for src in ["x == \"GET\"", "x == `GET`"] {
            let err = tokenize(src, &PLAIN).unwrap_err();
            assert_eq!(err.offset, 5, "{src}: {err}");
            assert!(err.message.starts_with("unexpected character"), "{err}");
        }
    }

    #[test]
    fn the_language_explains_first() {
        let own = Lexicon {
            refused: |c| (c == '=').then_some("mine"),
            ..PLAIN
        };
        assert_eq!(tokenize("a = 1", &own).unwrap_err().message, "mine");
        assert!(
            tokenize("a = 1", &PLAIN)
                .unwrap_err()
                .message
                .contains("==")
        );
        let err = tokenize("2s", &PLAIN).unwrap_err();
        assert!(err.message.ends_with("such as 1 or 2 are allowed"), "{err}");
    }
}
