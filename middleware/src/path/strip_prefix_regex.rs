//! Strip a path prefix matched by a regex (v1 `PathStripRegex`, `PathPrefixStripRegex`).

use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use regex::Regex;
use tower::{Layer, Service};

use super::{
    ResponseFuture, X_FORWARDED_PREFIX, byte_offset_of_lossy, decode, header_value, raw_len,
    set_path,
};

/// For the first of `regexes` (in the given order) that matches the decoded path at its start,
/// removes the matched text, keeping a leading `/`, and appends it to `X-Forwarded-Prefix`.
/// Returns `false`, leaving the request alone, when none matches (v1 then answers 404).
///
/// A regex should be anchored with `^` (not `$`): an unanchored one still only strips a match
/// that starts at the beginning, but is searched for through the whole path first.
pub fn strip_prefix_regex<B>(req: &mut Request<B>, regexes: &[Regex]) -> bool {
    let raw = req.uri().path();
    let decoded = decode(raw);
    let text = String::from_utf8_lossy(&decoded);
    for re in regexes {
        let Some(m) = re.find(&text).filter(|m| m.start() == 0) else {
            continue;
        };
        let decoded_len = match &text {
            Cow::Borrowed(_) => m.end(),
            Cow::Owned(_) => byte_offset_of_lossy(&decoded, m.end()),
        };
        let n = raw_len(raw, decoded_len);
        let rest = &raw[n..];
        let path = if rest.starts_with('/') {
            rest.to_string()
        } else {
            format!("/{rest}")
        };
        let value = header_value(m.as_str().as_bytes(), &raw[..n]);
        set_path(req.uri_mut(), &path);
        req.headers_mut().append(X_FORWARDED_PREFIX, value);
        return true;
    }
    false
}

/// Layer of [`StripPrefixRegex`]: tries the regexes in the given order.
#[derive(Debug, Clone)]
pub struct StripPrefixRegexLayer {
    regexes: Arc<[Regex]>,
}

impl StripPrefixRegexLayer {
    pub fn new<I: IntoIterator<Item = Regex>>(regexes: I) -> Self {
        StripPrefixRegexLayer {
            regexes: regexes.into_iter().collect(),
        }
    }
}

impl<S> Layer<S> for StripPrefixRegexLayer {
    type Service = StripPrefixRegex<S>;

    fn layer(&self, inner: S) -> StripPrefixRegex<S> {
        StripPrefixRegex {
            inner,
            regexes: self.regexes.clone(),
        }
    }
}

/// Strips a regex-matched prefix (see [`strip_prefix_regex()`]) or answers `404 Not Found`
/// with an empty body.
#[derive(Debug, Clone)]
pub struct StripPrefixRegex<S> {
    inner: S,
    regexes: Arc<[Regex]>,
}

impl<S> StripPrefixRegex<S> {
    pub fn new<I: IntoIterator<Item = Regex>>(inner: S, regexes: I) -> Self {
        StripPrefixRegexLayer::new(regexes).layer(inner)
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for StripPrefixRegex<S>
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
        if strip_prefix_regex(&mut req, &self.regexes) {
            ResponseFuture::Inner {
                future: self.inner.call(req),
            }
        } else {
            ResponseFuture::not_found()
        }
    }
}
