//! Cookie stickiness: v1's `loadBalancer.stickiness` (oxy `StickySession`).
//!
//! A client's first request goes to whatever server the balancer picks, and the response
//! sets a cookie whose value is that server's URL. Later requests carrying the cookie go to
//! that server while it is among the available ones; a cookie naming a server that is down
//! or gone is ignored, the balancer picks again and the response sets a new cookie. URLs
//! match on scheme, host and port, and path, as oxy compares them.
//!
//! ```
//! use http::HeaderMap;
//! use http::header::{COOKIE, SET_COOKIE};
//! use trafik_middleware::balance::{Sticky, Wrr};
//!
//! let servers = ["http://10.0.0.1:80", "http://10.0.0.2:80"];
//! let wrr = Wrr::new(vec![1, 1]);
//! let sticky = Sticky::for_backend("backend1", "").http_only(true);
//! assert_eq!(sticky.cookie_name(), "_73be0");
//!
//! // First request: no cookie, so the balancer picks and the response sets one.
//! let choice = sticky.choose(&HeaderMap::new(), &servers, |_| true, || wrr.next()).unwrap();
//! let set_cookie = choice.set_cookie.unwrap();
//! assert_eq!(set_cookie, "_73be0=http://10.0.0.1:80; Path=/; HttpOnly");
//!
//! // Next request: the cookie wins, nothing to set.
//! let mut headers = HeaderMap::new();
//! headers.insert(COOKIE, "_73be0=http://10.0.0.1:80".parse().unwrap());
//! let choice = sticky.choose(&headers, &servers, |_| true, || wrr.next()).unwrap();
//! assert_eq!((choice.index, choice.set_cookie), (0, None));
//! ```

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// The cookie name of v1's deprecated `sticky = true`, as the reference gives it.
pub const LEGACY_COOKIE_NAME: &str = "_TRAEFIK_BACKEND";

/// v1's default cookie name for a backend: `_` and the first five hex digits of
/// `sha1("_TRAEFIK_BACKEND_" + backend)`, e.g. `_8a7bc` for `containous`.
pub fn default_cookie_name(backend: &str) -> String {
    let digest = sha1_smol::Sha1::from(format!("_TRAEFIK_BACKEND_{backend}")).hexdigest();
    format!("_{}", &digest[..5])
}

/// A cookie name as v1 sanitizes a configured one: every character that is not an RFC 2616
/// token character becomes `_`.
pub fn sanitize_cookie_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            let token = c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '!' | '#'
                        | '$'
                        | '%'
                        | '&'
                        | '\''
                        | '*'
                        | '+'
                        | '-'
                        | '.'
                        | '^'
                        | '`'
                        | '|'
                        | '~'
                );
            if token { c } else { '_' }
        })
        .collect()
}

/// The cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    None,
    Lax,
    Strict,
}

impl SameSite {
    /// v1's values `none`, `lax`, `strict` (any case); anything else, including `""`, means
    /// no attribute.
    pub fn parse(value: &str) -> Option<SameSite> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(SameSite::None),
            "lax" => Some(SameSite::Lax),
            "strict" => Some(SameSite::Strict),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::None => "None",
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
        }
    }
}

/// The stickiness cookie of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sticky {
    name: String,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

/// Which server serves a request, and the cookie to set on its response when it is a new
/// choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub index: usize,
    /// A `Set-Cookie` header value, when the request had no usable cookie.
    pub set_cookie: Option<HeaderValue>,
}

impl Sticky {
    /// A cookie named `name`, sanitized.
    pub fn new(name: &str) -> Self {
        Sticky {
            name: sanitize_cookie_name(name),
            secure: false,
            http_only: false,
            same_site: None,
        }
    }

