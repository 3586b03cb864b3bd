//! Calls compiled to matchers and modifiers; a frontend's routes compiled to one `FrontendRule`.

use std::cmp::Reverse;

use http::HeaderName;
use regex::Regex;

use super::parse::{Arg, Call, Function, ParseError, parse};
use super::template::{self, HostTemplate, PATH, QUERY, QUERY_DEFAULT, TemplateOptions};
use super::{CompileOptions, Match, PathKey, RequestInfo, RuleError, query};

/// One alternative of a `Path`-like matcher (mux `Path` template).
#[derive(Debug, Clone)]
enum PathAlt {
    /// No variable: compared as a string.
    Literal(String),
    Template {
        re: Regex,
        template: String,
    },
}

/// One alternative of a `PathPrefix`-like matcher.
#[derive(Debug, Clone)]
enum PrefixAlt {
    /// `strings.HasPrefix` (v1's lightweight prefix matcher; `/foo` matches `/foobar`).
    Literal(String),
    /// mux `PathPrefix` template.
    Template { re: Regex, template: String },
}

#[derive(Debug, Clone)]
enum QueryValue {
    /// `k=`: the key is present and its first value matches `[^?&]*`.
    Any,
    Literal(String),
    /// The value is a template: matched against the first value.
    Template(Regex),
    /// The key itself holds a variable: mux matches `key=value` as one string.
    Whole(Regex),
}

#[derive(Debug, Clone)]
struct QueryPair {
    key: String,
    value: QueryValue,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// Lowercase; the request host must be one of them.
    Host(Vec<String>),
    HostRegexp(Vec<HostTemplate>),
    /// mux `Path`: the first alternative that matches decides (it may ask for a redirect).
    Path(Vec<PathAlt>),
    PathPrefix(Vec<PrefixAlt>),
    /// Uppercase.
    Method(Vec<String>),
    /// All pairs; an empty value only asks for the header to be present.
    Headers(Vec<(HeaderName, String)>),
    /// All pairs; the value regex is unanchored, as Go's `regexp.MatchString`.
    HeadersRegexp(Vec<(HeaderName, Regex)>),
    Query(Vec<QueryPair>),
}

/// Outcome of one matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    No,
    Yes,
    /// Matched, but with the other trailing slash than the template (strict slash).
    Redirect,
}

impl Matcher {
    /// Rough cost class, to test cheap matchers first (the result is an AND: order is free).
    fn cost(&self) -> u8 {
        match self {
            Matcher::Host(_) => 0,
            Matcher::Method(_) => 1,
            Matcher::Path(alts) if alts.iter().all(|a| matches!(a, PathAlt::Literal(_))) => 2,
            Matcher::PathPrefix(alts)
                if alts.iter().all(|a| matches!(a, PrefixAlt::Literal(_))) =>
            {
                2
            }
            Matcher::Headers(_) => 3,
            Matcher::Query(_) => 4,
            _ => 5,
        }
    }

