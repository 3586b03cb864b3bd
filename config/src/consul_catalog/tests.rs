//! On payloads shaped as Consul's API documentation shows them.

use std::collections::BTreeMap;

use super::*;

const SERVICES: &str = r#"{
  "consul": [],
  "web": ["traefik.frontend.entryPoints=http", "v1"],
  "api": ["traefik.frontend.rule=PathPrefix:/api", "traefik.backend.loadbalancer.method=drr"],
  "hidden": ["traefik.enable=false"],
  "broken": ["traefik.frontend.priority=high"],
  "nochecks": null
}"#;

/// `/v1/health/service/web`: two instances, one with a failing check.
const WEB_HEALTH: &str = r#"[
  {
    "Node": {"ID": "40e4a748", "Node": "foobar", "Address": "10.1.10.12", "Datacenter": "dc1"},
    "Service": {"ID": "web1", "Service": "web", "Tags": ["traefik.weight=5"], "Address": "",
                "Port": 8080, "Meta": null},
    "Checks": [
      {"Node": "foobar", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
       "ServiceID": "", "ServiceName": ""},
      {"Node": "foobar", "CheckID": "service:web1", "Name": "web", "Status": "passing",
       "ServiceID": "web1", "ServiceName": "web"}
    ]
  },
  {
    "Node": {"ID": "50e4a748", "Node": "baz", "Address": "10.1.10.13", "Datacenter": "dc1"},
    "Service": {"ID": "web2", "Service": "web", "Tags": [], "Address": "10.1.10.99", "Port": 8081},
    "Checks": [
      {"Node": "baz", "CheckID": "service:web2", "Status": "critical"}
    ]
  }
]"#;

fn settings(exposed_by_default: bool) -> Settings {
    Settings {
        prefix: "traefik".into(),
        exposed_by_default,
        domain: "example.com".into(),
        front_end_rule: RuleTemplate::parse("Host:{{.ServiceName}}.{{.Domain}}").unwrap(),
        strict_checks: true,
    }
}

fn instance(id: &str, address: &str, port: u16, tags: &[&str], checks: &[&str]) -> Instance {
    Instance {
        node: "n1".into(),
        node_address: "10.0.0.1".into(),
        id: id.into(),
        address: address.into(),
        port,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        checks: checks.iter().map(|c| c.to_string()).collect(),
    }
}

fn catalog() -> BTreeMap<String, ServiceState> {
    let services = parse_services(SERVICES.as_bytes()).unwrap();
    let mut out = BTreeMap::new();
    for (name, tags) in services {
        let instances = match name.as_str() {
            "web" => parse_health(WEB_HEALTH.as_bytes()).unwrap(),
            "consul" => vec![],
            _ => vec![instance(
                &format!("{name}1"),
                "127.0.0.1",
                9000,
                &[],
                &["passing"],
            )],
        };
        out.insert(name, ServiceState { tags, instances });
    }
    out
}

