//! `[frontends.X.headers]`, compiled: v1's custom headers (`middlewares/headers.go`) and
//! secure headers (the `unrolled/secure` checks v1 ran), in v1's order: custom request
//! headers, then the host checks and the TLS redirect, then the response headers.
//!
//! Everything that can be wrong in the configuration (a header name or value, `SSLHost`)
//! is found when the frontend is compiled, so a request only copies prepared values.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use trafik_config::Headers as HeadersConfig;

use crate::handler::{error_response, redirect};
use crate::proxy::ResponseBody;
use crate::proxy::headers::strip_port;

/// A header to set, or (an empty value in the configuration) to remove.
type Edit = (HeaderName, Option<HeaderValue>);

#[derive(Debug)]
pub struct Headers {
    request: Vec<Edit>,
    response: Vec<Edit>,
    /// Empty: every host (also with `isDevelopment`).
    allowed_hosts: Vec<String>,
    hosts_proxy_headers: Vec<HeaderName>,
    ssl_proxy_headers: Vec<(HeaderName, String)>,
    /// `SSLRedirect` (off with `isDevelopment`).
    ssl_redirect: bool,
    ssl_force_host: bool,
    ssl_host: Option<String>,
    /// 301, or 307 with `SSLTemporaryRedirect` (unrolled/secure's status).
    redirect_status: StatusCode,
    /// Set on every response.
    secure: Vec<(HeaderName, HeaderValue)>,
    /// Set only on responses to requests that came over TLS (or said so through
    /// `SSLProxyHeaders`): STS unless `forceSTSHeader`, and `publicKey`.
    secure_tls: Vec<(HeaderName, HeaderValue)>,
}

/// What is wrong, with the key path below `headers` it is about.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub path: Vec<String>,
    pub message: String,
}

fn invalid(path: &[&str], message: String) -> Invalid {
    Invalid {
        path: path.iter().map(|s| s.to_string()).collect(),
        message,
    }
}

fn name(key: &str, name: &str) -> Result<HeaderName, Invalid> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        invalid(
            &[key, name],
            format!("headers.{key}: {name:?} is not a valid header name"),
        )
    })
}

fn value(path: &[&str], value: &str) -> Result<HeaderValue, Invalid> {
    HeaderValue::from_str(value).map_err(|_| {
        invalid(
            path,
            format!(
                "headers.{}: {value:?} is not a valid header value",
                path.join(".")
            ),
        )
    })
}