    fn eval(&self, req: &RequestInfo, strict: bool) -> Outcome {
        let yes = |b: bool| if b { Outcome::Yes } else { Outcome::No };
        match self {
            Matcher::Host(hosts) => {
                yes(!req.host.is_empty() && hosts.iter().any(|h| h == req.host))
            }
            Matcher::HostRegexp(alts) => yes(alts.iter().any(|a| a.is_match(req.host))),
            Matcher::Path(alts) => {
                for alt in alts {
                    let outcome = path_alt(alt, req.path, strict);
                    if outcome != Outcome::No {
                        return outcome;
                    }
                }
                Outcome::No
            }
            Matcher::PathPrefix(alts) => yes(alts.iter().any(|alt| match alt {
                PrefixAlt::Literal(p) => req.path.starts_with(p.as_str()),
                PrefixAlt::Template { re, .. } => re.is_match(req.path),
            })),
            Matcher::Method(methods) => yes(methods.iter().any(|m| m == req.method.as_str())),
            Matcher::Headers(pairs) => yes(pairs.iter().all(|(name, want)| {
                let mut values = req.headers.get_all(name).iter().peekable();
                values.peek().is_some()
                    && (want.is_empty() || values.any(|v| v.as_bytes() == want.as_bytes()))
            })),
            Matcher::HeadersRegexp(pairs) => yes(pairs.iter().all(|(name, re)| {
                req.headers
                    .get_all(name)
                    .iter()
                    .any(|v| match std::str::from_utf8(v.as_bytes()) {
                        Ok(s) => re.is_match(s),
                        Err(_) => re.is_match(&String::from_utf8_lossy(v.as_bytes())),
                    })
            })),
            Matcher::Query(pairs) => {
                let q = req.query.unwrap_or("");
                yes(pairs.iter().all(|pair| {
                    let Some(value) = query::first_value(q, &pair.key) else {
                        return false;
                    };
                    match &pair.value {
                        QueryValue::Any => !value.contains(['?', '&']),
                        QueryValue::Literal(v) => *value == **v,
                        QueryValue::Template(re) => re.is_match(&value),
                        QueryValue::Whole(re) => re.is_match(&format!("{}={value}", pair.key)),
                    }
                }))
            }
        }
    }

    /// Literal keys a matching path must hit (see `FrontendRule::literal_paths`).
    fn path_keys(&self, strict: bool) -> Option<Vec<PathKey>> {
        let mut keys = Vec::new();
        match self {
            Matcher::Path(alts) => {
                for alt in alts {
                    match alt {
                        PathAlt::Literal(t) => {
                            keys.push(PathKey::Exact(t.clone()));
                            if strict {
                                keys.push(PathKey::Exact(toggle_slash(t)));
                            }
                        }
                        PathAlt::Template { template, .. } => {
                            keys.push(PathKey::Prefix(template::literal_prefix(template).into()))
                        }
                    }
                }
            }
            Matcher::PathPrefix(alts) => {
                for alt in alts {
                    keys.push(PathKey::Prefix(match alt {
                        PrefixAlt::Literal(p) => p.clone(),
                        PrefixAlt::Template { template, .. } => {
                            template::literal_prefix(template).into()
                        }
                    }));
                }
            }
            _ => return None,
        }
        Some(keys)
    }
}

fn path_alt(alt: &PathAlt, path: &str, strict: bool) -> Outcome {
    let (matched, template) = match alt {
        PathAlt::Literal(t) => {
            if path == t {
                return Outcome::Yes;
            }
            if !strict {
                return Outcome::No;
            }
            // mux turns the template into `^<template without its trailing slash>[/]?$`.
            let base = t.strip_suffix('/').unwrap_or(t);
            let matched = path
                .strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest == "/");
            (matched, t.as_str())
        }
        PathAlt::Template { re, template } => (re.is_match(path), template.as_str()),
    };
    if !matched {
        Outcome::No
    } else if strict && path.ends_with('/') != template.ends_with('/') {
        Outcome::Redirect
    } else {
        Outcome::Yes
    }
}

/// `/a` ⇄ `/a/` (`/` ⇄ ``).
fn toggle_slash(p: &str) -> String {
    match p.strip_suffix('/') {
        Some(base) => base.to_string(),
        None => format!("{p}/"),
    }
}

