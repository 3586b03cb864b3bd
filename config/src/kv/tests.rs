//! The decoder on recorded store listings: v1's documentation example, every middleware,
//! both list forms, key case, and each kind of bad value skipping exactly its item.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::model::*;
use crate::{Duration, DynamicContext, validate_dynamic};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn lines(problems: &[KvProblem]) -> Vec<String> {
    problems.iter().map(|p| p.to_string()).collect()
}

fn errors(d: &Decoded) -> Vec<String> {
    d.errors().iter().map(|e| e.to_string()).collect()
}

/// `docs/user-guide/kv-config.md` (v1.7), as etcd lists it, in a scrambled order, with the
/// static configuration that lives beside it in the same store.
const DOCS_EXAMPLE: &[(&str, &str)] = &[
    (
        "/traefik/frontends/frontend2/routes/test_2/rule",
        "PathPrefix:/test",
    ),
    (
        "/traefik/backends/backend1/circuitbreaker/expression",
        "NetworkErrorRatio() > 0.5",
    ),
    (
        "/traefik/backends/backend1/servers/server1/url",
        "http://172.17.0.2:80",
    ),
    ("/traefik/backends/backend1/servers/server1/weight", "10"),
    (
        "/traefik/backends/backend1/servers/server2/url",
        "http://172.17.0.3:80",
    ),
    ("/traefik/backends/backend1/servers/server2/weight", "1"),
    (
        "/traefik/backends/backend1/servers/server2/tags",
        "api,helloworld",
    ),
    ("/traefik/backends/backend2/maxconn/amount", "10"),
    (
        "/traefik/backends/backend2/maxconn/extractorfunc",
        "request.host",
    ),
    ("/traefik/backends/backend2/loadbalancer/method", "drr"),
    (
        "/traefik/backends/backend2/servers/server1/url",
        "http://172.17.0.4:80",
    ),
    ("/traefik/backends/backend2/servers/server1/weight", "1"),
    (
        "/traefik/backends/backend2/servers/server2/url",
        "http://172.17.0.5:80",
    ),
    ("/traefik/backends/backend2/servers/server2/weight", "2"),
    ("/traefik/frontends/frontend1/backend", "backend2"),
    (
        "/traefik/frontends/frontend1/routes/test_1/rule",
        "Host:test.localhost",
    ),
    ("/traefik/frontends/frontend2/backend", "backend1"),
    ("/traefik/frontends/frontend2/passHostHeader", "true"),
    ("/traefik/frontends/frontend2/priority", "10"),
    ("/traefik/frontends/frontend2/entrypoints", "http,https"),
    ("/traefik/tls/1/entrypoints", "https"),
    ("/traefik/tls/1/certificate/certfile", "path/to/your.cert"),
    ("/traefik/tls/1/certificate/keyfile", "path/to/your.key"),
    ("/traefik/tls/2/entrypoints", "https,other-https"),
    (
        "/traefik/tls/2/certificate/certfile",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    ),
    (
        "/traefik/tls/2/certificate/keyfile",
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
    ),
    ("/traefik/loglevel", "DEBUG"),
    ("/traefik/defaultentrypoints/0", "http"),
    ("/traefik/entrypoints/http/address", ":80"),
    ("/traefik/alias", ""),
    ("/traefik/acme/account", "{binary}"),
];

fn server(url: &str, weight: i64) -> Server {
    Server {
        url: url.to_string(),
        weight,
    }
}

#[test]
fn the_v1_documentation_example_decodes() {
    let d = decode("/traefik", &pairs(DOCS_EXAMPLE));
    // Server tags are v1's constraints: named, not silently dropped.
    assert_eq!(
        lines(&d.problems),
        [
            "/traefik/backends/backend1/servers/server2/tags: server tags (provider constraints) are not implemented yet; ignored"
        ]
    );
    let c = &d.configuration;
    let b1 = &c.backends["backend1"];
    assert_eq!(
        b1.servers,
        SmallMap::from([
            ("server1".to_string(), server("http://172.17.0.2:80", 10)),
            ("server2".to_string(), server("http://172.17.0.3:80", 1)),
        ])
    );
    assert_eq!(
        b1.circuit_breaker.as_ref().unwrap().expression,
        "NetworkErrorRatio() > 0.5"
    );
    let b2 = &c.backends["backend2"];
    assert_eq!(b2.load_balancer.as_ref().unwrap().method, "drr");
    assert_eq!(
        b2.max_conn,
        Some(Box::new(MaxConn {
            amount: 10,
            extractor_func: "request.host".to_string()
        }))
    );
    assert_eq!(b2.servers["server2"], server("http://172.17.0.5:80", 2));

    let f1 = &c.frontends["frontend1"];
    assert_eq!(f1.backend, "backend2");
    assert!(f1.pass_host_header, "the key-value default is true (v1)");
    assert_eq!(f1.routes["test_1"].rule, "Host:test.localhost");
    assert!(f1.entry_points.is_empty());
    let f2 = &c.frontends["frontend2"];
    assert_eq!((f2.priority, f2.pass_host_header), (10, true));
    assert_eq!(f2.entry_points, ["http", "https"]);
    assert_eq!(f2.routes["test_2"].rule, "PathPrefix:/test");

    assert_eq!(c.tls.len(), 2);
    assert_eq!(c.tls[0].entry_points, ["https"]);
    assert_eq!(c.tls[0].certificate.cert_file, "path/to/your.cert");
    assert_eq!(c.tls[1].entry_points, ["https", "other-https"]);
    assert!(
        c.tls[1]
            .certificate
            .key_file
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );

    // Same store, Consul's spelling: no leading slash, folder keys with empty values.
    let mut consul: Vec<(String, Vec<u8>)> = pairs(DOCS_EXAMPLE)
        .into_iter()
        .map(|(k, v)| (k.trim_start_matches('/').to_string(), v))
        .collect();
    consul.push(("traefik/".into(), Vec::new()));
    consul.push(("traefik/backends/".into(), Vec::new()));
    consul.push(("traefik/backends/backend1/".into(), Vec::new()));
    let again = decode("traefik", &consul);
    assert_eq!(again.configuration, d.configuration);
    assert_eq!(again.problems.len(), 1);
    assert_eq!(
        again.problems[0].key,
        "traefik/backends/backend1/servers/server2/tags"
    );
    // The prefix's slashes do not matter.
    assert_eq!(decode("/traefik/", &consul).configuration, d.configuration);
}

