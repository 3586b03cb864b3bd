//! trafik's own HTTP/1.1 client (src/proxy/h1/) against a raw backend that writes
//! crafted bytes: what the client is answered for each backend response, and whether the
//! backend connection is used again (counted by the connections the backend accepts).
//!
//! Every response here is hostile in some way a compromised or broken backend could be:
//! the framing rules of RFC 9112 §6.3 decide what passes, and a connection whose framing
//! cannot be trusted never carries another request.

use crate::common;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the raw backend does after writing a case's response.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// Waits for the next request on the connection.
    KeepOpen,
    /// Closes the connection (FIN).
    Close,
    /// Resets the connection (RST: linger 0).
    Reset,
}

#[derive(Clone)]
struct Reply {
    bytes: Vec<u8>,
    after: After,
    /// Answer as soon as the head is in, without reading the request body.
    before_body: bool,
    /// Answer with a chunked head at once, then stream the request body back as it
    /// arrives (`bytes` unused).
    echo: bool,
}

fn reply(bytes: impl Into<Vec<u8>>, after: After) -> Reply {
    Reply {
        bytes: bytes.into(),
        after,
        before_body: false,
        echo: false,
    }
}

/// A TCP backend answering `/case/NAME` with the reply registered for NAME, and counting
/// the connections it accepts.
struct RawBackend {
    url: String,
    accepted: Arc<AtomicUsize>,
    /// Connections the backend is done with (closed or reset on its side).
    closed: Arc<AtomicUsize>,
}

async fn raw_backend(replies: HashMap<String, Reply>) -> RawBackend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let replies = Arc::new(replies);
    let closed = Arc::new(AtomicUsize::new(0));
    let (counter, done) = (accepted.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let (replies, done) = (replies.clone(), done.clone());
            tokio::spawn(async move {
                serve(stream, replies).await;
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    RawBackend {
        url,
        accepted,
        closed,
    }
}

/// Serves requests on one connection until a reply ends it or trafik closes it.
async fn serve(mut stream: TcpStream, replies: Arc<HashMap<String, Reply>>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let name = path.strip_prefix("/case/").unwrap_or("ok");
        let reply = replies.get(name).cloned().unwrap_or_else(|| {
            reply(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                After::KeepOpen,
            )
        });
        let length = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        buf.drain(..head_end);
        if reply.echo {
            let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head).await.is_err() {
                return;
            }
            let mut left = length;
            while left > 0 {
                if buf.is_empty() {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let n = buf.len().min(left);
                let mut piece = format!("{n:x}\r\n").into_bytes();
                piece.extend(buf.drain(..n));
                piece.extend_from_slice(b"\r\n");
                if stream.write_all(&piece).await.is_err() {
                    return;
                }
                left -= n;
            }
            if stream.write_all(b"0\r\n\r\n").await.is_err() {
                return;
            }
            continue;
        }
        if !reply.before_body {
            while buf.len() < length {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..length);
        }
        if stream.write_all(&reply.bytes).await.is_err() {
            return;
        }
        match reply.after {
            After::KeepOpen => {}
            After::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            After::Reset => {
                // Linger 0: the close is a reset. (Deprecated for blocking on drop, which
                // a zero linger does not.)
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(std::time::Duration::ZERO));
                return;
            }
        }
    }
}

fn trafik_for(backend: &RawBackend) -> (Trafik, u16) {
    let port = free_port();
    let toml = catch_all_config(port, &[(backend.url.clone(), 1)], "");
    (Trafik::start(&toml), port)
}

/// What the client sees.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Status and whole body.
    Answer(u16, String),
    /// No whole response: the body broke off after the status, or (hyper's server had
    /// not flushed the head yet) the connection ended before it.
    Cut,
}

async fn request(client: &reqwest::Client, method: &str, url: &str) -> Seen {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let Ok(response) = client.request(method, url).send().await else {
        return Seen::Cut;
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => Seen::Answer(status, String::from_utf8_lossy(&body).to_string()),
        Err(_) => Seen::Cut,
    }
}

struct Case {
    name: &'static str,
    method: &'static str,
    reply: Reply,
    seen: Seen,
    /// The backend connection carries the next request.
    reused: bool,
}

fn case(name: &'static str, response: &str, after: After, seen: Seen, reused: bool) -> Case {
    Case {
        name,
        method: "GET",
        reply: reply(response, after),
        seen,
        reused,
    }
}

fn ok(body: &str) -> Seen {
    Seen::Answer(200, body.to_string())
}

fn bad_gateway() -> Seen {
    Seen::Answer(502, "Bad Gateway".to_string())
}

