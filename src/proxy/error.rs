//! Errors are data: each failure to forward knows its kind, which side caused it, and
//! whether it happened before anything reached the backend (and so may be retried).
//! The 502/503/504 choice, the access log and (later) retry and metrics all read it.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use http::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The backend refused the connection (nothing listening).
    ConnectRefused,
    /// Establishing the connection took longer than `dialTimeout`.
    ConnectTimeout,
    /// Any other failure while connecting (unreachable, DNS…).
    Connect,
    /// The backend did not send response headers within `responseHeaderTimeout`.
    ResponseTimeout,
    /// The connection broke after the request was (partly) sent.
    Reset,
    /// The backend has no server to send to.
    NoServer,
    /// The backend's URL cannot be used (scheme or transport not supported).
    Unsupported,
    /// Reading the client's own request body failed (a malformed chunk size, a body cut
    /// short): the client's fault, not the backend's, so 400, never retried, and not a
    /// network error to the circuit breaker.
    ClientBody,
    /// The client stopped sending a request body it had announced for longer than
    /// `bodyIdleTimeout`: 408, and like `ClientBody` never blamed on the backend.
    ClientBodyTimeout,
}

impl ErrorKind {
    /// The failure was the client's, not the backend's: never retried, never counted
    /// against a server (circuit breaker, drr).
    pub fn is_clients(self) -> bool {
        matches!(self, ErrorKind::ClientBody | ErrorKind::ClientBodyTimeout)
    }
}

/// Wraps an error of reading the client's request body on its way to the backend, so
/// that when hyper's client reports it (as a failure to send), [`ProxyError::from_client`]
/// can tell it from a failure of the backend.
#[derive(Debug)]
pub enum ClientBodyError {
    /// hyper could not read it (a malformed chunk, a body cut short).
    Read(hyper::Error),
    /// The client sent nothing for this long while its body was awaited.
    Stalled(std::time::Duration),
}

impl fmt::Display for ClientBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientBodyError::Read(_) => f.write_str("reading the client's request body failed"),
            ClientBodyError::Stalled(limit) => write!(
                f,
                "the client's request body stalled for {limit:?} (bodyIdleTimeout)"
            ),
        }
    }
}

impl StdError for ClientBodyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ClientBodyError::Read(e) => Some(e),
            ClientBodyError::Stalled(_) => None,
        }
    }
}

#[derive(Debug)]
pub struct ProxyError {
    pub kind: ErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
    /// A broken connection of an idempotent request, before any response: sending it
    /// again is safe even though the backend may have seen it (RFC 9110 §9.2.2).
    idempotent_reset: bool,
}

impl ProxyError {
    pub fn new(kind: ErrorKind) -> Self {
        ProxyError {
            kind,
            source: None,
            idempotent_reset: false,
        }
    }

    pub fn with_source(
        kind: ErrorKind,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        ProxyError {
            kind,
            source: Some(source.into()),
            idempotent_reset: false,
        }
    }

    /// Classifies an error of hyper-util's client by walking its cause chain.
    pub fn from_client(err: hyper_util::client::legacy::Error) -> Self {
        let kind = if let Some(body) = client_body_error(&err) {
            match body {
                ClientBodyError::Read(_) => ErrorKind::ClientBody,
                ClientBodyError::Stalled(_) => ErrorKind::ClientBodyTimeout,
            }
        } else if err.is_connect() {
            match io_kind(&err) {
                Some(io::ErrorKind::ConnectionRefused) => ErrorKind::ConnectRefused,
                Some(io::ErrorKind::TimedOut) => ErrorKind::ConnectTimeout,
                _ if mentions_timeout(&err) => ErrorKind::ConnectTimeout,
                _ => ErrorKind::Connect,
            }
        } else {
            ErrorKind::Reset
        };
        ProxyError::with_source(kind, err)
    }

    /// Classifies an error of reading the request body while trafik's own client sends
    /// it (`h1/conn.rs`): the client's broken or stalled body, else a failure on the way.
    pub fn from_body(err: super::request_body::BoxError) -> Self {
        let kind = match client_body_error(err.as_ref()) {
            Some(ClientBodyError::Read(_)) => ErrorKind::ClientBody,
            Some(ClientBodyError::Stalled(_)) => ErrorKind::ClientBodyTimeout,
            None => ErrorKind::Reset,
        };
        ProxyError::with_source(kind, err)
    }

