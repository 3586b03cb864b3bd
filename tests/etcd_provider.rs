//! `[etcd]` against a real etcd (Debian's etcd-server) started by the tests on loopback
//! ports with a temporary data directory: one server for the whole binary, each test under
//! its own prefix; the tests that kill the store, or need TLS or auth, own their server.
//! Keys are written as an operator would: `etcdctl` (v3) or etcd's Rust client.

use crate::common;
use common::proxied::Proxied;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::load::Load;
use common::pki::Ca;
use common::store_server::StoreServer;
use common::*;
use etcd_client::Client;
use serde_json::Value;

/// An etcd server and its client URL.
struct Etcd {
    server: StoreServer,
    client_port: u16,
}

impl Etcd {
    /// A server on fresh loopback ports; `scheme` and `extra` flags for TLS or auth.
    fn command(
        client_port: u16,
        peer_port: u16,
        scheme: &'static str,
        extra: Vec<String>,
    ) -> impl Fn(&Path) -> Command + Send + Sync + 'static {
        move |dir: &Path| {
            let mut c = Command::new("etcd");
            let client = format!("{scheme}://127.0.0.1:{client_port}");
            let peer = format!("http://127.0.0.1:{peer_port}");
            c.arg("--name")
                .arg("t")
                .arg("--data-dir")
                .arg(dir.join("data"))
                .arg("--listen-client-urls")
                .arg(&client)
                .arg("--advertise-client-urls")
                .arg(&client)
                .arg("--listen-peer-urls")
                .arg(&peer)
                .arg("--initial-advertise-peer-urls")
                .arg(&peer)
                .arg("--initial-cluster")
                .arg(format!("t={peer}"))
                .args(&extra);
            c
        }
    }

    fn own_with(scheme: &'static str, extra: Vec<String>) -> Etcd {
        let (client_port, peer_port) = (free_port(), free_port());
        let server = StoreServer::own(Self::command(client_port, peer_port, scheme, extra));
        Etcd {
            server,
            client_port,
        }
    }

    fn own() -> Etcd {
        Self::own_with("http", Vec::new())
    }

    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// A client once the server answers (a read of a key that need not exist).
    async fn client(&self) -> Client {
        let url = format!("http://{}", self.endpoint());
        self.server
            .wait_ready("etcd", || async {
                match Client::connect([url.as_str()], None).await {
                    Ok(mut c) => c.get("/ready", None).await.is_ok(),
                    Err(_) => false,
                }
            })
            .await;
        Client::connect([url], None).await.unwrap()
    }
}

/// The server most tests share (each under its own prefix).
fn shared() -> &'static Etcd {
    static ETCD: OnceLock<Etcd> = OnceLock::new();
    ETCD.get_or_init(|| {
        let (client_port, peer_port) = (free_port(), free_port());
        let server = StoreServer::shared(Etcd::command(client_port, peer_port, "http", Vec::new()));
        Etcd {
            server,
            client_port,
        }
    })
}

/// `ETCDCTL_API=3 etcdctl --endpoints … args`, as an operator types it; panics on failure.
fn etcdctl(endpoint: &str, args: &[&str]) -> String {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(endpoint)
        .args(args)
        .output()
        .expect("etcdctl");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "etcdctl {args:?}: {stdout}{stderr}");
    stdout
}

async fn put_all(c: &mut Client, pairs: &[(String, String)]) {
    for (k, v) in pairs {
        c.put(k.as_str(), v.as_str(), None).await.unwrap();
    }
}

/// A backend `b` with the given servers and a frontend `f` routing `rule` to it.
fn site(
    prefix: &str,
    frontend: &str,
    backend: &str,
    rule: &str,
    servers: &[&Backend],
) -> Vec<(String, String)> {
    let mut pairs = vec![
        (
            format!("{prefix}/frontends/{frontend}/backend"),
            backend.to_string(),
        ),
        (
            format!("{prefix}/frontends/{frontend}/routes/r/rule"),
            rule.to_string(),
        ),
    ];
    for (i, s) in servers.iter().enumerate() {
        pairs.push((
            format!("{prefix}/backends/{backend}/servers/s{i}/url"),
            s.url(),
        ));
        pairs.push((
            format!("{prefix}/backends/{backend}/servers/s{i}/weight"),
            "1".into(),
        ));
    }
    pairs
}

