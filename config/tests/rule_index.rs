//! The rule index answers exactly as a linear scan in priority order, without scanning.

use std::time::Instant;

use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;
use trafik_config::rule::{CompileOptions, FrontendRule, Match, RequestInfo, RuleIndex};

struct Req {
    method: Method,
    host: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

impl Req {
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

fn req(host: &str, path: &str) -> Req {
    Req {
        method: Method::GET,
        host: host.into(),
        path: path.into(),
        query: None,
        headers: HeaderMap::new(),
    }
}

fn compile(rules: &[&str], keep: bool) -> FrontendRule {
    FrontendRule::compile(
        rules,
        &CompileOptions {
            keep_trailing_slash: keep,
        },
    )
    .unwrap_or_else(|e| panic!("{rules:?}: {e:?}"))
}

fn linear<'a, T>(entries: &'a [(FrontendRule, T)], req: &RequestInfo) -> Option<(&'a T, Match)> {
    entries
        .iter()
        .find_map(|(rule, t)| match rule.matches(req) {
            Match::No => None,
            m => Some((t, m)),
        })
}

fn index_of(rules: &[(&[&str], bool)]) -> RuleIndex<usize> {
    RuleIndex::new(
        rules
            .iter()
            .enumerate()
            .map(|(i, (r, keep))| (compile(r, *keep), i))
            .collect(),
    )
}

fn found(index: &RuleIndex<usize>, req: &Req) -> Option<(usize, Match)> {
    index.lookup(&req.info()).map(|(t, m)| (*t, m))
}

#[test]
fn priority_order_across_buckets() {
    let index = index_of(&[
        (&["PathPrefix:/api"], false),
        (&["Host:a.com;Path:/api/x"], false),
        (&["Host:a.com"], false),
        (&["Method:GET"], false),
        (&["PathPrefix:/"], false),
    ]);
    assert_eq!(index.len(), 5);
    assert_eq!(
        found(&index, &req("a.com", "/api/x")),
        Some((0, Match::Yes))
    );
    assert_eq!(found(&index, &req("a.com", "/web")), Some((2, Match::Yes)));
    assert_eq!(found(&index, &req("b.com", "/web")), Some((3, Match::Yes)));
    let mut post = req("b.com", "/web");
    post.method = Method::POST;
    assert_eq!(found(&index, &post), Some((4, Match::Yes)));
    post.path = "web".into();
    assert_eq!(found(&index, &post), None);
}

#[test]
fn redirects_and_exact_paths_in_the_tree() {
    let index = index_of(&[
        (&["Path:/a/b"], false),
        (&["Path:/a/"], true),
        (&["PathPrefix:/a/b/c"], false),
        (&["Path:/"], false),
    ]);
    assert_eq!(found(&index, &req("x", "/a/b")), Some((0, Match::Yes)));
    assert_eq!(
        found(&index, &req("x", "/a/b/")),
        Some((0, Match::Redirect("/a/b".into())))
    );
    assert_eq!(found(&index, &req("x", "/a/b/c/d")), Some((2, Match::Yes)));
    assert_eq!(found(&index, &req("x", "/a/")), Some((1, Match::Yes)));
    assert_eq!(found(&index, &req("x", "/a")), None);
    assert_eq!(found(&index, &req("x", "/")), Some((3, Match::Yes)));
    assert_eq!(
        found(&index, &req("x", "")),
        Some((3, Match::Redirect("/".into())))
    );
    assert_eq!(found(&index, &req("x", "/ab")), None);
}

#[test]
fn empty_index() {
    let index: RuleIndex<()> = RuleIndex::new(Vec::new());
    assert!(index.is_empty());
    assert!(index.lookup(&req("a", "/").info()).is_none());
}

/// 10,000 frontends with distinct hosts (and a few host-less ones): the lookup only tests the
/// request host's bucket and the host-less entries, not 10,000 rules.
#[test]
fn ten_thousand_hosts() {
    let n = 10_000;
    let rules: Vec<String> = (0..n)
        .map(|i| format!("Host:h{i}.example.com;PathPrefix:/"))
        .collect();
    let mut entries: Vec<(FrontendRule, usize)> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (compile(&[r], false), i))
        .collect();
    entries.push((compile(&["Path:/fallback"], false), n));
    let built = Instant::now();
    let index = RuleIndex::new(entries);
    let build_time = built.elapsed();
    assert_eq!(index.len(), n + 1);