/// Path-rewriting data of a frontend, for the path layers, in v1's order of application:
/// `strip_prefix_regex` → `strip_prefix` → `add_prefix` → `replace_path_regex` →
/// `replace_path` (v1.7 `buildMatcherMiddlewares`), whatever their order in the rule.
///
/// As in v1 each kind holds one value: a later `PathStrip`/`PathPrefixStrip` replaces the
/// prefixes of an earlier one (likewise the two regex strips), and the last argument of the last
/// `AddPrefix`/`ReplacePath`/`ReplacePathRegex` wins. An empty one is no modifier at all.
#[derive(Debug, Clone, Default)]
pub struct Modifiers {
    /// `PathStrip`/`PathPrefixStrip` arguments, longest first (the order to try them in). The
    /// first that the decoded path starts with is removed; none ⇒ 404. A prefix with a
    /// `{variable}` is kept as written, so it only strips itself literally (as in v1).
    pub strip_prefix: Vec<String>,
    /// `PathStripRegex`/`PathPrefixStripRegex` templates compiled to regexes anchored at the
    /// start (`^…`, no `$`), longest template first: the first that matches the decoded path
    /// strips what it matched; none ⇒ 404.
    pub strip_prefix_regex: Vec<Regex>,
    pub add_prefix: Option<String>,
    /// Unanchored regex (as written) and its `$1`/`${name}` replacement.
    pub replace_path_regex: Option<(Regex, String)>,
    pub replace_path: Option<String>,
}

impl Modifiers {
    /// No modifier at all.
    pub fn is_empty(&self) -> bool {
        self.strip_prefix.is_empty()
            && self.strip_prefix_regex.is_empty()
            && self.add_prefix.is_none()
            && self.replace_path_regex.is_none()
            && self.replace_path.is_none()
    }
}

/// All routes of one frontend, compiled: the AND of all their matchers, and their modifiers.
#[derive(Debug, Clone)]
pub struct FrontendRule {
    /// Cheapest first.
    matchers: Vec<Matcher>,
    modifiers: super::SharedModifiers,
    strict_slash: bool,
}

impl FrontendRule {
    /// Compiles the rules of a frontend's routes (in the caller's route order, which only
    /// matters for modifiers: the last one of a kind wins). No route at all, or routes made only
    /// of `;`, match every request, as in v1.
    pub fn compile(rules: &[&str], opts: &CompileOptions) -> Result<Self, RuleError> {
        let mut compiler = Compiler {
            strict_slash: !opts.keep_trailing_slash,
            matchers: Vec::new(),
            modifiers: Modifiers::default(),
        };
        for (route, rule) in rules.iter().enumerate() {
            let err = |e: ParseError| RuleError {
                route,
                offset: e.offset,
                message: e.message,
            };
            for call in parse(rule).map_err(err)? {
                compiler.call(&call, rule).map_err(err)?;
            }
        }
        let mut matchers = compiler.matchers;
        matchers.sort_by_key(Matcher::cost);
        Ok(FrontendRule {
            matchers,
            modifiers: super::SharedModifiers::new(compiler.modifiers),
            strict_slash: compiler.strict_slash,
        })
    }

    /// Tests a request. `Redirect` carries the path with the other trailing slash,
    /// percent-encoded as Go would write it in `Location` (the caller appends `?query`).
    pub fn matches(&self, req: &RequestInfo) -> Match {
        let mut redirect = false;
        for m in &self.matchers {
            match m.eval(req, self.strict_slash) {
                Outcome::No => return Match::No,
                Outcome::Yes => {}
                Outcome::Redirect => redirect = true,
            }
        }
        if redirect {
            Match::Redirect(template::escape_path(&toggle_slash(req.path)))
        } else {
            Match::Yes
        }
    }

    pub fn modifiers(&self) -> &Modifiers {
        &self.modifiers
    }

    /// The modifiers as the runtime keeps them: shared with this rule, not copied.
    pub fn shared_modifiers(&self) -> &super::SharedModifiers {
        &self.modifiers
    }

    /// `Some(hosts)` when a `Host` matcher is required: a matching request's host is one of
    /// these (lowercase; an empty entry never matches). With several `Host` matchers, the
    /// smallest list.
    pub fn exact_hosts(&self) -> Option<&[String]> {
        self.matchers
            .iter()
            .filter_map(|m| match m {
                Matcher::Host(hosts) => Some(hosts.as_slice()),
                _ => None,
            })
            .min_by_key(|hosts| hosts.len())
    }

