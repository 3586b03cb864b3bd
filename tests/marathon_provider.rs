//! `[marathon]`: Marathon's applications and their tasks become backends and frontends,
//! through the real trafik binary, against the double of Marathon's REST API in
//! `tests/common/marathon.rs` (`/v2/apps` with tasks embedded, the `/v2/events` stream):
//! Marathon cannot be run here. The tasks are in-process `Backend`s on 127.0.0.1, their
//! ports the tasks' host ports. One double per test (in-process, cheap).

use crate::common;
use common::by_host::{served_by, status_of, wait_served};

use std::collections::BTreeSet;

use common::load::Load;
use common::marathon::MarathonDouble;
use common::{Backend, Trafik, eventually, free_port, get_json, provider_state};

struct Ports {
    http: u16,
    api: u16,
}

fn start(double: &MarathonDouble, extra: &str) -> (Trafik, Ports) {
    let p = Ports {
        http: free_port(),
        api: free_port(),
    };
    let toml = format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[marathon]
endpoint = "{endpoint}"
domain = "marathon.test"
{extra}
"#,
        http = p.http,
        api = p.api,
        endpoint = double.endpoint(),
    );
    (Trafik::start(&toml), p)
}

fn port(b: &Backend) -> u16 {
    b.addr.port()
}

