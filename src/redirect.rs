//! `[entryPoints.X.redirect]`: every request of the entry point is answered with a
//! redirect, as v1's `middlewares/redirect`: to another entry point (its scheme and port,
//! always written out: `https://example.com:8443/api`), or by `regex` + `replacement`
//! over the full URL. 302 for GET / 307 otherwise; `permanent` ⇒ 301 / 308.

use http::header;
use http::{Method, Request, Response, StatusCode};
use regex::Regex;
use trafik_config::{EntryPoint, Redirect};

use crate::proxy::ResponseBody;
use crate::proxy::headers::strip_port;

#[derive(Debug)]
pub struct EntryPointRedirect {
    to: Target,
    permanent: bool,
}

#[derive(Debug)]
enum Target {
    EntryPoint { scheme: &'static str, port: u16 },
    Regex { regex: Regex, replacement: String },
}

impl EntryPointRedirect {
    /// `entry_points` is every entry point, for `redirect.entryPoint` to name one; `what`
    /// names the owner in errors (`entry point "http"`, `frontend "api"`).
    pub fn new(
        what: &str,
        redirect: &Redirect,
        entry_points: &std::collections::BTreeMap<String, EntryPoint>,
    ) -> Result<Self, String> {
        let to = if !redirect.entry_point.is_empty() {
            let target = entry_points.get(&redirect.entry_point).ok_or_else(|| {
                format!(
                    "{what}: redirect.entryPoint {:?} does not exist",
                    redirect.entry_point
                )
            })?;
            let (_, port) = trafik_config::parse_address(&target.address).map_err(|e| {
                format!(
                    "{what}: redirect.entryPoint {:?}: {e}",
                    redirect.entry_point
                )
            })?;
            Target::EntryPoint {
                scheme: if target.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
                port,
            }
        } else if !redirect.regex.is_empty() {
            let regex = Regex::new(&redirect.regex)
                .map_err(|e| format!("{what}: redirect.regex {:?}: {e}", redirect.regex))?;
            Target::Regex {
                regex,
                replacement: redirect.replacement.clone(),
            }
        } else {
            return Err(format!(
                "{what}: redirect needs entryPoint, or regex and replacement"
            ));
        };
        Ok(EntryPointRedirect {
            to,
            permanent: redirect.permanent,
        })
    }

    /// The redirect for `req`, or `None` when a `regex` does not match (the request is
    /// then served normally, as in v1). `tls`: whether the request came over TLS.
    pub fn respond<B>(&self, req: &Request<B>, tls: bool) -> Option<Response<ResponseBody>> {
        self.respond_to(req.method(), req.headers(), req.uri(), tls)
    }

    /// As `respond`, for a request whose `uri` is the one the client sent (a frontend's
    /// redirect runs after its rule may have rewritten the path).
    pub fn respond_to(
        &self,
        method: &Method,
        headers: &http::HeaderMap,
        uri: &http::Uri,
        tls: bool,
    ) -> Option<Response<ResponseBody>> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let location = match &self.to {
            Target::EntryPoint { scheme, port } => {
                format!("{scheme}://{}:{port}{path}", strip_port(host))
            }
            Target::Regex { regex, replacement } => {
                let scheme = if tls { "https" } else { "http" };
                let url = format!("{scheme}://{host}{path}");
                if !regex.is_match(&url) {
                    return None;
                }
                regex.replace(&url, replacement.as_str()).into_owned()
            }
        };
        let get = method == Method::GET;
        let status = match (self.permanent, get) {
            (true, true) => StatusCode::MOVED_PERMANENTLY,
            (true, false) => StatusCode::PERMANENT_REDIRECT,
            (false, true) => StatusCode::FOUND,
            (false, false) => StatusCode::TEMPORARY_REDIRECT,
        };
        Some(crate::handler::redirect(status, &location))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn eps() -> BTreeMap<String, EntryPoint> {
        let https = EntryPoint {
            address: ":8443".into(),
            tls: Some(Default::default()),
            ..Default::default()
        };
        BTreeMap::from([("https".to_string(), https)])
    }

    fn req(method: &str, host: &str, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .body(())
            .unwrap()
    }

    #[test]
    fn to_entry_point_keeps_path_and_writes_port() {
        let r = Redirect {
            entry_point: "https".into(),
            ..Default::default()
        };
        let r = EntryPointRedirect::new("entry point \"http\"", &r, &eps()).unwrap();
        let resp = r
            .respond(&req("GET", "example.com:8080", "/api?x=1"), false)
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert_eq!(
            resp.headers()["location"],
            "https://example.com:8443/api?x=1"
        );
        let resp = r.respond(&req("POST", "[::1]:80", "/"), false).unwrap();
        assert_eq!(resp.status(), 307);
        assert_eq!(resp.headers()["location"], "https://[::1]:8443/");
    }

    #[test]
    fn regex_and_permanent() {
        let r = Redirect {
            regex: "^http://localhost/(.*)".into(),
            replacement: "http://mydomain/$1".into(),
            permanent: true,
            ..Default::default()
        };
        let r = EntryPointRedirect::new("entry point \"http\"", &r, &eps()).unwrap();
        let resp = r.respond(&req("GET", "localhost", "/a/b"), false).unwrap();
        assert_eq!(resp.status(), 301);
        assert_eq!(resp.headers()["location"], "http://mydomain/a/b");
        assert_eq!(
            r.respond(&req("PUT", "localhost", "/a"), false)
                .unwrap()
                .status(),
            308
        );
        assert!(r.respond(&req("GET", "other", "/a"), false).is_none());
        let bad = Redirect {
            entry_point: "nope".into(),
            ..Default::default()
        };
        assert!(
            EntryPointRedirect::new("entry point \"http\"", &bad, &eps())
                .unwrap_err()
                .contains("\"nope\"")
        );
    }
}
