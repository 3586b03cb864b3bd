//! `trafik echo ADDR`: a small whoami-style backend for the quick start, tests and
//! benchmarks. It answers with what it received: its own name, the request line, the
//! headers and the body. Query parameters shape the answer:
//! `wait=300ms` delays it, `status=503` sets the status, `size=16384` answers with that
//! many bytes instead of the echo (for benchmarks).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

pub async fn run(address: &str, name: Option<String>) -> anyhow::Result<()> {
    let listener = crate::entrypoint::bind("echo", address)
        .await
        .map_err(anyhow::Error::msg)?;
    let local = listener.local_addr()?;
    let name = name.unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    eprintln!("echo backend {name:?} listening on {local}");
    let name: &'static str = Box::leak(name.into_boxed_str());
    loop {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(req, peer, local, name));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

async fn answer(
    req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
    name: &str,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let query = req.uri().query().map(str::to_owned);
    if let Some(wait) =
        param(query.as_deref(), "wait").and_then(|w| trafik_config::Duration::parse(w).ok())
    {
        tokio::time::sleep(wait.get().min(Duration::from_secs(60))).await;
    }
    let status = param(query.as_deref(), "status")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body =
        if let Some(size) = param(query.as_deref(), "size").and_then(|s| s.parse::<usize>().ok()) {
            Bytes::from(vec![b'x'; size.min(64 << 20)])
        } else {
            let mut text = format!("Hostname: {name}\nIP: {}\nRemoteAddr: {peer}\n", local.ip());
            text.push_str(&format!(
                "{} {} {:?}\n",
                req.method(),
                req.uri(),
                req.version()
            ));
            if let Some(host) = req.uri().authority() {
                text.push_str(&format!("Host: {host}\n"));
            }
            for (k, v) in req.headers() {
                text.push_str(&format!(
                    "{}: {}\n",
                    canonical(k.as_str()),
                    String::from_utf8_lossy(v.as_bytes())
                ));
            }
            text.push('\n');
            let mut bytes = text.into_bytes();
            if let Ok(collected) = req.into_body().collect().await {
                bytes.extend_from_slice(&collected.to_bytes());
            }
            Bytes::from(bytes)
        };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "x-echo-server",
        http::HeaderValue::from_str(name).unwrap_or(http::HeaderValue::from_static("echo")),
    );
    Ok(response)
}

/// `x-forwarded-for` → `X-Forwarded-For`, as whoami prints them.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}
