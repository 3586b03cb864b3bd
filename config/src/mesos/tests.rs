use super::payload::{DiscoveryPort, Label, LabelList, Status};
use super::*;

const STATE: &str = include_str!("testdata/state.json");

fn recorded() -> State {
    parse_state(STATE.as_bytes()).unwrap()
}

/// The recorded state's first task alone, with `labels` as its labels.
fn one_task(labels: &[(&str, &str)]) -> State {
    let mut state = recorded();
    let mut task = state.frameworks[0].tasks[0].clone();
    task.labels = LabelList::Plain(
        labels
            .iter()
            .map(|(k, v)| Label {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
    );
    state.frameworks[0].tasks = vec![task];
    state
}

fn urls(out: &Translated) -> Vec<String> {
    out.configuration
        .backends
        .values()
        .flat_map(|b| b.servers.values().map(|s| s.url.clone()))
        .collect()
}

#[test]
fn recorded_state_is_read() {
    let s = recorded();
    assert_eq!(s.leader, "master@10.0.0.10:5050");
    assert_eq!(s.slaves.len(), 2);
    assert_eq!(s.slaves[0].address(), Some("10.0.1.1"));
    let tasks = &s.frameworks[0].tasks;
    assert_eq!(tasks.len(), 3);
    let t = &tasks[0];
    assert_eq!(t.state, "TASK_RUNNING");
    assert_eq!(t.discovery.as_ref().unwrap().name, "/web/shop");
    assert_eq!(t.discovery.as_ref().unwrap().ports.ports[1].name, "admin");
    assert_eq!(t.labels.list().len(), 2);
    assert_eq!(t.healthy(), Some(true));
    assert_eq!(t.latest_status(None).unwrap().state, "TASK_RUNNING");
}

#[test]
fn malformed_answers_are_errors() {
    assert!(parse_state(b"").is_err());
    assert!(parse_state(b"[]").is_err());
    assert!(parse_state(b"{}").is_err(), "no frameworks, no slaves");
    assert!(parse_state(br#"{"frameworks": [], "slaves": {}}"#).is_err());
    let bad_port = r#"{"slaves": [], "frameworks": [{"tasks": [{"id": "t",
        "discovery": {"ports": {"ports": [{"number": "http"}]}}}]}]}"#;
    assert!(parse_state(bad_port.as_bytes()).is_err());
    let empty = parse_state(br#"{"frameworks": [], "slaves": []}"#).unwrap();
    assert!(
        translate(&Settings::default(), &empty)
            .configuration
            .backends
            .is_empty()
    );
}

#[test]
fn running_tasks_get_v1_names() {
    let out = translate(&Settings::default(), &recorded());
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    // The staging task (batch) and the completed one are not served.
    let names: Vec<_> = out.configuration.backends.keys().collect();
    assert_eq!(names, vec!["backend-web-shop"]);
    let b = &out.configuration.backends["backend-web-shop"];
    assert_eq!(
        b.servers["server-web-shop-6c1e6d84-b3f4-11ef-8a4e-0242ac110002"].url,
        "http://10.0.1.1:31001"
    );
    assert_eq!(
        b.servers["server-web-shop-7d2f7e95-b3f4-11ef-8a4e-0242ac110002"].url,
        "http://10.0.1.2:31005"
    );
    assert_eq!(b.load_balancer.as_ref().unwrap().method.to_string(), "drr");
    let f = &out.configuration.frontends["frontend-web-shop"];
    assert_eq!(f.backend, "backend-web-shop");
    assert_eq!(f.entry_points, vec!["http".to_string()]);
    assert!(f.pass_host_header);
    assert_eq!(f.routes["route-host-web-shop"].rule, "Host:web-shop");
}

