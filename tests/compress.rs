//! `[entryPoints.X] compress = true` through the real binary: gzip, br and zstd each
//! decoded by a real decoder and byte-identical to what the backend sent; q-values; what
//! is left alone (small, already encoded, no Accept-Encoding, HEAD, another entry point);
//! an event stream still delivered event by event.

use crate::common;
use common::*;

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Notify;

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// 64 KiB of text that compresses well but not trivially (lines with counters).
fn big_text() -> Vec<u8> {
    let mut text = Vec::with_capacity(64 * 1024);
    let mut i = 0u32;
    while text.len() < 64 * 1024 {
        text.extend_from_slice(format!("line {i}: the quick brown fox jumps\n").as_bytes());
        i += 1;
    }
    text.truncate(64 * 1024);
    text
}

/// Gzip bytes of something, as a backend that compresses itself would send them.
fn pre_encoded() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, &big_text()).unwrap();
    e.finish().unwrap()
}

async fn respond(
    req: Request<Incoming>,
    release: Arc<Notify>,
) -> Result<Response<BoxBody>, Infallible> {
    let text = |body: Vec<u8>| {
        Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .header("etag", "\"abc\"")
            .body(Full::new(Bytes::from(body)).boxed())
            .unwrap()
    };
    let response = match req.uri().path() {
        "/big" => text(big_text()),
        "/small" => text(vec![b'x'; 1000]),
        "/encoded" => Response::builder()
            .header("content-type", "text/plain")
            .header("content-encoding", "gzip")
            .body(Full::new(Bytes::from(pre_encoded())).boxed())
            .unwrap(),
        // Two events; the second only once the test has read the first (so a proxy that
        // held the first back would never let the test go on).
        "/events" => {
            let stream = futures_util::stream::unfold(0u8, move |n| {
                let release = release.clone();
                async move {
                    match n {
                        0 => Some((Ok(Frame::data(Bytes::from("data: one\n\n"))), 1)),
                        1 => {
                            release.notified().await;
                            Some((Ok(Frame::data(Bytes::from("data: two\n\n"))), 2))
                        }
                        _ => None,
                    }
                }
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(StreamBody::new(stream).boxed())
                .unwrap()
        }
        _ => Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()).boxed())
            .unwrap(),
    };
    Ok(response)
}

/// A backend on 127.0.0.1 serving the paths above; `release` lets `/events` go on.
async fn backend(release: Arc<Notify>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let release = release.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| respond(req, release.clone()));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

struct Setup {
    /// The entry point with `compress = true`.
    on: u16,
    /// One without.
    off: u16,
    release: Arc<Notify>,
    t: Trafik,
}

async fn setup() -> Setup {
    setup_with("").await
}

/// `extra`: static tables added before `[file]`.
async fn setup_with(extra: &str) -> Setup {
    let release = Arc::new(Notify::new());
    let url = backend(release.clone()).await;
    let (on, off) = (free_port(), free_port());
    let t = Trafik::start(&format!(
        r#"defaultEntryPoints = ["on", "off"]
[entryPoints.on]
address = "127.0.0.1:{on}"
compress = true
[entryPoints.off]
address = "127.0.0.1:{off}"
{extra}
[file]
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
[backends.b.servers.s]
url = "{url}"
"#
    ));
    t.wait_for(&format!("http://127.0.0.1:{on}/small"), 200)
        .await;
    t.wait_for(&format!("http://127.0.0.1:{off}/small"), 200)
        .await;
    Setup {
        on,
        off,
        release,
        t,
    }
}

