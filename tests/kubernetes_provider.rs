//! `[kubernetes]`: trafik as an Ingress controller, through the real trafik binary, against
//! the double of the Kubernetes API server in `tests/common/kube_api.rs` (list and watch
//! with resource versions, bookmarks, 410 Gone, 401, discovery, status PATCH): no
//! Kubernetes can run on these machines. One double per test (in-process, cheap); the
//! endpoints' addresses are 127.0.0.1 with the in-process backends' ports.

use crate::common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::by_host::{served_by, status_of, wait_served};
use common::kube_api::{KubeApi, objects};
use common::load::Load;
use common::{Backend, Trafik, client, free_port, get_json, provider_state};
use serde_json::{Value, json};

const TOKEN: &str = "sa-token-0123456789";

struct Ports {
    http: u16,
    https: u16,
    api: u16,
}

fn start(api: &KubeApi, extra: &str) -> (Trafik, Ports) {
    let p = Ports {
        http: free_port(),
        https: free_port(),
        api: free_port(),
    };
    let toml = format!(
        r#"defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.https]
address = "127.0.0.1:{https}"
  [entryPoints.https.tls]
[entryPoints.traefik]
address = "127.0.0.1:{api_port}"
[api]
[metrics.prometheus]
[kubernetes]
endpoint = "{endpoint}"
token = "{TOKEN}"
{extra}
"#,
        http = p.http,
        https = p.https,
        api_port = p.api,
        endpoint = api.url(),
    );
    (Trafik::start(&toml), p)
}

/// A double that wants the token, with trafik's IngressClass.
async fn cluster() -> KubeApi {
    let api = KubeApi::start().await;
    api.set_token(Some(TOKEN));
    api.put(objects::ingress_class("trafik"));
    api
}

/// Service `name` (port 80, named `http`) with one EndpointSlice per backend, all ready.
fn service(api: &KubeApi, name: &str, backends: &[&Backend]) {
    api.put(objects::service("default", name, 80, "http"));
    for (i, b) in backends.iter().enumerate() {
        api.put(objects::endpoint_slice(
            "default",
            name,
            &format!("{name}-{i}"),
            "http",
            b.addr.port(),
            1,
        ));
    }
}

/// An Ingress of class `trafik`, as `kubectl get -o json` shows one.
fn ingress(name: &str, annotations: Value, rules: Value, tls: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": "default",
            "generation": 1,
            "annotations": annotations
        },
        "spec": {"ingressClassName": "trafik", "rules": rules, "tls": tls},
        "status": {"loadBalancer": {}}
    })
}

/// One rule; without a host (`""`), the path on any host.
fn rule(host: &str, path: &str, path_type: &str, service: &str) -> Value {
    let mut rule = json!({"http": {"paths": [{
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": service, "port": {"number": 80}}}
    }]}});
    if !host.is_empty() {
        rule["host"] = json!(host);
    }
    rule
}

/// Polls `check` for up to `secs` seconds: kube's watcher backs off up to 30 s after
/// failures, more than `common::eventually`'s deadline.
async fn within<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path `host` + `path` reached its backend with.
async fn path_seen(port: u16, host: &str, path: &str) -> Option<(String, String)> {
    let r = client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("host", host)
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    Some((
        v["server"].as_str()?.to_string(),
        v["path"].as_str()?.to_string(),
    ))
}

