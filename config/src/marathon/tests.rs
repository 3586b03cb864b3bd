use super::*;

const APPS: &str = include_str!("testdata/apps.json");

fn recorded() -> Apps {
    parse_apps(APPS.as_bytes()).unwrap()
}

fn settings() -> Settings {
    Settings {
        exposed_by_default: true,
        domain: "marathon.localhost".to_string(),
        ..Settings::default()
    }
}

/// One application on host ports, with `tasks` running tasks (ports 31000 + i) and `labels`.
fn app(id: &str, tasks: usize, labels: &[(&str, &str)]) -> App {
    App {
        id: id.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        port_definitions: vec![payload::PortDefinition {
            port: Some(10000),
            name: Some("http".into()),
        }],
        tasks: (0..tasks)
            .map(|i| Task {
                id: format!("{}.{i}", id.trim_start_matches('/').replace('/', "_")),
                host: "127.0.0.1".into(),
                state: "TASK_RUNNING".into(),
                ports: vec![31000 + i as u32],
                ..Task::default()
            })
            .collect(),
        ..App::default()
    }
}

fn only(apps: Vec<App>) -> Apps {
    Apps {
        apps,
        unreadable: Vec::new(),
    }
}

fn urls(out: &Translated, backend: &str) -> Vec<String> {
    out.configuration.backends[backend]
        .servers
        .values()
        .map(|s| s.url.clone())
        .collect()
}

fn rule(out: &Translated, frontend: &str) -> String {
    let f = &out.configuration.frontends[frontend];
    f.routes[&format!("route-{frontend}")].rule.clone()
}

#[test]
fn recorded_answer_is_read() {
    let apps = recorded();
    assert!(apps.unreadable.is_empty(), "{:?}", apps.unreadable);
    assert_eq!(apps.apps.len(), 2);
    let a = &apps.apps[0];
    assert_eq!(a.id, "/foo/bar/app");
    assert_eq!(a.health_checks.len(), 1);
    assert_eq!(
        a.constraints,
        vec![vec!["hostname".to_string(), "UNIQUE".into()]]
    );
    assert_eq!(a.tasks.len(), 3);
    assert_eq!(a.tasks[0].ports, vec![31001]);
    assert!(a.tasks[0].health_check_results[0].alive);
    assert!(a.ip_address.is_none() && a.container.is_none());
    let w = &apps.apps[1];
    assert_eq!(w.container.as_ref().unwrap().port_mappings.len(), 2);
    assert_eq!(w.networks[0].mode, "container");
    assert_eq!(w.tasks[0].ip_addresses[0].ip_address, "9.0.0.5");
}

#[test]
fn recorded_answer_becomes_v1_names_and_only_healthy_running_tasks() {
    let out = translate(&settings(), &recorded());
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    // Running and healthy: the first task only (the second fails its check, the third is
    // staging); on the host and its host port (no IP per task).
    assert_eq!(
        urls(&out, "backend-foo-bar-app"),
        vec!["http://10.0.1.10:31001".to_string()]
    );
    let server = "server-foo-bar-app-foo-bar-app-1b8e4f1a-a7a1-11e7-b3c2-0242ac110002";
    assert!(
        out.configuration.backends["backend-foo-bar-app"]
            .servers
            .contains_key(server)
    );
    let f = &out.configuration.frontends["frontend-foo-bar-app"];
    assert_eq!(f.backend, "backend-foo-bar-app");
    assert_eq!(f.entry_points, vec!["http".to_string()]);
    assert_eq!(
        rule(&out, "frontend-foo-bar-app"),
        "Host:foo-bar-app.marathon.localhost"
    );
    // IP per task (a container network): the task's own address, the mapping named admin.
    assert_eq!(
        urls(&out, "backend-web"),
        vec!["http://9.0.0.5:9090".to_string()]
    );
    assert_eq!(rule(&out, "frontend-web"), "Host:web.example.com");
    let lb = out.configuration.backends["backend-web"]
        .load_balancer
        .as_ref();
    assert_eq!(lb.unwrap().method, "drr");
}

