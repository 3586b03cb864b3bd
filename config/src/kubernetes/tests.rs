//! The translation on recorded list answers (`testdata/*.json`, shaped as the API
//! reference documents `networking.k8s.io/v1` Ingress and IngressClass,
//! `discovery.k8s.io/v1` EndpointSlice, core/v1 Service, Endpoints and Secret).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::{List, ListableResource};
use serde::de::DeserializeOwned;

use super::*;

fn list<T: ListableResource + DeserializeOwned>(json: &str) -> Vec<T> {
    serde_json::from_str::<List<T>>(json).unwrap().items
}

fn cluster() -> Cluster {
    Cluster {
        ingresses: list(include_str!("testdata/ingresses.json")),
        ingress_classes: list(include_str!("testdata/ingressclasses.json")),
        services: list(include_str!("testdata/services.json")),
        endpoint_slices: list(include_str!("testdata/endpointslices.json")),
        endpoints: list(include_str!("testdata/endpoints.json")),
        secrets: list(include_str!("testdata/secrets.json")),
    }
}

/// The recorded Ingress `name`, alone in the cluster, with `annotations` added.
fn only(name: &str, annotations: &[(&str, &str)]) -> Cluster {
    let mut c = cluster();
    c.ingresses
        .retain(|i| i.metadata.name.as_deref() == Some(name));
    assert_eq!(c.ingresses.len(), 1, "{name} is recorded");
    let map = c.ingresses[0]
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    for (k, v) in annotations {
        map.insert(k.to_string(), v.to_string());
    }
    c
}

fn rules(out: &Translated, frontend: &str) -> BTreeMap<String, String> {
    out.configuration.frontends[frontend]
        .routes
        .iter()
        .map(|(k, r)| (k.clone(), r.rule.clone()))
        .collect()
}

fn urls(out: &Translated, backend: &str) -> Vec<(String, String)> {
    out.configuration.backends[backend]
        .servers
        .iter()
        .map(|(k, s)| (k.clone(), s.url.clone()))
        .collect()
}

#[test]
fn recorded_payloads_deserialize() {
    let c = cluster();
    assert_eq!(c.ingresses.len(), 4);
    assert_eq!(c.services.len(), 3);
    assert_eq!(c.endpoint_slices[0].endpoints.as_ref().unwrap().len(), 3);
    // Secret data is base64 in the JSON, bytes once read.
    let crt = &c.secrets[0].data.as_ref().unwrap()["tls.crt"].0;
    assert!(crt.starts_with(b"-----BEGIN CERTIFICATE-----"));
}

#[test]
fn rules_and_paths_become_v1_frontends() {
    let out = translate(&Settings::default(), &cluster());
    let names: Vec<_> = out.configuration.frontends.keys().cloned().collect();
    assert_eq!(
        names,
        [
            "*.apps.example.com/",
            "global-default-frontend",
            "missing.example.com/ok",
            "www.example.com/",
            "www.example.com/api",
            "www.example.com/health",
        ]
    );
    // pathType Prefix ⇒ PathPrefix, Exact ⇒ Path, ImplementationSpecific ⇒ rule-type
    // (default PathPrefix); the host route beside it, keyed as v1 keyed them.
    let r = rules(&out, "www.example.com/");
    assert_eq!(r["/"], "PathPrefix:/");
    assert_eq!(r["www.example.com"], "Host:www.example.com");
    assert_eq!(
        rules(&out, "www.example.com/health")["/health"],
        "Path:/health"
    );
    assert_eq!(
        rules(&out, "www.example.com/api")["/api"],
        "PathPrefix:/api"
    );
    assert_eq!(
        rules(&out, "*.apps.example.com/")["*.apps.example.com"],
        "HostRegexp:{subdomain:[A-Za-z0-9-_]+}.apps.example.com"
    );
    let f = &out.configuration.frontends["www.example.com/"];
    assert_eq!(f.backend, "www.example.com/");
    assert!(f.pass_host_header, "v1 passes the Host header by default");
    assert!(!f.pass_tls_cert);
    assert_eq!(f.priority, 0);
    assert_eq!(
        out.configuration.backends["www.example.com/"]
            .load_balancer
            .as_ref()
            .unwrap()
            .method,
        "wrr"
    );
}

#[test]
fn servers_come_from_ready_endpoint_slice_endpoints() {
    let out = translate(&Settings::default(), &cluster());
    // Port named `http` (→ slice port `http`, 8080); the terminating endpoint is left
    // out, the one without a readiness read as ready (the API's rule); named by pod.
    assert_eq!(
        urls(&out, "www.example.com/"),
        [
            (
                "web-5d8f7c9b4-abcde".to_string(),
                "http://10.244.1.5:8080".to_string()
            ),
            (
                "web-5d8f7c9b4-klmno".to_string(),
                "http://10.244.3.4:8080".to_string()
            ),
        ]
    );
    // Port by number (80) is the same port.
    assert_eq!(
        urls(&out, "www.example.com/health"),
        urls(&out, "www.example.com/")
    );
    assert_eq!(
        out.configuration.backends["www.example.com/"].servers["web-5d8f7c9b4-abcde"].weight,
        1
    );
}

