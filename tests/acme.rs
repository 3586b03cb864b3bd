//! `[acme]` against a real ACME server: Debian's `pebble` (RFC 8555), with
//! `pebble-challtestsrv` as the DNS pebble asks (every name resolves to 127.0.0.1). The real
//! trafik binary registers an account, answers HTTP-01 (behind an http→https redirect) or
//! TLS-ALPN-01, stores the certificate in `acme.json`, and serves it by SNI; a client
//! verifies the served chain against pebble's root, fetched from pebble's management
//! endpoint. pebble's own HTTPS is trusted by trafik through `LEGO_CA_CERTIFICATES`, as v1.
//!
//! pebble validates challenges on one `httpPort`/`tlsPort` for its whole life, and each
//! test runs its own trafik on its own ports, so each test starts its own pebble (a Go
//! binary: milliseconds); the DNS server and pebble's HTTPS certificate are shared.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::pki::Ca;
use common::store_server::StoreServer;
use common::{Backend, Trafik, eventually, free_port};

/// pebble's HTTPS certificate (for 127.0.0.1), its CA's PEM file, the DNS server.
struct Shared {
    ca_file: std::path::PathBuf,
    cert_file: std::path::PathBuf,
    key_file: std::path::PathBuf,
    dns_port: u16,
    _dns: StoreServer,
    _dir: tempfile::TempDir,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        // For the plain reqwest clients (reqwest is built without a provider of its own).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("pebble test CA");
        let pem = ca.server(&["127.0.0.1", "localhost"], "pebble");
        let ca_file = dir.path().join("ca.pem");
        let cert_file = dir.path().join("pebble.pem");
        let key_file = dir.path().join("pebble.key");
        std::fs::write(&ca_file, &ca.cert_pem).unwrap();
        std::fs::write(&cert_file, &pem.cert).unwrap();
        std::fs::write(&key_file, &pem.key).unwrap();
        // trafik (spawned by the kit, inheriting this environment) trusts pebble's HTTPS
        // this way, as v1 did. Set once, before any test spawns anything: every test
        // goes through this OnceLock first.
        // SAFETY: no other thread of this binary reads the environment concurrently here.
        unsafe {
            std::env::set_var("LEGO_CA_CERTIFICATES", &ca_file);
            // The renewal check every second rather than every 24 h (README: for tests).
            // Only certificates with 30 days or less left are renewed: pebble's default
            // validity is 5 years, so only the renewal test's certificates are.
            std::env::set_var("TRAFIK_ACME_CHECK_INTERVAL", "1");
        }
        let dns_port = free_port();
        let management = free_port();
        // DNS-01 through lego's exec provider: a script that writes the TXT record into
        // pebble-challtestsrv, the DNS pebble asks, as an operator's script would its DNS.
        // For the propagation check's tests, by name: `late.*` is written 2 s after the
        // script returns (a slow DNS), `never.*` not at all.
        let exec = dir.path().join("dns-exec.sh");
        std::fs::write(
            &exec,
            format!(
                "#!/bin/sh\n\
                 case \"$1\" in\n\
                 present) case \"$2\" in\n\
                   _acme-challenge.never.*) exit 0 ;;\n\
                   _acme-challenge.late.*) ( sleep 2; curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{management}/set-txt ) >/dev/null 2>&1 &\n\
                     exit 0 ;;\n\
                   esac\n\
                   curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" http://127.0.0.1:{management}/set-txt ;;\n\
                 cleanup) curl -sf -X POST -d \"{{\\\"host\\\":\\\"$2\\\"}}\" http://127.0.0.1:{management}/clear-txt ;;\n\
                 esac\n"
            ),
        )
        .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let httpreq = httpreq_bridge(management);
        // SAFETY: as above, before any test spawns anything.
        unsafe {
            std::env::set_var("EXEC_PATH", &exec);
            std::env::set_var("HTTPREQ_ENDPOINT", format!("http://127.0.0.1:{httpreq}"));
            std::env::set_var("HTTPREQ_USERNAME", "dns");
            std::env::set_var("HTTPREQ_PASSWORD", "s3cret");
            // lego's propagation timing for the exec provider (defaults 60 s and 2 s).
            std::env::set_var("EXEC_PROPAGATION_TIMEOUT", "15");
            std::env::set_var("EXEC_POLLING_INTERVAL", "1");
        }
        let dns = StoreServer::shared(move |_dir: &Path| {
            let mut c = Command::new("pebble-challtestsrv");
            c.arg("-dns01")
                .arg(format!("127.0.0.1:{dns_port}"))
                .arg("-defaultIPv4")
                .arg("127.0.0.1")
                .arg("-defaultIPv6")
                .arg("")
                .arg("-http01")
                .arg("")
                .arg("-https01")
                .arg("")
                .arg("-tlsalpn01")
                .arg("")
                .arg("-management")
                .arg(format!("127.0.0.1:{management}"));
            c
        });
        Shared {
            ca_file,
            cert_file,
            key_file,
            dns_port,
            _dns: dns,
            _dir: dir,
        }
    })
}

/// An httpreq endpoint, as a user's DNS API would be: `POST /present` and `/cleanup` with
/// `{"fqdn", "value"}` and basic auth, written into pebble-challtestsrv. On a thread of its
/// own (with its runtime), since the tests' runtimes end with each test.
fn httpreq_bridge(management: u16) -> u16 {
    use axum::routing::post;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let forward = move |path: &'static str| {
        move |headers: axum::http::HeaderMap, body: axum::Json<serde_json::Value>| async move {
            // dns:s3cret
            if headers.get("authorization").and_then(|v| v.to_str().ok())
                != Some("Basic ZG5zOnMzY3JldA==")
            {
                return axum::http::StatusCode::UNAUTHORIZED;
            }
            let payload = serde_json::json!({"host": body["fqdn"], "value": body["value"]});
            let sent = reqwest::Client::new()
                .post(format!("http://127.0.0.1:{management}/{path}"))
                .json(&payload)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => axum::http::StatusCode::OK,
                _ => axum::http::StatusCode::BAD_GATEWAY,
            }
        }
    };
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/present", post(forward("set-txt")))
                .route("/cleanup", post(forward("clear-txt")));
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, app).await;
        });
    });
    port
}