#[test]
fn malformed_answers_are_errors_and_bad_apps_are_named() {
    assert!(parse_apps(b"[]").is_err());
    assert!(parse_apps(b"{\"app\": {}}").is_err());
    assert!(parse_apps(b"<html>").is_err());
    let one_bad = br#"{"apps": [{"id": "/ok"}, {"id": "/bad", "tasks": 3}, {"tasks": []}]}"#;
    let apps = parse_apps(one_bad).unwrap();
    assert_eq!(apps.apps.len(), 1);
    assert_eq!(apps.unreadable.len(), 2);
    let out = translate(&settings(), &apps);
    assert!(
        out.problems[0].starts_with("app /bad: "),
        "{:?}",
        out.problems
    );
    assert!(
        out.problems[1].starts_with("app #2: "),
        "{:?}",
        out.problems
    );
    assert!(out.configuration.frontends.contains_key("frontend-ok"));
}

#[test]
fn groups_as_sub_domains_and_no_domain() {
    let s = Settings {
        groups_as_sub_domains: true,
        ..settings()
    };
    let out = translate(&s, &only(vec![app("/foo/bar/app", 1, &[])]));
    assert_eq!(
        rule(&out, "frontend-foo-bar-app"),
        "Host:app.bar.foo.marathon.localhost"
    );
    let out = translate(&Settings::default(), &only(vec![app("/a", 1, &[])]));
    assert!(
        out.configuration.frontends.is_empty(),
        "not exposed by default"
    );
    let s = Settings {
        exposed_by_default: true,
        ..Settings::default()
    };
    let out = translate(&s, &only(vec![app("/a", 1, &[])]));
    assert_eq!(rule(&out, "frontend-a"), "Host:a");
}

#[test]
fn enable_and_exposed_by_default() {
    let hidden = Settings {
        exposed_by_default: false,
        ..settings()
    };
    let apps = only(vec![
        app("/on", 1, &[("traefik.enable", "true")]),
        app("/plain", 1, &[]),
        app("/off", 1, &[("traefik.enable", "false")]),
    ]);
    let out = translate(&hidden, &apps);
    let names: Vec<&String> = out.configuration.frontends.keys().collect();
    assert_eq!(names, vec!["frontend-on"]);
    let out = translate(&settings(), &apps);
    assert_eq!(out.configuration.frontends.len(), 2);
    let bad = translate(
        &settings(),
        &only(vec![app("/x", 1, &[("traefik.enable", "yes")])]),
    );
    assert_eq!(
        bad.problems,
        vec!["app /x: label traefik.enable: invalid boolean \"yes\"; app left out".to_string()]
    );
}

#[test]
fn ports_by_label_index_and_name() {
    let mut two = app("/two", 1, &[("traefik.portIndex", "1")]);
    two.tasks[0].ports = vec![31000, 31001];
    two.port_definitions.push(payload::PortDefinition {
        port: Some(10001),
        name: Some("admin".into()),
    });
    let mut named = two.clone();
    named.id = "/named".into();
    named.labels = [("traefik.portName".to_string(), "admin".to_string())].into();
    let fixed = app("/fixed", 1, &[("traefik.port", "8080")]);
    let out = translate(&settings(), &only(vec![two, named, fixed]));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(urls(&out, "backend-two"), vec!["http://127.0.0.1:31001"]);
    assert_eq!(urls(&out, "backend-named"), vec!["http://127.0.0.1:31001"]);
    assert_eq!(urls(&out, "backend-fixed"), vec!["http://127.0.0.1:8080"]);
}

