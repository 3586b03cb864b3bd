//! The path layers on their own, over an inner service that echoes what it received.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Request, Response, StatusCode};
use regex::Regex;
use tower::util::BoxCloneService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use trafik_middleware::path::{
    AddPrefixLayer, ReplacePathLayer, ReplacePathRegexLayer, StripPrefixLayer,
    StripPrefixRegexLayer, add_prefix, replace_path, replace_path_regex, strip_prefix,
    strip_prefix_regex,
};

/// What the inner service saw.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    uri: String,
    prefix: Vec<String>,
    replaced: Vec<String>,
}

fn values(req: &Request<()>, name: &str) -> Vec<String> {
    req.headers()
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

type Echo = BoxCloneService<Request<()>, Response<String>, Infallible>;

fn echo() -> Echo {
    BoxCloneService::new(service_fn(|req: Request<()>| async move {
        let body = format!(
            "{}\n{}\n{}",
            req.uri(),
            values(&req, "x-forwarded-prefix").join("|"),
            values(&req, "x-replaced-path").join("|"),
        );
        Ok::<_, Infallible>(Response::new(body))
    }))
}

fn parse(body: &str) -> Seen {
    let mut lines = body.split('\n');
    let mut next = || lines.next().unwrap_or("").to_string();
    let uri = next();
    let list = |s: String| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split('|').map(String::from).collect()
        }
    };
    Seen {
        uri,
        prefix: list(next()),
        replaced: list(next()),
    }
}

async fn run<L>(layer: L, uri: &str) -> (StatusCode, Seen)
where
    L: Layer<Echo>,
    L::Service: Service<Request<()>, Response = Response<String>, Error = Infallible>,
{
    let svc = layer.layer(echo());
    let req = Request::builder().uri(uri).body(()).unwrap();
    let res = svc.oneshot(req).await.unwrap();
    let status = res.status();
    let seen = if status == StatusCode::OK {
        parse(res.body())
    } else {
        assert!(res.body().is_empty());
        Seen::default()
    };
    (status, seen)
}

fn seen(uri: &str, prefix: &[&str], replaced: &[&str]) -> (StatusCode, Seen) {
    (
        StatusCode::OK,
        Seen {
            uri: uri.into(),
            prefix: prefix.iter().map(|s| s.to_string()).collect(),
            replaced: replaced.iter().map(|s| s.to_string()).collect(),
        },
    )
}

// ---------------------------------------------------------------- StripPrefix

#[tokio::test]
async fn strip_prefix_v1_examples() {
    let layer = StripPrefixLayer::new(["/api"]);
    assert_eq!(run(layer.clone(), "/api").await, seen("/", &["/api"], &[]));
    assert_eq!(
        run(layer.clone(), "/api/bacon").await,
        seen("/bacon", &["/api"], &[])
    );
    // A plain string prefix.
    assert_eq!(
        run(layer.clone(), "/apix").await,
        seen("/x", &["/api"], &[])
    );
    // Doubled slashes are not cleaned.
    assert_eq!(
        run(layer.clone(), "/api//x").await,
        seen("//x", &["/api"], &[])
    );
}

#[tokio::test]
async fn strip_prefix_longest_first() {
    let layer = StripPrefixLayer::new(["/a", "/a/b", "/a/b/c/d"]);
    assert_eq!(layer.prefixes(), ["/a/b/c/d", "/a/b", "/a"]);
    assert_eq!(
        run(layer.clone(), "/a/b/c").await,
        seen("/c", &["/a/b"], &[])
    );
    assert_eq!(run(layer, "/a/x").await, seen("/x", &["/a"], &[]));
}

