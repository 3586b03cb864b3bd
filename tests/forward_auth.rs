//! Forward auth (`[frontends.X.auth.forward]`, `[entryPoints.X.auth.forward]`) through the
//! real binary, with a real auth server in the test: its refusals reach the client as it
//! sent them, its 2xx lets the request on with `authResponseHeaders` copied (a client's
//! forged copies gone), what it is asked (GET, the X-Forwarded-* family, with
//! `trustForwardHeader` on and off), an auth server that is down, over https with `tls.ca`,
//! and a bad address located by `trafik check`.

use crate::common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::pki::{Ca, Pem, server_config};
use common::{Backend, DEADLINE, Trafik, client, free_port, run_trafik};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

/// What the auth server was asked.
#[derive(Debug, Clone)]
struct Asked {
    method: String,
    uri: String,
    /// Lowercase name → values joined by "\n" (repeated headers kept apart).
    headers: HashMap<String, String>,
    body_len: usize,
}

/// An auth server on 127.0.0.1 (https with `tls`). It judges by `X-Forwarded-Uri`:
/// `/deny…` ⇒ 403 with `X-Reason` and a body; `/big…` ⇒ 401 with a 2 MiB body; anything
/// else ⇒ 200 with `X-Auth-User: alice` and `X-Not-Listed: 1`.
struct AuthServer {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<Asked>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AuthServer {
    async fn start(tls: Option<&Pem>) -> AuthServer {
        Self::start_tls(tls.map(server_config)).await
    }

    async fn start_tls(tls: Option<Arc<rustls::ServerConfig>>) -> AuthServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let log = asked.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, log) = (acceptor.clone(), log.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| judge(req, log.clone()));
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        });
        AuthServer { addr, asked, task }
    }

    fn last(&self) -> Asked {
        self.asked
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the auth server was asked")
    }

    fn count(&self) -> usize {
        self.asked.lock().unwrap().len()
    }
}

async fn judge(
    req: hyper::Request<hyper::body::Incoming>,
    log: Arc<Mutex<Vec<Asked>>>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let mut headers: HashMap<String, String> = HashMap::new();
    for (k, v) in req.headers() {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        headers
            .entry(k.as_str().to_string())
            .and_modify(|prior| {
                prior.push('\n');
                prior.push_str(&v);
            })
            .or_insert(v);
    }
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let forwarded_uri = headers.get("x-forwarded-uri").cloned().unwrap_or_default();
    log.lock().unwrap().push(Asked {
        method,
        uri,
        headers,
        body_len: body.len(),
    });
    let response = if forwarded_uri.starts_with("/deny") {
        hyper::Response::builder()
            .status(403)
            .header("X-Reason", "not on tuesdays")
            .header("Set-Cookie", "tried=1")
            .header("Content-Type", "text/plain")
            .body(Full::new(Bytes::from_static(
                b"go away, says the auth server",
            )))
    } else if forwarded_uri.starts_with("/big") {
        hyper::Response::builder()
            .status(401)
            .body(Full::new(Bytes::from(vec![b'x'; 2 * 1024 * 1024])))
    } else {
        hyper::Response::builder()
            .status(200)
            .header("X-Auth-User", "alice")
            .header("X-Not-Listed", "1")
            .body(Full::new(Bytes::from_static(b"ok")))
    };
    Ok(response.unwrap())
}

fn frontend(name: &str, rule: &str, extra: &str) -> String {
    format!(
        "[frontends.{name}]\nbackend = \"b\"\n[frontends.{name}.routes.r]\nrule = \"{rule}\"\n{extra}\n"
    )
}

fn forward(name: &str, address: &str, extra: &str) -> String {
    format!(
        "[frontends.{name}.auth.forward]\naddress = \"{address}\"\n\
         authResponseHeaders = [\"X-Auth-User\", \"X-Auth-Role\"]\n{extra}\n"
    )
}

