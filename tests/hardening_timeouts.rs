//! Connection deadlines and limits through the real binary, with raw sockets where a real
//! client would never misbehave: a connection that sends nothing, a preface alone, a
//! trickled head or body, a client that stops reading, idle keep-alive and HTTP/2
//! connections, `maxConnections`, an oversized head, the open-file limit, and accept
//! errors once the descriptors run out.
//!
//! Deadlines are set short (1–8 s) so the tests end soon; every wait for a close is
//! generous (tens of seconds) and nothing asserts that something happened quickly.

use crate::common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a connection may take to be closed by a deadline of a few seconds.
const CLOSE_LIMIT: Duration = Duration::from_secs(30);

/// trafik on `port`: `[respondingTimeouts]` lines, the `http` entry point's extra lines,
/// one catch-all frontend to `backend`, and `extra` tables after it.
fn config(port: u16, backend: &str, responding: &str, entry_point: &str, extra: &str) -> String {
    format!(
        r#"
[respondingTimeouts]
{responding}
[entryPoints.http]
address = "127.0.0.1:{port}"
{entry_point}
[file]
[backends.b.servers.s]
url = "{backend}"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
{extra}
"#
    )
}

/// Starts trafik on `toml` (whose entry point is `port`) and waits until it serves.
async fn serving(toml: &str, port: u16) -> Trafik {
    let t = Trafik::start(toml);
    t.wait_for(&format!("http://127.0.0.1:{port}/"), 200).await;
    t
}

/// Reads until the peer closes (EOF or reset), at most `CLOSE_LIMIT`: the bytes read
/// (up to 64 KiB kept) and their total count. Panics if the connection stays open.
async fn read_until_closed<S: AsyncRead + Unpin>(stream: &mut S) -> (Vec<u8>, usize) {
    let deadline = tokio::time::Instant::now() + CLOSE_LIMIT;
    let mut kept = Vec::new();
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => {
                panic!("the connection is still open after {CLOSE_LIMIT:?} ({total} bytes read)")
            }
            Ok(Ok(0)) | Ok(Err(_)) => return (kept, total),
            Ok(Ok(n)) => {
                total += n;
                if kept.len() < 64 * 1024 {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
}

/// One HTTP/1.1 response read off `stream` (Content-Length bodies): status, head, body.
async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> (u16, String, Vec<u8>) {
    let read = async {
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf).await.expect("read a response");
            assert!(
                n > 0,
                "closed before a whole response head: {:?}",
                String::from_utf8_lossy(&data)
            );
            data.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
        let status = head[9..12].parse().expect("a status code");
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = data[head_end..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut buf).await.expect("read a response body");
            assert!(n > 0, "closed in the middle of a response body");
            body.extend_from_slice(&buf[..n]);
        }
        (status, head, body)
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("a response in time")
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_sends_nothing_is_closed_at_the_head_deadline() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(port, &backend.url(), "readHeaderTimeout = \"1s\"", "", ""),
        port,
    )
    .await;
    let mut silent = connect(port).await;
    let (bytes, _) = read_until_closed(&mut silent).await;
    assert!(bytes.is_empty(), "nothing is answered to a silent client");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http2_preface_alone_is_closed_at_the_head_deadline() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(port, &backend.url(), "readHeaderTimeout = \"1s\"", "", ""),
        port,
    )
    .await;
    let mut c = connect(port).await;
    c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_tls_connection_is_closed_at_the_head_deadline_after_its_handshake() {
    use common::pki::{Ca, client_config};
    let ca = Ca::new("Test CA");
    let pem = ca.server(&["a.test"], "Trafik Tests");
    let port = free_port();
    let toml = format!(
        r#"
[respondingTimeouts]
readHeaderTimeout = "1s"
[entryPoints.https]
address = "127.0.0.1:{port}"
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "a.crt"
    keyFile = "a.key"
"#
    );
    let _t = Trafik::start_with(&toml, &[("a.crt", &pem.cert), ("a.key", &pem.key)]);
    let tcp = eventually("trafik to listen", || async {
        TcpStream::connect(("127.0.0.1", port)).await.ok()
    })
    .await;
    let connector = tokio_rustls::TlsConnector::from(client_config(&ca.cert_pem, &[b"http/1.1"]));
    let name = rustls_pki_types::ServerName::try_from("a.test").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("the handshake completes");
    let (bytes, _) = read_until_closed(&mut tls).await;
    assert!(bytes.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trickled_head_is_closed_and_never_reaches_the_backend() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(port, &backend.url(), "readHeaderTimeout = \"1s\"", "", ""),
        port,
    )
    .await;
    let hits = backend.hits();
    let mut c = connect(port).await;
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .unwrap();
    // A byte every 200 ms, for as long as the connection takes them.
    let deadline = tokio::time::Instant::now() + CLOSE_LIMIT;
    let mut buf = [0u8; 1024];
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a trickling head is still open after {CLOSE_LIMIT:?}"
        );
        if c.write_all(b"a").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(200), c.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => panic!(
                "an incomplete head was answered: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
        }
    }
    assert_eq!(backend.hits(), hits, "the backend never saw the request");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_outlives_the_head_deadline_until_idle_timeout() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(
            port,
            &backend.url(),
            "readHeaderTimeout = \"1s\"\nidleTimeout = \"8s\"",
            "",
            "",
        ),
        port,
    )
    .await;
    let mut c = connect(port).await;
    c.write_all(GET).await.unwrap();
    assert_eq!(read_response(&mut c).await.0, 200);
    // Idle well past the head deadline (the scenario, not a synchronisation): the
    // connection is still there for a second request.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    c.write_all(GET).await.unwrap();
    assert_eq!(read_response(&mut c).await.0, 200);
    // Then idle for good: closed at idleTimeout.
    let (bytes, _) = read_until_closed(&mut c).await;
    assert!(bytes.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn read_timeout_cuts_a_request_whose_body_trickles() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(port, &backend.url(), "readTimeout = \"2s\"", "", ""),
        port,
    )
    .await;
    let mut c = connect(port).await;
    c.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + CLOSE_LIMIT;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a trickling body is still being read after {CLOSE_LIMIT:?}"
        );
        if c.write_all(b"a").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(200), c.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
    let received = String::from_utf8_lossy(&received);
    assert!(
        !received.contains(" 200 "),
        "a request cut short is not answered 200: {received:?}"
    );
}