#[tokio::test]
async fn an_ingress_with_two_hosts_and_paths_routes_to_two_services() {
    let api = cluster().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    service(&api, "one", &[&one]);
    service(&api, "two", &[&two]);
    api.put(ingress(
        "web",
        json!({}),
        json!([
            rule("one.k8s.test", "/", "Prefix", "one"),
            rule("two.k8s.test", "/api", "Prefix", "two")
        ]),
        json!([]),
    ));
    // Not trafik's: another controller's class.
    api.put(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "other", "namespace": "default",
                     "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {"rules": [rule("other.k8s.test", "/", "Prefix", "one")]}
    }));
    let (_trafik, p) = start(&api, "");

    wait_served(p.http, "one.k8s.test", "one").await;
    let seen = path_seen(p.http, "two.k8s.test", "/api/users").await;
    assert_eq!(seen, Some(("two".into(), "/api/users".into())));
    assert_eq!(
        status_of(p.http, "two.k8s.test").await,
        404,
        "/ is not under /api"
    );
    assert_eq!(status_of(p.http, "other.k8s.test").await, 404);

    let state = provider_state(p.api, "kubernetes").await;
    assert_eq!(state["store"]["up"], true, "{state}");
    // Every kind was listed, then watched.
    for plural in [
        "ingresses",
        "ingressclasses",
        "services",
        "endpointslices",
        "secrets",
    ] {
        assert!(api.requests(plural, "list") >= 1, "{plural} listed");
    }
    // The token is the provider's secret: nowhere in the API.
    for url in ["/api/providers", "/api/state", "/api/providers/kubernetes"] {
        let (_, body) = get_json(&format!("http://127.0.0.1:{}{url}", p.api)).await;
        assert!(!body.to_string().contains(TOKEN), "{url}: {body}");
    }

    // A new path on a live Ingress.
    api.put(ingress(
        "web",
        json!({}),
        json!([
            rule("one.k8s.test", "/", "Prefix", "one"),
            rule("two.k8s.test", "/", "Prefix", "two")
        ]),
        json!([]),
    ));
    wait_served(p.http, "two.k8s.test", "two").await;
    api.delete("Ingress", "default", "web");
    common::eventually("the deleted Ingress no longer served", || async {
        (status_of(p.http, "one.k8s.test").await == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_services_endpoint_slices_scaled_up_and_down_live() {
    let api = cluster().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    service(&api, "web", &[&one]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "web")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "");
    wait_served(p.http, "web.k8s.test", "one").await;

    // Scaled up: a second slice (a pod on another port).
    api.put(objects::endpoint_slice(
        "default",
        "web",
        "web-1",
        "http",
        two.addr.port(),
        1,
    ));
    wait_served(p.http, "web.k8s.test", "two").await;
    wait_served(p.http, "web.k8s.test", "one").await;

    // Scaled down: the first pod's slice gone.
    api.delete("EndpointSlice", "default", "web-0");
    common::eventually("web served by two alone", || async {
        for _ in 0..10 {
            if served_by(p.http, "web.k8s.test").await.as_deref() != Some("two") {
                return None;
            }
        }
        Some(())
    })
    .await;
}

#[tokio::test]
async fn tls_from_a_secret_is_served_by_sni() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    service(&api, "one", &[&one]);
    let ca = common::pki::Ca::new("Kube Test CA");
    let pem = ca.server(&["secure.k8s.test"], "Secure Ingress");
    api.put(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "secure-tls", "namespace": "default"},
        "data": {
            "tls.crt": base64(&pem.cert),
            "tls.key": base64(&pem.key)
        }
    }));
    api.put(ingress(
        "secure",
        json!({}),
        json!([rule("secure.k8s.test", "/", "Prefix", "one")]),
        json!([{"hosts": ["secure.k8s.test"], "secretName": "secure-tls"}]),
    ));
    let (_trafik, p) = start(&api, "");

    let client = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem.as_bytes()).unwrap())
        .resolve("secure.k8s.test", ([127, 0, 0, 1], p.https).into())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("https://secure.k8s.test:{}/", p.https);
    let body: Value = common::eventually("secure.k8s.test served over TLS", || async {
        let r = client.get(&url).send().await.ok()?;
        (r.status() == 200).then_some(())?;
        r.json().await.ok()
    })
    .await;
    assert_eq!(body["server"], "one");
}