async fn start(
    entry_point_extra: &str,
    frontends: &str,
    files: &[(&str, &str)],
) -> (Trafik, Backend, String) {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n{entry_point_extra}\n[file]\n\
         [backends.b.servers.s]\nurl = \"{}\"\n{frontends}",
        backend.url()
    );
    let trafik = Trafik::start_with(&toml, files);
    (trafik, backend, format!("http://127.0.0.1:{port}"))
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn seen(&self, name: &str) -> Option<String> {
        let v: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        v["headers"][name].as_str().map(str::to_owned)
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let r = req.send().await.unwrap();
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_auth_servers_refusal_goes_to_the_client_and_its_yes_copies_headers() {
    let auth = AuthServer::start(None).await;
    let address = format!("http://{}/check?from=trafik", auth.addr);
    let (trafik, backend, base) = start(
        "",
        &format!(
            "{}{}",
            frontend("f", "PathPrefix:/", &forward("f", &address, "")),
            frontend("open", "PathPrefix:/open", ""),
        ),
        &[],
    )
    .await;
    trafik.wait_for(&format!("{base}/open"), 200).await;
    let hits = backend.hits();

    // Denied: the auth server's status, headers and body, and the backend never asked.
    let denied = send(client().get(format!("{base}/deny/this"))).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.headers["x-reason"], "not on tuesdays");
    assert_eq!(denied.headers["set-cookie"], "tried=1");
    assert_eq!(denied.body, "go away, says the auth server");
    assert_eq!(backend.hits(), hits);

    // A refusal with a body past the limit is not relayed.
    let big = send(client().get(format!("{base}/big"))).await;
    assert_eq!(big.status, 502);
    assert_eq!(backend.hits(), hits);

    // Allowed: the listed header copied, a forged copy of a listed one gone, an unlisted
    // one not copied.
    let ok = send(
        client()
            .get(format!("{base}/app?q=1"))
            .header("X-Auth-User", "mallory")
            .header("X-Auth-Role", "admin"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.seen("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(
        ok.seen("x-auth-role"),
        None,
        "the client's forged role is dropped"
    );
    assert_eq!(ok.seen("x-not-listed"), None);
    assert_eq!(backend.hits(), hits + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_auth_server_is_asked_with_and_without_trust_forward_header() {
    let auth = AuthServer::start(None).await;
    let address = format!("http://{}/check?from=trafik", auth.addr);
    let (trafik, _backend, base) = start(
        "",
        &format!(
            "{}{}{}",
            frontend(
                "plain",
                "PathPrefix:/plain",
                &forward("plain", &address, "")
            ),
            frontend(
                "trusting",
                "PathPrefix:/trusting",
                &forward("trusting", &address, "trustForwardHeader = true"),
            ),
            frontend("open", "PathPrefix:/open", ""),
        ),
        &[],
    )
    .await;
    trafik.wait_for(&format!("{base}/open"), 200).await;
    let host = base.trim_start_matches("http://").to_string();

    let r = send(
        client()
            .post(format!("{base}/plain/x?y=1"))
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Forwarded-Uri", "/public")
            .header("Cookie", "session=abc")
            .body("a request body"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let asked = auth.last();
    assert_eq!(asked.method, "GET");
    assert_eq!(asked.uri, "/check?from=trafik");
    assert_eq!(asked.body_len, 0, "the client's body is not sent");
    let h = &asked.headers;
    assert_eq!(
        h["x-forwarded-for"], "127.0.0.1",
        "the client, not what it claims"
    );
    assert_eq!(h["x-forwarded-uri"], "/plain/x?y=1");
    assert_eq!(h["x-forwarded-method"], "POST");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], host);
    assert_eq!(h["cookie"], "session=abc", "the client's headers go along");
    assert_eq!(
        h["host"],
        auth.addr.to_string(),
        "the auth server's own Host"
    );

    let r = send(
        client()
            .get(format!("{base}/trusting/x"))
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Forwarded-Proto", "https"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let h = auth.last().headers;
    assert_eq!(h["x-forwarded-for"], "6.6.6.6, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https", "kept as sent");
    assert_eq!(h["x-forwarded-uri"], "/trusting/x");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auth_server_that_is_down_is_a_500_and_trafik_keeps_serving() {
    // A port nothing listens on.
    let dead = free_port();
    let (trafik, backend, base) = start(
        "",
        &format!(
            "{}{}",
            frontend(
                "f",
                "PathPrefix:/app",
                &forward("f", &format!("http://127.0.0.1:{dead}/check"), "")
            ),
            frontend("open", "PathPrefix:/open", ""),
        ),
        &[],
    )
    .await;
    trafik.wait_for(&format!("{base}/open"), 200).await;
    let hits = backend.hits();
    for _ in 0..3 {
        assert_eq!(send(client().get(format!("{base}/app"))).await.status, 500);
    }
    assert_eq!(backend.hits(), hits);
    assert_eq!(send(client().get(format!("{base}/open"))).await.status, 200);
    common::eventually("the failure logged", || async {
        trafik
            .logs()
            .contains("forward auth: no answer")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_auth_on_an_entry_point() {
    let auth = AuthServer::start(None).await;
    let ep = format!(
        "[entryPoints.http.auth.forward]\naddress = \"http://{}/check\"\n\
         authResponseHeaders = [\"X-Auth-User\"]\n[ping]\nentryPoint = \"http\"\n",
        auth.addr
    );
    let (trafik, backend, base) = start(&ep, &frontend("f", "PathPrefix:/", ""), &[]).await;
    trafik.wait_for(&format!("{base}/ok"), 200).await;

    // v1's /ping is never behind auth.
    let asked = auth.count();
    assert_eq!(send(client().get(format!("{base}/ping"))).await.status, 200);
    assert_eq!(
        auth.count(),
        asked,
        "the auth server is not asked about /ping"
    );

    let denied = send(client().get(format!("{base}/deny"))).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body, "go away, says the auth server");

    let hits = backend.hits();
    let asked = auth.count();
    let ok = send(
        client()
            .get(format!("{base}/ok"))
            .header("X-Auth-User", "mallory"),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.seen("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(backend.hits(), hits + 1);
    assert_eq!(auth.count(), asked + 1);

    // The auth server judges the path the routes will see: dot segments are resolved
    // first (raw TCP: a real client would resolve them itself).
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let head = raw_get(port, "/ok/../deny").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(auth.last().headers["x-forwarded-uri"], "/deny");
    assert_eq!(backend.hits(), hits + 1);
}

/// Sends `GET {target}` as written on a raw connection; returns the response's head.
async fn raw_get(port: u16, target: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_auth_server_trusted_through_tls_ca() {
    let ca = Ca::new("Auth CA");
    let auth = AuthServer::start(Some(&ca.server(&["127.0.0.1"], "auth"))).await;
    let address = format!("https://{}/check", auth.addr);
    let (trafik, _backend, base) = start(
        "",
        &format!(
            "{}{}{}",
            frontend(
                "trusted",
                "PathPrefix:/trusted",
                &forward(
                    "trusted",
                    &address,
                    "[frontends.trusted.auth.forward.tls]\nca = \"auth-ca.pem\""
                ),
            ),
            // Without the CA the certificate does not verify: no answer, 500.
            frontend(
                "untrusted",
                "PathPrefix:/untrusted",
                &forward("untrusted", &address, "")
            ),
            frontend("open", "PathPrefix:/open", ""),
        ),
        &[("auth-ca.pem", &ca.cert_pem)],
    )
    .await;
    trafik.wait_for(&format!("{base}/open"), 200).await;
    let ok = send(client().get(format!("{base}/trusted/x"))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.seen("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(
        send(client().get(format!("{base}/untrusted"))).await.status,
        500
    );
}

/// A TLS server on `pem` that requires a client certificate issued by `client_ca`.
fn mutual_tls(pem: &Pem, client_ca: &str) -> Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(client_ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain: Vec<_> = CertificateDer::pem_slice_iter(pem.cert.as_bytes())
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_for_the_auth_server_and_insecure_skip_verify() {
    let ca = Ca::new("Auth CA");
    let clients = Ca::new("Client CA");
    let trafik_pem = clients.client("trafik");
    let auth = AuthServer::start_tls(Some(mutual_tls(
        &ca.server(&["127.0.0.1"], "auth"),
        &clients.cert_pem,
    )))
    .await;
    let address = format!("https://{}/check", auth.addr);
    let with_cert = "[frontends.cert.auth.forward.tls]\nca = \"auth-ca.pem\"\n\
                     cert = \"trafik.pem\"\nkey = \"trafik-key.pem\"";
    let without_cert = "[frontends.nocert.auth.forward.tls]\nca = \"auth-ca.pem\"";
    // Not verifying the auth server, yet presenting the certificate it asks for.
    let insecure = "[frontends.insecure.auth.forward.tls]\ninsecureSkipVerify = true\n\
                    cert = \"trafik.pem\"\nkey = \"trafik-key.pem\"";
    let (trafik, _backend, base) = start(
        "",
        &format!(
            "{}{}{}{}",
            frontend(
                "cert",
                "PathPrefix:/cert",
                &forward("cert", &address, with_cert)
            ),
            frontend(
                "nocert",
                "PathPrefix:/nocert",
                &forward("nocert", &address, without_cert)
            ),
            frontend(
                "insecure",
                "PathPrefix:/insecure",
                &forward("insecure", &address, insecure)
            ),
            frontend("open", "PathPrefix:/open", ""),
        ),
        &[
            ("auth-ca.pem", &ca.cert_pem),
            ("trafik.pem", &trafik_pem.cert),
            ("trafik-key.pem", &trafik_pem.key),
        ],
    )
    .await;
    trafik.wait_for(&format!("{base}/open"), 200).await;
    let ok = send(client().get(format!("{base}/cert"))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.seen("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(
        send(client().get(format!("{base}/nocert"))).await.status,
        500
    );
    let insecure = send(client().get(format!("{base}/insecure"))).await;
    assert_eq!(insecure.status, 200, "{}", insecure.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_address_or_tls_file_skips_the_frontend_located() {
    let (trafik, _backend, base) = start(
        "",
        &format!(
            "{}{}{}",
            frontend(
                "noscheme",
                "PathPrefix:/noscheme",
                &forward("noscheme", "auth.example/check", "")
            ),
            frontend(
                "noca",
                "PathPrefix:/noca",
                &forward(
                    "noca",
                    "https://127.0.0.1:1/check",
                    "[frontends.noca.auth.forward.tls]\nca = \"missing-ca.pem\""
                ),
            ),
            frontend("open", "PathPrefix:/open", ""),
        ),
        &[],
    )
    .await;
    trafik.wait_for(&format!("{base}/open"), 200).await;
    assert_eq!(
        send(client().get(format!("{base}/noscheme"))).await.status,
        404
    );
    assert_eq!(send(client().get(format!("{base}/noca"))).await.status, 404);

    let (status, _, stderr) = run_trafik(&["check"], &trafik.dir);
    assert!(!status.success(), "{stderr}");
    let text = std::fs::read_to_string(&trafik.config).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (line, message) in [
        (
            line_of("auth.example/check"),
            "frontend \"noscheme\" skipped: auth: forward: address",
        ),
        (
            line_of("missing-ca.pem"),
            "frontend \"noca\" skipped: auth: forward: ca \"missing-ca.pem\"",
        ),
    ] {
        let located = format!("trafik.toml:{line}:");
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&located) && l.contains(message)),
            "no `{located} … {message}` in:\n{stderr}"
        );
    }

    // On an entry point the same mistake stops the start, said plainly.
    let port = free_port();
    let mut bad = Trafik::start(&format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n\
         [entryPoints.http.auth.forward]\naddress = \"ftp://auth/check\"\n"
    ));
    let status = bad.wait_exit(DEADLINE).await;
    assert!(!status.success());
    assert!(
        bad.logs()
            .contains("entry point \"http\": auth: forward: address \"ftp://auth/check\""),
        "{}",
        bad.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_shows_every_auth_key_with_secrets_redacted() {
    let ca = Ca::new("Auth CA");
    let client_pem = ca.client("trafik");
    let api = free_port();
    let key_toml = format!("key = \"\"\"\n{}\"\"\"", client_pem.key);
    let extra = format!(
        "trustForwardHeader = true\n[frontends.f.auth.forward.tls]\nca = \"ca.pem\"\n\
         caOptional = true\ncert = \"client.pem\"\n{key_toml}\ninsecureSkipVerify = true\n"
    );
    let frontends = format!(
        "{}{}",
        frontend(
            "f",
            "PathPrefix:/",
            &format!(
                "{}\n[frontends.f.auth]\nheaderField = \"X-User\"\n",
                forward("f", "http://user:hunter2@127.0.0.1:9/check", &extra)
            )
        ),
        // basicAuth belongs to the frontend's own table, before its routes.
        "[frontends.old]\nbackend = \"b\"\nbasicAuth = [\"carol:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\"]\n\
         [frontends.old.routes.r]\nrule = \"PathPrefix:/old\"\n",
    );
    let (trafik, _backend, _base) = start(
        &format!("[entryPoints.traefik]\naddress = \"127.0.0.1:{api}\"\n[api]\n"),
        &frontends,
        &[("ca.pem", &ca.cert_pem), ("client.pem", &client_pem.cert)],
    )
    .await;
    let url = format!("http://127.0.0.1:{api}/api/providers/file/frontends");
    trafik.wait_for(&url, 200).await;
    let v: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let f = &v["f"]["auth"];
    assert_eq!(f["headerField"], "X-User");
    let fw = &f["forward"];
    assert_eq!(fw["address"], "http://user:<redacted>@127.0.0.1:9/check");
    assert_eq!(fw["trustForwardHeader"], true);
    assert_eq!(
        fw["authResponseHeaders"],
        serde_json::json!(["X-Auth-User", "X-Auth-Role"])
    );
    assert_eq!(fw["tls"]["ca"], "ca.pem");
    assert_eq!(fw["tls"]["caOptional"], true);
    assert_eq!(fw["tls"]["cert"], "client.pem");
    assert_eq!(fw["tls"]["key"], "<redacted>");
    assert_eq!(fw["tls"]["insecureSkipVerify"], true);
    assert_eq!(
        v["old"]["basicAuth"],
        serde_json::json!(["carol:<redacted>"])
    );
    let text = v.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("PRIVATE KEY") && !text.contains("H6uskkkW")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auth_server_that_never_answers_is_a_500_after_the_timeout() {
    // Accepts connections and reads nothing, answers nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/check", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let (trafik, backend, base) = start(
        "",
        &format!(
            "{}{}",
            frontend("f", "PathPrefix:/app", &forward("f", &address, "")),
            frontend("open", "PathPrefix:/open", ""),
        ),
        &[],
    )
    .await;
    trafik.wait_for(&format!("{base}/open"), 200).await;
    // Longer than trafik's 30 s, so the answer is trafik's and not this client's timeout.
    let patient = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(90))
        .build()
        .unwrap();
    let waiting = tokio::spawn({
        let url = format!("{base}/app");
        async move { patient.get(url).send().await.unwrap().status().as_u16() }
    });
    // Meanwhile the rest is served.
    assert_eq!(send(client().get(format!("{base}/open"))).await.status, 200);
    assert_eq!(waiting.await.unwrap(), 500);
    assert_eq!(backend.hits(), 2, "the two /open requests only");
    common::eventually("the timeout logged", || async {
        trafik
            .logs()
            .contains("forward auth: no answer within")
            .then_some(())
    })
    .await;
    held.abort();
}