/// A backend whose every answer is a 1 GiB body, written as fast as it is taken.
async fn endless_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let chunk = vec![b'x'; 64 * 1024];
                if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                while s.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    addr
}

fn big_frontend(addr: SocketAddr) -> String {
    format!(
        "[backends.big.servers.s]\nurl = \"http://{addr}\"\n\
         [frontends.big]\nbackend = \"big\"\npriority = 100\n\
         [frontends.big.routes.r]\nrule = \"Path:/big\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn write_timeout_cuts_a_client_that_reads_too_slowly() {
    let backend = Backend::start("b").await;
    let big = endless_backend().await;
    let port = free_port();
    let _t = serving(
        &config(
            port,
            &backend.url(),
            "writeTimeout = \"2s\"",
            "",
            &big_frontend(big),
        ),
        port,
    )
    .await;
    let mut c = connect(port).await;
    c.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1024];
    let n = tokio::time::timeout(DEADLINE, c.read(&mut first))
        .await
        .expect("the response starts")
        .unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    // A client that stops reading (the scenario): trafik's writes block on it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, total) = read_until_closed(&mut c).await;
    assert!(
        total < 1 << 30,
        "the response was cut short, {total} bytes of 1 GiB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_within_read_and_write_timeouts_are_served_however_slow_the_backend() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(
            port,
            &backend.url(),
            "readTimeout = \"2s\"\nwriteTimeout = \"10s\"",
            "",
            "",
        ),
        port,
    )
    .await;
    let c = client();
    let url = format!("http://127.0.0.1:{port}/echo");
    for _ in 0..3 {
        let r = c.post(&url).body("a body").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["body"], "a body");
    }
    // As in Go, readTimeout ends once the body is in: a backend slower than it to answer
    // (the test backend sleeps 4 s before it even reads) is waited for.
    let r = c
        .post(format!("{url}?wait=4000"))
        .body("a body")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["body"], "a body");
}

