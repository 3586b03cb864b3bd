//! The `[redis]` provider against a real `redis-server` (Debian's `redis-server` package):
//! the real trafik binary reads v1's layout (no leading slash) from it, follows changes by
//! keyspace notifications (or polling where CONFIG is disabled), and keeps serving while
//! the server is gone. Keys are written with the redis crate's client, as an operator's
//! tool would. One shared server for the binary, each test under its own prefix; the tests
//! that kill the server or need special settings own theirs.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::load::Load;
use common::proxied::Proxied;
use common::store_server::StoreServer;
use common::{Backend, Trafik, eventually, free_port, get_json};
use redis::AsyncCommands;
use trafik::provider::kv::Store;

/// `redis-server` on `port`, on loopback only, without persistence, in the server's dir.
fn redis_command(port: u16, extra: &[&str]) -> impl Fn(&Path) -> Command + Send + Sync + use<> {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    move |dir: &Path| {
        let mut c = Command::new("redis-server");
        c.arg("--port")
            .arg(port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--dir")
            .arg(dir)
            .args(&extra);
        if !extra.iter().any(|a| a == "--appendonly") {
            c.arg("--appendonly").arg("no");
        }
        c
    }
}

/// A server and its port, up and answering PING (with `password` when it needs one).
async fn start(server: StoreServer, port: u16, password: Option<&str>) -> (StoreServer, u16) {
    let url = match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{port}/"),
        None => format!("redis://127.0.0.1:{port}/"),
    };
    server
        .wait_ready("redis-server", || ping(url.clone()))
        .await;
    (server, port)
}

async fn ping(url: String) -> bool {
    let Ok(c) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut conn) = c.get_multiplexed_async_connection().await else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok()
}

/// The binary's shared server (started by whichever test comes first), up.
async fn shared() -> u16 {
    static SERVER: OnceLock<(StoreServer, u16)> = OnceLock::new();
    let (server, port) = SERVER.get_or_init(|| {
        let port = free_port();
        (StoreServer::shared(redis_command(port, &[])), port)
    });
    let url = format!("redis://127.0.0.1:{port}/");
    server
        .wait_ready("redis-server", || ping(url.clone()))
        .await;
    *port
}

