//! gorilla/mux templates (`/a/{id:[0-9]+}`) compiled to anchored regexes, and the few Go
//! `regexp` (RE2) habits that Rust's `regex` does not share.
//!
//! A template is literal text with `{name}` or `{name:pattern}` variables. Braces must balance
//! (first-level braces delimit a variable, so a pattern may itself contain `{n}`); the name is
//! anything non-empty up to the first `:` and is otherwise unused; the pattern defaults to
//! `[^/]+` for paths, `[^.]+` for hosts and `[^?&]*` for query values. The literal parts match
//! literally; the whole is anchored at the start, and at the end unless it is a prefix template.
//! With strict slash (v1's default) a path template matches with or without its trailing slash,
//! the difference being answered with a redirect by the caller.

use std::sync::Arc;

use regex::Regex;

use super::regex_cache;

use super::parse::{Arg, ParseError};

/// How to compile one template.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TemplateOptions {
    pub default_pattern: &'static str,
    /// Prefix template: no `$` at the end.
    pub prefix: bool,
    /// Strict slash: a trailing `/` of the template becomes optional (`[/]?`).
    pub strict_slash: bool,
    pub case_insensitive: bool,
    /// Appended (unescaped) after the last literal part, before `$`.
    pub suffix: &'static str,
}

pub(crate) const PATH: TemplateOptions = TemplateOptions {
    default_pattern: "[^/]+",
    prefix: false,
    strict_slash: false,
    case_insensitive: false,
    suffix: "",
};

pub(crate) const HOST: TemplateOptions = TemplateOptions {
    default_pattern: "[^.]+",
    case_insensitive: true,
    ..PATH
};

pub(crate) const QUERY: TemplateOptions = TemplateOptions {
    default_pattern: QUERY_DEFAULT,
    ..PATH
};

/// mux's default pattern for query variables (and for an empty query value).
pub(crate) const QUERY_DEFAULT: &str = "[^?&]*";

/// Byte ranges `[start, end)` of the first-level `{…}` of a template.
fn brace_ranges(arg: &Arg, what: &str) -> Result<Vec<(usize, usize)>, ParseError> {
    let text = arg.as_str();
    let mut level = 0usize;
    let mut open = 0;
    let mut ranges = Vec::new();
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => {
                if level == 0 {
                    open = i;
                }
                level += 1;
            }
            b'}' => {
                if level == 0 {
                    return Err(ParseError {
                        offset: arg.offset_at(i),
                        message: format!("unbalanced braces in {what} {text:?}: unexpected '}}'"),
                    });
                }
                level -= 1;
                if level == 0 {
                    ranges.push((open, i + 1));
                }
            }
            _ => {}
        }
    }
    if level != 0 {
        return Err(ParseError {
            offset: arg.offset_at(open),
            message: format!("unbalanced braces in {what} {text:?}: '{{' is never closed"),
        });
    }
    Ok(ranges)
}

/// The literal text before the first variable: every match starts with it.
pub(crate) fn literal_prefix(template: &str) -> &str {
    match template.find('{') {
        Some(i) => &template[..i],
        None => template,
    }
}

/// A template's variables: byte range of the `{…}` in the text, offset of its pattern, the
/// pattern translated for Rust (`None` when the name or the pattern is empty).
struct Var {
    start: usize,
    end: usize,
    patt_at: usize,
    /// The pattern as written (or the default).
    patt: String,
    translated: Option<String>,
}

fn vars(text: &str, ranges: &[(usize, usize)], opts: TemplateOptions) -> Vec<Var> {
    ranges
        .iter()
        .map(|&(start, end)| {
            let inner = &text[start + 1..end - 1];
            let (name, patt, patt_at) = match inner.find(':') {
                Some(c) => (&inner[..c], &inner[c + 1..], start + 2 + c),
                None => (inner, opts.default_pattern, start + 1),
            };
            Var {
                start,
                end,
                patt_at,
                patt: patt.to_string(),
                translated: (!name.is_empty() && !patt.is_empty()).then(|| go_regex(patt)),
            }
        })
        .collect()
}

