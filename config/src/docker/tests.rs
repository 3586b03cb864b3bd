use super::*;

const WEB: &str = include_str!("testdata/inspect_web.json");

fn web() -> Container {
    parse_inspect(WEB.as_bytes()).unwrap()
}

fn settings() -> Settings {
    Settings {
        exposed_by_default: true,
        ..Settings::default()
    }
}

fn with_labels(name: &str, labels: &[(&str, &str)]) -> Container {
    let mut c = web();
    c.name = name.to_string();
    c.labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c
}

#[test]
fn recorded_inspect_is_read() {
    let c = web();
    assert_eq!(c.name, "web");
    assert!(c.running);
    assert_eq!(c.health, None);
    assert_eq!(c.network_mode, "default");
    assert_eq!(c.networks.get("bridge").unwrap(), "172.17.0.2");
    assert_eq!(c.ports.len(), 2);
    assert_eq!(c.ports[0].port, 80);
    assert_eq!(
        c.ports[0].bindings,
        vec![("127.0.0.1".to_string(), "32768".to_string())]
    );
    assert!(c.ports[1].bindings.is_empty());
}

#[test]
fn malformed_answers_are_errors() {
    assert!(parse_inspect(b"[]").is_err());
    assert!(parse_inspect(b"{\"Name\": \"/x\"}").is_err(), "no Id");
    assert!(parse_inspect(b"{\"Id\": \"x\", \"State\": 3}").is_err());
    let bad_port = r#"{"Id": "x", "NetworkSettings": {"Ports": {"http/tcp": null}}}"#;
    assert!(parse_inspect(bad_port.as_bytes()).is_err());
}

#[test]
fn labelled_container_gets_v1_names() {
    let out = translate(&settings(), &[web()]);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let backend = &out.configuration.backends["backend-web"];
    let url = "http://172.17.0.2:80";
    let server = format!("server-web-{}", md5_hex(url));
    assert_eq!(backend.servers[&server].url, url);
    assert_eq!(backend.servers[&server].weight, 1);
    assert_eq!(
        backend.load_balancer.as_ref().unwrap().method.to_string(),
        "drr"
    );
    let frontend = &out.configuration.frontends["frontend-Host-web-example-com-0"];
    assert_eq!(frontend.backend, "backend-web");
    assert_eq!(frontend.entry_points, vec!["http".to_string()]);
    assert!(frontend.pass_host_header, "v1's Docker default");
    assert_eq!(
        frontend.routes["route-frontend-Host-web-example-com-0"].rule,
        "Host:web.example.com"
    );
}

#[test]
fn default_rule_from_domain_and_compose() {
    let mut s = settings();
    let plain = with_labels("my_app", &[]);
    assert!(
        translate(&s, std::slice::from_ref(&plain))
            .configuration
            .frontends
            .is_empty(),
        "no rule and no domain: not served"
    );
    s.domain = "docker.localhost".to_string();
    let out = translate(&s, &[plain]);
    let f = &out.configuration.frontends["frontend-Host-my-app-docker-localhost-0"];
    assert_eq!(
        f.routes.values().next().unwrap().rule,
        "Host:my-app.docker.localhost"
    );
    let compose = with_labels(
        "proj_whoami_1",
        &[
            ("com.docker.compose.project", "proj"),
            ("com.docker.compose.service", "whoami"),
        ],
    );
    let out = translate(&s, &[compose]);
    assert!(
        out.configuration
            .backends
            .contains_key("backend-whoami-proj")
    );
    let f = &out.configuration.frontends["frontend-Host-whoami-proj-docker-localhost-0"];
    assert_eq!(
        f.routes.values().next().unwrap().rule,
        "Host:whoami.proj.docker.localhost"
    );
}

#[test]
fn port_protocol_weight_backend() {
    let c = with_labels(
        "api",
        &[
            ("traefik.port", "443"),
            ("traefik.protocol", "https"),
            ("traefik.weight", "7"),
            ("traefik.backend", "shared api"),
            ("traefik.frontend.rule", "PathPrefix:/api"),
        ],
    );
    let out = translate(&settings(), &[c]);
    let b = &out.configuration.backends["backend-shared-api"];
    let s = b.servers.values().next().unwrap();
    assert_eq!(s.url, "https://172.17.0.2:443");
    assert_eq!(s.weight, 7);
}

#[test]
fn scaled_service_shares_backend_and_frontend() {
    let labels = [
        ("com.docker.compose.project", "p"),
        ("com.docker.compose.service", "s"),
        ("traefik.frontend.rule", "Host:s"),
    ];
    let a = with_labels("p_s_1", &labels);
    let mut b = with_labels("p_s_2", &labels);
    b.networks
        .insert("bridge".to_string(), "172.17.0.3".to_string());
    let out = translate(&settings(), &[a, b]);
    assert_eq!(out.configuration.frontends.len(), 1);
    assert_eq!(out.configuration.backends["backend-s-p"].servers.len(), 2);
}

