//! Replace the whole path (v1 `ReplacePath`).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower::{Layer, Service};

use super::{X_REPLACED_PATH, decode, escape, header_value, set_path};

/// Replaces the path with `path` (a decoded path, percent-encoded on the way in) and appends
/// the old decoded path to `X-Replaced-Path`.
pub fn replace_path<B>(req: &mut Request<B>, path: &str) {
    let raw = req.uri().path();
    let old = header_value(&decode(raw), raw);
    let new = escape(path.as_bytes()).into_owned();
    set_path(req.uri_mut(), &new);
    req.headers_mut().append(X_REPLACED_PATH, old);
}

/// Layer of [`ReplacePath`].
#[derive(Debug, Clone)]
pub struct ReplacePathLayer {
    path: Arc<str>,
}

impl ReplacePathLayer {
    pub fn new(path: impl Into<String>) -> Self {
        ReplacePathLayer {
            path: path.into().into(),
        }
    }
}

impl<S> Layer<S> for ReplacePathLayer {
    type Service = ReplacePath<S>;

    fn layer(&self, inner: S) -> ReplacePath<S> {
        ReplacePath {
            inner,
            path: self.path.clone(),
        }
    }
}

/// Replaces the path (see [`replace_path()`]).
#[derive(Debug, Clone)]
pub struct ReplacePath<S> {
    inner: S,
    path: Arc<str>,
}

impl<S> ReplacePath<S> {
    pub fn new(inner: S, path: impl Into<String>) -> Self {
        ReplacePathLayer::new(path).layer(inner)
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for ReplacePath<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        replace_path(&mut req, &self.path);
        self.inner.call(req)
    }
}
