//! Loading and validating whole files through the public API, as the server does.

use std::collections::BTreeSet;

use trafik_config::{
    Diagnostic, Duration, DynamicContext, StaticConfig, load_dynamic, load_static, parse_address,
    validate_dynamic, validate_static,
};

const SEED: &str = r#"logLevel = "DEBUG"
defaultEntryPoints = ["http"]
[entryPoints]
  [entryPoints.http]
  address = ":8080"
[file]
[backends]
  [backends.httpecho]
    [backends.httpecho.servers.server1]
    url = "http://10.16.28.17:8091"
    weight = 1
[frontends]
  [frontends.fe1]
  backend = "httpecho"
    [frontends.fe1.routes.rule1]
    rule = "Path:/echo"
"#;

fn messages(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(ToString::to_string).collect()
}

fn dynamic_context(cfg: &StaticConfig) -> (BTreeSet<String>, Vec<String>) {
    (
        cfg.effective_entry_points().into_keys().collect(),
        cfg.effective_default_entry_points(),
    )
}

#[test]
fn seed_config_loads_as_static_and_dynamic() {
    let loaded = load_static("trafik.toml", SEED).unwrap();
    assert_eq!(messages(&loaded.warnings), Vec::<String>::new());
    let cfg = &loaded.value;
    assert_eq!(cfg.log_level.as_deref(), Some("DEBUG"));
    assert_eq!(cfg.default_entry_points, Some(vec!["http".to_string()]));
    assert_eq!(cfg.entry_points.as_ref().unwrap()["http"].address, ":8080");
    let file = cfg.file.as_ref().unwrap();
    assert_eq!(
        (
            file.filename.as_deref(),
            file.directory.as_deref(),
            file.watch
        ),
        (None, None, true)
    );
    assert_eq!(
        cfg.backends["httpecho"].servers["server1"].url,
        "http://10.16.28.17:8091"
    );
    assert_eq!(cfg.backends["httpecho"].servers["server1"].weight, 1);
    assert_eq!(cfg.frontends["fe1"].backend, "httpecho");
    assert_eq!(cfg.frontends["fe1"].routes["rule1"].rule, "Path:/echo");
    assert!(!cfg.frontends["fe1"].pass_host_header);
    assert_eq!(validate_static(cfg), vec![]);

    // The same file read for its dynamic part: no complaints about the static keys.
    let dynamic = load_dynamic("trafik.toml", SEED).unwrap();
    assert_eq!(messages(&dynamic.warnings), Vec::<String>::new());
    assert_eq!(dynamic.value.backends, cfg.backends);
    assert_eq!(dynamic.value.frontends, cfg.frontends);

    let (eps, defaults) = dynamic_context(cfg);
    let validated = validate_dynamic(
        &dynamic.value,
        &DynamicContext {
            entry_points: &eps,
            default_entry_points: &defaults,
        },
    );
    assert_eq!(validated.problems, vec![]);
    assert_eq!(validated.config.frontends["fe1"].entry_points, ["http"]);
}

#[test]
fn seed_config_without_indentation() {
    let flat: String = SEED
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    assert_eq!(
        load_static("trafik.toml", &flat).unwrap().value,
        load_static("trafik.toml", SEED).unwrap().value
    );
}

#[test]
fn struct_keys_ignore_case_map_keys_keep_it() {
    let text = r#"
LogLevel = "info"
EntryPoints = { Web = { Address = ":81" } }
DEFAULTENTRYPOINTS = ["Web"]
[backends.MyBackend.LoadBalancer]
Method = "drr"
[backends.MyBackend.circuitbreaker]
expression = "NetworkErrorRatio() > 0.5"
[backends.MyBackend.Servers.Server1]
URL = "http://a:1"
[frontends.Front]
Backend = "MyBackend"
entrypoints = ["Web"]
PassHostHeader = true
passtlscert = true
[frontends.Front.Routes.R]
Rule = "Host:a"
"#;
    let loaded = load_static("t.toml", text).unwrap();
    assert_eq!(messages(&loaded.warnings), Vec::<String>::new());
    let cfg = loaded.value;
    assert_eq!(cfg.log_level.as_deref(), Some("info"));
    assert_eq!(cfg.entry_points.as_ref().unwrap()["Web"].address, ":81");
    assert_eq!(cfg.default_entry_points, Some(vec!["Web".to_string()]));
    let backend = &cfg.backends["MyBackend"];
    assert_eq!(backend.load_balancer.as_ref().unwrap().method, "drr");
    assert_eq!(
        backend.circuit_breaker.as_ref().unwrap().expression,
        "NetworkErrorRatio() > 0.5"
    );
    assert_eq!(backend.servers["Server1"].url, "http://a:1");
    let front = &cfg.frontends["Front"];
    assert_eq!(front.backend, "MyBackend");
    assert_eq!(front.entry_points, ["Web"]);
    assert!(front.pass_host_header);
    assert!(front.pass_tls_cert);
    assert_eq!(front.routes["R"].rule, "Host:a");
    assert!(!cfg.backends.contains_key("mybackend"));
}