fn lines(prefix: &str, etcd: &Etcd) -> String {
    format!("endpoint = \"{}\"\nprefix = \"{prefix}\"", etcd.endpoint())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v1_layout_loads_and_serves_across_both_servers() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    put_all(
        &mut c,
        &site("/load", "f", "b", "PathPrefix:/app", &[&one, &two]),
    )
    .await;
    // A dead endpoint first in the list: the next one is used.
    let dead = free_port();
    let t = Proxied::start(
        "etcd",
        &format!(
            "endpoint = \"http://127.0.0.1:{dead}, {}\"\nprefix = \"/load\"",
            etcd.endpoint()
        ),
    );
    t.served_by("/app", "one").await;
    t.served_by("/app", "two").await;
    t.answers("/elsewhere", 404).await;
    let state = t.state().await;
    assert_eq!(state["providers"]["etcd"]["store"]["up"], true, "{state}");
    assert_eq!(
        state["providers"]["etcd"]["lastError"],
        Value::Null,
        "{state}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn frontends_added_changed_and_deleted_go_live() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let p = "/live";
    put_all(&mut c, &site(p, "f", "b1", "PathPrefix:/a", &[&one])).await;
    put_all(
        &mut c,
        &[(format!("{p}/backends/b2/servers/s/url"), two.url())],
    )
    .await;
    let t = Proxied::start("etcd", &lines(p, etcd));
    t.served_by("/a", "one").await;
    t.answers("/b", 404).await;

    // Added (written by etcdctl, as an operator would).
    let ep = etcd.endpoint();
    etcdctl(
        &ep,
        &[
            "put",
            &format!("{p}/frontends/g/routes/r/rule"),
            "PathPrefix:/b",
        ],
    );
    etcdctl(&ep, &["put", &format!("{p}/frontends/g/backend"), "b2"]);
    t.served_by("/b", "two").await;

    // Changed: f now goes to b2, its rule to /c.
    etcdctl(&ep, &["put", &format!("{p}/frontends/f/backend"), "b2"]);
    t.served_by("/a", "two").await;
    etcdctl(
        &ep,
        &[
            "put",
            &format!("{p}/frontends/f/routes/r/rule"),
            "PathPrefix:/c",
        ],
    );
    t.served_by("/c", "two").await;
    t.answers("/a", 404).await;

    // Deleted: the whole frontend, by prefix.
    etcdctl(&ep, &["del", "--prefix", &format!("{p}/frontends/g/")]);
    t.answers("/b", 404).await;
    t.served_by("/c", "two").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_are_read_in_both_forms() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let b = Backend::start("b").await;
    let p = "/lists";
    let other = free_port();
    let mut pairs = site(p, "csv", "b", "PathPrefix:/csv", &[&b]);
    pairs.push((
        format!("{p}/frontends/csv/entrypoints"),
        "http,other".into(),
    ));
    pairs.push((format!("{p}/frontends/indexed/backend"), "b".into()));
    pairs.push((
        format!("{p}/frontends/indexed/routes/r/rule"),
        "PathPrefix:/indexed".into(),
    ));
    pairs.push((
        format!("{p}/frontends/indexed/entrypoints/0"),
        "http".into(),
    ));
    pairs.push((
        format!("{p}/frontends/indexed/entrypoints/1"),
        "other".into(),
    ));
    // Only on `other`: shows entry points are honoured at all.
    pairs.push((format!("{p}/frontends/only/backend"), "b".into()));
    pairs.push((
        format!("{p}/frontends/only/routes/r/rule"),
        "PathPrefix:/only".into(),
    ));
    pairs.push((format!("{p}/frontends/only/entrypoints/0"), "other".into()));
    put_all(&mut c, &pairs).await;
    let proxied = Proxied::start_with(
        "etcd",
        &lines(p, etcd),
        &format!("[entryPoints.other]\naddress = \"127.0.0.1:{other}\"\n"),
        &[],
    );
    let (t, http) = (&proxied.trafik, proxied.http);
    for port in [http, other] {
        for path in ["/csv", "/indexed"] {
            t.wait_for(&format!("http://127.0.0.1:{port}{path}"), 200)
                .await;
        }
    }
    t.wait_for(&format!("http://127.0.0.1:{other}/only"), 200)
        .await;
    t.wait_for(&format!("http://127.0.0.1:{http}/only"), 404)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_alias_switches_to_a_whole_other_tree() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let (old, new) = (Backend::start("old").await, Backend::start("new").await);
    put_all(&mut c, &site("/alias", "f", "b", "PathPrefix:/", &[&old])).await;
    put_all(
        &mut c,
        &site("/alias-v2", "g", "c", "PathPrefix:/", &[&new]),
    )
    .await;
    let t = Proxied::start("etcd", &lines("/alias", etcd));
    t.served_by("/", "old").await;
    c.put("/alias/alias", "/alias-v2", None).await.unwrap();
    t.served_by("/", "new").await;
    // The target is watched too: a change there is live.
    c.put(
        "/alias-v2/frontends/g/routes/r/rule",
        "PathPrefix:/v2",
        None,
    )
    .await
    .unwrap();
    t.answers("/x", 404).await;
    t.served_by("/v2", "new").await;
    // And back.
    c.delete("/alias/alias", None).await.unwrap();
    t.served_by("/x", "old").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_keys_skip_their_item_named_by_full_key() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let (good, other) = (Backend::start("good").await, Backend::start("other").await);
    let p = "/bad";
    let mut pairs = site(p, "f", "b", "PathPrefix:/good", &[&good]);
    pairs.extend(site(p, "g", "c", "PathPrefix:/weighted", &[&other]));
    pairs.push((format!("{p}/backends/c/servers/s0/weight"), "abc".into()));
    pairs.push((format!("{p}/frontends/h/backend"), "b".into()));
    pairs.push((
        format!("{p}/frontends/h/routes/r/rule"),
        "NoSuchMatcher:/x".into(),
    ));
    put_all(&mut c, &pairs).await;
    // A key that is not UTF-8 is skipped (with a warning), not fatal to the read.
    let mut raw = format!("{p}/frontends/").into_bytes();
    raw.extend_from_slice(b"\xff\xfe/backend");
    c.put(raw, "b", None).await.unwrap();
    let t = Proxied::start("etcd", &lines(p, etcd));
    t.served_by("/good", "good").await;
    let error = eventually("lastError", || async {
        let state = t.state().await;
        state["providers"]["etcd"]["lastError"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("/bad/backends/c/servers/s0/weight"),
        "{error}"
    );
    assert!(error.contains("/bad/frontends/h/routes/r/rule"), "{error}");
    t.answers("/x", 404).await;
    t.served_by("/good", "good").await;
    assert!(
        t.trafik
            .logs()
            .contains("/bad/backends/c/servers/s0/weight"),
        "{}",
        t.trafik.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_killed_under_load_takes_nothing_away() {
    let etcd = Etcd::own();
    let mut c = etcd.client().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    put_all(&mut c, &site("/traefik", "f", "b", "PathPrefix:/", &[&one])).await;
    put_all(
        &mut c,
        &[("/traefik/backends/c/servers/s/url".into(), two.url())],
    )
    .await;
    let t = Proxied::start("etcd", &format!("endpoint = \"{}\"", etcd.endpoint()));
    t.served_by("/", "one").await;

    let load = Load::start(&t.url("/"), 4, 100_000);
    etcd.server.kill();
    eventually("traefik_provider_up 0 and store.up false", || async {
        let metrics = t.metrics().await;
        let state = t.state().await;
        (metrics.contains("traefik_provider_up{provider=\"etcd\"} 0")
            && state["providers"]["etcd"]["store"]["up"] == false)
            .then_some(())
    })
    .await;
    // Requests keep being served while the store is known to be down.
    let down = load.counts();
    let during = eventually("requests served while the store is down", || async {
        let now = load.counts();
        (now.ok >= down.ok + 100).then_some(now)
    })
    .await;
    assert_eq!(t.state().await["providers"]["etcd"]["store"]["up"], false);
    etcd.server.restart();
    let mut c = etcd.client().await;
    eventually("the store back up", || async {
        (t.state().await["providers"]["etcd"]["store"]["up"] == true).then_some(())
    })
    .await;
    let counts = load.stop().await;
    assert_eq!(during.failed, 0, "{during:?}");
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(
        t.metrics()
            .await
            .contains("traefik_provider_up{provider=\"etcd\"} 1")
    );

    c.put("/traefik/frontends/f/backend", "c", None)
        .await
        .unwrap();
    t.served_by("/", "two").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_down_at_start_is_picked_up_when_it_comes() {
    let (client_port, peer_port) = (free_port(), free_port());
    let t = Proxied::start("etcd", &format!("endpoint = \"127.0.0.1:{client_port}\""));
    t.answers("/", 404).await;
    eventually("store.up false", || async {
        (t.state().await["providers"]["etcd"]["store"]["up"] == false).then_some(())
    })
    .await;
    let etcd = Etcd {
        server: StoreServer::own(Etcd::command(client_port, peer_port, "http", Vec::new())),
        client_port,
    };
    let mut c = etcd.client().await;
    let b = Backend::start("late").await;
    put_all(&mut c, &site("/traefik", "f", "b", "PathPrefix:/", &[&b])).await;
    t.served_by("/", "late").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_client_certificates() {
    let ca = Ca::new("etcd CA");
    let server = ca.server(&["localhost", "127.0.0.1"], "etcd");
    let client_pem = ca.client("trafik");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let ca_file = write("ca.pem", &ca.cert_pem);
    let (cert, key) = (
        write("server.pem", &server.cert),
        write("server.key", &server.key),
    );
    let (ccert, ckey) = (
        write("client.pem", &client_pem.cert),
        write("client.key", &client_pem.key),
    );
    let etcd = Etcd::own_with(
        "https",
        vec![
            format!("--cert-file={cert}"),
            format!("--key-file={key}"),
            format!("--trusted-ca-file={ca_file}"),
            "--client-cert-auth".into(),
        ],
    );
    let ep = format!("https://{}", etcd.endpoint());
    let ctl = |args: &[&str]| {
        let mut all = vec!["--cacert", &ca_file, "--cert", &ccert, "--key", &ckey];
        all.extend_from_slice(args);
        etcdctl(&ep, &all)
    };
    etcd.server
        .wait_ready("etcd over TLS", || async {
            Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args([
                    "--endpoints",
                    &ep,
                    "--cacert",
                    &ca_file,
                    "--cert",
                    &ccert,
                    "--key",
                    &ckey,
                ])
                .args(["get", "/ready"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .await;
    let b = Backend::start("secure").await;
    for (k, v) in site("/traefik", "f", "b", "PathPrefix:/", &[&b]) {
        ctl(&["put", &k, &v]);
    }
    // Without a client certificate the server refuses: the store is down, nothing served.
    let refused = Proxied::start(
        "etcd",
        &format!(
            "endpoint = \"{}\"\n[etcd.tls]\nca = \"{}\"",
            etcd.endpoint(),
            ca_file
        ),
    );
    // The certificate and key inline as PEM, the CA as a path relative to trafik.toml.
    let t = Proxied::start_with(
        "etcd",
        &format!(
            "endpoint = \"{}\"\n[etcd.tls]\nca = \"ca.pem\"\ncert = \"\"\"\n{}\"\"\"\nkey = \"\"\"\n{}\"\"\"",
            etcd.endpoint(),
            client_pem.cert,
            client_pem.key
        ),
        "",
        &[("ca.pem", &ca.cert_pem)],
    );
    t.served_by("/", "secure").await;
    // insecureSkipVerify: no CA at all (the system's roots do not know this one), still in.
    let unverified = Proxied::start(
        "etcd",
        &format!(
            "endpoint = \"https://{}\"\n[etcd.tls]\ninsecureSkipVerify = true\ncert = \"{ccert}\"\nkey = \"{ckey}\"",
            etcd.endpoint()
        ),
    );
    unverified.served_by("/", "secure").await;
    // The client key never shows in the API.
    let (_, providers) = get_json(&format!("http://127.0.0.1:{}/api/providers", t.api)).await;
    let shown = providers.to_string();
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    eventually("the certificate-less trafik down", || async {
        let state = refused.state().await;
        (state["providers"]["etcd"]["store"]["up"] == false).then_some(())
    })
    .await;
    refused.answers("/", 404).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn username_and_password() {
    let etcd = Etcd::own();
    let _ = etcd.client().await;
    let ep = etcd.endpoint();
    etcdctl(&ep, &["user", "add", "root:rootpw"]);
    etcdctl(&ep, &["user", "add", "trafik:s3cret"]);
    etcdctl(&ep, &["role", "add", "reader"]);
    etcdctl(
        &ep,
        &[
            "role",
            "grant-permission",
            "reader",
            "--prefix=true",
            "read",
            "/traefik/",
        ],
    );
    etcdctl(&ep, &["user", "grant-role", "trafik", "reader"]);
    etcdctl(&ep, &["auth", "enable"]);
    let b = Backend::start("authed").await;
    for (k, v) in site("/traefik", "f", "b", "PathPrefix:/", &[&b]) {
        etcdctl(&ep, &["--user", "root:rootpw", "put", &k, &v]);
    }
    let t = Proxied::start(
        "etcd",
        &format!("endpoint = \"{ep}\"\nusername = \"trafik\"\npassword = \"s3cret\""),
    );
    t.served_by("/", "authed").await;
    // A change is seen through the authenticated watch.
    etcdctl(
        &ep,
        &[
            "--user",
            "root:rootpw",
            "put",
            "/traefik/frontends/f/routes/r/rule",
            "PathPrefix:/in",
        ],
    );
    t.answers("/out", 404).await;
    t.served_by("/in", "authed").await;
    let (_, providers) = get_json(&format!("http://127.0.0.1:{}/api/providers", t.api)).await;
    assert!(!providers.to_string().contains("s3cret"), "{providers}");
    // The table itself is not part of /api/providers (v1's shape: each provider's
    // dynamic configuration); the point is that no secret of it leaks there.
    assert_eq!(
        providers["etcd"]["frontends"]["f"]["backend"], "b",
        "{providers}"
    );

    // A wrong password: the store is down for it, with etcd's reason.
    let wrong = Proxied::start(
        "etcd",
        &format!("endpoint = \"{ep}\"\nusername = \"trafik\"\npassword = \"nope\""),
    );
    let error = eventually("the wrong password refused", || async {
        let state = wrong.state().await;
        state["providers"]["etcd"]["store"]["error"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(error.contains("authentication failed"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_v2_is_refused_at_start() {
    let mut t = Proxied::start("etcd", "useAPIV3 = false").trafik;
    let status = t.wait_exit(DEADLINE).await;
    assert!(!status.success());
    let log = t.logs();
    assert!(
        log.contains("useAPIV3 = false") && log.contains("v3"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_false_reads_once() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let p = "/once";
    put_all(&mut c, &site(p, "f", "b", "PathPrefix:/", &[&one])).await;
    put_all(
        &mut c,
        &[(format!("{p}/backends/c/servers/s/url"), two.url())],
    )
    .await;
    let once = Proxied::start("etcd", &format!("{}\nwatch = false", lines(p, etcd)));
    let watching = Proxied::start("etcd", &lines(p, etcd));
    once.served_by("/", "one").await;
    watching.served_by("/", "one").await;
    c.put(format!("{p}/frontends/f/backend"), "c", None)
        .await
        .unwrap();
    // Once the watching trafik has the change, the other has had every chance to.
    watching.served_by("/", "two").await;
    for _ in 0..20 {
        assert_eq!(get_json(&once.url("/")).await.1["server"], "one");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reads_the_store_and_names_a_bad_key() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let p = "/check";
    put_all(
        &mut c,
        &[
            (
                format!("{p}/backends/b/servers/s/url"),
                "http://127.0.0.1:9".into(),
            ),
            (format!("{p}/backends/b/servers/s/weight"), "heavy".into()),
            (format!("{p}/frontends/f/backend"), "b".into()),
            (
                format!("{p}/frontends/f/routes/r/rule"),
                "Host:check.test".into(),
            ),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        format!("[etcd]\n{}\n", lines(p, etcd)),
    )
    .unwrap();
    let (status, stdout, stderr) = run_trafik(&["check", "-c", "trafik.toml"], dir.path());
    assert!(!status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("/check/backends/b/servers/s/weight"),
        "{stdout}{stderr}"
    );

    c.put(format!("{p}/backends/b/servers/s/weight"), "3", None)
        .await
        .unwrap();
    let (status, stdout, stderr) = run_trafik(&["check", "-c", "trafik.toml"], dir.path());
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("configuration OK"), "{stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_writes_coalesces_and_the_last_wins() {
    let etcd = shared();
    let mut c = etcd.client().await;
    let b = Backend::start("burst").await;
    let p = "/burst";
    put_all(&mut c, &site(p, "f", "b", "PathPrefix:/start", &[&b])).await;
    let t = Proxied::start("etcd", &lines(p, etcd));
    t.served_by("/start", "burst").await;
    let before = t.state().await["reloads"]["total"].as_u64().unwrap();
    let rule = format!("{p}/frontends/f/routes/r/rule");
    for i in 0..1000 {
        c.put(rule.as_str(), format!("PathPrefix:/v{i}"), None)
            .await
            .unwrap();
    }
    t.served_by("/v999", "burst").await;
    t.answers("/v998", 404).await;
    let after = t.state().await["reloads"]["total"].as_u64().unwrap();
    eprintln!("1000 writes: {} reloads", after - before);
    assert!(
        after - before <= 15,
        "{} reloads for 1000 writes",
        after - before
    );
}

/// The store itself, through the library, where the binary cannot show it: a watch whose
/// revision was compacted away is lost (the loop lists again), and `put` writes more pairs
/// than etcd takes in one transaction.
#[tokio::test(flavor = "multi_thread")]
async fn a_compacted_watch_is_lost_and_put_writes_everything() {
    use trafik::provider::kv::Store;
    let etcd = Etcd::own();
    let mut c = etcd.client().await;
    let table = trafik_config::KvProvider {
        endpoint: Some(etcd.endpoint()),
        ..Default::default()
    };
    let mut store = trafik::provider::etcd::store(&table, Path::new(".")).unwrap();
    let mut pairs: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| {
            let url = format!("http://127.0.0.1:{}", 10000 + i);
            (
                format!("/traefik/backends/b/servers/s{i}/url"),
                url.into_bytes(),
            )
        })
        .collect();
    pairs.sort();
    store.put(&pairs).await.unwrap();
    let mut listed = store.list("/traefik").await.unwrap();
    listed.sort();
    assert_eq!(listed, pairs);

    // Two writes after the read, then compaction past the first: the watch from the
    // read's revision + 1 cannot be served.
    c.put("/traefik/frontends/f/backend", "b", None)
        .await
        .unwrap();
    let r = c
        .put("/traefik/frontends/f/backend", "c", None)
        .await
        .unwrap();
    c.compact(r.header().unwrap().revision(), None)
        .await
        .unwrap();
    let e = store.changed().await.unwrap_err();
    assert!(e.to_string().contains("compacted"), "{e}");

    // Listing again re-arms the watch at the new revision: the next write is seen.
    store.list("/traefik").await.unwrap();
    let waiting = tokio::spawn(async move { store.changed().await });
    c.put("/traefik/frontends/f/backend", "d", None)
        .await
        .unwrap();
    let seen = tokio::time::timeout(DEADLINE, waiting).await;
    assert!(matches!(seen, Ok(Ok(Ok(())))), "{seen:?}");
}

/// v1's `trafik storeconfig` into etcd, then `trafik --etcd --etcd.endpoint=…` alone.
#[tokio::test(flavor = "multi_thread")]
async fn storeconfig_then_a_run_from_etcd_alone() {
    let etcd = shared();
    let a = Backend::start("a").await;
    let p = "/storeconfig";
    let flags = [
        "--etcd".to_string(),
        format!("--etcd.endpoint={}", etcd.endpoint()),
        format!("--etcd.prefix={p}"),
    ];
    let http = common::storeconfig::write("etcd", &flags, p, &a.url());
    let stored = etcdctl(
        &etcd.endpoint(),
        &[
            "get",
            "--print-value-only",
            &format!("{p}/entryPoints/http/address"),
        ],
    );
    assert_eq!(stored.trim(), format!("127.0.0.1:{http}"));
    common::storeconfig::run_from(&flags, http, "a").await;
}