struct Pebble {
    server: StoreServer,
    dir_url: String,
    management: u16,
}

impl Pebble {
    /// A pebble validating HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`.
    async fn start(http_port: u16, tls_port: u16) -> Pebble {
        Self::start_with(http_port, tls_port, free_port(), None).await
    }

    /// Also: its directory on `listen`, certificates valid for `validity` (pebble's
    /// default: 5 years).
    async fn start_with(
        http_port: u16,
        tls_port: u16,
        listen: u16,
        validity: Option<Duration>,
    ) -> Pebble {
        Self::start_blocking(http_port, tls_port, listen, validity, &[]).await
    }

    /// Also: `blocked` names refused at new-order (pebble's `domainBlocklist`), an order
    /// that fails with the CA's `rejectedIdentifier` problem.
    async fn start_blocking(
        http_port: u16,
        tls_port: u16,
        listen: u16,
        validity: Option<Duration>,
        blocked: &[&str],
    ) -> Pebble {
        Self::start_env(http_port, tls_port, listen, validity, blocked, &[]).await
    }

    /// Also: pebble's environment variables `env` (PEBBLE_ALTERNATE_ROOTS…).
    async fn start_env(
        http_port: u16,
        tls_port: u16,
        listen: u16,
        validity: Option<Duration>,
        blocked: &[&str],
        env: &[(&str, &str)],
    ) -> Pebble {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = shared();
        let management = free_port();
        let mut config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": s.cert_file,
            "privateKey": s.key_file,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        if let Some(v) = validity {
            config["pebble"]["certificateValidityPeriod"] = v.as_secs().into();
        }
        if !blocked.is_empty() {
            config["pebble"]["domainBlocklist"] = serde_json::json!(blocked);
        }
        let dns = format!("127.0.0.1:{}", s.dns_port);
        let server = StoreServer::own(move |dir: &Path| {
            let path = dir.join("pebble.json");
            std::fs::write(&path, config.to_string()).unwrap();
            let mut c = Command::new("pebble");
            c.arg("-config")
                .arg(&path)
                .arg("-dnsserver")
                .arg(&dns)
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .envs(env.clone());
            c
        });
        let pebble = Pebble {
            server,
            dir_url: format!("https://127.0.0.1:{listen}/dir"),
            management,
        };
        pebble.wait_up("pebble").await;
        pebble
    }

    /// Waits until pebble's directory answers 200 (`what`: the wait's name).
    async fn wait_up(&self, what: &str) {
        let client = pebble_client();
        let url = self.dir_url.clone();
        self.server
            .wait_ready(what, || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    client
                        .get(&url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200)
                }
            })
            .await;
    }

    /// The root pebble issues under (it makes a new one at each start).
    async fn root_pem(&self) -> String {
        let url = format!("https://127.0.0.1:{}/roots/0", self.management);
        pebble_client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Root `n` (0: the default chain's; 1…: the alternates' with PEBBLE_ALTERNATE_ROOTS).
    async fn root_pem_n(&self, n: usize) -> String {
        self.management_pem(&format!("roots/{n}")).await
    }

    /// The intermediate under root `n`.
    async fn intermediate_pem(&self, n: usize) -> String {
        self.management_pem(&format!("intermediates/{n}")).await
    }

    async fn management_pem(&self, path: &str) -> String {
        let url = format!("https://127.0.0.1:{}/{path}", self.management);
        let answer = pebble_client().get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{url}");
        answer.text().await.unwrap()
    }

    /// How many orders pebble has been asked for (its log names each request).
    fn orders(&self) -> usize {
        self.server.log().matches("/order-plz").count()
    }
}