#[test]
fn every_frontend_middleware_and_backend_setting_decodes() {
    let store = pairs(&[
        ("/traefik/backends/b/servers/s/url", "http://10.0.0.1:8080"),
        ("/traefik/backends/b/loadbalancer/sticky", "false"),
        ("/traefik/backends/b/loadbalancer/stickiness", "true"),
        (
            "/traefik/backends/b/loadbalancer/stickiness/cookiename",
            "my_cookie",
        ),
        ("/traefik/backends/b/loadbalancer/stickiness/secure", "T"),
        ("/traefik/backends/b/loadbalancer/stickiness/httponly", "1"),
        (
            "/traefik/backends/b/loadbalancer/stickiness/samesite",
            "lax",
        ),
        (
            "/traefik/backends/b/responseforwarding/flushinterval",
            "100ms",
        ),
        ("/traefik/backends/b/healthcheck/path", "/health"),
        ("/traefik/backends/b/healthcheck/scheme", "https"),
        ("/traefik/backends/b/healthcheck/port", "8443"),
        ("/traefik/backends/b/healthcheck/interval", "5s"),
        (
            "/traefik/backends/b/healthcheck/hostname",
            "internal.example",
        ),
        ("/traefik/backends/b/healthcheck/headers/X-Probe", "kv"),
        (
            "/traefik/backends/b/buffering/maxrequestbodybytes",
            "1048576",
        ),
        ("/traefik/backends/b/buffering/memrequestbodybytes", "2048"),
        (
            "/traefik/backends/b/buffering/maxresponsebodybytes",
            "2097152",
        ),
        ("/traefik/backends/b/buffering/memresponsebodybytes", "4096"),
        (
            "/traefik/backends/b/buffering/retryexpression",
            "IsNetworkError() && Attempts() <= 2",
        ),
        ("/traefik/backends/err/servers/s/url", "http://10.0.0.9"),
        ("/traefik/frontends/f/backend", "b"),
        (
            "/traefik/frontends/f/routes/host/rule",
            "Host:app.example.com",
        ),
        ("/traefik/frontends/f/routes/path/rule", "PathPrefix:/api"),
        ("/traefik/frontends/f/passhostheader", "false"),
        ("/traefik/frontends/f/passtlscert", "true"),
        ("/traefik/frontends/f/basicauth", "old:$apr1$x$y"),
        (
            "/traefik/frontends/f/whitelist/sourcerange",
            "10.0.0.0/8, 192.168.1.7",
        ),
        ("/traefik/frontends/f/whitelist/usexforwardedfor", "true"),
        ("/traefik/frontends/f/redirect/regex", "^http://(.*)"),
        ("/traefik/frontends/f/redirect/replacement", "https://$1"),
        ("/traefik/frontends/f/redirect/permanent", "true"),
        ("/traefik/frontends/f/errors/network/backend", "err"),
        (
            "/traefik/frontends/f/errors/network/query",
            "/{status}.html",
        ),
        ("/traefik/frontends/f/errors/network/status", "500-599,404"),
        ("/traefik/frontends/f/ratelimit/extractorfunc", "client.ip"),
        ("/traefik/frontends/f/ratelimit/rateset/fast/period", "10s"),
        ("/traefik/frontends/f/ratelimit/rateset/fast/average", "100"),
        ("/traefik/frontends/f/ratelimit/rateset/fast/burst", "200"),
        ("/traefik/frontends/f/ratelimit/rateset/slow/period", "3"),
        ("/traefik/frontends/f/ratelimit/rateset/slow/average", "5"),
        (
            "/traefik/frontends/f/headers/customrequestheaders/X-Script-Name",
            "test",
        ),
        (
            "/traefik/frontends/f/headers/customresponseheaders/X-Custom-Response-Header",
            "True",
        ),
        (
            "/traefik/frontends/f/headers/sslproxyheaders/X-Forwarded-Proto",
            "https",
        ),
        (
            "/traefik/frontends/f/headers/allowedhosts",
            "app.example.com,www.example.com",
        ),
        (
            "/traefik/frontends/f/headers/hostsproxyheaders/0",
            "X-Forwarded-Host",
        ),
        ("/traefik/frontends/f/headers/sslredirect", "true"),
        ("/traefik/frontends/f/headers/ssltemporaryredirect", "false"),
        ("/traefik/frontends/f/headers/sslhost", "secure.example.com"),
        ("/traefik/frontends/f/headers/sslforcehost", "true"),
        ("/traefik/frontends/f/headers/stsseconds", "315360000"),
        ("/traefik/frontends/f/headers/stsincludesubdomains", "true"),
        ("/traefik/frontends/f/headers/stspreload", "true"),
        ("/traefik/frontends/f/headers/forcestsheader", "true"),
        ("/traefik/frontends/f/headers/framedeny", "true"),
        (
            "/traefik/frontends/f/headers/customframeoptionsvalue",
            "SAMEORIGIN",
        ),
        ("/traefik/frontends/f/headers/contenttypenosniff", "true"),
        ("/traefik/frontends/f/headers/browserxssfilter", "true"),
        (
            "/traefik/frontends/f/headers/custombrowserxssvalue",
            "1; report=/xss",
        ),
        (
            "/traefik/frontends/f/headers/contentsecuritypolicy",
            "default-src 'self'",
        ),
        ("/traefik/frontends/f/headers/publickey", "pin-sha256=\"x\""),
        ("/traefik/frontends/f/headers/referrerpolicy", "same-origin"),
        ("/traefik/frontends/f/headers/isdevelopment", "false"),
        ("/traefik/frontends/f/passTLSClientCert/pem", "true"),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/notBefore",
            "true",
        ),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/notAfter",
            "false",
        ),
        ("/traefik/frontends/f/passTLSClientCert/infos/sans", "true"),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/subject/commonName",
            "true",
        ),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/subject/country",
            "true",
        ),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/subject/serialNumber",
            "true",
        ),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/issuer/domainComponent",
            "true",
        ),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/issuer/organization",
            "true",
        ),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/issuer/province",
            "true",
        ),
        (
            "/traefik/frontends/f/passTLSClientCert/infos/issuer/locality",
            "true",
        ),
        ("/traefik/frontends/g/backend", "b"),
        ("/traefik/frontends/g/routes/r/rule", "Path:/login"),
        ("/traefik/frontends/g/auth/headerfield", "X-WebAuth-User"),
        (
            "/traefik/frontends/g/auth/basic/users/0",
            "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
        ),
        (
            "/traefik/frontends/g/auth/basic/users/1",
            "test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0",
        ),
        (
            "/traefik/frontends/g/auth/basic/usersfile",
            "/etc/traefik/users",
        ),
        ("/traefik/frontends/g/auth/basic/removeheader", "true"),
        ("/traefik/frontends/h/backend", "b"),
        ("/traefik/frontends/h/routes/r/rule", "Path:/x"),
        ("/traefik/frontends/h/redirect/entrypoint", "https"),
        (
            "/traefik/frontends/h/auth/forward/address",
            "https://auth.example/check",
        ),
        (
            "/traefik/frontends/h/auth/forward/trustforwardheader",
            "true",
        ),
        (
            "/traefik/frontends/h/auth/forward/authresponseheaders",
            "X-Auth-User,X-Secret",
        ),
        ("/traefik/frontends/h/auth/forward/tls/ca", "/ca.pem"),
        ("/traefik/frontends/h/auth/forward/tls/caoptional", "true"),
        ("/traefik/frontends/h/auth/forward/tls/cert", "/cert.pem"),
        ("/traefik/frontends/h/auth/forward/tls/key", "/key.pem"),
        (
            "/traefik/frontends/h/auth/forward/tls/insecureskipverify",
            "true",
        ),
        ("/traefik/frontends/i/backend", "b"),
        ("/traefik/frontends/i/routes/r/rule", "Path:/digest"),
        (
            "/traefik/frontends/i/auth/digest/users",
            "u:realm:5f4dcc3b5aa765d61d8327deb882cf99",
        ),
        ("/traefik/frontends/i/auth/digest/removeheader", "false"),
    ]);
    let d = decode("/traefik", &store);
    assert!(d.problems.is_empty(), "{:?}", lines(&d.problems));
    let c = &d.configuration;

    let expected_backend = Backend {
        servers: SmallMap::from([("s".to_string(), server("http://10.0.0.1:8080", 1))]),
        load_balancer: Some(Box::new(LoadBalancer {
            method: String::new(),
            sticky: false,
            stickiness: Some(Stickiness {
                cookie_name: "my_cookie".into(),
                secure: true,
                http_only: true,
                same_site: "lax".into(),
            }),
        })),
        circuit_breaker: None,
        health_check: Some(Box::new(HealthCheck {
            scheme: "https".into(),
            path: "/health".into(),
            port: 8443,
            interval: Some(Duration::from_secs(5)),
            hostname: "internal.example".into(),
            headers: BTreeMap::from([("X-Probe".to_string(), "kv".to_string())]),
        })),
        max_conn: None,
        buffering: Some(Box::new(Buffering {
            max_request_body_bytes: 1048576,
            mem_request_body_bytes: 2048,
            max_response_body_bytes: 2097152,
            mem_response_body_bytes: 4096,
            retry_expression: "IsNetworkError() && Attempts() <= 2".into(),
        })),
        response_forwarding: Some(Box::new(ResponseForwarding {
            flush_interval: Some(Duration::from_millis(100)),
        })),
    };
    assert_eq!(c.backends["b"], expected_backend);

    let f = &c.frontends["f"];
    assert_eq!(f.routes.len(), 2);
    assert!(!f.pass_host_header && f.pass_tls_cert);
    assert_eq!(f.basic_auth, ["old:$apr1$x$y"]);
    assert_eq!(
        f.white_list,
        Some(Box::new(WhiteList {
            source_range: vec!["10.0.0.0/8".into(), "192.168.1.7".into()],
            use_x_forwarded_for: true
        }))
    );
    assert_eq!(
        f.redirect,
        Some(Box::new(Redirect {
            entry_point: String::new(),
            regex: "^http://(.*)".into(),
            replacement: "https://$1".into(),
            permanent: true
        }))
    );
    assert_eq!(
        f.errors["network"],
        ErrorPage {
            status: vec!["500-599".into(), "404".into()],
            backend: "err".into(),
            query: "/{status}.html".into()
        }
    );
    let rl = f.rate_limit.as_ref().unwrap();
    assert_eq!(rl.extractor_func, "client.ip");
    assert_eq!(
        rl.rate_set["fast"],
        RateSet {
            period: Some(Duration::from_secs(10)),
            average: 100,
            burst: 200
        }
    );
    assert_eq!(rl.rate_set["slow"].period, Some(Duration::from_secs(3)));
    let h = f.headers.as_ref().unwrap();
    let expected_headers = Headers {
        custom_request_headers: BTreeMap::from([("X-Script-Name".into(), "test".into())]),
        custom_response_headers: BTreeMap::from([(
            "X-Custom-Response-Header".into(),
            "True".into(),
        )]),
        allowed_hosts: vec!["app.example.com".into(), "www.example.com".into()],
        hosts_proxy_headers: vec!["X-Forwarded-Host".into()],
        ssl_redirect: true,
        ssl_temporary_redirect: false,
        ssl_host: "secure.example.com".into(),
        ssl_force_host: true,
        ssl_proxy_headers: BTreeMap::from([("X-Forwarded-Proto".into(), "https".into())]),
        sts_seconds: 315360000,
        sts_include_subdomains: true,
        sts_preload: true,
        force_sts_header: true,
        frame_deny: true,
        custom_frame_options_value: "SAMEORIGIN".into(),
        content_type_nosniff: true,
        browser_xss_filter: true,
        custom_browser_xss_value: "1; report=/xss".into(),
        content_security_policy: "default-src 'self'".into(),
        public_key: "pin-sha256=\"x\"".into(),
        referrer_policy: "same-origin".into(),
        is_development: false,
    };
    assert_eq!(h.as_ref(), &expected_headers);
    assert_eq!(
        f.pass_tls_client_cert,
        Some(Box::new(PassTlsClientCert {
            pem: true,
            infos: Some(TlsClientCertInfos {
                not_before: true,
                not_after: false,
                sans: true,
                subject: Some(TlsCertDnInfos {
                    common_name: true,
                    country: true,
                    serial_number: true,
                    ..TlsCertDnInfos::default()
                }),
                issuer: Some(TlsCertDnInfos {
                    domain_component: true,
                    organization: true,
                    province: true,
                    locality: true,
                    ..TlsCertDnInfos::default()
                }),
            })
        }))
    );

    let g = c.frontends["g"].auth.as_ref().unwrap();
    assert_eq!(g.header_field, "X-WebAuth-User");
    let basic = g.basic.as_ref().unwrap();
    assert_eq!(basic.users.len(), 2);
    assert!(basic.users[1].starts_with("test2:"));
    assert_eq!(basic.users_file, "/etc/traefik/users");
    assert!(basic.remove_header);

    let h = &c.frontends["h"];
    assert_eq!(h.redirect.as_ref().unwrap().entry_point, "https");
    assert_eq!(
        h.auth.as_ref().unwrap().forward,
        Some(Forward {
            address: "https://auth.example/check".into(),
            tls: Some(ClientTls {
                ca: "/ca.pem".into(),
                ca_optional: true,
                cert: "/cert.pem".into(),
                key: "/key.pem".into(),
                insecure_skip_verify: true
            }),
            trust_forward_header: true,
            auth_response_headers: vec!["X-Auth-User".into(), "X-Secret".into()],
        })
    );
    let digest = c.frontends["i"]
        .auth
        .as_ref()
        .unwrap()
        .digest
        .as_ref()
        .unwrap();
    assert_eq!(digest.users, ["u:realm:5f4dcc3b5aa765d61d8327deb882cf99"]);

    // And what the store describes is valid as a whole.
    let entry_points = BTreeSet::from(["http".to_string(), "https".to_string()]);
    let ctx = DynamicContext {
        entry_points: &entry_points,
        default_entry_points: &["http".to_string()],
    };
    let validated = validate_dynamic(c, &ctx);
    assert!(validated.problems.is_empty(), "{:?}", validated.problems);
}

