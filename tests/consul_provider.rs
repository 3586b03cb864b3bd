//! `[consul]`: v1's key-value layout read from Consul's KV over its HTTP API, through the
//! real trafik binary. No Consul server can be installed here: the store is the double of
//! Consul's HTTP API in `tests/common/consul.rs` (KV, blocking queries, ACL tokens), one per
//! test (it is in-process and cheap), each test under its own prefix all the same.

use crate::common;
use common::by_host::{served_by, wait_served};

use std::time::Duration;

use common::consul::ConsulDouble;
use common::load::Load;
use common::{Backend, Trafik, client, eventually, free_port, provider_state};

struct Ports {
    http: u16,
    alt: u16,
    api: u16,
}

fn ports() -> Ports {
    Ports {
        http: free_port(),
        alt: free_port(),
        api: free_port(),
    }
}

/// trafik with entry points `http` and `alt`, the API and Prometheus on `traefik`, and
/// `[consul]` on `double` with `extra` lines added to the table.
fn config(p: &Ports, double: &ConsulDouble, prefix: &str, extra: &str) -> String {
    format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.alt]
address = "127.0.0.1:{alt}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[metrics.prometheus]
[consul]
endpoint = "{endpoint}"
prefix = "{prefix}"
{extra}
"#,
        http = p.http,
        alt = p.alt,
        api = p.api,
        endpoint = double.endpoint(),
    )
}

/// The keys of one backend `b` with one server, and one frontend `f` routing `host` to it.
fn site(prefix: &str, name: &str, url: &str, host: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("{prefix}/backends/{name}/servers/s1/url"),
            url.to_string(),
        ),
        (
            format!("{prefix}/frontends/{name}/backend"),
            name.to_string(),
        ),
        (
            format!("{prefix}/frontends/{name}/routes/r/rule"),
            format!("Host:{host}"),
        ),
    ]
}

fn put_all(double: &ConsulDouble, pairs: &[(String, String)]) {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    double.put_many(&refs);
}

async fn wait_unrouted(port: u16, host: &str) {
    let what = format!("{host} on :{port} no longer routed");
    eventually(&what, || async {
        let r = client()
            .get(format!("http://127.0.0.1:{port}/"))
            .header("host", host)
            .send()
            .await
            .ok()?;
        (r.status() == 404).then_some(())
    })
    .await;
}

/// `eventually` with a longer deadline: after an outage the provider's backoff (up to 16 s
/// by then) comes before the next read.
async fn within_a_minute<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric_line(api: u16, name: &str) -> Option<String> {
    let text = client()
        .get(format!("http://127.0.0.1:{api}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(name) && l.contains("provider=\"consul\""))
        .map(str::to_string)
}

#[tokio::test]
async fn a_v1_layout_loads_and_follows_live_changes() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let p = ports();
    // Started on an empty prefix: Consul answers 404 (with an index) and trafik blocks on it.
    let trafik = Trafik::start(&config(&p, &double, "live", ""));
    eventually("consul store up on an empty prefix", || async {
        let s = provider_state(p.api, "consul").await;
        (s["store"]["up"] == true).then_some(())
    })
    .await;

    put_all(&double, &site("live", "a", &one.url(), "a.test"));
    wait_served(p.http, "a.test", "one").await;

    // Add a frontend live.
    put_all(&double, &site("live", "b", &two.url(), "b.test"));
    wait_served(p.http, "b.test", "two").await;

    // Change a server's URL live.
    double.put("live/backends/a/servers/s1/url", &two.url());
    wait_served(p.http, "a.test", "two").await;

    // Delete a frontend (its folder, recursively) live.
    double.delete("live/frontends/b/", true);
    wait_unrouted(p.http, "b.test").await;
    assert_eq!(served_by(p.http, "a.test").await.as_deref(), Some("two"));
    assert!(
        double.blocking_queries() > 0,
        "changes were followed by blocking queries"
    );
    drop(trafik);
}

