//! Semantic checks that serde cannot express. Static problems are fatal at start-up; dynamic
//! problems drop only the offending server, route or frontend, as v1 logs "Skipping frontend…"
//! and keeps serving the rest. Rule syntax is checked by the rule grammar, not here.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::diagnostic::Diagnostic;
use crate::load::Locations;
use crate::model::{Backend, Configuration, Frontend, StaticConfig};

/// A semantic finding, with the key path it is about (for `Locations::locate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<String>,
    pub message: String,
}

impl Problem {
    fn new<S: AsRef<str>>(path: &[S], message: impl Into<String>) -> Self {
        Problem {
            path: path.iter().map(|s| s.as_ref().to_string()).collect(),
            message: message.into(),
        }
    }

    pub fn to_diagnostic(&self, file: &str, locations: &Locations) -> Diagnostic {
        let path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        locations.diagnostic(file, &path, self.message.clone())
    }
}

const LOG_LEVELS: [&str; 7] = [
    "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "PANIC",
];

pub fn validate_static(cfg: &StaticConfig) -> Vec<Problem> {
    let mut problems = Vec::new();

    if let Some(level) = &cfg.log_level
        && !LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level))
    {
        problems.push(Problem::new(
            &["logLevel"],
            format!(
                "unknown logLevel {level:?} (expected one of {})",
                LOG_LEVELS.join(", ")
            ),
        ));
    }

    let entry_points = cfg.effective_entry_points();
    check_addresses(&entry_points, &mut problems);
    check_max_header_bytes(&entry_points, &mut problems);

    if let Some(defaults) = &cfg.default_entry_points {
        for (i, name) in defaults.iter().enumerate() {
            if !entry_points.contains_key(name) {
                problems.push(Problem::new(
                    &["defaultEntryPoints".to_string(), i.to_string()],
                    format!(
                        "defaultEntryPoints: entry point {name:?} is not declared in [entryPoints]"
                    ),
                ));
            }
        }
    }

    if let Some(log) = &cfg.access_log
        && !matches!(log.format.as_str(), "" | "common" | "json")
    {
        problems.push(Problem::new(
            &["accessLog", "format"],
            format!(
                "accessLog: unsupported format {:?} (expected \"common\" or \"json\")",
                log.format
            ),
        ));
    }

    if let Some(log) = &cfg.access_log {
        for (path, message) in
            crate::model::access_log::problems(log.filters.as_ref(), log.fields.as_ref())
        {
            problems.push(Problem { path, message });
        }
    }

    if let Some(file) = &cfg.file
        && file.filename.is_some()
        && file.directory.is_some()
    {
        problems.push(Problem::new(
            &["file"],
            "[file]: set either filename or directory, not both",
        ));
    }

    problems
}

/// A head limit below 1 KiB refuses ordinary browsers' requests; above 16 MiB it no longer
/// limits anything (HTTP/2's own default) and overflows HTTP/2's 32-bit setting.
fn check_max_header_bytes(
    entry_points: &BTreeMap<String, crate::model::EntryPoint>,
    problems: &mut Vec<Problem>,
) {
    const RANGE: std::ops::RangeInclusive<usize> = 1024..=16 * 1024 * 1024;
    for (name, ep) in entry_points {
        let n = ep.max_header_bytes;
        if n != 0 && !RANGE.contains(&n) {
            problems.push(Problem::new(
                &["entryPoints", name.as_str(), "maxHeaderBytes"],
                format!(
                    "entry point {name:?}: maxHeaderBytes = {n}: use 0 (the default, 32768) or \
                     {} to {}",
                    RANGE.start(),
                    RANGE.end()
                ),
            ));
        }
    }
}

