//! The Traefik 1.x routing-rule grammar: parsing, matching, modifiers, and a rule index.
//!
//! Pure data and functions, no I/O.
//!
//! # Grammar (v1 `rules/rules.go`, reproduced with its quirks)
//!
//! `rule := call (";" call)*`, `call := Name ":" arg ("," arg)*`. The parser is v1's naive one
//! ([`parse::parse`]): split on `;` (empty pieces dropped), split each piece on `:` (empty fields
//! dropped), the first field trimmed is the name, the rest is joined again with `:` and split on
//! `,` (empty pieces dropped), each argument trimmed. Hence spaces are allowed
//! (`"Host: example.com; PathPrefixStrip: /api"`), `::` collapses to `:`, a regex cannot hold
//! `,` or `;`, and `Host:a.com; ` (a blank piece) is an error. Names are case-sensitive.
//!
//! `;` is AND between calls, `,` is OR inside a call (except `Headers`, `HeadersRegexp` and
//! `Query`, where the list is pairs, all required), and all the routes of a frontend are AND-ed
//! into one [`FrontendRule`].
//!
//! | call | matches when |
//! |---|---|
//! | `Host:a.com,b.com` | the request host (lowercase, no port) equals one of them, lowercased |
//! | `HostRegexp:{sub:[a-z]+}.a.com` | a host template matches, case-insensitively (default variable pattern `[^.]+`) |
//! | `Path:/a,/b/{id:[0-9]+}` | a path template matches the decoded path exactly (default `[^/]+`); strict slash, see below |
//! | `PathPrefix:/a` | no `{`: `path.starts_with("/a")`, so **`/a` matches `/abc`**; with `{`: a prefix template |
//! | `PathStrip`, `PathStripRegex` | as `Path`; then strip (literally / by template) |
//! | `PathPrefixStrip`, `PathPrefixStripRegex` | as `PathPrefix` (the `Regex` one always a template); then strip |
//! | `Method:GET,post` | the method is one of them, uppercased |
//! | `Headers:K,v,K2, ` | every key is present with that exact value among its values (a blank value: just present) |
//! | `HeadersRegexp:K,re` | every key is present with a value the (unanchored) regex finds |
//! | `Query:a=1,b=,c={x:[0-9]+}` | every key's first value equals / exists / matches the template |
//!
//! Modifiers (`AddPrefix`, `ReplacePath`, `ReplacePathRegex:<re> <replacement>`) and the strip
//! parts never affect matching; they are collected in [`Modifiers`], in v1's order of application.
//!
//! Templates are gorilla/mux's: `{name:pattern}` with balanced braces, any non-empty name; regexes
//! are Go's (RE2) syntax, translated where Rust's differs (`\d`, `\w`, `\s`, `\b` are ASCII).
//!
//! **Strict slash.** Unless `keep_trailing_slash` is set (v1 `StrictSlash(!keepTrailingSlash)`),
//! a `Path`/`PathStrip`/`PathStripRegex` template matches the path with or without a trailing
//! slash, and when the slash differs from the template's the answer is [`Match::Redirect`] to the
//! other form (`Path:/a` + `/a/` ⇒ `/a`; `Path:/a/` + `/a` ⇒ `/a/`); v1 answers it with a 301.
//! The first alternative of a call that matches decides. Prefixes never redirect. With
//! `keep_trailing_slash` the mismatch is a plain non-match.
//!
//! **Departures**, all on rules v1 accepted but could not use: where mux refused to build an
//! alternative (unbalanced braces, invalid regex, a `Path` template not starting with `/`), v1
//! silently dropped that alternative, and we report an error instead; an invalid
//! `HeadersRegexp`/`ReplacePathRegex` regex or a `ReplacePathRegex` without exactly one space is
//! an error (v1 logged it and ignored the modifier); so is a `Headers` key that is not a valid
//! header name (v1: never matched); `AddPrefix`/`ReplacePath` must start with `/` (v1 forwarded
//! an invalid request line). `Query` with an odd number of `=`-separated pieces is
//! an error (v1 too). The redirect of a failing route never leaks to the next one.
//!
//! # Use
//!
//! ```
//! use trafik_config::rule::{CompileOptions, FrontendRule, Match, RequestInfo, RuleIndex};
//!
//! let opts = CompileOptions::default();
//! let api = FrontendRule::compile(&["Host: example.com; PathPrefixStrip: /api"], &opts).unwrap();
//! let web = FrontendRule::compile(&["Host:example.com"], &opts).unwrap();
//! assert_eq!(api.modifiers().strip_prefix, ["/api"]);
//! let index = RuleIndex::new(vec![(api, "api"), (web, "web")]);
//!
//! let headers = http::HeaderMap::new();
//! let req = RequestInfo {
//!     method: &http::Method::GET,
//!     host: "example.com",
//!     path: "/api/users",
//!     query: None,
//!     headers: &headers,
//! };
//! assert_eq!(index.lookup(&req), Some((&"api", Match::Yes)));
//! ```

mod index;
mod matcher;
pub mod parse;
mod query;
mod regex_cache;
mod shared_modifiers;
mod template;

use std::fmt;

pub use index::RuleIndex;
pub use matcher::{FrontendRule, Modifiers};
pub use parse::{Arg, Call, Function, ParseError, parse};
pub use shared_modifiers::SharedModifiers;

/// What the rules look at in a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a http::Method,
    /// Already lowercased, port stripped (v1's canonical host).
    pub host: &'a str,
    /// Percent-decoded path (Go's `URL.Path`).
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
}

/// Entry-point-wide settings that change how rules compile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// v1 `keepTrailingSlash` (default false: strict slash redirects, see the module docs).
    pub keep_trailing_slash: bool,
}

/// The result of testing a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    No,
    Yes,
    /// Strict-slash redirect (v1: 301) to this path, percent-encoded as Go writes it; the caller
    /// appends `?query` when the request had one.
    Redirect(String),
}

/// A key a matching request's decoded path must hit (see [`FrontendRule::literal_paths`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathKey {
    /// The path equals it.
    Exact(String),
    /// The path starts with it.
    Prefix(String),
}

impl PathKey {
    pub fn as_str(&self) -> &str {
        match self {
            PathKey::Exact(s) | PathKey::Prefix(s) => s,
        }
    }
}

/// A rule that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Index into the `rules` slice given to [`FrontendRule::compile`].
    pub route: usize,
    /// Byte offset in that rule's text where the problem starts.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}