/// Waits until twenty answers for `host` come from exactly the backends `by`.
async fn wait_only(port: u16, host: &str, by: &[&str]) {
    let want: BTreeSet<String> = by.iter().map(|s| s.to_string()).collect();
    let what = format!("{host} served by {by:?} alone");
    eventually(&what, || async {
        let mut seen = BTreeSet::new();
        for _ in 0..20 {
            seen.insert(served_by(port, host).await?);
        }
        (seen == want).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_app_is_deployed_scaled_and_destroyed_through_events() {
    let double = MarathonDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let (_trafik, p) = start(&double, "");
    // Nothing deployed yet: trafik is up and follows the event stream.
    eventually("subscribed to /v2/events", || async {
        (double.subscriptions() >= 1).then_some(())
    })
    .await;
    let reads = double.apps_reads();

    // Deployed: `/shop/web` ⇒ `Host:shop-web.marathon.test`, its task's host port.
    double.deploy("/shop/web", &[], false, &[("shop_web.t1", port(&one))]);
    wait_served(p.http, "shop-web.marathon.test", "one").await;
    assert!(
        double.apps_reads() > reads,
        "read again on the deployment's events"
    );
    let (_, providers) = get_json(&format!("http://127.0.0.1:{}/api/providers", p.api)).await;
    let backend = &providers["marathon"]["backends"]["backend-shop-web"];
    assert_eq!(
        backend["servers"]["server-shop-web-shop-web-t1"]["url"],
        format!("http://127.0.0.1:{}", port(&one))
    );
    assert_eq!(
        providers["marathon"]["frontends"]["frontend-shop-web"]["backend"],
        "backend-shop-web"
    );

    // Scaled up, then down.
    double.scale(
        "/shop/web",
        &[("shop_web.t1", port(&one)), ("shop_web.t2", port(&two))],
    );
    wait_only(p.http, "shop-web.marathon.test", &["one", "two"]).await;
    double.scale("/shop/web", &[("shop_web.t2", port(&two))]);
    wait_only(p.http, "shop-web.marathon.test", &["two"]).await;

    // Destroyed: gone.
    double.destroy("/shop/web");
    eventually("the destroyed app no longer routed", || async {
        (status_of(p.http, "shop-web.marathon.test").await == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn only_healthy_tasks_serve_when_the_app_has_health_checks() {
    let double = MarathonDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    double.deploy(
        "/api",
        &[("traefik.frontend.rule", "Host:api.example")],
        true,
        &[("api.a", port(&one)), ("api.b", port(&two))],
    );
    let (_trafik, p) = start(&double, "");
    wait_only(p.http, "api.example", &["one", "two"]).await;

    double.set_health("/api", "api.a", false);
    wait_only(p.http, "api.example", &["two"]).await;
    double.set_health("/api", "api.a", true);
    wait_only(p.http, "api.example", &["one", "two"]).await;
}

#[tokio::test]
async fn a_bad_label_leaves_its_app_out_named_in_the_state_and_the_rest_is_served() {
    let double = MarathonDouble::start().await;
    let one = Backend::start("one").await;
    double.deploy("/good", &[], false, &[("good.1", port(&one))]);
    double.deploy(
        "/team/broken",
        &[("traefik.port", "http")],
        false,
        &[("team_broken.1", port(&one))],
    );
    let (trafik, p) = start(&double, "");
    wait_served(p.http, "good.marathon.test", "one").await;
    let error = eventually("the bad label reported in /api/state", || async {
        provider_state(p.api, "marathon").await["lastError"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("app /team/broken: label traefik.port: invalid port \"http\""),
        "{error}"
    );
    assert!(
        trafik.logs().contains("app /team/broken"),
        "{}",
        trafik.logs()
    );
    assert_eq!(status_of(p.http, "team-broken.marathon.test").await, 404);

    // Mended: served.
    double.set_labels("/team/broken", &[("traefik.port", &port(&one).to_string())]);
    wait_served(p.http, "team-broken.marathon.test", "one").await;
}

#[tokio::test]
async fn a_cut_stream_is_followed_by_a_full_read_that_sees_what_changed_meanwhile() {
    let double = MarathonDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    double.deploy("/web", &[], false, &[("web.1", port(&one))]);
    let (_trafik, p) = start(&double, "");
    wait_served(p.http, "web.marathon.test", "one").await;
    eventually("subscribed", || async {
        (double.subscriptions() >= 1).then_some(())
    })
    .await;
    let subscriptions = double.subscriptions();

    // The change's events are lost: only a full read can see it.
    double.mute(true);
    double.scale("/web", &[("web.2", port(&two))]);
    double.deploy("/new", &[], false, &[("new.1", port(&one))]);
    double.mute(false);
    double.cut_streams();
    wait_only(p.http, "web.marathon.test", &["two"]).await;
    wait_served(p.http, "new.marathon.test", "one").await;
    assert!(double.subscriptions() > subscriptions, "subscribed again");

    // And the new stream is followed.
    double.destroy("/new");
    eventually("/new gone after the new stream's events", || async {
        (status_of(p.http, "new.marathon.test").await == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn marathon_down_under_load_keeps_the_configuration_with_no_failed_request() {
    let double = MarathonDouble::start().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    double.deploy(
        "/web",
        &[("traefik.frontend.rule", "Path:/")],
        false,
        &[("web.1", port(&one))],
    );
    let (_trafik, p) = start(&double, "");
    wait_served(p.http, "any.host", "one").await;
    let load = Load::start(&format!("http://127.0.0.1:{}/", p.http), 4, 5000);

    double.stop();
    eventually("marathon reported down", || async {
        (provider_state(p.api, "marathon").await["store"]["up"] == false).then_some(())
    })
    .await;
    let error = provider_state(p.api, "marathon").await["store"]["error"].to_string();
    assert!(error.contains(&double.endpoint()), "{error}");
    assert_eq!(served_by(p.http, "any.host").await.as_deref(), Some("one"));

    // Changed while down, seen once back.
    double.scale("/web", &[("web.2", port(&two))]);
    double.start_again().await;
    // The backoff may be several seconds by now.
    let start = std::time::Instant::now();
    while served_by(p.http, "any.host").await.as_deref() != Some("two") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "not read again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(provider_state(p.api, "marathon").await["store"]["up"], true);
    let counts = load.stop().await;
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.ok > 0, "{counts:?}");
}

#[tokio::test]
async fn refused_credentials_are_an_error_in_the_state_and_good_ones_are_served() {
    let double = MarathonDouble::start().await;
    let one = Backend::start("one").await;
    double.deploy("/web", &[], false, &[("web.1", port(&one))]);
    double.require_basic("admin", "s3cret");

    let (_wrong, w) = start(
        &double,
        "[marathon.basic]\nhttpBasicAuthUser = \"admin\"\nhttpBasicPassword = \"nope\"\n",
    );
    let error = eventually("the 401 reported in /api/state", || async {
        let store = provider_state(w.api, "marathon").await["store"].clone();
        (store["up"] == false).then(|| store["error"].to_string())
    })
    .await;
    assert!(error.contains("401"), "{error}");
    assert_eq!(status_of(w.http, "web.marathon.test").await, 404);

    let (_right, r) = start(
        &double,
        "[marathon.basic]\nhttpBasicAuthUser = \"admin\"\nhttpBasicPassword = \"s3cret\"\n",
    );
    wait_served(r.http, "web.marathon.test", "one").await;

    // DC/OS's token instead.
    double.require_token("dcos-t0k");
    let (_token, t) = start(&double, "dcosToken = \"dcos-t0k\"\n");
    wait_served(t.http, "web.marathon.test", "one").await;
}

#[tokio::test]
async fn endpoints_are_tried_in_turn_and_watch_false_reads_once() {
    let double = MarathonDouble::start().await;
    let one = Backend::start("one").await;
    double.deploy("/web", &[], false, &[("web.1", port(&one))]);
    // The first server is not there (nothing listens on that port).
    let dead = format!("http://127.0.0.1:{}", free_port());
    let p = Ports {
        http: free_port(),
        api: free_port(),
    };
    let toml = format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[marathon]
endpoint = "{dead},{live}"
domain = "marathon.test"
watch = false
"#,
        http = p.http,
        api = p.api,
        live = double.endpoint(),
    );
    let _trafik = Trafik::start(&toml);
    wait_served(p.http, "web.marathon.test", "one").await;
    assert_eq!(double.subscriptions(), 0, "watch = false: no event stream");
}

#[tokio::test]
async fn trafik_check_reads_the_apps_once_and_names_a_bad_label() {
    let double = MarathonDouble::start().await;
    let one = Backend::start("one").await;
    double.deploy("/web", &[], false, &[("web.1", port(&one))]);
    double.deploy(
        "/broken",
        &[("traefik.weight", "heavy")],
        false,
        &[("broken.1", port(&one))],
    );
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[marathon]\nendpoint = \"{}\"\ndomain = \"marathon.test\"\n",
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
        stderr.contains("app /broken: label traefik.weight"),
        "{stdout}{stderr}"
    );
    assert_eq!(
        double.subscriptions(),
        0,
        "check does not follow the events"
    );
}

#[tokio::test]
async fn tls_towards_marathon_with_a_private_ca() {
    use common::pki::{Ca, server_config};
    let ca = Ca::new("Marathon CA");
    let pem = ca.server(&["127.0.0.1", "localhost"], "Marathon");
    let double = MarathonDouble::start_tls(server_config(&pem)).await;
    let one = Backend::start("one").await;
    double.deploy("/web", &[], false, &[("web.1", port(&one))]);

    // The CA as a file beside trafik.toml; the events follow over TLS too.
    let p = Ports {
        http: free_port(),
        api: free_port(),
    };
    let toml = |p: &Ports, ca_file: &str| {
        format!(
            "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[entryPoints.traefik]\naddress = \"127.0.0.1:{}\"\n[api]\n[marathon]\nendpoint = \"{}\"\ndomain = \"marathon.test\"\n  [marathon.TLS]\n  ca = \"{ca_file}\"\n",
            p.http,
            p.api,
            double.endpoint()
        )
    };
    let _trafik = Trafik::start_with(&toml(&p, "ca.pem"), &[("ca.pem", &ca.cert_pem)]);
    wait_served(p.http, "web.marathon.test", "one").await;
    let two = Backend::start("two").await;
    double.scale("/web", &[("web.2", port(&two))]);
    wait_only(p.http, "web.marathon.test", &["two"]).await;

    // Another CA: refused, a clear error, nothing served from it.
    let other = Ca::new("Other CA");
    let q = Ports {
        http: free_port(),
        api: free_port(),
    };
    let _refused = Trafik::start_with(&toml(&q, "other.pem"), &[("other.pem", &other.cert_pem)]);
    let error = eventually("the TLS failure reported", || async {
        provider_state(q.api, "marathon").await["store"]["error"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("https://") && error.contains("certificate"),
        "{error}"
    );
    assert_eq!(served_by(q.http, "web.marathon.test").await, None);
}