/// A backend that answers every request with a 101 and then echoes what it gets, uppercased.
async fn upgrade_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                while !data.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                    }
                }
                let head = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
                if s.write_all(head).await.is_err() {
                    return;
                }
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n].to_ascii_uppercase()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgraded_connection_outlives_every_connection_deadline() {
    let backend = Backend::start("b").await;
    let ws = upgrade_backend().await;
    let port = free_port();
    let ws_frontend = format!(
        "[backends.ws.servers.s]\nurl = \"http://{ws}\"\n\
         [frontends.ws]\nbackend = \"ws\"\npriority = 100\n\
         [frontends.ws.routes.r]\nrule = \"Path:/ws\"\n"
    );
    let _t = serving(
        &config(
            port,
            &backend.url(),
            "readHeaderTimeout = \"1s\"\nreadTimeout = \"1s\"\nwriteTimeout = \"1s\"\nidleTimeout = \"1s\"",
            "",
            &ws_frontend,
        ),
        port,
    )
    .await;
    let mut c = connect(port).await;
    c.write_all(
        b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await
    .unwrap();
    let (status, _, _) = read_response(&mut c).await;
    assert_eq!(status, 101);
    let mut back = [0u8; 5];
    c.write_all(b"hello").await.unwrap();
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"HELLO");
    // Past every deadline (the scenario): the tunnel is the two ends' business.
    tokio::time::sleep(Duration::from_secs(3)).await;
    c.write_all(b"again").await.unwrap();
    tokio::time::timeout(DEADLINE, c.read_exact(&mut back))
        .await
        .expect("an answer through the tunnel")
        .unwrap();
    assert_eq!(&back, b"AGAIN");
}

async fn h2_connect(
    port: u16,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = connect(port).await;
    let (send, conn) = h2::client::handshake(tcp)
        .await
        .expect("an HTTP/2 handshake");
    (send, tokio::spawn(conn))
}

async fn h2_get(
    send: &mut h2::client::SendRequest<bytes::Bytes>,
    port: u16,
    headers: &[(&str, String)],
) -> Result<u16, h2::Error> {
    let mut req = http::Request::get(format!("http://127.0.0.1:{port}/"));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let (response, _) = send.send_request(req.body(()).unwrap(), true)?;
    let response = tokio::time::timeout(DEADLINE, response)
        .await
        .expect("an answer in time")?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    Ok(status)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_http2_connection_is_sent_away_after_idle_timeout() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(
            port,
            &backend.url(),
            "readHeaderTimeout = \"1s\"\nidleTimeout = \"3s\"",
            "",
            "",
        ),
        port,
    )
    .await;
    let (mut send, conn) = h2_connect(port).await;
    assert_eq!(h2_get(&mut send, port, &[]).await.unwrap(), 200);
    // The client keeps its handle (so it does not close the connection itself) and opens
    // nothing more: the server says GOAWAY and closes.
    let ended = tokio::time::timeout(CLOSE_LIMIT, conn)
        .await
        .expect("the idle connection is closed");
    assert!(
        matches!(ended, Ok(Ok(()))),
        "closed gracefully (GOAWAY), not reset: {ended:?}"
    );
    drop(send);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_connections_leaves_the_next_connection_in_the_backlog_until_one_closes() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(port, &backend.url(), "", "maxConnections = 2", ""),
        port,
    )
    .await;
    let mut first = connect(port).await;
    let mut second = connect(port).await;
    for c in [&mut first, &mut second] {
        c.write_all(GET).await.unwrap();
        assert_eq!(read_response(c).await.0, 200);
    }
    let hits = backend.hits();
    let mut third = connect(port).await;
    third.write_all(GET).await.unwrap();
    // Not served while both are open: waited for a while, never answered.
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "the third connection was answered: {early:?}"
    );
    assert_eq!(backend.hits(), hits);
    // One closes: the third is served.
    drop(first);
    assert_eq!(read_response(&mut third).await.0, 200);
    // The second one was never disturbed.
    second.write_all(GET).await.unwrap();
    assert_eq!(read_response(&mut second).await.0, 200);
}

