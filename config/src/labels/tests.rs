use std::collections::BTreeMap;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn v1_labels_fill_the_backend_and_frontend() {
    let got = decode(&labels(&[
        ("enable", "true"),
        ("frontend.rule", "Host:api.example.com"),
        ("frontend.entryPoints", "http,https"),
        ("frontend.passHostHeader", "false"),
        ("frontend.priority", "10"),
        ("frontend.whiteList.sourceRange", "10.0.0.0/8"),
        ("frontend.headers.customResponseHeaders", "X-A:1||X-B: two"),
        ("frontend.headers.SSLRedirect", "true"),
        ("backend.loadbalancer.method", "drr"),
        ("backend.loadbalancer.stickiness", "true"),
        ("backend.circuitbreaker", "NetworkErrorRatio() > 0.5"),
        ("backend.maxconn.amount", "10"),
        ("backend.maxconn.extractorfunc", "client.ip"),
        ("backend.healthcheck.path", "/health"),
        ("backend.healthcheck.interval", "5s"),
    ]))
    .unwrap();
    assert_eq!(got.enable, Some(true));
    assert_eq!(got.rule.as_deref(), Some("Host:api.example.com"));
    assert_eq!(got.frontend.entry_points, ["http", "https"]);
    assert!(!got.frontend.pass_host_header);
    assert_eq!(got.frontend.priority, 10);
    assert_eq!(got.frontend.backend, "");
    assert!(got.frontend.routes.is_empty());
    let wl = got.frontend.white_list.unwrap();
    assert_eq!(wl.source_range, ["10.0.0.0/8"]);
    let h = got.frontend.headers.unwrap();
    assert_eq!(h.custom_response_headers["X-A"], "1");
    assert_eq!(h.custom_response_headers["X-B"], "two");
    assert!(h.ssl_redirect);
    let lb = got.backend.load_balancer.unwrap();
    assert_eq!(lb.method, "drr");
    assert!(lb.stickiness.is_some());
    assert_eq!(
        got.backend.circuit_breaker.unwrap().expression,
        "NetworkErrorRatio() > 0.5"
    );
    let mc = got.backend.max_conn.unwrap();
    assert_eq!((mc.amount, mc.extractor_func.as_str()), (10, "client.ip"));
    assert_eq!(got.backend.health_check.unwrap().path, "/health");
    assert!(got.backend.servers.is_empty());
    assert!(got.unsupported.is_empty(), "{:?}", got.unsupported);
}

#[test]
fn no_labels_give_v1_defaults() {
    let got = decode(&BTreeMap::new()).unwrap();
    assert_eq!(got.enable, None);
    assert_eq!(got.rule, None);
    // v1's labels default passHostHeader to true, as the key-value layout does.
    assert!(got.frontend.pass_host_header);
    assert!(got.backend.load_balancer.is_none());
}

#[test]
fn bad_values_name_their_labels() {
    let e = decode(&labels(&[
        ("frontend.priority", "high"),
        ("enable", "maybe"),
        ("frontend.headers.customRequestHeaders", "no-colon-here"),
        ("backend.maxconn.amount", "lots"),
        ("frontend.entryPoints", "http"),
    ]))
    .unwrap_err();
    let named: Vec<&str> = e.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        named,
        [
            "backend.maxconn.amount",
            "enable",
            "frontend.headers.customRequestHeaders",
            "frontend.priority"
        ],
        "{e:?}"
    );
    assert!(e.iter().all(|p| !p.message.is_empty()));
    assert!(e[3].message.contains("high"), "{e:?}");
}

#[test]
fn labels_not_read_are_listed() {
    let got = decode(&labels(&[
        ("port", "8080"),
        ("frontend.auth.forward.address", "http://auth"),
        ("frontend.redirect.entryPoint", "https"),
    ]))
    .unwrap();
    assert_eq!(got.unsupported, ["frontend.auth.forward.address", "port"]);
    assert_eq!(got.frontend.redirect.unwrap().entry_point, "https");
}