#[tokio::test]
async fn strip_prefix_no_match_is_404_without_calling_inner() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |_req: Request<()>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new(String::from("inner"))) }
    });
    let svc = StripPrefixLayer::new(["/api"]).layer(inner);
    let req = Request::builder().uri("/web/api").body(()).unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.body(), "");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let req = Request::builder().uri("/api/x").body(()).unwrap();
    assert_eq!(svc.oneshot(req).await.unwrap().status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn strip_prefix_keeps_query_scheme_and_authority() {
    let layer = StripPrefixLayer::new(["/api"]);
    assert_eq!(
        run(layer.clone(), "/api/x?a=1&b=/api").await,
        seen("/x?a=1&b=/api", &["/api"], &[])
    );
    assert_eq!(
        run(layer, "http://example.com:8080/api/x?q").await,
        seen("http://example.com:8080/x?q", &["/api"], &[])
    );
}

#[tokio::test]
async fn strip_prefix_compares_decoded_and_keeps_encoding() {
    let layer = StripPrefixLayer::new(["/a b"]);
    assert_eq!(
        run(layer.clone(), "/a%20b/x%2Fy%20z").await,
        seen("/x%2Fy%20z", &["/a b"], &[])
    );
    // The encoded form of the prefix itself is not a match.
    let layer = StripPrefixLayer::new(["/a%20b"]);
    assert_eq!(run(layer, "/a%20b/x").await.0, StatusCode::NOT_FOUND);
    // An encoded slash in the prefix part decodes to a slash.
    let layer = StripPrefixLayer::new(["/a/b"]);
    assert_eq!(run(layer, "/a%2fb/c").await, seen("/c", &["/a/b"], &[]));
}

#[tokio::test]
async fn strip_prefix_appends_to_an_existing_header() {
    let svc = StripPrefixLayer::new(["/b"]).layer(echo());
    let req = Request::builder()
        .uri("/b/c")
        .header("x-forwarded-prefix", "/a")
        .body(())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(parse(res.body()), seen("/c", &["/a", "/b"], &[]).1);
}

#[test]
fn strip_prefix_function_tries_in_the_given_order() {
    let mut req = Request::builder().uri("/a/b/c").body(()).unwrap();
    assert!(strip_prefix(&mut req, &["/a", "/a/b"]));
    assert_eq!(req.uri(), "/b/c");
    assert!(!strip_prefix(&mut req, &["/x"]));
    assert_eq!(req.uri(), "/b/c");
}

// ---------------------------------------------------------------- StripPrefixRegex

fn re(s: &str) -> Regex {
    Regex::new(s).unwrap()
}

#[tokio::test]
async fn strip_prefix_regex_strips_the_match() {
    let layer = StripPrefixRegexLayer::new([re("^/api/v[0-9]+"), re("^/[a-z]+")]);
    assert_eq!(
        run(layer.clone(), "/api/v2/users?x=1").await,
        seen("/users?x=1", &["/api/v2"], &[])
    );
    // The first regex that matches wins, in the given order.
    assert_eq!(
        run(layer.clone(), "/api/x").await,
        seen("/x", &["/api"], &[])
    );
    assert_eq!(run(layer.clone(), "/abc").await, seen("/", &["/abc"], &[]));
    assert_eq!(run(layer.clone(), "/123").await.0, StatusCode::NOT_FOUND);
    // A match that does not start the path does not count.
    let layer = StripPrefixRegexLayer::new([re("[0-9]+")]);
    assert_eq!(run(layer.clone(), "/a/12").await.0, StatusCode::NOT_FOUND);
    // ... unless the path itself starts with one.
    let layer = StripPrefixRegexLayer::new([re("/[0-9]+")]);
    assert_eq!(run(layer, "/12/a").await, seen("/a", &["/12"], &[]));
}

#[tokio::test]
async fn strip_prefix_regex_on_decoded_paths() {
    let layer = StripPrefixRegexLayer::new([re("^/a b/[0-9]+")]);
    assert_eq!(
        run(layer, "/a%20b/42/%7Ex").await,
        seen("/%7Ex", &["/a b/42"], &[])
    );
    // Invalid UTF-8 once decoded: matched as U+FFFD, cut at the right raw offset.
    let layer = StripPrefixRegexLayer::new([re("^/.")]);
    let (status, s) = run(layer, "/%FF/x").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.uri, "/x");
}

#[test]
fn strip_prefix_regex_function() {
    let mut req = Request::builder().uri("/v1/x").body(()).unwrap();
    assert!(!strip_prefix_regex(&mut req, &[re("^/v2")]));
    assert!(strip_prefix_regex(&mut req, &[re("^/v2"), re("^/v1")]));
    assert_eq!(req.uri(), "/x");
    assert_eq!(req.headers()["x-forwarded-prefix"], "/v1");
}

// ---------------------------------------------------------------- AddPrefix

