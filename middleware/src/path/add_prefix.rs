//! Prepend a path prefix (v1 `AddPrefix`).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower::{Layer, Service};

use super::{escape, set_path};

/// Prepends `prefix` (a decoded path, percent-encoded on the way in) to the path.
pub fn add_prefix<B>(req: &mut Request<B>, prefix: &str) {
    let path = format!("{}{}", escape(prefix.as_bytes()), req.uri().path());
    set_path(req.uri_mut(), &path);
}

/// Layer of [`AddPrefix`].
#[derive(Debug, Clone)]
pub struct AddPrefixLayer {
    prefix: Arc<str>,
}

impl AddPrefixLayer {
    pub fn new(prefix: impl Into<String>) -> Self {
        AddPrefixLayer {
            prefix: prefix.into().into(),
        }
    }
}

impl<S> Layer<S> for AddPrefixLayer {
    type Service = AddPrefix<S>;

    fn layer(&self, inner: S) -> AddPrefix<S> {
        AddPrefix {
            inner,
            prefix: self.prefix.clone(),
        }
    }
}

/// Prepends a prefix to the path (see [`add_prefix()`]).
#[derive(Debug, Clone)]
pub struct AddPrefix<S> {
    inner: S,
    prefix: Arc<str>,
}

impl<S> AddPrefix<S> {
    pub fn new(inner: S, prefix: impl Into<String>) -> Self {
        AddPrefixLayer::new(prefix).layer(inner)
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for AddPrefix<S>
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
        add_prefix(&mut req, &self.prefix);
        self.inner.call(req)
    }
}