#[test]
fn lists_are_csv_or_indexed_sub_keys_in_numeric_order() {
    let mut list: Vec<(String, String)> = (0..12)
        .map(|i| {
            (
                format!("/traefik/frontends/a/entrypoints/{i}"),
                format!("ep{i}"),
            )
        })
        .collect();
    list.push((
        "/traefik/frontends/b/entrypoints".into(),
        " http , ,https,".into(),
    ));
    // Both forms at once (Consul can): the CSV value wins, the sub-keys are named.
    list.push(("/traefik/frontends/c/entrypoints".into(), "http".into()));
    list.push(("/traefik/frontends/c/entrypoints/0".into(), "https".into()));
    // A sub-key that is no index; an empty element.
    list.push(("/traefik/frontends/d/entrypoints/first".into(), "x".into()));
    list.push(("/traefik/frontends/d/entrypoints/0".into(), "".into()));
    list.push(("/traefik/frontends/d/entrypoints/1".into(), "https".into()));
    let store: Vec<(String, Vec<u8>)> =
        list.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
    let d = decode("/traefik", &store);
    let fe = &d.configuration.frontends;
    let expected: Vec<String> = (0..12).map(|i| format!("ep{i}")).collect();
    assert_eq!(fe["a"].entry_points, expected, "10 and 11 come after 9");
    assert_eq!(fe["b"].entry_points, ["http", "https"]);
    assert_eq!(fe["c"].entry_points, ["http"]);
    assert_eq!(fe["d"].entry_points, ["https"]);
    assert_eq!(
        lines(&d.problems),
        [
            "/traefik/frontends/c/entrypoints: both a value and sub-keys: the value (CSV) is used, the sub-keys ignored",
            "/traefik/frontends/d/entrypoints/first: a list's sub-keys are indices (0, 1, …); this one is ignored",
        ]
    );
    // Each element of an indexed list is located at its own key.
    assert_eq!(
        d.locations.key(&["frontends", "a", "entryPoints", "10"]),
        Some("/traefik/frontends/a/entrypoints/10")
    );
    assert_eq!(
        d.locations.key(&["frontends", "b", "entryPoints", "1"]),
        Some("/traefik/frontends/b/entrypoints")
    );
}

