//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz), kept here so that the same
//! code runs in the normal test suite as proptests (`tests/fuzz_mirror.rs`) and over the
//! saved crash inputs (`fuzz/regressions/`). Each takes arbitrary bytes, must not panic,
//! and asserts the properties that hold for any input: error offsets that point into the
//! input, expressions that print back to themselves.

use std::collections::BTreeSet;

use crate::rule::{CompileOptions, FrontendRule, RequestInfo};
use crate::{DynamicContext, load_dynamic, load_static, validate_dynamic, validate_static};

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A request made from the input too, so a rule can be matched against something it may
/// have been written for.
fn probe<'a>(host: &'a str, path: &'a str, headers: &'a http::HeaderMap) -> RequestInfo<'a> {
    RequestInfo {
        method: &http::Method::GET,
        host,
        path,
        query: Some("a=1&b"),
        headers,
    }
}

/// The rule language: each line is one route's rule; parsed, compiled together as one
/// frontend, and matched against fixed requests and one made of the input's own words.
pub fn rule(data: &[u8]) {
    let text = text(data);
    let lines: Vec<&str> = text.lines().take(4).collect();
    for line in &lines {
        if let Err(e) = crate::rule::parse(line) {
            assert!(e.offset <= line.len(), "offset {} past {line:?}", e.offset);
        }
    }
    for keep_trailing_slash in [false, true] {
        let Ok(rule) = FrontendRule::compile(
            &lines,
            &CompileOptions {
                keep_trailing_slash,
            },
        ) else {
            continue;
        };
        let headers = http::HeaderMap::new();
        let word = text.split([':', ',', ';', ' ']).nth(1).unwrap_or("");
        for (host, path) in [
            ("example.com", "/"),
            ("a.b.c", "/api/v1/x"),
            ("", ""),
            (word, word),
            (word, "/"),
        ] {
            let _ = rule.matches(&probe(host, path, &headers));
        }
        let _ = (rule.exact_hosts(), rule.literal_paths(), rule.modifiers());
    }
}

/// `trafik.toml` as trafik reads it: the static and the dynamic part, then validation.
pub fn toml(data: &[u8]) {
    let text = text(data);
    for diagnostics in [
        load_static("fuzz.toml", &text).map(|loaded| {
            let _ = validate_static(&loaded.value);
        }),
        load_dynamic("fuzz.toml", &text).map(|loaded| {
            let entry_points = BTreeSet::from(["http".to_string(), "https".to_string()]);
            let ctx = DynamicContext {
                entry_points: &entry_points,
                default_entry_points: &["http".to_string()],
            };
            let _ = validate_dynamic(&loaded.value, &ctx);
        }),
    ] {
        if let Err(diagnostics) = diagnostics {
            for d in diagnostics {
                let _ = d.to_string();
            }
        }
    }
}

struct Fixed;

impl crate::breaker::Metrics for Fixed {
    fn network_error_ratio(&self) -> f64 {
        0.25
    }
    fn latency_at_quantile_ms(&self, q: f64) -> f64 {
        q * 2.0
    }
    fn response_code_ratio(&self, a: u16, b: u16, _c: u16, _d: u16) -> f64 {
        f64::from(a % 7) / f64::from(b.max(1))
    }
}

/// The circuit breaker's expression language: an expression that parses prints back to
/// text that parses to the same expression, and evaluates.
pub fn breaker(data: &[u8]) {
    let text = text(data);
    match crate::breaker::parse(&text) {
        Ok(expr) => {
            let printed = expr.to_string();
            let again = crate::breaker::parse(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
            assert_eq!(printed, again.to_string(), "from {text:?}");
            assert_eq!(expr.eval(&Fixed), again.eval(&Fixed), "from {text:?}");
        }
        Err(e) => assert!(e.offset <= text.len(), "offset {} past {text:?}", e.offset),
    }
}

/// The retry expression language (buffering's `retryExpression`), likewise.
pub fn retry(data: &[u8]) {
    let text = text(data);
    match crate::retry_expr::parse(&text) {
        Ok(expr) => {
            let printed = expr.to_string();
            let again = crate::retry_expr::parse(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
            assert_eq!(printed, again.to_string(), "from {text:?}");
            for (attempts, status) in [(1, 200), (2, 502), (3, 504), (0, 0)] {
                assert_eq!(
                    expr.should_retry_request("GET", attempts, status),
                    again.should_retry_request("GET", attempts, status),
                    "from {text:?}"
                );
            }
        }
        Err(e) => assert!(e.offset <= text.len(), "offset {} past {text:?}", e.offset),
    }
}

/// The key-value decoder (`crate::kv`): each input line is one `key=value` pair, the value
/// raw bytes. Decoding never panics, each problem names a key of the input (or a folder of
/// one), and the order the store lists its keys in does not change the result.
pub fn kv(data: &[u8]) {
    let pairs: Vec<(String, Vec<u8>)> = data
        .split(|&b| b == b'\n')
        .take(200)
        .map(|line| {
            let at = line.iter().position(|&b| b == b'=').unwrap_or(line.len());
            let value = line.get(at + 1..).unwrap_or_default();
            (
                String::from_utf8_lossy(&line[..at]).into_owned(),
                value.to_vec(),
            )
        })
        .collect();
    for prefix in ["/traefik", "traefik", ""] {
        let decoded = crate::kv::decode(prefix, &pairs);
        for p in &decoded.problems {
            assert!(
                pairs.iter().any(|(k, _)| k.starts_with(&p.key)),
                "{:?} names no key of the input",
                p.key
            );
            let _ = p.to_diagnostic().to_string();
        }
        let mut reversed = pairs.clone();
        reversed.reverse();
        assert_eq!(
            crate::kv::decode(prefix, &reversed).configuration,
            decoded.configuration
        );
        let entry_points = BTreeSet::from(["http".to_string(), "https".to_string()]);
        let ctx = DynamicContext {
            entry_points: &entry_points,
            default_entry_points: &["http".to_string()],
        };
        for problem in validate_dynamic(&decoded.configuration, &ctx).problems {
            let _ = decoded.locations.problem_diagnostic(prefix, &problem);
        }
    }
}

/// The Bolt reader: any bytes read as a Bolt file give pairs or an error, never a panic,
/// and never more key and value bytes than the input holds. The input is read twice: as
/// it is, and with its meta checksums set to 0 ("not checked", as bolt allows), so that
/// mutations past the meta pages' FNV checksums reach the trees.
pub fn bolt(data: &[u8]) {
    let check = |file: &[u8]| {
        for bucket in [&b"traefik"[..], b""] {
            if let Ok(Some(pairs)) = crate::bolt::read_bucket(file, bucket) {
                let bytes: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
                assert!(
                    bytes <= file.len(),
                    "{bytes} bytes read from {}",
                    file.len()
                );
            }
        }
    };
    check(data);
    let mut unchecked = data.to_vec();
    // Meta page 0's checksum, then meta page 1's at the page size meta 0 gives.
    let page_size = data
        .get(24..28)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
    for at in [Some(0), page_size].into_iter().flatten() {
        if let Some(sum) = at
            .checked_add(72)
            .and_then(|start| unchecked.get_mut(start..start + 8))
        {
            sum.fill(0);
        }
    }
    check(&unchecked);
}