#[tokio::test]
async fn annotations_strip_whitelist_and_authenticate_and_a_bad_one_names_the_ingress() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    service(&api, "one", &[&one]);
    api.put(ingress(
        "strip",
        json!({"traefik.ingress.kubernetes.io/rule-type": "PathPrefixStrip"}),
        json!([rule(
            "strip.k8s.test",
            "/api",
            "ImplementationSpecific",
            "one"
        )]),
        json!([]),
    ));
    api.put(ingress(
        "broken",
        json!({"ingress.kubernetes.io/priority": "high"}),
        json!([rule("broken.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    // Only a network the test's client is not in.
    api.put(ingress(
        "private",
        json!({"ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8"}),
        json!([rule("private.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    // Basic auth from an Opaque Secret (htpasswd lines, `test:test`).
    api.put(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "users", "namespace": "default"},
        "data": {"auth": base64("test:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n")}
    }));
    api.put(ingress(
        "guarded",
        json!({"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "users"}),
        json!([rule("guarded.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "");
    common::eventually("the whitelist refusing 127.0.0.1", || async {
        (status_of(p.http, "private.k8s.test").await == 403).then_some(())
    })
    .await;
    common::eventually("basic auth asked", || async {
        (status_of(p.http, "guarded.k8s.test").await == 401).then_some(())
    })
    .await;
    let r = client()
        .get(format!("http://127.0.0.1:{}/", p.http))
        .header("host", "guarded.k8s.test")
        .basic_auth("test", Some("test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let seen = common::eventually("the stripped path", || {
        path_seen(p.http, "strip.k8s.test", "/api/users")
    })
    .await;
    assert_eq!(seen, ("one".into(), "/users".into()));
    let error = common::eventually("the bad annotation in /api/state", || async {
        provider_state(p.api, "kubernetes").await["lastError"]
            .as_str()
            .map(String::from)
    })
    .await;
    assert!(
        error.contains("default/broken") && error.contains("priority"),
        "{error}"
    );
    assert_eq!(status_of(p.http, "broken.k8s.test").await, 404);
}

#[tokio::test]
async fn a_dropped_watch_resumes_from_its_version_without_listing_again() {
    let api = cluster().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    service(&api, "one", &[&one]);
    service(&api, "two", &[&two]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "");
    wait_served(p.http, "web.k8s.test", "one").await;
    let (lists, watches) = (
        api.requests("ingresses", "list"),
        api.requests("ingresses", "watch"),
    );

    api.drop_watches();
    // Changed while the watch is down or resuming: the resumed watch replays it.
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "two")]),
        json!([]),
    ));
    wait_served(p.http, "web.k8s.test", "two").await;
    assert!(
        api.requests("ingresses", "watch") > watches,
        "the watch was made again"
    );
    assert_eq!(
        api.requests("ingresses", "list"),
        lists,
        "resumed, not listed again"
    );
    assert_eq!(api.gone_sent(), 0);
}

#[tokio::test]
async fn bookmarks_keep_quiet_watches_resumable_after_the_history_expires() {
    let api = cluster().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    service(&api, "one", &[&one]);
    service(&api, "two", &[&two]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "");
    wait_served(p.http, "web.k8s.test", "one").await;

    // Services change: every other kind's watch sees nothing but a bookmark of the new
    // version (the double sends one a second to watches that asked for them).
    let bookmarks = api.bookmarks_sent();
    api.put(objects::service("default", "three", 80, "http"));
    common::eventually("bookmarks to the quiet watches", || async {
        // ingresses, ingressclasses, endpointslices, secrets
        (api.bookmarks_sent() >= bookmarks + 4).then_some(())
    })
    .await;
    let lists = api.requests("ingresses", "list");
    api.expire_history();
    api.drop_watches();
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "two")]),
        json!([]),
    ));
    wait_served(p.http, "web.k8s.test", "two").await;
    assert_eq!(api.gone_sent(), 0, "every watch resumed from its bookmark");
    assert_eq!(api.requests("ingresses", "list"), lists);
}

#[tokio::test]
async fn only_the_watched_namespaces_and_labelled_ingresses_are_served() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    for ns in ["team-a", "team-b"] {
        api.put(objects::service(ns, "one", 80, "http"));
        api.put(objects::endpoint_slice(
            ns,
            "one",
            "one-0",
            "http",
            one.addr.port(),
            1,
        ));
        for (name, labels) in [("shown", json!({"expose": "true"})), ("hidden", json!({}))] {
            let mut i = ingress(
                name,
                json!({}),
                json!([rule(&format!("{name}.{ns}.k8s.test"), "/", "Prefix", "one")]),
                json!([]),
            );
            i["metadata"]["namespace"] = json!(ns);
            i["metadata"]["labels"] = labels;
            api.put(i);
        }
    }
    let (_trafik, p) = start(
        &api,
        "namespaces = [\"team-a\"]\nlabelSelector = \"expose=true\"\n",
    );
    wait_served(p.http, "shown.team-a.k8s.test", "one").await;
    assert_eq!(status_of(p.http, "hidden.team-a.k8s.test").await, 404);
    assert_eq!(status_of(p.http, "shown.team-b.k8s.test").await, 404);
    assert_eq!(status_of(p.http, "hidden.team-b.k8s.test").await, 404);
}

#[tokio::test]
async fn gone_forces_a_relist_that_sees_the_change_made_in_the_gap() {
    let api = cluster().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    service(&api, "one", &[&one]);
    service(&api, "two", &[&two]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "");
    wait_served(p.http, "web.k8s.test", "one").await;
    let lists = api.requests("ingresses", "list");

    // Down; the change and the compaction happen while trafik cannot watch.
    api.stop();
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "two")]),
        json!([]),
    ));
    api.expire_history();
    api.restart().await;

    within(60, "the change made in the gap served", || async {
        (served_by(p.http, "web.k8s.test").await.as_deref() == Some("two")).then_some(())
    })
    .await;
    assert!(api.gone_sent() >= 1, "the resumed watch got 410");
    assert!(api.requests("ingresses", "list") > lists, "listed again");
}