#[test]
fn recorded_payloads_parse() {
    let services = parse_services(SERVICES.as_bytes()).unwrap();
    assert_eq!(services["web"], ["traefik.frontend.entryPoints=http", "v1"]);
    assert!(services["nochecks"].is_empty());
    let web = parse_health(WEB_HEALTH.as_bytes()).unwrap();
    assert_eq!(web.len(), 2);
    assert_eq!(web[0].host(), "10.1.10.12");
    assert_eq!(web[1].host(), "10.1.10.99");
    assert!(web[0].healthy(true) && !web[1].healthy(true));
    let warning = instance("w", "", 1, &[], &["passing", "warning"]);
    assert!(!warning.healthy(true) && warning.healthy(false));
    for bad in [&b"[]"[..], b"{\"web\": 5}", b"null", b""] {
        assert!(
            parse_services(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    for bad in [
        &b"{}"[..],
        b"[{\"Node\": {}}]",
        b"[{\"Node\":{\"Node\":\"n\"},\"Service\":{\"ID\":\"x\",\"Port\":-1}}]",
    ] {
        assert!(
            parse_health(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn services_become_backends_and_frontends() {
    let t = translate(&settings(true), &catalog());
    let c = &t.configuration;
    let web = &c.backends["backend-web"];
    // Only the instance whose checks all pass, at the node's address (no service address).
    assert_eq!(web.servers.len(), 1);
    let s = &web.servers["foobar-web1"];
    assert_eq!((s.url.as_str(), s.weight), ("http://10.1.10.12:8080", 5));
    let f = &c.frontends["frontend-web"];
    assert_eq!(f.backend, "backend-web");
    assert_eq!(f.routes["route-host-web"].rule, "Host:web.example.com");
    assert_eq!(f.entry_points, ["http"]);
    assert!(f.pass_host_header);

    let api = &c.frontends["frontend-api"];
    assert_eq!(api.routes["route-host-api"].rule, "PathPrefix:/api");
    assert_eq!(
        c.backends["backend-api"]
            .load_balancer
            .as_ref()
            .unwrap()
            .method,
        "drr"
    );
    // enable=false hides; no instance, no frontend.
    assert!(!c.frontends.contains_key("frontend-hidden"));
    assert!(!c.frontends.contains_key("frontend-consul"));
    // A bad tag names the service and the tag; the others are served.
    assert!(!c.frontends.contains_key("frontend-broken"));
    assert_eq!(t.problems.len(), 1, "{:?}", t.problems);
    let p = &t.problems[0];
    assert!(
        p.contains("service broken")
            && p.contains("traefik.frontend.priority")
            && p.contains("high"),
        "{p}"
    );
}

#[test]
fn exposed_by_default_false_needs_enable_true() {
    let mut cat = catalog();
    cat.get_mut("api")
        .unwrap()
        .tags
        .push("traefik.enable=true".into());
    let t = translate(&settings(false), &cat);
    let names: Vec<&String> = t.configuration.frontends.keys().collect();
    assert_eq!(names, ["frontend-api"]);
}

#[test]
fn instance_tags_set_protocol_and_weight_and_bad_ones_name_the_tag() {
    let mut cat = BTreeMap::new();
    cat.insert(
        "svc".to_string(),
        ServiceState {
            tags: vec![
                "traefik.frontend.rule=Host:{{getTag \"env\" .Attributes \"dev\"}}.svc".into(),
                "env=prod".into(),
            ],
            instances: vec![
                instance("a", "::1", 443, &["traefik.protocol=https"], &[]),
                instance(
                    "b",
                    "127.0.0.2",
                    80,
                    &["traefik.backend.weight=3"],
                    &["passing"],
                ),
            ],
        },
    );
    let t = translate(&settings(true), &cat);
    let servers = &t.configuration.backends["backend-svc"].servers;
    assert_eq!(servers["n1-a"].url, "https://[::1]:443");
    assert_eq!(servers["n1-b"].weight, 3);
    assert_eq!(
        t.configuration.frontends["frontend-svc"].routes["route-host-svc"].rule,
        "Host:prod.svc"
    );

    cat.get_mut("svc").unwrap().instances[1].tags = vec!["traefik.weight=heavy".into()];
    let t = translate(&settings(true), &cat);
    assert!(t.configuration.backends.is_empty());
    assert!(
        t.problems[0].contains("traefik.weight") && t.problems[0].contains("heavy"),
        "{:?}",
        t.problems
    );

    cat.get_mut("svc").unwrap().instances[1].tags.clear();
    cat.get_mut("svc").unwrap().tags = vec!["traefik.frontend.rule=Host:{{.Nope}}".into()];
    let t = translate(&settings(true), &cat);
    assert!(
        t.problems[0].contains("traefik.frontend.rule"),
        "{:?}",
        t.problems
    );
}

#[test]
fn unsupported_tags_are_named_in_a_warning() {
    let mut cat = BTreeMap::new();
    cat.insert(
        "svc".to_string(),
        ServiceState {
            tags: vec!["traefik.port=80".into(), "traefik.backend.id=x".into()],
            instances: vec![instance("a", "127.0.0.1", 80, &[], &[])],
        },
    );
    let t = translate(&settings(true), &cat);
    assert!(t.configuration.frontends.contains_key("frontend-svc"));
    assert_eq!(t.warnings.len(), 1);
    assert!(
        t.warnings[0].contains("traefik.port") && t.warnings[0].contains("traefik.backend.id"),
        "{:?}",
        t.warnings
    );
}