fn edits(
    key: &str,
    map: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<Edit>, Invalid> {
    map.iter()
        .map(|(n, v)| {
            let header = name(key, n)?;
            let v = if v.is_empty() {
                None
            } else {
                Some(value(&[key, n], v)?)
            };
            Ok((header, v))
        })
        .collect()
}

impl Headers {
    pub fn new(cfg: &HeadersConfig) -> Result<Self, Invalid> {
        let dev = cfg.is_development;
        let mut secure = Vec::new();
        let mut secure_tls = Vec::new();
        if cfg.sts_seconds < 0 {
            return Err(invalid(
                &["stsSeconds"],
                format!("headers.STSSeconds: {} is negative", cfg.sts_seconds),
            ));
        }
        if cfg.sts_seconds != 0 && !dev {
            let mut sts = format!("max-age={}", cfg.sts_seconds);
            if cfg.sts_include_subdomains {
                sts.push_str("; includeSubDomains");
            }
            if cfg.sts_preload {
                sts.push_str("; preload");
            }
            let sts = (
                http::header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_str(&sts).expect("digits and ASCII"),
            );
            if cfg.force_sts_header {
                secure.push(sts);
            } else {
                secure_tls.push(sts);
            }
        }
        if !cfg.custom_frame_options_value.is_empty() {
            secure.push((
                http::header::X_FRAME_OPTIONS,
                value(
                    &["customFrameOptionsValue"],
                    &cfg.custom_frame_options_value,
                )?,
            ));
        } else if cfg.frame_deny {
            secure.push((
                http::header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ));
        }
        if cfg.content_type_nosniff {
            secure.push((
                http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ));
        }
        if !cfg.custom_browser_xss_value.is_empty() {
            secure.push((
                http::header::X_XSS_PROTECTION,
                value(&["customBrowserXSSValue"], &cfg.custom_browser_xss_value)?,
            ));
        } else if cfg.browser_xss_filter {
            secure.push((
                http::header::X_XSS_PROTECTION,
                HeaderValue::from_static("1; mode=block"),
            ));
        }
        if !cfg.public_key.is_empty() {
            let v = value(&["publicKey"], &cfg.public_key)?;
            if !dev {
                secure_tls.push((HeaderName::from_static("public-key-pins"), v));
            }
        }
        if !cfg.content_security_policy.is_empty() {
            secure.push((
                http::header::CONTENT_SECURITY_POLICY,
                value(&["contentSecurityPolicy"], &cfg.content_security_policy)?,
            ));
        }
        if !cfg.referrer_policy.is_empty() {
            secure.push((
                http::header::REFERRER_POLICY,
                value(&["referrerPolicy"], &cfg.referrer_policy)?,
            ));
        }
        let ssl_host = if cfg.ssl_host.is_empty() {
            None
        } else {
            cfg.ssl_host.parse::<http::uri::Authority>().map_err(|_| {
                invalid(
                    &["sslHost"],
                    format!("headers.SSLHost: {:?} is not a host[:port]", cfg.ssl_host),
                )
            })?;
            Some(cfg.ssl_host.clone())
        };
        Ok(Headers {
            request: edits("customRequestHeaders", &cfg.custom_request_headers)?,
            response: edits("customResponseHeaders", &cfg.custom_response_headers)?,
            allowed_hosts: if dev {
                Vec::new()
            } else {
                cfg.allowed_hosts.clone()
            },
            hosts_proxy_headers: cfg
                .hosts_proxy_headers
                .iter()
                .map(|h| name("hostsProxyHeaders", h))
                .collect::<Result<_, _>>()?,
            ssl_proxy_headers: cfg
                .ssl_proxy_headers
                .iter()
                .map(|(h, v)| Ok((name("sslProxyHeaders", h)?, v.clone())))
                .collect::<Result<_, _>>()?,
            ssl_redirect: cfg.ssl_redirect && !dev,
            ssl_force_host: cfg.ssl_force_host,
            ssl_host,
            redirect_status: if cfg.ssl_temporary_redirect {
                StatusCode::TEMPORARY_REDIRECT
            } else {
                StatusCode::MOVED_PERMANENTLY
            },
            secure,
            secure_tls,
        })
    }

    /// Sets the custom request headers, then checks the host and TLS. `Ok(ssl)`: the
    /// request goes on, and whether it counts as TLS; `Err`: trafik's answer (400 for a
    /// host not allowed, a redirect to https), with the response headers already set.
    /// `sent`: the URI as the client sent it, for the redirect's path.
    pub fn request(
        &self,
        headers: &mut HeaderMap,
        sent: &Uri,
        tls: bool,
    ) -> Result<bool, Box<Response>> {
        edit(headers, &self.request);
        let ssl = tls
            || self
                .ssl_proxy_headers
                .iter()
                .any(|(n, v)| headers.get(n).is_some_and(|h| h.as_bytes() == v.as_bytes()));
        if self.allowed_hosts.is_empty() && !self.ssl_redirect && !self.ssl_force_host {
            return Ok(ssl);
        }
        let host = self
            .hosts_proxy_headers
            .iter()
            .filter_map(|n| headers.get(n)?.to_str().ok())
            .find(|h| !h.is_empty())
            .or_else(|| headers.get(http::header::HOST)?.to_str().ok())
            .or_else(|| sent.authority().map(|a| a.as_str()))
            .unwrap_or("");
        // v1 compared the whole Host, port included; a name without port matches too here,
        // so `allowedHosts = ["example.com"]` also serves `example.com:8080`.
        if !self.allowed_hosts.is_empty()
            && !self.allowed_hosts.iter().any(|allowed| {
                allowed.eq_ignore_ascii_case(host) || allowed.eq_ignore_ascii_case(strip_port(host))
            })
        {
            // v1 answered 500; a Host the frontend does not serve is the client's error.
            return Err(self.answer(error_response(StatusCode::BAD_REQUEST), ssl));
        }
        let to_host = if self.ssl_redirect && !ssl {
            Some(self.ssl_host.as_deref().unwrap_or(host))
        } else if self.ssl_force_host {
            self.ssl_host.as_deref().filter(|h| *h != host)
        } else {
            None
        };
        let Some(to_host) = to_host else {
            return Ok(ssl);
        };
        if to_host.parse::<http::uri::Authority>().is_err() {
            return Err(self.answer(error_response(StatusCode::BAD_REQUEST), ssl));
        }
        let path = sent.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let location = format!("https://{to_host}{path}");
        Err(self.answer(redirect(self.redirect_status, &location), ssl))
    }

    /// Boxed: an early answer is rare, and keeps the `Ok` path's result small.
    fn answer(&self, mut response: Response, ssl: bool) -> Box<Response> {
        self.response(response.headers_mut(), ssl);
        Box::new(response)
    }

    /// The secure headers, then the custom response headers (the user's last word, as in
    /// v1, where they were applied after the secure ones).
    pub fn response(&self, headers: &mut HeaderMap, ssl: bool) {
        for (n, v) in &self.secure {
            headers.insert(n.clone(), v.clone());
        }
        if ssl {
            for (n, v) in &self.secure_tls {
                headers.insert(n.clone(), v.clone());
            }
        }
        edit(headers, &self.response);
    }
}

type Response = http::Response<ResponseBody>;

fn edit(headers: &mut HeaderMap, edits: &[Edit]) {
    for (n, v) in edits {
        match v {
            Some(v) => {
                headers.insert(n.clone(), v.clone());
            }
            None => {
                headers.remove(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: Result<bool, Box<Response>>) -> bool {
        match r {
            Ok(ssl) => ssl,
            Err(answer) => panic!("answered {}", answer.status()),
        }
    }

    fn err(r: Result<bool, Box<Response>>) -> Response {
        match r {
            Ok(_) => panic!("not answered"),
            Err(answer) => *answer,
        }
    }

    fn cfg(f: impl FnOnce(&mut HeadersConfig)) -> Headers {
        let mut c = HeadersConfig::default();
        f(&mut c);
        Headers::new(&c).unwrap()
    }

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("host", HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn custom_headers_set_and_remove() {
        let h = cfg(|c| {
            c.custom_request_headers =
                [("X-A".into(), "1".into()), ("X-Gone".into(), "".into())].into();
            c.custom_response_headers =
                [("Server".into(), "".into()), ("X-R".into(), "r".into())].into();
        });
        let mut req = host("a");
        req.insert("x-gone", HeaderValue::from_static("client"));
        req.insert("x-a", HeaderValue::from_static("client"));
        assert!(!ok(h.request(&mut req, &Uri::from_static("/"), false)));
        assert_eq!(req["x-a"], "1");
        assert!(req.get("x-gone").is_none());
        let mut resp = HeaderMap::new();
        resp.insert("server", HeaderValue::from_static("backend"));
        h.response(&mut resp, false);
        assert!(resp.get("server").is_none());
        assert_eq!(resp["x-r"], "r");
    }

    #[test]
    fn sts_only_over_tls_unless_forced() {
        let h = cfg(|c| {
            c.sts_seconds = 31536000;
            c.sts_include_subdomains = true;
            c.sts_preload = true;
            c.frame_deny = true;
        });
        let mut plain = HeaderMap::new();
        h.response(&mut plain, false);
        assert!(plain.get("strict-transport-security").is_none());
        assert_eq!(plain["x-frame-options"], "DENY");
        let mut tls = HeaderMap::new();
        h.response(&mut tls, true);
        assert_eq!(
            tls["strict-transport-security"],
            "max-age=31536000; includeSubDomains; preload"
        );
        let forced = cfg(|c| {
            c.sts_seconds = 60;
            c.force_sts_header = true;
        });
        let mut plain = HeaderMap::new();
        forced.response(&mut plain, false);
        assert_eq!(plain["strict-transport-security"], "max-age=60");
        let dev = cfg(|c| {
            c.sts_seconds = 60;
            c.force_sts_header = true;
            c.is_development = true;
        });
        let mut plain = HeaderMap::new();
        dev.response(&mut plain, true);
        assert!(plain.is_empty());
    }

    #[test]
    fn ssl_redirect_and_proxy_headers() {
        let h = cfg(|c| {
            c.ssl_redirect = true;
            c.ssl_proxy_headers = [("X-Forwarded-Proto".into(), "https".into())].into();
        });
        let uri = Uri::from_static("/a?b=1");
        let resp = err(h.request(&mut host("Example.com:8080"), &uri, false));
        assert_eq!(resp.status(), 301);
        assert_eq!(resp.headers()["location"], "https://Example.com:8080/a?b=1");
        assert!(ok(h.request(&mut host("x"), &uri, true)));
        let mut proxied = host("x");
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(ok(h.request(&mut proxied, &uri, false)));
        let temp = cfg(|c| {
            c.ssl_redirect = true;
            c.ssl_temporary_redirect = true;
            c.ssl_host = "secure.example".into();
        });
        let resp = err(temp.request(&mut host("x"), &uri, false));
        assert_eq!(resp.status(), 307);
        assert_eq!(resp.headers()["location"], "https://secure.example/a?b=1");
        let force = cfg(|c| {
            c.ssl_force_host = true;
            c.ssl_host = "secure.example".into();
        });
        let resp = err(force.request(&mut host("x"), &uri, true));
        assert_eq!(resp.headers()["location"], "https://secure.example/a?b=1");
        assert!(
            force
                .request(&mut host("secure.example"), &uri, true)
                .is_ok()
        );
    }

    #[test]
    fn allowed_hosts() {
        let h = cfg(|c| {
            c.allowed_hosts = vec!["example.com".into()];
            c.hosts_proxy_headers = vec!["X-Forwarded-Host".into()];
        });
        let uri = Uri::from_static("/");
        assert!(h.request(&mut host("EXAMPLE.com:81"), &uri, false).is_ok());
        assert_eq!(err(h.request(&mut host("evil"), &uri, false)).status(), 400);
        let mut proxied = host("internal");
        proxied.insert("x-forwarded-host", HeaderValue::from_static("example.com"));
        assert!(h.request(&mut proxied, &uri, false).is_ok());
    }

    #[test]
    fn bad_values_are_located() {
        let bad = |f: fn(&mut HeadersConfig)| {
            let mut c = HeadersConfig::default();
            f(&mut c);
            Headers::new(&c).unwrap_err()
        };
        let e = bad(|c| c.custom_request_headers = [("X Bad".into(), "1".into())].into());
        assert_eq!(e.path, ["customRequestHeaders", "X Bad"]);
        assert!(
            e.message.contains("\"X Bad\" is not a valid header name"),
            "{}",
            e.message
        );
        let e = bad(|c| c.custom_response_headers = [("X-Ok".into(), "a\nb".into())].into());
        assert_eq!(e.path, ["customResponseHeaders", "X-Ok"]);
        assert_eq!(
            bad(|c| c.content_security_policy = "\u{7f}".into()).path,
            ["contentSecurityPolicy"]
        );
        assert_eq!(bad(|c| c.ssl_host = "a b".into()).path, ["sslHost"]);
        assert_eq!(bad(|c| c.sts_seconds = -1).path, ["stsSeconds"]);
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever the client sent (repeated, mixed-case, empty values), the backend gets
        /// exactly the configured custom request headers, and none of the removed ones.
        #[test]
        fn custom_request_headers_win_over_the_client(
            sent in proptest::collection::vec(
                (prop::sample::select(vec!["x-set", "X-SET", "x-gone", "x-other"]), "[ -~]{0,8}"),
                0..8,
            )
        ) {
            let h = cfg(|c| {
                c.custom_request_headers =
                    [("X-Set".into(), "v".into()), ("X-Gone".into(), "".into())].into();
            });
            let mut headers = HeaderMap::new();
            for (n, v) in &sent {
                headers.append(
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            ok(h.request(&mut headers, &Uri::from_static("/"), false));
            let set: Vec<_> = headers.get_all("x-set").iter().collect();
            let want = HeaderValue::from_static("v");
            prop_assert_eq!(set, vec![&want]);
            prop_assert!(headers.get("x-gone").is_none());
        }
    }
}