/// Every address must parse, and no two entry points may bind the same socket.
fn check_addresses(
    entry_points: &BTreeMap<String, crate::model::EntryPoint>,
    problems: &mut Vec<Problem>,
) {
    let mut bound: Vec<(&str, Option<String>, u16)> = Vec::new();
    for (name, ep) in entry_points {
        let path = ["entryPoints", name.as_str(), "address"];
        let (host, port) = match parse_address(&ep.address) {
            Ok(parsed) => parsed,
            Err(e) => {
                problems.push(Problem::new(&path, format!("entry point {name:?}: {e}")));
                continue;
            }
        };
        // Port 0 asks the OS for a free port, so it cannot collide.
        if port != 0 {
            let host = host.map(|h| normalize_host(&h));
            if let Some((other, ..)) = bound
                .iter()
                .find(|(_, h, p)| *p == port && binds_overlap(h, &host))
            {
                problems.push(Problem::new(
                    &path,
                    format!(
                        "entry points {other:?} and {name:?} both listen on port {port} ({:?} and {:?})",
                        entry_points[*other].address, ep.address
                    ),
                ));
            }
            bound.push((name, host, port));
        }
    }
}

/// `None` or an unspecified address is a wildcard bind, which takes the port on every address.
fn binds_overlap(a: &Option<String>, b: &Option<String>) -> bool {
    let wildcard = |h: &Option<String>| h.as_deref().is_none_or(|h| h == "0.0.0.0" || h == "::");
    wildcard(a) || wildcard(b) || a == b
}

/// One spelling per address, so `[::0001]` and `[::1]` or `LocalHost` and `localhost` compare equal.
fn normalize_host(host: &str) -> String {
    match host.parse::<Ipv6Addr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// Parses a Go-style listen address `host:port`: host empty (all interfaces), a name, IPv4, or
/// IPv6 in brackets. Returns the host (without brackets) and the port.
pub fn parse_address(address: &str) -> Result<(Option<String>, u16), String> {
    let invalid = |why: &str| format!("invalid address {address:?}: {why}");
    if address.is_empty() {
        return Err("missing address (expected host:port, e.g. \":80\")".to_string());
    }
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or_else(|| invalid("missing ']'"))?;
        ip.parse::<Ipv6Addr>()
            .map_err(|_| invalid("not an IPv6 address in brackets"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| invalid("expected ':port' after ']'"))?;
        (Some(ip.to_string()), port)
    } else {
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| invalid("missing ':port'"))?;
        if host.contains(':') {
            return Err(invalid(
                "IPv6 addresses must be in brackets, e.g. \"[::1]:80\"",
            ));
        }
        if !host.is_empty() && !valid_host_name(host) {
            return Err(invalid("bad host name"));
        }
        ((!host.is_empty()).then(|| host.to_string()), port)
    };
    Ok((host, parse_port(port).map_err(|why| invalid(&why))?))
}

fn parse_port(port: &str) -> Result<u16, String> {
    if port.is_empty() {
        return Err("missing port".to_string());
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port {port:?} is not a number"));
    }
    port.parse::<u16>()
        .map_err(|_| format!("port {port} is out of range (0-65535)"))
}

/// A DNS name or an IPv4 address: what may appear unbracketed before `:port`.
fn valid_host_name(host: &str) -> bool {
    if host.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The declared entry points, to check frontends against.
#[derive(Debug, Clone, Copy)]
pub struct DynamicContext<'a> {
    pub entry_points: &'a BTreeSet<String>,
    pub default_entry_points: &'a [String],
}

/// A dynamic configuration with everything invalid removed, and why it was.
#[derive(Debug, Clone)]
pub struct Validated {
    pub config: Configuration,
    pub problems: Vec<Problem>,
}

/// Checks a provider's configuration. In the result, bad servers, routes and frontends are
/// gone, and every frontend lists the entry points it is really on: its own valid ones, or, when
/// it names none, the declared default entry points.
pub fn validate_dynamic(cfg: &Configuration, ctx: &DynamicContext<'_>) -> Validated {
    let mut problems = Vec::new();
    let backends: BTreeMap<String, Backend> = cfg
        .backends
        .iter()
        .map(|(name, b)| {
            (
                name.clone(),
                check_backend(name, b, &mut problems).into_owned(),
            )
        })
        .collect();
    let frontends = cfg
        .frontends
        .iter()
        .filter_map(|(name, f)| {
            let has_backend = |b: &str| backends.contains_key(b);
            let mut f = check_frontend(name, f, &has_backend, ctx, &mut problems)?.into_owned();
            if f.entry_points.is_empty() {
                f.entry_points = default_entry_points(ctx).cloned().collect();
            }
            Some((name.clone(), f))
        })
        .collect();
    Validated {
        config: Configuration {
            backends,
            frontends,
            // Certificates are checked where they are loaded (trafik's tls module).
            tls: cfg.tls.clone(),
        },
        problems,
    }
}