#[test]
fn endpoints_are_read_when_a_service_has_no_slices() {
    let out = translate(&Settings::default(), &cluster());
    // `api` has no EndpointSlice: its Endpoints' ready addresses, unnamed port matched.
    assert_eq!(
        urls(&out, "www.example.com/api"),
        [(
            "api-7f6d5c4b3-aaaaa".to_string(),
            "http://10.244.1.20:9000".to_string()
        )]
    );
}

#[test]
fn external_name_service_is_one_server_and_https_by_port_name() {
    let out = translate(&Settings::default(), &cluster());
    assert_eq!(
        urls(&out, "*.apps.example.com/"),
        [(
            "https://backend.example.org:8443".to_string(),
            "https://backend.example.org:8443".to_string()
        )]
    );
}

#[test]
fn default_backend_is_the_global_catch_all_at_the_lowest_priority() {
    let out = translate(&Settings::default(), &cluster());
    let f = &out.configuration.frontends["global-default-frontend"];
    assert_eq!(f.backend, "global-default-backend");
    assert_eq!(rules(&out, "global-default-frontend")["/"], "PathPrefix:/");
    assert_eq!(f.priority, 1);
    assert!(
        out.configuration
            .frontends
            .values()
            .filter(|o| o.backend != "global-default-backend")
            .all(|o| o.effective_priority() > f.effective_priority())
    );
    assert_eq!(
        urls(&out, "global-default-backend").len(),
        2,
        "web's two ready pods"
    );
}

#[test]
fn missing_service_or_port_leaves_that_path_out_with_a_warning() {
    let out = translate(&Settings::default(), &only("missing", &[]));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let names: Vec<_> = out.configuration.frontends.keys().cloned().collect();
    assert_eq!(names, ["missing.example.com/ok"]);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("ingress default/missing")
                && w.contains("service default/nope does not exist")),
        "{:?}",
        out.warnings
    );
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("ingress default/missing")
                && w.contains("service default/web has no port grpc")),
        "{:?}",
        out.warnings
    );
    assert!(
        !out.configuration
            .backends
            .contains_key("missing.example.com/gone")
    );
}

#[test]
fn ingress_class_selection_follows_v1_and_ingress_classes() {
    let served = |settings: &Settings, name: &str, annotations: &[(&str, &str)]| {
        let c = only(name, annotations);
        class::is_ours(settings, &c.ingress_classes, &c.ingresses[0])
    };
    let empty = Settings::default();
    // spec.ingressClassName naming an IngressClass of trafik's controller.
    assert!(served(&empty, "web", &[]));
    // …of another controller.
    assert!(!served(&empty, "other-controller", &[]));
    // No class at all, v1's rule for an empty ingressClass.
    assert!(served(&empty, "missing", &[]));
    // The annotation: `traefik` with an empty ingressClass; it wins over the spec.
    assert!(served(&empty, "fallback", &[]));
    assert!(served(
        &empty,
        "other-controller",
        &[("kubernetes.io/ingress.class", "traefik")]
    ));
    assert!(!served(
        &empty,
        "missing",
        &[("kubernetes.io/ingress.class", "nginx")]
    ));
    let mine = Settings {
        ingress_class: "internal".to_string(),
        ..Settings::default()
    };
    // With ingressClass set: only that class, by annotation or name.
    assert!(!served(&mine, "missing", &[]));
    assert!(!served(&mine, "fallback", &[]));
    assert!(served(
        &mine,
        "missing",
        &[("kubernetes.io/ingress.class", "internal")]
    ));
    assert!(!served(&mine, "web", &[]), "class trafik is not `internal`");
    let mut c = only("web", &[]);
    c.ingresses[0].spec.as_mut().unwrap().ingress_class_name = Some("internal".into());
    assert!(class::is_ours(&mine, &c.ingress_classes, &c.ingresses[0]));
    // And the whole translation leaves other controllers' Ingresses alone.
    let out = translate(&Settings::default(), &cluster());
    assert!(
        !out.configuration
            .frontends
            .keys()
            .any(|k| k.starts_with("nginx.example.com"))
    );
}

#[test]
fn disable_pass_host_headers_and_preserve_host() {
    let settings = Settings {
        disable_pass_host_headers: true,
        enable_pass_tls_cert: true,
        ..Settings::default()
    };
    let out = translate(&settings, &only("missing", &[]));
    let f = &out.configuration.frontends["missing.example.com/ok"];
    assert!(!f.pass_host_header && f.pass_tls_cert);
    let out = translate(
        &settings,
        &only(
            "missing",
            &[("ingress.kubernetes.io/preserve-host", "true")],
        ),
    );
    assert!(out.configuration.frontends["missing.example.com/ok"].pass_host_header);
    // v1's `traefik.` prefixed form is read too.
    let out = translate(
        &Settings::default(),
        &only(
            "missing",
            &[("traefik.ingress.kubernetes.io/preserve-host", "false")],
        ),
    );
    assert!(!out.configuration.frontends["missing.example.com/ok"].pass_host_header);
}

