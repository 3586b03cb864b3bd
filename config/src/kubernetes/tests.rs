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