#[test]
fn exposed_by_default_false_needs_enable() {
    let s = Settings {
        exposed_by_default: false,
        ..settings()
    };
    assert!(translate(&s, &[web()]).configuration.backends.is_empty());
    let mut c = web();
    c.labels
        .insert("traefik.enable".to_string(), "true".to_string());
    assert_eq!(translate(&s, &[c]).configuration.backends.len(), 1);
    let mut off = web();
    off.labels
        .insert("traefik.enable".to_string(), "false".to_string());
    assert!(
        translate(&settings(), &[off])
            .configuration
            .backends
            .is_empty()
    );
}

#[test]
fn only_running_and_healthy() {
    let mut stopped = web();
    stopped.running = false;
    let mut unhealthy = with_labels("sick", &[("traefik.frontend.rule", "Host:sick")]);
    unhealthy.health = Some("unhealthy".to_string());
    let mut starting = with_labels("new", &[("traefik.frontend.rule", "Host:new")]);
    starting.health = Some("starting".to_string());
    let mut healthy = with_labels("fine", &[("traefik.frontend.rule", "Host:fine")]);
    healthy.health = Some("healthy".to_string());
    let out = translate(&settings(), &[stopped, unhealthy, starting, healthy]);
    let names: Vec<_> = out.configuration.backends.keys().collect();
    assert_eq!(names, vec!["backend-fine"]);
}

#[test]
fn addresses_network_host_and_bound_port() {
    let mut c = with_labels(
        "multi",
        &[
            ("traefik.frontend.rule", "Host:m"),
            ("traefik.docker.network", "back"),
        ],
    );
    c.networks
        .insert("back".to_string(), "10.9.0.5".to_string());
    let url = |s: &Settings, c: &Container| {
        translate(s, std::slice::from_ref(c))
            .configuration
            .backends
            .values()
            .next()
            .unwrap()
            .servers
            .values()
            .next()
            .unwrap()
            .url
            .clone()
    };
    assert_eq!(url(&settings(), &c), "http://10.9.0.5:80");
    c.labels.remove("traefik.docker.network");
    let s = Settings {
        network: "back".to_string(),
        ..settings()
    };
    assert_eq!(url(&s, &c), "http://10.9.0.5:80", "[docker] network");
    let bound = Settings {
        use_bind_port_ip: true,
        ..settings()
    };
    assert_eq!(url(&bound, &c), "http://127.0.0.1:32768");
    let mut host = with_labels("h", &[("traefik.frontend.rule", "Host:h")]);
    host.network_mode = "host".to_string();
    host.networks = BTreeMap::from([("host".to_string(), String::new())]);
    assert_eq!(url(&settings(), &host), "http://127.0.0.1:80");
}

#[test]
fn segments_make_one_backend_and_frontend_each() {
    let c = with_labels(
        "two",
        &[
            ("traefik.web.port", "80"),
            ("traefik.web.frontend.rule", "Host:web"),
            ("traefik.admin.port", "443"),
            ("traefik.admin.frontend.rule", "Host:admin"),
            ("traefik.frontend.entryPoints", "http"),
        ],
    );
    let out = translate(&settings(), &[c]);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let b = &out.configuration.backends;
    assert_eq!(
        b["backend-two-web"].servers.values().next().unwrap().url,
        "http://172.17.0.2:80"
    );
    assert_eq!(
        b["backend-two-admin"].servers.values().next().unwrap().url,
        "http://172.17.0.2:443"
    );
    let f = &out.configuration.frontends["frontend-admin-two-admin"];
    assert_eq!(f.backend, "backend-two-admin");
    assert_eq!(
        f.entry_points,
        vec!["http".to_string()],
        "root label default"
    );
    assert_eq!(f.routes.values().next().unwrap().rule, "Host:admin");
}

#[test]
fn auth_and_client_cert_labels_in_a_segment_and_at_the_root() {
    let c = with_labels(
        "two",
        &[
            ("traefik.web.port", "80"),
            ("traefik.web.frontend.rule", "Host:web"),
            (
                "traefik.web.frontend.auth.forward.address",
                "http://auth:4181",
            ),
            (
                "traefik.web.frontend.auth.forward.authResponseHeaders",
                "X-User",
            ),
            ("traefik.admin.port", "443"),
            ("traefik.admin.frontend.rule", "Host:admin"),
            ("traefik.admin.frontend.auth.digest.users", "u:r:h"),
            ("traefik.frontend.passTLSClientCert.pem", "true"),
            ("traefik.backend.healthcheck.path", "/h"),
            ("traefik.backend.healthcheck.headers", "X-Probe:1"),
        ],
    );
    let out = translate(&settings(), &[c]);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let f = &out.configuration.frontends;
    let web = f["frontend-web-two-web"].auth.as_ref().unwrap();
    let fw = web.forward.as_ref().unwrap();
    assert_eq!(fw.address, "http://auth:4181");
    assert_eq!(fw.auth_response_headers, ["X-User"]);
    assert!(web.digest.is_none());
    let admin = &f["frontend-admin-two-admin"];
    assert_eq!(
        admin.auth.as_ref().unwrap().digest.as_ref().unwrap().users,
        ["u:r:h"]
    );
    // Root labels are every segment's defaults.
    assert!(admin.pass_tls_client_cert.as_ref().unwrap().pem);
    assert!(
        f["frontend-web-two-web"]
            .pass_tls_client_cert
            .as_ref()
            .unwrap()
            .pem
    );
    let hc = out.configuration.backends["backend-two-web"]
        .health_check
        .clone()
        .unwrap();
    assert_eq!(hc.headers["X-Probe"], "1");
}