/// The anchored pattern of the template's text up to `cut` (its literal end past `cut` left
/// out), or `None` when a variable has no name or pattern.
fn pattern(text: &str, vars: &[Var], opts: TemplateOptions, cut: usize) -> Option<String> {
    let mut end_literal = cut;
    if opts.strict_slash && text[..cut].ends_with('/') {
        end_literal -= 1;
    }
    let mut pattern = String::with_capacity(text.len() + 16);
    pattern.push('^');
    let mut last = 0;
    for var in vars {
        pattern.push_str(&regex::escape(&text[last..var.start]));
        last = var.end;
        pattern.push_str("(?:");
        pattern.push_str(var.translated.as_deref()?);
        pattern.push(')');
    }
    pattern.push_str(&regex::escape(&text[last..end_literal.max(last)]));
    if opts.strict_slash {
        pattern.push_str("[/]?");
    }
    pattern.push_str(opts.suffix);
    if !opts.prefix {
        pattern.push('$');
    }
    Some(pattern)
}

/// Why a template does not compile: the first variable at fault (no name or pattern, or a
/// pattern that is no regex on its own), else the whole pattern's error.
fn explain(arg: &Arg, vars: &[Var], what: &str, whole: Option<regex::Error>) -> ParseError {
    let text = arg.as_str();
    for var in vars {
        let Some(translated) = &var.translated else {
            return ParseError {
                offset: arg.offset_at(var.start),
                message: format!(
                    "missing name or pattern in {:?} of {what} {text:?}",
                    &text[var.start..var.end]
                ),
            };
        };
        if let Err(e) = Regex::new(&format!("^(?:{translated})$")) {
            let patt = &var.patt;
            return ParseError {
                offset: arg.offset_at(var.patt_at),
                message: format!(
                    "invalid regular expression {patt:?} in {what} {text:?}: {}",
                    regex_error(&e)
                ),
            };
        }
    }
    ParseError {
        offset: arg.offset(),
        message: match whole {
            Some(e) => format!("invalid {what} {text:?}: {}", regex_error(&e)),
            None => format!("invalid {what} {text:?}"),
        },
    }
}

/// Compiles a template. `what` names it in messages (e.g. `Path template`). Identical patterns
/// share one compiled program (`regex_cache`).
pub(crate) fn compile(arg: &Arg, opts: TemplateOptions, what: &str) -> Result<Regex, ParseError> {
    let text = arg.as_str();
    let ranges = brace_ranges(arg, what)?;
    let vars = vars(text, &ranges, opts);
    let Some(pattern) = pattern(text, &vars, opts, text.len()) else {
        return Err(explain(arg, &vars, what, None));
    };
    match regex_cache::shared(&pattern, opts.case_insensitive) {
        Ok(re) => Ok(Regex::clone(&re)),
        Err(e) => Err(explain(arg, &vars, what, Some(e))),
    }
}

/// A compiled host template (`HostRegexp`), split at its literal end when that is exact.
#[derive(Debug, Clone)]
pub(crate) struct HostTemplate {
    /// The text after the last variable (the whole template without one), lowercased, when it
    /// is ASCII and not empty: every host the template matches ends with it, compared
    /// case-insensitively. Unicode case folding lets ASCII letters match a few non-ASCII ones
    /// (`s`/`ſ`, `k`/`K`), which a byte comparison would not see: hence ASCII only.
    pub suffix: Option<String>,
    matcher: HostMatcher,
}

#[derive(Debug, Clone)]
enum HostMatcher {
    Whole(Arc<Regex>),
    /// For an ASCII host: the host ends with `suffix` and `head` matches what is before it.
    /// Exact because an ASCII host leaves the suffix exactly its last `suffix.len()` bytes, and
    /// no variable holds an assertion (`^ $ \b …`) that could look across the cut. The head
    /// is the same for every template that differs only in its literal end (`{sub:[a-z]+}`),
    /// so thousands of such frontends share one compiled regex. A host that is not ASCII
    /// needs the whole pattern: compiled on first use.
    Head {
        head: Arc<Regex>,
        whole_pattern: Box<str>,
        whole: std::sync::OnceLock<Option<Arc<Regex>>>,
    },
}