    /// `Some(suffixes)` when a `HostRegexp` matcher is required and each of its templates ends
    /// with ASCII literal text: a matching request's (lowercase) host ends with one of these
    /// (lowercase). With several such matchers, the one whose shortest suffix is longest.
    pub fn host_suffixes(&self) -> Option<Vec<&str>> {
        self.matchers
            .iter()
            .filter_map(|m| match m {
                Matcher::HostRegexp(alts) => alts
                    .iter()
                    .map(|a| a.suffix.as_deref())
                    .collect::<Option<Vec<&str>>>(),
                _ => None,
            })
            .max_by_key(|suffixes| suffixes.iter().map(|s| s.len()).min().unwrap_or(0))
    }

    /// `Some(keys)` when a path matcher is required: a matching request's decoded path equals
    /// one `Exact` key or starts with one `Prefix` key. `Path` literals give `Exact` keys, with
    /// their other-slash variant when strict slash is on (the redirect case); templates give the
    /// literal text before their first variable as a `Prefix`. With several path matchers, the
    /// most selective one.
    pub fn literal_paths(&self) -> Option<Vec<PathKey>> {
        self.matchers
            .iter()
            .filter_map(|m| m.path_keys(self.strict_slash))
            .max_by_key(|keys| {
                let shortest = keys
                    .iter()
                    .map(|k| k.as_str().len())
                    .min()
                    .unwrap_or(usize::MAX);
                let all_exact = keys.iter().all(|k| matches!(k, PathKey::Exact(_)));
                (shortest, all_exact, Reverse(keys.len()))
            })
    }
}

struct Compiler {
    strict_slash: bool,
    matchers: Vec<Matcher>,
    modifiers: Modifiers,
}

fn error(offset: usize, message: String) -> ParseError {
    ParseError { offset, message }
}

/// v1 sorts the strip functions' arguments longest first (`bySize`) before using them.
fn longest_first(args: &[Arg]) -> Vec<Arg> {
    let mut sorted = args.to_vec();
    sorted.sort_by_key(|a| Reverse(a.as_str().len()));
    sorted
}

impl Compiler {
    fn call(&mut self, call: &Call, rule: &str) -> Result<(), ParseError> {
        let f = call.function;
        let args = &call.args;
        match f {
            Function::Host => self.matchers.push(Matcher::Host(
                args.iter().map(|a| a.as_str().to_lowercase()).collect(),
            )),
            Function::HostRegexp => {
                let alts = args
                    .iter()
                    .map(|a| template::compile_host(a, "HostRegexp template"))
                    .collect::<Result<_, _>>()?;
                self.matchers.push(Matcher::HostRegexp(alts));
            }
            Function::Path => {
                let alts = self.path_alts(args, f)?;
                self.matchers.push(Matcher::Path(alts));
            }
            Function::PathStrip => {
                let args = longest_first(args);
                let alts = self.path_alts(&args, f)?;
                self.matchers.push(Matcher::Path(alts));
                self.modifiers.strip_prefix = args.iter().map(|a| a.as_str().to_string()).collect();
            }
            Function::PathStripRegex => {
                let args = longest_first(args);
                let alts = self.path_alts(&args, f)?;
                self.matchers.push(Matcher::Path(alts));
                self.modifiers.strip_prefix_regex = strip_regexes(&args, f)?;
            }
            Function::PathPrefix => {
                let alts = prefix_alts(args, f, false)?;
                self.matchers.push(Matcher::PathPrefix(alts));
            }
            Function::PathPrefixStrip => {
                let args = longest_first(args);
                let alts = prefix_alts(&args, f, false)?;
                self.matchers.push(Matcher::PathPrefix(alts));
                self.modifiers.strip_prefix = args.iter().map(|a| a.as_str().to_string()).collect();
            }
            Function::PathPrefixStripRegex => {
                let args = longest_first(args);
                let alts = prefix_alts(&args, f, true)?;
                self.matchers.push(Matcher::PathPrefix(alts));
                self.modifiers.strip_prefix_regex = strip_regexes(&args, f)?;
            }
            Function::Method => self.matchers.push(Matcher::Method(
                args.iter().map(|a| a.as_str().to_uppercase()).collect(),
            )),
            Function::Headers => {
                let mut pairs: Vec<(String, HeaderName, String)> = Vec::new();
                for (key, value) in header_pairs(args, f, rule)? {
                    let name = header_name(key, f)?;
                    let value = value.as_str().to_string();
                    // A Go map keyed by the raw key: the last duplicate wins.
                    pairs.retain(|(k, _, _)| k != key.as_str());
                    pairs.push((key.as_str().to_string(), name, value));
                }
                self.matchers.push(Matcher::Headers(
                    pairs.into_iter().map(|(_, n, v)| (n, v)).collect(),
                ));
            }
            Function::HeadersRegexp => {
                let mut pairs: Vec<(String, HeaderName, Regex)> = Vec::new();
                for (key, value) in header_pairs(args, f, rule)? {
                    let name = header_name(key, f)?;
                    let re = template::compile_plain(value, "HeadersRegexp value")?;
                    pairs.retain(|(k, _, _)| k != key.as_str());
                    pairs.push((key.as_str().to_string(), name, re));
                }
                self.matchers.push(Matcher::HeadersRegexp(
                    pairs.into_iter().map(|(_, n, r)| (n, r)).collect(),
                ));
            }
            Function::Query => {
                let pairs = query_pairs(args, rule)?;
                self.matchers.push(Matcher::Query(pairs));
            }
            Function::AddPrefix => {
                self.modifiers.add_prefix = last_path_arg(args, f)?;
            }
            Function::ReplacePath => {
                self.modifiers.replace_path = last_path_arg(args, f)?;
            }
            Function::ReplacePathRegex => {
                self.modifiers.replace_path_regex = replace_path_regex(args)?;
            }
        }
        Ok(())
    }

