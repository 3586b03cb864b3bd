//! Rewrite the path with a regex (v1 `ReplacePathRegex`).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use regex::Regex;
use tower::{Layer, Service};

use super::{X_REPLACED_PATH, decode, escape, header_value, set_path};

/// If `regex` matches the decoded path, replaces every match (`Regex::replace_all`: `$1`,
/// `${1}x`, `${name}`, `$$`, as Go's `ReplaceAllString`), percent-encodes the result as the new
/// path and appends the old decoded path to `X-Replaced-Path`. Returns whether it did.
/// An empty replacement does nothing (as v1).
pub fn replace_path_regex<B>(req: &mut Request<B>, regex: &Regex, replacement: &str) -> bool {
    if replacement.is_empty() {
        return false;
    }
    let raw = req.uri().path();
    let decoded = decode(raw);
    let text = String::from_utf8_lossy(&decoded);
    if !regex.is_match(&text) {
        return false;
    }
    let new = regex.replace_all(&text, replacement);
    let new = escape(new.as_bytes()).into_owned();
    let old = header_value(text.as_bytes(), raw);
    set_path(req.uri_mut(), &new);
    req.headers_mut().append(X_REPLACED_PATH, old);
    true
}

/// Layer of [`ReplacePathRegex`].
#[derive(Debug, Clone)]
pub struct ReplacePathRegexLayer {
    regex: Regex,
    replacement: Arc<str>,
}

impl ReplacePathRegexLayer {
    pub fn new(regex: Regex, replacement: impl Into<String>) -> Self {
        ReplacePathRegexLayer {
            regex,
            replacement: replacement.into().into(),
        }
    }
}

impl<S> Layer<S> for ReplacePathRegexLayer {
    type Service = ReplacePathRegex<S>;

    fn layer(&self, inner: S) -> ReplacePathRegex<S> {
        ReplacePathRegex {
            inner,
            regex: self.regex.clone(),
            replacement: self.replacement.clone(),
        }
    }
}

/// Rewrites the path with a regex (see [`replace_path_regex()`]).
#[derive(Debug, Clone)]
pub struct ReplacePathRegex<S> {
    inner: S,
    regex: Regex,
    replacement: Arc<str>,
}

impl<S> ReplacePathRegex<S> {
    pub fn new(inner: S, regex: Regex, replacement: impl Into<String>) -> Self {
        ReplacePathRegexLayer::new(regex, replacement).layer(inner)
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for ReplacePathRegex<S>
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
        replace_path_regex(&mut req, &self.regex, &self.replacement);
        self.inner.call(req)
    }
}