impl HostTemplate {
    /// `host` is lowercase (v1's canonical host).
    pub fn is_match(&self, host: &str) -> bool {
        match &self.matcher {
            HostMatcher::Whole(re) => re.is_match(host),
            HostMatcher::Head { head, .. } if host.is_ascii() => {
                let suffix = self.suffix.as_deref().unwrap_or("");
                host.len() >= suffix.len()
                    && host.as_bytes()[host.len() - suffix.len()..]
                        .eq_ignore_ascii_case(suffix.as_bytes())
                    && head.is_match(&host[..host.len() - suffix.len()])
            }
            HostMatcher::Head {
                whole_pattern,
                whole,
                ..
            } => {
                // The head compiled, so the whole almost surely does (it adds a literal); if
                // it hit a size limit, the template matches no such host.
                let re = whole.get_or_init(|| regex_cache::shared(whole_pattern, true).ok());
                re.as_ref().is_some_and(|re| re.is_match(host))
            }
        }
    }
}

/// Compiles a `HostRegexp` template (see [`HostTemplate`]).
pub(crate) fn compile_host(arg: &Arg, what: &str) -> Result<HostTemplate, ParseError> {
    let opts = HOST;
    let text = arg.as_str();
    let ranges = brace_ranges(arg, what)?;
    let vars = vars(text, &ranges, opts);
    let cut = ranges.last().map_or(0, |&(_, end)| end);
    let literal = &text[cut..];
    let suffix = (!literal.is_empty() && literal.is_ascii()).then(|| literal.to_ascii_lowercase());
    let Some(whole_pattern) = pattern(text, &vars, opts, text.len()) else {
        return Err(explain(arg, &vars, what, None));
    };
    let splittable = suffix.is_some()
        && vars
            .iter()
            .all(|v| v.translated.as_deref().is_some_and(no_assertion));
    let compiled = if splittable {
        let head = pattern(text, &vars, opts, cut).expect("every variable has a pattern");
        regex_cache::shared(&head, true).map(|head| HostMatcher::Head {
            head,
            whole_pattern: whole_pattern.into(),
            whole: std::sync::OnceLock::new(),
        })
    } else {
        regex_cache::shared(&whole_pattern, true).map(HostMatcher::Whole)
    };
    match compiled {
        Ok(matcher) => Ok(HostTemplate { suffix, matcher }),
        Err(e) => Err(explain(arg, &vars, what, Some(e))),
    }
}

/// True when a (translated) pattern holds no assertion: no `^` or `$` outside a class, no
/// `\A \z \b \B \< \>` (Rust's look-around escapes). Conservative: it may say no to a
/// pattern without one (then the template is matched whole, as before).
fn no_assertion(p: &str) -> bool {
    let mut depth = 0usize;
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('A' | 'z' | 'b' | 'B' | '<' | '>') | None => return false,
                Some(_) => {}
            },
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            '^' | '$' if depth == 0 => return false,
            _ => {}
        }
    }
    true
}

/// Compiles a plain Go regular expression (HeadersRegexp values, ReplacePathRegex), unanchored
/// as Go's `regexp.Compile`.
pub(crate) fn compile_plain(arg: &Arg, what: &str) -> Result<Regex, ParseError> {
    Regex::new(&go_regex(arg.as_str())).map_err(|e| ParseError {
        offset: arg.offset(),
        message: format!(
            "invalid regular expression {:?} in {what}: {}",
            arg.as_str(),
            regex_error(&e)
        ),
    })
}

/// The one-line reason of a `regex` error (its `Display` draws the pattern over several lines).
pub(crate) fn regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(s)
            .to_string(),
        other => other.to_string(),
    }
}

