//! A frontend's own middlewares, in v1's order (after routing and the rule's path
//! modifiers): `[frontends.X.redirect]`, then `[frontends.X.headers]` (custom headers,
//! then secure headers), then the backend. A frontend with neither has `None` in its
//! route and pays one `Option` check per request.

pub mod auth;
pub mod error_pages;
pub mod headers;
pub mod rate_limit;

use std::collections::BTreeMap;

use http::{Request, Response, Uri};
use trafik_config::{EntryPoint, Frontend};

use crate::proxy::ResponseBody;
use crate::redirect::EntryPointRedirect;

#[derive(Debug)]
pub struct Middlewares {
    redirect: Option<EntryPointRedirect>,
    headers: Option<headers::Headers>,
}

/// Why a frontend's middlewares do not compile: the key path (from `frontends`) and message.
#[derive(Debug)]
pub struct Invalid {
    pub path: Vec<String>,
    pub message: String,
}

/// What the request side leaves for the response: the headers to set, and whether the
/// request counts as TLS (for STS and `publicKey`).
pub struct Applied<'a> {
    headers: Option<&'a headers::Headers>,
    ssl: bool,
}

impl Middlewares {
    /// `None` when the frontend has neither option. `entry_points`: every entry point, for
    /// `redirect.entryPoint`.
    pub fn build(
        name: &str,
        frontend: &Frontend,
        entry_points: &BTreeMap<String, EntryPoint>,
    ) -> Result<Option<Self>, Invalid> {
        let what = format!("frontend {name:?} skipped");
        let at = |rest: &[String], message: String| Invalid {
            path: ["frontends", name]
                .iter()
                .map(|s| s.to_string())
                .chain(rest.iter().cloned())
                .collect(),
            message,
        };
        let redirect = match &frontend.redirect {
            None => None,
            Some(r) => Some(
                EntryPointRedirect::new(&what, r, entry_points).map_err(|m| {
                    let key = if r.entry_point.is_empty() {
                        "regex"
                    } else {
                        "entryPoint"
                    };
                    at(&["redirect".into(), key.into()], m)
                })?,
            ),
        };
        let headers = match &frontend.headers {
            None => None,
            Some(h) => Some(headers::Headers::new(h).map_err(|e| {
                let path: Vec<String> = std::iter::once("headers".to_string())
                    .chain(e.path)
                    .collect();
                at(&path, format!("{what}: {}", e.message))
            })?),
        };
        Ok((redirect.is_some() || headers.is_some()).then_some(Middlewares { redirect, headers }))
    }

    /// The request side. `sent`: the URI before the rule's path modifiers, so that
    /// redirects point at what the client asked for. `Err`: trafik's answer instead of the
    /// backend's (boxed: rare, and it keeps the usual result small).
    pub fn request<B>(
        &self,
        req: &mut Request<B>,
        sent: &Uri,
    ) -> Result<Applied<'_>, Box<Response<ResponseBody>>> {
        let tls = crate::tls::is_tls(req);
        if let Some(r) = &self.redirect
            && let Some(redirected) = r.respond_to(req.method(), req.headers(), sent, tls)
        {
            return Err(Box::new(redirected));
        }
        let ssl = match &self.headers {
            Some(h) => h.request(req.headers_mut(), sent, tls)?,
            None => tls,
        };
        Ok(Applied {
            headers: self.headers.as_ref(),
            ssl,
        })
    }
}

impl Applied<'_> {
    /// Every response of the frontend: the backend's and trafik's own errors.
    pub fn response(&self, response: &mut Response<ResponseBody>) {
        if let Some(h) = self.headers {
            h.response(response.headers_mut(), self.ssl);
        }
    }
}