#[test]
fn layout_names_ignore_case_and_user_names_keep_it() {
    let d = decode(
        "traefik",
        &pairs(&[
            ("traefik/Backends/Web/Servers/S1/URL", "http://a"),
            ("traefik/backends/Web/LoadBalancer/Method", "drr"),
            ("traefik/backends/web/servers/s1/url", "http://b"),
            ("traefik/frontends/F/passHostHeader", "False"),
            (
                "traefik/frontends/F/Headers/CustomRequestHeaders/x-lower-case",
                "1",
            ),
            (
                "TRAEFIK/backends/other/servers/s/url",
                "http://not-our-prefix",
            ),
        ]),
    );
    assert!(d.problems.is_empty(), "{:?}", lines(&d.problems));
    let b = &d.configuration.backends;
    assert_eq!(b.len(), 2, "the prefix is matched exactly: {b:?}");
    assert_eq!(b["Web"].servers["S1"].url, "http://a");
    assert_eq!(b["Web"].load_balancer.as_ref().unwrap().method, "drr");
    assert_eq!(b["web"].servers["s1"].url, "http://b");
    let f = &d.configuration.frontends["F"];
    assert!(!f.pass_host_header);
    assert_eq!(
        f.headers.as_ref().unwrap().custom_request_headers["x-lower-case"],
        "1"
    );
}