#[test]
fn bad_labels_skip_the_container_naming_it() {
    let bad_port = with_labels("a", &[("traefik.port", "abc")]);
    let bad_rule = with_labels("b", &[("traefik.frontend.rule", "Hots:x")]);
    let bad_option = with_labels(
        "c",
        &[
            ("traefik.frontend.rule", "Host:c"),
            ("traefik.frontend.priority", "high"),
        ],
    );
    let good = with_labels("d", &[("traefik.frontend.rule", "Host:d")]);
    let out = translate(&settings(), &[bad_port, bad_rule, bad_option, good]);
    assert_eq!(
        out.configuration.backends.keys().collect::<Vec<_>>(),
        vec!["backend-d"]
    );
    assert_eq!(out.problems.len(), 3, "{:?}", out.problems);
    assert!(out.problems[0].starts_with("container a: label traefik.port: invalid port \"abc\""));
    assert!(out.problems[1].starts_with("container b: label traefik.frontend.rule:"));
    assert!(out.problems[2].starts_with("container c: label traefik.frontend.priority:"));
    assert!(
        out.problems
            .iter()
            .all(|p| p.ends_with("container left out"))
    );
}

#[test]
fn normalize_is_v1s() {
    assert_eq!(
        normalize("Host:web.example.com-0"),
        "Host-web-example-com-0"
    );
    assert_eq!(normalize("/a__b--c/"), "a-b-c");
}

#[test]
fn thousand_containers_translate() {
    let containers: Vec<Container> = (0..1000)
        .map(|i| {
            let mut c = with_labels(
                &format!("svc{i}"),
                &[
                    ("traefik.frontend.rule", "Host:x.example.com"),
                    ("traefik.backend.loadbalancer.method", "drr"),
                ],
            );
            c.labels.insert(
                "traefik.frontend.rule".to_string(),
                format!("Host:svc{i}.example.com"),
            );
            c
        })
        .collect();
    let out = translate(&settings(), &containers);
    assert_eq!(out.configuration.backends.len(), 1000);
    assert_eq!(out.configuration.frontends.len(), 1000);
}

#[test]
fn constraints_filter_on_traefik_tags() {
    let s = Settings {
        constraints: vec![
            crate::constraints::parse("tag==api").unwrap(),
            crate::constraints::parse("tag!=*-beta").unwrap(),
        ],
        ..settings()
    };
    let api = with_labels(
        "api",
        &[
            ("traefik.frontend.rule", "Host:a"),
            ("traefik.tags", "web, api"),
        ],
    );
    let beta = with_labels(
        "beta",
        &[
            ("traefik.frontend.rule", "Host:b"),
            ("traefik.tags", "api,v2-beta"),
        ],
    );
    let untagged = with_labels("untagged", &[("traefik.frontend.rule", "Host:u")]);
    let out = translate(&s, &[api, beta, untagged]);
    assert_eq!(
        out.configuration.backends.keys().collect::<Vec<_>>(),
        vec!["backend-api"]
    );
}

#[test]
fn a_container_in_anothers_network_is_reached_on_its_addresses() {
    let owner = web();
    let mut sidecar = with_labels("sidecar", &[("traefik.frontend.rule", "Host:side")]);
    sidecar.network_mode = format!("container:{}", &owner.id[..12]);
    sidecar.networks.clear();
    let mut by_name = sidecar.clone();
    by_name.name = "sidecar2".to_string();
    by_name.network_mode = "container:web".to_string();
    let mut orphan = sidecar.clone();
    orphan.name = "orphan".to_string();
    orphan.network_mode = "container:gone".to_string();
    let mut all = vec![owner, sidecar, by_name, orphan];
    share_networks(&mut all);
    assert_eq!(all[1].networks.get("bridge").unwrap(), "172.17.0.2");
    assert_eq!(all[2].networks.get("bridge").unwrap(), "172.17.0.2");
    assert!(all[3].networks.is_empty());
    let out = translate(&settings(), &all);
    assert!(out.configuration.backends.contains_key("backend-sidecar"));
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    assert!(out.problems[0].starts_with("container orphan: no address"));
}