/// The declared default entry points: where a frontend that names none is.
fn default_entry_points<'c>(ctx: &DynamicContext<'c>) -> impl Iterator<Item = &'c String> {
    let declared = ctx.entry_points;
    ctx.default_entry_points
        .iter()
        .filter(move |ep| declared.contains(*ep))
}

/// A backend with its bad servers removed (borrowed when none is). An empty backend stays:
/// it answers 503 (v1). Item by item, so a compile of 10,000 backends copies none of them.
pub fn check_backend<'b>(
    name: &str,
    backend: &'b Backend,
    problems: &mut Vec<Problem>,
) -> Cow<'b, Backend> {
    let mut bad = Vec::new();
    for (server_name, server) in &backend.servers {
        let at = |field: &str| Problem::new(&["backends", name, "servers", server_name, field], "");
        let what = format!("backend {name:?} server {server_name:?}");
        if let Err(why) = check_server_url(&server.url) {
            problems.push(Problem {
                message: format!("{what}: {why}; server ignored"),
                ..at("url")
            });
            bad.push(server_name);
        } else if server.weight < 0 {
            let message = format!("{what}: negative weight {}; server ignored", server.weight);
            problems.push(Problem {
                message,
                ..at("weight")
            });
            bad.push(server_name);
        }
    }
    if bad.is_empty() {
        return Cow::Borrowed(backend);
    }
    let mut backend = backend.clone();
    for server_name in bad {
        backend.servers.remove(server_name);
    }
    Cow::Owned(backend)
}

/// `scheme://host[:port][/path…]` with scheme http, https or h2c. The path is ignored, as in v1.
fn check_server_url(url: &str) -> Result<(), String> {
    let invalid = |why: &str| format!("invalid url {url:?}: {why}");
    if url.is_empty() {
        return Err("missing url".to_string());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("expected scheme://host[:port]"))?;
    if !["http", "https", "h2c"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        return Err(invalid("scheme must be http, https or h2c"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials in the URL are legal (Go's url.Parse keeps them); only the host matters here.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        return Err(invalid("missing host"));
    }
    let port = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (ip, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid("missing ']'"))?;
        ip.parse::<Ipv6Addr>()
            .map_err(|_| invalid("not an IPv6 address in brackets"))?;
        match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| invalid("expected ':port' after ']'"))?,
            ),
        }
    } else {
        let (host, port) = match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        };
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        if !valid_host_name(host) {
            return Err(invalid("bad host name"));
        }
        port
    };
    if let Some(port) = port {
        parse_port(port).map_err(|why| invalid(&why))?;
    }
    Ok(())
}