/// A client trusting pebble's own HTTPS certificate.
fn pebble_client() -> reqwest::Client {
    let ca = std::fs::read_to_string(&shared().ca_file).unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls((*common::pki::client_config(&ca, &[])).clone())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET https://`name`:`port`/ on 127.0.0.1, verifying the chain against `root_pem` only.
async fn verified_get(name: &str, port: u16, root_pem: &str) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((*common::pki::client_config(root_pem, &[b"http/1.1"])).clone())
        .resolve(name, SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    client
        .get(format!("https://{name}:{port}/"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

/// trafik: `http` (redirecting to `https` when asked), `https` with TLS and no
/// certificate of its own, every request to `backend`, and `acme`.
fn config(http: u16, https: u16, redirect: bool, backend: &Backend, acme: &str) -> String {
    let redirect = if redirect {
        "  [entryPoints.http.redirect]\n  entryPoint = \"https\"\n"
    } else {
        ""
    };
    format!(
        r#"logLevel = "INFO"
defaultEntryPoints = ["http", "https"]
[entryPoints]
  [entryPoints.http]
  address = "127.0.0.1:{http}"
{redirect}  [entryPoints.https]
  address = "127.0.0.1:{https}"
  [entryPoints.https.tls]
[file]
[backends.b.servers.s]
url = "{backend}"
[frontends.f]
backend = "b"
[frontends.f.routes.all]
rule = "PathPrefix:/"
{acme}
"#,
        backend = backend.url()
    )
}

/// `toml` with the API and Prometheus metrics on 127.0.0.1:`port`.
fn with_api(toml: &str, port: u16) -> String {
    toml.replacen(
        "[file]\n",
        &format!(
            "[entryPoints.traefik]\n  address = \"127.0.0.1:{port}\"\n[api]\n[metrics.prometheus]\n[file]\n"
        ),
        1,
    )
}

fn acme_table(pebble: &Pebble, challenge: &str, domains: &str) -> String {
    format!(
        r#"[acme]
email = "admin@example.test"
storage = "acme.json"
entryPoint = "https"
caServer = "{}"
keyType = "EC256"
{challenge}
{domains}
"#,
        pebble.dir_url
    )
}

async fn wait_served(name: &str, port: u16, root: &str, trafik: &Trafik) {
    let what = format!("{name} served with a chain pebble issued");
    let limit = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        match verified_get(name, port, root).await {
            Ok(200) => return,
            other => assert!(
                std::time::Instant::now() < limit,
                "{what}: last answer {other:?}; trafik's log:\n{}",
                trafik.logs()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (as `what`) until trafik's log has two refused orders, each naming `domain` and
/// `problem`.
async fn wait_refusals(trafik: &Trafik, what: &str, domain: &str, problem: &str) {
    eventually(what, || {
        let logs = trafik.logs();
        async move {
            let refusals: Vec<&str> = logs
                .lines()
                .filter(|l| l.contains("acme: cannot obtain a certificate"))
                .collect();
            (refusals.len() >= 2
                && refusals
                    .iter()
                    .all(|l| l.contains(domain) && l.contains(problem)))
            .then_some(())
        }
    })
    .await;
}

/// Checks /api/state's first `[acme]` certificate on `api`: its `domains`, a notAfter
/// only when `issued`, and a lastError containing `error` (none when `error` is `None`).
async fn assert_first_certificate(api: u16, domains: &[&str], issued: bool, error: Option<&str>) {
    let (status, state) = common::get_json(&format!("http://127.0.0.1:{api}/api/state")).await;
    assert_eq!(status, 200);
    let cert = &state["acme"]["certificates"][0];
    assert_eq!(cert["domains"], serde_json::json!(domains), "{state}");
    if issued {
        assert!(cert["notAfter"].is_string(), "{state}");
    } else {
        assert!(cert["notAfter"].is_null(), "{state}");
    }
    match error {
        None => assert!(cert["lastError"].is_null(), "{state}"),
        Some(error) => assert!(
            cert["lastError"]
                .as_str()
                .is_some_and(|e| e.contains(error)),
            "{state}"
        ),
    }
}

/// The JSON in the file at `path` (an `acme.json`).
fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn http01_behind_a_redirect_with_sans_then_a_restart_reuses_the_stored_certificate() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(http, https).await;
    let acme = acme_table(
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        "[[acme.domains]]\nmain = \"site.example.test\"\nsans = [\"www.site.example.test\"]",
    );
    let api = free_port();
    let mut trafik = Trafik::start(&with_api(&config(http, https, true, &backend, &acme), api));
    let root = pebble.root_pem().await;
    wait_served("site.example.test", https, &root, &trafik).await;
    wait_served("www.site.example.test", https, &root, &trafik).await;
    // /api/state and /metrics show it, with its expiry.
    assert_first_certificate(
        api,
        &["site.example.test", "www.site.example.test"],
        true,
        None,
    )
    .await;
    let metrics = common::client()
        .get(format!("http://127.0.0.1:{api}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("traefik_tls_certs_not_after{")
                && l.contains("cn=\"site.example.test\"")),
        "{metrics}"
    );
    // The redirect still answers everything else on the challenge entry point.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain
        .get(format!("http://127.0.0.1:{http}/x"))
        .header("Host", "site.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    assert_eq!(location, format!("https://site.example.test:{https}/x"));
    // Stored as v1's acme.json, owner-only.
    use std::os::unix::fs::PermissionsExt;
    let stored = trafik.path("acme.json");
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let json = read_json(&stored);
    assert_eq!(
        json["Certificates"][0]["Domain"]["Main"],
        "site.example.test"
    );
    assert_eq!(
        json["Certificates"][0]["Domain"]["SANs"][0],
        "www.site.example.test"
    );
    assert_eq!(json["Account"]["Email"], "admin@example.test");
    assert_eq!(pebble.orders(), 1, "{}", pebble.server.log());
    // The marker the next test relies on: pebble logs the challenge it was told to check.
    assert!(pebble.server.log().contains("/chalZ/"));

    // A restart serves the stored certificate and orders nothing.
    trafik.restart().await;
    wait_served("site.example.test", https, &root, &trafik).await;
    eventually("trafik to find nothing to order", || {
        let logs = trafik.logs();
        async move {
            logs.contains("acme: every certificate is stored and valid")
                .then_some(())
        }
    })
    .await;
    assert_eq!(pebble.orders(), 1, "{}", pebble.server.log());
}

#[tokio::test]
async fn tls_alpn01_is_answered_in_the_handshake() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    // Nothing listens on pebble's HTTP-01 port: only TLS-ALPN-01 can pass.
    let pebble = Pebble::start(free_port(), https).await;
    let acme = acme_table(
        &pebble,
        "[acme.tlsChallenge]",
        "[[acme.domains]]\nmain = \"alpn.example.test\"",
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    wait_served("alpn.example.test", https, &root, &trafik).await;
}

#[tokio::test]
async fn a_storage_file_others_can_read_is_refused_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("acme.json");
    std::fs::write(&storage, "{}").unwrap();
    std::fs::set_permissions(&storage, std::fs::Permissions::from_mode(0o644)).unwrap();
    let acme = format!(
        "[acme]\nemail = \"a@example.test\"\nstorage = \"{}\"\nentryPoint = \"https\"\n\
         caServer = \"https://127.0.0.1:1/dir\"\n[acme.tlsChallenge]\n",
        storage.display()
    );
    let mut trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let status = trafik.wait_exit(Duration::from_secs(30)).await;
    assert!(!status.success());
    let logs = trafik.logs();
    assert!(
        logs.contains(&format!(
            "permissions 644 for {} are too open, please use 600",
            storage.display()
        )),
        "{logs}"
    );
    // Left as it was.
    assert_eq!(std::fs::read_to_string(&storage).unwrap(), "{}");
}

/// The serial number of the certificate served for `name`, verified against `root_pem`.
async fn served_serial(name: &str, port: u16, root_pem: &str) -> Result<Vec<u8>, String> {
    let leaf = served_chain(name, port, root_pem).await?[0].clone();
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf).map_err(|e| e.to_string())?;
    Ok(parsed.raw_serial().to_vec())
}

#[tokio::test]
async fn a_ca_down_at_start_takes_no_route_away_and_issuance_follows_once_it_is_up() {
    shared(); // LEGO_CA_CERTIFICATES set before trafik starts
    let backend = Backend::start("app").await;
    let (http, https, listen) = (free_port(), free_port(), free_port());
    let dir_url = format!("https://127.0.0.1:{listen}/dir");
    let acme = format!(
        "[acme]\nemail = \"a@example.test\"\nstorage = \"acme.json\"\nentryPoint = \"https\"\n\
         caServer = \"{dir_url}\"\nkeyType = \"EC256\"\n[acme.httpChallenge]\nentryPoint = \"http\"\n\
         [[acme.domains]]\nmain = \"late.example.test\"\n"
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    // Routes serve while the CA cannot be reached, and the failure says why, with the name.
    trafik
        .wait_for(&format!("http://127.0.0.1:{http}/"), 200)
        .await;
    eventually("the failed order in trafik's log", || {
        let logs = trafik.logs();
        async move {
            (logs.contains("acme: cannot obtain a certificate")
                && logs.contains("late.example.test"))
            .then_some(())
        }
    })
    .await;
    let pebble = Pebble::start_with(http, https, listen, None).await;
    let root = pebble.root_pem().await;
    wait_served("late.example.test", https, &root, &trafik).await;
}

#[tokio::test]
async fn a_refused_challenge_is_logged_with_the_cas_problem_and_retried() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    // pebble validates HTTP-01 on a port nothing listens on.
    let pebble = Pebble::start(free_port(), https).await;
    let acme = acme_table(
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        "[[acme.domains]]\nmain = \"refused.example.test\"",
    );
    let api = free_port();
    let trafik = Trafik::start(&with_api(&config(http, https, false, &backend, &acme), api));
    wait_refusals(
        &trafik,
        "two refusals naming the domain and the CA's problem",
        "refused.example.test",
        "urn:ietf:params:acme:error:",
    )
    .await;
    // /api/state says why, and that there is no certificate yet.
    assert_first_certificate(
        api,
        &["refused.example.test"],
        false,
        Some("urn:ietf:params:acme:error:"),
    )
    .await;
    // The routes keep serving meanwhile.
    trafik
        .wait_for(&format!("http://127.0.0.1:{http}/"), 200)
        .await;
}

#[tokio::test]
async fn a_short_lived_certificate_is_renewed_and_swapped_in_under_load() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    // 20 days: within the 30-day renewal window from the first check on.
    let validity = Duration::from_secs(20 * 24 * 3600);
    let pebble = Pebble::start_with(http, https, free_port(), Some(validity)).await;
    let acme = acme_table(
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        "[[acme.domains]]\nmain = \"renew.example.test\"",
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    wait_served("renew.example.test", https, &root, &trafik).await;
    let first = served_serial("renew.example.test", https, &root)
        .await
        .unwrap();

    // Bounded load through the renewals: 4 workers, at most 60 s, verified TLS each time.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, root) = (stop.clone(), root.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0usize, Vec::new());
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && std::time::Instant::now() < deadline
                {
                    match verified_get("renew.example.test", https, &root).await {
                        Ok(200) => ok += 1,
                        other => failed.push(format!("{other:?}")),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    eventually("a renewed certificate served", || {
        let root = root.clone();
        let first = first.clone();
        async move {
            let serial = served_serial("renew.example.test", https, &root)
                .await
                .ok()?;
            (serial != first).then_some(())
        }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, Vec::new());
    for w in workers {
        let (o, f) = w.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} failed of {}: {failed:?}",
        failed.len(),
        ok + failed.len()
    );
    assert!(ok > 0);
    assert!(pebble.orders() >= 2, "{}", pebble.server.log());
}

/// v1's account key: RSA, PKCS#1 DER (as Traefik 1.7 wrote it), made by openssl.
fn v1_rsa_account_key() -> String {
    use base64::Engine;
    let out = Command::new("sh")
        .arg("-c")
        .arg("openssl genrsa 2048 2>/dev/null | openssl rsa -traditional -outform DER 2>/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success() && !out.stdout.is_empty());
    base64::engine::general_purpose::STANDARD.encode(&out.stdout)
}

/// v1's `Account`: registered at `pebble`, with an RSA key as Traefik 1.7 made them.
fn v1_account(pebble: &Pebble) -> serde_json::Value {
    serde_json::json!({
        "Email": "admin@example.test",
        "Registration": {"body": {"status": "valid"}, "uri": format!("{}/acct/1", pebble.dir_url)},
        "PrivateKey": v1_rsa_account_key(),
        "KeyType": "4096"
    })
}

/// A Traefik 1.7 `acme.json`: `account` (`v1_account`, or null) and one certificate for
/// `name`, its PEM certificate and key base64-encoded as v1 stored them.
fn v1_acme_json(account: serde_json::Value, name: &str, cert: &str, key: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    serde_json::json!({
        "Account": account,
        "Certificates": [{
            "Domain": {"Main": name, "SANs": null},
            "Certificate": b64(cert),
            "Key": b64(key)
        }],
        "HTTPChallenges": {},
        "TLSChallenges": {}
    })
    .to_string()
}

#[tokio::test]
async fn a_traefik_1_7_acme_json_is_served_at_once_and_its_rsa_account_replaced() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(http, https).await;
    // A certificate from another CA, stored by v1 for a name trafik is also asked for.
    let old_ca = Ca::new("the CA v1 used");
    let old = old_ca.server(&["old.example.test"], "v1");
    // Owner-only before trafik starts (the kit's files get the umask's mode).
    let dir = tempfile::tempdir().unwrap();
    let (storage, acme) = acme_with_v1_storage(
        &pebble,
        "[[acme.domains]]\nmain = \"new.example.test\"",
        dir.path(),
        v1_account(&pebble),
        "old.example.test",
        &old.cert,
        &old.key,
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    wait_served("new.example.test", https, &root, &trafik).await;
    // v1's certificate is served as stored.
    assert_eq!(
        verified_get("old.example.test", https, &old_ca.cert_pem).await,
        Ok(200)
    );
    let logs = trafik.logs();
    assert!(
        logs.contains("cannot sign here")
            && logs.contains("registering a new account with the same email"),
        "{logs}"
    );
    let json = read_json(&storage);
    assert_eq!(json["Account"]["KeyType"], "P256");
    assert_eq!(json["Account"]["Email"], "admin@example.test");
    assert_eq!(json["Certificates"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn on_host_rule_obtains_a_certificate_for_a_frontend_a_reload_adds() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(http, https).await;
    let frontend = |name: &str, rule: &str| {
        format!(
            "[frontends.{name}]\nbackend = \"b\"\n  [frontends.{name}.routes.r]\n  rule = \"{rule}\"\n"
        )
    };
    let backends = format!("[backends.b.servers.s]\nurl = \"{}\"\n", backend.url());
    let dynamic = format!("{backends}{}", frontend("one", "Host: one.example.test"));
    let main = format!(
        r#"logLevel = "INFO"
providersThrottleDuration = "0s"
defaultEntryPoints = ["http", "https"]
[entryPoints]
  [entryPoints.http]
  address = "127.0.0.1:{http}"
  [entryPoints.https]
  address = "127.0.0.1:{https}"
  [entryPoints.https.tls]
[file]
filename = "dynamic.toml"
watch = true
[acme]
email = "admin@example.test"
storage = "acme.json"
entryPoint = "https"
caServer = "{}"
keyType = "EC256"
onHostRule = true
  [acme.httpChallenge]
  entryPoint = "http"
"#,
        pebble.dir_url
    );
    let trafik = Trafik::start_with(&main, &[("dynamic.toml", &dynamic)]);
    let root = pebble.root_pem().await;
    wait_served("one.example.test", https, &root, &trafik).await;
    // A frontend added by a reload, and one trafik cannot get a certificate for.
    let dynamic = format!(
        "{backends}{}{}{}",
        frontend("one", "Host: one.example.test"),
        frontend("two", "Host: two.example.test,www.two.example.test"),
        frontend("re", "HostRegexp: {sub:[a-z]+}.example.test"),
    );
    common::write_by_rename(&trafik.path("dynamic.toml"), &dynamic);
    wait_served("two.example.test", https, &root, &trafik).await;
    wait_served("www.two.example.test", https, &root, &trafik).await;
    let logs = trafik.logs();
    assert!(
        logs.contains("acme onHostRule: no certificate for frontend \"re\": HostRegexp"),
        "{logs}"
    );
    assert_eq!(pebble.orders(), 2, "{}", pebble.server.log());

    // pebble restarted forgets every account (and makes a new root): the next order
    // registers a new account instead of failing for ever.
    pebble.server.restart();
    pebble.wait_up("pebble again").await;
    let root = pebble.root_pem().await;
    let dynamic = format!("{dynamic}{}", frontend("three", "Host: three.example.test"));
    common::write_by_rename(&trafik.path("dynamic.toml"), &dynamic);
    wait_served("three.example.test", https, &root, &trafik).await;
    let logs = trafik.logs();
    assert!(
        logs.contains("the CA no longer knows the stored account"),
        "{logs}"
    );
}

#[tokio::test]
async fn dns01_through_the_exec_provider_issues_a_wildcard_certificate() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    // Nothing listens on pebble's HTTP-01 and TLS-ALPN-01 ports: only DNS-01 can pass.
    let pebble = Pebble::start(free_port(), free_port()).await;
    let acme = acme_table(
        &pebble,
        "[acme.dnsChallenge]\nprovider = \"exec\"\ndisablePropagationCheck = true",
        "[[acme.domains]]\nmain = \"*.wild.example.test\"\nsans = [\"wild.example.test\"]",
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    wait_served("a.wild.example.test", https, &root, &trafik).await;
    wait_served("wild.example.test", https, &root, &trafik).await;
}

#[tokio::test]
async fn a_dns_provider_trafik_does_not_implement_is_refused_at_start() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let acme = "[acme]\nemail = \"a@example.test\"\nstorage = \"acme.json\"\nentryPoint = \"https\"\n\
                [acme.dnsChallenge]\nprovider = \"route53\"\ndisablePropagationCheck = true\n";
    let mut trafik = Trafik::start(&config(http, https, false, &backend, acme));
    assert!(!trafik.wait_exit(Duration::from_secs(30)).await.success());
    let logs = trafik.logs();
    assert!(
        logs.contains(
            "acme.dnsChallenge provider \"route53\" is not implemented; supported: exec, httpreq"
        ),
        "{logs}"
    );
}

#[tokio::test]
async fn dns01_through_the_httpreq_provider() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(free_port(), free_port()).await;
    let acme = acme_table(
        &pebble,
        "[acme.dnsChallenge]\nprovider = \"httpreq\"\ndisablePropagationCheck = true",
        "[[acme.domains]]\nmain = \"req.example.test\"",
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    wait_served("req.example.test", https, &root, &trafik).await;
}

/// The dashboard lists the certificates `[acme]` manages, in a real browser: one pebble
/// issued (its domain, its SAN and its expiry as `/api/state` gives it) and one whose
/// order pebble refuses (no expiry, the CA's problem shown as its last error).
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_lists_issued_and_failing_certificates() {
    let backend = Backend::start("app").await;
    let (http, https, api) = (free_port(), free_port(), free_port());
    let pebble = Pebble::start_blocking(
        free_port(),
        https,
        free_port(),
        None,
        &["blocked.example.test"],
    )
    .await;
    let root = pebble.root_pem().await;
    let acme = acme_table(
        &pebble,
        "[acme.tlsChallenge]",
        "[[acme.domains]]\nmain = \"shown.example.test\"\nsans = [\"www.shown.example.test\"]\n\
         [[acme.domains]]\nmain = \"blocked.example.test\"",
    );
    let trafik = Trafik::start(&with_api(&config(http, https, false, &backend, &acme), api));
    wait_served("shown.example.test", https, &root, &trafik).await;

    // What the browser must show: /api/state's own expiry for the issued certificate.
    let state_url = format!("http://127.0.0.1:{api}/api/state");
    let (not_after, refusal) = eventually("both certificates in /api/state", || {
        let url = state_url.clone();
        async move {
            let (_, state) = common::get_json(&url).await;
            let certs = state["acme"]["certificates"].as_array()?.clone();
            let find = |main: &str| {
                certs
                    .iter()
                    .find(|c| c["domains"][0] == serde_json::json!(main))
                    .cloned()
            };
            let shown = find("shown.example.test")?;
            let blocked = find("blocked.example.test")?;
            Some((
                shown["notAfter"].as_str()?.to_string(),
                blocked["lastError"].as_str()?.to_string(),
            ))
        }
    })
    .await;
    assert!(refusal.contains("rejectedIdentifier"), "{refusal}");

    let artifacts = browser::artifacts_dir();
    let b = browser::Browser::start(&artifacts.join("chromedriver-acme.log")).await;
    b.goto(&format!("http://127.0.0.1:{api}/dashboard/")).await;
    let row = |main: &str, field: &str| {
        format!(
            "return document.querySelector('#acme-panel:not([hidden]) tr[data-acme-cert=\"{main}\"] \
             [data-field=\"{field}\"]')?.textContent ?? null;"
        )
    };
    let domains = b
        .until(
            "the issued certificate's row",
            &row("shown.example.test", "domains"),
        )
        .await;
    assert_eq!(
        domains,
        serde_json::json!("shown.example.testwww.shown.example.test"),
        "main name then SAN"
    );
    // The expiry as a date (to the second, as /api/state says it), not just "issued".
    let expiry = b.js(&row("shown.example.test", "notAfter")).await;
    let expiry = expiry.as_str().unwrap_or_default();
    let day = &not_after[..10];
    assert!(
        expiry.contains(day) && expiry.contains(&not_after[11..19]),
        "notAfter {not_after} shown as {expiry:?}"
    );
    assert_eq!(
        b.js(&row("shown.example.test", "status")).await,
        serde_json::json!("Valid")
    );
    assert_eq!(
        b.js(&row("shown.example.test", "lastError")).await,
        serde_json::json!("—")
    );

    // The refused order: listed though not issued, with the CA's problem.
    let error = b
        .until(
            "the refused certificate's error",
            &row("blocked.example.test", "lastError"),
        )
        .await;
    let error = error.as_str().unwrap_or_default();
    assert!(
        error.contains("urn:ietf:params:acme:error:rejectedIdentifier"),
        "shown error: {error:?}"
    );
    assert_eq!(
        b.js(&row("blocked.example.test", "notAfter")).await,
        serde_json::json!("not issued yet")
    );
    assert_eq!(
        b.js(&row("blocked.example.test", "status")).await,
        serde_json::json!("Failing")
    );
    assert_eq!(
        b.js("return document.getElementById('acme-count').dataset.count;")
            .await,
        serde_json::json!("2")
    );
    b.js("document.getElementById('acme-panel').scrollIntoView(); return null;")
        .await;
    b.screenshot(&artifacts.join("dashboard-acme.png")).await;
}

/// DNS-01 with the propagation check on, asking `resolvers` (pebble-challtestsrv, the DNS
/// pebble asks too): the exec script writes the record 2 s after it returns. pebble
/// validates at once when told (PEBBLE_VA_NOSLEEP), so a trafik that told it before the
/// record was visible would see the order fail and order again: one order, no failure,
/// proves the wait.
#[tokio::test]
async fn dns01_waits_until_the_resolvers_see_the_record() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(free_port(), free_port()).await;
    let resolver = format!("127.0.0.1:{}", shared().dns_port);
    let acme = acme_table(
        &pebble,
        &format!("[acme.dnsChallenge]\nprovider = \"exec\"\nresolvers = [\"{resolver}\"]"),
        "[[acme.domains]]\nmain = \"late.example.test\"",
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    wait_served("late.example.test", https, &root, &trafik).await;
    let logs = trafik.logs();
    assert!(!logs.contains("cannot obtain a certificate"), "{logs}");
    assert_eq!(pebble.orders(), 1, "{}", pebble.server.log());
}

/// A record that never becomes visible: the order fails before the CA is told to look,
/// with an error naming the record and the resolver asked, and is retried with backoff.
#[tokio::test]
async fn a_dns01_record_that_never_appears_fails_naming_the_domain_and_the_resolver() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(free_port(), free_port()).await;
    let resolver = format!("127.0.0.1:{}", shared().dns_port);
    let acme = acme_table(
        &pebble,
        &format!("[acme.dnsChallenge]\nprovider = \"exec\"\nresolvers = [\"{resolver}\"]"),
        "[[acme.domains]]\nmain = \"never.example.test\"",
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let want = [
        "cannot obtain a certificate",
        "the TXT record _acme-challenge.never.example.test. did not appear within 15s",
        resolver.as_str(),
        "retrying in",
    ];
    // Two failures: 15 s of polling each, 2 s of backoff between (more than `eventually`'s
    // deadline).
    let limit = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let logs = trafik.logs();
        let failures = logs
            .lines()
            .filter(|l| want.iter().all(|w| l.contains(w)))
            .count();
        if failures >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < limit,
            "two propagation failures naming the record and the resolver; trafik's log:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The CA was never told to look: no challenge of this order failed at pebble.
    assert!(
        pebble.orders() >= 1 && !pebble.server.log().contains("/chalZ/"),
        "{}",
        pebble.server.log()
    );
}

/// `keyType = "RSA8192"`: the certificate pebble issues for trafik's CSR carries an
/// 8192-bit RSA key, and trafik serves it with a chain that verifies.
#[tokio::test]
async fn key_type_rsa8192_gets_an_8192_bit_certificate() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(free_port(), https).await;
    let acme = acme_table(
        &pebble,
        "[acme.tlsChallenge]",
        "[[acme.domains]]\nmain = \"big.example.test\"",
    )
    .replace("keyType = \"EC256\"", "keyType = \"RSA8192\"");
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    // Generating the key takes seconds to tens of seconds: wait_served allows 90 s.
    wait_served("big.example.test", https, &root, &trafik).await;
    let leaf = served_chain("big.example.test", https, &root)
        .await
        .unwrap()[0]
        .clone();
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            assert_eq!(rsa.key_size(), 8192)
        }
        other => panic!("not an RSA key: {other:?}"),
    }
}

/// The certificates served for `name` (leaf first), the chain verified against `root_pem`.
async fn served_chain(
    name: &str,
    port: u16,
    root_pem: &str,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::ServerName;
    let config = common::pki::client_config(root_pem, &[b"http/1.1"]);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    Ok(tls.get_ref().1.peer_certificates().unwrap().to_vec())
}

/// A PEM certificate's DER and its subject's Common Name.
fn der_and_common_name(pem: &str) -> (Vec<u8>, String) {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    (der.to_vec(), cn)
}

/// A pebble with PEBBLE_ALTERNATE_ROOTS=2: each certificate signed under three roots, the
/// default chain under root 0, the alternates (RFC 8555 `Link: rel="alternate"`) under 1
/// and 2 (each root has its own name, new at each start: read from pebble's management
/// endpoint). TLS-ALPN-01 on `https`.
async fn pebble_with_alternate_roots(https: u16) -> Pebble {
    Pebble::start_env(
        free_port(),
        https,
        free_port(),
        None,
        &[],
        &[("PEBBLE_ALTERNATE_ROOTS", "2")],
    )
    .await
}

/// trafik ordering `host` from `pebble` with `preferredChain = preferred`.
fn trafik_preferring(
    pebble: &Pebble,
    backend: &Backend,
    https: u16,
    host: &str,
    preferred: &str,
) -> Trafik {
    let acme = acme_table(
        pebble,
        &format!("preferredChain = {preferred:?}\n[acme.tlsChallenge]"),
        &format!("[[acme.domains]]\nmain = \"{host}\""),
    );
    Trafik::start(&config(free_port(), https, false, backend, &acme))
}

#[tokio::test]
async fn preferred_chain_serves_the_alternate_chain_whose_top_is_issued_by_that_root() {
    let backend = Backend::start("app").await;
    let https = free_port();
    let pebble = pebble_with_alternate_roots(https).await;
    let (root0, root1) = (pebble.root_pem_n(0).await, pebble.root_pem_n(1).await);
    let (_, root0_name) = der_and_common_name(&root0);
    let (_, root1_name) = der_and_common_name(&root1);
    assert_ne!(root0_name, root1_name);
    let trafik = trafik_preferring(&pebble, &backend, https, "chain.example.test", &root1_name);
    // Verified against root 1 alone: only the alternate chain under root 1 passes.
    wait_served("chain.example.test", https, &root1, &trafik).await;
    let chain = served_chain("chain.example.test", https, &root1)
        .await
        .unwrap();
    let (intermediate1, _) = der_and_common_name(&pebble.intermediate_pem(1).await);
    assert_eq!(
        chain.last().map(|c| c.to_vec()),
        Some(intermediate1),
        "the served chain ends at root 1's intermediate; trafik's log:\n{}",
        trafik.logs()
    );
    // Not against the default chain's root.
    let under_root0 = verified_get("chain.example.test", https, &root0).await;
    assert!(under_root0.is_err(), "{under_root0:?}");
    let logs = trafik.logs();
    assert!(
        logs.contains("alternate chain under the preferred issuer"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_preferred_chain_no_chain_matches_serves_the_default_chain() {
    let backend = Backend::start("app").await;
    let https = free_port();
    let pebble = pebble_with_alternate_roots(https).await;
    let trafik = trafik_preferring(
        &pebble,
        &backend,
        https,
        "nomatch.example.test",
        "No Such Root CA",
    );
    let (root0, root1) = (pebble.root_pem_n(0).await, pebble.root_pem_n(1).await);
    wait_served("nomatch.example.test", https, &root0, &trafik).await;
    let chain = served_chain("nomatch.example.test", https, &root0)
        .await
        .unwrap();
    let (intermediate0, _) = der_and_common_name(&pebble.intermediate_pem(0).await);
    assert_eq!(chain.last().map(|c| c.to_vec()), Some(intermediate0));
    let under_root1 = verified_get("nomatch.example.test", https, &root1).await;
    assert!(under_root1.is_err(), "{under_root1:?}");
    let logs = trafik.logs();
    assert!(
        logs.contains("no chain from the CA has the preferred issuer"),
        "{logs}"
    );
}

/// A certificate for `name` that expires `left` from now, under a CA of its own: (the CA's
/// PEM, the certificate's PEM, its key's PEM). As a Traefik 1.7 `acme.json` holds one
/// issued by Let's Encrypt some 60 days ago.
fn expiring_certificate(name: &str, left: Duration) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "the CA v1 used");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::new(vec![name.to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, name);
    leaf.not_before = time::OffsetDateTime::now_utc() - Duration::from_secs(60 * 24 * 3600);
    leaf.not_after = time::OffsetDateTime::now_utc() + left;
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

/// The notAfter (Unix seconds) of the first certificate of a PEM chain.
fn pem_not_after(pem: &str) -> i64 {
    let (_, der) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der.contents).unwrap();
    parsed.validity().not_after.timestamp()
}

/// The notAfter (Unix seconds) of the certificate served for `name`, verified against
/// `root_pem`.
async fn served_not_after(name: &str, port: u16, root_pem: &str) -> Result<i64, String> {
    let leaf = served_chain(name, port, root_pem).await?[0].clone();
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf).map_err(|e| e.to_string())?;
    Ok(parsed.validity().not_after.timestamp())
}

/// `content` written at `dir`/acme.json, owner-only as trafik requires.
fn write_storage(dir: &Path, content: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let storage = dir.join("acme.json");
    std::fs::write(&storage, content).unwrap();
    std::fs::set_permissions(&storage, std::fs::Permissions::from_mode(0o600)).unwrap();
    storage
}

/// The `[acme]` table of `acme_table`, its storage a file in `dir` written with `content`
/// (mode 600): for the tests that start from an `acme.json` of their own.
fn acme_with_storage(
    pebble: &Pebble,
    challenge: &str,
    domains: &str,
    dir: &Path,
    content: &str,
) -> (std::path::PathBuf, String) {
    let storage = write_storage(dir, content);
    let acme = acme_table(pebble, challenge, domains).replace(
        "storage = \"acme.json\"",
        &format!("storage = \"{}\"", storage.display()),
    );
    (storage, acme)
}

/// `acme_with_storage` on HTTP-01 asking for `domains`, its storage in `dir` a Traefik 1.7
/// `acme.json` (`v1_acme_json`) holding `account` and the certificate for `name`.
fn acme_with_v1_storage(
    pebble: &Pebble,
    domains: &str,
    dir: &Path,
    account: serde_json::Value,
    name: &str,
    cert: &str,
    key: &str,
) -> (std::path::PathBuf, String) {
    let v1 = v1_acme_json(account, name, cert, key);
    acme_with_storage(
        pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        domains,
        dir,
        &v1,
    )
}

/// The JSON stored at `path`, if the file is there and whole.
fn stored_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

#[tokio::test]
async fn a_stored_certificate_no_domain_asks_for_is_renewed_when_due_as_v1_did() {
    use base64::Engine;
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(http, https).await;
    // Traefik 1.7's acme.json: a certificate with 10 days left, for a name that neither
    // [[acme.domains]] nor any frontend names (onHostRule is off).
    let (old_ca, old_cert, old_key) =
        expiring_certificate("stored.example.test", Duration::from_secs(10 * 24 * 3600));
    let old_not_after = pem_not_after(&old_cert);
    let dir = tempfile::tempdir().unwrap();
    let (storage, acme) = acme_with_v1_storage(
        &pebble,
        "",
        dir.path(),
        v1_account(&pebble),
        "stored.example.test",
        &old_cert,
        &old_key,
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    // The renewed certificate is served: pebble's chain, a later notAfter.
    wait_served("stored.example.test", https, &root, &trafik).await;
    let served = served_not_after("stored.example.test", https, &root)
        .await
        .unwrap();
    assert!(served > old_not_after, "{served} <= {old_not_after}");
    // Exactly one order: the stored certificate's, nothing else was asked for.
    assert_eq!(pebble.orders(), 1, "{}", pebble.server.log());
    // And stored in place of v1's, under the same name.
    eventually("the renewed certificate stored", || {
        let storage = storage.clone();
        let old_cert = old_cert.clone();
        async move {
            let json = stored_json(&storage)?;
            let certs = json["Certificates"].as_array()?;
            let pem = base64::engine::general_purpose::STANDARD
                .decode(certs.first()?["Certificate"].as_str()?)
                .ok()?;
            let pem = String::from_utf8(pem).ok()?;
            (certs.len() == 1
                && certs[0]["Domain"]["Main"] == "stored.example.test"
                && pem != old_cert
                && pem_not_after(&pem) == served)
                .then_some(())
        }
    })
    .await;
    // v1's certificate was served until then (its CA's chain): not any more.
    assert!(
        verified_get("stored.example.test", https, &old_ca)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_corrupt_acme_json_is_set_aside_and_reported_and_trafik_starts_afresh() {
    let backend = Backend::start("app").await;
    let (http, https) = (free_port(), free_port());
    let pebble = Pebble::start(http, https).await;
    // Cut short mid-write, as a full disk leaves it: not JSON.
    let corrupt = r#"{"Account": {"Email": "admin@example.test", "PrivateKey": "MIIJ"#;
    let dir = tempfile::tempdir().unwrap();
    let (storage, acme) = acme_with_storage(
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        "[[acme.domains]]\nmain = \"fresh.example.test\"",
        dir.path(),
        corrupt,
    );
    let trafik = Trafik::start(&config(http, https, false, &backend, &acme));
    let root = pebble.root_pem().await;
    // trafik starts with nothing stored and orders what it is asked for…
    wait_served("fresh.example.test", https, &root, &trafik).await;
    // …the corrupt file kept aside byte for byte, and the log says where, at ERROR.
    let aside = dir.path().join("acme.json.corrupt");
    assert_eq!(std::fs::read_to_string(&aside).unwrap(), corrupt);
    let logs = trafik.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("set aside as"))
        .unwrap_or_else(|| panic!("no line says the file was set aside:\n{logs}"));
    assert!(
        line.contains("ERROR") && line.contains(&aside.display().to_string()),
        "{line}"
    );
    // The new acme.json is v1's format, with the new account and certificate (stored
    // just after it is served).
    eventually("a new acme.json with the certificate", || {
        let storage = storage.clone();
        async move {
            let json = stored_json(&storage)?;
            (json["Account"]["Email"] == "admin@example.test"
                && json["Certificates"][0]["Domain"]["Main"] == "fresh.example.test")
                .then_some(())
        }
    })
    .await;
    // Still the corrupt bytes aside: the new file went to acme.json only.
    assert_eq!(std::fs::read_to_string(&aside).unwrap(), corrupt);
}

#[tokio::test]
async fn a_stored_certificate_whose_renewal_fails_is_still_served_and_the_error_shown() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let backend = Backend::start("app").await;
    let (http, https, api) = (free_port(), free_port(), free_port());
    // pebble refuses to issue for the stored name (rejectedIdentifier at new-order).
    let pebble =
        Pebble::start_blocking(http, https, free_port(), None, &["refused.example.test"]).await;
    let (old_ca, old_cert, old_key) =
        expiring_certificate("refused.example.test", Duration::from_secs(10 * 24 * 3600));
    let dir = tempfile::tempdir().unwrap();
    let (storage, acme) = acme_with_v1_storage(
        &pebble,
        "",
        dir.path(),
        serde_json::Value::Null,
        "refused.example.test",
        &old_cert,
        &old_key,
    );
    let trafik = Trafik::start(&with_api(&config(http, https, false, &backend, &acme), api));
    // The renewal is tried, refused, and tried again after the backoff, as a configured
    // domain's order would be; each refusal names the stored certificate's name.
    wait_refusals(
        &trafik,
        "two refused renewals in trafik's log",
        "refused.example.test",
        "rejectedIdentifier",
    )
    .await;
    // Meanwhile the stored certificate is still served, and /api/state shows why it was
    // not renewed next to its (old) expiry.
    assert_eq!(
        verified_get("refused.example.test", https, &old_ca).await,
        Ok(200)
    );
    assert_first_certificate(
        api,
        &["refused.example.test"],
        true,
        Some("rejectedIdentifier"),
    )
    .await;
    // The stored certificate is left as it was.
    let json = read_json(&storage);
    assert_eq!(json["Certificates"][0]["Certificate"], b64(&old_cert));
}