#[tokio::test]
async fn lists_read_in_both_forms() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    let p = ports();
    let mut keys = site("lists", "csv", &one.url(), "csv.test");
    keys.extend(site("lists", "indexed", &one.url(), "indexed.test"));
    // A CSV string at the key…
    keys.push(("lists/frontends/csv/entrypoints".into(), "http, alt".into()));
    // …or indexed sub-keys.
    keys.push(("lists/frontends/indexed/entrypoints/0".into(), "alt".into()));
    put_all(&double, &keys);
    let _trafik = Trafik::start(&config(&p, &double, "lists", ""));

    wait_served(p.alt, "indexed.test", "one").await;
    wait_served(p.alt, "csv.test", "one").await;
    wait_served(p.http, "csv.test", "one").await;
    // `indexed` is on `alt` only.
    wait_unrouted(p.http, "indexed.test").await;
}

#[tokio::test]
async fn the_alias_switches_between_trees_and_its_target_is_watched() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let p = ports();
    let mut keys = site("aliased/v1", "a", &one.url(), "a.test");
    keys.extend(site("aliased/v2", "a", &two.url(), "a.test"));
    keys.push(("front/alias".into(), "aliased/v1".into()));
    put_all(&double, &keys);
    let _trafik = Trafik::start(&config(&p, &double, "front", ""));
    wait_served(p.http, "a.test", "one").await;

    // Switch the whole configuration with one key.
    double.put("front/alias", "aliased/v2/");
    wait_served(p.http, "a.test", "two").await;

    // A change under the alias's target is followed too.
    put_all(&double, &site("aliased/v2", "c", &one.url(), "c.test"));
    wait_served(p.http, "c.test", "one").await;
}

#[tokio::test]
async fn a_bad_key_is_named_by_its_full_key_and_the_rest_serves() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    let p = ports();
    let mut keys = site("badkey", "good", &one.url(), "good.test");
    keys.extend(site("badkey", "bad", &one.url(), "bad.test"));
    keys.push((
        "badkey/backends/bad/servers/s1/weight".into(),
        "heavy".into(),
    ));
    put_all(&double, &keys);
    let trafik = Trafik::start(&config(&p, &double, "badkey", ""));

    wait_served(p.http, "good.test", "one").await;
    let error = eventually("the bad key reported in /api/state", || async {
        let s = provider_state(p.api, "consul").await;
        s["lastError"].as_str().map(str::to_string)
    })
    .await;
    assert!(
        error.contains("badkey/backends/bad/servers/s1/weight"),
        "{error}"
    );
    assert!(
        trafik
            .logs()
            .contains("badkey/backends/bad/servers/s1/weight"),
        "{}",
        trafik.logs()
    );
    // Its backend is left out, so its frontend cannot route; the good one serves.
    assert_eq!(served_by(p.http, "bad.test").await, None);
    assert_eq!(served_by(p.http, "good.test").await.as_deref(), Some("one"));
}