/// GET `path` on `port` with `Accept-Encoding: accept` (none when `None`): the response's
/// headers and its body as sent on the wire (reqwest here decodes nothing).
async fn fetch(
    port: u16,
    path: &str,
    accept: Option<&str>,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = client().get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(a) = accept {
        req = req.header("accept-encoding", a);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let headers = res.headers().clone();
    (headers, res.bytes().await.unwrap().to_vec())
}

fn decode(encoding: &str, wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(wire)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(wire, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::stream::decode_all(wire).unwrap(),
        other => panic!("unexpected encoding {other}"),
    }
    out
}

fn encoding(h: &reqwest::header::HeaderMap) -> Option<&str> {
    h.get("content-encoding").map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn compresses_with_each_codec_and_decodes_to_the_original() {
    let s = setup().await;
    let original = big_text();
    for codec in ["gzip", "br", "zstd"] {
        let (h, wire) = fetch(s.on, "/big", Some(codec)).await;
        assert_eq!(encoding(&h), Some(codec));
        assert!(
            wire.len() < original.len() / 4,
            "{codec}: {} bytes",
            wire.len()
        );
        assert_eq!(decode(codec, &wire), original, "{codec}");
        assert!(h.get("content-length").is_none(), "{codec}");
        assert_eq!(h["vary"], "accept-encoding", "{codec}");
        // Another representation's bytes: the strong validator is made weak.
        assert_eq!(h["etag"], "W/\"abc\"", "{codec}");
    }
}

#[tokio::test]
async fn q_values_decide() {
    let s = setup().await;
    let (h, wire) = fetch(s.on, "/big", Some("gzip;q=1, br;q=0.5")).await;
    assert_eq!(encoding(&h), Some("gzip"));
    assert_eq!(decode("gzip", &wire), big_text());
    let (h, _) = fetch(s.on, "/big", Some("gzip;q=0.2, br;q=0.9")).await;
    assert_eq!(encoding(&h), Some("br"));
    let (h, wire) = fetch(s.on, "/big", Some("gzip;q=0, identity")).await;
    assert_eq!(encoding(&h), None);
    assert_eq!(wire, big_text());
}

#[tokio::test]
async fn small_encoded_unasked_and_other_entry_points_are_left_alone() {
    let s = setup().await;
    // Below 1,400 bytes.
    let (h, wire) = fetch(s.on, "/small", Some("gzip, br, zstd")).await;
    assert_eq!(encoding(&h), None);
    assert_eq!(wire, vec![b'x'; 1000]);
    assert_eq!(h["content-length"], "1000");
    // Already encoded by the backend: passed through byte for byte.
    let (h, wire) = fetch(s.on, "/encoded", Some("br")).await;
    assert_eq!(encoding(&h), Some("gzip"));
    assert_eq!(wire, pre_encoded());
    // No Accept-Encoding: identity.
    let (h, wire) = fetch(s.on, "/big", None).await;
    assert_eq!(encoding(&h), None);
    assert_eq!(wire, big_text());
    assert_eq!(h["etag"], "\"abc\"");
    // An entry point without compress never compresses.
    let (h, wire) = fetch(s.off, "/big", Some("gzip, br, zstd")).await;
    assert_eq!(encoding(&h), None);
    assert_eq!(wire, big_text());
    assert_eq!(h["content-length"], (64 * 1024).to_string());
}

#[tokio::test]
async fn head_is_not_compressed() {
    let s = setup().await;
    let res = client()
        .head(format!("http://127.0.0.1:{}/big", s.on))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.headers()["content-length"], (64 * 1024).to_string());
}

#[tokio::test]
async fn event_stream_still_streams_event_by_event() {
    let s = setup().await;
    let mut res = client()
        .get(format!("http://127.0.0.1:{}/events", s.on))
        .header("accept-encoding", "gzip, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-encoding").is_none());
    // The first event arrives while the backend still holds the second back.
    let first = res.chunk().await.unwrap().expect("first event");
    assert_eq!(&first[..], b"data: one\n\n");
    s.release.notify_one();
    let mut rest = Vec::new();
    while let Some(c) = res.chunk().await.unwrap() {
        rest.extend_from_slice(&c);
    }
    assert_eq!(rest, b"data: two\n\n");
}

#[tokio::test]
async fn access_log_counts_the_bytes_sent() {
    let s = setup_with("[accessLog]\nfilePath = \"access.log\"\nformat = \"json\"").await;
    let (h, wire) = fetch(s.on, "/big?logged", Some("gzip")).await;
    assert_eq!(encoding(&h), Some("gzip"));
    let path = s.t.dir.join("access.log");
    let line: serde_json::Value = eventually("the access log line", || {
        let path = path.clone();
        async move {
            let text = std::fs::read_to_string(&path).ok()?;
            let line = text.lines().find(|l| l.contains("/big?logged"))?;
            serde_json::from_str(line).ok()
        }
    })
    .await;
    assert_eq!(line["DownstreamContentSize"], wire.len() as u64, "{line}");
}
