//! The integration suite as one test binary: each `tests/<area>.rs` below is a module of it.
//!
//! One binary rather than one per file: every test binary links the whole of trafik and its
//! dependencies statically, and 61 of them took most of a clean build's disk (a CI machine
//! ran out of it) and a link each. Tests of different areas now share one process, which is
//! safe because no test here changes the process's environment, working directory or
//! limits, and each test starts its own trafik, backends and servers (the heavy servers,
//! such as etcd and ZooKeeper, once per binary as before).
//!
//! Four files stay binaries of their own (`[[test]]` in Cargo.toml), each for a reason:
//! `acme.rs` sets the environment its trafik processes inherit (lego's variables), and the
//! Docker tests (`docker_provider.rs`, `docker_swarm.rs`, `docker_engine_restart.rs`)
//! drive Docker Engines, which must not overlap with one another.
//!
//! A new `tests/<area>.rs` goes in the list below, or into Cargo.toml as a `[[test]]` with
//! its reason; `every_test_file_runs` fails when a file is in neither.

mod common;
mod raw_backend;
mod raw_h2;

mod access_log;
mod access_log_filters;
mod api;
mod backend_h1;
mod backend_pool;
mod backend_pool_idle;
mod boltdb_provider;
mod circuit_breaker;
mod compress;
mod consul_catalog_provider;
mod consul_provider;
mod dashboard;
mod error_pages;
mod errors;
mod etcd_provider;
mod file_provider;
mod flags;
mod forward_auth;
mod frontend_auth;
mod frontend_headers;
mod hardening_h2;
mod hardening_h2_floods;
mod hardening_headers;
mod hardening_limits;
mod hardening_paths;
mod hardening_smuggling;
mod hardening_timeouts;
mod health_check;
mod healthcheck;
mod kubernetes_examples;
mod kubernetes_provider;
mod limits;
mod load_balancing;
mod log_rotation;
mod marathon_provider;
mod mesos_provider;
mod middleware_order;
mod mtls;
mod provider_latency;
mod proxy_protocol;
mod rate_limit;
mod redirect;
mod redis_provider;
mod reload_many_frontends;
mod reload_under_load;
mod retry;
mod routing;
mod seed;
mod shutdown;
mod tls;
mod tls_backends;
mod tls_dynamic;
mod tls_resumption;
mod upgrade;
mod websocket;
mod whitelist;
mod zookeeper_provider;

/// Cargo no longer finds test files by itself (`autotests = false`): a file that is neither
/// a module here nor a `[[test]]` of its own would never run.
#[test]
fn every_test_file_runs() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let here = std::fs::read_to_string(format!("{dir}/integration.rs")).unwrap();
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let mut lost = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_suffix(".rs") else {
            continue;
        };
        let module = here.lines().any(|l| l == format!("mod {stem};"));
        let own = manifest.contains(&format!("path = \"tests/{name}\""));
        if !module && !own && stem != "integration" {
            lost.push(name);
        }
    }
    assert!(lost.is_empty(), "test files that never run: {lost:?}");
}
