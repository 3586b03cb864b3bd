//! The v1 rule parser, naive on purpose (it reproduces `rules.go` `parseRules`):
//!
//! 1. split the rule on `;`, dropping empty pieces;
//! 2. split each piece on `:`, dropping empty fields; the first field, trimmed, is the function
//!    name; the other fields are joined again with `:` (so `::` collapses to `:`);
//! 3. split that on `,`, dropping empty pieces, and trim each argument.
//!
//! Every byte of every argument remembers where it came from in the rule text, so that later
//! stages (templates, regexes) can report the byte offset where a problem starts.

use std::fmt;

/// One of the fifteen functions of the v1 grammar (case-sensitive names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Host,
    HostRegexp,
    Path,
    PathStrip,
    PathStripRegex,
    PathPrefix,
    PathPrefixStrip,
    PathPrefixStripRegex,
    Method,
    Headers,
    HeadersRegexp,
    Query,
    AddPrefix,
    ReplacePath,
    ReplacePathRegex,
}

impl Function {
    /// All functions, in the order v1's documentation lists them.
    pub const ALL: [Function; 15] = [
        Function::Host,
        Function::HostRegexp,
        Function::Path,
        Function::PathStrip,
        Function::PathStripRegex,
        Function::PathPrefix,
        Function::PathPrefixStrip,
        Function::PathPrefixStripRegex,
        Function::Method,
        Function::Headers,
        Function::HeadersRegexp,
        Function::Query,
        Function::AddPrefix,
        Function::ReplacePath,
        Function::ReplacePathRegex,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::Host => "Host",
            Function::HostRegexp => "HostRegexp",
            Function::Path => "Path",
            Function::PathStrip => "PathStrip",
            Function::PathStripRegex => "PathStripRegex",
            Function::PathPrefix => "PathPrefix",
            Function::PathPrefixStrip => "PathPrefixStrip",
            Function::PathPrefixStripRegex => "PathPrefixStripRegex",
            Function::Method => "Method",
            Function::Headers => "Headers",
            Function::HeadersRegexp => "HeadersRegexp",
            Function::Query => "Query",
            Function::AddPrefix => "AddPrefix",
            Function::ReplacePath => "ReplacePath",
            Function::ReplacePathRegex => "ReplacePathRegex",
        }
    }

    /// Exact, case-sensitive lookup, as v1.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// `AddPrefix`, `ReplacePath`, `ReplacePathRegex`: they never take part in matching.
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Function::AddPrefix | Function::ReplacePath | Function::ReplacePathRegex
        )
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One argument after splitting and trimming, with the rule-text offset of each of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    text: String,
    /// `offsets[i]` is the rule-text offset of `text`'s byte `i`; one more entry for the end.
    offsets: Vec<usize>,
}

impl Arg {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Offset in the rule text of the argument's first byte (where it would be, if empty).
    pub fn offset(&self) -> usize {
        self.offsets[0]
    }

    /// Offset in the rule text of the argument's byte `i` (`i == len` gives the end).
    pub fn offset_at(&self, i: usize) -> usize {
        self.offsets[i.min(self.offsets.len() - 1)]
    }

    /// The sub-argument `text[start..end]`, keeping offsets.
    pub(crate) fn slice(&self, start: usize, end: usize) -> Arg {
        let mut offsets = self.offsets[start..end].to_vec();
        offsets.push(self.offsets[end]);
        Arg {
            text: self.text[start..end].to_string(),
            offsets,
        }
    }

    /// `a` + `sep` + `b`, keeping offsets (`sep` is placed where `a` ends).
    pub(crate) fn join(a: &Arg, sep: char, b: &Arg) -> Arg {
        let mut text = String::with_capacity(a.text.len() + sep.len_utf8() + b.text.len());
        text.push_str(&a.text);
        text.push(sep);
        text.push_str(&b.text);
        let mut offsets = a.offsets.clone();
        let sep_at = offsets[offsets.len() - 1];
        offsets.extend(std::iter::repeat_n(sep_at, sep.len_utf8() - 1));
        offsets.extend_from_slice(&b.offsets);
        Arg { text, offsets }
    }