    /// v1's naming: `cookie_name` sanitized, or the backend's default name when it is
    /// empty.
    pub fn for_backend(backend: &str, cookie_name: &str) -> Self {
        if cookie_name.is_empty() {
            Sticky::new(&default_cookie_name(backend))
        } else {
            Sticky::new(cookie_name)
        }
    }

    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.same_site = same_site;
        self
    }

    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The value of the first cookie with this name in the `Cookie` headers (HTTP/2 sends
    /// one header per cookie), without surrounding quotes. Malformed cookies are skipped,
    /// as Go does.
    pub fn cookie<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == self.name).then(|| parse_cookie_value(value))?
            })
            .next()
    }

    /// The server the request's cookie names, if it is among `servers` and `available`.
    pub fn stuck<U: AsRef<str>>(
        &self,
        headers: &HeaderMap,
        servers: &[U],
        available: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let wanted = self.cookie(headers)?;
        servers
            .iter()
            .enumerate()
            .find(|(i, url)| same_url(wanted, url.as_ref()) && available(*i))
            .map(|(i, _)| i)
    }

    /// The `Set-Cookie` value sticking a client to the server at `server_url`:
    /// `name=url; Path=/` then `HttpOnly`, `Secure`, `SameSite=…` as configured (Go's
    /// order).
    pub fn set_cookie(&self, server_url: &str) -> HeaderValue {
        let mut cookie = format!(
            "{}={}; Path=/",
            self.name,
            sanitize_cookie_value(server_url)
        );
        if self.http_only {
            cookie.push_str("; HttpOnly");
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        if let Some(same_site) = self.same_site {
            cookie.push_str("; SameSite=");
            cookie.push_str(same_site.as_str());
        }
        // Name and value are sanitized to visible ASCII and spaces, always a valid value.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The stuck server, else `pick()`'s choice with the cookie to set for it (oxy sets it
    /// only on a new choice). `None` when there is no cookie match and `pick` finds none.
    pub fn choose<U: AsRef<str>>(
        &self,
        headers: &HeaderMap,
        servers: &[U],
        available: impl Fn(usize) -> bool,
        pick: impl FnOnce() -> Option<usize>,
    ) -> Option<Choice> {
        let (index, new) = self.choose_index(headers, servers, available, pick)?;
        let set_cookie = match new {
            true => Some(self.set_cookie(servers.get(index)?.as_ref())),
            false => None,
        };
        Some(Choice { index, set_cookie })
    }

    /// [`choose`](Self::choose) without making the cookie: the server, and whether it is a
    /// new choice (whose response must set the cookie). For a caller that keeps each
    /// server's [`set_cookie`](Self::set_cookie) value rather than making it per response.
    pub fn choose_index<U: AsRef<str>>(
        &self,
        headers: &HeaderMap,
        servers: &[U],
        available: impl Fn(usize) -> bool,
        pick: impl FnOnce() -> Option<usize>,
    ) -> Option<(usize, bool)> {
        match self.stuck(headers, servers, available) {
            Some(index) => Some((index, false)),
            None => pick().map(|index| (index, true)),
        }
    }
}

/// Go's `validCookieValueByte`.
fn valid_value_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b';' && b != b'\\'
}

/// A cookie value as Go reads it: surrounding double quotes dropped; `None` if a byte is
/// not allowed.
fn parse_cookie_value(raw: &str) -> Option<&str> {
    let value = raw
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(raw);
    value.bytes().all(valid_value_byte).then_some(value)
}

/// A cookie value as Go writes it: invalid bytes dropped, quoted if it holds a space or a
/// comma.
fn sanitize_cookie_value(value: &str) -> String {
    let clean: String = value
        .bytes()
        .filter(|&b| valid_value_byte(b))
        .map(char::from)
        .collect();
    if clean.contains([' ', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// Scheme, host (with port) and path of a URL, as oxy's `sameURL` compares them; query and
/// fragment ignored, an empty path taken as `/`.
fn url_parts(url: &str) -> (String, String, &str) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, rest) = rest.split_at(end);
    let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let path = if path.is_empty() { "/" } else { path };
    (scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), path)
}

fn same_url(a: &str, b: &str) -> bool {
    url_parts(a) == url_parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_match_v1() {
        assert_eq!(default_cookie_name("containous"), "_8a7bc");
        assert_eq!(default_cookie_name("/my/BACKEND-v1.0~rc1"), "_5f7bc");
        assert_eq!(
            Sticky::for_backend("containous", "").cookie_name(),
            "_8a7bc"
        );
        assert_eq!(
            Sticky::for_backend("treafik", "containous").cookie_name(),
            "containous"
        );
    }

    #[test]
    fn names_are_sanitized_as_v1() {
        assert_eq!(
            sanitize_cookie_name("/my/BACKEND-v1.0~rc1"),
            "_my_BACKEND-v1.0~rc1"
        );
        assert_eq!(
            sanitize_cookie_name("!#$%&'()*+-./:<=>?@[]^_`{|}~"),
            "!#$%&'__*+-._________^_`_|_~"
        );
        assert_eq!(sanitize_cookie_name("日本"), "__");
    }

    #[test]
    fn same_site_values() {
        assert_eq!(SameSite::parse("lax"), Some(SameSite::Lax));
        assert_eq!(SameSite::parse("Strict"), Some(SameSite::Strict));
        assert_eq!(SameSite::parse("none"), Some(SameSite::None));
        assert_eq!(SameSite::parse(""), None);
    }

    #[test]
    fn urls_compare_as_oxy() {
        assert!(same_url("http://10.0.0.1:80", "http://10.0.0.1:80/"));
        assert!(same_url("HTTP://Host:80/a?x", "http://host:80/a"));
        assert!(!same_url("http://10.0.0.1:80", "https://10.0.0.1:80"));
        assert!(!same_url("http://10.0.0.1:80", "http://10.0.0.1:81"));
        assert!(!same_url("http://10.0.0.1:80/a", "http://10.0.0.1:80/b"));
    }

    #[test]
    fn cookie_values() {
        assert_eq!(parse_cookie_value("\"a b\""), Some("a b"));
        assert_eq!(parse_cookie_value("a\\b"), None);
        assert_eq!(
            sanitize_cookie_value("http://h:1/a b"),
            "\"http://h:1/a b\""
        );
        assert_eq!(sanitize_cookie_value("x;y\"z"), "xyz");
    }
}