#[test]
fn domain_and_groups_as_sub_domains() {
    let mut s = Settings {
        domain: "mesos.localhost".to_string(),
        ..Settings::default()
    };
    let rule = |s: &Settings, state: &State| {
        let out = translate(s, state);
        out.configuration.frontends["frontend-web-shop"].routes["route-host-web-shop"]
            .rule
            .clone()
    };
    assert_eq!(rule(&s, &recorded()), "Host:web-shop.mesos.localhost");
    s.groups_as_sub_domains = true;
    assert_eq!(rule(&s, &recorded()), "Host:shop.web.mesos.localhost");
    let own = one_task(&[("traefik.domain", "example.org")]);
    assert_eq!(rule(&s, &own), "Host:shop.web.example.org");
    let mut upper = recorded();
    upper.frameworks[0].tasks[0]
        .discovery
        .as_mut()
        .unwrap()
        .name = "/Web/My_Shop".to_string();
    upper.frameworks[0].tasks.truncate(1);
    s.groups_as_sub_domains = false;
    let out = translate(&s, &upper);
    let f = &out.configuration.frontends["frontend-Web-My-Shop"];
    assert_eq!(
        f.routes["route-host-Web-My-Shop"].rule,
        "Host:web-my-shop.mesos.localhost"
    );
}

#[test]
fn ports_by_number_index_and_name() {
    let url = |labels: &[(&str, &str)]| {
        let out = translate(&Settings::default(), &one_task(labels));
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        urls(&out)
    };
    assert_eq!(url(&[]), vec!["http://10.0.1.1:31001"]);
    assert_eq!(
        url(&[("traefik.port", "31002")]),
        vec!["http://10.0.1.1:31002"]
    );
    assert_eq!(
        url(&[("traefik.portIndex", "1")]),
        vec!["http://10.0.1.1:31002"]
    );
    assert_eq!(
        url(&[("traefik.portName", "admin")]),
        vec!["http://10.0.1.1:31002"]
    );
    assert_eq!(
        url(&[("traefik.protocol", "https"), ("traefik.weight", "5")]),
        vec!["https://10.0.1.1:31001"]
    );
}