    /// Trimmed like Go's `strings.TrimSpace`, keeping offsets.
    pub(crate) fn trimmed(&self) -> Arg {
        let start = self.text.len() - self.text.trim_start().len();
        let end = start + self.text[start..].trim_end().len();
        self.slice(start, end)
    }

    /// Split on a byte (ASCII), keeping empty fields, like Go's `strings.Split`.
    pub(crate) fn split(&self, sep: u8) -> Vec<Arg> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, b) in self.text.bytes().enumerate() {
            if b == sep {
                out.push(self.slice(start, i));
                start = i + 1;
            }
        }
        out.push(self.slice(start, self.text.len()));
        out
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One `Name:arg,arg` piece of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub function: Function,
    /// Offset of the (trimmed) function name in the rule text.
    pub offset: usize,
    /// Never empty.
    pub args: Vec<Arg>,
}

/// A syntax error, at a byte offset of the rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Splits `s` (starting at `base` in the rule text) on `sep`, dropping empty fields, like
/// Go's `strings.FieldsFunc`. Yields `(offset, field)`.
fn fields(s: &str, base: usize, sep: u8) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i <= bytes.len() {
            let at_end = i == bytes.len();
            if at_end || bytes[i] == sep {
                let field = (start, i);
                i += 1;
                start = i;
                if field.1 > field.0 {
                    return Some((base + field.0, &s[field.0..field.1]));
                }
            } else {
                i += 1;
            }
        }
        None
    })
}