    let requests: Vec<Req> = (0..n)
        .map(|i| req(&format!("h{}.example.com", (i * 7919) % n), "/x"))
        .collect();
    let start = Instant::now();
    for (i, r) in requests.iter().enumerate() {
        let (t, m) = index.lookup(&r.info()).unwrap();
        assert_eq!(*t, (i * 7919) % n);
        assert_eq!(m, Match::Yes);
    }
    let unknown = req("nope.example.com", "/fallback");
    assert_eq!(found(&index, &unknown), Some((n, Match::Yes)));
    assert_eq!(found(&index, &req("nope.example.com", "/x")), None);
    eprintln!(
        "10k hosts: build {build_time:?}, {n} lookups {:?}",
        start.elapsed()
    );
}

/// Many host-less literal paths go through the tree, not a scan.
#[test]
fn ten_thousand_paths() {
    let n = 10_000;
    let rules: Vec<String> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                format!("Path:/api/v1/items/{i}")
            } else {
                format!("PathPrefix:/static/{i}/")
            }
        })
        .collect();
    let index = RuleIndex::new(
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| (compile(&[r], false), i))
            .collect(),
    );
    for i in (0..n).step_by(97) {
        let path = if i % 2 == 0 {
            format!("/api/v1/items/{i}")
        } else {
            format!("/static/{i}/file.css")
        };
        assert_eq!(found(&index, &req("h", &path)), Some((i, Match::Yes)));
    }
    assert_eq!(
        found(&index, &req("h", "/api/v1/items/10/")),
        Some((10, Match::Redirect("/api/v1/items/10".into())))
    );
    assert_eq!(found(&index, &req("h", "/api/v1/items/1")), None);
}

/// Host templates sit in their own (suffix) index, yet keep the global priority order against
/// exact hosts and host-less rules, at equal and at different priorities (the caller sorts
/// equal priorities by name, so "equal" is just an order here too).
#[test]
fn host_templates_keep_priority_order() {
    let index = index_of(&[
        (
            &["HostRegexp:{sub:[a-z]+}.r1.example.com;PathPrefix:/api"],
            false,
        ),
        (&["Host:x.r1.example.com"], false),
        (&["HostRegexp:{sub:[a-z]+}.r1.example.com"], false),
        (&["PathPrefix:/static"], false),
        (&["HostRegexp:{sub}.example.com"], false),
        (&["Host:y.r1.example.com;PathPrefix:/static"], false),
        (&["PathPrefix:/"], false),
    ]);
    let at = |host: &str, path: &str| found(&index, &req(host, path)).map(|(i, _)| i);
    // A template above an exact host wins where both match ...
    assert_eq!(at("x.r1.example.com", "/api/v1"), Some(0));
    // ... and the exact host above the next template where the first does not match.
    assert_eq!(at("x.r1.example.com", "/"), Some(1));
    assert_eq!(at("y.r1.example.com", "/"), Some(2));
    // A host-less rule between two templates.
    assert_eq!(at("y.r1.example.com", "/static/a.css"), Some(2));
    assert_eq!(at("y.r2.example.com", "/static/a.css"), Some(3));
    assert_eq!(at("y.r2.example.com", "/"), Some(6));
    assert_eq!(at("r2.example.com", "/"), Some(4));
    // The shorter suffix (`.example.com`) is found on the way to the longer one.
    assert_eq!(at("z.example.com", "/"), Some(4));
    // Templates whose variables cannot match (digits; a dot) fall through to the next candidates.
    assert_eq!(at("9.r1.example.com", "/"), Some(6));
    assert_eq!(at("9.example.com", "/"), Some(4));
    // The exact host below every template that matches it.
    assert_eq!(at("y.r1.example.com", "/static/x"), Some(2));
    // Unrelated hosts: only the host-less rules.
    assert_eq!(at("other.org", "/static/x"), Some(3));
    assert_eq!(at("other.org", "/"), Some(6));
    // Case: hosts arrive lowercase, templates match case-insensitively.
    let upper = index_of(&[(&["HostRegexp:{a}.R1.Example.COM"], false)]);
    assert_eq!(
        found(&upper, &req("q.r1.example.com", "/")),
        Some((0, Match::Yes))
    );
    // A template with no variable is an exact (case-insensitive) host.
    let plain = index_of(&[
        (&["HostRegexp:Example.com"], false),
        (&["PathPrefix:/"], false),
    ]);
    assert_eq!(
        found(&plain, &req("example.com", "/")).map(|(i, _)| i),
        Some(0)
    );
    assert_eq!(
        found(&plain, &req("a.example.com", "/")).map(|(i, _)| i),
        Some(1)
    );
}