    /// The status trafik answers with, as v1 does: timeouts 504, no server 503, else 502.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::ConnectTimeout | ErrorKind::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::NoServer => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::ClientBody => StatusCode::BAD_REQUEST,
            ErrorKind::ClientBodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::ConnectRefused
            | ErrorKind::Connect
            | ErrorKind::Reset
            | ErrorKind::Unsupported => StatusCode::BAD_GATEWAY,
        }
    }

    /// Marks a connection that broke before any response as safe to retry when the
    /// request's method is idempotent ([`is_idempotent`]), as nginx's
    /// `proxy_next_upstream error` does; a broken POST is never sent twice.
    pub fn for_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent_reset = self.kind == ErrorKind::Reset && idempotent;
        self
    }

    /// True when another attempt cannot duplicate work: nothing reached the backend (the
    /// connection failed), or the request is idempotent and no response had started.
    pub fn is_retryable(&self) -> bool {
        self.idempotent_reset
            || matches!(
                self.kind,
                ErrorKind::ConnectRefused | ErrorKind::ConnectTimeout | ErrorKind::Connect
            )
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::ConnectRefused => "connection refused by backend",
            ErrorKind::ConnectTimeout => "timed out connecting to backend",
            ErrorKind::Connect => "cannot connect to backend",
            ErrorKind::ResponseTimeout => "timed out waiting for the backend's response headers",
            ErrorKind::Reset => "backend connection failed",
            ErrorKind::NoServer => "backend has no server available",
            ErrorKind::Unsupported => "backend URL not supported",
            ErrorKind::ClientBody => "bad request body from the client",
            ErrorKind::ClientBodyTimeout => "the client's request body stalled",
        };
        f.write_str(what)?;
        if let Some(source) = &self.source {
            let mut cause: Option<&(dyn StdError + 'static)> = Some(source.as_ref());
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
        }
        Ok(())
    }
}

impl StdError for ProxyError {}

/// GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &http::Method) -> bool {
    use http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(method)
}

fn client_body_error<'e>(err: &'e (dyn StdError + 'static)) -> Option<&'e ClientBodyError> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(c) = cause {
        if let Some(body) = c.downcast_ref::<ClientBodyError>() {
            return Some(body);
        }
        cause = c.source();
    }
    None
}

fn io_kind(err: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cause = c.source();
    }
    None
}

fn mentions_timeout(err: &(dyn StdError + 'static)) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(c) = cause {
        if c.to_string().contains("timed out") {
            return true;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_kinds_to_v1_statuses() {
        assert_eq!(
            ProxyError::new(ErrorKind::ConnectRefused).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            ProxyError::new(ErrorKind::ConnectTimeout).status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            ProxyError::new(ErrorKind::ResponseTimeout).status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            ProxyError::new(ErrorKind::NoServer).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ProxyError::new(ErrorKind::Reset).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            ProxyError::new(ErrorKind::ClientBody).status(),
            StatusCode::BAD_REQUEST
        );
        assert!(!ProxyError::new(ErrorKind::ClientBody).is_retryable());
        assert!(
            !ProxyError::new(ErrorKind::ClientBody)
                .for_idempotent(true)
                .is_retryable()
        );
        assert!(ProxyError::new(ErrorKind::ConnectRefused).is_retryable());
        assert!(!ProxyError::new(ErrorKind::Reset).is_retryable());
        let reset = || ProxyError::new(ErrorKind::Reset);
        assert!(
            reset()
                .for_idempotent(is_idempotent(&http::Method::GET))
                .is_retryable()
        );
        assert!(
            !reset()
                .for_idempotent(is_idempotent(&http::Method::POST))
                .is_retryable()
        );
        assert!(
            !ProxyError::new(ErrorKind::ResponseTimeout)
                .for_idempotent(is_idempotent(&http::Method::GET))
                .is_retryable()
        );
    }
}
