//! `[docker.tls] insecureSkipVerify = true`: a TLS `tcp://` engine whose certificate is not
//! checked (v1 allowed it for engines with self-signed certificates). bollard's own TLS
//! client always verifies against the `ca` file, so this connection is trafik's: the
//! rustls configuration forward auth and the key-value stores use (`tls::client`, its
//! verifier accepting any certificate), handed to bollard as a custom transport. One TLS
//! connection per request, as bollard's TLS client does (it keeps no idle connections).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bollard::errors::Error;
use bollard::{BollardRequest, ClientVersion, Docker};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

type Answer = Pin<Box<dyn Future<Output = Result<hyper::Response<Incoming>, Error>> + Send>>;

/// The rustls configuration: no verification, a client certificate when `cert` and `key`
/// (file paths or PEM) are both given.
pub fn client_config(cert: &str, key: &str) -> Result<Arc<ClientConfig>, String> {
    let pair = match (cert.is_empty(), key.is_empty()) {
        (true, true) => None,
        (false, false) => Some((cert, key)),
        (false, true) => return Err("[docker.tls] cert is set without key".into()),
        (true, false) => return Err("[docker.tls] key is set without cert".into()),
    };
    crate::tls::client::auth_server_tls("", pair, true)
        .map(Arc::new)
        .map_err(|(what, e)| match what {
            "" => format!("[docker.tls]: {e}"),
            what => format!("[docker.tls] {what}: {e}"),
        })
}

/// A client of the engine at `tcp://host:port` over TLS with `config`.
pub fn connect(
    endpoint: &str,
    config: Arc<ClientConfig>,
    timeout: u64,
    version: &ClientVersion,
) -> Result<Docker, Error> {
    let authority = endpoint
        .trim_start_matches("tcp://")
        .trim_end_matches('/')
        .to_string();
    let host = match authority.rsplit_once(':') {
        Some((host, _)) => host,
        None => authority.as_str(),
    };
    let server_name =
        ServerName::try_from(host.trim_matches(['[', ']']).to_string()).map_err(|e| {
            Error::IOError {
                err: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            }
        })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let target = authority.clone();
    let transport = move |request: BollardRequest| -> Answer {
        let (connector, server_name, authority) =
            (connector.clone(), server_name.clone(), target.clone());
        Box::pin(async move {
            let tcp = tokio::net::TcpStream::connect(&authority).await?;
            let tls = connector.connect(server_name, tcp).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
            // The connection lives as long as its answer is read (the event stream's too).
            tokio::spawn(async move {
                let _ = connection.await;
            });
            // bollard writes `https://host:port/v1.41/…`; the engine is sent the origin form
            // and the Host header, as an HTTP/1.1 client does.
            let (mut parts, body) = request.into_parts();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .to_string();
            parts.uri = path.parse()?;
            let host = hyper::header::HeaderValue::from_str(&authority)
                .map_err(|e| Error::from(hyper::http::Error::from(e)))?;
            parts.headers.insert(hyper::header::HOST, host);
            Ok(sender
                .send_request(hyper::Request::from_parts(parts, body))
                .await?)
        })
    };
    Docker::connect_with_custom_transport(
        transport,
        Some(format!("https://{authority}")),
        timeout,
        version,
    )
}