#[test]
fn renamed_fields_match_in_any_case() {
    let text = "allowminweightzero = true\nrootcas = [\"ca.pem\"]\n[backends.b.forwardingResponse]\nflushInterval = \"100ms\"\n";
    let loaded = load_static("t.toml", text).unwrap();
    assert_eq!(messages(&loaded.warnings), Vec::<String>::new());
    assert!(loaded.value.allow_min_weight_zero);
    assert_eq!(loaded.value.root_cas, ["ca.pem"]);
    let rf = loaded.value.backends["b"]
        .response_forwarding
        .as_ref()
        .unwrap();
    assert_eq!(rf.flush_interval, Some(Duration::from_millis(100)));
}

#[test]
fn unknown_keys_are_located_warnings() {
    let text =
        "logLevel = \"INFO\"\nfrobnicate = true\n[backends.b1.loadBalancer]\nmethd = \"drr\"\n";
    let loaded = load_static("trafik.toml", text).unwrap();
    assert_eq!(
        messages(&loaded.warnings),
        [
            "trafik.toml:2:1: frobnicate: unknown key, ignored",
            "trafik.toml:4:1: backends.b1.loadBalancer.methd: unknown key, ignored (did you mean \"method\"?)",
        ]
    );
    // In dynamic mode only the top-level key is expected to be foreign.
    let dynamic = load_dynamic("trafik.toml", text).unwrap();
    assert_eq!(
        messages(&dynamic.warnings),
        [
            "trafik.toml:4:1: backends.b1.loadBalancer.methd: unknown key, ignored (did you mean \"method\"?)"
        ]
    );
}

#[test]
fn type_errors_are_located_at_the_value() {
    let text = SEED.replace("weight = 1", "weight = \"x\"");
    let err = load_static("trafik.toml", &text).unwrap_err();
    assert_eq!(
        messages(&err),
        [
            "trafik.toml:11:14: backends.httpecho.servers.server1.weight: invalid type: string \"x\", expected i64"
        ]
    );
    let err = load_dynamic("trafik.toml", &text).unwrap_err();
    assert_eq!(err[0].line, Some(11));

    let err = load_static("t.toml", "[lifeCycle]\ngraceTimeOut = \"10 parsecs\"").unwrap_err();
    assert_eq!(err[0].line, Some(2));
    assert_eq!(err[0].col, Some(16));
    assert!(
        err[0]
            .message
            .starts_with("lifeCycle.graceTimeOut: invalid duration"),
        "{}",
        err[0]
    );

    let err = load_static("t.toml", "maxIdleConnsPerHost = -1").unwrap_err();
    assert_eq!(
        messages(&err),
        ["t.toml:1:23: maxIdleConnsPerHost: invalid value: integer `-1`, expected usize"]
    );

    let err = load_static("t.toml", "[backends.b.healthCheck]\nport = 70000").unwrap_err();
    assert!(
        messages(&err)[0].starts_with("t.toml:2:8: backends.b.healthCheck.port: invalid value"),
        "{:?}",
        err
    );

    let err = load_static("t.toml", "[entryPoints]\nhttp = \":80\"").unwrap_err();
    assert_eq!(
        messages(&err),
        ["t.toml:2:8: entryPoints.http: invalid type: string \":80\", expected struct EntryPoint"]
    );
}

