//! The retry expression's lexical grammar: the shared Go subset of [`crate::expr::lexer`]
//! plus Go string literals, for `RequestMethod()`. `!`, rune literals and any other character
//! outside that subset are errors at their offset, with advice where some is known.

use super::ExprError;
pub(super) use crate::expr::lexer::{CmpOp, GoQuoted};
use crate::expr::lexer::{Lexed, Lexicon, Tok};

pub(super) const LEXICON: Lexicon = Lexicon {
    string: Some(string),
    refused: |c| match c {
        '!' => Some(
            "`!` (negation) is not supported (v1 refused it too); write the opposite \
             comparison instead, e.g. `Attempts() > 2` for `!(Attempts() <= 2)`",
        ),
        '\'' => Some("rune literals are not supported; strings use double quotes, e.g. \"GET\""),
        _ => None,
    },
    number_examples: "2 or 502",
};

/// The string literal opening at `start`, interpreted (`"…"`) or raw (`` `…` ``).
fn string(src: &str, start: usize) -> Lexed {
    if src.as_bytes()[start] == b'"' {
        interpreted_string(src, start)
    } else {
        raw_string(src, start)
    }
}

/// A Go interpreted string literal `"…"` starting at `start`, with Go's escapes: `\a \b \f
/// \n \r \t \v \\ \"`, `\xHH`, `\ooo` (both below `\x80`: an HTTP method is ASCII), `\uHHHH`
/// and `\UHHHHHHHH`. A bad escape is reported at its `\`, a missing `"` at the opening one.
fn interpreted_string(src: &str, start: usize) -> Lexed {
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
fn raw_string(src: &str, start: usize) -> Lexed {
    let body = &src[start + 1..];
    let Some(end) = body.find('`') else {
        return Err(ExprError::new(start, "raw string literal not terminated"));
    };
    let value = body[..end].replace('\r', "");
    Ok((Tok::Str(value), end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenize(src: &str) -> Result<Vec<(usize, Tok<'_>)>, ExprError> {
        crate::expr::lexer::tokenize(src, &LEXICON)
    }

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