#[tokio::test]
async fn without_the_token_the_error_shows_in_api_state() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    service(&api, "one", &[&one]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    api.set_token(Some("another-token"));
    let (_trafik, p) = start(&api, "");
    let store = common::eventually("the 401 in /api/state", || async {
        let store = provider_state(p.api, "kubernetes").await["store"].clone();
        (store["up"] == false).then_some(store)
    })
    .await;
    let error = store["error"].to_string();
    assert!(
        error.contains("401") || error.contains("Unauthorized"),
        "{store}"
    );
    assert!(api.unauthorized() >= 1);
    assert_eq!(status_of(p.http, "web.k8s.test").await, 404);

    // The right token again (a rotated secret): read and served.
    api.set_token(Some(TOKEN));
    within(60, "served once the token is accepted", || async {
        (served_by(p.http, "web.k8s.test").await.as_deref() == Some("one")).then_some(())
    })
    .await;
    assert_eq!(
        provider_state(p.api, "kubernetes").await["store"]["up"],
        true
    );
}

#[tokio::test]
async fn the_api_server_down_under_load_keeps_serving_and_recovers() {
    let api = cluster().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    service(&api, "one", &[&one]);
    service(&api, "two", &[&two]);
    // Any host: the load's requests carry none of their own.
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("", "/", "Prefix", "one")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "");
    wait_served(p.http, "web.k8s.test", "one").await;

    let load = Load::start(&format!("http://127.0.0.1:{}/", p.http), 4, 100_000);
    api.stop();
    common::eventually("kubernetes reported down", || async {
        (provider_state(p.api, "kubernetes").await["store"]["up"] == false).then_some(())
    })
    .await;
    // Down for a while under load: still served by the last configuration.
    let before = load.counts().ok;
    common::eventually("requests keep succeeding while the API is down", || async {
        (load.counts().ok > before + 50).then_some(())
    })
    .await;
    assert_eq!(
        served_by(p.http, "web.k8s.test").await.as_deref(),
        Some("one")
    );

    api.put(ingress(
        "web",
        json!({}),
        json!([rule("", "/", "Prefix", "two")]),
        json!([]),
    ));
    api.restart().await;
    within(60, "the change read after the restart", || async {
        (served_by(p.http, "web.k8s.test").await.as_deref() == Some("two")).then_some(())
    })
    .await;
    within(60, "kubernetes reported up", || async {
        (provider_state(p.api, "kubernetes").await["store"]["up"] == true).then_some(())
    })
    .await;
    let counts = load.stop().await;
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.ok > 0);
}

