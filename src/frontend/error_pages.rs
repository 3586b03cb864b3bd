//! `[frontends.X.errors.NAME]`: v1's error pages. When the frontend's response (its
//! backend's, or trafik's own 403/502/503/504 from the whitelist and the forwarder) has a
//! status in one of a page's ranges, trafik asks the page's backend for `query` (GET,
//! `{status}` replaced by that status, none of the client's headers, as v1.7) through
//! that backend's own forwarding (servers, balancing, its layers), and answers with the
//! page's headers and body under the original status.
//!
//! Differences from v1, on purpose:
//! - v1 writes the original status before the page's headers are known, so the page's
//!   `Content-Type` is lost (Go sniffs one); here the page's headers are sent.
//! - v1 buffers both responses whole; here both stream. The original body is dropped
//!   unread once the page has answered: draining it would read an unbounded body from a
//!   backend that is failing, to save one pooled connection.
//! - When the error backend gives no response at all (refused, timeout, no server up),
//!   the original response is sent as it came (v1 would send its own "Bad Gateway"
//!   under the original status). A response of the error backend, whatever its status,
//!   is the page, as in v1.
//! - Several pages on one frontend: v1 nests them in Go's random map order; here the
//!   first matching page by name is asked, once.
//! - Ranges are checked (`100`–`599`, low ≤ high) and `query` must start with `/` (v1
//!   added the `/` itself).

use std::collections::HashMap;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode, Uri};

use crate::backend::{BackendService, Forward, Layers};
use crate::proxy::headers::Forwarded;
use crate::proxy::{Forwarder, RequestBody, ResponseBody};
use crate::runtime::BackendHandle;

use super::Invalid;

pub struct ErrorPages {
    /// By name, so the first that matches is always the same one.
    pages: Vec<Page>,
}

impl std::fmt::Debug for ErrorPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.pages.iter().map(|p| p.name.as_str()).collect();
        f.debug_struct("ErrorPages").field("pages", &names).finish()
    }
}

struct Page {
    name: String,
    ranges: Vec<(u16, u16)>,
    /// Starts with `/`; `{status}` still in it.
    query: String,
    backend: Arc<BackendHandle>,
    service: BackendService,
}

/// `"404"` or `"500-599"` (inclusive), each a status code.
pub fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let number = |s: &str| -> Result<u16, String> {
        s.trim().parse::<u16>().map_err(|_| {
            format!("invalid status {text:?}: expected a code or a range like \"500-599\"")
        })
    };
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (number(low)?, number(high)?),
        None => {
            let c = number(text)?;
            (c, c)
        }
    };
    if low > high {
        return Err(format!(
            "invalid status range {text:?}: {low} is above {high}"
        ));
    }
    if !(100..=599).contains(&low) || !(100..=599).contains(&high) {
        return Err(format!("invalid status {text:?}: codes are 100 to 599"));
    }
    Ok((low, high))
}

/// The request path for `status`: `{status}` replaced, as v1 does (no other placeholder).
fn page_uri(query: &str, status: StatusCode) -> Result<Uri, http::uri::InvalidUri> {
    query.replace("{status}", status.as_str()).parse()
}

impl ErrorPages {
    /// `None` when the frontend has no `errors`. `backends`/`layers`: those that compiled.
    pub fn build(
        name: &str,
        frontend: &trafik_config::Frontend,
        backends: &HashMap<String, Arc<BackendHandle>>,
        layers: &HashMap<String, Layers>,
        forwarder: &Arc<Forwarder>,
    ) -> Result<Option<Self>, Invalid> {
        let mut pages = Vec::new();
        for (page_name, page) in &frontend.errors {
            // `key` may name an entry of a list: `status.1`.
            let at = |key: &str, why: String| Invalid {
                path: ["frontends", name, "errors", page_name]
                    .into_iter()
                    .chain(key.split('.'))
                    .map(str::to_string)
                    .collect(),
                message: format!("frontend {name:?} skipped: error page {page_name:?}: {why}"),
            };
            if page.status.is_empty() {
                return Err(at("status", "no status given".into()));
            }
            let mut ranges = Vec::new();
            for (i, text) in page.status.iter().enumerate() {
                ranges.push(parse_range(text).map_err(|why| at(&format!("status.{i}"), why))?);
            }
            let query = if page.query.is_empty() {
                "/".to_string()
            } else {
                page.query.clone()
            };
            if !query.starts_with('/') {
                return Err(at(
                    "query",
                    format!("query {:?} must start with \"/\"", page.query),
                ));
            }
            if let Err(e) = page_uri(&query, StatusCode::INTERNAL_SERVER_ERROR) {
                return Err(at("query", format!("invalid query {:?}: {e}", page.query)));
            }
            let (Some(backend), Some(backend_layers)) =
                (backends.get(&page.backend), layers.get(&page.backend))
            else {
                return Err(at(
                    "backend",
                    format!("backend {:?} is not defined or was skipped", page.backend),
                ));
            };
            pages.push(Page {
                name: page_name.clone(),
                ranges,
                query,
                backend: backend.clone(),
                // The page is asked of the error backend's servers, under their own host.
                service: BackendService::new(
                    Forward::new(backend.clone(), forwarder.clone(), false),
                    backend_layers,
                ),
            });
        }
        Ok((!pages.is_empty()).then_some(ErrorPages { pages }))
    }

    fn page_for(&self, status: StatusCode) -> Option<&Page> {
        let code = status.as_u16();
        self.pages.iter().find(|p| {
            p.ranges
                .iter()
                .any(|&(low, high)| (low..=high).contains(&code))
        })
    }

    /// The response the client gets: `response` itself when no page matches or the page
    /// could not be had, else the page under `response`'s status.
    pub async fn apply(
        &self,
        response: Response<ResponseBody>,
        client: Forwarded,
    ) -> Response<ResponseBody> {
        let status = response.status();
        let Some(page) = self.page_for(status) else {
            return response;
        };
        let Ok(uri) = page_uri(&page.query, status) else {
            return response;
        };
        let mut req = Request::new(RequestBody::Empty);
        *req.method_mut() = Method::GET;
        // No client header: its cookies and credentials are not the error backend's.
        *req.uri_mut() = uri;
        let outcome = page.service.call(req, client, page.backend.stats()).await;
        match outcome.result {
            Ok(mut page_response) => {
                *page_response.status_mut() = status;
                page_response
            }
            Err(err) => {
                tracing::debug!(
                    error_page = %page.name,
                    backend = %page.backend.name,
                    "error page unavailable, original response sent: {err}"
                );
                response
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_single_codes_parse() {
        assert_eq!(parse_range("500-599"), Ok((500, 599)));
        assert_eq!(parse_range("404"), Ok((404, 404)));
        assert_eq!(parse_range(" 400 - 404 "), Ok((400, 404)));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for bad in [
            "600-100", "abc", "", "-", "500-", "99", "600", "500-600", "1-2-3",
        ] {
            assert!(parse_range(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_range("600-100").unwrap_err().contains("600-100"));
    }

    #[test]
    fn status_is_substituted_everywhere() {
        let uri = page_uri("/e/{status}.html?s={status}", StatusCode::BAD_GATEWAY).unwrap();
        assert_eq!(uri.to_string(), "/e/502.html?s=502");
    }

    proptest::proptest! {
        #[test]
        fn every_valid_range_parses_back(low in 100u16..600, high in 100u16..600) {
            let text = format!("{low}-{high}");
            proptest::prop_assert_eq!(parse_range(&text).is_ok(), low <= high);
        }
    }
}
