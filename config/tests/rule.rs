//! The v1 rule grammar through the public API: matchers, modifiers, quirks, errors, strict slash.

use http::{HeaderMap, HeaderValue, Method};
use trafik_config::rule::{CompileOptions, FrontendRule, Match, PathKey, RequestInfo, RuleError};

struct Req {
    method: Method,
    host: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

impl Req {
    fn new(host: &str, path: &str) -> Req {
        Req {
            method: Method::GET,
            host: host.to_string(),
            path: path.to_string(),
            query: None,
            headers: HeaderMap::new(),
        }
    }

    fn path(path: &str) -> Req {
        Req::new("example.com", path)
    }

    fn method(mut self, m: &str) -> Req {
        self.method = Method::from_bytes(m.as_bytes()).unwrap();
        self
    }

    fn query(mut self, q: &str) -> Req {
        self.query = Some(q.to_string());
        self
    }

    fn header(mut self, k: &'static str, v: &str) -> Req {
        self.headers.append(k, HeaderValue::from_str(v).unwrap());
        self
    }

    fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
        }
    }
}

const STRICT: CompileOptions = CompileOptions {
    keep_trailing_slash: false,
};
const KEEP: CompileOptions = CompileOptions {
    keep_trailing_slash: true,
};

fn rule(rules: &[&str]) -> FrontendRule {
    FrontendRule::compile(rules, &STRICT).unwrap_or_else(|e| panic!("{rules:?}: {e:?}"))
}

fn m(rules: &[&str], req: &Req) -> Match {
    rule(rules).matches(&req.info())
}

fn yes(rules: &[&str], req: &Req) -> bool {
    match m(rules, req) {
        Match::Yes => true,
        Match::No => false,
        Match::Redirect(to) => panic!("{rules:?} redirects to {to}"),
    }
}