/// Rewrites a Go (RE2) regular expression for Rust's `regex`, where the two differ:
///
/// * `\d \w \s \b` (and negations) are ASCII-only in Go, Unicode-aware in Rust;
/// * in Go `[` inside a class and `&&`, `~~`, `--` are literal, in Rust they nest or are set
///   operations;
/// * Go reads a `{` that does not start a valid repetition as a literal, Rust rejects it;
/// * Go has `\Q…\E` literal spans.
///
/// Anything else is passed through: both are RE2-style, and where Rust accepts more (it rarely
/// does) we are only more lenient.
pub(crate) fn go_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.char_indices().peekable();
    let mut in_class = false;
    // Position right after the class's opening `[` (or `[^`), where `]` is literal.
    let mut class_start = usize::MAX;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match e {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str(r"[\t\n\f\r ]"),
                    'S' => out.push_str(r"[^\t\n\f\r ]"),
                    'b' if !in_class => out.push_str(r"(?-u:\b)"),
                    'B' if !in_class => out.push_str(r"(?-u:\B)"),
                    'Q' if !in_class => {
                        let rest = &p[i + 2..];
                        let (lit, consumed) = match rest.find(r"\E") {
                            Some(e) => (&rest[..e], e + 2),
                            None => (rest, rest.len()),
                        };
                        out.push_str(&regex::escape(lit));
                        let stop = i + 2 + consumed;
                        while chars.peek().is_some_and(|&(j, _)| j < stop) {
                            chars.next();
                        }
                    }
                    'p' | 'P' | 'x' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                        // `\p{Greek}`, `\x{263a}`: copied whole, braces included.
                        out.push('\\');
                        out.push(e);
                        for (_, n) in chars.by_ref() {
                            out.push(n);
                            if n == '}' {
                                break;
                            }
                        }
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek().is_some_and(|&(_, n)| n == '^') {
                    chars.next();
                    out.push('^');
                }
                class_start = chars.peek().map_or(p.len(), |&(j, _)| j);
            }
            ']' if in_class && i == class_start => out.push_str(r"\]"),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => {
                // `[:alpha:]` is a class in both; any other `[` is literal in Go.
                if let Some(end) = posix_class_end(&p[i..]) {
                    out.push_str(&p[i..i + end]);
                    while chars.peek().is_some_and(|&(j, _)| j < i + end) {
                        chars.next();
                    }
                } else {
                    out.push_str(r"\[");
                }
            }
            '&' | '~' | '-' if in_class && chars.peek().is_some_and(|&(_, n)| n == c) => {
                chars.next();
                out.push(c);
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class => match repetition_len(&p[i..]) {
                Some(len) => {
                    out.push_str(&p[i..i + len]);
                    while chars.peek().is_some_and(|&(j, _)| j < i + len) {
                        chars.next();
                    }
                }
                None => out.push_str(r"\{"),
            },
            '}' if !in_class => out.push_str(r"\}"),
            _ => out.push(c),
        }
    }
    out
}

/// Length of the `{n}`, `{n,}` or `{n,m}` that `s` starts with.
fn repetition_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if i < b.len() && b[i] == b',' {
        i += 1;
        digits(&mut i);
    }
    (i < b.len() && b[i] == b'}').then_some(i + 1)
}

/// Length of a `[:name:]` / `[:^name:]` at the start of `s`.
fn posix_class_end(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("[:")?;
    let end = rest.find(":]")?;
    let name = rest[..end].strip_prefix('^').unwrap_or(&rest[..end]);
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase())).then_some(end + 4)
}

