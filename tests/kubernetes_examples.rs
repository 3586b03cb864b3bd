//! `examples/kubernetes/`'s manifests cannot rot: every document parses into its
//! k8s-openapi type and back without losing a field (a misspelt field would be dropped by
//! the typed parse, and the round trip would differ), trafik.toml in the ConfigMap loads,
//! the ClusterRole grants what the provider reads and nothing it does not need, and the
//! sample Ingress is one trafik serves.

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Every document of every manifest, with the file it came from.
fn documents() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifest in {}", dir.display());
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            out.push((file.display().to_string(), doc));
        }
    }
    out
}

/// `doc` as a `K`, checked to round-trip to the same JSON.
fn typed<K: DeserializeOwned + Serialize>(file: &str, doc: &Value) -> K {
    let object: K = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{file}: {} {}: {e}", doc["kind"], doc["metadata"]["name"]));
    let back = serde_json::to_value(&object).unwrap();
    assert_eq!(&back, doc, "{file}: a field was not understood (misspelt?)");
    object
}

fn only<K: DeserializeOwned + Serialize>(docs: &[(String, Value)], kind: &str) -> Vec<K> {
    docs.iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(f, d)| typed(f, d))
        .collect()
}

#[test]
fn every_manifest_parses_into_its_type() {
    let docs = documents();
    for (file, doc) in &docs {
        match doc["kind"].as_str().unwrap_or("") {
            "Namespace" => drop(typed::<Namespace>(file, doc)),
            "ServiceAccount" => drop(typed::<ServiceAccount>(file, doc)),
            "ClusterRole" => drop(typed::<ClusterRole>(file, doc)),
            "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(file, doc)),
            "ConfigMap" => drop(typed::<ConfigMap>(file, doc)),
            "Deployment" => drop(typed::<Deployment>(file, doc)),
            "Service" => drop(typed::<Service>(file, doc)),
            "IngressClass" => drop(typed::<IngressClass>(file, doc)),
            "Ingress" => drop(typed::<Ingress>(file, doc)),
            other => panic!("{file}: kind {other:?} is not checked here"),
        }
    }
}

#[test]
fn the_config_map_holds_a_trafik_toml_that_loads() {
    let docs = documents();
    let maps: Vec<ConfigMap> = only(&docs, "ConfigMap");
    let toml = &maps[0].data.as_ref().unwrap()["trafik.toml"];
    let loaded = trafik_config::load_static("trafik.toml", toml).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let k = loaded.value.kubernetes.expect("[kubernetes]");
    assert!(k.endpoint.is_empty(), "in-cluster: no endpoint");
    assert_eq!(
        k.ingress_endpoint.unwrap().published_service,
        "trafik/trafik"
    );
}

#[test]
fn the_cluster_role_grants_what_the_provider_reads_and_no_more() {
    let docs = documents();
    let roles: Vec<ClusterRole> = only(&docs, "ClusterRole");
    let rules = roles[0].rules.clone().unwrap();
    let mut granted = Vec::new();
    for r in &rules {
        for group in r.api_groups.clone().unwrap_or_default() {
            for resource in r.resources.clone().unwrap_or_default() {
                for verb in &r.verbs {
                    granted.push(format!("{group}/{resource}:{verb}"));
                }
            }
        }
    }
    granted.sort();
    let mut wanted: Vec<String> = [
        "/services",
        "/endpoints",
        "/secrets",
        "discovery.k8s.io/endpointslices",
        "networking.k8s.io/ingresses",
        "networking.k8s.io/ingressclasses",
    ]
    .iter()
    .flat_map(|r| ["get", "list", "watch"].map(|v| format!("{r}:{v}")))
    .chain(["networking.k8s.io/ingresses/status:patch".to_string()])
    .chain(["networking.k8s.io/ingresses/status:update".to_string()])
    .collect();
    wanted.sort();
    assert_eq!(granted, wanted);
}

#[test]
fn the_sample_ingress_is_served_by_trafik() {
    let docs = documents();
    let cluster = trafik_config::kubernetes::Cluster {
        ingresses: only(&docs, "Ingress"),
        ingress_classes: only(&docs, "IngressClass"),
        services: only(&docs, "Service"),
        ..Default::default()
    };
    let class = &cluster.ingress_classes[0];
    assert_eq!(
        class.spec.as_ref().unwrap().controller.as_deref(),
        Some(trafik_config::kubernetes::CONTROLLER)
    );
    let translated = trafik_config::kubernetes::translate(&Default::default(), &cluster);
    assert!(translated.problems.is_empty(), "{:?}", translated.problems);
    let rules: Vec<String> = translated
        .configuration
        .frontends
        .values()
        .flat_map(|f| f.routes.values().map(|r| r.rule.clone()))
        .collect();
    assert!(
        rules.iter().any(|r| r.contains("whoami.localhost")),
        "{rules:?}"
    );
}