/// Unicode case folding lets `s` match `ſ`: a non-ASCII host must still reach the template.
#[test]
fn non_ascii_host_reaches_ascii_suffix() {
    let index = index_of(&[(&["HostRegexp:{x}.as.com"], false)]);
    let rule = compile(&["HostRegexp:{x}.as.com"], false);
    let r = req("x.aſ.com", "/");
    assert_eq!(rule.matches(&r.info()), Match::Yes);
    assert_eq!(found(&index, &r), Some((0, Match::Yes)));
}

/// 2,500 host templates and 7,500 exact hosts: a request tries only the templates whose literal
/// end its host has (counted through a matcher that records the calls would need hooks; the
/// answer and the lookup time over all hosts show it instead).
#[test]
fn thousands_of_host_templates() {
    let n = 10_000;
    let mut entries: Vec<(FrontendRule, usize)> = (0..n)
        .map(|i| {
            let rule = match i % 4 {
                0 => format!("HostRegexp:{{sub:[a-z]+}}.r{i}.example.com"),
                1 => format!("Host:h{i}.example.com"),
                _ => format!("Host:h{i}.example.com;PathPrefix:/p{i}"),
            };
            (compile(&[&rule], false), i)
        })
        .collect();
    entries.push((compile(&["PathPrefix:/"], false), n));
    let index = RuleIndex::new(entries);
    for i in (0..n).step_by(4) {
        let host = format!("abc.r{i}.example.com");
        assert_eq!(found(&index, &req(&host, "/")), Some((i, Match::Yes)));
        let digits = format!("123.r{i}.example.com");
        assert_eq!(found(&index, &req(&digits, "/")), Some((n, Match::Yes)));
        let exact = format!("h{}.example.com", i + 1);
        assert_eq!(found(&index, &req(&exact, "/")), Some((i + 1, Match::Yes)));
    }
    assert_eq!(
        found(&index, &req("r4.example.com", "/")),
        Some((n, Match::Yes))
    );
}

// ---------------------------------------------------------------- index == linear scan

const HOSTS: &[&str] = &["a.com", "b.com", "A.com", "c.org"];
const PATHS: &[&str] = &[
    "/", "/a", "/a/", "/ab", "/a/b", "/a/b/", "/b", "/b/c", "/abc/d", "/x y", "/a//b",
];

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(pool)
}

fn list(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(pick(pool), 1..3).prop_map(|v| v.join(","))
}