/// A raw GET with one header `X-Big` of `len` bytes: the response's status, and the
/// length of `X-Big` as the backend saw it (when it answered).
async fn get_with_big_header(port: u16, len: usize) -> (u16, Option<usize>) {
    let mut head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(len)
    );
    let c = connect(port).await;
    let (mut r, mut w) = c.into_split();
    // Written on its own task: trafik may answer and close before taking all of it.
    let writer = tokio::spawn(async move {
        let _ = w.write_all(head.as_bytes()).await;
        head.clear();
        w
    });
    let (status, _, body) = read_response(&mut r).await;
    drop(writer);
    let seen = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["headers"]["x-big"].as_str().map(str::len));
    (status, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_over_max_header_bytes_is_answered_431_and_never_reaches_the_backend() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let small = free_port();
    // defaultEntryPoints before any table, the second entry point after them all.
    let toml = format!(
        "defaultEntryPoints = [\"http\", \"small\"]\n{}\
         [entryPoints.small]\naddress = \"127.0.0.1:{small}\"\nmaxHeaderBytes = 8192\n",
        config(port, &backend.url(), "", "", "")
    );
    let t = serving(&toml, port).await;
    t.wait_for(&format!("http://127.0.0.1:{small}/"), 200).await;
    let hits = backend.hits();

    // The default, 32 KiB: 100 KiB is refused, a head just under 32 KiB passes whole.
    assert_eq!(get_with_big_header(port, 100 * 1024).await, (431, None));
    assert_eq!(backend.hits(), hits, "the backend never saw it");
    assert_eq!(
        get_with_big_header(port, 32 * 1024 - 200).await,
        (200, Some(32 * 1024 - 200))
    );
    // Configured lower on another entry point.
    assert_eq!(get_with_big_header(small, 10 * 1024).await, (431, None));
    assert_eq!(
        get_with_big_header(small, 7 * 1024).await,
        (200, Some(7 * 1024))
    );
    assert_eq!(backend.hits(), hits + 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http2_header_list_over_max_header_bytes_never_reaches_the_backend() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(&config(port, &backend.url(), "", "", ""), port).await;
    let hits = backend.hits();
    let (mut send, _conn) = h2_connect(port).await;
    let refused = h2_get(&mut send, port, &[("x-big", "b".repeat(100 * 1024))]).await;
    // h2 answers 431 to a header list over the limit it advertised.
    assert!(matches!(refused, Ok(431)), "{refused:?}");
    assert_eq!(backend.hits(), hits);
    // The connection serves on, and a header list under the limit passes.
    assert_eq!(
        h2_get(&mut send, port, &[("x-big", "b".repeat(20 * 1024))])
            .await
            .unwrap(),
        200
    );
    assert_eq!(backend.hits(), hits + 1);
}

/// trafik started through `sh` with `ulimit` arguments applied first; killed on drop.
struct Limited {
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Limited {
    fn start(ulimit: &str, toml: &str) -> Limited {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("trafik.toml");
        std::fs::write(&config, toml).unwrap();
        let log = dir.path().join("trafik.stderr.log");
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit {ulimit} && exec \"$0\" --configFile \"$1\" --workers 2"
            ))
            .arg(bin())
            .arg(&config)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .env_remove("RUST_LOG")
            .spawn()
            .unwrap();
        Limited {
            child,
            log,
            _dir: dir,
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// (soft, hard) `Max open files` of the running process.
    fn nofile(&self) -> (String, String) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.child.id())).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let mut fields = line["Max open files".len()..].split_whitespace();
        (
            fields.next().unwrap().to_string(),
            fields.next().unwrap().to_string(),
        )
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_serving(port: u16) {
    eventually("trafik to serve", || async {
        let (status, _) = get_json(&format!("http://127.0.0.1:{port}/")).await;
        (status == 200).then_some(())
    })
    .await;
}

/// Our own limits, to start trafik below them.
fn own_nofile() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut fields = line["Max open files".len()..].split_whitespace();
    let mut next = || fields.next().unwrap().parse().unwrap_or(u64::MAX);
    (next(), next())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let (_, hard) = own_nofile();
    // Start trafik with a soft limit well below the hard one.
    let soft = (hard / 2).clamp(64, 1024);
    assert!(
        soft < hard,
        "the test needs a hard limit above 64 (it is {hard})"
    );
    let t = Limited::start(
        &format!("-S -n {soft}"),
        &config(port, &backend.url(), "", "", ""),
    );
    wait_serving(port).await;
    let (soft_now, hard_now) = t.nofile();
    assert_eq!(hard_now, hard.to_string());
    assert_eq!(soft_now, hard_now, "trafik log:\n{}", t.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_errors_are_logged_once_and_trafik_serves_again_when_descriptors_free_up() {
    let backend = Backend::start("b").await;
    let port = free_port();
    // The head deadline is long: the connections below stay until the test closes them.
    let t = Limited::start(
        "-n 64",
        &config(port, &backend.url(), "readHeaderTimeout = \"60s\"", "", ""),
    );
    wait_serving(port).await;
    // More connections than descriptors: trafik accepts until it has none left, the rest
    // wait in the backlog.
    let mut held = Vec::new();
    for _ in 0..120 {
        held.push(connect(port).await);
    }
    const FAILED: &str = "cannot accept connections";
    eventually("an accept error in the log", || async {
        t.logs().contains(FAILED).then_some(())
    })
    .await;
    // Dozens of failed attempts later (one per 50 ms), still one line.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let logs = t.logs();
    assert_eq!(logs.matches(FAILED).count(), 1, "trafik log:\n{logs}");
    assert!(
        logs.contains("Too many open files"),
        "the error is named: {logs}"
    );
    assert!(
        logs.contains("entry_point=http"),
        "and the entry point: {logs}"
    );

    drop(held);
    wait_serving(port).await;
    eventually("the recovery in the log", || async {
        t.logs()
            .contains("accepting connections again")
            .then_some(())
    })
    .await;
    assert_eq!(t.logs().matches(FAILED).count(), 1);
}

/// Traefik's CVE-2024-28869: a request that announces a body and never sends it held
/// the connection (and a backend's) forever. `bodyIdleTimeout` answers it 408.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_announced_and_never_sent_is_answered_408_at_body_idle_timeout() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(port, &backend.url(), "bodyIdleTimeout = \"1s\"", "", ""),
        port,
    )
    .await;
    for head in [
        &b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    ] {
        let mut c = connect(port).await;
        c.write_all(head).await.unwrap();
        let (status, _, _) = read_response(&mut c).await;
        assert_eq!(status, 408, "{}", String::from_utf8_lossy(head));
        read_until_closed(&mut c).await;
    }
}

/// The limit is on each wait for the client, not on the whole body: an upload that keeps
/// moving is never cut, however long it takes.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_keeps_moving_outlasts_body_idle_timeout() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let _t = serving(
        &config(port, &backend.url(), "bodyIdleTimeout = \"3s\"", "", ""),
        port,
    )
    .await;
    let mut c = connect(port).await;
    c.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n")
        .await
        .unwrap();
    // 20 bytes, one every 250 ms: 5 s in all, past the 3 s limit, never 3 s apart.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        c.write_all(b"x").await.unwrap();
    }
    let (status, _, body) = read_response(&mut c).await;
    assert_eq!(status, 200);
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["body"], "x".repeat(20));
}
