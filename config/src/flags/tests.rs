use proptest::prelude::*;

use super::*;
use crate::Duration;
use crate::model::{EntryPoint, KvProvider, Redirect, StaticConfig};

fn from_flags(flags: &[&str]) -> Result<StaticConfig, String> {
    merge(&StaticConfig::default(), &[parse_flags(flags)?]).map(|m| m.config)
}

#[test]
fn flags_set_every_kind_of_value_ignoring_case() {
    let cfg = from_flags(&[
        "--logLevel=DEBUG",
        "--DEBUG",
        "--defaultentrypoints=http,https",
        "--entryPoints.http.address=:8080",
        "--entrypoints.http.compress",
        "--entryPoints.https.address=:8443",
        "--entryPoints.https.tls.certificates.0.certFile=c.pem",
        "--entryPoints.https.tls.certificates.0.keyFile=k.pem",
        "--respondingTimeouts.idleTimeout=90",
        "--lifeCycle.graceTimeOut=1m30s",
        "--maxIdleConnsPerHost=7",
        "--insecureSkipVerify=false",
        "--metrics.prometheus.buckets=0.5,1.5",
        "--accessLog.filePath=/tmp/a.log",
    ])
    .unwrap();
    assert_eq!(cfg.log_level.as_deref(), Some("DEBUG"));
    assert!(cfg.debug);
    assert_eq!(
        cfg.default_entry_points,
        Some(vec!["http".to_string(), "https".to_string()])
    );
    let eps = cfg.entry_points.unwrap();
    assert_eq!(eps["http"].address, ":8080");
    assert!(eps["http"].compress);
    let tls = eps["https"].tls.as_ref().unwrap();
    assert_eq!(tls.certificates[0].cert_file, "c.pem");
    assert_eq!(tls.certificates[0].key_file, "k.pem");
    assert_eq!(
        cfg.responding_timeouts.idle_timeout,
        Duration::from_secs(90)
    );
    assert_eq!(cfg.life_cycle.grace_time_out, Duration::from_secs(90));
    assert_eq!(cfg.max_idle_conns_per_host, 7);
    assert_eq!(cfg.metrics.unwrap().prometheus.unwrap().buckets, [0.5, 1.5]);
    assert_eq!(cfg.access_log.unwrap().file_path, "/tmp/a.log");
}

#[test]
fn a_section_name_alone_enables_it_with_its_defaults() {
    let cfg = from_flags(&["--api", "--etcd", "--file", "--consul.endpoint=127.0.0.1:1"]).unwrap();
    let api = cfg.api.unwrap();
    assert_eq!(api.entry_point, "traefik");
    assert!(api.dashboard);
    assert_eq!(cfg.etcd, Some(KvProvider::default()));
    assert!(cfg.file.unwrap().watch);
    assert_eq!(cfg.consul.unwrap().endpoint.as_deref(), Some("127.0.0.1:1"));
    // Enabling and then configuring, or the reverse, is one section.
    let cfg = from_flags(&["--etcd.prefix=/x", "--etcd"]).unwrap();
    assert_eq!(cfg.etcd.unwrap().prefix.as_deref(), Some("/x"));
}

#[test]
fn unknown_flags_and_bad_values_name_the_flag() {
    let err = from_flags(&["--entryPoints.http.adress=:80"]).unwrap_err();
    assert!(
        err.starts_with("--entryPoints.http.adress: unknown flag"),
        "{err}"
    );
    assert!(err.contains("did you mean \"address\""), "{err}");
    let err = from_flags(&["--nope"]).unwrap_err();
    assert!(err.starts_with("--nope: unknown flag"), "{err}");
    let err = from_flags(&["--debug=maybe"]).unwrap_err();
    assert_eq!(
        err,
        "--debug: invalid value \"maybe\": expected true or false"
    );
    let err = from_flags(&["--maxIdleConnsPerHost=-1"]).unwrap_err();
    assert!(
        err.starts_with("--maxIdleConnsPerHost: invalid value \"-1\""),
        "{err}"
    );
    let err = from_flags(&["--lifeCycle.graceTimeOut=10 parsecs"]).unwrap_err();
    assert!(
        err.starts_with("--lifeCycle.graceTimeOut: invalid duration"),
        "{err}"
    );
    let err = from_flags(&["--api=yes please"]).unwrap_err();
    assert!(err.starts_with("--api: expected a section"), "{err}");
    let err = from_flags(&["--logLevel.x=1"]).unwrap_err();
    assert!(err.starts_with("--logLevel.x: expected a value"), "{err}");
    let err = parse_flags(&["--backends.b.servers.s.url=http://x"]).unwrap_err();
    assert!(
        err.starts_with("--backends.b.servers.s.url: backends, frontends"),
        "{err}"
    );
    let err = parse_flags(&["-x"]).unwrap_err();
    assert!(err.contains("expected a flag"), "{err}");
    let err = parse_flags(&["--a..b=1"]).unwrap_err();
    assert!(err.starts_with("--a..b: empty"), "{err}");
    // v1 keys trafik does not implement say so.
    let err = from_flags(&["--tracing.backend=jaeger"]).unwrap_err();
    assert!(
        err.starts_with("--tracing.backend: unknown flag: "),
        "{err}"
    );
}

