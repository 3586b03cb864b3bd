//! Upgraded connections (WebSocket's handshake) pass through trafik as a tunnel both
//! ways; a backend refusing the upgrade has its answer passed on. Raw bytes after the
//! 101 stand in for WebSocket frames: trafik must not look at them.

use crate::common;
use std::convert::Infallible;

use bytes::Bytes;
use common::*;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A backend that accepts upgrades on /ws (echoing every byte back, uppercased, so the
/// test knows it went through the backend) and answers 401 on /private.
async fn upgrade_backend() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    |mut req: hyper::Request<hyper::body::Incoming>| async move {
                        let mut resp = hyper::Response::new(Empty::<Bytes>::new());
                        if req.uri().path() == "/private" {
                            *resp.status_mut() = hyper::StatusCode::UNAUTHORIZED;
                            return Ok::<_, Infallible>(resp);
                        }
                        let origin = req.headers().get("origin").cloned();
                        let on_upgrade = hyper::upgrade::on(&mut req);
                        tokio::spawn(async move {
                            let mut io = TokioIo::new(on_upgrade.await.unwrap());
                            let mut buf = [0u8; 1024];
                            loop {
                                let n = io.read(&mut buf).await.unwrap_or(0);
                                if n == 0 {
                                    break;
                                }
                                let upper: Vec<u8> = buf[..n].to_ascii_uppercase();
                                io.write_all(&upper).await.unwrap();
                            }
                        });
                        *resp.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
                        resp.headers_mut()
                            .insert("connection", "upgrade".parse().unwrap());
                        resp.headers_mut()
                            .insert("upgrade", "websocket".parse().unwrap());
                        if let Some(o) = origin {
                            resp.headers_mut().insert("x-seen-origin", o);
                        }
                        Ok(resp)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed in the head"
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn upgraded_connections_tunnel_both_ways() {
    let backend = upgrade_backend().await;
    let port = free_port();
    let trafik = Trafik::start(&format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n\
         [entryPoints.http.encodedCharacters]\nallowEncodedSlash = true\n[file]\n[backends.ws.servers.s]\nurl = \"http://{backend}\"\n\
         [frontends.ws]\nbackend = \"ws\"\npassHostHeader = true\n[frontends.ws.routes.r]\nrule = \"PathPrefix:/\"\n"
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/private"), 401)
        .await;

    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(
        b"GET /ws/a%2Fb HTTP/1.1\r\nHost: chat.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nOrigin: http://chat.example\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    assert!(
        head.contains("x-seen-origin: http://chat.example"),
        "{head}"
    );
    // 1 000 messages both ways through the tunnel.
    for i in 0..1000 {
        let msg = format!("message {i};");
        s.write_all(msg.as_bytes()).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(back, msg.to_ascii_uppercase().as_bytes());
    }

    // A refused upgrade's answer passes through.
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(
        b"GET /private HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
}

/// An upgrade retried after a failure to connect still tunnels: the replay gets the
/// client's side of the upgrade (hyper's `OnUpgrade`, in the request's extensions) as
/// the first attempt did, although retry keeps only some extensions for a replay.
#[tokio::test(flavor = "multi_thread")]
async fn a_retried_upgrade_still_tunnels() {
    let backend = upgrade_backend().await;
    let dead = free_port();
    let port = free_port();
    let trafik = Trafik::start(&format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[retry]\n[file]\n\
         [backends.ws.servers.dead]\nurl = \"http://127.0.0.1:{dead}\"\n\
         [backends.ws.servers.live]\nurl = \"http://{backend}\"\n\
         [frontends.ws]\nbackend = \"ws\"\n[frontends.ws.routes.r]\nrule = \"PathPrefix:/\"\n"
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/private"), 401)
        .await;

    // Round robin over the two: of two handshakes in a row, at least one is sent to the
    // dead server first and replayed to the live one.
    for i in 0..2 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(
            b"GET /ws HTTP/1.1\r\nHost: chat.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
        let head = read_head(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let msg = format!("message {i}");
        s.write_all(msg.as_bytes()).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tokio::time::timeout(std::time::Duration::from_secs(10), s.read_exact(&mut back))
            .await
            .expect("the tunnel answers")
            .unwrap_or_else(|e| panic!("handshake {i}: the tunnel broke: {e}\n{}", trafik.logs()));
        assert_eq!(back, msg.to_ascii_uppercase().as_bytes());
    }
}
