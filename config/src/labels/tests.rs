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
        ("backend.id", "x"),
        ("frontend.auth.forward.nope", "x"),
        ("frontend.passTLSClientCert.infos.subject.shoeSize", "true"),
        ("frontend.redirect.entryPoint", "https"),
    ]))
    .unwrap();
    assert_eq!(
        got.unsupported,
        [
            "backend.id",
            "frontend.auth.forward.nope",
            "frontend.passTLSClientCert.infos.subject.shoeSize",
            "port"
        ]
    );
    assert_eq!(got.frontend.redirect.unwrap().entry_point, "https");
}

#[test]
fn forward_auth_labels() {
    let got = decode(&labels(&[
        (
            "frontend.auth.forward.address",
            "https://auth.example.com/check",
        ),
        ("frontend.auth.forward.trustForwardHeader", "true"),
        (
            "frontend.auth.forward.authResponseHeaders",
            "X-User, X-Groups",
        ),
        ("frontend.auth.forward.tls.ca", "/certs/ca.pem"),
        ("frontend.auth.forward.tls.caOptional", "true"),
        ("frontend.auth.forward.tls.cert", "/certs/c.pem"),
        ("frontend.auth.forward.tls.key", "/certs/c.key"),
        ("frontend.auth.forward.tls.insecureSkipVerify", "true"),
        ("frontend.auth.headerField", "X-WebAuth-User"),
    ]))
    .unwrap();
    assert!(got.unsupported.is_empty(), "{:?}", got.unsupported);
    let auth = got.frontend.auth.unwrap();
    assert_eq!(auth.header_field, "X-WebAuth-User");
    let fw = auth.forward.unwrap();
    assert_eq!(fw.address, "https://auth.example.com/check");
    assert!(fw.trust_forward_header);
    assert_eq!(fw.auth_response_headers, ["X-User", "X-Groups"]);
    let tls = fw.tls.unwrap();
    assert_eq!(
        (tls.ca.as_str(), tls.cert.as_str(), tls.key.as_str()),
        ("/certs/ca.pem", "/certs/c.pem", "/certs/c.key")
    );
    assert!(tls.ca_optional && tls.insecure_skip_verify);
    assert!(auth.basic.is_none() && auth.digest.is_none());
}

#[test]
fn digest_and_basic_auth_labels() {
    let got = decode(&labels(&[
        (
            "frontend.auth.digest.users",
            "test:traefik:a2688e031edb4be6a3797f3882655c05,u2:r:h2",
        ),
        ("frontend.auth.digest.usersFile", "/etc/digest"),
        ("frontend.auth.digest.removeHeader", "true"),
        ("frontend.auth.basic", "a:$apr1$x"),
    ]))
    .unwrap();
    assert!(got.unsupported.is_empty(), "{:?}", got.unsupported);
    let auth = got.frontend.auth.unwrap();
    let digest = auth.digest.unwrap();
    assert_eq!(
        digest.users,
        ["test:traefik:a2688e031edb4be6a3797f3882655c05", "u2:r:h2"]
    );
    assert_eq!(digest.users_file, "/etc/digest");
    assert!(digest.remove_header);
    // v1.6's bare `frontend.auth.basic` still names the basic users.
    assert_eq!(auth.basic.unwrap().users, ["a:$apr1$x"]);
}

#[test]
fn pass_tls_client_cert_labels() {
    let got = decode(&labels(&[
        ("frontend.passTLSClientCert.pem", "true"),
        ("frontend.passTLSClientCert.infos.notAfter", "true"),
        ("frontend.passTLSClientCert.infos.notBefore", "false"),
        ("frontend.passTLSClientCert.infos.sans", "true"),
        (
            "frontend.passTLSClientCert.infos.subject.commonName",
            "true",
        ),
        (
            "frontend.passTLSClientCert.infos.subject.domainComponent",
            "true",
        ),
        (
            "frontend.passTLSClientCert.infos.issuer.organization",
            "true",
        ),
        (
            "frontend.passTLSClientCert.infos.issuer.serialNumber",
            "true",
        ),
    ]))
    .unwrap();
    assert!(got.unsupported.is_empty(), "{:?}", got.unsupported);
    let pass = got.frontend.pass_tls_client_cert.unwrap();
    assert!(pass.pem);
    let infos = pass.infos.unwrap();
    assert!(infos.not_after && !infos.not_before && infos.sans);
    let subject = infos.subject.unwrap();
    assert!(subject.common_name && subject.domain_component && !subject.country);
    let issuer = infos.issuer.unwrap();
    assert!(issuer.organization && issuer.serial_number && !issuer.common_name);
}

#[test]
fn health_check_headers_label() {
    let got = decode(&labels(&[
        ("backend.healthcheck.path", "/health"),
        (
            "backend.healthcheck.headers",
            "X-Probe:trafik||Host: internal.example",
        ),
    ]))
    .unwrap();
    let hc = got.backend.health_check.unwrap();
    assert_eq!(hc.headers["X-Probe"], "trafik");
    assert_eq!(hc.headers["Host"], "internal.example");
}

#[test]
fn bad_values_of_the_new_labels_name_them() {
    let e = decode(&labels(&[
        ("frontend.auth.forward.trustForwardHeader", "perhaps"),
        ("frontend.auth.digest.removeHeader", "2"),
        ("frontend.passTLSClientCert.pem", "yes please"),
        ("backend.healthcheck.path", "/h"),
        ("backend.healthcheck.headers", "no-colon"),
    ]))
    .unwrap_err();
    let named: Vec<&str> = e.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        named,
        [
            "backend.healthcheck.headers",
            "frontend.auth.digest.removeHeader",
            "frontend.auth.forward.trustForwardHeader",
            "frontend.passTLSClientCert.pem"
        ],
        "{e:?}"
    );
}
