//! The dashboard: `web-ui/` embedded in the binary at build time (no Node step, nothing
//! fetched at run time), served under `/dashboard/`. Only embedded files can be served,
//! so no request path reaches the file system.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::not_found;

#[derive(RustEmbed)]
#[folder = "web-ui/"]
#[exclude = "dev/*"]
#[exclude = "*.md"]
struct Assets;

/// `/` and `/dashboard` ⇒ `/dashboard/` (its assets use relative URLs), with v1's 302.
pub async fn to_dashboard() -> Response {
    let mut response = StatusCode::FOUND.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/dashboard/"));
    response
}

pub async fn index() -> Response {
    asset("index.html")
}

pub async fn file(Path(path): Path<String>) -> Response {
    if path.is_empty() {
        return asset("index.html");
    }
    if path
        .split('/')
        .any(|s| s == ".." || s == "." || s.is_empty())
        || path.contains('\\')
    {
        return not_found();
    }
    asset(&path)
}

fn asset(path: &str) -> Response {
    let Some(file) = Assets::get(path) else {
        return not_found();
    };
    let mut response = Body::from(file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    *response.status_mut() = StatusCode::OK;
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        // Browsers refuse ES modules served with another type.
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The embedded file names, for tests and the startup log.
pub fn files() -> Vec<String> {
    Assets::iter().map(|f| f.into_owned()).collect()
}