#[test]
fn a_bad_value_skips_exactly_its_item_and_names_the_key() {
    let store = pairs(&[
        // A bad weight: that server goes, its sibling stays.
        ("/traefik/backends/b1/servers/bad/url", "http://a"),
        ("/traefik/backends/b1/servers/bad/weight", "abc"),
        ("/traefik/backends/b1/servers/good/url", "http://b"),
        // A bad health check interval: the backend goes.
        ("/traefik/backends/b2/servers/s/url", "http://c"),
        ("/traefik/backends/b2/healthcheck/path", "/h"),
        ("/traefik/backends/b2/healthcheck/interval", "soon"),
        // A port out of range.
        ("/traefik/backends/b3/servers/s/url", "http://d"),
        ("/traefik/backends/b3/healthcheck/path", "/h"),
        ("/traefik/backends/b3/healthcheck/port", "70000"),
        // A bad boolean: the frontend goes (not served without what it asked for).
        ("/traefik/frontends/f1/backend", "b1"),
        ("/traefik/frontends/f1/routes/r/rule", "Path:/"),
        ("/traefik/frontends/f1/whitelist/sourcerange", "10.0.0.0/8"),
        ("/traefik/frontends/f1/whitelist/usexforwardedfor", "maybe"),
        // A bad rate period.
        ("/traefik/frontends/f2/backend", "b1"),
        ("/traefik/frontends/f2/routes/r/rule", "Path:/"),
        ("/traefik/frontends/f2/ratelimit/extractorfunc", "client.ip"),
        ("/traefik/frontends/f2/ratelimit/rateset/x/period", "-1s"),
        // Fine.
        ("/traefik/frontends/ok/backend", "b1"),
        ("/traefik/frontends/ok/routes/r/rule", "Path:/"),
        ("/traefik/frontends/ok/priority", " 7 "),
        // A certificate with nothing in it.
        ("/traefik/tls/empty/entrypoints", "https"),
        ("/traefik/tls/good/certificate/certfile", "c.pem"),
        ("/traefik/tls/good/certificate/keyfile", "k.pem"),
    ]);
    let mut store = store;
    store.push((
        "/traefik/frontends/f3/backend".into(),
        vec![0xff, 0xfe, b'b'],
    ));
    let d = decode("/traefik", &store);
    assert_eq!(
        errors(&d),
        [
            "/traefik/backends/b1/servers/bad/weight: invalid integer \"abc\"; server bad skipped",
            "/traefik/backends/b2/healthcheck/interval: invalid duration \"soon\"; backend b2 skipped",
            "/traefik/backends/b3/healthcheck/port: invalid port 70000 (0 to 65535); backend b3 skipped",
            "/traefik/frontends/f1/whitelist/usexforwardedfor: invalid boolean \"maybe\" (expected true or false); frontend f1 skipped",
            "/traefik/frontends/f2/ratelimit/rateset/x/period: invalid duration \"-1s\"; frontend f2 skipped",
            "/traefik/frontends/f3/backend: the value is not UTF-8 text; frontend f3 skipped",
            "/traefik/tls/empty: no certificate/certfile and no certificate/keyfile; certificate empty skipped",
        ]
    );
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    let c = &d.configuration;
    assert_eq!(c.backends.keys().collect::<Vec<_>>(), ["b1"]);
    assert_eq!(
        c.backends["b1"].servers.keys().collect::<Vec<_>>(),
        ["good"]
    );
    assert_eq!(c.frontends.keys().collect::<Vec<_>>(), ["ok"]);
    assert_eq!(c.frontends["ok"].priority, 7);
    assert_eq!(c.tls.len(), 1);
    assert_eq!(c.tls[0].certificate.cert_file, "c.pem");
    // The decoded problems print the way a file's do, the key in the file's place.
    let first = d.problems[0].to_diagnostic();
    assert_eq!(first.file, "/traefik/backends/b1/servers/bad/weight");
    assert_eq!(first.line, None);
}