#[tokio::test]
async fn ingress_endpoint_publishes_the_address_in_the_ingress_status() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    let two = Backend::start("two").await;
    service(&api, "one", &[&one]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    api.put(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "other", "namespace": "default",
                     "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {"rules": [rule("other.k8s.test", "/", "Prefix", "one")]}
    }));
    // The Ingress watch lags: trafik lists the Ingresses, but does not see the MODIFIED
    // its own status PATCH makes until the watch is released.
    api.hold_watches("ingresses", true);
    let (_trafik, p) = start(
        &api,
        "[kubernetes.ingressEndpoint]\nip = \"192.0.2.10\"\nhostname = \"lb.k8s.test\"\n",
    );
    wait_served(p.http, "web.k8s.test", "one").await;
    let status = common::eventually("the status published", || async {
        let web = api.get("Ingress", "default", "web")?;
        let lb = web["status"]["loadBalancer"]["ingress"].clone();
        lb.is_array().then_some(lb)
    })
    .await;
    assert_eq!(
        status,
        json!([{"ip": "192.0.2.10", "hostname": "lb.k8s.test"}])
    );
    // Only trafik's Ingresses, and once.
    assert!(api.patches().iter().all(|(name, _)| name == "default/web"));
    assert_eq!(api.patches().len(), 1);
    // The Service's endpoints moved to another backend: a change trafik translates.
    let move_to = |backend: &Backend| {
        let port = backend.addr.port();
        api.put(objects::endpoint_slice(
            "default", "one", "one-0", "http", port, 1,
        ));
    };
    // Translated while trafik still sees the Ingress without the status it wrote: it does
    // not write it again.
    move_to(&two);
    wait_served(p.http, "web.k8s.test", "two").await;
    assert_eq!(api.patches().len(), 1);
    // Released, the MODIFIED arrives and changes nothing either.
    api.hold_watches("ingresses", false);
    move_to(&one);
    wait_served(p.http, "web.k8s.test", "one").await;
    assert_eq!(api.patches().len(), 1);
}

#[tokio::test]
async fn ingress_endpoint_publishes_a_published_services_load_balancer_address() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    service(&api, "one", &[&one]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let mut lb = objects::service("trafik", "trafik", 80, "http");
    lb["spec"]["type"] = json!("LoadBalancer");
    lb["status"] = json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.5", "ipMode": "VIP"}]}});
    api.put(lb);
    let (_trafik, p) = start(
        &api,
        "[kubernetes.ingressEndpoint]\npublishedService = \"trafik/trafik\"\n",
    );
    wait_served(p.http, "web.k8s.test", "one").await;
    let status = common::eventually("the service's address published", || async {
        let lb = api.get("Ingress", "default", "web")?["status"]["loadBalancer"]["ingress"].clone();
        lb.is_array().then_some(lb)
    })
    .await;
    assert_eq!(status, json!([{"ip": "203.0.113.5"}]));
}