#[test]
fn rule_type_priority_entry_points_and_protocol() {
    let out = translate(
        &Settings::default(),
        &only(
            "web",
            &[
                ("traefik.ingress.kubernetes.io/rule-type", "PathPrefixStrip"),
                ("ingress.kubernetes.io/priority", "10"),
                ("ingress.kubernetes.io/frontend-entry-points", "http, https"),
                ("ingress.kubernetes.io/protocol", "h2c"),
            ],
        ),
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    // v1's name: priority, then entry points, then host+path.
    let name = "10-http-https_www.example.com/api";
    let f = &out.configuration.frontends[name];
    assert_eq!(f.priority, 10);
    assert_eq!(f.entry_points, ["http", "https"]);
    // Only ImplementationSpecific follows rule-type.
    assert_eq!(rules(&out, name)["/api"], "PathPrefixStrip:/api");
    assert_eq!(
        rules(&out, "10-http-https_www.example.com/")["/"],
        "PathPrefix:/"
    );
    assert!(urls(&out, name)[0].1.starts_with("h2c://"));
}

#[test]
fn bad_core_annotations_leave_the_ingress_out_with_a_problem() {
    for (key, value) in [
        ("ingress.kubernetes.io/rule-type", "Host"),
        ("ingress.kubernetes.io/priority", "high"),
        ("ingress.kubernetes.io/preserve-host", "yes please"),
        ("ingress.kubernetes.io/protocol", "ftp"),
    ] {
        let out = translate(&Settings::default(), &only("missing", &[(key, value)]));
        assert!(out.configuration.frontends.is_empty(), "{key}");
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
        assert!(
            out.problems[0].starts_with(&format!("ingress default/missing: annotation {key}: ")),
            "{:?}",
            out.problems
        );
    }
}

#[test]
fn hostile_hosts_and_paths_never_reach_a_rule() {
    let mut c = only("missing", &[]);
    let spec = c.ingresses[0].spec.as_mut().unwrap();
    let rule = &mut spec.rules.as_mut().unwrap()[0];
    rule.http.as_mut().unwrap().paths[0].path = Some("/a;Host:evil.example".into());
    rule.http.as_mut().unwrap().paths[1].path = Some("relative".into());
    let out = translate(&Settings::default(), &c);
    assert_eq!(out.problems.len(), 2, "{:?}", out.problems);
    assert!(
        out.configuration
            .frontends
            .values()
            .flat_map(|f| f.routes.values())
            .all(|r| !r.rule.contains("evil"))
    );
    c.ingresses[0]
        .spec
        .as_mut()
        .unwrap()
        .rules
        .as_mut()
        .unwrap()[0]
        .host = Some("a.example.com,evil.example".into());
    let out = translate(&Settings::default(), &c);
    assert!(out.configuration.frontends.is_empty());
    assert!(
        out.problems[0].contains("is not a DNS name"),
        "{:?}",
        out.problems
    );
}

#[test]
fn ingresses_building_one_name_merge_as_v1() {
    let mut c = only("missing", &[]);
    let mut second: Ingress = c.ingresses[0].clone();
    second.metadata.name = Some("missing-too".into());
    c.ingresses.push(second);
    let out = translate(&Settings::default(), &c);
    assert_eq!(out.configuration.frontends.len(), 1);
    assert_eq!(urls(&out, "missing.example.com/ok").len(), 2);
}

#[test]
fn unknown_annotations_are_warned_about() {
    let out = translate(
        &Settings::default(),
        &only("missing", &[("ingress.kubernetes.io/made-up", "1")]),
    );
    assert!(out.problems.is_empty());
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("ingress.kubernetes.io/made-up")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn tls_secrets_become_inline_pem_certificates() {
    let out = translate(&Settings::default(), &cluster());
    assert_eq!(out.configuration.tls.len(), 1);
    let item = &out.configuration.tls[0];
    assert!(item.entry_points.is_empty(), "every TLS entry point");
    assert!(
        item.certificate
            .cert_file
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(
        item.certificate
            .key_file
            .contains("-----BEGIN PRIVATE KEY-----")
    );
    // Two Ingresses naming one Secret: one item, their entry points together.
    let mut c = only(
        "web",
        &[("ingress.kubernetes.io/frontend-entry-points", "https")],
    );
    let mut second = c.ingresses[0].clone();
    second.metadata.name = Some("web-admin".into());
    second.metadata.annotations.as_mut().unwrap().insert(
        "ingress.kubernetes.io/frontend-entry-points".into(),
        "admin".into(),
    );
    c.ingresses.push(second);
    let out = translate(&Settings::default(), &c);
    assert_eq!(out.configuration.tls.len(), 1);
    assert_eq!(out.configuration.tls[0].entry_points, ["admin", "https"]);
}

#[test]
fn missing_or_malformed_secret_is_a_problem_and_the_ingress_still_served() {
    for (secret, why) in [
        ("absent-tls", "does not exist"),
        ("broken-tls", "tls.crt is not PEM"),
        ("basic-users", "has no tls.crt"),
    ] {
        let mut c = only("web", &[]);
        c.ingresses[0].spec.as_mut().unwrap().tls.as_mut().unwrap()[0].secret_name =
            Some(secret.into());
        let out = translate(&Settings::default(), &c);
        assert!(out.configuration.tls.is_empty());
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
        assert!(
            out.problems[0].starts_with(&format!(
                "ingress default/web: secret default/{secret}: {why}"
            )),
            "{:?}",
            out.problems
        );
        assert!(out.configuration.frontends.contains_key("www.example.com/"));
    }
}

/// The frontend `missing.example.com/ok` of the Ingress `missing` with `annotations`.
fn annotated(annotations: &[(&str, &str)]) -> (Translated, Frontend) {
    let out = translate(&Settings::default(), &only("missing", annotations));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let f = out.configuration.frontends["missing.example.com/ok"].clone();
    (out, f)
}

use crate::model::Frontend;

#[test]
fn header_annotations_fill_the_frontend_headers() {
    let (_, f) = annotated(&[
        (
            "ingress.kubernetes.io/custom-request-headers",
            "X-Env:prod || X-Team:web",
        ),
        (
            "ingress.kubernetes.io/custom-response-headers",
            "X-Served-By:trafik",
        ),
        ("ingress.kubernetes.io/ssl-redirect", "true"),
        ("ingress.kubernetes.io/hsts-max-age", "31536000"),
        (
            "traefik.ingress.kubernetes.io/hsts-include-subdomains",
            "true",
        ),
        ("ingress.kubernetes.io/frame-deny", "true"),
        (
            "ingress.kubernetes.io/allowed-hosts",
            "a.example.com, b.example.com",
        ),
        (
            "ingress.kubernetes.io/ssl-proxy-headers",
            "X-Forwarded-Proto:https",
        ),
        ("ingress.kubernetes.io/referrer-policy", "same-origin"),
    ]);
    let h = f.headers.unwrap();
    assert_eq!(h.custom_request_headers["X-Env"], "prod");
    assert_eq!(h.custom_request_headers["X-Team"], "web");
    assert_eq!(h.custom_response_headers["X-Served-By"], "trafik");
    assert!(h.ssl_redirect && h.sts_include_subdomains && h.frame_deny);
    assert_eq!(h.sts_seconds, 31536000);
    assert_eq!(h.allowed_hosts, ["a.example.com", "b.example.com"]);
    assert_eq!(h.ssl_proxy_headers["X-Forwarded-Proto"], "https");
    assert_eq!(h.referrer_policy, "same-origin");
}

#[test]
fn redirect_annotations_as_v1() {
    let (_, f) = annotated(&[
        ("ingress.kubernetes.io/redirect-entry-point", "https"),
        ("ingress.kubernetes.io/redirect-permanent", "true"),
        // The entry point wins (v1).
        ("ingress.kubernetes.io/redirect-regex", "^http://(.*)"),
    ]);
    let r = f.redirect.unwrap();
    assert_eq!(r.entry_point, "https");
    assert!(r.permanent && r.regex.is_empty());
    let (_, f) = annotated(&[
        ("ingress.kubernetes.io/redirect-regex", "^http://old/(.*)"),
        (
            "ingress.kubernetes.io/redirect-replacement",
            "http://new/$1",
        ),
    ]);
    let r = f.redirect.unwrap();
    assert_eq!(
        (r.regex.as_str(), r.replacement.as_str(), r.permanent),
        ("^http://old/(.*)", "http://new/$1", false)
    );
}

#[test]
fn whitelist_rate_limit_error_pages_and_client_cert() {
    let (_, f) = annotated(&[
        (
            "ingress.kubernetes.io/whitelist-source-range",
            "10.0.0.0/8, 192.168.1.7",
        ),
        ("ingress.kubernetes.io/whitelist-x-forwarded-for", "true"),
        (
            "ingress.kubernetes.io/rate-limit",
            "extractorfunc: client.ip\nrateset:\n  bursty:\n    period: 3s\n    average: 6\n    burst: 9\n  steady:\n    period: 1m\n    average: 100\n    burst: 100\n",
        ),
        (
            "ingress.kubernetes.io/error-pages",
            "Foo:\n  status:\n  - \"404\"\n  - \"500-599\"\n  backend: errors\n  query: /{status}.html\n",
        ),
        (
            "ingress.kubernetes.io/pass-client-tls-cert",
            "pem: true\ninfos:\n  notafter: true\n  subject:\n    commonname: true\n",
        ),
    ]);
    let w = f.white_list.unwrap();
    assert_eq!(w.source_range, ["10.0.0.0/8", "192.168.1.7"]);
    assert!(w.use_x_forwarded_for);
    let rl = f.rate_limit.unwrap();
    assert_eq!(rl.extractor_func, "client.ip");
    let bursty = &rl.rate_set["bursty"];
    assert_eq!((bursty.average, bursty.burst), (6, 9));
    assert_eq!(bursty.period.unwrap().0, std::time::Duration::from_secs(3));
    assert_eq!(rl.rate_set["steady"].average, 100);
    // A page's name is the user's: its case is kept.
    let page = &f.errors["Foo"];
    assert_eq!(page.status, ["404", "500-599"]);
    assert_eq!(
        (page.backend.as_str(), page.query.as_str()),
        ("errors", "/{status}.html")
    );
    let pass = f.pass_tls_client_cert.unwrap();
    assert!(pass.pem);
    let infos = pass.infos.unwrap();
    assert!(infos.not_after && !infos.not_before);
    assert!(infos.subject.unwrap().common_name);
}

#[test]
fn path_modifiers_and_app_root() {
    let (out, _) = annotated(&[("ingress.kubernetes.io/rewrite-target", "/v2/")]);
    assert_eq!(
        rules(&out, "missing.example.com/ok")["/ok"],
        "PathPrefix:/ok;ReplacePathRegex: ^/ok(.*) /v2$1"
    );
    let (out, _) = annotated(&[(
        "ingress.kubernetes.io/request-modifier",
        "AddPrefix: /prefix",
    )]);
    assert_eq!(
        rules(&out, "missing.example.com/ok")["/ok"],
        "PathPrefix:/ok;AddPrefix:/prefix"
    );
    // app-root: the host's root redirected, on frontends of path `/` only.
    let mut c = only(
        "missing",
        &[
            ("ingress.kubernetes.io/app-root", "/app/index.html"),
            ("ingress.kubernetes.io/redirect-permanent", "true"),
        ],
    );
    c.ingresses[0]
        .spec
        .as_mut()
        .unwrap()
        .rules
        .as_mut()
        .unwrap()[0]
        .http
        .as_mut()
        .unwrap()
        .paths[2]
        .path = Some("/".into());
    let out = translate(&Settings::default(), &c);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let r = out.configuration.frontends["missing.example.com/"]
        .redirect
        .clone()
        .unwrap();
    let re = regex::Regex::new(&r.regex).unwrap();
    assert!(r.permanent);
    assert_eq!(
        re.replace("http://missing.example.com:8000/", r.replacement.as_str()),
        "http://missing.example.com:8000/app/index.html"
    );
    assert!(!re.is_match("http://missing.example.com/other/"));
    assert!(!re.is_match("http://missingxexample.com/"));
}

#[test]
fn service_weights_split_a_path_between_services() {
    let mut c = only(
        "missing",
        &[("ingress.kubernetes.io/service-weights", "web: 80%\n")],
    );
    let paths = &mut c.ingresses[0]
        .spec
        .as_mut()
        .unwrap()
        .rules
        .as_mut()
        .unwrap()[0]
        .http
        .as_mut()
        .unwrap()
        .paths;
    let mut canary = paths[2].clone();
    canary.backend.service.as_mut().unwrap().name = "api".into();
    canary
        .backend
        .service
        .as_mut()
        .unwrap()
        .port
        .as_mut()
        .unwrap()
        .number = Some(8000);
    paths.push(canary);
    let out = translate(&Settings::default(), &c);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let servers = &out.configuration.backends["missing.example.com/ok"].servers;
    // web's 80% over its two ready pods, api's 20% on its one (v1's units: 100% = 100000).
    assert_eq!(servers["web-5d8f7c9b4-abcde"].weight, 40_000);
    assert_eq!(servers["web-5d8f7c9b4-klmno"].weight, 40_000);
    assert_eq!(servers["api-7f6d5c4b3-aaaaa"].weight, 20_000);
}

#[test]
fn basic_digest_and_forward_auth() {
    let (_, f) = annotated(&[
        ("ingress.kubernetes.io/auth-type", "basic"),
        ("ingress.kubernetes.io/auth-secret", "basic-users"),
        ("ingress.kubernetes.io/auth-remove-header", "true"),
        ("ingress.kubernetes.io/auth-header-field", "X-User"),
    ]);
    let auth = f.auth.unwrap();
    let basic = auth.basic.unwrap();
    assert_eq!(basic.users.len(), 2);
    assert!(basic.users[0].starts_with("user1:$apr1$"));
    assert!(basic.remove_header);
    assert_eq!(auth.header_field, "X-User");
    let (_, f) = annotated(&[
        ("ingress.kubernetes.io/auth-type", "digest"),
        ("ingress.kubernetes.io/auth-secret", "basic-users"),
    ]);
    assert_eq!(f.auth.unwrap().digest.unwrap().users.len(), 2);
    let (_, f) = annotated(&[
        ("ingress.kubernetes.io/auth-type", "forward"),
        (
            "ingress.kubernetes.io/auth-url",
            "https://auth.example.com/check",
        ),
        ("ingress.kubernetes.io/auth-trust-headers", "true"),
        (
            "ingress.kubernetes.io/auth-response-headers",
            "X-Auth-User, X-Auth-Role",
        ),
        ("ingress.kubernetes.io/auth-tls-secret", "www-tls"),
        ("ingress.kubernetes.io/auth-tls-insecure", "true"),
    ]);
    let forward = f.auth.unwrap().forward.unwrap();
    assert_eq!(forward.address, "https://auth.example.com/check");
    assert!(forward.trust_forward_header);
    assert_eq!(
        forward.auth_response_headers,
        ["X-Auth-User", "X-Auth-Role"]
    );
    let tls = forward.tls.unwrap();
    assert!(tls.cert.starts_with("-----BEGIN CERTIFICATE-----") && tls.insecure_skip_verify);
}

#[test]
fn service_annotations_set_the_backend_options() {
    let mut c = only("missing", &[]);
    let web = c
        .services
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some("web"))
        .unwrap();
    web.metadata.annotations = Some(
        [
            ("ingress.kubernetes.io/load-balancer-method", "drr"),
            ("ingress.kubernetes.io/affinity", "true"),
            ("ingress.kubernetes.io/session-cookie-name", "sticky"),
            (
                "ingress.kubernetes.io/circuit-breaker-expression",
                "NetworkErrorRatio() > 0.5",
            ),
            ("ingress.kubernetes.io/max-conn-amount", "10"),
            ("ingress.kubernetes.io/max-conn-extractor-func", "client.ip"),
            (
                "ingress.kubernetes.io/buffering",
                "maxrequestbodybytes: 10485760\nmemrequestbodybytes: 2097152\nretryexpression: IsNetworkError() && Attempts() <= 2\n",
            ),
            ("ingress.kubernetes.io/responseforwarding-flushinterval", "10ms"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    let out = translate(&Settings::default(), &c);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let b = &out.configuration.backends["missing.example.com/ok"];
    let lb = b.load_balancer.as_ref().unwrap();
    assert_eq!(lb.method, "drr");
    assert_eq!(lb.stickiness.as_ref().unwrap().cookie_name, "sticky");
    assert_eq!(
        b.circuit_breaker.as_ref().unwrap().expression,
        "NetworkErrorRatio() > 0.5"
    );
    let mc = b.max_conn.as_ref().unwrap();
    assert_eq!((mc.amount, mc.extractor_func.as_str()), (10, "client.ip"));
    let buf = b.buffering.as_ref().unwrap();
    assert_eq!(buf.max_request_body_bytes, 10485760);
    assert_eq!(buf.retry_expression, "IsNetworkError() && Attempts() <= 2");
    assert_eq!(
        b.response_forwarding
            .as_ref()
            .unwrap()
            .flush_interval
            .unwrap()
            .0,
        std::time::Duration::from_millis(10)
    );
    assert_eq!(urls(&out, "missing.example.com/ok").len(), 2);
}

#[test]
fn service_expressions_are_checked_naming_the_annotation() {
    for (key, value) in [
        (
            "ingress.kubernetes.io/circuit-breaker-expression",
            "NetworkErrorRatio( >",
        ),
        (
            "ingress.kubernetes.io/buffering",
            "retryexpression: Attempts() <",
        ),
        (
            "ingress.kubernetes.io/max-conn-extractor-func",
            "client.port",
        ),
        ("ingress.kubernetes.io/affinity", "sometimes"),
    ] {
        let mut c = only("missing", &[]);
        let web = c
            .services
            .iter_mut()
            .find(|s| s.metadata.name.as_deref() == Some("web"))
            .unwrap();
        let extractor = if key.ends_with("extractor-func") {
            value
        } else {
            "client.ip"
        };
        web.metadata.annotations = Some(
            [
                (
                    "ingress.kubernetes.io/max-conn-amount".to_string(),
                    "5".to_string(),
                ),
                (
                    "ingress.kubernetes.io/max-conn-extractor-func".to_string(),
                    extractor.to_string(),
                ),
                (key.to_string(), value.to_string()),
            ]
            .into(),
        );
        let out = translate(&Settings::default(), &c);
        assert!(out.configuration.frontends.is_empty(), "{key}");
        assert_eq!(out.problems.len(), 1, "{key}: {:?}", out.problems);
        assert!(
            out.problems[0].starts_with(&format!(
                "ingress default/missing: service default/web: annotation {key}: "
            )),
            "{:?}",
            out.problems
        );
    }
}

#[test]
fn a_service_annotation_that_does_not_parse_leaves_its_paths_out() {
    let mut c = only("missing", &[]);
    let web = c
        .services
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some("web"))
        .unwrap();
    web.metadata.annotations = Some(
        [(
            "ingress.kubernetes.io/responseforwarding-flushinterval".to_string(),
            "soon".to_string(),
        )]
        .into(),
    );
    let out = translate(&Settings::default(), &c);
    assert!(out.configuration.frontends.is_empty());
    assert!(
        out.problems.iter().any(|p| p.starts_with(
            "ingress default/missing: service default/web: annotation \
             ingress.kubernetes.io/responseforwarding-flushinterval: "
        )),
        "{:?}",
        out.problems
    );
}

#[test]
fn annotations_that_do_not_parse_leave_the_ingress_out_naming_the_key() {
    for (key, value) in [
        ("ingress.kubernetes.io/hsts-max-age", "a year"),
        ("ingress.kubernetes.io/ssl-redirect", "si"),
        (
            "ingress.kubernetes.io/custom-request-headers",
            "no-colon-here",
        ),
        ("ingress.kubernetes.io/redirect-regex", "^(unclosed"),
        ("ingress.kubernetes.io/redirect-replacement", "http://x/"),
        (
            "ingress.kubernetes.io/rate-limit",
            "rateset:\n  a:\n    period: soon\n",
        ),
        ("ingress.kubernetes.io/rate-limit", "[not, a, mapping]"),
        ("ingress.kubernetes.io/error-pages", "x: [unclosed"),
        ("ingress.kubernetes.io/service-weights", "web: lots"),
        ("ingress.kubernetes.io/service-weights", "web: 120%"),
        ("ingress.kubernetes.io/request-modifier", "Path:/x"),
        ("ingress.kubernetes.io/rewrite-target", "/a;Host:evil"),
        ("ingress.kubernetes.io/auth-type", "kerberos"),
        ("ingress.kubernetes.io/auth-type", "basic"),
        ("ingress.kubernetes.io/auth-realm", "elsewhere"),
        ("ingress.kubernetes.io/whitelist-x-forwarded-for", "maybe"),
        (
            "ingress.kubernetes.io/whitelist-source-range",
            "10.0.0.0/8, intranet",
        ),
        (
            "ingress.kubernetes.io/whitelist-source-range",
            "10.0.0.0/33",
        ),
        ("ingress.kubernetes.io/pass-client-tls-cert", "pem: perhaps"),
        (
            "ingress.kubernetes.io/rate-limit",
            "extractorfunc: client.port\nrateset:\n  a:\n    period: 1s\n    average: 1\n    burst: 1\n",
        ),
    ] {
        let out = translate(&Settings::default(), &only("missing", &[(key, value)]));
        assert!(out.configuration.frontends.is_empty(), "{key}: {value}");
        assert!(!out.problems.is_empty(), "{key}: {value}");
        assert!(
            out.problems
                .iter()
                .all(|p| p.starts_with(&format!("ingress default/missing: annotation {key}: "))),
            "{key}: {value}: {:?}",
            out.problems
        );
    }
}

#[test]
fn auth_secrets_that_cannot_be_used_are_problems() {
    for (secret, why) in [
        ("absent", "does not exist"),
        ("www-tls", "no `auth` or `users` entry"),
    ] {
        let out = translate(
            &Settings::default(),
            &only(
                "missing",
                &[
                    ("ingress.kubernetes.io/auth-type", "basic"),
                    ("ingress.kubernetes.io/auth-secret", secret),
                ],
            ),
        );
        assert!(out.configuration.frontends.is_empty());
        assert!(
            out.problems[0].starts_with(
                "ingress default/missing: annotation ingress.kubernetes.io/auth-secret: "
            ) && out.problems[0].contains(why),
            "{:?}",
            out.problems
        );
    }
    let out = translate(
        &Settings::default(),
        &only(
            "missing",
            &[
                ("ingress.kubernetes.io/auth-type", "forward"),
                ("ingress.kubernetes.io/auth-url", "https://auth/"),
                ("ingress.kubernetes.io/auth-tls-secret", "broken-tls"),
            ],
        ),
    );
    assert!(out.configuration.frontends.is_empty());
    assert!(
        out.problems[0].contains("tls.crt is not PEM"),
        "{:?}",
        out.problems
    );
}

#[test]
fn the_translation_passes_the_dynamic_configuration_checks() {
    // What the aggregator will check: rules parse, server URLs, entry points, regexes.
    let entry_points: std::collections::BTreeSet<String> =
        ["http".to_string(), "https".to_string()].into();
    let default_entry_points = ["http".to_string()];
    let ctx = crate::DynamicContext {
        entry_points: &entry_points,
        default_entry_points: &default_entry_points,
    };
    let check = |out: &Translated| {
        let v = crate::validate_dynamic(&out.configuration, &ctx);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.config.frontends.len(), out.configuration.frontends.len());
        // And every frontend's rules compile as the router compiles them.
        for (name, f) in &out.configuration.frontends {
            let rules: Vec<&str> = f.routes.values().map(|r| r.rule.as_str()).collect();
            let compiled = crate::rule::FrontendRule::compile(&rules, &Default::default());
            assert!(compiled.is_ok(), "{name}: {rules:?}: {:?}", compiled.err());
        }
    };
    check(&translate(&Settings::default(), &cluster()));
    for annotations in [
        &[
            ("ingress.kubernetes.io/rule-type", "PathPrefixStrip"),
            ("ingress.kubernetes.io/rewrite-target", "/v2"),
            ("ingress.kubernetes.io/frontend-entry-points", "https"),
            ("ingress.kubernetes.io/priority", "7"),
        ][..],
        &[(
            "ingress.kubernetes.io/request-modifier",
            "ReplacePathRegex: ^/api/(.*) /$1",
        )],
        &[("ingress.kubernetes.io/app-root", "/app")],
        &[("ingress.kubernetes.io/rule-type", "ReplacePath")],
    ] {
        let mut c = cluster();
        for i in &mut c.ingresses {
            let map = i.metadata.annotations.get_or_insert_with(BTreeMap::new);
            for (k, v) in annotations {
                map.insert(k.to_string(), v.to_string());
            }
        }
        let out = translate(&Settings::default(), &c);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        check(&out);
    }
}

/// A cluster of `n` Ingresses, each with its own Service, slice of 3 ready pods and host.
fn large(n: usize) -> Cluster {
    let base = cluster();
    let mut c = Cluster {
        ingress_classes: base.ingress_classes.clone(),
        ..Cluster::default()
    };
    let ingress = only("missing", &[]).ingresses[0].clone();
    let service = base.services[0].clone();
    let slice = base.endpoint_slices[0].clone();
    for i in 0..n {
        let name = format!("app-{i}");
        let mut ing = ingress.clone();
        ing.metadata.name = Some(name.clone());
        let rule = &mut ing.spec.as_mut().unwrap().rules.as_mut().unwrap()[0];
        rule.host = Some(format!("{name}.example.com"));
        for p in &mut rule.http.as_mut().unwrap().paths {
            p.backend.service.as_mut().unwrap().name = name.clone();
            p.backend
                .service
                .as_mut()
                .unwrap()
                .port
                .as_mut()
                .unwrap()
                .name = None;
            p.backend
                .service
                .as_mut()
                .unwrap()
                .port
                .as_mut()
                .unwrap()
                .number = Some(80);
        }
        c.ingresses.push(ing);
        let mut svc = service.clone();
        svc.metadata.name = Some(name.clone());
        c.services.push(svc);
        let mut s = slice.clone();
        s.metadata.name = Some(format!("{name}-abcde"));
        s.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("kubernetes.io/service-name".into(), name);
        c.endpoint_slices.push(s);
    }
    c
}

#[test]
fn a_large_cluster_translates_whole() {
    let c = large(2000);
    let started = std::time::Instant::now();
    let out = translate(&Settings::default(), &c);
    // Printed for the README's measurement; never asserted (a loaded machine varies).
    eprintln!("2000 Ingresses translated in {:?}", started.elapsed());
    assert!(out.problems.is_empty(), "{:?}", &out.problems[..1]);
    // Three paths each: /gone, /badport and /ok all name the Ingress's own Service now.
    assert_eq!(out.configuration.frontends.len(), 6000);
    assert!(
        out.configuration
            .backends
            .values()
            .all(|b| b.servers.len() == 2)
    );
}

#[test]
fn annotations_that_do_nothing_are_warned_about_once() {
    let mut c = only(
        "missing",
        &[("ingress.kubernetes.io/auth-secret", "basic-users")],
    );
    let web = c
        .services
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some("web"))
        .unwrap();
    web.metadata.annotations = Some(
        [
            (
                "ingress.kubernetes.io/rule-type".to_string(),
                "Path".to_string(),
            ),
            (
                "ingress.kubernetes.io/session-cookie-name".to_string(),
                "c".to_string(),
            ),
        ]
        .into(),
    );
    let out = translate(&Settings::default(), &c);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let about = |needle: &str| out.warnings.iter().filter(|w| w.contains(needle)).count();
    assert_eq!(
        about("auth-secret does nothing without"),
        1,
        "{:?}",
        out.warnings
    );
    // On the Service: named once, though two paths name it.
    assert_eq!(
        about("rule-type is not read on Services"),
        1,
        "{:?}",
        out.warnings
    );
    assert_eq!(
        about("session-cookie-name: without"),
        1,
        "{:?}",
        out.warnings
    );
}

#[test]
fn slice_addresses_ipv6_target_ports_and_hostile_addresses() {
    let mut c = only("missing", &[]);
    let slice = &mut c.endpoint_slices[0];
    // The slice's port named otherwise than the Service's: matched by the numeric
    // targetPort (8080).
    slice.ports.as_mut().unwrap()[0].name = Some("other".into());
    let endpoints = slice.endpoints.as_mut().unwrap();
    endpoints[0].addresses = vec!["fd00::5".into()];
    endpoints[2].addresses = vec!["10.0.0.9/evil?".into()];
    let out = translate(&Settings::default(), &c);
    assert_eq!(
        urls(&out, "missing.example.com/ok"),
        [(
            "web-5d8f7c9b4-abcde".to_string(),
            "http://[fd00::5]:8080".to_string()
        )]
    );
}

#[test]
fn objects_with_nothing_set_do_not_panic() {
    use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints, Secret, Service, ServiceSpec};
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
    use k8s_openapi::api::networking::v1::{
        HTTPIngressPath, HTTPIngressRuleValue, IngressBackend, IngressRule, IngressServiceBackend,
        IngressSpec, IngressTLS,
    };
    let empty_path = HTTPIngressPath {
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: String::new(),
                port: None,
            }),
            resource: None,
        },
        path: None,
        path_type: String::new(),
    };
    let c = Cluster {
        ingresses: vec![
            Ingress::default(),
            Ingress {
                spec: Some(IngressSpec {
                    default_backend: Some(IngressBackend::default()),
                    rules: Some(vec![
                        IngressRule::default(),
                        IngressRule {
                            host: None,
                            http: Some(HTTPIngressRuleValue {
                                paths: vec![empty_path],
                            }),
                        },
                    ]),
                    tls: Some(vec![IngressTLS::default()]),
                    ..IngressSpec::default()
                }),
                ..Ingress::default()
            },
        ],
        ingress_classes: vec![Default::default()],
        services: vec![
            Service::default(),
            Service {
                spec: Some(ServiceSpec::default()),
                ..Service::default()
            },
        ],
        endpoint_slices: vec![
            EndpointSlice::default(),
            EndpointSlice {
                endpoints: Some(vec![Endpoint::default()]),
                ..EndpointSlice::default()
            },
        ],
        endpoints: vec![Endpoints {
            subsets: Some(vec![EndpointSubset::default()]),
            ..Endpoints::default()
        }],
        secrets: vec![Secret::default()],
    };
    let out = translate(&Settings::default(), &c);
    assert!(out.configuration.frontends.is_empty());
    assert!(!out.warnings.is_empty(), "the missing Service is named");
}

#[test]
fn a_default_ingress_class_of_trafiks_serves_classless_ingresses() {
    let mine = Settings {
        ingress_class: "internal".to_string(),
        ..Settings::default()
    };
    let mut c = only("missing", &[]);
    assert!(!class::is_ours(&mine, &c.ingress_classes, &c.ingresses[0]));
    let mut default = c.ingress_classes[0].clone();
    default.metadata.name = Some("internal".into());
    default.metadata.annotations = Some(
        [(
            "ingressclass.kubernetes.io/is-default-class".to_string(),
            "true".to_string(),
        )]
        .into(),
    );
    c.ingress_classes.push(default);
    assert!(class::is_ours(&mine, &c.ingress_classes, &c.ingresses[0]));
    // Not when the default class is another controller's.
    c.ingress_classes[2].spec.as_mut().unwrap().controller = Some("k8s.io/ingress-nginx".into());
    assert!(!class::is_ours(&mine, &c.ingress_classes, &c.ingresses[0]));
}