#[test]
fn unknown_keys_are_named_and_static_keys_left_alone() {
    let d = decode(
        "/traefik",
        &pairs(&[
            ("/traefik/backends/b/servers/s/url", "http://a"),
            ("/traefik/backends/b/servers/s/wieght", "3"),
            ("/traefik/backends/b/servers/nourl/weight", "3"),
            ("/traefik/backends/b/loadbalancer/methd", "drr"),
            ("/traefik/backends/b/healthcheck/interval", "10s"),
            ("/traefik/backends/b", "a value on a folder"),
            ("/traefik/frontends/f/backend", "b"),
            ("/traefik/frontends/f/routes/r/rule", "Path:/"),
            ("/traefik/frontends/f/routes/empty/rule", ""),
            ("/traefik/frontends/f/routes/r/rule/deeper", "x"),
            ("/traefik/frontends/f/headerz/framedeny", "true"),
            (
                "/traefik/frontends/f/redirect/entrypoint/a/b/c/d/e/f/g/h",
                "x",
            ),
            // Static configuration and the alias: not the decoder's business.
            ("/traefik/entrypoints/http/address", ":80"),
            ("/traefik/alias", "/elsewhere"),
            ("/traefik/api/entrypoint", "api"),
            ("/traefik", "root value"),
        ]),
    );
    assert!(d.errors().is_empty(), "{:?}", d.errors());
    assert_eq!(
        lines(&d.problems),
        [
            "/traefik/frontends/f/redirect/entrypoint/a/b/c/d/e/f/g/h: key too deep for the key-value layout, ignored",
            "/traefik/backends/b: this key is a folder here; its value is ignored",
            "/traefik/backends/b/healthcheck: health check without a path: no health check is run",
            "/traefik/backends/b/loadbalancer/methd: unknown key, ignored",
            "/traefik/backends/b/servers/nourl: server nourl has no url; ignored",
            "/traefik/backends/b/servers/s/wieght: unknown key, ignored",
            "/traefik/frontends/f/headerz: unknown key, ignored",
            "/traefik/frontends/f/routes/empty: route empty has no rule; ignored",
            "/traefik/frontends/f/routes/r/rule/deeper: unknown key, ignored",
        ]
    );
    let c = &d.configuration;
    assert_eq!(c.backends["b"].servers.len(), 1);
    assert!(c.backends["b"].health_check.is_none());
    assert_eq!(c.frontends["f"].routes.len(), 1);
}

#[test]
fn semantic_problems_found_later_are_named_by_their_key() {
    let d = decode(
        "/traefik",
        &pairs(&[
            ("/traefik/backends/b/servers/s/url", "http://a"),
            ("/traefik/backends/b/servers/neg/url", "http://b"),
            ("/traefik/backends/b/servers/neg/weight", "-2"),
            ("/traefik/frontends/f1/backend", "nope"),
            ("/traefik/frontends/f1/routes/r/rule", "Path:/"),
            ("/traefik/frontends/f2/backend", "b"),
            ("/traefik/frontends/f2/routes/r/rule", "Bogus:/x"),
            ("/traefik/frontends/f2/entrypoints/0", "http"),
            ("/traefik/frontends/f2/entrypoints/1", "unknown"),
        ]),
    );
    assert!(d.problems.is_empty(), "{:?}", lines(&d.problems));
    let entry_points = BTreeSet::from(["http".to_string()]);
    let ctx = DynamicContext {
        entry_points: &entry_points,
        default_entry_points: &["http".to_string()],
    };
    let validated = validate_dynamic(&d.configuration, &ctx);
    let shown: Vec<String> = validated
        .problems
        .iter()
        .map(|p| d.locations.problem_diagnostic("/traefik", p).to_string())
        .collect();
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("/traefik/backends/b/servers/neg/weight: ")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("/traefik/frontends/f1/backend: ")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("/traefik/frontends/f2/entrypoints/1: ")),
        "{shown:?}"
    );
    // A rule is compiled later, by the server; its error is located the same way.
    let rule = &d.configuration.frontends["f2"].routes["r"].rule;
    let err = crate::rule::parse(rule).unwrap_err();
    let shown = d
        .locations
        .diagnostic(
            "/traefik",
            &["frontends", "f2", "routes", "r", "rule"],
            err.to_string(),
        )
        .to_string();
    assert!(
        shown.starts_with("/traefik/frontends/f2/routes/r/rule: "),
        "{shown}"
    );
    // A path with nothing of its own in the store: its nearest ancestor, else the fallback.
    assert_eq!(
        d.locations.key(&["frontends", "f1", "priority"]),
        Some("/traefik/frontends/f1")
    );
    assert_eq!(d.locations.key(&["nothing"]), None);
}

#[test]
fn the_alias_names_the_prefix_to_read() {
    assert_eq!(alias_key("/traefik"), "/traefik/alias");
    assert_eq!(alias_key("traefik/"), "traefik/alias");
    assert_eq!(alias_target("/traefik", None).unwrap(), "/traefik");
    assert_eq!(alias_target("/traefik", Some(b"")).unwrap(), "/traefik");
    assert_eq!(
        alias_target("/traefik", Some(b"/traefik_configurations/2/")).unwrap(),
        "/traefik_configurations/2"
    );
    assert!(alias_target("/traefik", Some(&[0xff])).is_err());
    assert!(alias_target("/traefik", Some(b"a\nb")).is_err());

    // v1's documented switch: the tree under the alias is decoded, the old one ignored.
    let store = pairs(&[
        ("/traefik/alias", "/traefik_configurations/2"),
        ("/traefik/backends/old/servers/s/url", "http://0"),
        (
            "/traefik_configurations/1/backends/backend1/servers/server1/url",
            "http://172.17.0.2:80",
        ),
        (
            "/traefik_configurations/1/backends/backend1/servers/server1/weight",
            "10",
        ),
        (
            "/traefik_configurations/2/backends/backend1/servers/server1/url",
            "http://172.17.0.3:80",
        ),
        (
            "/traefik_configurations/2/backends/backend1/servers/server1/weight",
            "5",
        ),
        (
            "/traefik_configurations/2/backends/backend1/servers/server2/url",
            "http://172.17.0.4:80",
        ),
        (
            "/traefik_configurations/2/backends/backend1/servers/server2/weight",
            "5",
        ),
    ]);
    let alias = store
        .iter()
        .find(|(k, _)| *k == alias_key("/traefik"))
        .map(|(_, v)| v.as_slice());
    let prefix = alias_target("/traefik", alias).unwrap();
    let d = decode(&prefix, &store);
    assert!(d.problems.is_empty());
    assert_eq!(
        d.configuration.backends.keys().collect::<Vec<_>>(),
        ["backend1"]
    );
    let servers = &d.configuration.backends["backend1"].servers;
    assert_eq!(servers["server1"], server("http://172.17.0.3:80", 5));
    assert_eq!(servers["server2"], server("http://172.17.0.4:80", 5));
}

