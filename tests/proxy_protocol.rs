//! `[entryPoints.X.proxyProtocol]`: raw TCP clients write the PROXY header themselves (v2
//! bytes built here from the spec, not by the parser crate trafik uses), then HTTP/1.1,
//! HTTP/2 or TLS; what the backend received, the whitelist's answer and the access log say
//! which client trafik believed.

use crate::common;
use common::*;

use std::net::Ipv6Addr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 header: the signature, version 2 with command PROXY (0x21), the family and
/// protocol byte, the big-endian length of what follows, then `addresses`.
fn v2(family: u8, addresses: &[u8]) -> Vec<u8> {
    let mut v = V2_SIGNATURE.to_vec();
    v.push(0x21);
    v.push(family);
    v.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
    v.extend_from_slice(addresses);
    v
}

/// v2, TCP over IPv4 (0x11): source, destination, source port, destination port.
fn v2_tcp4(src: [u8; 4], sport: u16) -> Vec<u8> {
    let mut a = src.to_vec();
    a.extend_from_slice(&[192, 0, 2, 1]);
    a.extend_from_slice(&sport.to_be_bytes());
    a.extend_from_slice(&443u16.to_be_bytes());
    v2(0x11, &a)
}

/// v2, TCP over IPv6 (0x21).
fn v2_tcp6(src: Ipv6Addr, sport: u16) -> Vec<u8> {
    let mut a = src.octets().to_vec();
    a.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    a.extend_from_slice(&sport.to_be_bytes());
    a.extend_from_slice(&443u16.to_be_bytes());
    v2(0x21, &a)
}