#[test]
fn syntax_errors_are_located() {
    let err = load_static(
        "trafik.toml",
        "logLevel = \"DEBUG\"\n[entryPoints\naddress = \":80\"\n",
    )
    .unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!((err[0].line, err[0].col), (Some(2), Some(13)));
    assert!(err[0].message.contains("expected `]`"), "{}", err[0]);
    // toml's message, not its multi-line rendering with a source snippet.
    assert!(!err[0].message.contains('\n'));

    let err = load_static("trafik.toml", "[backends.b]\n[backends.b]\n").unwrap_err();
    assert_eq!(messages(&err), ["trafik.toml:2:11: duplicate key b"]);
}

#[test]
fn json_file_is_rejected() {
    let err = load_static("invalid_configuration.toml", "{\n  \"a\": 1\n}\n").unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!((err[0].line, err[0].col), (Some(1), Some(1)));
    assert!(err[0].message.contains("looks like JSON"), "{}", err[0]);
    assert!(load_dynamic("rules.toml", "{\"a\": 1}").is_err());
}

#[test]
fn empty_file_gives_defaults() {
    let loaded = load_static("t.toml", "").unwrap();
    assert_eq!(loaded.value, StaticConfig::default());
    assert!(loaded.warnings.is_empty());
    let dynamic = load_dynamic("t.toml", "# nothing\n").unwrap();
    assert!(dynamic.value.backends.is_empty() && dynamic.value.frontends.is_empty());
}

#[test]
fn durations_in_both_forms() {
    let text = "graceTimeOut = 5\n[lifeCycle]\nrequestAcceptGraceTimeout = \"300ms\"\ngraceTimeOut = \"1m30s\"\n\
                [respondingTimeouts]\nidleTimeout = 60\n";
    let cfg = load_static("t.toml", text).unwrap().value;
    assert_eq!(cfg.grace_time_out, Some(Duration::from_secs(5)));
    assert_eq!(cfg.effective_grace_timeout(), Duration::from_secs(5));
    assert_eq!(
        cfg.life_cycle.request_accept_grace_timeout,
        Duration::from_millis(300)
    );
    assert_eq!(cfg.life_cycle.grace_time_out, Duration::from_secs(90));
    assert_eq!(
        cfg.responding_timeouts.idle_timeout,
        Duration::from_secs(60)
    );

    let cfg = load_static("t.toml", "graceTimeOut = \"5s\"")
        .unwrap()
        .value;
    assert_eq!(cfg.effective_grace_timeout(), Duration::from_secs(5));
}

#[test]
fn no_entry_points_means_http_on_80() {
    let cfg = load_static("t.toml", "logLevel = \"INFO\"").unwrap().value;
    let eps = cfg.effective_entry_points();
    assert_eq!(eps.keys().collect::<Vec<_>>(), ["http"]);
    assert_eq!(eps["http"].address, ":80");
    assert_eq!(cfg.effective_default_entry_points(), ["http"]);
    assert_eq!(validate_static(&cfg), vec![]);
}

#[test]
fn api_sections_are_typed_and_opaque_tables_are_kept_as_json() {
    let text = "[api]\nentryPoint = \"admin\"\ndashboard = false\n[api.statistics]\n[entryPoints.https.tls]\n\
                [[entryPoints.https.tls.certificates]]\ncertFile = \"a.crt\"\nkeyFile = \"a.key\"\n";
    let loaded = load_static("t.toml", text).unwrap();
    assert!(loaded.warnings.is_empty());
    let api = loaded.value.api.clone().unwrap();
    assert_eq!(api.entry_point, "admin");
    assert!(!api.dashboard);
    // An empty table still gets v1's defaults.
    assert_eq!(api.statistics.unwrap().recent_errors, 10);
    let tls = loaded.value.entry_points.unwrap()["https"]
        .tls
        .clone()
        .unwrap();
    assert_eq!(tls.certificates.len(), 1);
    assert_eq!(tls.certificates[0].cert_file, "a.crt");
    assert_eq!(tls.certificates[0].key_file, "a.key");
}

/// Loads, validates and renders the problems as the server would print them.
fn dynamic_problems(text: &str) -> (trafik_config::Configuration, Vec<String>) {
    let static_cfg = load_static("trafik.toml", text).unwrap().value;
    let loaded = load_dynamic("trafik.toml", text).unwrap();
    let (eps, defaults) = dynamic_context(&static_cfg);
    let validated = validate_dynamic(
        &loaded.value,
        &DynamicContext {
            entry_points: &eps,
            default_entry_points: &defaults,
        },
    );
    let rendered = validated.problems.iter().map(|p| {
        p.to_diagnostic("trafik.toml", &loaded.locations)
            .to_string()
    });
    (validated.config, rendered.collect())
}

