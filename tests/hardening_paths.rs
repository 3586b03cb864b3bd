//! Paths that would route one way and resolve another (Traefik's CVE-2025-32431,
//! GHSA-vrch-868g-9jx5, CVE-2025-66490, GHSA-xf64-8mw2-4gr2, GHSA-6jwx-7vp4-9847,
//! GHSA-cxjq-mrr5-89rv): through the real binary, each request line written by hand on a raw
//! socket (an HTTP client library would resolve `..` itself), and judged by what the
//! backends actually received. `public` is behind `PathPrefix:/public`, `admin` behind
//! `PathPrefix:/admin`; every other frontend leads to `public` through a path rewrite.

use crate::common;

use common::{Backend, DEADLINE, Trafik, free_port, run_trafik};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FRONTENDS: &str = r#"
[frontends.public]
backend = "public"
[frontends.public.routes.r]
rule = "PathPrefix:/public"
[frontends.admin]
backend = "admin"
[frontends.admin.routes.r]
rule = "PathPrefix:/admin"
[frontends.strip]
backend = "public"
[frontends.strip.routes.r]
rule = "PathPrefixStrip:/strip"
[frontends.stripre]
backend = "public"
[frontends.stripre.routes.r]
rule = "PathPrefixStripRegex:/re/{v:[a-z]+}"
[frontends.replre]
backend = "public"
[frontends.replre.routes.r]
rule = "PathPrefix:/rx;ReplacePathRegex:^/rx(.*) /$1"
[frontends.pathstrip]
backend = "public"
[frontends.pathstrip.routes.r]
rule = "PathStrip:/ps"
[frontends.add]
backend = "public"
[frontends.add.routes.r]
rule = "PathPrefix:/add;AddPrefix:/x/.."
[frontends.replace]
backend = "public"
[frontends.replace.routes.r]
rule = "Path:/rp;ReplacePath:/a/../admin"
[frontends.replaceq]
backend = "public"
[frontends.replaceq.routes.r]
rule = "Path:/rq;ReplacePath:/a?b"
"#;

struct Setup {
    trafik: Trafik,
    /// One port per entry point, in the order they were asked for.
    ports: Vec<u16>,
    public: Backend,
    admin: Backend,
}

/// trafik with one entry point per item of `entry_points` (its extra TOML, written under
/// `[entryPoints.epN]`, e.g. an `encodedCharacters` table), all serving `FRONTENDS`; `extra`
/// goes at the top level.
async fn setup(entry_points: &[&str], extra: &str) -> Setup {
    let public = Backend::start("public").await;
    let admin = Backend::start("admin").await;
    let ports: Vec<u16> = entry_points.iter().map(|_| free_port()).collect();
    let names: Vec<String> = (0..ports.len()).map(|i| format!("\"ep{i}\"")).collect();
    let mut toml = format!("defaultEntryPoints = [{}]\n{extra}\n", names.join(", "));
    for (i, (port, table)) in ports.iter().zip(entry_points).enumerate() {
        toml.push_str(&format!(
            "[entryPoints.ep{i}]\naddress = \"127.0.0.1:{port}\"\n{}\n",
            table.replace("EP", &format!("ep{i}"))
        ));
    }
    toml.push_str(&format!(
        "[file]\n[backends.public.servers.s]\nurl = \"{}\"\n[backends.admin.servers.s]\nurl = \"{}\"\n{FRONTENDS}",
        public.url(),
        admin.url()
    ));
    let trafik = Trafik::start(&toml);
    for port in &ports {
        trafik
            .wait_for(&format!("http://127.0.0.1:{port}/public/ready"), 200)
            .await;
    }
    Setup {
        trafik,
        ports,
        public,
        admin,
    }
}

/// Sends `METHOD target HTTP/1.1` exactly as written on a new connection: (status, body).
async fn send(port: u16, method: &str, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head =
        format!("{method} {target} HTTP/1.1\r\nHost: paths.test\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{target}: no complete head in {answer:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{target}: bad status line in {head:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

/// A backend's path has no `.`/`..` segment (percent-decoded, read up to a `;`).
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let name = segment.split(';').next().unwrap_or("");
        let name = name.replace("%2e", ".").replace("%2E", ".");
        name == "." || name == ".."
    })
}

impl Setup {
    fn hits(&self) -> (usize, usize) {
        (self.public.hits(), self.admin.hits())
    }