#[test]
fn labels_that_make_no_sense_leave_the_app_out_and_name_it() {
    let apps = only(vec![
        app("/foo/bar", 1, &[("traefik.port", "http")]),
        app("/idx", 1, &[("traefik.portIndex", "3")]),
        app("/name", 1, &[("traefik.portName", "nope")]),
        app("/proto", 1, &[("traefik.protocol", "gopher")]),
        app("/rule", 1, &[("traefik.frontend.rule", "Hots:x")]),
        app("/lb", 1, &[("traefik.frontend.priority", "high")]),
        app("/good", 2, &[]),
    ]);
    let out = translate(&settings(), &apps);
    let starts = [
        "app /foo/bar: label traefik.port: invalid port \"http\"",
        "app /idx: label traefik.portIndex: index 3 is beyond",
        "app /lb: label traefik.frontend.priority: ",
        "app /name: label traefik.portName: no port is named \"nope\"",
        "app /proto: label traefik.protocol: ",
        "app /rule: label traefik.frontend.rule: ",
    ];
    assert_eq!(out.problems.len(), starts.len(), "{:?}", out.problems);
    for (p, s) in out.problems.iter().zip(starts) {
        assert!(p.starts_with(s) && p.ends_with("; app left out"), "{p}");
    }
    let names: Vec<&String> = out.configuration.frontends.keys().collect();
    assert_eq!(names, vec!["frontend-good"]);
    assert_eq!(urls(&out, "backend-good").len(), 2);
}

#[test]
fn ip_per_task_and_force_task_hostname() {
    let mut a = app("/ip", 2, &[]);
    a.ip_address = Some(payload::IpAddress {
        discovery: Some(payload::Discovery {
            ports: vec![payload::DiscoveryPort {
                number: 80,
                name: Some("http".into()),
            }],
        }),
    });
    a.port_definitions.clear();
    for (i, t) in a.tasks.iter_mut().enumerate() {
        t.ports.clear();
        t.ip_addresses = vec![payload::TaskIpAddress {
            ip_address: format!("10.9.0.{i}"),
        }];
    }
    // A third task with two addresses and no index: left out with a warning.
    let mut many = a.tasks[0].clone();
    many.id = "ip.many".into();
    many.ip_addresses.push(payload::TaskIpAddress {
        ip_address: "10.9.1.1".into(),
    });
    a.tasks.push(many);
    let out = translate(&settings(), &only(vec![a.clone()]));
    assert_eq!(
        urls(&out, "backend-ip"),
        vec!["http://10.9.0.0:80", "http://10.9.0.1:80"]
    );
    assert!(
        out.warnings.iter().any(|w| w.contains("ip.many")),
        "{:?}",
        out.warnings
    );
    let forced = Settings {
        force_task_hostname: true,
        ..settings()
    };
    let out = translate(&forced, &only(vec![a.clone()]));
    assert!(
        urls(&out, "backend-ip")
            .iter()
            .all(|u| u == "http://127.0.0.1:80")
    );
    a.labels.insert("traefik.ipAddressIdx".into(), "1".into());
    let out = translate(&settings(), &only(vec![a]));
    assert!(urls(&out, "backend-ip").contains(&"http://10.9.1.1:80".to_string()));
}

#[test]
fn segments_get_their_own_backend_and_frontend() {
    let mut a = app(
        "/multi",
        1,
        &[
            ("traefik.web.portIndex", "0"),
            ("traefik.web.frontend.rule", "Host:web.example.com"),
            ("traefik.admin.portIndex", "1"),
            ("traefik.frontend.entryPoints", "http"),
        ],
    );
    a.tasks[0].ports = vec![31000, 31001];
    a.port_definitions.push(payload::PortDefinition {
        port: Some(10001),
        name: None,
    });
    let out = translate(&settings(), &only(vec![a]));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(
        urls(&out, "backend-multi-service-web"),
        vec!["http://127.0.0.1:31000"]
    );
    assert_eq!(
        urls(&out, "backend-multi-service-admin"),
        vec!["http://127.0.0.1:31001"]
    );
    assert_eq!(
        rule(&out, "frontend-multi-service-web"),
        "Host:web.example.com"
    );
    assert_eq!(
        rule(&out, "frontend-multi-service-admin"),
        "Host:admin.multi.marathon.localhost"
    );
    let admin = &out.configuration.frontends["frontend-multi-service-admin"];
    assert_eq!(
        admin.entry_points,
        vec!["http".to_string()],
        "the app's labels are defaults"
    );
}