fn err(rules: &[&str]) -> RuleError {
    match FrontendRule::compile(rules, &STRICT) {
        Ok(_) => panic!("{rules:?} compiled"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- matchers

#[test]
fn host_is_exact_and_case_insensitive() {
    let r = ["Host:Example.COM,b.org"];
    assert!(yes(&r, &Req::new("example.com", "/")));
    assert!(yes(&r, &Req::new("b.org", "/x")));
    assert!(!yes(&r, &Req::new("www.example.com", "/")));
    assert!(!yes(&r, &Req::new("example.co", "/")));
    assert!(!yes(&r, &Req::new("", "/")));
    // The configured host with a port never matches a canonical (port-less) host.
    assert!(!yes(
        &["Host:example.com:80"],
        &Req::new("example.com", "/")
    ));
    // An empty host never matches, even an empty request host.
    assert!(!yes(&["Host: , "], &Req::new("", "/")));
}

#[test]
fn host_regexp() {
    let r = ["HostRegexp:{sub:[a-z]+}.example.com"];
    assert!(yes(&r, &Req::new("api.example.com", "/")));
    assert!(!yes(&r, &Req::new("example.com", "/")));
    assert!(!yes(&r, &Req::new("a.b.example.com", "/")));
    assert!(!yes(&r, &Req::new("api.example.com.evil", "/")));
    assert!(!yes(&r, &Req::new("api1.example.com", "/")));
    // Case-insensitive.
    assert!(yes(
        &["HostRegexp:{sub:[A-Z]+}.Example.com"],
        &Req::new("api.example.com", "/")
    ));
    // OR; default variable pattern `[^.]+`.
    let r = ["HostRegexp:example.com,{sub}.example.com"];
    assert!(yes(&r, &Req::new("example.com", "/")));
    assert!(yes(&r, &Req::new("a-1.example.com", "/")));
    assert!(!yes(&r, &Req::new("a.b.example.com", "/")));
    // A literal dot is literal.
    assert!(!yes(&["HostRegexp:a.com"], &Req::new("abcom", "/")));
    // Go's \d is ASCII.
    assert!(!yes(&[r"HostRegexp:{n:\d+}.com"], &Req::new("١.com", "/")));
    assert!(yes(&[r"HostRegexp:{n:\d+}.com"], &Req::new("12.com", "/")));
}

#[test]
fn path_is_exact_and_case_sensitive() {
    let r = ["Path:/a,/b/c"];
    assert!(yes(&r, &Req::path("/a")));
    assert!(yes(&r, &Req::path("/b/c")));
    assert!(!yes(&r, &Req::path("/ab")));
    assert!(!yes(&r, &Req::path("/a/b")));
    assert!(!yes(&r, &Req::path("/A")));
    assert!(!yes(&r, &Req::path("/b")));
    // No cleaning: `//` is kept.
    assert!(!yes(&["Path:/a/b"], &Req::path("/a//b")));
    assert!(yes(&["Path:/a//b"], &Req::path("/a//b")));
}

#[test]
fn path_templates() {
    let r = ["Path:/users/{id:[0-9]+}"];
    assert!(yes(&r, &Req::path("/users/12")));
    assert!(!yes(&r, &Req::path("/users/ab")));
    assert!(!yes(&r, &Req::path("/users/12/x")));
    assert!(!yes(&r, &Req::path("/users/")));
    let r = ["Path:/users/{id}"];
    assert!(yes(&r, &Req::path("/users/anything")));
    assert!(!yes(&r, &Req::path("/users/a/b")));
    let r = ["Path:/{a}/{b:[a-z]{2}}"];
    assert!(yes(&r, &Req::path("/x/ab")));
    assert!(!yes(&r, &Req::path("/x/abc")));
    // Regex metacharacters outside variables are literal.
    assert!(yes(&["Path:/a.b/{x}"], &Req::path("/a.b/1")));
    assert!(!yes(&["Path:/a.b/{x}"], &Req::path("/axb/1")));
    // Alternation stays inside its variable.
    let r = ["Path:/v/{x:a|b}"];
    assert!(yes(&r, &Req::path("/v/b")));
    assert!(!yes(&r, &Req::path("b")));
}

#[test]
fn path_prefix_is_a_plain_string_prefix() {
    let r = ["PathPrefix:/foo"];
    assert!(yes(&r, &Req::path("/foo")));
    assert!(yes(&r, &Req::path("/foobar")));
    assert!(yes(&r, &Req::path("/foo/bar")));
    assert!(!yes(&r, &Req::path("/fo")));
    assert!(!yes(&r, &Req::path("/bar/foo")));
    let r = ["PathPrefix:/foo,/bar"];
    assert!(yes(&r, &Req::path("/bar/x")));
    // Trailing slash in the prefix is literal.
    assert!(!yes(&["PathPrefix:/foo/"], &Req::path("/foo")));
}

#[test]
fn path_prefix_with_braces_is_a_template() {
    let r = ["PathPrefix:/api/{v:v[0-9]+}"];
    assert!(yes(&r, &Req::path("/api/v1")));
    assert!(yes(&r, &Req::path("/api/v2/users")));
    assert!(yes(&r, &Req::path("/api/v12x")));
    assert!(!yes(&r, &Req::path("/api/x1")));
    assert!(!yes(&r, &Req::path("/api/")));
}

#[test]
fn blank_path_prefix_matches_everything() {
    // v1 quirk: "PathPrefix:/a, " has a second, empty, prefix.
    assert!(yes(&["PathPrefix:/a, "], &Req::path("/zzz")));
}

#[test]
fn method_set_uppercased() {
    let r = ["Method:get,POST"];
    assert!(yes(&r, &Req::path("/")));
    assert!(yes(&r, &Req::path("/").method("POST")));
    assert!(!yes(&r, &Req::path("/").method("PUT")));
    assert!(yes(&["Method:PURGE"], &Req::path("/").method("PURGE")));
}

#[test]
fn headers_pairs() {
    let r = ["Headers:Content-Type,application/json"];
    assert!(yes(
        &r,
        &Req::path("/").header("content-type", "application/json")
    ));
    assert!(!yes(
        &r,
        &Req::path("/").header("content-type", "application/json; charset=utf-8")
    ));
    assert!(!yes(
        &r,
        &Req::path("/").header("content-type", "Application/JSON")
    ));
    assert!(!yes(&r, &Req::path("/")));
    // Any of the header's values.
    assert!(yes(
        &r,
        &Req::path("/")
            .header("content-type", "text/plain")
            .header("content-type", "application/json")
    ));
    // All pairs must match.
    let r = ["Headers:X-A,1,X-B,2"];
    assert!(yes(
        &r,
        &Req::path("/").header("x-a", "1").header("x-b", "2")
    ));
    assert!(!yes(&r, &Req::path("/").header("x-a", "1")));
    // An empty value (a blank argument) only asks for presence.
    let r = ["Headers:X-Present, "];
    assert!(yes(&r, &Req::path("/").header("x-present", "")));
    assert!(yes(&r, &Req::path("/").header("x-present", "whatever")));
    assert!(!yes(&r, &Req::path("/")));
    // Same key twice: a Go map, the last wins.
    let r = ["Headers:X-A,1,X-A,2"];
    assert!(yes(&r, &Req::path("/").header("x-a", "2")));
    assert!(!yes(&r, &Req::path("/").header("x-a", "1")));
}

#[test]
fn headers_regexp_is_unanchored() {
    let r = ["HeadersRegexp:Content-Type,application/(text|json)"];
    assert!(yes(
        &r,
        &Req::path("/").header("content-type", "application/json; charset=utf-8")
    ));
    assert!(yes(
        &r,
        &Req::path("/").header("content-type", "application/text")
    ));
    assert!(!yes(
        &r,
        &Req::path("/").header("content-type", "application/xml")
    ));
    assert!(!yes(&r, &Req::path("/")));
    let r = ["HeadersRegexp:X-Id,^[0-9]+$"];
    assert!(yes(&r, &Req::path("/").header("x-id", "42")));
    assert!(!yes(&r, &Req::path("/").header("x-id", "42a")));
}

#[test]
fn query_pairs() {
    let r = ["Query:foo=bar,baz="];
    assert!(yes(&r, &Req::path("/").query("foo=bar&baz=1")));
    assert!(yes(&r, &Req::path("/").query("baz&foo=bar")));
    assert!(!yes(&r, &Req::path("/").query("foo=bar")));
    assert!(!yes(&r, &Req::path("/").query("foo=qux&baz=1")));
    assert!(!yes(&r, &Req::path("/")));
    // First value only, decoded.
    assert!(yes(&["Query:a=b c"], &Req::path("/").query("a=b+c")));
    assert!(yes(&["Query:a=1"], &Req::path("/").query("a=1&a=2")));
    assert!(!yes(&["Query:a=2"], &Req::path("/").query("a=1&a=2")));
    // Template values.
    let r = ["Query:id={id:[0-9]+}"];
    assert!(yes(&r, &Req::path("/").query("id=12")));
    assert!(!yes(&r, &Req::path("/").query("id=12a")));
    assert!(!yes(&r, &Req::path("/").query("id=")));
    // Pieces are paired up across arguments (v1 splits each on '=').
    let r = ["Query:a=1=b,2"];
    assert!(yes(&r, &Req::path("/").query("a=1&b=2")));
    // A variable in the key: mux matches `key=value` as one template, so the key must be
    // literally what the template matches.
    assert!(yes(&["Query:{k}=1"], &Req::path("/").query("%7Bk%7D=1")));
    assert!(!yes(&["Query:{k:[0-9]}=1"], &Req::path("/").query("5=1")));
    // Spaces around '=' are part of key and value.
    assert!(yes(&["Query:a = b"], &Req::path("/").query("a%20=%20b")));
}

#[test]
fn and_or_semantics() {
    let r = ["Host:a.com;PathPrefix:/api;Method:GET,HEAD"];
    assert!(yes(&r, &Req::new("a.com", "/api/x")));
    assert!(yes(&r, &Req::new("a.com", "/api").method("HEAD")));
    assert!(!yes(&r, &Req::new("b.com", "/api/x")));
    assert!(!yes(&r, &Req::new("a.com", "/x")));
    assert!(!yes(&r, &Req::new("a.com", "/api").method("POST")));
    // All routes of a frontend are AND-ed.
    let r = ["Host:a.com", "Method:POST"];
    assert!(yes(&r, &Req::new("a.com", "/").method("POST")));
    assert!(!yes(&r, &Req::new("a.com", "/")));
    // Two prefixes AND-ed.
    let r = ["PathPrefix:/a;PathPrefix:/ab"];
    assert!(yes(&r, &Req::path("/abc")));
    assert!(!yes(&r, &Req::path("/a/c")));
}

#[test]
fn spaces_and_double_colons() {
    let r = ["Host: example.com; PathPrefixStrip: /api"];
    assert!(yes(&r, &Req::new("example.com", "/api/x")));
    assert_eq!(rule(&r).modifiers().strip_prefix, ["/api"]);
    assert!(yes(&["Path::/a"], &Req::path("/a")));
    assert!(yes(
        &["HostRegexp::{sub::[a-z]+}.a.com"],
        &Req::new("x.a.com", "/")
    ));
}

#[test]
fn empty_rule_sets_match_everything() {
    assert!(yes(&[], &Req::path("/anything")));
    assert!(yes(&[";;"], &Req::path("/anything")));
}

// ---------------------------------------------------------------- modifiers

#[test]
fn strip_modifiers() {
    let r = rule(&["PathPrefixStrip:/a,/abc,/ab"]);
    assert_eq!(r.modifiers().strip_prefix, ["/abc", "/ab", "/a"]);
    assert!(r.modifiers().strip_prefix_regex.is_empty());
    let r = rule(&["PathStrip:/x,/x/y"]);
    assert_eq!(r.modifiers().strip_prefix, ["/x/y", "/x"]);
    // The matcher part runs too.
    assert!(yes(&["PathStrip:/x"], &Req::path("/x")));
    assert!(!yes(&["PathStrip:/x"], &Req::path("/x/y")));

    let r = rule(&["PathPrefixStripRegex:/{id:[a-z]+},/api/{v:v[0-9]}"]);
    let res = &r.modifiers().strip_prefix_regex;
    assert_eq!(res.len(), 2);
    // Longest template first; anchored at the start only.
    let m = res[0].find("/api/v1/users").unwrap();
    assert_eq!(m.as_str(), "/api/v1");
    assert!(res[0].find("/x/api/v1").is_none());
    assert_eq!(res[1].find("/abc/def").unwrap().as_str(), "/abc");

    let r = rule(&["PathStripRegex:/a/{id:[0-9]+}"]);
    assert!(yes(&["PathStripRegex:/a/{id:[0-9]+}"], &Req::path("/a/12")));
    assert!(!yes(
        &["PathStripRegex:/a/{id:[0-9]+}"],
        &Req::path("/a/12/b")
    ));
    assert_eq!(
        r.modifiers().strip_prefix_regex[0]
            .find("/a/12")
            .unwrap()
            .as_str(),
        "/a/12"
    );
}

#[test]
fn later_strip_replaces_earlier() {
    let r = rule(&["PathPrefixStrip:/a;PathStrip:/ab"]);
    assert_eq!(r.modifiers().strip_prefix, ["/ab"]);
    let r = rule(&["PathPrefixStrip:/a", "PathPrefixStrip:/ab"]);
    assert_eq!(r.modifiers().strip_prefix, ["/ab"]);
}

#[test]
fn add_and_replace() {
    let r = rule(&["PathPrefix:/;AddPrefix:/one,/two;ReplacePath:/x"]);
    let mods = r.modifiers();
    assert_eq!(mods.add_prefix.as_deref(), Some("/two"));
    assert_eq!(mods.replace_path.as_deref(), Some("/x"));
    assert!(mods.replace_path_regex.is_none());
    // Modifiers never affect matching.
    assert!(yes(&["AddPrefix:/p"], &Req::path("/anything")));
    // The last call wins, and a blank argument is no modifier.
    let r = rule(&["AddPrefix:/one", "AddPrefix: , "]);
    assert!(r.modifiers().add_prefix.is_none());
    assert!(r.modifiers().is_empty());
}

#[test]
fn replace_path_regex() {
    let r = rule(&["ReplacePathRegex: ^/api/v2/(.*) /api/$1"]);
    let (re, rep) = r.modifiers().replace_path_regex.clone().unwrap();
    assert_eq!(re.as_str(), "^/api/v2/(.*)");
    assert_eq!(rep, "/api/$1");
    assert_eq!(re.replace_all("/api/v2/users", rep.as_str()), "/api/users");
    let r = rule(&["ReplacePathRegex:^/(\\w+)/(\\w+) /${2}x/$1"]);
    let (re, rep) = r.modifiers().replace_path_regex.clone().unwrap();
    assert_eq!(re.replace_all("/a/b", rep.as_str()), "/bx/a");
}

// ---------------------------------------------------------------- strict slash

#[test]
fn trailing_slash_redirects_both_ways() {
    assert_eq!(
        m(&["Path:/test/foo"], &Req::path("/test/foo/")),
        Match::Redirect("/test/foo".into())
    );
    assert_eq!(m(&["Path:/test/foo"], &Req::path("/test/foo")), Match::Yes);
    assert_eq!(
        m(&["Path:/path/"], &Req::path("/path")),
        Match::Redirect("/path/".into())
    );
    assert_eq!(m(&["Path:/path/"], &Req::path("/path/")), Match::Yes);
    assert_eq!(m(&["Path:/test/foo"], &Req::path("/test/foo//")), Match::No);
    // Templates too; the redirect is computed from the request path.
    assert_eq!(
        m(&["Path:/a/{id}"], &Req::path("/a/1/")),
        Match::Redirect("/a/1".into())
    );
    assert_eq!(
        m(&["Path:/a/{id}/"], &Req::path("/a/1")),
        Match::Redirect("/a/1/".into())
    );
    // PathStrip and PathStripRegex are Path templates.
    assert_eq!(
        m(&["PathStrip:/s"], &Req::path("/s/")),
        Match::Redirect("/s".into())
    );
    assert_eq!(
        m(&["PathStripRegex:/r/{x}"], &Req::path("/r/1/")),
        Match::Redirect("/r/1".into())
    );
    // Percent-encoded as Go writes Location.
    assert_eq!(
        m(&["Path:/a b"], &Req::path("/a b/")),
        Match::Redirect("/a%20b".into())
    );
}

#[test]
fn redirect_needs_everything_else_to_match() {
    let r = ["Host:a.com;Path:/x"];
    assert_eq!(m(&r, &Req::new("b.com", "/x/")), Match::No);
    assert_eq!(
        m(&r, &Req::new("a.com", "/x/")),
        Match::Redirect("/x".into())
    );
}

#[test]
fn first_matching_alternative_decides() {
    // mux tries the sub-routes in order: "/a/" matches "/a" with a redirect first.
    assert_eq!(
        m(&["Path:/a/,/a"], &Req::path("/a")),
        Match::Redirect("/a/".into())
    );
    assert_eq!(m(&["Path:/a,/a/"], &Req::path("/a")), Match::Yes);
}

#[test]
fn keep_trailing_slash_is_a_plain_mismatch() {
    let r = FrontendRule::compile(&["Path:/test/foo"], &KEEP).unwrap();
    assert_eq!(r.matches(&Req::path("/test/foo/").info()), Match::No);
    assert_eq!(r.matches(&Req::path("/test/foo").info()), Match::Yes);
    let r = FrontendRule::compile(&["Path:/p/"], &KEEP).unwrap();
    assert_eq!(r.matches(&Req::path("/p").info()), Match::No);
    let r = FrontendRule::compile(&["Path:/a/{id}"], &KEEP).unwrap();
    assert_eq!(r.matches(&Req::path("/a/1/").info()), Match::No);
    assert_eq!(r.matches(&Req::path("/a/1").info()), Match::Yes);
}

#[test]
fn prefixes_never_redirect() {
    assert_eq!(m(&["PathPrefix:/a/"], &Req::path("/a")), Match::No);
    assert_eq!(m(&["PathPrefix:/a/{x}/"], &Req::path("/a/1")), Match::No);
    assert_eq!(m(&["PathPrefixStrip:/a"], &Req::path("/a/")), Match::Yes);
}

// ---------------------------------------------------------------- index hints

#[test]
fn exact_hosts_and_literal_paths() {
    let r = rule(&["Host:A.com,b.com;Path:/x"]);
    assert_eq!(
        r.exact_hosts(),
        Some(&["a.com".to_string(), "b.com".to_string()][..])
    );
    assert_eq!(
        r.literal_paths(),
        Some(vec![
            PathKey::Exact("/x".into()),
            PathKey::Exact("/x/".into())
        ])
    );
    let r = FrontendRule::compile(&["Path:/x/"], &KEEP).unwrap();
    assert_eq!(r.literal_paths(), Some(vec![PathKey::Exact("/x/".into())]));
    let r = rule(&["HostRegexp:{a}.com;PathPrefix:/api/{v}/x,/b"]);
    assert_eq!(r.exact_hosts(), None);
    assert_eq!(
        r.literal_paths(),
        Some(vec![
            PathKey::Prefix("/api/".into()),
            PathKey::Prefix("/b".into())
        ])
    );
    let r = rule(&["Method:GET"]);
    assert_eq!(r.literal_paths(), None);
    // The most selective of several path matchers.
    let r = rule(&["PathPrefix:/a", "Path:/a/long/path"]);
    assert_eq!(
        r.literal_paths(),
        Some(vec![
            PathKey::Exact("/a/long/path".into()),
            PathKey::Exact("/a/long/path/".into())
        ])
    );
    // The smallest of several host lists.
    let r = rule(&["Host:a.com,b.com", "Host:b.com"]);
    assert_eq!(r.exact_hosts(), Some(&["b.com".to_string()][..]));
}

// ---------------------------------------------------------------- errors

#[test]
fn parse_errors() {
    let e = err(&["Hots:a.com"]);
    assert_eq!((e.route, e.offset), (0, 0));
    assert!(
        e.message
            .starts_with(r#"unknown function "Hots" in rule "Hots:a.com""#),
        "{}",
        e.message
    );
    assert!(e.message.contains("PathPrefixStripRegex"), "{}", e.message);

    let e = err(&["Host:a.com", ""]);
    assert_eq!((e.route, e.offset), (1, 0));
    assert_eq!(e.message, "empty rule");

    let e = err(&["Host:a.com;  Path:"]);
    assert_eq!(e.offset, 13);
    assert!(e.message.contains("Path has no argument"), "{}", e.message);

    let e = err(&["Host:a.com;path:/x"]);
    assert_eq!(e.offset, 11);
    assert!(e.message.contains("did you mean \"Path\""), "{}", e.message);
}

#[test]
fn regex_errors_point_into_the_rule() {
    let rule = "Host:a.com;Path:/a/{id:[0-9}";
    let e = err(&[rule]);
    assert_eq!(e.offset, rule.find("[0-9").unwrap());
    assert!(
        e.message.contains("invalid regular expression"),
        "{}",
        e.message
    );

    let rule = "HostRegexp: {sub:(}.a.com";
    assert_eq!(err(&[rule]).offset, rule.find('(').unwrap());

    let rule = "PathPrefix:/x/{id";
    let e = err(&[rule]);
    assert_eq!(e.offset, rule.find('{').unwrap());
    assert!(e.message.contains("unbalanced braces"), "{}", e.message);

    let rule = "Path:/x}";
    assert_eq!(err(&[rule]).offset, rule.find('}').unwrap());

    let rule = "Path:/x/{:[0-9]+}";
    assert!(err(&[rule]).message.contains("missing name or pattern"));

    let rule = "HeadersRegexp:X-A,(a";
    assert_eq!(err(&[rule]).offset, rule.find('(').unwrap());

    let rule = "ReplacePathRegex: ^/(a /b";
    assert_eq!(err(&[rule]).offset, rule.find('^').unwrap());

    let rule = "ReplacePathRegex: ^/a";
    let e = err(&[rule]);
    assert!(e.message.contains("one space"), "{}", e.message);
    assert_eq!(e.offset, rule.find('^').unwrap());

    // Offsets survive `::` collapsing.
    let rule = "Path::/x/{id::[}";
    assert_eq!(err(&[rule]).offset, rule.find('[').unwrap());

    // The failing route is reported.
    let e = err(&["Host:a.com", "Method:GET", "Path:/{x:*}"]);
    assert_eq!(e.route, 2);
    assert_eq!(e.offset, 9);
}

#[test]
fn semantic_errors() {
    let e = err(&["Headers:X-A,1,X-B"]);
    assert_eq!(e.offset, "Headers:X-A,1,".len());
    assert!(e.message.contains("pairs"), "{}", e.message);
    let e = err(&["Headers:Bad Name,1"]);
    assert!(e.message.contains("invalid header name"), "{}", e.message);
    let e = err(&["Query:a"]);
    assert!(e.message.contains("pairs"), "{}", e.message);
    let e = err(&["Query:a=1=2"]);
    assert_eq!(e.offset, 6);
    let e = err(&["Path:/a, b"]);
    assert_eq!(e.offset, 9);
    assert!(
        e.message.contains("must start with a slash"),
        "{}",
        e.message
    );
    assert!(err(&["PathPrefix:{x}"]).message.contains("slash"));
    assert!(err(&["AddPrefix:api"]).message.contains("slash"));
    assert!(err(&["ReplacePath:x"]).message.contains("slash"));
}

#[test]
fn error_display_is_the_message() {
    let e = err(&[""]);
    assert_eq!(e.to_string(), "empty rule");
    let _: &dyn std::error::Error = &e;
}