#[tokio::test]
async fn add_prefix_layer() {
    let layer = AddPrefixLayer::new("/products");
    assert_eq!(
        run(layer.clone(), "/shoes?size=42").await,
        seen("/products/shoes?size=42", &[], &[])
    );
    assert_eq!(run(layer.clone(), "/").await, seen("/products/", &[], &[]));
    // The original encoding is kept; the prefix is encoded.
    assert_eq!(
        run(layer, "/a%2Fb%20c").await,
        seen("/products/a%2Fb%20c", &[], &[])
    );
    assert_eq!(
        run(AddPrefixLayer::new("/my shop"), "/x").await,
        seen("/my%20shop/x", &[], &[])
    );
    assert_eq!(
        run(AddPrefixLayer::new("p"), "/x").await,
        seen("/p/x", &[], &[])
    );
}

#[test]
fn add_prefix_function_keeps_authority() {
    let mut req = Request::builder()
        .uri("https://h.example/x?y")
        .body(())
        .unwrap();
    add_prefix(&mut req, "/v1");
    assert_eq!(req.uri(), "https://h.example/v1/x?y");
}

// ---------------------------------------------------------------- ReplacePath

#[tokio::test]
async fn replace_path_layer() {
    let layer = ReplacePathLayer::new("/serverless-path");
    assert_eq!(
        run(layer.clone(), "/foo/bar?x=1").await,
        seen("/serverless-path?x=1", &[], &["/foo/bar"])
    );
    // The old path is reported decoded; the new one is encoded.
    assert_eq!(
        run(ReplacePathLayer::new("/new path"), "/old%20path").await,
        seen("/new%20path", &[], &["/old path"])
    );
}

#[test]
fn replace_path_function() {
    let mut req = Request::builder().uri("/a").body(()).unwrap();
    replace_path(&mut req, "/b");
    replace_path(&mut req, "/c");
    assert_eq!(req.uri(), "/c");
    let old: Vec<_> = req.headers().get_all("x-replaced-path").iter().collect();
    assert_eq!(old, ["/a", "/b"]);
}

// ---------------------------------------------------------------- ReplacePathRegex

#[tokio::test]
async fn replace_path_regex_layer() {
    let layer = ReplacePathRegexLayer::new(re("^/api/v2/(.*)"), "/api/$1");
    assert_eq!(
        run(layer.clone(), "/api/v2/users?x=1").await,
        seen("/api/users?x=1", &[], &["/api/v2/users"])
    );
    // No match: untouched, no header.
    assert_eq!(run(layer, "/web/x").await, seen("/web/x", &[], &[]));
    // `${1}x` and named groups; every match is replaced.
    let layer = ReplacePathRegexLayer::new(re("/(?P<seg>[a-z]+)"), "/${seg}x");
    assert_eq!(
        run(layer, "/ab/cd/12").await,
        seen("/abx/cdx/12", &[], &["/ab/cd/12"])
    );
    // Works on the decoded path; the result is encoded.
    let layer = ReplacePathRegexLayer::new(re("^/a b/(.*)"), "/c d/$1");
    assert_eq!(
        run(layer, "/a%20b/x").await,
        seen("/c%20d/x", &[], &["/a b/x"])
    );
}

#[test]
fn replace_path_regex_function() {
    let mut req = Request::builder().uri("/a").body(()).unwrap();
    assert!(!replace_path_regex(&mut req, &re("^/a"), ""));
    assert!(!replace_path_regex(&mut req, &re("^/b"), "/c"));
    assert!(replace_path_regex(&mut req, &re("^/a"), "/c"));
    assert_eq!(req.uri(), "/c");
}

// ---------------------------------------------------------------- together

/// v1's order: strip-regex → strip → AddPrefix → ReplacePathRegex → ReplacePath.
#[tokio::test]
async fn layers_compose_in_v1_order() {
    let svc = ServiceBuilder::new()
        .layer(StripPrefixRegexLayer::new([re("^/t/[0-9]+")]))
        .layer(StripPrefixLayer::new(["/api"]))
        .layer(AddPrefixLayer::new("/v2"))
        .layer(ReplacePathRegexLayer::new(re("^/v2/(.*)"), "/internal/$1"))
        .service(echo());
    let req = Request::builder()
        .uri("/t/7/api/users?q=1")
        .body(())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(
        parse(res.body()),
        seen("/internal/users?q=1", &["/t/7", "/api"], &["/v2/users"]).1
    );
}
