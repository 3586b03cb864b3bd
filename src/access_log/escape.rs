//! Escaping for the Common Log Format. Its fields are separated by spaces and quotes, so
//! a client who can put `"` or a newline in a field it controls (the path, a header)
//! could forge fields, or whole lines, in the log that someone later trusts. Escaped as
//! nginx and Go's quoting do: `"` ⇒ `\"`, `\` ⇒ `\\`, and every byte outside printable
//! ASCII (controls, DEL, and each byte of a non-ASCII character) ⇒ `\xHH`. What comes out
//! is printable ASCII with no bare quote, and decodes back to the bytes that went in.

use std::fmt;

/// Displays `bytes` escaped; writes nothing extra and allocates nothing.
pub struct Escaped<'a>(pub &'a [u8]);

fn safe(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            let run = rest.iter().position(|&b| !safe(b)).unwrap_or(rest.len());
            // Printable ASCII is UTF-8.
            f.write_str(std::str::from_utf8(&rest[..run]).map_err(|_| fmt::Error)?)?;
            let Some(&b) = rest.get(run) else { break };
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                _ => write!(f, "\\x{b:02x}")?,
            }
            rest = &rest[run + 1..];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn esc(b: &[u8]) -> String {
        Escaped(b).to_string()
    }

    /// The inverse, for the round-trip property.
    fn unescape(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' {
                match b[i + 1] {
                    b'x' => {
                        let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                        out.push(u8::from_str_radix(hex, 16).unwrap());
                        i += 4;
                    }
                    c => {
                        out.push(c);
                        i += 2;
                    }
                }
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(esc(b"/app/page?x=1&y=%22"), "/app/page?x=1&y=%22");
        assert_eq!(esc(b"Mozilla/5.0 (X11; Linux)"), "Mozilla/5.0 (X11; Linux)");
        assert_eq!(esc(b""), "");
    }

    #[test]
    fn quotes_backslashes_and_controls_are_escaped() {
        assert_eq!(esc(br#"a"b"#), r#"a\"b"#);
        assert_eq!(esc(br"a\b"), r"a\\b");
        assert_eq!(esc(b"a\nb\r\tc\x00\x7f"), r"a\x0ab\x0d\x09c\x00\x7f");
        assert_eq!(esc("é".as_bytes()), r"\xc3\xa9");
        assert_eq!(esc(b"\xff\x80"), r"\xff\x80");
        // A forged line: the client's quote cannot end the field.
        assert_eq!(esc(br#"x" 200 0 "-" "evil"#), r#"x\" 200 0 \"-\" \"evil"#);
    }

    proptest! {
        #[test]
        fn output_is_printable_ascii_without_bare_quotes_and_decodes_back(
            input in proptest::collection::vec(any::<u8>(), 0..64)
        ) {
            let out = esc(&input);
            prop_assert!(out.bytes().all(|b| (0x20..0x7f).contains(&b)), "{out:?}");
            // Every quote is escaped: preceded by an odd run of backslashes.
            let bytes = out.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'"' {
                    let run = bytes[..i].iter().rev().take_while(|&&c| c == b'\\').count();
                    prop_assert!(run % 2 == 1, "bare quote in {out:?}");
                }
            }
            prop_assert_eq!(unescape(&out), input);
        }
    }
}