fn cases() -> Vec<Case> {
    use After::*;
    let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let long = format!("X-Long: {}\r\n", "a".repeat(70 * 1024));
    vec![
        case(
            "content-length",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            KeepOpen,
            ok("hello"),
            true,
        ),
        case(
            "chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: v\r\n\r\n",
            KeepOpen,
            ok("hello world"),
            true,
        ),
        case(
            "close-delimited",
            "HTTP/1.1 200 OK\r\n\r\nuntil the end",
            Close,
            ok("until the end"),
            false,
        ),
        case(
            "http10",
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
            KeepOpen,
            ok("ok"),
            false,
        ),
        case(
            "http10-keep-alive",
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
            KeepOpen,
            ok("ok"),
            true,
        ),
        case(
            "connection-close",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            KeepOpen,
            ok("ok"),
            false,
        ),
        Case {
            method: "HEAD",
            ..case(
                "head",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                KeepOpen,
                ok(""),
                true,
            )
        },
        case(
            "204-stray-body",
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
            KeepOpen,
            Seen::Answer(204, String::new()),
            false,
        ),
        case(
            "304-stray-body",
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello",
            KeepOpen,
            Seen::Answer(304, String::new()),
            false,
        ),
        case(
            "100-then-200",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            KeepOpen,
            ok("ok"),
            true,
        ),
        case(
            "103-then-200",
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            KeepOpen,
            ok("ok"),
            true,
        ),
        case(
            "cl-and-te",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            KeepOpen,
            ok("hello"),
            false,
        ),
        case(
            "te-not-chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nuntil the end",
            Close,
            ok("until the end"),
            false,
        ),
        case(
            "two-lengths",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "length-not-a-number",
            "HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok",
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "obs-fold",
            "HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 2\r\n\r\nok",
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "nul-in-value",
            "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok",
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "bad-status-line",
            "HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok",
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "bad-header-name",
            "HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 2\r\n\r\nok",
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "head-too-long",
            &format!("HTTP/1.1 200 OK\r\n{long}Content-Length: 2\r\n\r\nok"),
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "too-many-headers",
            &format!("HTTP/1.1 200 OK\r\n{many}Content-Length: 2\r\n\r\nok"),
            KeepOpen,
            bad_gateway(),
            false,
        ),
        case(
            "bytes-after-response",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
            KeepOpen,
            ok("ok"),
            false,
        ),
        case(
            "eof-in-head",
            "HTTP/1.1 200 OK\r\nContent-Le",
            Close,
            bad_gateway(),
            false,
        ),
        case(
            "eof-in-body",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
            Close,
            Seen::Cut,
            false,
        ),
        case(
            "eof-in-chunked-body",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            Close,
            Seen::Cut,
            false,
        ),
        case(
            "bad-chunk",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
            KeepOpen,
            Seen::Cut,
            false,
        ),
        case(
            "reset-in-head",
            "HTTP/1.1 200 OK\r\nContent-Le",
            Reset,
            bad_gateway(),
            false,
        ),
        case(
            "unasked-101",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
            KeepOpen,
            bad_gateway(),
            false,
        ),
    ]
}

