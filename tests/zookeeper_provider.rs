//! The `[zookeeper]` provider against a real ZooKeeper (Debian's `zookeeper` 3.8, started
//! here on a loopback port with a temporary data directory): v1's key layout written as
//! znodes by a ZooKeeper client, as `zkCli.sh create` would, served by the real trafik.
//!
//! One ZooKeeper for the whole binary (its JVM takes seconds to start), each test under a
//! prefix of its own; the test that kills the store owns its server.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::load::Load;
use common::store_server::StoreServer;
use common::zookeeper::try_connect;
use common::*;
use zookeeper_client as zk;

/// A client of the store on `port`, once the server answers.
async fn connect(port: u16) -> zk::Client {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(c) = try_connect(port).await {
            return c;
        }
        assert!(Instant::now() < deadline, "ZooKeeper on {port} not up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The binary's ZooKeeper (started by the first test that asks) and its port.
async fn shared() -> u16 {
    static SERVER: OnceLock<(StoreServer, u16)> = OnceLock::new();
    let (server, port) = SERVER.get_or_init(|| {
        let port = free_port();
        (StoreServer::shared(common::zookeeper::server(port)), port)
    });
    server
        .wait_ready("zookeeper", || async { try_connect(*port).await.is_some() })
        .await;
    *port
}

/// Sets `path`'s data, creating it and its parents (`zkCli.sh create`, or `set` when it exists).
async fn put(c: &zk::Client, path: &str, value: &str) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let parent = &path[..path.rfind('/').unwrap()];
    if !parent.is_empty() {
        c.mkdir(parent, &options).await.unwrap();
    }
    match c.create(path, value.as_bytes(), &options).await {
        Ok(_) => {}
        Err(zk::Error::NodeExists) => {
            c.set_data(path, value.as_bytes(), None).await.unwrap();
        }
        Err(e) => panic!("create {path}: {e}"),
    }
}

/// Deletes `path` and everything under it (`zkCli.sh deleteall`).
async fn delete_all(c: &zk::Client, path: &str) {
    let mut stack = vec![path.to_string()];
    let mut order = Vec::new();
    while let Some(p) = stack.pop() {
        for child in c.list_children(&p).await.unwrap() {
            stack.push(format!("{p}/{child}"));
        }
        order.push(p);
    }
    for p in order.iter().rev() {
        c.delete(p, None).await.unwrap();
    }
}

/// A backend `b` and a frontend `f` routing `PathPrefix:/<f>` to it, under `root`.
async fn route(c: &zk::Client, root: &str, f: &str, b: &str, url: &str) {
    put(c, &format!("{root}/backends/{b}/servers/s/url"), url).await;
    put(c, &format!("{root}/frontends/{f}/backend"), b).await;
    put(
        c,
        &format!("{root}/frontends/{f}/routes/r/rule"),
        &format!("PathPrefix:/{f}"),
    )
    .await;
}

struct Setup {
    trafik: Trafik,
    http: u16,
    api: u16,
}

impl Setup {
    fn start(zk_port: u16, prefix: &str) -> Setup {
        Self::start_with(zk_port, prefix, "", "", &[])
    }

    /// `table` is added to the `[zookeeper]` table, `extra` before it.
    fn start_with(
        zk_port: u16,
        prefix: &str,
        table: &str,
        extra: &str,
        files: &[(&str, &str)],
    ) -> Setup {
        let (http, api) = (free_port(), free_port());
        let toml = format!(
            "logLevel = \"INFO\"\nprovidersThrottleDuration = \"0s\"\n\
             defaultEntryPoints = [\"http\"]\n\
             [entryPoints.http]\naddress = \"127.0.0.1:{http}\"\n\
             [entryPoints.traefik]\naddress = \"127.0.0.1:{api}\"\n\
             [api]\n[metrics.prometheus]\n{extra}\n\
             [zookeeper]\nendpoint = \"127.0.0.1:{zk_port}\"\nprefix = \"{prefix}\"\n{table}\n"
        );
        Setup {
            trafik: Trafik::start_with(&toml, files),
            http,
            api,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    fn api(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api)
    }

    /// Waits until `path` is answered by the backend named `server`.
    async fn served_by(&self, path: &str, server: &str) {
        let url = self.url(path);
        eventually(&format!("{path} served by {server}"), || async {
            let (status, body) = get_json(&url).await;
            (status == 200 && body["server"] == server).then_some(())
        })
        .await;
    }

    /// Waits until `path` is answered with `status`.
    async fn status(&self, path: &str, status: u16) {
        let url = self.url(path);
        eventually(&format!("{path} answered {status}"), || async {
            let r = client().get(&url).send().await.ok()?;
            (r.status().as_u16() == status).then_some(())
        })
        .await;
    }

    /// The store was never reported unreachable (a watch that fails would still see each
    /// change, by reading again after every error: this tells the two apart).
    fn no_outage(&self) {
        let logs = self.trafik.logs();
        assert!(!logs.contains("unreachable ("), "{logs}");
    }

    async fn metrics(&self) -> String {
        match client().get(self.api("/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

#[tokio::test]
async fn a_configuration_loads_and_each_change_is_live() {
    let port = shared().await;
    let c = connect(port).await;
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    route(&c, "/live", "a", "one", &one.url()).await;
    put(&c, "/live/backends/two/servers/s/url", &two.url()).await;

    let s = Setup::start(port, "live");
    s.served_by("/a", "one").await;

    // Added.
    route(&c, "/live", "b", "two", &two.url()).await;
    s.served_by("/b", "two").await;
    // Changed: `a` now goes to `two`.
    put(&c, "/live/frontends/a/backend", "two").await;
    s.served_by("/a", "two").await;
    // Deleted.
    delete_all(&c, "/live/frontends/b").await;
    s.status("/b", 404).await;
    s.served_by("/a", "two").await;

    // The provider is in the API, as the store sent it.
    let (status, frontends) = get_json(&s.api("/api/providers/zookeeper/frontends")).await;
    assert_eq!(status, 200);
    assert_eq!(frontends["a"]["backend"], "two");
    assert!(frontends.get("b").is_none(), "{frontends}");
    // Each change came through the watch, not through retries after errors.
    s.no_outage();
}

#[tokio::test]
async fn lists_read_as_csv_and_as_indexed_children() {
    let port = shared().await;
    let c = connect(port).await;
    let backend = Backend::start("one").await;
    for f in ["csv", "indexed", "closed"] {
        route(&c, "/lists", f, "one", &backend.url()).await;
    }
    put(
        &c,
        "/lists/frontends/csv/whitelist/sourceRange",
        "10.0.0.0/8,127.0.0.1/32",
    )
    .await;
    put(
        &c,
        "/lists/frontends/indexed/whitelist/sourceRange/0",
        "10.0.0.0/8",
    )
    .await;
    put(
        &c,
        "/lists/frontends/indexed/whitelist/sourceRange/1",
        "127.0.0.1/32",
    )
    .await;
    // Only the first item: our address is not in it.
    put(
        &c,
        "/lists/frontends/closed/whitelist/sourceRange/0",
        "10.0.0.0/8",
    )
    .await;

    let s = Setup::start(port, "/lists");
    s.served_by("/csv", "one").await;
    s.served_by("/indexed", "one").await;
    s.status("/closed", 403).await;
    let (_, frontends) = get_json(&s.api("/api/providers/zookeeper/frontends")).await;
    for f in ["csv", "indexed"] {
        assert_eq!(
            frontends[f]["whiteList"]["sourceRange"],
            serde_json::json!(["10.0.0.0/8", "127.0.0.1/32"]),
            "{frontends}"
        );
    }
}

#[tokio::test]
async fn the_alias_switches_to_another_tree() {
    let port = shared().await;
    let c = connect(port).await;
    let (old, new) = (Backend::start("old").await, Backend::start("new").await);
    route(&c, "/aliased", "old", "b", &old.url()).await;
    route(&c, "/aliased_configurations/2", "new", "b", &new.url()).await;

    let s = Setup::start(port, "aliased");
    s.served_by("/old", "old").await;
    s.status("/new", 404).await;

    put(&c, "/aliased/alias", "/aliased_configurations/2").await;
    s.served_by("/new", "new").await;
    s.status("/old", 404).await;
    // The alias's target is watched too.
    route(&c, "/aliased_configurations/2", "newer", "b", &new.url()).await;
    s.served_by("/newer", "new").await;
    s.no_outage();
}

#[tokio::test]
async fn a_bad_key_is_named_and_the_rest_serves() {
    let port = shared().await;
    let c = connect(port).await;
    let backend = Backend::start("one").await;
    route(&c, "/badkey", "good", "one", &backend.url()).await;
    route(&c, "/badkey", "bad", "heavy", &backend.url()).await;
    put(&c, "/badkey/backends/heavy/servers/s/weight", "a lot").await;

    let s = Setup::start(port, "badkey");
    s.served_by("/good", "one").await;
    let state_url = s.api("/api/state");
    let error = eventually("the bad key in /api/state", || async {
        let (_, state) = get_json(&state_url).await;
        state["providers"]["zookeeper"]["lastError"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("/badkey/backends/heavy/servers/s/weight"),
        "{error}"
    );
    // The item left out: its server, so `bad` has nowhere to go.
    let (status, _) = get_json(&s.url("/bad")).await;
    assert_ne!(status, 200);
    assert!(
        s.trafik
            .logs()
            .contains("/badkey/backends/heavy/servers/s/weight"),
        "{}",
        s.trafik.logs()
    );

    // Mended: the key is no longer reported.
    put(&c, "/badkey/backends/heavy/servers/s/weight", "3").await;
    s.served_by("/bad", "one").await;
    let (_, state) = get_json(&state_url).await;
    assert!(state["providers"]["zookeeper"]["lastError"].is_null());
}

#[tokio::test]
async fn watch_false_reads_once() {
    let port = shared().await;
    let c = connect(port).await;
    let backend = Backend::start("one").await;
    route(&c, "/once", "first", "one", &backend.url()).await;

    // A file provider beside it, changed after the store: once its change is live, a
    // watched store's earlier change would be too.
    let rules = |marker: &str| {
        format!(
            "[frontends.{marker}]\nbackend = \"m\"\n[frontends.{marker}.routes.r]\n\
             rule = \"PathPrefix:/{marker}\"\n[backends.m.servers.s]\nurl = \"{}\"\n",
            backend.url()
        )
    };
    let s = Setup::start_with(
        port,
        "once",
        "watch = false",
        "[file]\nfilename = \"rules.toml\"\nwatch = true\n",
        &[("rules.toml", &rules("marker1"))],
    );
    s.served_by("/first", "one").await;
    s.served_by("/marker1", "one").await;

    route(&c, "/once", "second", "one", &backend.url()).await;
    write_by_rename(&s.trafik.dir.join("rules.toml"), &rules("marker2"));
    s.served_by("/marker2", "one").await;
    s.status("/second", 404).await;
    s.served_by("/first", "one").await;
}

#[tokio::test]
async fn a_store_killed_under_load_keeps_serving_and_changes_after_its_return_are_live() {
    let port = free_port();
    let server = StoreServer::own(common::zookeeper::server(port));
    let c = connect(port).await;
    let backend = Backend::start("one").await;
    route(&c, "/outage", "steady", "one", &backend.url()).await;

    let s = Setup::start(port, "outage");
    s.served_by("/steady", "one").await;
    let up = "traefik_provider_up{provider=\"zookeeper\"} 1";
    let down = "traefik_provider_up{provider=\"zookeeper\"} 0";
    eventually("the store up in /metrics", || async {
        s.metrics().await.contains(up).then_some(())
    })
    .await;

    // Paced by the backend (5 ms an answer), so the load lasts through the JVM's restart.
    let load = Load::start(&s.url("/steady?wait=5"), 4, 20_000);
    eventually("load running", || async {
        (load.counts().ok > 20).then_some(())
    })
    .await;
    drop(c);
    server.kill();
    eventually("the store down in /metrics", || async {
        s.metrics().await.contains(down).then_some(())
    })
    .await;
    let (_, state) = get_json(&s.api("/api/state")).await;
    assert_eq!(
        state["providers"]["zookeeper"]["store"]["up"], false,
        "{state}"
    );
    // Served while down.
    let during = load.counts().ok;
    eventually("requests served while the store is down", || async {
        (load.counts().ok > during + 50).then_some(())
    })
    .await;

    server.restart();
    let c = connect(port).await;
    route(&c, "/outage", "after", "one", &backend.url()).await;
    // The loop's backoff grows while the JVM restarts (up to 30 s between attempts), so
    // this waits longer than `eventually`.
    let after = s.url("/after");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = get_json(&after).await;
        if status == 200 && body["server"] == "one" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/after not live after the store's return"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually("the store up again in /metrics", || async {
        s.metrics().await.contains(up).then_some(())
    })
    .await;
    let counts = load.stop().await;
    eprintln!("load through the outage: {counts:?}");
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.ok > 0);
}

#[tokio::test]
async fn digest_auth_reads_a_tree_only_its_user_may_read() {
    let port = shared().await;
    let owner = zk::Client::connector()
        .with_auth("digest", b"trafik:s3cret")
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let backend = Backend::start("one").await;
    // Every znode readable by the digest user `trafik` alone (`auth` ACL: its creator).
    let private = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    for (path, value) in [
        ("/authed", String::new()),
        ("/authed/backends", String::new()),
        ("/authed/backends/b", String::new()),
        ("/authed/backends/b/servers", String::new()),
        ("/authed/backends/b/servers/s", String::new()),
        ("/authed/backends/b/servers/s/url", backend.url()),
        ("/authed/frontends", String::new()),
        ("/authed/frontends/f", String::new()),
        ("/authed/frontends/f/backend", "b".to_string()),
        ("/authed/frontends/f/routes", String::new()),
        ("/authed/frontends/f/routes/r", String::new()),
        (
            "/authed/frontends/f/routes/r/rule",
            "PathPrefix:/private".to_string(),
        ),
    ] {
        owner
            .create(path, value.as_bytes(), &private)
            .await
            .unwrap();
    }

    let s = Setup::start_with(
        port,
        "authed",
        "username = \"trafik\"\npassword = \"s3cret\"",
        "",
        &[],
    );
    s.served_by("/private", "one").await;
    // The password is not in the logs.
    assert!(!s.trafik.logs().contains("s3cret"));

    // Without the credentials the store refuses the read: an outage, named.
    let anonymous = Setup::start(port, "authed");
    let state_url = anonymous.api("/api/state");
    let error = eventually("the refused read in /api/state", || async {
        let (_, state) = get_json(&state_url).await;
        let store = &state["providers"]["zookeeper"]["store"];
        (store["up"] == false)
            .then(|| store["error"].as_str().map(str::to_string))
            .flatten()
    })
    .await;
    assert!(error.contains("/authed"), "{error}");
}

#[tokio::test]
async fn the_store_writes_pairs_reads_them_back_and_wakes_on_a_change() {
    use trafik::provider::kv::Store;

    let port = shared().await;
    let table = trafik_config::KvProvider {
        endpoint: Some(format!("127.0.0.1:{port}")),
        ..Default::default()
    };
    let mut store = trafik::provider::zookeeper::store(&table, Path::new(".")).unwrap();
    // A prefix with no znode is an empty configuration.
    assert_eq!(store.list("roundtrip").await.unwrap(), vec![]);

    let pairs: Vec<(String, Vec<u8>)> = [
        ("/roundtrip/backends/b/servers/s/url", "http://127.0.0.1:9"),
        ("/roundtrip/backends/b/servers/s/weight", "3"),
        ("/roundtrip/frontends/f/backend", "b"),
        ("/roundtrip/frontends/f/entrypoints/0", "http"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
    .collect();
    store.put(&pairs).await.unwrap();
    // Written again: existing znodes get the new data.
    let mut changed = pairs.clone();
    changed[1].1 = b"5".to_vec();
    store.put(&changed).await.unwrap();

    let listed = store.list("/roundtrip").await.unwrap();
    let mut with_data: Vec<(String, Vec<u8>)> = listed
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect();
    with_data.sort();
    assert_eq!(with_data, changed);
    // The znodes in between are listed too, without data.
    assert!(
        listed
            .iter()
            .any(|(k, v)| k == "/roundtrip/backends/b" && v.is_empty())
    );
    let decoded = trafik_config::kv::decode("roundtrip", &listed);
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    assert_eq!(decoded.configuration.backends["b"].servers["s"].weight, 5);

    // Another client's write wakes the watch armed by `list`.
    let c = connect(port).await;
    put(&c, "/roundtrip/frontends/f/priority", "7").await;
    tokio::time::timeout(Duration::from_secs(30), store.changed())
        .await
        .expect("a change within 30 s")
        .unwrap();
}

#[tokio::test]
async fn trafik_check_reads_the_tree_once_and_names_a_bad_key() {
    let port = shared().await;
    let c = connect(port).await;
    route(&c, "/checked", "f", "b", "http://127.0.0.1:9").await;
    let dir = tempfile::tempdir().unwrap();
    let config = |prefix: &str| {
        format!(
            "[entryPoints.http]\naddress = \"127.0.0.1:9\"\n\
             [zookeeper]\nendpoint = \"127.0.0.1:{port}\"\nprefix = \"{prefix}\"\n"
        )
    };
    std::fs::write(dir.path().join("trafik.toml"), config("checked")).unwrap();
    let (status, stdout, stderr) = run_trafik(&["check"], dir.path());
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("configuration OK (1 routes"), "{stdout}");

    put(&c, "/checked/backends/b/servers/s/weight", "heavy").await;
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains("/checked/backends/b/servers/s/weight"),
        "{stderr}"
    );

    // A store that is not there: named, bounded.
    let nobody = free_port();
    std::fs::write(
        dir.path().join("trafik.toml"),
        config("checked").replace(&port.to_string(), &nobody.to_string()),
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(stderr.contains("[zookeeper]"), "{stderr}");
}

#[test]
fn a_table_that_cannot_work_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        "[entryPoints.http]\naddress = \"127.0.0.1:9\"\n\
         [zookeeper]\nendpoint = \"127.0.0.1:2181\"\nusername = \"trafik\"\n",
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&[], dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains("[zookeeper]") && stderr.contains("username and password go together"),
        "{stderr}"
    );
}

/// The jars ZooKeeper's Netty connection factory needs beside `JARS` (TLS is Netty's).
const NETTY_JARS: [&str; 8] = [
    "netty-handler.jar",
    "netty-transport.jar",
    "netty-buffer.jar",
    "netty-common.jar",
    "netty-codec.jar",
    "netty-resolver.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
];

/// A ZooKeeper answering only TLS on `secure_port` (and plain text on `port`, for the test's
/// own client), requiring a client certificate signed by `ca.pem`; `server.pem` holds its
/// key and certificate.
fn zookeeper_tls(port: u16, secure_port: u16) -> impl Fn(&Path) -> Command + Send + Sync + 'static {
    move |dir: &Path| {
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=500\ndataDir={data}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 secureClientPort={secure_port}\nsecureClientPortAddress=127.0.0.1\n\
                 serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
                 ssl.keyStore.location={dir}/server.pem\nssl.keyStore.type=PEM\n\
                 ssl.trustStore.location={dir}/ca.pem\nssl.trustStore.type=PEM\n\
                 ssl.clientAuth=need\n\
                 admin.enableServer=false\n4lw.commands.whitelist=\n",
                data = dir.join("data").display(),
                dir = dir.display(),
            ),
        )
        .unwrap();
        common::zookeeper::java(&cfg, &NETTY_JARS)
    }
}

#[tokio::test]
async fn tls_with_a_client_certificate() {
    let ca = common::pki::Ca::new("ZooKeeper test CA");
    let server_pem = ca.server(&["localhost", "127.0.0.1"], "ZooKeeper");
    let client_pem = ca.client("trafik");
    let (port, secure_port) = (free_port(), free_port());
    // The server's files go in its directory before it starts: a first start writes
    // zoo.cfg, so write them, then restart it with them.
    let server = StoreServer::own(zookeeper_tls(port, secure_port));
    std::fs::write(
        server.dir.path().join("server.pem"),
        format!("{}{}", server_pem.key, server_pem.cert),
    )
    .unwrap();
    std::fs::write(server.dir.path().join("ca.pem"), &ca.cert_pem).unwrap();
    server.restart();
    let c = connect(port).await;
    let backend = Backend::start("one").await;
    route(&c, "/secure", "f", "b", &backend.url()).await;

    let files = [
        ("ca.pem", ca.cert_pem.as_str()),
        ("client.pem", client_pem.cert.as_str()),
        ("client.key", client_pem.key.as_str()),
    ];
    let s = Setup::start_with(
        secure_port,
        "secure",
        "[zookeeper.tls]\nca = \"ca.pem\"\ncert = \"client.pem\"\nkey = \"client.key\"",
        "",
        &files,
    );
    s.served_by("/f", "one").await;
    // Changes arrive over the TLS session's watch too.
    route(&c, "/secure", "g", "b", &backend.url()).await;
    s.served_by("/g", "one").await;
    s.no_outage();

    // Without a client certificate the server refuses the session: an outage.
    let anonymous = Setup::start_with(
        secure_port,
        "secure",
        "[zookeeper.tls]\nca = \"ca.pem\"",
        "",
        &files,
    );
    let state_url = anonymous.api("/api/state");
    eventually("the refused TLS session in /api/state", || async {
        let (_, state) = get_json(&state_url).await;
        let store = &state["providers"]["zookeeper"]["store"];
        (store["up"] == false && store["error"].is_string()).then_some(())
    })
    .await;
    let (status, _) = get_json(&anonymous.url("/f")).await;
    assert_eq!(status, 404);
}
