//! Tokens of the expression, each with the byte offset where it starts.
//!
//! Only the part of Go's lexical grammar that a retry expression can use is recognised:
//! identifiers, decimal numbers, string literals (for `RequestMethod()`), parentheses, commas
//! and the operators. Anything else (`!`, a lone `=`, rune literals, unicode operators…) is an
//! error at its offset, so the user sees where the expression stops making sense rather than a
//! later, vaguer error.

use std::fmt::{self, Write as _};

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    Ident(&'a str),
    Int(i64),
    /// Floats are lexed only to report them as a type error where an int is expected.
    Float(f64),
    /// The value of a string literal, escapes resolved.
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
            b'"' => interpreted_string(src, i)?,
            b'`' => raw_string(src, i)?,
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
        '!' => "`!` (negation) is not supported (v1 refused it too); write the opposite \
                comparison instead, e.g. `Attempts() > 2` for `!(Attempts() <= 2)`"
            .into(),
        '&' => "`&` is not supported; use `&&`".into(),
        '|' => "`|` is not supported; use `||`".into(),
        '\'' => "rune literals are not supported; strings use double quotes, e.g. \"GET\"".into(),
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
/// `1_000`, `2s`, `1.2.3`) make it a bad literal, reported at its start.
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
                "bad number `{}`: only plain decimal numbers such as 2 or 502 are allowed",
                &src[start..end]
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

/// A Go interpreted string literal `"…"` starting at `start`, with Go's escapes: `\a \b \f
/// \n \r \t \v \\ \"`, `\xHH`, `\ooo` (both below `\x80`: an HTTP method is ASCII), `\uHHHH`
/// and `\UHHHHHHHH`. A bad escape is reported at its `\`, a missing `"` at the opening one.
fn interpreted_string(src: &str, start: usize) -> Result<(Tok<'static>, usize), ExprError> {
    let unterminated = || ExprError::new(start, "string literal not terminated");
    let mut value = String::new();
    let mut chars = src[start + 1..].char_indices();
    loop {
        let Some((rel, c)) = chars.next() else {
            return Err(unterminated());
        };
        let at = start + 1 + rel;
        match c {
            '"' => return Ok((Tok::Str(value), at + 1 - start)),
            '\n' => return Err(unterminated()),
            '\\' => value.push(escape(src, at, &mut chars)?),
            c => value.push(c),
        }
    }
}

/// The escape whose `\` is at `at`; `chars` is just past the `\`.
fn escape(src: &str, at: usize, chars: &mut std::str::CharIndices<'_>) -> Result<char, ExprError> {
    let bad = |msg: String| ExprError::new(at, msg);
    let Some((_, kind)) = chars.next() else {
        return Err(bad("escape sequence not terminated".into()));
    };
    let simple = match kind {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '"' => Some('"'),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok(c);
    }
    let (digits, radix) = match kind {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (3, 8),
        _ => return Err(bad(format!("unknown escape sequence `\\{kind}`"))),
    };
    // The octal form's first digit is `kind` itself.
    let mut text = String::new();
    if radix == 8 {
        text.push(kind);
    }
    while text.len() < digits {
        match chars.next() {
            Some((_, c)) if c.is_digit(radix) => text.push(c),
            _ => {
                let prefix = if radix == 8 { 1 } else { 2 };
                let shown = &src[at..at + prefix + text.len()];
                return Err(bad(format!(
                    "bad escape sequence `{shown}`: expected {digits} {} digits",
                    if radix == 8 { "octal" } else { "hex" }
                )));
            }
        }
    }
    let code = u32::from_str_radix(&text, radix).unwrap_or(u32::MAX);
    let shown = if radix == 8 {
        format!("\\{text}")
    } else {
        format!("\\{kind}{text}")
    };
    if matches!(kind, 'x' | '0'..='7') && code >= 0x80 {
        return Err(bad(format!(
            "byte escape `{shown}` is not ASCII; an HTTP method is plain ASCII"
        )));
    }
    char::from_u32(code).ok_or_else(|| {
        bad(format!(
            "escape sequence `{shown}` is not a valid Unicode code point"
        ))
    })
}

/// A Go raw string literal `` `…` `` starting at `start`: no escapes, may span lines, and
/// carriage returns are dropped, as in Go.
fn raw_string(src: &str, start: usize) -> Result<(Tok<'static>, usize), ExprError> {
    let body = &src[start + 1..];
    let Some(end) = body.find('`') else {
        return Err(ExprError::new(start, "raw string literal not terminated"));
    };
    let value = body[..end].replace('\r', "");
    Ok((Tok::Str(value), end + 2))
}

/// A string written as a Go interpreted literal that reads back to itself.
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

    fn toks(src: &str) -> Vec<(usize, Tok<'_>)> {
        tokenize(src).unwrap()
    }

    fn string(src: &str) -> String {
        match toks(src).remove(0).1 {
            Tok::Str(s) => s,
            tok => panic!("{src}: {tok:?}"),
        }
    }

    #[test]
    fn operators_and_offsets() {
        assert_eq!(
            toks("a()<=2 &&b!=\"GET\""),
            vec![
                (0, Tok::Ident("a")),
                (1, Tok::LParen),
                (2, Tok::RParen),
                (3, Tok::Op(CmpOp::Le)),
                (5, Tok::Int(2)),
                (7, Tok::AndAnd),
                (9, Tok::Ident("b")),
                (10, Tok::Op(CmpOp::Ne)),
                (12, Tok::Str("GET".into())),
                (17, Tok::End),
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("502")[0].1, Tok::Int(502));
        assert_eq!(toks("010")[0].1, Tok::Int(10));
        assert_eq!(toks("2.0")[0].1, Tok::Float(2.0));
        assert_eq!(toks(".5")[0].1, Tok::Float(0.5));
        for src in [
            "0x10",
            "1_000",
            "2s",
            "1.2.3",
            "1e",
            "99999999999999999999",
            "1e999",
        ] {
            let err = tokenize(src).unwrap_err();
            assert_eq!(err.offset, 0, "{src}: {err}");
            assert!(err.message.starts_with("bad number"), "{src}: {err}");
        }
    }

    #[test]
    fn strings() {
        assert_eq!(string(r#""GET""#), "GET");
        assert_eq!(
            string(r#""a\"b\\c\n\x41\101\u00e9\U0001F600""#),
            "a\"b\\c\nAAé😀"
        );
        assert_eq!(string("`a\\n\r\nb`"), "a\\n\nb");
        assert_eq!(string(r#""é""#), "é");
        // Offsets after a multi-byte string stay byte offsets.
        assert_eq!(toks(r#""é" x"#)[1], (5, Tok::Ident("x")));
    }

    #[test]
    fn bad_strings_point_at_the_fault() {
        for (src, offset, start) in [
            (r#"x == "GET"#, 5, "string literal not terminated"),
            ("x == \"GE\nT\"", 5, "string literal not terminated"),
            ("x == `GET", 5, "raw string literal not terminated"),
            (r#"x == "G\qT""#, 7, "unknown escape sequence `\\q`"),
            (r#"x == "G\'T""#, 7, "unknown escape sequence"),
            (
                r#"x == "G\x4""#,
                7,
                "bad escape sequence `\\x4`: expected 2 hex",
            ),
            (
                r#"x == "G\48""#,
                7,
                "bad escape sequence `\\4`: expected 3 octal",
            ),
            (r#"x == "G\xff""#, 7, "byte escape `\\xff` is not ASCII"),
            (r#"x == "G\400""#, 7, "byte escape `\\400` is not ASCII"),
            (
                r#"x == "G\ud800""#,
                7,
                "escape sequence `\\ud800` is not a valid",
            ),
            (r#"x == "G\"#, 7, "escape sequence not terminated"),
        ] {
            let err = tokenize(src).unwrap_err();
            assert_eq!(err.offset, offset, "{src}: {err}");
            assert!(err.message.starts_with(start), "{src}: {err}");
        }
    }

    #[test]
    fn quoting_reads_back() {
        for s in [
            "GET",
            "",
            "a\"b\\c",
            "\n\r\t\u{7}\u{0}",
            "é😀",
            "\u{feff}\u{85}",
        ] {
            let quoted = GoQuoted(s).to_string();
            assert_eq!(string(&quoted), s, "{quoted}");
        }
    }

    #[test]
    fn unexpected_characters() {
        let err = tokenize("Attempts() = 1").unwrap_err();
        assert_eq!(err.offset, 11);
        assert!(err.message.contains("=="));
        let err = tokenize("!IsNetworkError()").unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.message.starts_with("`!` (negation) is not supported"));
        assert_eq!(tokenize("é() ≥ 1").unwrap_err().offset, 5);
        assert_eq!(tokenize("a & b").unwrap_err().offset, 2);
        assert_eq!(tokenize("a > -1").unwrap_err().offset, 4);
        assert_eq!(tokenize("a == 'G'").unwrap_err().offset, 5);
    }
}