#[test]
fn v1_entry_point_strings() {
    let cfg = from_flags(&[
        "--entryPoints=Name:http Address::80 Redirect.EntryPoint:https Compress:true",
        "--entryPoints=Name:https Address:127.0.0.1:443 TLS:a.pem,a.key;b.pem,b.key \
         TLS.MinVersion:VersionTLS12 CA:ca.pem CA.Optional:true WhiteList.SourceRange:10.0.0.0/8,::1 \
         ProxyProtocol.TrustedIPs:10.0.0.1 Auth.Basic.Users:u:p,v:q Auth.HeaderField:X-User \
         Auth.Forward.Address:http://auth Auth.Forward.TLS.InsecureSkipVerify:true",
        "--entryPoints=Name:plain Address::81 TLS",
    ])
    .unwrap();
    let eps = cfg.entry_points.unwrap();
    assert_eq!(
        eps["http"],
        EntryPoint {
            address: ":80".into(),
            compress: true,
            redirect: Some(Redirect {
                entry_point: "https".into(),
                ..Redirect::default()
            }),
            ..EntryPoint::default()
        }
    );
    let https = &eps["https"];
    assert_eq!(https.address, "127.0.0.1:443");
    let tls = https.tls.as_ref().unwrap();
    assert_eq!(tls.certificates.len(), 2);
    assert_eq!(tls.certificates[1].cert_file, "b.pem");
    assert_eq!(tls.certificates[1].key_file, "b.key");
    assert_eq!(tls.min_version, "VersionTLS12");
    let ca = tls.client_ca.as_ref().unwrap();
    assert_eq!(
        (ca.files.as_slice(), ca.optional),
        (&["ca.pem".to_string()][..], true)
    );
    assert_eq!(
        https.white_list.as_ref().unwrap().source_range,
        ["10.0.0.0/8", "::1"]
    );
    assert_eq!(
        https.proxy_protocol.as_ref().unwrap().trusted_ips,
        ["10.0.0.1"]
    );
    let auth = https.auth.as_ref().unwrap();
    assert_eq!(auth.basic.as_ref().unwrap().users, ["u:p", "v:q"]);
    assert_eq!(auth.header_field, "X-User");
    let forward = auth.forward.as_ref().unwrap();
    assert_eq!(forward.address, "http://auth");
    assert!(forward.tls.as_ref().unwrap().insecure_skip_verify);
    // `TLS` alone: a TLS entry point with no certificate of its own.
    assert_eq!(eps["plain"].tls, Some(Default::default()));
}