#[test]
fn constraints_tags_marathon_constraints_and_marathon_lb() {
    let c = |t: &str| crate::constraints::parse(t).unwrap();
    let mut placed = app("/placed", 1, &[]);
    placed.constraints = vec![vec!["hostname".into(), "UNIQUE".into()]];
    let apps = only(vec![
        app("/api", 1, &[("traefik.tags", "api, public")]),
        app("/intern", 1, &[("traefik.tags", "internal")]),
        app(
            "/lb",
            1,
            &[
                ("HAPROXY_GROUP", "api"),
                ("HAPROXY_0_VHOST", "lb.example.com"),
            ],
        ),
        placed,
    ]);
    let s = Settings {
        constraints: vec![c("tag==api")],
        ..settings()
    };
    let out = translate(&s, &apps);
    let names: Vec<&String> = out.configuration.frontends.keys().collect();
    assert_eq!(names, vec!["frontend-api"]);
    let lb = Settings {
        marathon_lb_compatibility: true,
        ..s.clone()
    };
    let out = translate(&lb, &apps);
    let names: Vec<&String> = out.configuration.frontends.keys().collect();
    assert_eq!(names, vec!["frontend-api", "frontend-lb"]);
    assert_eq!(rule(&out, "frontend-lb"), "Host:lb.example.com");
    let filter = Settings {
        filter_marathon_constraints: true,
        constraints: vec![c("tag==hostname:UNIQUE")],
        ..settings()
    };
    let out = translate(&filter, &apps);
    let names: Vec<&String> = out.configuration.frontends.keys().collect();
    assert_eq!(names, vec!["frontend-placed"]);
}

#[test]
fn readiness_and_shared_backends() {
    let mut a = app("/ready", 2, &[]);
    a.readiness_check_results = vec![payload::ReadinessCheckResult {
        task_id: "ready.1".into(),
        ready: false,
    }];
    let out = translate(&settings(), &only(vec![a.clone()]));
    assert_eq!(urls(&out, "backend-ready").len(), 2, "ignored unless asked");
    let s = Settings {
        respect_readiness_checks: true,
        ..settings()
    };
    let out = translate(&s, &only(vec![a]));
    assert_eq!(urls(&out, "backend-ready"), vec!["http://127.0.0.1:31000"]);
    // Two applications naming one backend: its servers are both's.
    let out = translate(
        &settings(),
        &only(vec![
            app("/blue", 1, &[("traefik.backend", "shop")]),
            app("/green", 1, &[("traefik.backend", "shop")]),
        ]),
    );
    assert_eq!(urls(&out, "backendshop").len(), 2);
    assert_eq!(
        out.configuration.frontends["frontend-green"].backend,
        "backendshop"
    );
}

#[test]
fn an_app_without_running_tasks_keeps_its_frontend() {
    let out = translate(&settings(), &only(vec![app("/idle", 0, &[])]));
    assert!(
        out.configuration.backends["backend-idle"]
            .servers
            .is_empty()
    );
    assert!(out.configuration.frontends.contains_key("frontend-idle"));
}

