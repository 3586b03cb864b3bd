//! Strip a literal path prefix (v1 `PathStrip`, `PathPrefixStrip`).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use super::{ResponseFuture, X_FORWARDED_PREFIX, escape, header_value, raw_prefix_len, set_path};

/// Removes the first of `prefixes` (tried in the given order) that the decoded path starts
/// with, keeping a leading `/`, and appends it to `X-Forwarded-Prefix`. Returns `false`, leaving
/// the request alone, when none matches (v1 then answers 404).
///
/// The match is a plain string prefix: `/api` strips `/apix` to `/x`.
pub fn strip_prefix<B, P: AsRef<str>>(req: &mut Request<B>, prefixes: &[P]) -> bool {
    let raw = req.uri().path();
    for prefix in prefixes {
        let prefix = prefix.as_ref();
        if let Some(n) = raw_prefix_len(raw, prefix.as_bytes()) {
            let rest = &raw[n..];
            let path = if rest.starts_with('/') {
                rest.to_string()
            } else {
                format!("/{rest}")
            };
            set_path(req.uri_mut(), &path);
            let value = header_value(prefix.as_bytes(), &escape(prefix.as_bytes()));
            req.headers_mut().append(X_FORWARDED_PREFIX, value);
            return true;
        }
    }
    false
}

/// Layer of [`StripPrefix`]: tries the prefixes longest first (as v1 sorts them).
#[derive(Debug, Clone)]
pub struct StripPrefixLayer {
    prefixes: Arc<[String]>,
}

impl StripPrefixLayer {
    pub fn new<I, S>(prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut prefixes: Vec<String> = prefixes.into_iter().map(Into::into).collect();
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        StripPrefixLayer {
            prefixes: prefixes.into(),
        }
    }

    /// The prefixes, in the order they are tried.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }
}

impl<S> Layer<S> for StripPrefixLayer {
    type Service = StripPrefix<S>;

    fn layer(&self, inner: S) -> StripPrefix<S> {
        StripPrefix {
            inner,
            prefixes: self.prefixes.clone(),
        }
    }
}

/// Strips a prefix (see [`strip_prefix()`]) or answers `404 Not Found` with an empty body.
#[derive(Debug, Clone)]
pub struct StripPrefix<S> {
    inner: S,
    prefixes: Arc<[String]>,
}

impl<S> StripPrefix<S> {
    pub fn new<I, P>(inner: S, prefixes: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        StripPrefixLayer::new(prefixes).layer(inner)
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for StripPrefix<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if strip_prefix(&mut req, &self.prefixes) {
            ResponseFuture::Inner {
                future: self.inner.call(req),
            }
        } else {
            ResponseFuture::not_found()
        }
    }
}