/// A frontend with its empty routes and unknown entry points removed (borrowed when nothing
/// is), or `None` when it cannot be used. `has_backend` says whether a backend exists. A
/// frontend that names no entry point keeps none: it is on `default_entry_points`.
pub fn check_frontend<'f>(
    name: &str,
    frontend: &'f Frontend,
    has_backend: &dyn Fn(&str) -> bool,
    ctx: &DynamicContext<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Cow<'f, Frontend>> {
    let what = format!("frontend {name:?}");
    let at = |rest: &[&str], message: String| {
        let path: Vec<&str> = ["frontends", name].iter().chain(rest).copied().collect();
        Problem::new(&path, message)
    };
    let mut frontend = Cow::Borrowed(frontend);
    let mut usable = true;

    if frontend.backend.is_empty() {
        problems.push(at(
            &["backend"],
            format!("{what}: missing backend; frontend ignored"),
        ));
        usable = false;
    } else if !has_backend(&frontend.backend) {
        let message = format!(
            "{what}: unknown backend {:?}; frontend ignored",
            frontend.backend
        );
        problems.push(at(&["backend"], message));
        usable = false;
    }

    if frontend.routes.is_empty() {
        problems.push(at(
            &["routes"],
            format!("{what}: no routes; frontend ignored"),
        ));
        usable = false;
    } else {
        let empty: Vec<String> = frontend
            .routes
            .iter()
            .filter(|(_, r)| r.rule.trim().is_empty())
            .map(|(route, _)| route.clone())
            .collect();
        for route in &empty {
            problems.push(at(
                &["routes", route, "rule"],
                format!("{what} route {route:?}: empty rule; route ignored"),
            ));
            frontend.to_mut().routes.remove(route);
        }
        if frontend.routes.is_empty() {
            problems.push(at(
                &["routes"],
                format!("{what}: no valid route left; frontend ignored"),
            ));
            usable = false;
        }
    }

    if frontend.entry_points.is_empty() {
        // Undeclared defaults are reported once by `validate_static`, not per frontend.
        if usable && default_entry_points(ctx).next().is_none() {
            let message = format!(
                "{what}: no entry point (none given, and no default entry point [{}] is declared); frontend ignored",
                ctx.default_entry_points.join(", ")
            );
            problems.push(at(&["entryPoints"], message));
            usable = false;
        }
    } else {
        let mut unknown = false;
        for (i, ep) in frontend.entry_points.iter().enumerate() {
            if !ctx.entry_points.contains(ep) {
                unknown = true;
                let index = i.to_string();
                problems.push(at(
                    &["entryPoints", &index],
                    format!("{what}: unknown entry point {ep:?}; ignored"),
                ));
            }
        }
        if unknown {
            frontend
                .to_mut()
                .entry_points
                .retain(|ep| ctx.entry_points.contains(ep));
        }
        if frontend.entry_points.is_empty() {
            problems.push(at(
                &["entryPoints"],
                format!("{what}: no valid entry point left; frontend ignored"),
            ));
            usable = false;
        }
    }

    usable.then_some(frontend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntryPoint, FileProvider, Route, Server};

    #[test]
    fn addresses() {
        assert_eq!(parse_address(":8080"), Ok((None, 8080)));
        assert_eq!(
            parse_address("127.0.0.1:8080"),
            Ok((Some("127.0.0.1".into()), 8080))
        );
        assert_eq!(parse_address("[::1]:8080"), Ok((Some("::1".into()), 8080)));
        assert_eq!(
            parse_address("localhost:80"),
            Ok((Some("localhost".into()), 80))
        );
        assert_eq!(parse_address(":0"), Ok((None, 0)));
        assert_eq!(parse_address(":65535"), Ok((None, 65535)));
        for bad in [
            "",
            "8080",
            ":",
            ":65536",
            ":http",
            "::1:80",
            "[::1]",
            "[::1:80",
            "[nope]:80",
            "a b:80",
            "x..y:1",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            parse_address(":99999").unwrap_err(),
            "invalid address \":99999\": port 99999 is out of range (0-65535)"
        );
    }

    fn with_entry_points(eps: &[(&str, &str)]) -> StaticConfig {
        let eps = eps
            .iter()
            .map(|(n, a)| {
                (
                    n.to_string(),
                    EntryPoint {
                        address: a.to_string(),
                        ..EntryPoint::default()
                    },
                )
            })
            .collect();
        StaticConfig {
            entry_points: Some(eps),
            ..StaticConfig::default()
        }
    }

    #[test]
    fn max_header_bytes_out_of_range_is_located() {
        for (n, ok) in [
            (0, true),
            (1024, true),
            (65536, true),
            (1023, false),
            (1 << 30, false),
        ] {
            let mut cfg = with_entry_points(&[("web", ":80")]);
            cfg.entry_points
                .as_mut()
                .unwrap()
                .get_mut("web")
                .unwrap()
                .max_header_bytes = n;
            let problems = validate_static(&cfg);
            assert_eq!(problems.is_empty(), ok, "{n}: {problems:?}");
            if !ok {
                assert_eq!(problems[0].path, ["entryPoints", "web", "maxHeaderBytes"]);
                assert!(
                    problems[0].message.contains("\"web\""),
                    "{}",
                    problems[0].message
                );
            }
        }
    }

    #[test]
    fn default_static_config_is_valid() {
        assert_eq!(validate_static(&StaticConfig::default()), vec![]);
    }

    #[test]
    fn conflicting_binds() {
        let ok = with_entry_points(&[
            ("http", ":80"),
            ("https", ":443"),
            ("a", "127.0.0.1:8080"),
            ("b", "10.0.0.1:8080"),
        ]);
        assert_eq!(validate_static(&ok), vec![]);
        for (a, b) in [
            (":8080", "0.0.0.0:8080"),
            ("[::]:8080", "127.0.0.1:8080"),
            ("[::1]:8080", "[0::1]:8080"),
        ] {
            let problems = validate_static(&with_entry_points(&[("one", a), ("two", b)]));
            assert_eq!(problems.len(), 1, "{a} vs {b}");
            assert!(
                problems[0].message.contains("\"one\" and \"two\""),
                "{}",
                problems[0].message
            );
            assert_eq!(problems[0].path, ["entryPoints", "two", "address"]);
        }
        assert_eq!(
            validate_static(&with_entry_points(&[("one", ":0"), ("two", ":0")])),
            vec![]
        );
    }

    #[test]
    fn bad_addresses_are_reported_per_entry_point() {
        let problems = validate_static(&with_entry_points(&[("web", "nope")]));
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "entry point \"web\": invalid address \"nope\": missing ':port'"
        );
    }

    #[test]
    fn static_settings() {
        let cfg = StaticConfig {
            log_level: Some("verbose".into()),
            default_entry_points: Some(vec!["http".into(), "https".into()]),
            access_log: Some(crate::model::AccessLog {
                format: "xml".into(),
                ..Default::default()
            }),
            file: Some(FileProvider {
                filename: Some("a".into()),
                directory: Some("b".into()),
                watch: true,
            }),
            ..StaticConfig::default()
        };
        let paths: Vec<Vec<String>> = validate_static(&cfg).into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                vec!["logLevel"],
                vec!["defaultEntryPoints", "1"],
                vec!["accessLog", "format"],
                vec!["file"]
            ]
        );
        for level in [
            "debug", "Info", "WARN", "warning", "error", "FATAL", "panic",
        ] {
            let cfg = StaticConfig {
                log_level: Some(level.into()),
                ..StaticConfig::default()
            };
            assert_eq!(validate_static(&cfg), vec![], "{level}");
        }
    }

    #[test]
    fn server_urls() {
        for ok in [
            "http://10.0.0.1:8080",
            "https://example.com",
            "h2c://h:1/path?q",
            "HTTP://u:p@h:80",
            "http://[::1]:80/",
        ] {
            assert_eq!(check_server_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "10.0.0.1:80",
            "ftp://h",
            "http://",
            "http://:80",
            "http://h:port",
            "http://h:70000",
            "http://[::1",
        ] {
            assert!(check_server_url(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    fn server(url: &str, weight: i64) -> Server {
        Server {
            url: url.into(),
            weight,
        }
    }

    fn frontend(backend: &str, eps: &[&str], rules: &[(&str, &str)]) -> Frontend {
        Frontend {
            backend: backend.into(),
            entry_points: eps.iter().map(|s| s.to_string()).collect(),
            routes: rules
                .iter()
                .map(|(n, r)| {
                    (
                        n.to_string(),
                        Route {
                            rule: r.to_string(),
                        },
                    )
                })
                .collect(),
            ..Frontend::default()
        }
    }

    fn run(cfg: &Configuration) -> Validated {
        let eps: BTreeSet<String> = ["http".to_string(), "https".to_string()].into();
        validate_dynamic(
            cfg,
            &DynamicContext {
                entry_points: &eps,
                default_entry_points: &["http".to_string()],
            },
        )
    }

    #[test]
    fn bad_servers_are_dropped() {
        let backend = Backend {
            servers: [
                ("ok", server("http://a:1", 0)),
                ("url", server("ftp://a", 1)),
                ("neg", server("http://a", -1)),
            ]
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect(),
            ..Backend::default()
        };
        let cfg = Configuration {
            tls: Vec::new(),
            backends: [("b1".to_string(), backend)].into(),
            ..Default::default()
        };
        let v = run(&cfg);
        assert_eq!(
            v.config.backends["b1"].servers.keys().collect::<Vec<_>>(),
            ["ok"]
        );
        let messages: Vec<&str> = v.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "backend \"b1\" server \"neg\": negative weight -1; server ignored",
                "backend \"b1\" server \"url\": invalid url \"ftp://a\": scheme must be http, https or h2c; server ignored",
            ]
        );
        assert_eq!(
            v.problems[0].path,
            ["backends", "b1", "servers", "neg", "weight"]
        );
    }

    #[test]
    fn frontends() {
        let cfg = Configuration {
            tls: Vec::new(),
            backends: [("b".to_string(), Backend::default())].into(),
            frontends: [
                ("good", frontend("b", &[], &[("r", "Path:/")])),
                ("unknown_backend", frontend("x", &[], &[("r", "Path:/")])),
                ("no_backend", frontend("", &[], &[("r", "Path:/")])),
                ("no_routes", frontend("b", &[], &[])),
                ("empty_rule", frontend("b", &[], &[("r", " ")])),
                (
                    "some_rules",
                    frontend("b", &["https"], &[("a", ""), ("b", "Host:x")]),
                ),
                ("bad_eps", frontend("b", &["nope"], &[("r", "Path:/")])),
                (
                    "some_eps",
                    frontend("b", &["nope", "https"], &[("r", "Path:/")]),
                ),
            ]
            .into_iter()
            .map(|(n, f)| (n.to_string(), f))
            .collect(),
        };
        let v = run(&cfg);
        let kept: Vec<&str> = v.config.frontends.keys().map(String::as_str).collect();
        assert_eq!(kept, ["good", "some_eps", "some_rules"]);
        assert_eq!(v.config.frontends["good"].entry_points, ["http"]);
        assert_eq!(v.config.frontends["some_eps"].entry_points, ["https"]);
        assert_eq!(
            v.config.frontends["some_rules"]
                .routes
                .keys()
                .collect::<Vec<_>>(),
            ["b"]
        );

        let find = |needle: &str| {
            v.problems
                .iter()
                .find(|p| p.message.contains(needle))
                .unwrap_or_else(|| panic!("{needle}: {:?}", v.problems))
        };
        let p = find("unknown backend \"x\"");
        assert_eq!(
            p.message,
            "frontend \"unknown_backend\": unknown backend \"x\"; frontend ignored"
        );
        assert_eq!(p.path, ["frontends", "unknown_backend", "backend"]);
        assert_eq!(
            find("\"no_backend\": missing backend").path,
            ["frontends", "no_backend", "backend"]
        );
        assert_eq!(
            find("\"no_routes\": no routes").path,
            ["frontends", "no_routes", "routes"]
        );
        assert_eq!(
            find("\"empty_rule\" route \"r\": empty rule").path,
            ["frontends", "empty_rule", "routes", "r", "rule"]
        );
        assert_eq!(
            find("\"some_rules\" route \"a\"").path,
            ["frontends", "some_rules", "routes", "a", "rule"]
        );
        assert_eq!(
            find("\"bad_eps\": unknown entry point \"nope\"").path,
            ["frontends", "bad_eps", "entryPoints", "0"]
        );
        assert_eq!(
            find("\"some_eps\": unknown entry point \"nope\"").path,
            ["frontends", "some_eps", "entryPoints", "0"]
        );
        find("\"bad_eps\": no valid entry point left");
        assert_eq!(v.problems.len(), 9, "{:#?}", v.problems);
    }

    #[test]
    fn frontends_without_usable_default_entry_points_are_dropped() {
        let cfg = Configuration {
            tls: Vec::new(),
            backends: [("b".to_string(), Backend::default())].into(),
            frontends: [("f".to_string(), frontend("b", &[], &[("r", "Path:/")]))].into(),
        };
        let eps: BTreeSet<String> = ["https".to_string()].into();
        let defaults = ["http".to_string()];
        let v = validate_dynamic(
            &cfg,
            &DynamicContext {
                entry_points: &eps,
                default_entry_points: &defaults,
            },
        );
        assert!(v.config.frontends.is_empty());
        assert_eq!(v.problems.len(), 1);
        assert!(v.problems[0].message.contains("no entry point"));
    }
}
