//! A client cannot delete the headers trafik adds or relies on by nominating them in
//! `Connection` (Traefik's CVE-2024-45410, its case-insensitive sequel GHSA-92mv-8f8w-wq52,
//! and CVE-2021-32813 for headers set by middlewares): through the real binary, with the
//! request written by hand (a client library would tidy `Connection` up), asserting on
//! what the backend received.

use crate::common;

use common::{Backend, Trafik, free_port};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Two entry points in front of one backend: `open` trusts everyone's `X-Forwarded-*`
/// (v1's default), `guarded` trusts nobody on loopback.
async fn start() -> (Trafik, Backend, u16, u16) {
    let backend = Backend::start("b").await;
    let (open, guarded) = (free_port(), free_port());
    let toml = format!(
        r#"
[entryPoints.open]
address = "127.0.0.1:{open}"
[entryPoints.guarded]
address = "127.0.0.1:{guarded}"
  [entryPoints.guarded.forwardedHeaders]
  trustedIPs = ["10.0.0.0/8"]
[file]
[backends.b.servers.s]
url = "{url}"
[frontends.f]
backend = "b"
entryPoints = ["open", "guarded"]
passHostHeader = true
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
[frontends.strip]
backend = "b"
entryPoints = ["open", "guarded"]
passHostHeader = true
  [frontends.strip.routes.r]
  rule = "PathPrefixStrip:/strip"
"#,
        url = backend.url()
    );
    let trafik = Trafik::start(&toml);
    trafik
        .wait_for(&format!("http://127.0.0.1:{open}/"), 200)
        .await;
    trafik
        .wait_for(&format!("http://127.0.0.1:{guarded}/"), 200)
        .await;
    (trafik, backend, open, guarded)
}

/// Sends `head` (without the final blank line) and returns what the backend described.
async fn send(port: u16, head: &str) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    // Every request here says `Connection: close`: trafik ends the connection.
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    assert!(head.starts_with("HTTP/1.1 200"), "response: {text}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn header<'a>(seen: &'a Value, name: &str) -> Option<&'a str> {
    seen["headers"][name].as_str()
}

#[tokio::test]
async fn forwarded_headers_survive_being_nominated_in_connection() {
    let (_trafik, _backend, open, guarded) = start().await;
    for connection in [
        "close, X-Forwarded-For, X-Real-Ip, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Port, X-Forwarded-Server",
        "close, x-forwarded-for, x-real-ip, x-forwarded-host, x-forwarded-proto, x-forwarded-port, x-forwarded-server",
        "CLOSE,X-FORWARDED-FOR,X-REAL-IP,X-FORWARDED-HOST,X-FORWARDED-PROTO,X-FORWARDED-PORT,X-FORWARDED-SERVER",
    ] {
        for port in [open, guarded] {
            let seen = send(
                port,
                &format!("GET /x HTTP/1.1\r\nHost: app.test:81\r\nConnection: {connection}"),
            )
            .await;
            let what = format!("port {port}, Connection: {connection}: {seen}");
            assert_eq!(
                header(&seen, "x-forwarded-for"),
                Some("127.0.0.1"),
                "{what}"
            );
            assert_eq!(header(&seen, "x-real-ip"), Some("127.0.0.1"), "{what}");
            assert_eq!(
                header(&seen, "x-forwarded-host"),
                Some("app.test:81"),
                "{what}"
            );
            assert_eq!(header(&seen, "x-forwarded-proto"), Some("http"), "{what}");
            assert_eq!(header(&seen, "x-forwarded-port"), Some("81"), "{what}");
            assert!(header(&seen, "x-forwarded-server").is_some(), "{what}");
            assert_eq!(header(&seen, "connection"), None, "{what}");
        }
    }
}

#[tokio::test]
async fn a_trusted_proxys_chain_is_kept_and_an_untrusted_one_still_replaced() {
    let (_trafik, _backend, open, guarded) = start().await;
    let head = "GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 203.0.113.9\r\n\
                Connection: close, X-Forwarded-For";
    let seen = send(open, head).await;
    assert_eq!(
        header(&seen, "x-forwarded-for"),
        Some("203.0.113.9, 127.0.0.1"),
        "{seen}"
    );
    let seen = send(guarded, head).await;
    assert_eq!(
        header(&seen, "x-forwarded-for"),
        Some("127.0.0.1"),
        "{seen}"
    );
}

#[tokio::test]
async fn host_cannot_be_nominated_away_with_pass_host_header() {
    let (_trafik, backend, open, _) = start().await;
    for connection in ["close, Host", "close, HOST", "Host, close"] {
        let seen = send(
            open,
            &format!("GET / HTTP/1.1\r\nHost: app.test\r\nConnection: {connection}"),
        )
        .await;
        assert_eq!(
            header(&seen, "host"),
            Some("app.test"),
            "{connection}: {seen}"
        );
        assert_ne!(
            header(&seen, "host"),
            Some(backend.addr.to_string().as_str())
        );
    }
}

#[tokio::test]
async fn headers_set_by_a_rule_survive_being_nominated() {
    let (_trafik, _backend, open, _) = start().await;
    let seen = send(
        open,
        "GET /strip/a HTTP/1.1\r\nHost: app.test\r\nConnection: close, X-Forwarded-Prefix",
    )
    .await;
    assert_eq!(seen["path"], "/a", "{seen}");
    assert_eq!(
        header(&seen, "x-forwarded-prefix"),
        Some("/strip"),
        "{seen}"
    );
}

#[tokio::test]
async fn other_nominated_headers_are_still_hop_by_hop() {
    let (_trafik, _backend, open, _) = start().await;
    // Several Connection headers, odd spacing and case: every nominated header goes.
    let seen = send(
        open,
        "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nConnection:  X-Secret ,x-other\r\n\
         X-Secret: 1\r\nX-Other: 2\r\nX-Kept: 3",
    )
    .await;
    assert_eq!(header(&seen, "x-secret"), None, "{seen}");
    assert_eq!(header(&seen, "x-other"), None, "{seen}");
    assert_eq!(header(&seen, "x-kept"), Some("3"), "{seen}");
}