/// Percent-encodes a decoded path as Go's `url.URL.EscapedPath` does when it has no usable raw
/// form (`escape(path, encodePath)`): unreserved characters and `$&+,/:;=@` stay, everything
/// else is `%XX`.
pub(crate) fn escape_path(path: &str) -> String {
    fn keep(b: u8) -> bool {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            )
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::parse::parse;

    fn arg(text: &str) -> Arg {
        // "Path:" is 5 bytes long: offsets in these tests are relative to the rule.
        parse(&format!("Path:{text}")).unwrap()[0].args[0].clone()
    }

    fn re(text: &str, opts: TemplateOptions) -> Regex {
        compile(&arg(text), opts, "template").unwrap()
    }

    /// Split host templates answer as the whole template's regex does, on ASCII and non-ASCII
    /// hosts, with assertions in the variables (then not split) and without a literal end.
    #[test]
    fn host_split_matches_as_the_whole_template() {
        let templates = [
            "{sub:[a-z]+}.r7.example.com",
            "{sub}.Example.COM",
            "{a}.{b}.as.com",
            "x{a:[0-9]+}y.com",
            r"{x:a\b}b.com",
            r"{x:a$}b.com",
            "{x:[^b]+}b.com",
            "{x:.*}",
            "{x}.é.com",
            "exact.com",
            "{x:(?i)K}.com",
        ];
        let hosts = [
            "a.r7.example.com",
            "9.r7.example.com",
            "r7.example.com",
            "a.example.com",
            "a.b.as.com",
            "a.b.aſ.com",
            "x12y.com",
            "xy.com",
            "ab.com",
            "a$b.com",
            "aab.com",
            "ccb.com",
            "x.é.com",
            "x.É.com",
            "exact.com",
            "k.com",
            "K.com",
            "",
            ".com",
        ];
        for t in templates {
            let whole = compile(&arg(t), HOST, "t").unwrap();
            let split = compile_host(&arg(t), "t").unwrap();
            for h in hosts {
                assert_eq!(split.is_match(h), whole.is_match(h), "{t:?} on {h:?}");
            }
        }
        assert!(matches!(
            compile_host(&arg("{sub:[a-z]+}.r7.example.com"), "t")
                .unwrap()
                .matcher,
            HostMatcher::Head { .. }
        ));
        assert!(matches!(
            compile_host(&arg(r"{x:a\b}b.com"), "t").unwrap().matcher,
            HostMatcher::Whole(_)
        ));
    }

    #[test]
    fn literal_and_vars() {
        let r = re("/a/{id:[0-9]+}/b", PATH);
        assert!(r.is_match("/a/12/b"));
        assert!(!r.is_match("/a/x/b"));
        assert!(!r.is_match("/a/12/b/"));
        assert!(!r.is_match("/x/a/12/b"));
        let r = re("/a/{id}", PATH);
        assert!(r.is_match("/a/xyz"));
        assert!(!r.is_match("/a/x/y"));
        assert!(!r.is_match("/a/"));
        let r = re("/a.b", PATH);
        assert!(r.is_match("/a.b"));
        assert!(!r.is_match("/axb"));
    }

    #[test]
    fn nested_braces_and_alternation_stay_inside_the_variable() {
        let r = re("/{id:[a-z]{3}}", PATH);
        assert!(r.is_match("/abc"));
        assert!(!r.is_match("/abcd"));
        let r = re("/x/{v:a|b}", PATH);
        assert!(r.is_match("/x/a"));
        assert!(r.is_match("/x/b"));
        assert!(!r.is_match("b"));
    }

    #[test]
    fn strict_slash_and_prefix() {
        let strict = TemplateOptions {
            strict_slash: true,
            ..PATH
        };
        let r = re("/a/{id}", strict);
        assert!(r.is_match("/a/1"));
        assert!(r.is_match("/a/1/"));
        let r = re("/a/{id}/", strict);
        assert!(r.is_match("/a/1"));
        assert!(r.is_match("/a/1/"));
        let prefix = TemplateOptions {
            prefix: true,
            ..PATH
        };
        let r = re("/a/{id:[0-9]+}", prefix);
        assert!(r.is_match("/a/1/anything"));
        assert!(r.is_match("/a/12x"));
        assert!(!r.is_match("/a/x1"));
    }

    #[test]
    fn host_is_case_insensitive() {
        let r = re("{sub:[a-z]+}.example.com", HOST);
        assert!(r.is_match("api.example.com"));
        assert!(r.is_match("API.Example.com"));
        assert!(!r.is_match("a.b.example.com"));
        let r = re("{sub}.example.com", HOST);
        assert!(!r.is_match("a.b.example.com"));
        assert!(r.is_match("a-b.example.com"));
    }

    #[test]
    fn errors_have_offsets() {
        let e = compile(&arg("/a/{id"), PATH, "Path template").unwrap_err();
        assert_eq!(e.offset, 5 + 3);
        assert!(e.message.contains("unbalanced braces"), "{}", e.message);
        let e = compile(&arg("/a/id}"), PATH, "Path template").unwrap_err();
        assert_eq!(e.offset, 5 + 5);
        let e = compile(&arg("/a/{id:[0-9}"), PATH, "Path template").unwrap_err();
        assert_eq!(e.offset, 5 + 7);
        assert!(
            e.message.contains("unclosed character class"),
            "{}",
            e.message
        );
        let e = compile(&arg("/a/{:[0-9]+}"), PATH, "Path template").unwrap_err();
        assert_eq!(e.offset, 5 + 3);
        assert!(e.message.contains("missing name or pattern"));
        let e = compile(&arg("/a/{id:}"), PATH, "Path template").unwrap_err();
        assert!(e.message.contains("missing name or pattern"));
    }

    #[test]
    fn go_regex_translation() {
        let r = Regex::new(&go_regex(r"^\d+$")).unwrap();
        assert!(r.is_match("123"));
        assert!(!r.is_match("١٢٣"), "Go's \\d is ASCII only");
        let r = Regex::new(&go_regex(r"^[\w.]+$")).unwrap();
        assert!(r.is_match("a_b.c"));
        assert!(!r.is_match("é"));
        let r = Regex::new(&go_regex(r"^[^\s]+\S$")).unwrap();
        assert!(r.is_match("ab"));
        assert!(!r.is_match("a b"));
        let r = Regex::new(&go_regex(r"^[[a]+$")).unwrap();
        assert!(r.is_match("[a["));
        let r = Regex::new(&go_regex(r"^[]a]+$")).unwrap();
        assert!(r.is_match("]a"));
        let r = Regex::new(&go_regex(r"^[[:digit:]x]+$")).unwrap();
        assert!(r.is_match("1x2"));
        let r = Regex::new(&go_regex(r"^[a&&b]+$")).unwrap();
        assert!(r.is_match("a&b"));
        let r = Regex::new(&go_regex(r"^a{,3}$")).unwrap();
        assert!(r.is_match("a{,3}"));
        let r = Regex::new(&go_regex(r"^a{2}}$")).unwrap();
        assert!(r.is_match("aa}"));
        let r = Regex::new(&go_regex(r"^\Qa.b\E+$")).unwrap();
        assert!(r.is_match("a.bb"));
        assert!(!r.is_match("axb"));
        let r = Regex::new(&go_regex(r"\bword\b")).unwrap();
        assert!(r.is_match("a word here"));
        assert!(Regex::new(&go_regex(r"\\d")).unwrap().is_match(r"\d"));
        let r = Regex::new(&go_regex(r"^\p{Greek}\x{41}{2}$")).unwrap();
        assert!(r.is_match("αAA"));
        let r = Regex::new(&go_regex(r"^a{1,2}b{3}$")).unwrap();
        assert!(r.is_match("aabbb"));
    }

    #[test]
    fn escape_like_go() {
        assert_eq!(escape_path("/a b/c?d#e"), "/a%20b/c%3Fd%23e");
        assert_eq!(escape_path("/é"), "/%C3%A9");
        assert_eq!(escape_path("/a-_.~$&+,/:;=@"), "/a-_.~$&+,/:;=@");
        assert_eq!(escape_path("/100%"), "/100%25");
    }
}