/// An operator's client on database `db`.
async fn operator(port: u16, db: i64, password: Option<&str>) -> redis::aio::MultiplexedConnection {
    let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
    redis::Client::open(format!("redis://{auth}127.0.0.1:{port}/{db}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn set(conn: &mut redis::aio::MultiplexedConnection, pairs: &[(String, String)]) {
    let _: () = conn.mset(pairs).await.unwrap();
}

/// v1's layout for one frontend `fe` routing `PathPrefix:<path>` to backend `be` (one server).
fn frontend(prefix: &str, fe: &str, path: &str, be: &str, url: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("{prefix}/backends/{be}/servers/s1/url"),
            url.to_string(),
        ),
        (format!("{prefix}/frontends/{fe}/backend"), be.to_string()),
        (
            format!("{prefix}/frontends/{fe}/routes/r/rule"),
            format!("PathPrefix:{path}"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_in_the_layout_serves_and_follows_changes() {
    let port = shared().await;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let mut op = operator(port, 0, None).await;
    let p = "t_serve";
    set(&mut op, &frontend(p, "f1", "/one", "ba", &a.url())).await;

    let proxy = Proxied::start(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\""),
    );
    proxy.served_by("/one", "a").await;

    // Add a frontend.
    set(&mut op, &frontend(p, "f2", "/two", "bb", &b.url())).await;
    proxy.served_by("/two", "b").await;

    // Change one: f1 now goes to backend bb.
    let _: () = op
        .set(format!("{p}/frontends/f1/backend"), "bb")
        .await
        .unwrap();
    proxy.served_by("/one", "b").await;

    // Delete one (every key of f2).
    let _: () = op
        .del(&[
            format!("{p}/frontends/f2/backend"),
            format!("{p}/frontends/f2/routes/r/rule"),
        ])
        .await
        .unwrap();
    proxy.answers("/two", 404).await;
    assert_eq!(proxy.status("/one").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_values_as_csv_or_indexed_sub_keys() {
    let port = shared().await;
    let a = Backend::start("a").await;
    let mut op = operator(port, 0, None).await;
    let p = "t_lists";
    let mut keys = frontend(p, "csv", "/csv", "ba", &a.url());
    keys.extend(frontend(p, "idx", "/idx", "ba", &a.url()));
    keys.extend(frontend(p, "only", "/only", "ba", &a.url()));
    keys.push((format!("{p}/frontends/csv/entrypoints"), "http,alt".into()));
    keys.push((format!("{p}/frontends/idx/entrypoints/0"), "alt".into()));
    keys.push((format!("{p}/frontends/idx/entrypoints/1"), "http".into()));
    keys.push((format!("{p}/frontends/only/entrypoints/0"), "alt".into()));
    set(&mut op, &keys).await;

    let (http, alt) = (free_port(), free_port());
    let toml = format!(
        "defaultEntryPoints = [\"http\"]\n\
         [entryPoints.http]\naddress = \"127.0.0.1:{http}\"\n\
         [entryPoints.alt]\naddress = \"127.0.0.1:{alt}\"\n\
         [redis]\nendpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\"\n"
    );
    let trafik = Trafik::start(&toml);
    for port in [http, alt] {
        for path in ["/csv", "/idx"] {
            trafik
                .wait_for(&format!("http://127.0.0.1:{port}{path}"), 200)
                .await;
        }
    }
    // `only` lists alt alone: not on http.
    trafik
        .wait_for(&format!("http://127.0.0.1:{alt}/only"), 200)
        .await;
    assert_eq!(
        get_json(&format!("http://127.0.0.1:{http}/only")).await.0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alias_switches_between_trees() {
    let port = shared().await;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let mut op = operator(port, 0, None).await;
    set(&mut op, &frontend("t_alias_v1", "f", "/", "x", &a.url())).await;
    set(&mut op, &frontend("t_alias_v2", "f", "/", "x", &b.url())).await;
    let _: () = op.set("t_alias/alias", "t_alias_v1").await.unwrap();

    let proxy = Proxied::start(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"t_alias\""),
    );
    proxy.served_by("/", "a").await;

    let _: () = op.set("t_alias/alias", "t_alias_v2").await.unwrap();
    proxy.served_by("/", "b").await;

    // The new tree is followed: a change in it goes live.
    set(&mut op, &frontend("t_alias_v2", "g", "/new", "y", &a.url())).await;
    proxy.served_by("/new", "a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_is_skipped_and_named_and_the_rest_serves() {
    let port = shared().await;
    let a = Backend::start("a").await;
    let mut op = operator(port, 0, None).await;
    let p = "t_bad";
    let mut keys = frontend(p, "good", "/good", "ok", &a.url());
    keys.extend(frontend(p, "bad", "/bad", "broken", &a.url()));
    keys.push((
        format!("{p}/backends/broken/servers/s1/weight"),
        "heavy".into(),
    ));
    set(&mut op, &keys).await;
    // Not a string: skipped with a warning naming it.
    let _: () = op
        .rpush(format!("{p}/frontends/good/list"), "x")
        .await
        .unwrap();

    let proxy = Proxied::start(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\""),
    );
    proxy.served_by("/good", "a").await;
    let error = eventually("the bad key in /api/state", || async {
        let state = proxy.provider_state("redis").await;
        state["lastError"].as_str().map(str::to_string)
    })
    .await;
    assert!(
        error.contains("t_bad/backends/broken/servers/s1/weight"),
        "{error}"
    );
    assert_ne!(proxy.status("/bad").await, 200);
    let logs = proxy.trafik.logs();
    assert!(
        logs.contains("key t_bad/frontends/good/list holds a list, not a string: skipped"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_3_is_read_and_followed_alone() {
    let port = shared().await;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = "t_db";
    let mut db0 = operator(port, 0, None).await;
    let mut db3 = operator(port, 3, None).await;
    set(&mut db0, &frontend(p, "f0", "/zero", "b0", &a.url())).await;
    set(&mut db3, &frontend(p, "f3", "/three", "b3", &b.url())).await;

    let proxy = Proxied::start(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\"\ndb = 3"),
    );
    proxy.served_by("/three", "b").await;
    assert_eq!(proxy.status("/zero").await, 404);

    set(&mut db3, &frontend(p, "g3", "/three-more", "b3", &b.url())).await;
    proxy.served_by("/three-more", "b").await;
    assert_eq!(proxy.status("/zero").await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_false_reads_once() {
    let port = shared().await;
    let a = Backend::start("a").await;
    let mut op = operator(port, 0, None).await;
    let p = "t_once";
    set(&mut op, &frontend(p, "f", "/first", "x", &a.url())).await;
    let redis = format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\"");
    let once = Proxied::start("redis", &format!("{redis}\nwatch = false"));
    let watching = Proxied::start("redis", &redis);
    once.served_by("/first", "a").await;
    watching.served_by("/first", "a").await;

    // Two changes, each seen by the watching trafik: by then a watching `once` would have
    // seen the first.
    set(&mut op, &frontend(p, "g", "/later", "x", &a.url())).await;
    watching.served_by("/later", "a").await;
    set(&mut op, &frontend(p, "h", "/latest", "x", &a.url())).await;
    watching.served_by("/latest", "a").await;
    assert_eq!(once.status("/later").await, 404);
    assert_eq!(once.status("/latest").await, 404);
    assert_eq!(once.status("/first").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_killed_under_load_takes_nothing_away() {
    // Persisted (append-only file, fsync on each write), so the restarted server has the
    // keys: this test is about the outage, not an emptied store.
    let port = free_port();
    let server = StoreServer::own(redis_command(
        port,
        &["--appendonly", "yes", "--appendfsync", "always"],
    ));
    let (server, port) = start(server, port, None).await;
    let a = Backend::start("a").await;
    let mut op = operator(port, 0, None).await;
    let p = "t_kill";
    set(&mut op, &frontend(p, "f", "/", "x", &a.url())).await;

    let proxy = Proxied::start(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\""),
    );
    proxy.served_by("/", "a").await;
    let load = Load::start(&proxy.url("/"), 2, 100_000);

    server.kill();
    let down = "traefik_provider_up{provider=\"redis\"} 0";
    eventually("the store seen down in /metrics", || async {
        proxy.metrics().await.contains(down).then_some(())
    })
    .await;
    let state = proxy.provider_state("redis").await;
    assert_eq!(state["store"]["up"], false, "{state}");
    // Requests keep being answered while the store is gone.
    let before = load.counts().ok;
    eventually("requests answered while the store is down", || async {
        (load.counts().ok > before + 100).then_some(())
    })
    .await;

    server.restart();
    let (_server, port) = start(server, port, None).await;
    let up = "traefik_provider_up{provider=\"redis\"} 1";
    eventually("the store seen up again", || async {
        proxy.metrics().await.contains(up).then_some(())
    })
    .await;
    let mut op = operator(port, 0, None).await;
    set(&mut op, &frontend(p, "g", "/after", "x", &a.url())).await;
    proxy.served_by("/after", "a").await;

    let counts = load.stop().await;
    eprintln!("load across the store's kill and restart: {counts:?}");
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert!(counts.ok > 100, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_protected_server() {
    let port = free_port();
    let server = StoreServer::own(redis_command(port, &["--requirepass", "s3cret"]));
    let (_server, port) = start(server, port, Some("s3cret")).await;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let mut op = operator(port, 0, Some("s3cret")).await;
    let p = "t_auth";
    set(&mut op, &frontend(p, "f", "/kv", "x", &a.url())).await;

    let right = Proxied::start(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\"\npassword = \"s3cret\""),
    );
    right.served_by("/kv", "a").await;

    // The wrong password: the store is an outage that says why; the file provider's
    // routes serve regardless.
    let wrong = Proxied::start_with(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\"\npassword = \"wrong\""),
        &format!(
            "[file]\n[backends.fb.servers.s]\nurl = \"{}\"\n[frontends.ff]\nbackend = \"fb\"\n\
             [frontends.ff.routes.r]\nrule = \"PathPrefix:/file\"\n",
            b.url()
        ),
        &[],
    );
    wrong.served_by("/file", "b").await;
    let error = eventually("the store's error in /api/state", || async {
        let state = wrong.provider_state("redis").await;
        state["store"]["error"].as_str().map(str::to_string)
    })
    .await;
    assert!(
        error.to_lowercase().contains("authentication failed"),
        "{error}"
    );
    assert!(
        !error.contains("wrong"),
        "the password must not be shown: {error}"
    );
    assert_eq!(wrong.status("/kv").await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_config_it_polls_and_says_why() {
    let port = free_port();
    let server = StoreServer::own(move |dir: &Path| {
        let conf = dir.join("redis.conf");
        std::fs::write(&conf, "rename-command CONFIG \"\"\n").unwrap();
        let mut c = Command::new("redis-server");
        c.arg(&conf);
        let rest = redis_command(port, &[])(dir);
        c.args(rest.get_args());
        c
    });
    let (_server, port) = start(server, port, None).await;
    let a = Backend::start("a").await;
    let mut op = operator(port, 0, None).await;
    let p = "t_poll";
    set(&mut op, &frontend(p, "f", "/first", "x", &a.url())).await;

    let proxy = Proxied::start(
        "redis",
        &format!("endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\"\npollInterval = \"200ms\""),
    );
    proxy.served_by("/first", "a").await;
    set(&mut op, &frontend(p, "g", "/second", "x", &a.url())).await;
    proxy.served_by("/second", "a").await;
    let logs = proxy.trafik.logs();
    assert!(
        logs.contains("may not turn keyspace notifications on"),
        "{logs}"
    );
    assert!(logs.contains("unknown command"), "{logs}");
    assert!(logs.contains("notify-keyspace-events"), "{logs}");
    assert!(logs.contains("polling every 200ms"), "{logs}");
}

/// The store through trafik's own client: `put` (storeconfig's write) is one MSET, `list`
/// finds exactly the keys under a prefix with glob characters in it, strings only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_list_through_the_store() {
    let port = shared().await;
    let text = format!("[redis]\nendpoint = \"127.0.0.1:{port}\"\n");
    let cfg = trafik_config::load_static("t.toml", &text).unwrap().value;
    let mut store = trafik::provider::redis::store(&cfg.redis.unwrap(), Path::new(".")).unwrap();
    let prefix = "t_put[1]*";
    let pairs: Vec<(String, Vec<u8>)> = vec![
        (format!("{prefix}/frontends/f/backend"), b"b".to_vec()),
        (
            format!("{prefix}/backends/b/servers/s/url"),
            b"http://127.0.0.1:1".to_vec(),
        ),
    ];
    store.put(&pairs).await.unwrap();
    let mut op = operator(port, 0, None).await;
    // Neighbours the glob must not catch, and a non-string inside.
    set(
        &mut op,
        &[("t_put1x/frontends/g/backend".into(), "no".into())],
    )
    .await;
    let _: () = op
        .sadd(format!("{prefix}/frontends/set"), "x")
        .await
        .unwrap();
    let mut listed = store.list(prefix).await.unwrap();
    listed.sort();
    let mut expected = pairs.clone();
    expected.sort();
    assert_eq!(listed, expected);
}

/// An ACL user (`username` + `password`) that may read its keys but neither CONFIG nor
/// PSUBSCRIBE: trafik says why and polls alone, and changes still go live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_without_config_or_psubscribe_polls() {
    let port = shared().await;
    let a = Backend::start("a").await;
    let mut op = operator(port, 0, None).await;
    let p = "t_acl";
    let _: () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "t_acl_reader",
            "reset",
            "on",
            ">reader-pw",
            "~t_acl/*",
            "resetchannels",
            "+@read",
            "+@connection",
        ])
        .query_async(&mut op)
        .await
        .unwrap();
    set(&mut op, &frontend(p, "f", "/first", "x", &a.url())).await;

    let proxy = Proxied::start(
        "redis",
        &format!(
            "endpoint = \"127.0.0.1:{port}\"\nprefix = \"{p}\"\nusername = \"t_acl_reader\"\n\
         password = \"reader-pw\"\npollInterval = \"200ms\""
        ),
    );
    proxy.served_by("/first", "a").await;
    set(&mut op, &frontend(p, "g", "/second", "x", &a.url())).await;
    proxy.served_by("/second", "a").await;
    let logs = proxy.trafik.logs();
    assert!(
        logs.contains("may not turn keyspace notifications on (CONFIG GET"),
        "{logs}"
    );
    assert!(
        logs.contains("no keyspace notifications (PSUBSCRIBE"),
        "{logs}"
    );
    assert!(logs.contains("polling every 200ms"), "{logs}");
}

/// `[redis.tls]` towards a TLS-only port that asks for a client certificate: the CA and the
/// client's pair (files beside trafik.toml) work; without the CA the error says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_client_certificate() {
    let ca = common::pki::Ca::new("redis test CA");
    let server_pem = ca.server(&["127.0.0.1"], "Redis");
    let client_pem = ca.client("trafik");
    let (plain, tls) = (free_port(), free_port());
    let ca_pem = ca.cert_pem.clone();
    let server = StoreServer::own(move |dir: &Path| {
        std::fs::write(dir.join("server.pem"), &server_pem.cert).unwrap();
        std::fs::write(dir.join("server.key"), &server_pem.key).unwrap();
        std::fs::write(dir.join("ca.pem"), &ca_pem).unwrap();
        let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
        let tls_args = [
            "--tls-port".to_string(),
            tls.to_string(),
            "--tls-cert-file".into(),
            path("server.pem"),
            "--tls-key-file".into(),
            path("server.key"),
            "--tls-ca-cert-file".into(),
            path("ca.pem"),
            "--tls-auth-clients".into(),
            "yes".into(),
        ];
        let mut c = redis_command(plain, &[])(dir);
        c.args(tls_args);
        c
    });
    // The operator writes on the plain port; trafik reads on the TLS one.
    let (_server, plain) = start(server, plain, None).await;
    let a = Backend::start("a").await;
    let mut op = operator(plain, 0, None).await;
    let p = "t_tls";
    set(&mut op, &frontend(p, "f", "/tls", "x", &a.url())).await;

    let files = [
        ("certs/ca.pem", ca.cert_pem.as_str()),
        ("certs/client.pem", client_pem.cert.as_str()),
        ("certs/client.key", client_pem.key.as_str()),
    ];
    let redis = format!(
        "endpoint = \"127.0.0.1:{tls}\"\nprefix = \"{p}\"\n[redis.tls]\nca = \"certs/ca.pem\"\n\
         cert = \"certs/client.pem\"\nkey = \"certs/client.key\""
    );
    let proxy = Proxied::start_with("redis", &redis, "", &files);
    proxy.served_by("/tls", "a").await;
    // Followed over TLS too.
    set(&mut op, &frontend(p, "g", "/tls-more", "x", &a.url())).await;
    proxy.served_by("/tls-more", "a").await;

    // Without the CA: the system's roots do not know this server.
    let untrusting = Proxied::start(
        "redis",
        &format!(
            "endpoint = \"127.0.0.1:{tls}\"\nprefix = \"{p}\"\n[redis.tls]\ninsecureSkipVerify = false"
        ),
    );
    let error = eventually("the TLS error in /api/state", || async {
        let state = untrusting.provider_state("redis").await;
        state["store"]["error"].as_str().map(str::to_string)
    })
    .await;
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert_eq!(untrusting.status("/tls").await, 404);

    // insecureSkipVerify: no CA, the server's certificate is not checked.
    let redis = format!(
        "endpoint = \"rediss://127.0.0.1:{tls}\"\nprefix = \"{p}\"\n[redis.tls]\n\
         insecureSkipVerify = true\ncert = \"certs/client.pem\"\nkey = \"certs/client.key\""
    );
    let insecure = Proxied::start_with("redis", &redis, "", &files);
    insecure.served_by("/tls", "a").await;
}

/// `trafik check` reads the store once: a good tree is OK, a bad key is named, a server
/// that is not there is said to be so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_the_store_once() {
    let port = shared().await;
    let mut op = operator(port, 0, None).await;
    set(
        &mut op,
        &frontend("t_check_ok", "f", "/", "x", "http://127.0.0.1:9"),
    )
    .await;
    let mut bad = frontend("t_check_bad", "f", "/", "x", "http://127.0.0.1:9");
    bad.push((
        "t_check_bad/backends/x/servers/s1/weight".into(),
        "heavy".into(),
    ));
    set(&mut op, &bad).await;
    let closed = free_port();

    let run = |endpoint: String, prefix: &str| {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[entryPoints.http]\naddress = \"127.0.0.1:{}\"\n[redis]\nendpoint = \"{endpoint}\"\n\
             prefix = \"{prefix}\"\n",
            free_port()
        );
        std::fs::write(dir.path().join("trafik.toml"), toml).unwrap();
        common::run_trafik(&["check"], dir.path())
    };
    let here = format!("127.0.0.1:{port}");
    let (status, stdout, stderr) = run(here.clone(), "t_check_ok");
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("configuration OK (1 routes"), "{stdout}");

    let (status, _, stderr) = run(here, "t_check_bad");
    assert!(!status.success());
    assert!(
        stderr.contains("t_check_bad/backends/x/servers/s1/weight"),
        "{stderr}"
    );

    let (status, _, stderr) = run(format!("127.0.0.1:{closed}"), "t_check_ok");
    assert!(!status.success());
    assert!(stderr.contains("[redis]"), "{stderr}");
    assert!(
        stderr.contains(&format!("redis 127.0.0.1:{closed}")),
        "{stderr}"
    );
}

/// v1's way of running from a store: `trafik storeconfig` writes a file's static and
/// dynamic configuration into Redis, then a trafik started with flags alone (no file)
/// takes its entry points from the store and serves the routes it holds; a flag still
/// wins over the store's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storeconfig_then_a_run_from_the_store_alone() {
    let port = shared().await;
    let a = Backend::start("a").await;
    let p = "t_storeconfig";
    let flags = [
        "--redis".to_string(),
        format!("--redis.endpoint=127.0.0.1:{port}"),
        format!("--redis.prefix={p}"),
    ];
    let http = common::storeconfig::write("redis", &flags, p, &a.url());
    let mut op = operator(port, 0, None).await;
    let address: String = op
        .get(format!("{p}/entryPoints/http/address"))
        .await
        .unwrap();
    assert_eq!(address, format!("127.0.0.1:{http}"));
    common::storeconfig::run_from(&flags, http, "a").await;
}