fn valid_names() -> String {
    Function::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses one rule (one route's `rule = "…"`) into its calls, in textual order.
///
/// A rule made only of `;` parses to no call at all (v1: a route without matchers, which
/// matches every request); the empty string is an error (`empty rule`).
pub fn parse(rule: &str) -> Result<Vec<Call>, ParseError> {
    if rule.is_empty() {
        return Err(ParseError {
            offset: 0,
            message: "empty rule".to_string(),
        });
    }
    let mut calls = Vec::new();
    for (piece_offset, piece) in fields(rule, 0, b';') {
        let mut parts = fields(piece, piece_offset, b':');
        let Some((name_field_offset, name_field)) = parts.next() else {
            return Err(ParseError {
                offset: piece_offset,
                message: format!("missing function name in {piece:?} of rule {rule:?}"),
            });
        };
        let name = name_field.trim();
        let name_offset = name_field_offset + (name_field.len() - name_field.trim_start().len());
        let Some(function) = Function::from_name(name) else {
            let message = if name.is_empty() {
                format!(
                    "missing function name in {:?} of rule {rule:?} (valid functions: {})",
                    piece.trim(),
                    valid_names()
                )
            } else {
                let hint = Function::ALL
                    .iter()
                    .find(|f| f.name().eq_ignore_ascii_case(name))
                    .map(|f| format!("; names are case-sensitive: did you mean {:?}?", f.name()))
                    .unwrap_or_default();
                format!(
                    "unknown function {name:?} in rule {rule:?} (valid functions: {}{hint})",
                    valid_names()
                )
            };
            return Err(ParseError {
                offset: if name.is_empty() {
                    name_field_offset
                } else {
                    name_offset
                },
                message,
            });
        };

        // Re-join the remaining fields with ':' and remember each byte's origin.
        let mut joined = String::new();
        let mut offsets = Vec::new();
        for (k, (field_offset, field)) in parts.enumerate() {
            if k > 0 {
                joined.push(':');
                // The ':' just before this field is as good an origin as any.
                offsets.push(field_offset - 1);
            }
            joined.push_str(field);
            offsets.extend(field_offset..field_offset + field.len());
        }
        let end_offset = piece_offset + piece.len();
        offsets.push(end_offset);
        let joined = Arg {
            text: joined,
            offsets,
        };

        let mut args = Vec::new();
        let mut start = 0;
        let bytes = joined.text.as_bytes();
        for i in 0..=bytes.len() {
            if i == bytes.len() || bytes[i] == b',' {
                if i > start {
                    args.push(joined.slice(start, i).trimmed());
                }
                start = i + 1;
            }
        }
        if args.is_empty() {
            return Err(ParseError {
                offset: name_offset,
                message: format!("{name} has no argument in rule {rule:?}"),
            });
        }
        calls.push(Call {
            function,
            offset: name_offset,
            args,
        });
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(call: &Call) -> Vec<&str> {
        call.args.iter().map(Arg::as_str).collect()
    }

    #[test]
    fn simple() {
        let calls = parse("Host:a.com,b.com").unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].function, Function::Host);
        assert_eq!(calls[0].offset, 0);
        assert_eq!(args(&calls[0]), ["a.com", "b.com"]);
        assert_eq!(calls[0].args[1].offset(), 11);
    }

    #[test]
    fn spaces_are_allowed() {
        let rule = "Host: example.com; PathPrefixStrip: /api";
        let calls = parse(rule).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].function, Function::Host);
        assert_eq!(args(&calls[0]), ["example.com"]);
        assert_eq!(calls[0].args[0].offset(), 6);
        assert_eq!(calls[1].function, Function::PathPrefixStrip);
        assert_eq!(calls[1].offset, 19);
        assert_eq!(args(&calls[1]), ["/api"]);
        assert_eq!(calls[1].args[0].offset(), rule.find("/api").unwrap());
    }

    #[test]
    fn double_colon_collapses() {
        let calls = parse("HostRegexp::{sub::[a-z]+}.a.com").unwrap();
        assert_eq!(args(&calls[0]), ["{sub:[a-z]+}.a.com"]);
        // ":" after "sub" maps to the second of the two source colons.
        let a = &calls[0].args[0];
        assert_eq!(a.offset(), 12);
        assert_eq!(a.offset_at(4), 17);
        assert_eq!(a.offset_at(5), 18);
        // A leading ':' in the piece is ignored too.
        let calls = parse(":Path:/a").unwrap();
        assert_eq!(calls[0].function, Function::Path);
        assert_eq!(args(&calls[0]), ["/a"]);
    }

    #[test]
    fn colons_in_args_are_kept() {
        let calls = parse("Host:localhost:8080").unwrap();
        assert_eq!(args(&calls[0]), ["localhost:8080"]);
        let calls = parse("Path:/a:b:c").unwrap();
        assert_eq!(args(&calls[0]), ["/a:b:c"]);
    }

    #[test]
    fn empty_pieces_are_dropped() {
        let calls = parse(";;Host:a,,b;;Method:GET;").unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(args(&calls[0]), ["a", "b"]);
        assert!(parse(";;").unwrap().is_empty());
    }

    #[test]
    fn whitespace_args_become_empty() {
        // FieldsFunc keeps " ", TrimSpace empties it.
        let calls = parse("PathPrefix:/a, ").unwrap();
        assert_eq!(args(&calls[0]), ["/a", ""]);
        let calls = parse("Host: , ,").unwrap();
        assert_eq!(args(&calls[0]), ["", ""]);
    }

    #[test]
    fn empty_rule() {
        let e = parse("").unwrap_err();
        assert_eq!(e.offset, 0);
        assert_eq!(e.message, "empty rule");
    }

    #[test]
    fn unknown_function() {
        let e = parse("Hots:a.com").unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(
            e.message
                .starts_with(r#"unknown function "Hots" in rule "Hots:a.com""#),
            "{}",
            e.message
        );
        assert!(e.message.contains("HostRegexp"));
        let e = parse("Host:a.com; host:b.com").unwrap_err();
        assert_eq!(e.offset, 12);
        assert!(e.message.contains("did you mean \"Host\""), "{}", e.message);
    }

    #[test]
    fn trailing_blank_piece_is_an_error() {
        let e = parse("Host:a.com; ").unwrap_err();
        assert_eq!(e.offset, 11);
        assert!(
            e.message.starts_with("missing function name"),
            "{}",
            e.message
        );
        let e = parse("Host:a;:::").unwrap_err();
        assert_eq!(e.offset, 7);
    }

    #[test]
    fn no_args() {
        for rule in ["Host", "Host:", "Host:,,", " Method :::"] {
            let e = parse(rule).unwrap_err();
            assert!(
                e.message.contains("has no argument"),
                "{rule}: {}",
                e.message
            );
        }
        assert_eq!(parse("Path:/a;  Host:").unwrap_err().offset, 10);
    }
}
