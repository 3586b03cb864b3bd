//! Applies a frontend's path modifiers in v1's order (strip-regex → strip → add prefix →
//! replace-regex → replace), with the plain functions behind trafik-middleware's layers,
//! then normalises the result as the client's path was. Called inline rather than as a
//! stack of layers: most frontends have no modifier at all, and those pay nothing.

use http::{Request, StatusCode};
use trafik_config::rule::Modifiers;
use trafik_middleware::path::{self, EncodedCharacters};

/// Rewrites the request's path; a strip rule whose prefix the path lacks answers 404, as v1.
/// A rewritten path holding an encoding `allow` refuses answers 400.
pub fn apply<B>(
    m: &Modifiers,
    req: &mut Request<B>,
    allow: &EncodedCharacters,
) -> Result<(), StatusCode> {
    if m.is_empty() {
        return Ok(());
    }
    if !m.strip_prefix_regex.is_empty() && !path::strip_prefix_regex(req, &m.strip_prefix_regex) {
        return Err(StatusCode::NOT_FOUND);
    }
    if !m.strip_prefix.is_empty() && !path::strip_prefix(req, &m.strip_prefix) {
        return Err(StatusCode::NOT_FOUND);
    }
    if let Some(prefix) = &m.add_prefix {
        path::add_prefix(req, prefix);
    }
    if let Some((regex, replacement)) = &m.replace_path_regex {
        path::replace_path_regex(req, regex, replacement);
    }
    if let Some(p) = &m.replace_path {
        path::replace_path(req, p);
    }
    // What the backend gets never has a dot segment, whatever the rewrite made of the
    // path (`/api../x` stripped of `/api` is `/../x`, hence `/x`), nor a refused encoding
    // (stripping `/public` from `/public%2e%2e/x` uncovers a `%2e%2e` segment; a
    // `ReplacePath` with `?` in it makes a `%3F`).
    if let Err(why) = path::normalize_request(req, allow) {
        tracing::debug!(
            path = req.uri().path(),
            "400 after rewriting the path: {why}"
        );
        return Err(StatusCode::BAD_REQUEST);
    }
    Ok(())
}