#[test]
fn bad_entry_point_strings_are_refused_naming_the_flag() {
    for (text, expected) in [
        ("Address::80", "no Name:"),
        (
            "Name:x Address::80 ClientIPStrategy.Depth:2",
            "not supported",
        ),
        ("Name:x TLS:cert-only", "certFile,keyFile"),
        ("Name:x CA:ca.pem", "need TLS"),
        ("Name:x Compress:sometimes", "expected true or false"),
    ] {
        let err = from_flags(&[&format!("--entryPoints={text}")]).unwrap_err();
        assert!(err.starts_with("--entryPoints"), "{text}: {err}");
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn flags_win_over_the_file_key_by_key() {
    let file = crate::load_static(
        "t.toml",
        "logLevel = \"INFO\"\ndefaultEntryPoints = [\"http\", \"https\"]\n\
         [entryPoints.http]\naddress = \":80\"\ncompress = true\n\
         [entryPoints.https]\naddress = \":443\"\n[entryPoints.https.tls]\n\
         [backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n",
    )
    .unwrap()
    .value;
    let flags = parse_flags(&[
        "--entrypoints.http.address=:8080",
        "--defaultEntryPoints=http",
        "--loglevel=WARN",
    ])
    .unwrap();
    let merged = merge(&file, &[flags]).unwrap();
    let cfg = merged.config;
    assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    assert_eq!(cfg.log_level.as_deref(), Some("WARN"));
    assert_eq!(cfg.default_entry_points, Some(vec!["http".to_string()]));
    let eps = cfg.entry_points.unwrap();
    assert_eq!(eps["http"].address, ":8080");
    assert!(eps["http"].compress, "what the flags do not say stays");
    assert_eq!(eps["https"].tls, Some(Default::default()));
    assert_eq!(
        cfg.backends, file.backends,
        "the dynamic part is the file's"
    );
}

#[test]
fn the_example_files_read_back_unchanged_through_the_tree() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let file = crate::load_static("t.toml", &text).unwrap().value;
        let back = merge(&StaticConfig::default(), &[Tree::from_static(&file)]).unwrap();
        let mut expected = file.clone();
        expected.backends.clear();
        expected.frontends.clear();
        expected.tls.clear();
        assert_eq!(back.config, expected, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 2, "examples/ holds {seen} toml files");
}

fn arb_duration() -> impl Strategy<Value = Duration> {
    (0u64..100_000).prop_map(Duration::from_millis)
}

fn arb_word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.:/-]{1,12}"
}

prop_compose! {
    fn arb_entry_point()(
        address in "(127\\.0\\.0\\.1)?:[0-9]{1,5}",
        compress in any::<bool>(),
        redirect in proptest::option::of(arb_word()),
        tls in proptest::option::of(proptest::collection::vec((arb_word(), arb_word()), 0..3)),
        max_connections in 0usize..10_000,
    ) -> EntryPoint {
        EntryPoint {
            address,
            compress,
            redirect: redirect.map(|entry_point| Redirect { entry_point, ..Redirect::default() }),
            tls: tls.map(|certs| crate::model::EntryPointTls {
                certificates: certs
                    .into_iter()
                    .map(|(cert_file, key_file)| crate::model::Certificate { cert_file, key_file })
                    .collect(),
                ..Default::default()
            }),
            max_connections,
            ..EntryPoint::default()
        }
    }
}

prop_compose! {
    fn arb_config()(
        log_level in proptest::option::of("DEBUG|INFO|WARN|ERROR"),
        debug in any::<bool>(),
        default_entry_points in proptest::option::of(proptest::collection::vec(arb_word(), 0..3)),
        entry_points in proptest::option::of(
            proptest::collection::btree_map("[a-z][a-z0-9]{0,6}", arb_entry_point(), 0..3)
        ),
        grace in arb_duration(),
        idle in proptest::option::of(arb_duration()),
        throttle in arb_duration(),
        root_cas in proptest::collection::vec("[a-z0-9,/.]{1,10}", 0..3),
        etcd in proptest::option::of((proptest::option::of(arb_word()), any::<bool>())),
        api in any::<bool>(),
    ) -> StaticConfig {
        StaticConfig {
            log_level,
            debug,
            default_entry_points,
            entry_points,
            life_cycle: crate::model::LifeCycle { grace_time_out: grace, ..Default::default() },
            idle_timeout: idle,
            providers_throttle_duration: throttle,
            root_cas,
            etcd: etcd.map(|(endpoint, watch)| KvProvider { endpoint, watch, ..Default::default() }),
            api: api.then(Default::default),
            ..StaticConfig::default()
        }
    }
}

proptest! {
    /// A configuration written out as flags reads back the same (items holding commas
    /// included: lists are written by index).
    #[test]
    fn a_configuration_written_as_flags_reads_back_the_same(cfg in arb_config()) {
        let flags = to_flags(&cfg);
        let read = from_flags(&flags.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(read, Ok(cfg), "{:?}", flags);
    }

    /// Arbitrary flags never panic: they read, or are refused with a message.
    #[test]
    fn arbitrary_flags_never_panic(flags in proptest::collection::vec("--[a-zA-Z.]{0,20}(=[ -~]{0,20})?", 0..6)) {
        if let Ok(tree) = parse_flags(&flags) {
            let _ = merge(&StaticConfig::default(), &[tree]);
        }
    }
}