fn v1(src: &str, sport: u16) -> Vec<u8> {
    format!("PROXY TCP4 {src} 192.0.2.1 {sport} 443\r\n").into_bytes()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: proxied.test\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Everything read until the server closes (or a generous deadline, which fails the test).
async fn read_all<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {DEADLINE:?}; read so far: {out:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Writes `parts` in order (each a write of its own), then reads the whole answer.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, parts: &[&[u8]]) -> Vec<u8> {
    for part in parts {
        if stream.write_all(part).await.is_err() {
            break;
        }
        let _ = stream.flush().await;
    }
    read_all(stream).await
}

async fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// The status, and the backend's description of what it received when it answered.
fn parse_response(bytes: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(bytes);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 response: {text:?}"));
    let body = match (text.find('{'), text.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&text[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

/// One request on a new connection, after `header` (written as its own first write).
async fn request(port: u16, header: &[u8], path: &str) -> (u16, Value) {
    let mut c = connect(port).await;
    parse_response(&exchange(&mut c, &[header, &get(path)]).await)
}

fn xff(body: &Value) -> &str {
    body["headers"]["x-forwarded-for"]
        .as_str()
        .unwrap_or_else(|| panic!("no X-Forwarded-For in {body}"))
}

/// An entry point with `proxyProtocol` (`table`), a catch-all frontend, and two whitelisted
/// ones: /doc for 203.0.113.0/24 and /local for 127.0.0.1. JSON access log.
fn config(port: u16, backend: &str, table: &str, timeouts: &str) -> String {
    format!(
        r#"logLevel = "WARN"
[respondingTimeouts]
{timeouts}
[entryPoints.http]
address = "127.0.0.1:{port}"
  [entryPoints.http.proxyProtocol]
  {table}
[accessLog]
filePath = "access.log"
format = "json"
[file]
[backends.b.servers.s]
url = "{backend}"
[frontends.all]
backend = "b"
[frontends.all.routes.r]
rule = "PathPrefix:/"
[frontends.doc]
backend = "b"
[frontends.doc.whiteList]
sourceRange = ["203.0.113.0/24"]
[frontends.doc.routes.r]
rule = "PathPrefix:/doc"
[frontends.local]
backend = "b"
[frontends.local.whiteList]
sourceRange = ["127.0.0.1/32"]
[frontends.local.routes.r]
rule = "PathPrefix:/local"
"#
    )
}

async fn start(table: &str, timeouts: &str) -> (Trafik, Backend, u16) {
    let backend = Backend::start("b").await;
    let port = free_port();
    let trafik = Trafik::start(&config(port, &backend.url(), table, timeouts));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/ready"), 200)
        .await;
    (trafik, backend, port)
}

async fn access_log_line(trafik: &Trafik, path: &str) -> Value {
    let file = trafik.path("access.log");
    eventually(&format!("the access log line of {path}"), || async {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["RequestPath"] == path)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_peer_s_v1_and_v2_headers_name_the_client() {
    let (trafik, _backend, port) = start(r#"trustedIPs = ["127.0.0.1"]"#, "").await;

    let (status, body) = request(port, &v1("203.0.113.7", 51234), "/v1").await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "203.0.113.7");

    let (status, body) = request(port, &v2_tcp4([198, 51, 100, 9], 40000), "/v2-tcp4").await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "198.51.100.9");

    let v6: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let (status, body) = request(port, &v2_tcp6(v6, 40001), "/v2-tcp6").await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "2001:db8::7");

    // Without a header, the trusted peer is itself the client.
    let (status, body) = request(port, b"", "/plain").await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "127.0.0.1");

    // The access log names the header's client, port included.
    let line = access_log_line(&trafik, "/v1").await;
    assert_eq!(line["ClientHost"], "203.0.113.7", "{line}");
    assert_eq!(line["ClientAddr"], "203.0.113.7:51234", "{line}");
    let line = access_log_line(&trafik, "/v2-tcp6").await;
    assert_eq!(line["ClientHost"], "2001:db8::7", "{line}");
    let line = access_log_line(&trafik, "/plain").await;
    assert_eq!(line["ClientHost"], "127.0.0.1", "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whitelist_decides_on_the_header_s_client() {
    let (_trafik, backend, port) = start(r#"trustedIPs = ["127.0.0.0/8"]"#, "").await;

    // /doc lets 203.0.113.0/24 in: the header's client passes, 127.0.0.1 itself does not.
    let (status, _) = request(port, &v1("203.0.113.7", 1000), "/doc").await;
    assert_eq!(status, 200);
    let (status, _) = request(port, &v2_tcp4([198, 51, 100, 9], 1000), "/doc").await;
    assert_eq!(status, 403);
    let (status, _) = request(port, b"", "/doc").await;
    assert_eq!(status, 403);

    // /local lets 127.0.0.1 in: the reverse.
    let hits = backend.hits();
    let (status, _) = request(port, &v1("203.0.113.7", 1000), "/local").await;
    assert_eq!(status, 403);
    assert_eq!(
        backend.hits(),
        hits,
        "a refused request never reaches the backend"
    );
    let (status, _) = request(port, b"", "/local").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_peer_s_header_closes_the_connection() {
    // 127.0.0.1 is not 10.1.2.3: every test client here is untrusted.
    let (_trafik, backend, port) = start(r#"trustedIPs = ["10.1.2.3"]"#, "").await;
    let hits = backend.hits();
    for header in [
        v1("203.0.113.7", 1000),
        v2_tcp4([203, 0, 113, 7], 1000),
        // A bare signature, too: the rest is never waited for.
        V2_SIGNATURE.to_vec(),
    ] {
        let mut c = connect(port).await;
        let answer = exchange(&mut c, &[&header, &get("/untrusted")]).await;
        assert!(
            answer.is_empty(),
            "closed without an answer, got {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_eq!(backend.hits(), hits, "the backend was never contacted");

    // The same peer without a header is served, as its own client.
    let (status, body) = request(port, b"", "/plain").await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_header_closes_only_its_connection() {
    let (trafik, backend, port) = start(r#"trustedIPs = ["127.0.0.1"]"#, "").await;
    let hits = backend.hits();
    let mut bad_length = v2_tcp4([203, 0, 113, 7], 1000);
    // Length 4: shorter than the 12 bytes of TCP over IPv4 addresses.
    bad_length[14..16].copy_from_slice(&4u16.to_be_bytes());
    for header in [
        b"PROXY TCP4 not-an-ip 192.0.2.1 1000 443\r\n".to_vec(),
        b"PROXY TCP4 203.0.113.7 192.0.2.1 1000\r\n".to_vec(),
        bad_length,
        // A line that never ends within the spec's 107 bytes.
        [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat(),
    ] {
        let mut c = connect(port).await;
        let answer = exchange(&mut c, &[&header, &get("/malformed")]).await;
        assert!(
            answer.is_empty(),
            "closed without an answer, got {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_eq!(backend.hits(), hits);
    // trafik goes on serving, and says why it closed them.
    let (status, body) = request(port, &v1("203.0.113.8", 1000), "/after").await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "203.0.113.8");
    eventually("the malformed header's log line", || async {
        trafik
            .logs()
            .contains("malformed PROXY protocol header")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_split_across_writes_is_read_whole() {
    let (_trafik, _backend, port) = start(r#"trustedIPs = ["127.0.0.1"]"#, "").await;
    for header in [v1("203.0.113.7", 1000), v2_tcp4([203, 0, 113, 7], 1000)] {
        let mut c = connect(port).await;
        // A few bytes per write, each write a segment of its own (nodelay), paced so the
        // reads see them apart; the request follows in the last one.
        let mut parts: Vec<Vec<u8>> = header.chunks(5).map(<[u8]>::to_vec).collect();
        parts.last_mut().unwrap().extend_from_slice(&get("/split"));
        for part in &parts {
            c.write_all(part).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (status, body) = parse_response(&read_all(&mut c).await);
        assert_eq!(status, 200);
        assert_eq!(xff(&body), "203.0.113.7");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn half_a_header_is_closed_at_the_head_deadline() {
    let (_trafik, backend, port) = start(
        r#"trustedIPs = ["127.0.0.1"]"#,
        r#"readHeaderTimeout = "1s""#,
    )
    .await;
    let hits = backend.hits();
    for half in [
        &b"PROXY TCP4 203.0.113.7 "[..],
        &v2_tcp4([203, 0, 113, 7], 1000)[..20],
        b"PRO",
    ] {
        let mut c = connect(port).await;
        c.write_all(half).await.unwrap();
        // Nothing more is sent: trafik closes it (read_all fails the test past DEADLINE).
        let answer = read_all(&mut c).await;
        assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    }
    assert_eq!(backend.hits(), hits);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_header_comes_before_the_tls_client_hello() {
    use common::pki::{Ca, client_config};
    let ca = Ca::new("Test CA");
    let pem = ca.server(&["proxied.test"], "Trafik Tests");
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = format!(
        r#"defaultEntryPoints = ["https"]
[entryPoints.https]
address = "127.0.0.1:{port}"
  [entryPoints.https.proxyProtocol]
  trustedIPs = ["127.0.0.1"]
  [entryPoints.https.tls]
    [[entryPoints.https.tls.certificates]]
    certFile = "a.crt"
    keyFile = "a.key"
[file]
[backends.b.servers.s]
url = "{}"
[frontends.all]
backend = "b"
[frontends.all.routes.r]
rule = "PathPrefix:/"
"#,
        backend.url()
    );
    let _t = Trafik::start_with(&toml, &[("a.crt", &pem.cert), ("a.key", &pem.key)]);
    let connector = tokio_rustls::TlsConnector::from(client_config(&ca.cert_pem, &[b"http/1.1"]));
    let name = || rustls_pki_types::ServerName::try_from("proxied.test").unwrap();
    // The header goes in the same write as nothing else: the ClientHello follows it.
    let tls_request = |header: Vec<u8>| {
        let connector = connector.clone();
        async move {
            let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
            tcp.write_all(&header).await.ok()?;
            let mut tls = connector.connect(name(), tcp).await.ok()?;
            let answer = exchange(&mut tls, &[&get("/tls")]).await;
            Some(parse_response(&answer)).filter(|(status, _)| *status == 200)
        }
    };
    let (status, body) = eventually("a TLS answer after a PROXY header", || {
        tls_request(v1("203.0.113.7", 1000))
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "203.0.113.7");
    assert_eq!(body["headers"]["x-forwarded-proto"], "https");
    let (status, body) = tls_request(v2_tcp4([198, 51, 100, 9], 1000)).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "198.51.100.9");
    // No header from the trusted peer: TLS straight away, its own address.
    let (status, body) = tls_request(Vec::new()).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_prior_knowledge_after_the_header() {
    let (_trafik, _backend, port) = start(r#"trustedIPs = ["127.0.0.1"]"#, "").await;
    let mut tcp = connect(port).await;
    tcp.write_all(&v2_tcp4([203, 0, 113, 7], 1000))
        .await
        .unwrap();
    let (mut send, conn) = h2::client::handshake(tcp)
        .await
        .expect("an HTTP/2 handshake");
    tokio::spawn(conn);
    let req = http::Request::get(format!("http://127.0.0.1:{port}/h2"))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(req, true).unwrap();
    let response = tokio::time::timeout(DEADLINE, response)
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        body["version"], "HTTP/1.1",
        "forwarded to the backend over HTTP/1.1"
    );
    assert_eq!(xff(&body), "203.0.113.7");
}

#[tokio::test(flavor = "multi_thread")]
async fn insecure_trusts_every_peer() {
    let (_trafik, _backend, port) = start("insecure = true", "").await;
    let (status, body) = request(port, &v1("203.0.113.7", 1000), "/insecure").await;
    assert_eq!(status, 200);
    assert_eq!(xff(&body), "203.0.113.7");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_proxy_protocol_table_stops_the_start_and_check_says_so() {
    for (table, expected) in [
        (
            r#"trustedIPs = ["127.0.0.1", "10.0.0.0/33"]"#,
            r#"entry point "web": proxyProtocol: trustedIPs[1] "10.0.0.0/33""#,
        ),
        (
            "insecure = false",
            r#"entry point "web": proxyProtocol: trustedIPs is empty"#,
        ),
    ] {
        let port = free_port();
        let toml = format!(
            "[entryPoints.web]\naddress = \"127.0.0.1:{port}\"\n\
             [entryPoints.web.proxyProtocol]\n{table}\n"
        );
        let mut trafik = Trafik::start(&toml);
        let status = trafik.wait_exit(DEADLINE).await;
        assert!(!status.success());
        let logs = trafik.logs();
        assert!(logs.contains(expected), "{logs}");
        let (status, _, stderr) = run_trafik(&["check"], &trafik.dir);
        assert!(!status.success());
        assert!(stderr.contains(expected), "{stderr}");
    }
}