#[tokio::test]
async fn consul_stopped_under_load_takes_nothing_away_and_changes_resume() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let p = ports();
    put_all(&double, &site("outage", "a", &one.url(), "a.test"));
    // `alt` serves a catch-all for the load (the load client cannot set a Host header).
    put_all(
        &double,
        &[
            ("outage/frontends/load/backend".into(), "a".into()),
            ("outage/frontends/load/entrypoints".into(), "alt".into()),
            (
                "outage/frontends/load/routes/r/rule".into(),
                "PathPrefix:/".into(),
            ),
        ],
    );
    let _trafik = Trafik::start(&config(&p, &double, "outage", ""));
    wait_served(p.http, "a.test", "one").await;
    let load_url = format!("http://127.0.0.1:{}/", p.alt);
    eventually("the load route", || async {
        let r = client().get(&load_url).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let load = Load::start(&load_url, 4, 20_000);

    double.stop();
    eventually("traefik_provider_up 0 while Consul is down", || async {
        let line = metric_line(p.api, "traefik_provider_up").await?;
        line.ends_with(" 0").then_some(())
    })
    .await;
    let s = provider_state(p.api, "consul").await;
    assert_eq!(s["store"]["up"], false, "{s}");
    assert!(
        s["store"]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{s}"
    );
    assert_eq!(served_by(p.http, "a.test").await.as_deref(), Some("one"));

    double.restart().await;
    within_a_minute("traefik_provider_up 1 once Consul is back", || async {
        let line = metric_line(p.api, "traefik_provider_up").await?;
        line.ends_with(" 1").then_some(())
    })
    .await;
    double.put("outage/backends/a/servers/s1/url", &two.url());
    wait_served(p.http, "a.test", "two").await;

    let counts = load.stop().await;
    assert!(counts.ok > 0, "{counts:?}");
    assert_eq!(counts.failed, 0, "{counts:?}");
}

#[tokio::test]
async fn the_acl_token_is_sent_and_a_wrong_one_is_a_clear_error_that_loses_nothing() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    double.set_token(Some("s3cret"));
    put_all(&double, &site("acl", "a", &one.url(), "a.test"));

    let good = ports();
    let _good = Trafik::start(&config(&good, &double, "acl", "token = \"s3cret\""));
    wait_served(good.http, "a.test", "one").await;

    let bad = ports();
    let _bad = Trafik::start(&config(&bad, &double, "acl", "token = \"wrong\""));
    let error = eventually("the wrong token reported", || async {
        let s = provider_state(bad.api, "consul").await;
        s["store"]["error"].as_str().map(str::to_string)
    })
    .await;
    assert!(error.contains("403") && error.contains("token"), "{error}");
    assert!(error.contains("ACL not found"), "{error}");
    assert_eq!(served_by(bad.http, "a.test").await, None);

    // The token is revoked under a running trafik: an outage, the routes stay.
    double.set_token(Some("rotated"));
    double.put("acl/backends/a/servers/s1/url", &two.url());
    eventually("the revoked token reported", || async {
        let s = provider_state(good.api, "consul").await;
        (s["store"]["up"] == false).then_some(())
    })
    .await;
    assert_eq!(served_by(good.http, "a.test").await.as_deref(), Some("one"));

    // The token back: the change made meanwhile is read.
    double.set_token(Some("s3cret"));
    within_a_minute("the change read once the token works again", || async {
        (served_by(good.http, "a.test").await.as_deref() == Some("two")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn watch_false_reads_once_and_makes_no_blocking_query() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    put_all(&double, &site("once", "a", &one.url(), "a.test"));

    let p = ports();
    let _once = Trafik::start(&config(
        &p,
        &double,
        "once",
        "watch = false\ntoken = \"once\"",
    ));
    wait_served(p.http, "a.test", "one").await;

    // A watching trafik on the same keys is the witness that the change was there to see.
    let w = ports();
    let _witness = Trafik::start(&config(&w, &double, "once", "token = \"witness\""));
    wait_served(w.http, "a.test", "one").await;
    double.put("once/backends/a/servers/s1/url", &two.url());
    wait_served(w.http, "a.test", "two").await;
    // Past at least one more blocking round of the witness (the double holds 2 s at most).
    let seen = double.blocking_queries_by("witness");
    eventually("the witness blocked again", || async {
        (double.blocking_queries_by("witness") > seen).then_some(())
    })
    .await;

    assert_eq!(served_by(p.http, "a.test").await.as_deref(), Some("one"));
    assert_eq!(double.blocking_queries_by("once"), 0);
}

#[tokio::test]
async fn a_wait_that_runs_out_blocks_again_without_a_storm() {
    let double = ConsulDouble::start().await;
    double.set_max_wait(Duration::from_millis(100));
    let one = Backend::start("one").await;
    put_all(&double, &site("quiet", "a", &one.url(), "a.test"));
    let p = ports();
    let _trafik = Trafik::start(&config(&p, &double, "quiet", ""));
    wait_served(p.http, "a.test", "one").await;
    let before = double.blocking_queries();
    // The double answers every 100 ms without a change; the provider may re-poll at most
    // every 250 ms (Consul's docs ask clients to rate-limit), so 20 more queries take ≥ 4.75 s.
    let start = std::time::Instant::now();
    eventually("20 more blocking queries", || async {
        (double.blocking_queries() >= before + 20).then_some(())
    })
    .await;
    assert!(
        start.elapsed() >= Duration::from_millis(4_750),
        "re-polls not rate-limited: 20 in {:?}",
        start.elapsed()
    );
    let s = provider_state(p.api, "consul").await;
    assert_eq!(s["store"]["up"], true, "{s}");
}

#[tokio::test]
async fn storeconfig_writes_go_through_transactions() {
    use trafik::provider::kv::Store;
    let double = ConsulDouble::start().await;
    let table = trafik_config::KvProvider {
        endpoint: Some(format!("http://{}", double.endpoint())),
        ..Default::default()
    };
    let mut store = trafik::provider::consul::store(&table, std::path::Path::new("/")).unwrap();
    let pairs: Vec<(String, Vec<u8>)> = (0..130)
        .map(|i| (format!("written/k{i:03}"), format!("v{i}").into_bytes()))
        .collect();
    store.put(&pairs).await.unwrap();
    assert_eq!(double.get("written/k000").as_deref(), Some("v0"));
    assert_eq!(double.get("written/k129").as_deref(), Some("v129"));
    let mut read = store.list("written").await.unwrap();
    read.sort();
    assert_eq!(read, pairs);
    // An empty prefix is no error.
    assert_eq!(store.list("nothing/here").await.unwrap(), vec![]);
}

#[tokio::test]
async fn trafik_check_reads_consul_once_and_names_a_bad_key() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    let mut keys = site("checked", "a", &one.url(), "a.test");
    keys.push((
        "checked/backends/a/servers/s1/weight".into(),
        "heavy".into(),
    ));
    put_all(&double, &keys);
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[consul]\nendpoint = \"{}\"\nprefix = \"checked\"\n",
        free_port(),
        double.endpoint()
    );
    std::fs::write(dir.path().join("trafik.toml"), toml).unwrap();
    let path = dir.path().to_path_buf();
    // `check` runs to completion while this runtime keeps the double answering.
    let (status, stdout, stderr) =
        tokio::task::spawn_blocking(move || common::run_trafik(&["check"], &path))
            .await
            .unwrap();
    assert!(!status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("checked/backends/a/servers/s1/weight"),
        "{stdout}{stderr}"
    );
}

#[tokio::test]
async fn an_index_that_goes_backwards_means_a_full_read_again() {
    let double = ConsulDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    put_all(&double, &site("restored", "a", &one.url(), "a.test"));
    for i in 0..20 {
        double.put(&format!("elsewhere/k{i}"), "x");
    }
    let p = ports();
    let _trafik = Trafik::start(&config(&p, &double, "restored", ""));
    wait_served(p.http, "a.test", "one").await;
    let waited = double.index();

    // Consul restored from an older snapshot: a lower index, and different data. A watcher
    // that kept blocking on its (now future) index would never see it.
    double.restore(
        waited - 10,
        "restored/backends/a/servers/s1/url",
        &two.url(),
    );
    wait_served(p.http, "a.test", "two").await;
}

#[tokio::test]
async fn tls_towards_consul_with_a_private_ca() {
    use common::pki::{Ca, server_config};
    let ca = Ca::new("Consul CA");
    let pem = ca.server(&["127.0.0.1", "localhost"], "Consul");
    let double = ConsulDouble::start_tls(server_config(&pem)).await;
    let one = Backend::start("one").await;
    put_all(&double, &site("tls", "a", &one.url(), "a.test"));

    // A bare endpoint with [consul.tls] is https://; the CA given as a file beside trafik.toml.
    let p = ports();
    let toml = config(
        &p,
        &double,
        "tls",
        "  [consul.tls]\n  ca = \"consul-ca.pem\"",
    );
    let _trafik = Trafik::start_with(&toml, &[("consul-ca.pem", &ca.cert_pem)]);
    wait_served(p.http, "a.test", "one").await;

    // Another CA: the certificate is refused, a clear error, nothing served from it.
    let other = Ca::new("Other CA");
    let q = ports();
    let toml = config(
        &q,
        &double,
        "tls",
        "  [consul.tls]\n  ca = \"other-ca.pem\"",
    );
    let _refused = Trafik::start_with(&toml, &[("other-ca.pem", &other.cert_pem)]);
    let error = eventually("the TLS failure reported", || async {
        provider_state(q.api, "consul").await["store"]["error"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("https://") && error.contains("invalid peer certificate"),
        "{error}"
    );
    assert_eq!(served_by(q.http, "a.test").await, None);
}

#[tokio::test]
async fn username_and_password_are_sent_as_basic_auth() {
    let double = ConsulDouble::start().await;
    let one = Backend::start("one").await;
    put_all(&double, &site("basic", "a", &one.url(), "a.test"));
    let p = ports();
    let extra = "username = \"ops\"\npassword = \"pa:ss\"";
    let _trafik = Trafik::start(&config(&p, &double, "basic", extra));
    wait_served(p.http, "a.test", "one").await;
    // base64("ops:pa:ss")
    assert_eq!(
        double.last_authorization().as_deref(),
        Some("Basic b3BzOnBhOnNz")
    );
}