/// Each case on a connection trafik has used before, then a plain request: it goes on
/// the same connection exactly when the case's connection could be reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_backend_response_is_framed_and_its_connection_reused_or_not() {
    let cases = cases();
    let replies = cases
        .iter()
        .map(|c| (c.name.to_string(), c.reply.clone()))
        .collect();
    let backend = raw_backend(replies).await;
    let (trafik, port) = trafik_for(&backend);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/case/ok"), 200).await;
    let client = client();
    let mut failures = Vec::new();
    for case in &cases {
        // One idle connection in the pool, which the case's request takes.
        assert_eq!(
            request(&client, "GET", &format!("{base}/case/ok")).await,
            ok("ok")
        );
        let before = backend.accepted.load(Ordering::SeqCst);
        let seen = request(&client, case.method, &format!("{base}/case/{}", case.name)).await;
        // The next request: on the case's connection if it went back to the pool.
        let after_ok = request(&client, "GET", &format!("{base}/case/ok")).await;
        let new_connections = backend.accepted.load(Ordering::SeqCst) - before;
        let reused = new_connections == 0;
        if seen != case.seen || reused != case.reused || after_ok != ok("ok") {
            failures.push(format!(
                "{}: saw {seen:?} (want {:?}), reused {reused} (want {}), {new_connections} new connections, then {after_ok:?}",
                case.name, case.seen, case.reused
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}\n{}", trafik.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_before_the_upload_is_sent_reaches_the_client() {
    let mut replies = HashMap::new();
    replies.insert(
        "too-large".to_string(),
        Reply {
            bytes: b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo much"
                .to_vec(),
            after: After::Close,
            before_body: true,
            echo: false,
        },
    );
    let backend = raw_backend(replies).await;
    let (trafik, port) = trafik_for(&backend);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/case/ok"), 200).await;
    for _ in 0..3 {
        // A client of its own each time: trafik closes the client's connection after
        // answering without reading the whole upload.
        let response = client()
            .post(format!("{base}/case/too-large"))
            .body(vec![b'x'; 1024 * 1024])
            .send()
            .await
            .unwrap();
        // The backend's answer, never trafik's 502.
        assert_eq!(response.status(), 413, "{}", trafik.logs());
        assert_eq!(response.text().await.unwrap_or_default(), "too much");
    }
    // And the next request is served, on a connection of its own.
    let before = backend.accepted.load(Ordering::SeqCst);
    assert_eq!(
        request(&client(), "GET", &format!("{base}/case/ok")).await,
        ok("ok")
    );
    assert_eq!(backend.accepted.load(Ordering::SeqCst), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_streams_whole_and_its_connection_is_reused() {
    const SIZE: usize = 8 * 1024 * 1024;
    let mut replies = HashMap::new();
    let mut big = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").into_bytes();
    big.extend((0..SIZE).map(|i| b'a' + (i % 26) as u8));
    replies.insert("big".to_string(), reply(big, After::KeepOpen));
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in (0..SIZE).collect::<Vec<_>>().chunks(100_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend(piece.iter().map(|i| b'a' + (i % 26) as u8));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    replies.insert("big-chunked".to_string(), reply(chunked, After::KeepOpen));
    let backend = raw_backend(replies).await;
    let (trafik, port) = trafik_for(&backend);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/case/ok"), 200).await;
    let client = client();
    let before = backend.accepted.load(Ordering::SeqCst);
    for name in ["big", "big-chunked", "big"] {
        let body = client
            .get(format!("{base}/case/{name}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len(), SIZE, "{name}");
        assert!(
            body.iter()
                .enumerate()
                .all(|(i, b)| *b == b'a' + (i % 26) as u8),
            "{name}: the bytes in order"
        );
    }
    assert_eq!(
        request(&client, "GET", &format!("{base}/case/ok")).await,
        ok("ok")
    );
    assert_eq!(
        backend.accepted.load(Ordering::SeqCst),
        before,
        "one connection throughout"
    );
}

/// A server that closes an idle keep-alive connection (its own idle timeout) without
/// saying so: the next request, with or without a body, goes on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closed_while_idle_is_not_used() {
    let mut replies = HashMap::new();
    replies.insert(
        "then-close".to_string(),
        reply(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            After::Close,
        ),
    );
    let backend = raw_backend(replies).await;
    let (trafik, port) = trafik_for(&backend);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/case/ok"), 200).await;
    let client = client();
    for method in ["GET", "POST", "GET", "POST"] {
        let closed_before = backend.closed.load(Ordering::SeqCst);
        assert_eq!(
            request(&client, "GET", &format!("{base}/case/then-close")).await,
            ok("ok")
        );
        // Once the backend has closed it, the pool must pass that connection over (a
        // POST sent on it would fail: it cannot be sent again).
        eventually("the backend closed its connection", || async {
            (backend.closed.load(Ordering::SeqCst) > closed_before).then_some(())
        })
        .await;
        let closed_at = backend.accepted.load(Ordering::SeqCst);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = client
            .request(method.clone(), format!("{base}/case/ok"))
            .body("payload")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}: {}", trafik.logs());
        assert_eq!(response.text().await.unwrap(), "ok");
        assert!(backend.accepted.load(Ordering::SeqCst) > closed_at);
    }
}

/// A server that answers at once and streams the upload back as it reads it: the
/// response's head comes before the request body is sent, and its body needs the rest of
/// the upload, which trafik keeps sending as the response streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_streamed_back_as_it_is_read_goes_through_whole() {
    let mut replies = HashMap::new();
    replies.insert(
        "echo".to_string(),
        Reply {
            echo: true,
            ..reply("", After::KeepOpen)
        },
    );
    let backend = raw_backend(replies).await;
    let (trafik, port) = trafik_for(&backend);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/case/ok"), 200).await;
    let upload: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let response = client()
        .post(format!("{base}/case/echo"))
        .body(upload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), upload.len(), "{}", trafik.logs());
    assert!(body[..] == upload[..], "the same bytes back");
}
