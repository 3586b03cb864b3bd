//! The `[boltdb]` provider through the real binary, on Bolt files written by the real Bolt
//! library: `tests/boltdb/writer.go` puts and deletes keys through docker/libkv's boltdb
//! store (Traefik 1.x's), so bucket, key spelling and value encoding are v1's by
//! construction. The writer is built once per test binary (Go in GOPATH mode, offline).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Backend, Trafik, client, eventually, free_port, get_json};
use serde_json::Value;

/// The Go writer, built on first use into the target's temporary directory.
fn writer() -> &'static Path {
    static WRITER: OnceLock<PathBuf> = OnceLock::new();
    WRITER.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boltdb-writer");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("writer");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boltdb/writer.go");
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&bin)
            .arg(&source)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOCACHE", dir.join("cache"))
            .env("GOPROXY", "off")
            .output()
            .expect("go (Debian golang-go) to build tests/boltdb/writer.go");
        assert!(
            out.status.success(),
            "go build failed (needs golang-go, golang-github-docker-libkv-dev, golang-github-coreos-bbolt-dev):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

/// Runs the writer on `db` with operations such as `["put", key, value, "del", key]`.
fn write(db: &Path, ops: &[&str]) {
    let out = Command::new(writer()).arg(db).args(ops).output().unwrap();
    assert!(
        out.status.success(),
        "writer {ops:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `put` operations for a backend `b` with one server, and a frontend `f` on `b` with the
/// rule `Host:<host>`, under `prefix`.
fn route(prefix: &str, f: &str, b: &str, url: &str, host: &str) -> Vec<String> {
    [
        (
            format!("{prefix}/backends/{b}/servers/s1/url"),
            url.to_string(),
        ),
        (format!("{prefix}/frontends/{f}/backend"), b.to_string()),
        (
            format!("{prefix}/frontends/{f}/routes/r1/rule"),
            format!("Host:{host}"),
        ),
    ]
    .into_iter()
    .flat_map(|(k, v)| ["put".to_string(), k, v])
    .collect()
}

fn write_all(db: &Path, ops: &[String]) {
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    write(db, &ops);
}

struct Setup {
    trafik: Trafik,
    http: u16,
    api: u16,
}

impl Setup {
    /// trafik with `[boltdb]` table `boltdb` (its keys, one a line) and `extra` top-level
    /// configuration.
    fn start(boltdb: &str, extra: &str) -> Setup {
        let (http, api) = (free_port(), free_port());
        let toml = format!(
            r#"defaultEntryPoints = ["http"]
providersThrottleDuration = "200ms"
{extra}
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.traefik]
address = "127.0.0.1:{api}"
[api]
[metrics.prometheus]
[boltdb]
{boltdb}
"#
        );
        Setup {
            trafik: Trafik::start(&toml),
            http,
            api,
        }
    }

    /// The status of a GET to `host` on `port`, and the backend's name when one answered.
    async fn get_on(&self, port: u16, host: &str) -> (u16, Option<String>) {
        let r = client()
            .get(format!("http://127.0.0.1:{port}/"))
            .header("host", host)
            .send()
            .await;
        let Ok(r) = r else { return (0, None) };
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (status, body["server"].as_str().map(str::to_string))
    }

    async fn get(&self, host: &str) -> (u16, Option<String>) {
        self.get_on(self.http, host).await
    }

    /// Waits until `host` is answered by backend `server` (`None`: until it is a 404).
    async fn wait_route(&self, host: &str, server: Option<&str>) {
        let what = format!("{host} answered by {server:?}");
        eventually(&what, || async {
            let (status, got) = self.get(host).await;
            let done = match server {
                Some(s) => status == 200 && got.as_deref() == Some(s),
                None => status == 404,
            };
            done.then_some(())
        })
        .await;
    }

    async fn state(&self) -> Value {
        get_json(&format!("http://127.0.0.1:{}/api/state", self.api))
            .await
            .1
    }

    async fn metrics(&self) -> String {
        let r = client()
            .get(format!("http://127.0.0.1:{}/metrics", self.api))
            .send()
            .await;
        match r {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until `/api/state` says the store is (not) reachable, with an error holding
    /// `error` while it is not; returns that error.
    async fn wait_store(&self, up: bool, error: &str) -> String {
        let what = format!("boltdb store up={up} with error containing {error:?}");
        eventually(&what, || async {
            let state = self.state().await;
            let store = &state["providers"]["boltdb"]["store"];
            let got = store["error"].as_str().unwrap_or("").to_string();
            (store["up"].as_bool() == Some(up) && got.contains(error)).then_some(got)
        })
        .await
    }

    async fn wait_metric(&self, line: &str) {
        eventually(&format!("metric {line}"), || async {
            self.metrics()
                .await
                .lines()
                .any(|l| l == line)
                .then_some(())
        })
        .await;
    }
}

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("traefik.db")
}

#[tokio::test]
async fn a_file_missing_at_start_then_written_loads_and_follows_every_change() {
    let b1 = Backend::start("b1").await;
    let b2 = Backend::start("b2").await;
    // The path is relative to the configuration file's directory, where nothing is yet.
    let s = Setup::start("endpoint = \"data/traefik.db\"", "");
    let db = s.trafik.path("data/traefik.db");
    let error = s.wait_store(false, "no such file").await;
    assert!(error.contains(&db.display().to_string()), "{error}");
    s.wait_metric("traefik_provider_up{provider=\"boltdb\"} 0")
        .await;

    // Written as v1 would: the configuration appears.
    write_all(&db, &route("/traefik", "f1", "b1", &b1.url(), "a.test"));
    s.wait_route("a.test", Some("b1")).await;
    s.wait_store(true, "").await;
    s.wait_metric("traefik_provider_up{provider=\"boltdb\"} 1")
        .await;

    // Add a frontend.
    write_all(&db, &route("/traefik", "f2", "b2", &b2.url(), "b.test"));
    s.wait_route("b.test", Some("b2")).await;
    // Change one: its old host goes, its new one comes.
    write(
        &db,
        &["put", "/traefik/frontends/f1/routes/r1/rule", "Host:c.test"],
    );
    s.wait_route("c.test", Some("b1")).await;
    s.wait_route("a.test", None).await;
    // Delete one.
    write(
        &db,
        &[
            "del",
            "/traefik/frontends/f2/backend",
            "del",
            "/traefik/frontends/f2/routes/r1/rule",
        ],
    );
    s.wait_route("b.test", None).await;
    assert_eq!(s.get("c.test").await, (200, Some("b1".to_string())));
}

#[tokio::test]
async fn lists_read_as_one_comma_separated_value_or_as_numbered_keys() {
    let b = Backend::start("b").await;
    let other = free_port();
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let prefix = "/lists";
    let mut ops = route(prefix, "csv", "b", &b.url(), "csv.test");
    ops.extend(route(prefix, "numbered", "b", &b.url(), "numbered.test"));
    for (k, v) in [
        (format!("{prefix}/frontends/csv/entrypoints"), "http,other"),
        (format!("{prefix}/frontends/numbered/entrypoints/0"), "http"),
        (
            format!("{prefix}/frontends/numbered/entrypoints/1"),
            "other",
        ),
    ] {
        ops.extend(["put".to_string(), k, v.to_string()]);
    }
    write_all(&db, &ops);
    let s = Setup::start(
        &format!(
            "endpoint = {:?}\nprefix = \"{prefix}\"",
            db.display().to_string()
        ),
        &format!("[entryPoints.other]\naddress = \"127.0.0.1:{other}\""),
    );
    for host in ["csv.test", "numbered.test"] {
        s.wait_route(host, Some("b")).await;
        assert_eq!(
            s.get_on(other, host).await,
            (200, Some("b".to_string())),
            "{host}"
        );
    }
}

#[tokio::test]
async fn the_alias_switches_the_whole_configuration() {
    let blue = Backend::start("blue").await;
    let green = Backend::start("green").await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let mut ops = route("/alias/blue", "f", "b", &blue.url(), "app.test");
    ops.extend(route("/alias/green", "f", "b", &green.url(), "app.test"));
    ops.extend(["put", "/alias/live/alias", "/alias/blue"].map(String::from));
    write_all(&db, &ops);
    let s = Setup::start(
        &format!(
            "endpoint = {:?}\nprefix = \"/alias/live\"",
            db.display().to_string()
        ),
        "",
    );
    s.wait_route("app.test", Some("blue")).await;
    write(&db, &["put", "/alias/live/alias", "/alias/green"]);
    s.wait_route("app.test", Some("green")).await;
}

#[tokio::test]
async fn a_bad_key_is_named_in_the_api_and_the_rest_serves() {
    let good = Backend::start("good").await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let mut ops = route("/bad", "f1", "good", &good.url(), "good.test");
    ops.extend(route("/bad", "f2", "worse", &good.url(), "worse.test"));
    ops.extend(["put", "/bad/backends/worse/servers/s1/weight", "heavy"].map(String::from));
    write_all(&db, &ops);
    let s = Setup::start(
        &format!(
            "endpoint = {:?}\nprefix = \"/bad\"",
            db.display().to_string()
        ),
        "",
    );
    s.wait_route("good.test", Some("good")).await;
    let error = eventually("the bad key in /api/state", || async {
        let state = s.state().await;
        state["providers"]["boltdb"]["lastError"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(
        error.contains("/bad/backends/worse/servers/s1/weight"),
        "{error}"
    );
    assert!(
        s.trafik
            .logs()
            .contains("/bad/backends/worse/servers/s1/weight"),
        "{}",
        s.trafik.logs()
    );
}

#[tokio::test]
async fn a_deleted_file_keeps_the_routes_until_it_is_back_with_new_content() {
    let old = Backend::start("old").await;
    let new = Backend::start("new").await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    write_all(&db, &route("/traefik", "f", "b", &old.url(), "app.test"));
    let s = Setup::start(&format!("endpoint = {:?}", db.display().to_string()), "");
    s.wait_route("app.test", Some("old")).await;

    std::fs::remove_file(&db).unwrap();
    let error = s.wait_store(false, "no such file").await;
    assert!(error.contains(&db.display().to_string()), "{error}");
    s.wait_metric("traefik_provider_up{provider=\"boltdb\"} 0")
        .await;
    // Meanwhile the last configuration serves.
    for _ in 0..20 {
        assert_eq!(s.get("app.test").await, (200, Some("old".to_string())));
    }

    write_all(&db, &route("/traefik", "f", "b", &new.url(), "app.test"));
    s.wait_route("app.test", Some("new")).await;
    s.wait_metric("traefik_provider_up{provider=\"boltdb\"} 1")
        .await;
}

#[tokio::test]
async fn a_corrupt_file_keeps_the_last_configuration_and_is_named() {
    let b = Backend::start("b").await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    write_all(&db, &route("/traefik", "f", "b", &b.url(), "app.test"));
    let s = Setup::start(&format!("endpoint = {:?}", db.display().to_string()), "");
    s.wait_route("app.test", Some("b")).await;

    // Both meta pages overwritten in place (no bolt writer holds the file).
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.write_all(&[0x5a; 8192]).unwrap();
    }
    let error = s.wait_store(false, "not a readable Bolt file").await;
    assert!(error.contains(&db.display().to_string()), "{error}");
    assert!(error.contains("meta"), "{error}");
    for _ in 0..20 {
        assert_eq!(s.get("app.test").await, (200, Some("b".to_string())));
    }
    assert!(
        s.trafik.logs().contains("not a readable Bolt file"),
        "{}",
        s.trafik.logs()
    );
}

#[tokio::test]
async fn watch_false_reads_once() {
    let b = Backend::start("b").await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    write_all(&db, &route("/traefik", "f1", "b", &b.url(), "one.test"));
    let endpoint = format!("endpoint = {:?}", db.display().to_string());
    let once = Setup::start(&format!("{endpoint}\nwatch = false"), "");
    // The same file followed by a watching instance: it shows when the change was seen.
    let watching = Setup::start(&endpoint, "");
    once.wait_route("one.test", Some("b")).await;
    watching.wait_route("one.test", Some("b")).await;

    write_all(&db, &route("/traefik", "f2", "b", &b.url(), "two.test"));
    watching.wait_route("two.test", Some("b")).await;
    // Well past the watching instance's pick-up (and the 200 ms throttle), still not there.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(once.get("two.test").await.0, 404);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(once.get("one.test").await, (200, Some("b".to_string())));
}

#[tokio::test]
async fn a_writer_holding_the_file_too_long_is_an_outage_then_read_again() {
    use std::os::fd::AsRawFd;
    let b = Backend::start("b").await;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    write_all(&db, &route("/traefik", "f", "b", &b.url(), "app.test"));
    let s = Setup::start(&format!("endpoint = {:?}", db.display().to_string()), "");
    s.wait_route("app.test", Some("b")).await;

    // Hold the exclusive lock as a bolt writer that keeps the file open does, and touch
    // the file's mode so the watcher wakes the provider, which must then give up waiting.
    let writer = std::fs::File::open(&db).unwrap();
    // SAFETY: flock on a descriptor `writer` owns and keeps open.
    assert_eq!(unsafe { libc::flock(writer.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mode = std::fs::metadata(&db).unwrap().permissions();
    std::fs::set_permissions(&db, mode).unwrap();
    let error = s.wait_store(false, "locked by a writer").await;
    assert!(error.contains(&db.display().to_string()), "{error}");
    assert_eq!(s.get("app.test").await, (200, Some("b".to_string())));

    // Released: read again, and a change made meanwhile is there.
    drop(writer);
    write(
        &db,
        &[
            "put",
            "/traefik/frontends/f/routes/r1/rule",
            "Host:new.test",
        ],
    );
    s.wait_route("new.test", Some("b")).await;
    s.wait_store(true, "").await;
}