#[test]
fn a_big_store_decodes_in_one_pass() {
    let mut store = Vec::new();
    for i in 0..10_000 {
        store.push((
            format!("/traefik/backends/b{i}/servers/s/url"),
            b"http://a".to_vec(),
        ));
        store.push((
            format!("/traefik/backends/b{i}/servers/s/weight"),
            b"2".to_vec(),
        ));
        store.push((
            format!("/traefik/frontends/f{i}/backend"),
            format!("b{i}").into_bytes(),
        ));
        store.push((
            format!("/traefik/frontends/f{i}/routes/r/rule"),
            b"Path:/".to_vec(),
        ));
        store.push((
            format!("/traefik/frontends/f{i}/entrypoints/{i}"),
            b"http".to_vec(),
        ));
    }
    store.push((
        "/traefik/frontends/huge/backend".into(),
        vec![b'x'; 4 << 20],
    ));
    store.push((
        "/traefik/backends/long/servers/s/weight".into(),
        vec![b'9'; 1 << 20],
    ));
    let start = std::time::Instant::now();
    let d = decode("/traefik", &store);
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    // The overflowing weight skips its server only.
    assert_eq!(d.configuration.backends.len(), 10_001);
    assert!(d.configuration.backends["long"].servers.is_empty());
    assert_eq!(d.configuration.frontends.len(), 10_001);
    assert_eq!(
        d.problems.len(),
        1,
        "{:?}",
        d.problems.iter().map(|p| &p.key).collect::<Vec<_>>()
    );
    // A huge value is quoted cut short.
    assert!(d.problems.iter().all(|p| p.message.len() < 200));
}

