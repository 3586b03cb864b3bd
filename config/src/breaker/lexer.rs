//! The breaker expression's lexical grammar: the shared Go subset of [`crate::expr::lexer`]
//! without string literals, since no breaker function takes or returns a string. A quote, `!`
//! or any other character outside that subset is an error at its offset, so the user sees
//! where the expression stops making sense rather than a later, vaguer error.

pub(super) use crate::expr::lexer::CmpOp;
use crate::expr::lexer::Lexicon;

pub(super) const LEXICON: Lexicon = Lexicon {
    string: None,
    refused: |c| match c {
        '!' => Some("`!` (negation) is not supported"),
        _ => None,
    },
    number_examples: "50 or 0.5",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ExprError;
    use crate::expr::lexer::Tok;

    fn tokenize(src: &str) -> Result<Vec<(usize, Tok<'_>)>, ExprError> {
        crate::expr::lexer::tokenize(src, &LEXICON)
    }

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