    /// `target` answers 400 and no backend hears of it.
    async fn refused_on(&self, port: u16, target: &str) {
        let before = self.hits();
        let (status, body) = send(port, "GET", target).await;
        assert_eq!(status, 400, "{target} must be refused: {body}");
        assert_eq!(self.hits(), before, "{target} reached a backend");
    }

    async fn refused(&self, target: &str) {
        self.refused_on(self.ports[0], target).await;
    }

    /// `target` reaches `server`, which receives `path` (and no dot segment).
    async fn routed_on(&self, port: u16, target: &str, server: &str, path: &str) -> Value {
        let (status, body) = send(port, "GET", target).await;
        assert_eq!(status, 200, "{target}: {body}\n{}", self.trafik.logs());
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["server"], server,
            "{target} went to the wrong backend: {v}"
        );
        assert_eq!(v["path"], path, "{target}: {v}");
        v
    }

    async fn routed(&self, target: &str, server: &str, path: &str) -> Value {
        let v = self.routed_on(self.ports[0], target, server, path).await;
        assert!(!has_dot_segment(path), "{target} forwarded as {path}");
        v
    }
}

#[tokio::test]
async fn dot_segments_route_by_the_path_they_resolve_to() {
    let s = setup(&[""], "").await;
    for (target, server, path) in [
        ("/public/../admin", "admin", "/admin"),
        ("/public/../admin/secret", "admin", "/admin/secret"),
        ("/public/./../admin/x", "admin", "/admin/x"),
        ("/public/x/../../admin/x", "admin", "/admin/x"),
        ("/../admin/x", "admin", "/admin/x"),
        ("/../../public/x", "public", "/public/x"),
        ("/admin/../public/x/.", "public", "/public/x/"),
        // Tomcat-style `;` parameters: `..;` is `..` to such a server, so it is to trafik.
        ("/public/..;/admin", "admin", "/admin"),
        ("/public/..;x=1/admin/y", "admin", "/admin/y"),
        ("/public/.;x/y", "public", "/public/y"),
        // `//` and other parameters are kept as written; `..` takes one segment, empty or not.
        ("/public//x;p=1/y", "public", "/public//x;p=1/y"),
        ("/public//../x", "public", "/public/x"),
        // Dots that are not a segment of their own are names.
        ("/public/x../..y/...", "public", "/public/x../..y/..."),
        // An encoded dot outside a dot segment passes, with its encoding.
        ("/public/a%2eb", "public", "/public/a%2eb"),
        // Absolute form is cleaned the same way.
        ("http://paths.test/public/../admin/z", "admin", "/admin/z"),
    ] {
        s.routed(target, server, path).await;
    }
    // `OPTIONS *` is not a path: not refused, not cleaned, and no frontend matches it.
    let (status, body) = send(s.ports[0], "OPTIONS", "*").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn encodings_that_change_the_path_are_refused_before_routing() {
    let s = setup(&[""], "").await;
    for target in [
        // Encoded dot segments (CVE-2025-32431's encoded form).
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "/public/.%2e/admin",
        "/public/%2e./admin",
        "/public/%2e/x",
        "/public/%2e%2e;x/admin",
        // Encoded separators (GHSA-vrch-868g-9jx5, CVE-2025-66490).
        "/public%2F..%2Fadmin",
        "/public%2f..%2fadmin",
        "/public/..%2Fadmin",
        "/public/..%5Cadmin",
        "/public/..%5cadmin",
        "/public/..\\admin",
        "/public\\..\\admin",
        // NUL, `;`, `?`, `#`, and double encoding.
        "/public/%00/../admin",
        "/public%00/x",
        "/public/..%3Badmin",
        "/public/%3b/x",
        "/public%3F/../admin",
        "/public%3f",
        "/public%23/../admin",
        "/public/%252e%252e/admin",
        "/public/%25",
        // Malformed escapes (Go's server, hence v1, refused them too).
        "/public/%zz",
        "/public/100%",
        "/public/%%32%65%%32%65/admin",
        // Through the rewriting frontends too: refused before any rule is tried.
        "/strip/%2e%2e/admin",
        "/rx%2F..%2Fadmin",
    ] {
        s.refused(target).await;
    }
}

#[tokio::test]
async fn rewritten_paths_are_cleaned_before_a_backend_sees_them() {
    let s = setup(&[""], "").await;
    for (target, path) in [
        // GHSA-xf64-8mw2-4gr2: PathPrefixStrip leaving `/../admin`.
        ("/strip../admin", "/admin"),
        ("/strip..;/admin", "/admin"),
        ("/strip/x", "/x"),
        // GHSA-6jwx-7vp4-9847: PathPrefixStripRegex leaving a dot segment.
        ("/re/abc./admin", "/admin"),
        ("/re/abc../admin/x", "/admin/x"),
        ("/re/abc/y", "/y"),
        // GHSA-cxjq-mrr5-89rv: ReplacePathRegex `^/rx(.*)` → `/$1` making `/../admin`.
        ("/rx../admin", "/admin"),
        ("/rx..;/admin", "/admin"),
        // (It rewrites the decoded path: its `..` is plain dots, removed, not refused.)
        ("/rx%2e%2e/admin", "/admin"),
        ("/rx/y", "//y"),
        // AddPrefix and ReplacePath with dot segments of their own.
        ("/add/y", "/add/y"),
        ("/rp", "/admin"),
        // PathStrip: the whole (cleaned) path goes.
        ("/x/../ps", "/"),
    ] {
        // Rewritten for the frontend the path matched: `public`, never `admin`.
        s.routed(target, "public", path).await;
    }
    // A strip can uncover an encoded dot segment (`strip%2e%2e` is a name, `%2e%2e` is not);
    // a rewrite can make a refused encoding (`ReplacePath:/a?b` is `/a%3Fb`): 400 either way.
    for target in [
        "/strip%2e%2e/admin",
        "/strip.%2E/admin",
        "/re/abc%2e%2e/admin",
        "/re/abc.%2e/admin",
        "/rq",
    ] {
        s.refused(target).await;
    }
}

/// (a path holding the character, what `public` receives when it is allowed, the option).
const ALLOWANCES: [(&str, &str, &str); 8] = [
    ("/public/a%2Fb", "/public/a%2Fb", "allowEncodedSlash"),
    ("/public/a%5Cb", "/public/a%5Cb", "allowEncodedBackSlash"),
    (
        "/public/a%00b",
        "/public/a%00b",
        "allowEncodedNullCharacter",
    ),
    ("/public/a%3Bb", "/public/a%3Bb", "allowEncodedSemicolon"),
    ("/public/a%25b", "/public/a%25b", "allowEncodedPercent"),
    ("/public/a%3Fb", "/public/a%3Fb", "allowEncodedQuestionMark"),
    ("/public/a%23b", "/public/a%23b", "allowEncodedHash"),
    ("/public/a/%2E/b", "/public/a/b", "allowEncodedDot"),
];

#[tokio::test]
async fn each_allowance_lets_its_character_through_and_only_it() {
    let tables: Vec<String> = ALLOWANCES
        .iter()
        .map(|(_, _, key)| format!("[entryPoints.EP.encodedCharacters]\n{key} = true"))
        .collect();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let s = setup(&tables, "").await;
    for (i, port) in s.ports.iter().enumerate() {
        for (j, (target, path, _)) in ALLOWANCES.iter().enumerate() {
            if i == j {
                s.routed_on(*port, target, "public", path).await;
            } else {
                s.refused_on(*port, target).await;
            }
        }
    }
    let port = |key: &str| s.ports[ALLOWANCES.iter().position(|a| a.2 == key).unwrap()];
    // Allowed is not uncleaned: allowed separators are read as separators for routing
    // (as a backend that decodes them would), so these reach `admin`, not `public`.
    let slash = port("allowEncodedSlash");
    s.routed_on(
        slash,
        "/public%2F..%2Fadmin",
        "admin",
        "/public%2F..%2Fadmin",
    )
    .await;
    s.routed_on(
        slash,
        "/public/x%2F..%2F..%2Fadmin/y",
        "admin",
        "/public/x%2F..%2F..%2Fadmin/y",
    )
    .await;
    // …but an encoded dot in such a segment is still refused.
    s.refused_on(slash, "/public%2F%2e%2e%2Fadmin").await;
    let backslash = port("allowEncodedBackSlash");
    s.routed_on(
        backslash,
        "/public%5C..%5Cadmin",
        "admin",
        "/public%5C..%5Cadmin",
    )
    .await;
    s.routed_on(
        backslash,
        "/public\\..\\admin",
        "admin",
        "/public\\..\\admin",
    )
    .await;
    s.routed_on(backslash, "/public/a\\b", "public", "/public/a\\b")
        .await;
    // Allowed encoded dots form dot segments, which are removed.
    let dot = port("allowEncodedDot");
    s.routed_on(dot, "/public/%2e%2e/admin", "admin", "/admin")
        .await;
    s.routed_on(dot, "/public/.%2E;x/admin/y", "admin", "/admin/y")
        .await;
    s.routed_on(dot, "/strip%2e%2e/admin", "public", "/admin")
        .await;
    let semicolon = port("allowEncodedSemicolon");
    s.routed_on(semicolon, "/public/..%3Bx/admin", "admin", "/admin")
        .await;
}

#[tokio::test]
async fn the_query_is_left_alone() {
    let s = setup(&[""], "").await;
    for (target, uri) in [
        (
            "/public/x?a=%2F..%2F&b=../..%00%zz%2e%2e",
            "/public/x?a=%2F..%2F&b=../..%00%zz%2e%2e",
        ),
        (
            "/public/y/../x?p=../%2e%2e;%5C",
            "/public/x?p=../%2e%2e;%5C",
        ),
        ("/strip/../public/x?q=/../admin", "/public/x?q=/../admin"),
        ("/strip../admin?q=%2F", "/admin?q=%2F"),
    ] {
        let path = uri.split('?').next().unwrap();
        let v = s.routed(target, "public", path).await;
        assert_eq!(v["uri"], uri, "{target}");
    }
}

#[tokio::test]
async fn the_access_log_shows_the_path_as_sent() {
    let s = setup(&[""], "[accessLog]\nfilePath = \"access.log\"").await;
    s.routed("/public/./y/../x", "public", "/public/x").await;
    s.refused("/public/%2e%2e/admin").await;
    let log = s.trafik.path("access.log");
    let lines = common::eventually("both requests in the access log", || {
        let log = log.clone();
        async move {
            let text = std::fs::read_to_string(&log).ok()?;
            (text.contains("/public/%2e%2e/admin")).then_some(text)
        }
    })
    .await;
    assert!(
        lines.contains("\"GET /public/./y/../x HTTP/1.1\" 200"),
        "{lines}"
    );
    assert!(
        lines.contains("\"GET /public/%2e%2e/admin HTTP/1.1\" 400"),
        "{lines}"
    );
}

#[tokio::test]
async fn internal_routes_cannot_be_reached_or_escaped_by_a_detour() {
    let s = setup(&[""], "[api]\nentryPoint = \"ep0\"").await;
    for target in [
        "/dashboard/..%2fCargo.toml",
        "/dashboard/%2e%2e/admin",
        "/api/%2e%2e/admin",
        "/api%2F..%2Fadmin",
    ] {
        s.refused(target).await;
    }
    // Out of the internal routes into the proxy: the backend the clean path names.
    s.routed("/api/../admin/x", "admin", "/admin/x").await;
    s.routed("/dashboard/../public/x", "public", "/public/x")
        .await;
    // Into the internal routes from a proxied prefix: served by trafik, not by a backend.
    let before = s.hits();
    let (status, body) = send(s.ports[0], "GET", "/public/../api/version").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Version"), "{body}");
    assert_eq!(s.hits(), before);
}

#[test]
fn check_accepts_the_table_and_locates_a_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    let good = "[entryPoints.http]\naddress = \"127.0.0.1:1\"\n[entryPoints.http.encodedCharacters]\n\
                allowEncodedSlash = true\nallowEncodedBackSlash = false\nallowEncodedNullCharacter = false\n\
                allowEncodedSemicolon = true\nallowEncodedPercent = false\nallowEncodedQuestionMark = false\n\
                allowEncodedHash = false\nallowEncodedDot = true\n";
    std::fs::write(dir.path().join("trafik.toml"), good).unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("unknown key"), "{stderr}");

    let bad = good.replace("allowEncodedDot = true", "allowEncodedDot = 1");
    std::fs::write(dir.path().join("trafik.toml"), bad).unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains(
            "trafik.toml:11:19: entryPoints.http.encodedCharacters.allowEncodedDot: invalid type: integer `1`, expected a boolean"
        ),
        "{stderr}"
    );
}