    fn path_alts(&self, args: &[Arg], f: Function) -> Result<Vec<PathAlt>, ParseError> {
        args.iter()
            .map(|a| {
                check_slash(a, f)?;
                let t = a.as_str();
                if t.contains(['{', '}']) {
                    let opts = TemplateOptions {
                        strict_slash: self.strict_slash,
                        ..PATH
                    };
                    let re = template::compile(a, opts, &format!("{f} template"))?;
                    Ok(PathAlt::Template {
                        re,
                        template: t.to_string(),
                    })
                } else {
                    Ok(PathAlt::Literal(t.to_string()))
                }
            })
            .collect()
    }
}

/// mux refuses a path template that does not start with `/`; v1 then silently dropped that
/// alternative (the sub-route carried the error). We report it instead.
fn check_slash(a: &Arg, f: Function) -> Result<(), ParseError> {
    if a.as_str().starts_with('/') {
        Ok(())
    } else {
        Err(error(
            a.offset(),
            format!("{f}: path must start with a slash, got {:?}", a.as_str()),
        ))
    }
}

/// `PathPrefix`/`PathPrefixStrip` use a plain string prefix unless the argument has a `{`
/// (then a mux prefix template); `PathPrefixStripRegex` always uses a template.
fn prefix_alts(
    args: &[Arg],
    f: Function,
    always_template: bool,
) -> Result<Vec<PrefixAlt>, ParseError> {
    args.iter()
        .map(|a| {
            let t = a.as_str();
            if always_template || t.contains('{') {
                check_slash(a, f)?;
                let opts = TemplateOptions {
                    prefix: true,
                    ..PATH
                };
                let re = template::compile(a, opts, &format!("{f} template"))?;
                Ok(PrefixAlt::Template {
                    re,
                    template: t.to_string(),
                })
            } else {
                // v1's lightweight matcher takes anything, even "" (which matches every path).
                Ok(PrefixAlt::Literal(t.to_string()))
            }
        })
        .collect()
}

