//! WebSocket through trafik with a real WebSocket client and server (tungstenite):
//! ws and wss in front, ws and wss behind, 1 000 messages both ways and a 1 MiB one,
//! Origin and encoded paths kept, a backend's 401 passed on, and open tunnels closed
//! at the end of the grace period on shutdown, not before.

use crate::common;
use std::net::SocketAddr;
use std::time::Duration;

use common::pki::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// An echo WebSocket server (TLS when `tls`): answers every message with itself, and
/// first sends `origin=<Origin> path=<path>` so the test sees what arrived. `/private`
/// is refused with 401.
async fn ws_backend(tls: Option<&Pem>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.map(|p| tokio_rustls::TlsAcceptor::from(server_config_http1(p)));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(stream).await {
                            echo(s).await
                        }
                    }
                    None => echo(stream).await,
                }
            });
        }
    });
    addr
}

/// The backend side of a WebSocket over TLS speaks HTTP/1.1 only.
fn server_config_http1(pem: &Pem) -> std::sync::Arc<rustls::ServerConfig> {
    let mut c = (*server_config(pem)).clone();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    std::sync::Arc::new(c)
}

// The callback's Result type is tungstenite's, large Err included.
#[allow(clippy::result_large_err)]
async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: S) {
    let mut seen = String::new();
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if req.uri().path() == "/private" {
            let mut refusal = ErrorResponse::new(Some("no".into()));
            *refusal.status_mut() = http::StatusCode::UNAUTHORIZED;
            return Err(refusal);
        }
        let origin = req
            .headers()
            .get("origin")
            .and_then(|o| o.to_str().ok())
            .unwrap_or("");
        seen = format!("origin={origin} path={}", req.uri());
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let _ = ws.send(Message::text(seen)).await;
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_close() {
            break;
        }
        if ws.send(msg).await.is_err() {
            break;
        }
    }
}

fn config(http: u16, https: u16, backend: &str, grace: &str) -> String {
    format!(
        r#"
defaultEntryPoints = ["http", "https"]
[lifeCycle]
graceTimeOut = "{grace}"
[entryPoints.http]
address = "127.0.0.1:{http}"
  # The test path holds %2F, refused by default.
  [entryPoints.http.encodedCharacters]
  allowEncodedSlash = true
[entryPoints.https]
address = "127.0.0.1:{https}"
  [entryPoints.https.encodedCharacters]
  allowEncodedSlash = true
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "ws.crt"
    keyFile = "ws.key"
[file]
[backends.b.servers.s]
url = "{backend}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
"#
    )
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}
type Ws = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// Connects a WebSocket client to trafik, over TLS (SNI ws.test) when `ca` is given.
async fn connect(port: u16, ca: Option<&Ca>, path: &str) -> Result<Ws, String> {
    let scheme = if ca.is_some() { "wss" } else { "ws" };
    let req = http::Request::builder()
        .uri(format!("{scheme}://ws.test:{port}{path}"))
        .header("host", format!("ws.test:{port}"))
        .header("origin", "https://app.test")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header(
            "sec-websocket-key",
            tokio_tungstenite::tungstenite::handshake::client::generate_key(),
        )
        .body(())
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let io: Box<dyn Io> = match ca {
        Some(ca) => {
            let connector =
                tokio_rustls::TlsConnector::from(client_config(&ca.cert_pem, &[b"http/1.1"]));
            let name = rustls_pki_types::ServerName::try_from("ws.test").unwrap();
            Box::new(
                connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| e.to_string())?,
            )
        }
        None => Box::new(tcp),
    };
    let (ws, _) = tokio_tungstenite::client_async(req, io)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

async fn exchange(mut ws: Ws) {
    let hello = ws.next().await.unwrap().unwrap().into_text().unwrap();
    assert_eq!(
        hello.as_str(),
        "origin=https://app.test path=/chat/a%2Fb?x=1",
        "Origin and the encoded path reach the backend"
    );
    // Both directions at once: the writer does not wait for each echo.
    let (mut tx, mut rx) = ws.split();
    let writer = tokio::spawn(async move {
        for i in 0..1000 {
            tx.send(Message::text(format!("message {i}")))
                .await
                .unwrap();
        }
        tx.send(Message::binary(vec![7u8; 1 << 20])).await.unwrap();
        tx
    });
    for i in 0..1000 {
        let m = rx.next().await.unwrap().unwrap();
        assert_eq!(m.into_text().unwrap().as_str(), format!("message {i}"));
    }
    let big = rx.next().await.unwrap().unwrap().into_data();
    assert_eq!(big.len(), 1 << 20);
    assert!(big.iter().all(|b| *b == 7));
    let mut tx = writer.await.unwrap();
    tx.send(Message::Close(None)).await.unwrap();
}

#[tokio::test]
async fn ws_and_wss_to_ws_and_wss_backends() {
    let ca = Ca::new("WS CA");
    let front = ca.server(&["ws.test"], "front");
    let back = ca.server(&["127.0.0.1"], "back");
    let plain = ws_backend(None).await;
    let secure = ws_backend(Some(&back)).await;
    for backend in [format!("http://{plain}"), format!("https://{secure}")] {
        let (http, https) = (free_port(), free_port());
        let t = Trafik::start_with(
            &format!(
                "rootCAs = [\"ca.crt\"]\n{}",
                config(http, https, &backend, "10s")
            ),
            &[
                ("ws.crt", &front.cert),
                ("ws.key", &front.key),
                ("ca.crt", &ca.cert_pem),
            ],
        );
        wait_listening(https).await;
        for (port, ca) in [(http, None), (https, Some(&ca))] {
            let ws = eventually("trafik to route the WebSocket", || async move {
                connect(port, ca, "/chat/a%2Fb?x=1").await.ok()
            })
            .await;
            exchange(ws).await;
            let Err(refused) = connect(port, ca, "/private").await else {
                panic!("/private must be refused");
            };
            assert!(
                refused.contains("401"),
                "backend's 401 passed on: {refused}\n{}",
                t.logs()
            );
        }
    }
}

#[tokio::test]
async fn open_tunnels_last_until_the_end_of_the_grace_period() {
    let ca = Ca::new("WS CA");
    let front = ca.server(&["ws.test"], "front");
    let plain = ws_backend(None).await;
    let (http, https) = (free_port(), free_port());
    let mut t = Trafik::start_with(
        &format!(
            "logLevel = \"WARN\"\n{}",
            config(http, https, &format!("http://{plain}"), "3s")
        ),
        &[("ws.crt", &front.cert), ("ws.key", &front.key)],
    );
    wait_listening(https).await;
    let ca = &ca;
    let mut ws = eventually("trafik to route the WebSocket", || async move {
        connect(https, Some(ca), "/").await.ok()
    })
    .await;
    ws.next().await.unwrap().unwrap();
    t.signal("TERM");
    // Within the grace period the tunnel still carries messages...
    ws.send(Message::text("after SIGTERM")).await.unwrap();
    let m = ws.next().await.unwrap().unwrap();
    assert_eq!(m.into_text().unwrap().as_str(), "after SIGTERM");
    // ...and at its end it is closed, and trafik exits cleanly.
    let ended = tokio::time::timeout(DEADLINE, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "tunnel left open after the grace period");
    let status = t.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{}", t.logs());
    assert!(t.logs().contains("upgraded connection"), "{}", t.logs());
}