#[test]
fn a_bad_label_leaves_the_application_out_and_names_the_task() {
    let cases: [(&[(&str, &str)], &str); 8] = [
        (
            &[("traefik.port", "http")],
            "label traefik.port: invalid port",
        ),
        (
            &[("traefik.port", "8080")],
            "label traefik.port: 8080 is not one of the task's discovery ports",
        ),
        (&[("traefik.portIndex", "2")], "label traefik.portIndex"),
        (
            &[("traefik.port", "31001"), ("traefik.portIndex", "0")],
            "set together with traefik.port",
        ),
        (
            &[("traefik.portName", "grpc")],
            "no discovery port named \"grpc\"",
        ),
        (
            &[("traefik.enable", "yes")],
            "label traefik.enable: invalid boolean",
        ),
        (&[("traefik.protocol", "ftp")], "label traefik.protocol"),
        (
            &[("traefik.frontend.rule", "Hots:x")],
            "label traefik.frontend.rule",
        ),
    ];
    for (labels, expected) in cases {
        let mut state = recorded();
        // The bad task is the application's first; its healthy twin goes with it.
        let mut bad = state.frameworks[0].tasks[0].clone();
        bad.labels = LabelList::Plain(
            labels
                .iter()
                .map(|(k, v)| Label {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        );
        state.frameworks[0].tasks[0] = bad;
        // Another application, served whatever the first one's labels are.
        let mut other = state.frameworks[0].tasks[1].clone();
        other.id = "api.1".to_string();
        other.discovery.as_mut().unwrap().name = "api".to_string();
        state.frameworks[0].tasks.push(other);
        let out = translate(&Settings::default(), &state);
        assert_eq!(out.problems.len(), 1, "{labels:?}: {:?}", out.problems);
        let p = &out.problems[0];
        assert!(
            p.starts_with("task web_shop.6c1e6d84-b3f4-11ef-8a4e-0242ac110002: "),
            "{p}"
        );
        assert!(p.contains(expected), "{labels:?}: {p}");
        assert!(p.ends_with("application /web/shop left out"), "{p}");
        let names: Vec<_> = out.configuration.backends.keys().collect();
        assert_eq!(names, vec!["backend-api"], "{labels:?}");
    }
}

#[test]
fn shared_label_vocabulary_and_its_problems() {
    let out = translate(
        &Settings::default(),
        &one_task(&[
            ("traefik.frontend.priority", "10"),
            ("traefik.frontend.passHostHeader", "false"),
            (
                "traefik.backend.circuitbreaker.expression",
                "NetworkErrorRatio() > 0.5",
            ),
            ("traefik.frontend.foo", "bar"),
        ]),
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let f = &out.configuration.frontends["frontend-web-shop"];
    assert_eq!(f.priority, 10);
    assert!(!f.pass_host_header);
    let b = &out.configuration.backends["backend-web-shop"];
    assert!(b.circuit_breaker.is_some());
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("traefik.frontend.foo"),
        "{:?}",
        out.warnings
    );

    let bad = translate(
        &Settings::default(),
        &one_task(&[("traefik.frontend.priority", "high")]),
    );
    assert_eq!(bad.problems.len(), 1, "{:?}", bad.problems);
    assert!(
        bad.problems[0].contains("label traefik.frontend.priority"),
        "{:?}",
        bad.problems
    );
    assert!(bad.configuration.backends.is_empty());
}

#[test]
fn exposed_by_default_and_constraints() {
    let off = Settings {
        exposed_by_default: false,
        ..Settings::default()
    };
    assert!(
        translate(&off, &one_task(&[]))
            .configuration
            .backends
            .is_empty()
    );
    let on = translate(&off, &one_task(&[("traefik.enable", "true")]));
    assert_eq!(on.configuration.backends.len(), 1);
    let disabled = translate(
        &Settings::default(),
        &one_task(&[("traefik.enable", "false")]),
    );
    assert!(disabled.configuration.backends.is_empty());
    assert!(disabled.problems.is_empty());

    let api_only = Settings {
        constraints: vec![crate::constraints::parse("tag==api").unwrap()],
        ..Settings::default()
    };
    assert!(
        translate(&api_only, &one_task(&[]))
            .configuration
            .backends
            .is_empty()
    );
    let tagged = translate(&api_only, &one_task(&[("traefik.tags", "web, api")]));
    assert_eq!(tagged.configuration.backends.len(), 1);
}

#[test]
fn only_running_healthy_tasks_with_ports() {
    let mut state = recorded();
    let tasks = &mut state.frameworks[0].tasks;
    // The second task's latest health report says unhealthy.
    tasks[1].statuses.push(Status {
        state: "TASK_RUNNING".to_string(),
        timestamp: 1733500030.0,
        healthy: Some(false),
        ..Status::default()
    });
    let out = translate(&Settings::default(), &state);
    assert_eq!(urls(&out), vec!["http://10.0.1.1:31001"]);

    let mut state = recorded();
    let tasks = &mut state.frameworks[0].tasks;
    tasks[0].state = "TASK_KILLING".to_string();
    tasks[1].discovery.as_mut().unwrap().ports.ports.clear();
    let out = translate(&Settings::default(), &state);
    assert!(out.configuration.backends.is_empty(), "{:?}", urls(&out));

    // Healthy again: a later report wins over an earlier one.
    let mut state = recorded();
    let t = &mut state.frameworks[0].tasks[1];
    t.statuses[0].healthy = Some(false);
    t.statuses.push(Status {
        state: "TASK_RUNNING".to_string(),
        timestamp: 1733500040.0,
        healthy: Some(true),
        ..Status::default()
    });
    assert_eq!(urls(&translate(&Settings::default(), &state)).len(), 2);
}

#[test]
fn addresses_by_ip_sources() {
    let with = |sources: &str| Settings {
        ip_sources: ip_sources(sources).unwrap(),
        ..Settings::default()
    };
    let first = |s: &Settings| {
        let out = translate(s, &recorded());
        let mut u = urls(&out);
        u.sort();
        u
    };
    assert_eq!(
        first(&with("")),
        vec!["http://10.0.1.1:31001", "http://10.0.1.2:31005"]
    );
    // The first task's status label, the second's network.
    assert_eq!(
        first(&with("docker")),
        vec!["http://172.17.0.5:31001", "http://172.17.0.9:31005"]
    );
    assert_eq!(
        first(&with("netinfo,host")),
        vec!["http://172.17.0.5:31001", "http://172.17.0.9:31005"]
    );
    let mut state = recorded();
    state.frameworks[0].tasks.truncate(1);
    state.frameworks[0].tasks[0].statuses[1]
        .container_status
        .network_infos[0]
        .ip_addresses[0]
        .ip_address = Some("fd00::5".to_string());
    state.frameworks[0].tasks[0].statuses[1].labels = LabelList::default();
    assert_eq!(
        urls(&translate(&with("mesos"), &state)),
        vec!["http://[fd00::5]:31001"]
    );
    // No address at all: a problem, not a server without a host.
    state.slaves.clear();
    let out = translate(&with("host"), &state);
    assert!(out.configuration.backends.is_empty());
    assert!(
        out.problems[0].contains("no address from ipSources"),
        "{:?}",
        out.problems
    );

    assert!(ip_sources("host, rkt").unwrap_err().contains("rkt"));
    assert_eq!(
        ip_sources(" docker ,host").unwrap(),
        vec![IpSource::Docker, IpSource::Host]
    );
}

#[test]
fn agent_address_from_pid_else_host_name() {
    let mut s = payload::Slave {
        id: "S0".to_string(),
        hostname: "agent.example.com".to_string(),
        pid: "slave(1)@10.0.1.1:5051".to_string(),
    };
    assert_eq!(s.address(), Some("10.0.1.1"));
    s.pid.clear();
    assert_eq!(s.address(), Some("agent.example.com"));
    s.hostname.clear();
    assert_eq!(s.address(), None);
}

#[test]
fn segments_make_one_application_each() {
    let mut state = one_task(&[
        ("traefik.frontend.entryPoints", "http"),
        ("traefik.web.frontend.rule", "Host:www.example.com"),
        ("traefik.admin.portName", "admin"),
        ("traefik.admin.frontend.priority", "5"),
    ]);
    state.frameworks[0].tasks[0]
        .discovery
        .as_mut()
        .unwrap()
        .ports
        .ports
        .push(DiscoveryPort {
            number: 31009,
            name: "web".to_string(),
            protocol: "tcp".to_string(),
        });
    let out = translate(&Settings::default(), &state);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let web = &out.configuration.backends["backend-web-shop-service-web"];
    // The segment's name is its port's name too.
    assert_eq!(
        web.servers["server-web-shop-6c1e6d84-b3f4-11ef-8a4e-0242ac110002-service-web"].url,
        "http://10.0.1.1:31009"
    );
    let admin = &out.configuration.backends["backend-web-shop-service-admin"];
    assert_eq!(
        admin.servers.values().next().unwrap().url,
        "http://10.0.1.1:31002"
    );
    let fa = &out.configuration.frontends["frontend-web-shop-service-admin"];
    assert_eq!(fa.priority, 5);
    assert_eq!(
        fa.entry_points,
        vec!["http".to_string()],
        "the root labels are defaults"
    );
    assert_eq!(
        fa.routes["route-host-web-shop-service-admin"].rule,
        "Host:admin.web-shop"
    );
    let fw = &out.configuration.frontends["frontend-web-shop-service-web"];
    assert_eq!(
        fw.routes["route-host-web-shop-service-web"].rule,
        "Host:www.example.com"
    );
    assert_eq!(out.configuration.frontends.len(), 2);
}

#[test]
fn backend_label_shares_a_backend() {
    let mut state = one_task(&[("traefik.backend", "common")]);
    let mut other = state.frameworks[0].tasks[0].clone();
    other.id = "api.1".to_string();
    other.discovery.as_mut().unwrap().name = "api".to_string();
    state.frameworks[0].tasks.push(other);
    let out = translate(&Settings::default(), &state);
    assert_eq!(out.configuration.backends.len(), 1);
    assert_eq!(
        out.configuration.backends["backend-common"].servers.len(),
        2
    );
    assert_eq!(out.configuration.frontends.len(), 2);
}

#[test]
fn labels_also_read_in_protobuf_form() {
    let text = r#"{"slaves": [{"id": "S0", "hostname": "127.0.0.1"}], "frameworks": [{"tasks": [{
        "id": "w.1", "state": "TASK_RUNNING", "slave_id": "S0",
        "labels": {"labels": [{"key": "traefik.frontend.rule", "value": "Host:w"}]},
        "discovery": {"name": "w", "ports": {"ports": [{"number": 8080}]}}}]}]}"#;
    let out = translate(&Settings::default(), &parse_state(text.as_bytes()).unwrap());
    assert_eq!(
        out.configuration.frontends["frontend-w"].routes["route-host-w"].rule,
        "Host:w"
    );
    assert_eq!(urls(&out), vec!["http://127.0.0.1:8080"]);
}
