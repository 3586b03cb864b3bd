//! One `GET` of the Engine API, its body as the engine wrote it. bollard's typed answers
//! keep only what its models (the Engine's swagger) name, and a task's
//! `NetworksAttachments` is not there, though every engine sends it and it is where v1
//! read a task's address: Swarm mode reads its three lists through this instead, over the
//! same endpoint and TLS settings, at the API version bollard negotiated. One connection
//! per request, as bollard's own TLS client does.

use std::sync::Arc;
use std::time::Duration;

use bollard::ClientVersion;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Engine, REQUEST_TIMEOUT_SECS, Tls};

/// An answer bigger than this is refused rather than held in memory: the task list of a
/// thousand services is a few megabytes.
const MAX_BODY: usize = 64 << 20;

/// The body of `GET /v<version><path>` (a 2xx answer), or why there is none.
pub(super) async fn get(
    engine: &Engine,
    version: &ClientVersion,
    path: &str,
) -> Result<Vec<u8>, String> {
    let limit = Duration::from_secs(REQUEST_TIMEOUT_SECS);
    tokio::time::timeout(limit, get_unbounded(engine, version, path))
        .await
        .map_err(|_| format!("GET {path}: no answer within {limit:?}"))?
        .map_err(|e| format!("GET {path}: {e}"))
}

async fn get_unbounded(
    engine: &Engine,
    version: &ClientVersion,
    path: &str,
) -> Result<Vec<u8>, String> {
    let uri = format!(
        "/v{}.{}{path}",
        version.major_version, version.minor_version
    );
    let endpoint = engine.endpoint.as_str();
    if let Some(socket) = endpoint.strip_prefix("unix://") {
        let io = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| e.to_string())?;
        return send(io, &uri, "docker").await;
    }
    let authority = endpoint
        .trim_start_matches("tcp://")
        .trim_end_matches('/')
        .to_string();
    let tcp = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| e.to_string())?;
    let Some(tls) = &engine.tls else {
        return send(tcp, &uri, &authority).await;
    };
    let config = match tls {
        Tls::Insecure(config) => config.clone(),
        Tls::Verified(key, cert, ca) => {
            let (key, cert, ca) = (
                key.to_string_lossy(),
                cert.to_string_lossy(),
                ca.to_string_lossy(),
            );
            Arc::new(
                crate::tls::client::auth_server_tls(&ca, Some((&cert, &key)), false)
                    .map_err(|(_, e)| e)?,
            )
        }
    };
    let host = match authority.rsplit_once(':') {
        Some((host, _)) => host,
        None => authority.as_str(),
    };
    let server_name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| e.to_string())?;
    let io = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    send(io, &uri, &authority).await
}

async fn send<S>(io: S, uri: &str, host: &str) -> Result<Vec<u8>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(uri)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, "trafik")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let body = Limited::new(answer.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the answer (at most {MAX_BODY} bytes): {e}"))?
        .to_bytes();
    if !status.is_success() {
        // The Engine's errors are `{"message": "…"}` (a worker: "This node is not a swarm
        // manager…").
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        return Err(format!("{status}: {message}"));
    }
    Ok(body.to_vec())
}