#[test]
fn the_example_app_and_configuration_work_together() {
    let toml = include_str!("../../../examples/marathon/trafik.toml");
    let loaded = crate::load_static("trafik.toml", toml).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let table = loaded.value.marathon.unwrap();
    assert_eq!(table.not_implemented(), None);
    // The definition as Marathon lists it once deployed: two tasks on bridge networking,
    // each on the host port Marathon gave its container port 80.
    let mut app: serde_json::Value =
        serde_json::from_str(include_str!("../../../examples/marathon/app.json")).unwrap();
    app["tasks"] = serde_json::json!([
        {"id": "shop_web.a", "host": "10.0.0.1", "state": "TASK_RUNNING", "ports": [31005],
         "ipAddresses": [{"ipAddress": "172.17.0.2", "protocol": "IPv4"}],
         "healthCheckResults": [{"alive": true, "taskId": "shop_web.a"}]},
        {"id": "shop_web.b", "host": "10.0.0.2", "state": "TASK_RUNNING", "ports": [31006],
         "ipAddresses": [{"ipAddress": "172.17.0.3", "protocol": "IPv4"}],
         "healthCheckResults": []}
    ]);
    let answer = serde_json::json!({ "apps": [app] }).to_string();
    let settings = Settings {
        exposed_by_default: table.exposed_by_default,
        domain: table.domain.clone(),
        groups_as_sub_domains: table.groups_as_sub_domains,
        constraints: table
            .constraints
            .iter()
            .map(|c| crate::constraints::parse(c).unwrap())
            .collect(),
        ..Settings::default()
    };
    let out = translate(&settings, &parse_apps(answer.as_bytes()).unwrap());
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    // The second task has no health check result yet: not served.
    assert_eq!(
        urls(&out, "backend-shop-web"),
        vec!["http://10.0.0.1:31005"]
    );
    assert_eq!(
        rule(&out, "frontend-shop-web"),
        "Host:shop.marathon.localhost"
    );
    let backend = &out.configuration.backends["backend-shop-web"];
    assert_eq!(backend.health_check.as_ref().unwrap().path, "/");
}

#[test]
fn a_thousand_apps_of_three_tasks_parse_and_translate() {
    // As Marathon would answer for them: the recorded application, a thousand times.
    let template: serde_json::Value = serde_json::from_str(APPS).unwrap();
    let first = template["apps"][0].clone();
    let apps: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let mut a = first.clone();
            a["id"] = serde_json::json!(format!("/team{}/app{i}", i % 10));
            a
        })
        .collect();
    let body = serde_json::json!({ "apps": apps }).to_string();
    let parsed = parse_apps(body.as_bytes()).unwrap();
    let out = translate(&settings(), &parsed);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(out.configuration.backends.len(), 1000);
    assert_eq!(out.configuration.frontends.len(), 1000);
    // One healthy running task each (of three).
    assert!(
        out.configuration
            .backends
            .values()
            .all(|b| b.servers.len() == 1)
    );
}

#[test]
fn a_segment_that_makes_no_sense_is_left_out_alone() {
    let mut a = app(
        "/multi",
        1,
        &[
            ("traefik.web.portIndex", "0"),
            ("traefik.admin.port", "none"),
        ],
    );
    a.tasks[0].ports = vec![31000];
    let out = translate(&settings(), &only(vec![a.clone()]));
    assert_eq!(
        out.problems,
        vec![
            "app /multi: label traefik.admin.port: invalid port \"none\"; segment admin left out"
                .to_string()
        ]
    );
    assert_eq!(
        urls(&out, "backend-multi-service-web"),
        vec!["http://127.0.0.1:31000"]
    );
    assert!(
        !out.configuration
            .frontends
            .contains_key("frontend-multi-service-admin")
    );
    // A bad label every segment shares: nothing is left, the app is left out (said once).
    a.labels
        .insert("traefik.frontend.priority".into(), "high".into());
    a.labels.insert("traefik.admin.port".into(), "9000".into());
    let out = translate(&settings(), &only(vec![a]));
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
    assert!(
        out.problems[0].starts_with("app /multi: label traefik.frontend.priority: ")
            && out.problems[0].ends_with("; app left out"),
        "{:?}",
        out.problems
    );
    assert!(out.configuration.frontends.is_empty());
}