mod round_trip {
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    use super::super::{decode, encode};
    use crate::Duration;
    use crate::model::*;

    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.-]{1,6}".prop_filter("not a path step", |n| n != "." && n != "..")
    }

    /// Any non-empty text: an empty value has no key.
    fn text() -> impl Strategy<Value = String> {
        "[ -~]{1,12}|[^\u{0}]{1,4}"
    }

    fn maybe_text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), text()]
    }

    fn texts() -> impl Strategy<Value = Vec<String>> {
        vec(text(), 0..4)
    }

    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0u64..100_000_000).prop_map(Duration::from_millis),
            any::<u32>().prop_map(|n| Duration(std::time::Duration::from_nanos(u64::from(n)))),
        ]
    }

    fn map() -> impl Strategy<Value = std::collections::BTreeMap<String, String>> {
        btree_map(name(), text(), 0..3)
    }

    fn backend() -> impl Strategy<Value = Backend> {
        let server = (text(), any::<i64>()).prop_map(|(url, weight)| Server { url, weight });
        let stickiness = (maybe_text(), any::<bool>(), any::<bool>(), maybe_text()).prop_map(
            |(cookie_name, secure, http_only, same_site)| Stickiness {
                cookie_name,
                secure,
                http_only,
                same_site,
            },
        );
        let lb = (
            maybe_text(),
            any::<bool>(),
            proptest::option::of(stickiness),
        )
            .prop_map(|(method, sticky, stickiness)| LoadBalancer {
                method,
                sticky,
                stickiness,
            });
        let hc = (
            maybe_text(),
            text(),
            any::<u16>(),
            proptest::option::of(duration()),
            maybe_text(),
            map(),
        )
            .prop_map(
                |(scheme, path, port, interval, hostname, headers)| HealthCheck {
                    scheme,
                    path,
                    port,
                    interval,
                    hostname,
                    headers,
                },
            );
        let buffering =
            (any::<[i64; 4]>(), maybe_text()).prop_map(|(n, retry_expression)| Buffering {
                max_request_body_bytes: n[0],
                mem_request_body_bytes: n[1],
                max_response_body_bytes: n[2],
                mem_response_body_bytes: n[3],
                retry_expression,
            });
        (
            btree_map(name(), server, 1..3),
            proptest::option::of(lb),
            proptest::option::of(text().prop_map(|expression| CircuitBreaker { expression })),
            proptest::option::of(hc),
            proptest::option::of((any::<i64>(), maybe_text()).prop_map(
                |(amount, extractor_func)| MaxConn {
                    amount,
                    extractor_func,
                },
            )),
            proptest::option::of(buffering),
            proptest::option::of(duration().prop_map(|d| ResponseForwarding {
                flush_interval: Some(d),
            })),
        )
            .prop_map(
                |(
                    servers,
                    load_balancer,
                    circuit_breaker,
                    health_check,
                    max_conn,
                    buffering,
                    response_forwarding,
                )| Backend {
                    servers: servers.into_iter().collect(),
                    load_balancer: load_balancer.map(Box::new),
                    circuit_breaker: circuit_breaker.map(Box::new),
                    health_check: health_check.map(Box::new),
                    max_conn: max_conn.map(Box::new),
                    buffering: buffering.map(Box::new),
                    response_forwarding: response_forwarding.map(Box::new),
                },
            )
    }

    fn headers() -> impl Strategy<Value = Headers> {
        (
            (
                map(),
                map(),
                map(),
                texts(),
                texts(),
                maybe_text(),
                maybe_text(),
            ),
            (
                maybe_text(),
                maybe_text(),
                maybe_text(),
                maybe_text(),
                any::<i64>(),
            ),
            any::<[bool; 10]>(),
        )
            .prop_map(
                |(
                    (req, resp, ssl, allowed, proxy, ssl_host, frame),
                    (xss, csp, pk, referrer, sts),
                    b,
                )| Headers {
                    custom_request_headers: req,
                    custom_response_headers: resp,
                    allowed_hosts: allowed,
                    hosts_proxy_headers: proxy,
                    ssl_redirect: b[0],
                    ssl_temporary_redirect: b[1],
                    ssl_host,
                    ssl_force_host: b[2],
                    ssl_proxy_headers: ssl,
                    sts_seconds: sts,
                    sts_include_subdomains: b[3],
                    sts_preload: b[4],
                    force_sts_header: b[5],
                    frame_deny: b[6],
                    custom_frame_options_value: frame,
                    content_type_nosniff: b[7],
                    browser_xss_filter: b[8],
                    custom_browser_xss_value: xss,
                    content_security_policy: csp,
                    public_key: pk,
                    referrer_policy: referrer,
                    is_development: b[9],
                },
            )
    }

    fn auth() -> impl Strategy<Value = Auth> {
        let users = || {
            (texts(), maybe_text(), any::<bool>()).prop_map(|(users, users_file, remove_header)| {
                Users {
                    users,
                    users_file,
                    remove_header,
                }
            })
        };
        let tls = (
            maybe_text(),
            any::<bool>(),
            maybe_text(),
            maybe_text(),
            any::<bool>(),
        )
            .prop_map(
                |(ca, ca_optional, cert, key, insecure_skip_verify)| ClientTls {
                    ca,
                    ca_optional,
                    cert,
                    key,
                    insecure_skip_verify,
                },
            );
        let forward = (
            maybe_text(),
            proptest::option::of(tls),
            any::<bool>(),
            texts(),
        )
            .prop_map(
                |(address, tls, trust_forward_header, auth_response_headers)| Forward {
                    address,
                    tls,
                    trust_forward_header,
                    auth_response_headers,
                },
            );
        (
            proptest::option::of(users()),
            proptest::option::of(users()),
            proptest::option::of(forward),
            text(),
        )
            .prop_map(|(basic, digest, forward, header_field)| Auth {
                basic,
                digest,
                forward,
                header_field,
            })
    }

    fn dn() -> impl Strategy<Value = TlsCertDnInfos> {
        any::<[bool; 7]>().prop_map(|b| TlsCertDnInfos {
            country: b[0],
            province: b[1],
            locality: b[2],
            organization: b[3],
            common_name: b[4],
            serial_number: b[5],
            domain_component: b[6],
        })
    }

    fn frontend() -> impl Strategy<Value = Frontend> {
        let infos = (
            any::<[bool; 3]>(),
            proptest::option::of(dn()),
            proptest::option::of(dn()),
        )
            .prop_map(|(b, subject, issuer)| TlsClientCertInfos {
                not_before: b[0],
                not_after: b[1],
                sans: b[2],
                subject,
                issuer,
            });
        let pass = (any::<bool>(), proptest::option::of(infos))
            .prop_map(|(pem, infos)| PassTlsClientCert { pem, infos });
        let white_list =
            (texts(), any::<bool>()).prop_map(|(source_range, use_x_forwarded_for)| {
                crate::WhiteList {
                    source_range,
                    use_x_forwarded_for,
                }
            });
        let redirect = (maybe_text(), maybe_text(), maybe_text(), any::<bool>()).prop_map(
            |(entry_point, regex, replacement, permanent)| Redirect {
                entry_point,
                regex,
                replacement,
                permanent,
            },
        );
        let rate_set = (proptest::option::of(duration()), any::<i64>(), any::<i64>()).prop_map(
            |(period, average, burst)| RateSet {
                period,
                average,
                burst,
            },
        );
        let rate_limit =
            (text(), btree_map(name(), rate_set, 0..3)).prop_map(|(extractor_func, rate_set)| {
                RateLimit {
                    extractor_func,
                    rate_set,
                }
            });
        let page = (texts(), text(), maybe_text()).prop_map(|(status, backend, query)| ErrorPage {
            status,
            backend,
            query,
        });
        (
            (
                texts(),
                maybe_text(),
                btree_map(name(), text().prop_map(|rule| Route { rule }), 0..3),
            ),
            (any::<bool>(), any::<bool>(), any::<i64>(), texts()),
            proptest::option::of(pass),
            proptest::option::of(white_list),
            proptest::option::of(headers()),
            proptest::option::of(redirect),
            proptest::option::of(rate_limit),
            btree_map(name(), page, 0..2),
            proptest::option::of(auth()),
        )
            .prop_map(
                |(
                    (entry_points, backend, routes),
                    (pass_host_header, pass_tls_cert, priority, basic_auth),
                    pass_tls_client_cert,
                    white_list,
                    headers,
                    redirect,
                    rate_limit,
                    errors,
                    auth,
                )| Frontend {
                    entry_points,
                    backend,
                    routes: routes.into_iter().collect(),
                    pass_host_header,
                    pass_tls_cert,
                    pass_tls_client_cert: pass_tls_client_cert.map(Box::new),
                    priority,
                    white_list: white_list.map(Box::new),
                    whitelist_source_range: Box::default(),
                    headers: headers.map(Box::new),
                    redirect: redirect.map(Box::new),
                    rate_limit: rate_limit.map(Box::new),
                    errors,
                    basic_auth,
                    auth: auth.map(Box::new),
                },
            )
    }

    fn configuration() -> impl Strategy<Value = Configuration> {
        let tls =
            (texts(), text(), maybe_text()).prop_map(|(entry_points, cert_file, key_file)| {
                TlsConfiguration {
                    entry_points,
                    certificate: Certificate {
                        cert_file,
                        key_file,
                    },
                }
            });
        (
            btree_map(name(), backend(), 0..3),
            btree_map(name(), frontend(), 0..3),
            vec(tls, 0..12),
        )
            .prop_map(|(backends, frontends, tls)| Configuration {
                backends,
                frontends,
                tls,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// What `trafik storeconfig` will write reads back as the same configuration,
        /// under either spelling of the prefix.
        #[test]
        fn encode_then_decode_is_the_identity(c in configuration()) {
            for prefix in ["/traefik", "traefik"] {
                let pairs = encode(prefix, &c);
                let d = decode(prefix, &pairs);
                prop_assert!(d.problems.is_empty(), "{:?}", d.problems);
                prop_assert_eq!(&d.configuration, &c);
            }
        }
    }
}