#[tokio::test]
async fn endpoints_are_read_when_the_api_has_no_endpoint_slices() {
    let api = cluster().await;
    api.set_endpoint_slices(false);
    let one = Backend::start("one").await;
    api.put(objects::service("default", "one", 80, "http"));
    api.put(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "one", "namespace": "default"},
        "subsets": [{
            "addresses": [{"ip": "127.0.0.1", "targetRef": {"kind": "Pod", "namespace": "default", "name": "one-0"}}],
            "ports": [{"name": "http", "port": one.addr.port(), "protocol": "TCP"}]
        }]
    }));
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "");
    wait_served(p.http, "web.k8s.test", "one").await;
    assert!(api.requests("endpoints", "list") >= 1);
    assert_eq!(api.requests("endpointslices", "list"), 0);
}

#[tokio::test]
async fn trafik_check_reads_the_cluster_once_and_names_a_bad_ingress() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    service(&api, "one", &[&one]);
    api.put(ingress(
        "web",
        json!({}),
        json!([rule("web.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    api.put(ingress(
        "broken",
        json!({"ingress.kubernetes.io/priority": "high"}),
        json!([rule("broken.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[kubernetes]\nendpoint = \"{}\"\ntoken = \"{TOKEN}\"\n",
        free_port(),
        api.url()
    );
    std::fs::write(dir.path().join("trafik.toml"), toml).unwrap();
    let path = dir.path().to_path_buf();
    let (status, stdout, stderr) =
        tokio::task::spawn_blocking(move || common::run_trafik(&["check"], &path))
            .await
            .unwrap();
    assert!(!status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("default/broken") && stderr.contains("priority"),
        "{stdout}{stderr}"
    );
    assert_eq!(api.requests("ingresses", "list"), 1);
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn without_an_endpoint_the_kubeconfig_is_read() {
    let api = cluster().await;
    let one = Backend::start("one").await;
    service(&api, "one", &[&one]);
    api.put(ingress(
        "broken",
        json!({"ingress.kubernetes.io/priority": "high"}),
        json!([rule("broken.k8s.test", "/", "Prefix", "one")]),
        json!([]),
    ));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: {}\n\
         users:\n- name: trafik\n  user:\n    token: {TOKEN}\ncontexts:\n- name: double\n  \
         context:\n    cluster: double\n    user: trafik\n    namespace: default\n\
         current-context: double\n",
        api.url()
    );
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[kubernetes]\n",
        free_port()
    );
    std::fs::write(dir.path().join("trafik.toml"), toml).unwrap();
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::bin())
            .arg("check")
            .current_dir(&path)
            .env("KUBECONFIG", path.join("kubeconfig"))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Reached with the kubeconfig's token: the cluster was read and the bad Ingress named.
    assert!(
        stderr.contains("default/broken") && stderr.contains("priority"),
        "{stderr}"
    );
    assert_eq!(api.unauthorized(), 0);
    assert_eq!(api.requests("ingresses", "list"), 1);
}

/// `throttleDuration` holds a change back that long (and gathers what comes meanwhile): the
/// second Ingress is not served before 5 s have passed. A lower bound only (a loaded
/// machine can only make it later), and longer than the aggregator's own 2 s throttle, so
/// only `[kubernetes] throttleDuration` can explain it.
#[tokio::test]
async fn throttle_duration_holds_a_change_back_that_long() {
    let api = cluster().await;
    let web = Backend::start("web").await;
    service(&api, "web", &[&web]);
    api.put(ingress(
        "first",
        json!({}),
        json!([rule("first.k8s.test", "/", "Prefix", "web")]),
        json!([]),
    ));
    let (_trafik, p) = start(&api, "throttleDuration = \"5s\"");
    wait_served(p.http, "first.k8s.test", "web").await;

    let since = Instant::now();
    api.put(ingress(
        "second",
        json!({}),
        json!([rule("second.k8s.test", "/", "Prefix", "web")]),
        json!([]),
    ));
    within(60, "second.k8s.test served", || async {
        (served_by(p.http, "second.k8s.test").await.as_deref() == Some("web")).then_some(())
    })
    .await;
    let took = since.elapsed();
    assert!(
        took >= Duration::from_millis(4900),
        "served after {took:?}, before throttleDuration's 5 s"
    );
}