fn strip_regexes(args: &[Arg], f: Function) -> Result<Vec<Regex>, ParseError> {
    let opts = TemplateOptions {
        prefix: true,
        ..PATH
    };
    args.iter()
        .map(|a| template::compile(a, opts, &format!("{f} template")))
        .collect()
}

fn header_pairs<'a>(
    args: &'a [Arg],
    f: Function,
    rule: &str,
) -> Result<impl Iterator<Item = (&'a Arg, &'a Arg)>, ParseError> {
    if !args.len().is_multiple_of(2) {
        let last = &args[args.len() - 1];
        return Err(error(
            last.offset(),
            format!(
                "{f} needs key,value pairs: {} has no value in rule {rule:?}",
                last.as_str()
            ),
        ));
    }
    Ok(args.chunks(2).map(|p| (&p[0], &p[1])))
}

fn header_name(key: &Arg, f: Function) -> Result<HeaderName, ParseError> {
    HeaderName::from_bytes(key.as_str().as_bytes()).map_err(|_| {
        error(
            key.offset(),
            format!("{f}: invalid header name {:?}", key.as_str()),
        )
    })
}

/// v1 splits every argument on `=` and pairs the pieces up: `Query:a=1,b=` is `a`→`1`, `b`→``.
fn query_pairs(args: &[Arg], rule: &str) -> Result<Vec<QueryPair>, ParseError> {
    let pieces: Vec<Arg> = args.iter().flat_map(|a| a.split(b'=')).collect();
    if !pieces.len().is_multiple_of(2) {
        let last = args.last().expect("a call has arguments");
        return Err(error(
            last.offset(),
            format!(
                "Query needs key=value pairs: {:?} in rule {rule:?}",
                last.as_str()
            ),
        ));
    }
    pieces
        .chunks(2)
        .map(|p| {
            let (key, value) = (&p[0], &p[1]);
            let k = key.as_str();
            let v = value.as_str();
            let value = if k.contains(['{', '}']) {
                // mux compiles `key=value` as one template; reproduce that.
                let whole = Arg::join(key, '=', value);
                let opts = TemplateOptions {
                    suffix: if v.is_empty() { QUERY_DEFAULT } else { "" },
                    ..QUERY
                };
                QueryValue::Whole(template::compile(&whole, opts, "Query template")?)
            } else if v.is_empty() {
                QueryValue::Any
            } else if v.contains(['{', '}']) {
                QueryValue::Template(template::compile(value, QUERY, "Query template")?)
            } else {
                QueryValue::Literal(v.to_string())
            };
            Ok(QueryPair {
                key: k.to_string(),
                value,
            })
        })
        .collect()
}

/// `AddPrefix`/`ReplacePath`: the last argument wins; empty means none.
fn last_path_arg(args: &[Arg], f: Function) -> Result<Option<String>, ParseError> {
    let last = args.last().expect("a call has arguments");
    if last.as_str().is_empty() {
        return Ok(None);
    }
    if !last.as_str().starts_with('/') {
        // v1 forwarded such a path as it was, making an invalid request line.
        return Err(error(
            last.offset(),
            format!("{f}: path must start with a slash, got {:?}", last.as_str()),
        ));
    }
    Ok(Some(last.as_str().to_string()))
}

/// `ReplacePathRegex:<regex> <replacement>`: the last argument wins; exactly one space.
fn replace_path_regex(args: &[Arg]) -> Result<Option<(Regex, String)>, ParseError> {
    let last = args.last().expect("a call has arguments");
    if last.as_str().is_empty() {
        return Ok(None);
    }
    let parts = last.split(b' ');
    if parts.len() != 2 {
        return Err(error(
            last.offset(),
            format!(
                "ReplacePathRegex: separate the regular expression and the replacement by one space, got {:?}",
                last.as_str()
            ),
        ));
    }
    let re = template::compile_plain(&parts[0].trimmed(), "ReplacePathRegex")?;
    let replacement = parts[1].as_str().trim();
    // v1 does nothing with an empty replacement.
    Ok((!replacement.is_empty()).then(|| (re, replacement.to_string())))
}
