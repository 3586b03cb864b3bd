//! The fuzz targets of `fuzz/` (bodies in `trafik_config::fuzz`) as proptests in the normal
//! suite, over random bytes and over text made of each language's own pieces (so a short
//! run still reaches deep), plus every saved crash input in `fuzz/regressions/<target>/`.

use std::path::Path;

use proptest::prelude::*;
use trafik_config::fuzz;

/// Text made of `pieces`, up to `max` of them.
fn soup(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|v| v.concat())
}

const RULE_PIECES: &[&str] = &[
    "Host:",
    "HostRegexp:",
    "Path:",
    "PathPrefix:",
    "PathStrip:",
    "PathPrefixStrip:",
    "PathStripRegex:",
    "PathPrefixStripRegex:",
    "AddPrefix:",
    "ReplacePath:",
    "ReplacePathRegex:",
    "Method:",
    "Headers:",
    "HeadersRegexp:",
    "Query:",
    "Foo:",
    "{",
    "}",
    "{id:",
    "[0-9]+",
    "[a-z",
    "(",
    ")",
    ".*",
    "^",
    "$",
    "\\",
    ":",
    ",",
    ";",
    " ",
    "/",
    "/api",
    "a.com",
    "*.b.com",
    "é",
    "%2F",
    "..",
    "=",
    "\n",
    "GET",
];

const TOML_PIECES: &[&str] = &[
    "[entryPoints.http]\n",
    "address = \":80\"\n",
    "address = 5\n",
    "[file]\n",
    "[backends.b.servers.s]\n",
    "url = \"http://127.0.0.1:1\"\n",
    "url = \"ftp://\"\n",
    "weight = -1\n",
    "weight = \"x\"\n",
    "[frontends.f]\n",
    "backend = \"b\"\n",
    "backend = \"nope\"\n",
    "[frontends.f.routes.r]\n",
    "rule = \"Host:a.com\"\n",
    "rule = \"Path:{\"\n",
    "[backends.b.circuitBreaker]\n",
    "expression = \"NetworkErrorRatio() > 0.5\"\n",
    "expression = \"((\"\n",
    "[backends.b.loadBalancer]\n",
    "method = \"drr\"\n",
    "[backends.b.maxConn]\n",
    "amount = 0\n",
    "extractorFunc = \"request.header.\"\n",
    "[backends.b.buffering]\n",
    "retryExpression = \"Attempts() < 2\"\n",
    "[[tls]]\n",
    "entryPoints = [\"http\"]\n",
    "[tls.certificate]\n",
    "certFile = \"x\"\n",
    "[retry]\n",
    "attempts = 2\n",
    "logLevel = \"DEBUG\"\n",
    "graceTimeOut = \"10x\"\n",
    "[lifeCycle]\n",
    "requestAcceptGraceTimeout = 3\n",
    "= =\n",
    "[a.b.\n",
    "\"\n",
    "'''\n",
    "[[entryPoints]]\n",
    "priority = 9999999999999999999999\n",
    "x = [1, \"a\"]\n",
];

const EXPR_PIECES: &[&str] = &[
    "NetworkErrorRatio()",
    "LatencyAtQuantileMS(50.0)",
    "ResponseCodeRatio(500, 600, 0, 600)",
    "IsNetworkError()",
    "Attempts()",
    "ResponseCode()",
    "Method()",
    "(",
    ")",
    ",",
    " ",
    "&&",
    "||",
    "!",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "0",
    "2",
    "0.5",
    "1e3",
    "-1",
    "99999999999999999999",
    "\"GET\"",
    "\"",
    "Foo()",
    "\n",
];

const KV_PIECES: &[&str] = &[
    "/traefik",
    "traefik",
    "/",
    "//",
    "backends/",
    "Frontends/",
    "tls/",
    "alias",
    "b/",
    "f/",
    "servers/s/",
    "url",
    "weight",
    "routes/r/rule",
    "entrypoints",
    "/0",
    "/10",
    "loadbalancer/stickiness",
    "/cookiename",
    "healthcheck/port",
    "headers/customrequestheaders/X-A",
    "passTLSClientCert/infos/subject/commonName",
    "ratelimit/rateset/x/period",
    "auth/forward/tls/ca",
    "certificate/certfile",
    "=",
    "=true",
    "=maybe",
    "=abc",
    "=-1",
    "=99999999999999999999",
    "=10s",
    "=http,https",
    "=\u{ff}",
    "\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn rule_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz::rule(&data);
    }

    #[test]
    fn rule_pieces(text in soup(RULE_PIECES, 24)) {
        fuzz::rule(text.as_bytes());
    }

    #[test]
    fn toml_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzz::toml(&data);
    }

    #[test]
    fn toml_pieces(text in soup(TOML_PIECES, 24)) {
        fuzz::toml(text.as_bytes());
    }

    #[test]
    fn breaker_bytes(data in prop::collection::vec(any::<u8>(), 0..120)) {
        fuzz::breaker(&data);
    }

    #[test]
    fn breaker_pieces(text in soup(EXPR_PIECES, 16)) {
        fuzz::breaker(text.as_bytes());
    }

    #[test]
    fn retry_bytes(data in prop::collection::vec(any::<u8>(), 0..120)) {
        fuzz::retry(&data);
    }

    #[test]
    fn kv_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzz::kv(&data);
    }

    #[test]
    fn kv_pieces(text in soup(KV_PIECES, 40)) {
        fuzz::kv(text.as_bytes());
    }

    #[test]
    fn retry_pieces(text in soup(EXPR_PIECES, 16)) {
        fuzz::retry(text.as_bytes());
    }
}

/// A fuzz target: its name (its folder in `fuzz/regressions/`) and its body.
type Target = (&'static str, fn(&[u8]));

/// Every input a fuzzer once crashed on, replayed through its target.
#[test]
fn saved_crash_inputs_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let targets: [Target; 4] = [
        ("rule", fuzz::rule),
        ("toml", fuzz::toml),
        ("breaker", fuzz::breaker),
        ("retry", fuzz::retry),
    ];
    for (name, target) in targets {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            target(&std::fs::read(&path).unwrap());
        }
    }
}

// The Bolt reader's fuzz body over the real files of `config/src/bolt/testdata/` (written by
// the real Bolt library) with a few bytes overwritten: random bytes alone never get past
// the meta pages.
const BOLT_FILES: [&[u8]; 3] = [
    include_bytes!("../src/bolt/testdata/small.db"),
    include_bytes!("../src/bolt/testdata/overflow.db"),
    include_bytes!("../src/bolt/testdata/many.db"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bolt_damaged_files(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut file = BOLT_FILES[which].to_vec();
        for (at, byte) in edits {
            let at = at.index(file.len());
            file[at] = byte;
        }
        fuzz::bolt(&file);
        file.truncate(cut.index(file.len()));
        fuzz::bolt(&file);
    }
}