#[test]
fn invalid_dynamic_parts_are_dropped_and_located() {
    let text = r#"[entryPoints.http]
address = ":80"
[backends.b1.servers.ok]
url = "http://127.0.0.1:9000"
[backends.b1.servers.bad]
url = "127.0.0.1:9000"
[backends.b1.servers.neg]
url = "http://h"
weight = -2
[frontends.good]
backend = "b1"
[frontends.good.routes.r]
rule = "Path:/"
[frontends.lost]
backend = "b2"
[frontends.lost.routes.r]
rule = "Path:/"
[frontends.orphan]
[frontends.orphan.routes.r]
rule = "Path:/"
[frontends.routeless]
backend = "b1"
[frontends.blank]
backend = "b1"
entryPoints = ["http", "https"]
[frontends.blank.routes.r]
rule = ""
[frontends.blank.routes.s]
rule = "Host:x"
[frontends.nowhere]
backend = "b1"
entryPoints = ["https"]
[frontends.nowhere.routes.r]
rule = "Path:/"
"#;
    let (config, problems) = dynamic_problems(text);
    assert_eq!(
        config.backends["b1"].servers.keys().collect::<Vec<_>>(),
        ["ok"]
    );
    assert_eq!(
        config.frontends.keys().collect::<Vec<_>>(),
        ["blank", "good"]
    );
    assert_eq!(config.frontends["blank"].entry_points, ["http"]);
    assert_eq!(
        config.frontends["blank"].routes.keys().collect::<Vec<_>>(),
        ["s"]
    );
    assert_eq!(
        problems,
        [
            "trafik.toml:6:7: backend \"b1\" server \"bad\": invalid url \"127.0.0.1:9000\": expected scheme://host[:port]; server ignored",
            "trafik.toml:9:10: backend \"b1\" server \"neg\": negative weight -2; server ignored",
            "trafik.toml:27:8: frontend \"blank\" route \"r\": empty rule; route ignored",
            "trafik.toml:25:24: frontend \"blank\": unknown entry point \"https\"; ignored",
            "trafik.toml:15:11: frontend \"lost\": unknown backend \"b2\"; frontend ignored",
            "trafik.toml:32:16: frontend \"nowhere\": unknown entry point \"https\"; ignored",
            "trafik.toml:32:15: frontend \"nowhere\": no valid entry point left; frontend ignored",
            "trafik.toml:18:12: frontend \"orphan\": missing backend; frontend ignored",
            "trafik.toml:21:12: frontend \"routeless\": no routes; frontend ignored",
        ]
    );
}

#[test]
fn static_address_problems_are_located() {
    let text = "[entryPoints.a]\naddress = \":8080\"\n[entryPoints.b]\naddress = \"0.0.0.0:8080\"\n\
                [entryPoints.c]\naddress = \"[::1]:99999\"\n[entryPoints.d]\naddress = \"localhost:80\"\n\
                [entryPoints.e]\naddress = \"127.0.0.1:80\"\n";
    let loaded = load_static("trafik.toml", text).unwrap();
    let rendered: Vec<String> = validate_static(&loaded.value)
        .iter()
        .map(|p| {
            p.to_diagnostic("trafik.toml", &loaded.locations)
                .to_string()
        })
        .collect();
    assert_eq!(
        rendered,
        [
            "trafik.toml:4:11: entry points \"a\" and \"b\" both listen on port 8080 (\":8080\" and \"0.0.0.0:8080\")",
            "trafik.toml:6:11: entry point \"c\": invalid address \"[::1]:99999\": port 99999 is out of range (0-65535)",
        ]
    );
    assert_eq!(
        parse_address("[::1]:8080"),
        Ok((Some("::1".to_string()), 8080))
    );
}

#[test]
fn undeclared_default_entry_point_is_located() {
    let text =
        "defaultEntryPoints = [\"http\", \"https\"]\n[entryPoints.http]\naddress = \":80\"\n";
    let loaded = load_static("trafik.toml", text).unwrap();
    let problems = validate_static(&loaded.value);
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0]
            .to_diagnostic("trafik.toml", &loaded.locations)
            .to_string(),
        "trafik.toml:1:31: defaultEntryPoints: entry point \"https\" is not declared in [entryPoints]"
    );
}