fn call() -> impl Strategy<Value = String> {
    prop_oneof![
        list(HOSTS).prop_map(|h| format!("Host:{h}")),
        Just("Host: , ".to_string()),
        Just("HostRegexp:{s:[a-b]}.com".to_string()),
        Just("HostRegexp:c.org,{x}.com".to_string()),
        Just("HostRegexp:{x}.a.com".to_string()),
        Just("HostRegexp:{x:.+}.com".to_string()),
        Just("HostRegexp:{x:[a-z]+}.A.COM,{y}-api.com".to_string()),
        Just("HostRegexp:{x}.as.com".to_string()),
        Just("HostRegexp:{x}.{tld}".to_string()),
        Just("HostRegexp:A.com".to_string()),
        Just("HostRegexp:{x}.é.com".to_string()),
        list(PATHS).prop_map(|p| format!("Path:{p}")),
        list(PATHS).prop_map(|p| format!("PathStrip:{p}")),
        list(PATHS).prop_map(|p| format!("PathPrefix:{p}")),
        list(PATHS).prop_map(|p| format!("PathPrefixStrip: {p}")),
        Just("PathPrefix:/a, ".to_string()),
        Just("Path:/a/{x}".to_string()),
        Just("Path:/{x:[a-b]+}/".to_string()),
        Just("PathPrefix:/a/{x:[a-z]}".to_string()),
        Just("PathPrefix:/{x:a|b}".to_string()),
        Just("PathStripRegex:/a/{x}".to_string()),
        Just("PathPrefixStripRegex:/{x:[ab]}".to_string()),
        Just("Method:GET".to_string()),
        Just("Method:POST,PUT".to_string()),
        Just("Headers:X-A,1".to_string()),
        Just("HeadersRegexp:X-A,^[0-9]$".to_string()),
        Just("Query:q=1".to_string()),
        Just("Query:q=".to_string()),
        Just("AddPrefix:/p".to_string()),
    ]
}

fn frontend() -> impl Strategy<Value = Vec<String>> {
    let route = proptest::collection::vec(call(), 1..4).prop_map(|c| c.join(";"));
    proptest::collection::vec(route, 0..3)
}

#[derive(Debug, Clone)]
struct GenReq {
    host: &'static str,
    path: String,
    method: &'static str,
    header: Option<&'static str>,
    query: Option<&'static str>,
}

fn request() -> impl Strategy<Value = GenReq> {
    let path = prop_oneof![
        pick(PATHS).prop_map(String::from),
        (pick(PATHS), pick(&["x", "/", "b", "/c"])).prop_map(|(p, s)| format!("{p}{s}")),
        Just(String::new()),
    ];
    (
        pick(&[
            "a.com",
            "b.com",
            "c.org",
            "d.com",
            "",
            "x.a.com",
            "b.a.com",
            "y-api.com",
            "a-api.com",
            "x.as.com",
            "x.aſ.com",
            "x.é.com",
            "x.É.com",
            "x.ſ.a.com",
        ]),
        path,
        pick(&["GET", "POST", "PUT"]),
        proptest::option::of(pick(&["1", "2", ""])),
        proptest::option::of(pick(&["q=1", "q=2", "q", "r=1"])),
    )
        .prop_map(|(host, path, method, header, query)| GenReq {
            host,
            path,
            method,
            header,
            query,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn index_equals_linear_scan(
        frontends in proptest::collection::vec(frontend(), 0..25),
        requests in proptest::collection::vec(request(), 1..25),
        keep in any::<bool>(),
    ) {
        let opts = CompileOptions { keep_trailing_slash: keep };
        let entries: Vec<(FrontendRule, usize)> = frontends
            .iter()
            .enumerate()
            .map(|(i, rules)| {
                let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
                (FrontendRule::compile(&rules, &opts).unwrap_or_else(|e| panic!("{rules:?}: {e:?}")), i)
            })
            .collect();
        let index = RuleIndex::new(entries.clone());
        for g in &requests {
            let mut headers = HeaderMap::new();
            if let Some(v) = g.header {
                headers.insert("x-a", HeaderValue::from_static(v));
            }
            let r = Req {
                method: Method::from_bytes(g.method.as_bytes()).unwrap(),
                host: g.host.to_string(),
                path: g.path.clone(),
                query: g.query.map(String::from),
                headers,
            };
            let info = r.info();
            let expected = linear(&entries, &info).map(|(t, m)| (*t, m));
            let got = index.lookup(&info).map(|(t, m)| (*t, m));
            prop_assert_eq!(got, expected, "request {:?} over {:?}", g, frontends);
        }
    }
}
