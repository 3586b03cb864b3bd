//! Digest authentication (RFC 2617, `qop=auth`, MD5) against htdigest users: v1's
//! `[auth.digest]`.
//!
//! The challenge is `Digest realm="…", nonce="…", opaque="…", algorithm=MD5, qop="auth"`
//! (plus `stale=true` when the credentials were right but the nonce was not; see
//! [`nonce`](super::nonce) for how nonces are kept). A response is accepted when its
//! `realm` and `opaque` are ours, `qop` is `auth`, `algorithm` is absent or `MD5`, `uri`
//! is the request's target, and `response` matches
//! `MD5(HA1:nonce:nc:cnonce:auth:MD5(method:uri))`; then its nonce must be ours, fresh, and
//! `nc` above any seen with it. RFC 2069 responses (no `qop`) are refused: we never offer
//! them, and they have no `nc` to stop replays.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Uri};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use super::basic::DEFAULT_REALM;
use super::error::AuthError;
use super::header::{check_realm, credentials, quote};
use super::nonce::{DEFAULT_MAX_NONCES, DEFAULT_NONCE_LIFETIME, NonceStore, Refused, hex};
use super::users;

/// Users (`user:realm:ha1` lines, `ha1 = MD5(user:realm:password)` in hex, as `htdigest`
/// writes them) checked with Digest authentication.
pub struct DigestAuth {
    realm: String,
    /// HA1 in lowercase hex by (user, realm). Users of another realm than ours are kept,
    /// as v1 does, but can never log in: their HA1 was computed with that realm.
    users: HashMap<(String, String), String>,
    opaque: String,
    nonces: NonceStore,
}

impl DigestAuth {
    /// v1's `users` and `usersFile` (htdigest format); file entries win over list entries
    /// for the same user and realm. Fails on an unreadable file or a line that is not
    /// `user:realm:<32 hex digits>`. The realm is [`DEFAULT_REALM`], nonces live
    /// [`DEFAULT_NONCE_LIFETIME`] and at most [`DEFAULT_MAX_NONCES`] are remembered.
    pub fn new<I, S>(users: I, users_file: Option<&Path>) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut map = HashMap::new();
        for line in users::load(users, users_file)? {
            let [user, realm, ha1] = line.fields::<3>("user:realm:ha1")?;
            if ha1.len() != 32 || !ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(AuthError::MalformedHash {
                    at: line.at.clone(),
                    user: user.to_owned(),
                    kind: "digest HA1 (32 hex digits)",
                });
            }
            map.insert(
                (user.to_owned(), realm.to_owned()),
                ha1.to_ascii_lowercase(),
            );
        }
        let mut opaque = [0u8; 16];
        getrandom::fill(&mut opaque).map_err(|e| AuthError::Random(e.to_string()))?;
        Ok(DigestAuth {
            realm: DEFAULT_REALM.to_owned(),
            users: map,
            opaque: hex(&opaque),
            nonces: NonceStore::new(DEFAULT_NONCE_LIFETIME, DEFAULT_MAX_NONCES),
        })
    }

    /// The realm of the challenge; only users of this realm can log in.
    pub fn with_realm(mut self, realm: &str) -> Result<Self, AuthError> {
        check_realm(realm)?;
        self.realm = realm.to_owned();
        Ok(self)
    }

    /// How long a nonce is accepted after it was issued.
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.nonces.set_lifetime(lifetime);
        self
    }

    /// How many nonces are remembered at most (at least 1); past that the oldest is
    /// forgotten.
    pub fn with_max_nonces(mut self, max: usize) -> Self {
        self.nonces.set_max(max);
        self
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The `WWW-Authenticate` value of a `401`, with a new nonce; `None` if the OS has no
    /// randomness to give.
    pub(super) fn challenge(&self, stale: bool) -> Option<HeaderValue> {
        let nonce = self.nonces.issue()?;
        let mut value = format!(
            "Digest realm={}, nonce=\"{nonce}\", opaque=\"{}\", algorithm=MD5, qop=\"auth\"",
            quote(&self.realm),
            self.opaque
        );
        if stale {
            value.push_str(", stale=true");
        }
        HeaderValue::from_str(&value).ok()
    }

    /// The user name if the request's `Authorization` is a valid digest response.
    pub(super) fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Check {
        let Some(params) = credentials(headers, "Digest").and_then(parse_params) else {
            return Check::Denied { stale: false };
        };
        match self.verify(method, uri, &params) {
            Some((user, nonce, nc)) => match self.nonces.accept(nonce, nc) {
                Ok(()) => Check::Granted(user.to_owned()),
                Err(Refused::Unknown | Refused::Replayed) => Check::Denied { stale: true },
            },
            None => Check::Denied { stale: false },
        }
    }

    /// Checks everything but the nonce's freshness; returns (user, nonce, nc).
    fn verify<'p>(
        &self,
        method: &Method,
        uri: &Uri,
        params: &'p HashMap<String, String>,
    ) -> Option<(&'p str, &'p str, u32)> {
        let get = |key: &str| params.get(key).map(String::as_str);
        let (user, realm, nonce) = (get("username")?, get("realm")?, get("nonce")?);
        let (digest_uri, response) = (get("uri")?, get("response")?);
        let (qop, nc_hex, cnonce) = (get("qop")?, get("nc")?, get("cnonce")?);
        let algorithm_ok = get("algorithm").is_none_or(|a| a.eq_ignore_ascii_case("MD5"));
        if realm != self.realm
            || get("opaque") != Some(self.opaque.as_str())
            || qop != "auth"
            || !algorithm_ok
            || !matches_target(digest_uri, uri)
            || nc_hex.len() != 8
        {
            return None;
        }
        let nc = u32::from_str_radix(nc_hex, 16).ok()?;
        let ha1 = self.users.get(&(user.to_owned(), realm.to_owned()))?;
        let ha2 = md5_hex(&[method.as_str(), digest_uri]);
        let expected = md5_hex(&[ha1, nonce, nc_hex, cnonce, qop, &ha2]);
        let given = response.to_ascii_lowercase();
        bool::from(expected.as_bytes().ct_eq(given.as_bytes())).then_some((user, nonce, nc))
    }

    #[cfg(test)]
    fn with_opaque_and_nonce(mut self, opaque: &str, nonce: &str) -> Self {
        self.opaque = opaque.to_owned();
        self.nonces.remember(nonce.to_owned());
        self
    }
}

/// The `uri` of the response must be the request-target, so a response captured for one
/// resource cannot be used for another. Servers see origin-form (`/path?query`); a proxy
/// request has absolute-form.
fn matches_target(digest_uri: &str, uri: &Uri) -> bool {
    match uri.path_and_query() {
        Some(pq) if digest_uri == pq.as_str() => true,
        _ => uri.scheme().is_some() && digest_uri == *uri,
    }
}

fn md5_hex(parts: &[&str]) -> String {
    let mut md5 = Md5::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            md5.update(b":");
        }
        md5.update(part.as_bytes());
    }
    hex(&md5.finalize())
}

/// `key=token` / `key="quoted \" string"` pairs separated by commas; keys lowercased. A
/// repeated key or a malformed list refuses the whole header.
fn parse_params(s: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return Some(params);
        }
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(|c: char| c.is_ascii_whitespace() || c == ',' || c == '"')
        {
            return None;
        }
        let after = after.trim_start();
        let value = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next()? {
                    (_, '\\') => value.push(chars.next()?.1),
                    (i, '"') => break i + 1,
                    (_, c) => value.push(c),
                }
            };
            rest = quoted[end..].trim_start();
            if !(rest.is_empty() || rest.starts_with(',')) {
                return None;
            }
            value
        } else {
            let end = after.find(',').unwrap_or(after.len());
            rest = &after[end..];
            after[..end].trim().to_owned()
        };
        if params.insert(key, value).is_some() {
            return None;
        }
    }
}

impl fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<String> = self.users.keys().map(|(u, r)| format!("{u}:{r}")).collect();
        users.sort_unstable();
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

pub(super) enum Check {
    Granted(String),
    /// `stale`: right credentials, but an unknown, expired or replayed nonce.
    Denied {
        stale: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::AUTHORIZATION;

    /// RFC 2617 §3.5: user Mufasa, password "Circle Of Life".
    const RFC_HEADER: &str = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    fn rfc_auth() -> DigestAuth {
        // MD5("Mufasa:testrealm@host.com:Circle Of Life"), checked with md5sum.
        let ha1 = md5_hex(&["Mufasa", "testrealm@host.com", "Circle Of Life"]);
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        DigestAuth::new([format!("Mufasa:testrealm@host.com:{ha1}")], None)
            .unwrap()
            .with_realm("testrealm@host.com")
            .unwrap()
            .with_opaque_and_nonce(
                "5ccc069c403ebaf9f0171e9517f40e41",
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            )
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        // Header values cannot hold the RFC's line breaks; folded lines are spaces.
        let value = value.replace('\n', " ");
        h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        h
    }

    fn check(auth: &DigestAuth, method: Method, uri: &str, value: &str) -> Check {
        auth.check(&method, &uri.parse().unwrap(), &headers(value))
    }

    #[test]
    fn rfc_2617_example() {
        let auth = rfc_auth();
        let got = check(&auth, Method::GET, "/dir/index.html", RFC_HEADER);
        assert!(matches!(got, Check::Granted(u) if u == "Mufasa"));
        // The same nc again is a replay: right credentials, stale nonce.
        let again = check(&auth, Method::GET, "/dir/index.html", RFC_HEADER);
        assert!(matches!(again, Check::Denied { stale: true }));
    }

    #[test]
    fn rfc_example_elsewhere_is_refused() {
        let auth = rfc_auth();
        let denied = |method: Method, uri: &str, value: &str| {
            matches!(
                check(&auth, method, uri, value),
                Check::Denied { stale: false }
            )
        };
        assert!(denied(Method::GET, "/dir/other.html", RFC_HEADER));
        assert!(denied(Method::POST, "/dir/index.html", RFC_HEADER));
        let tampered = RFC_HEADER.replace("0a4f113b", "0a4f113c");
        assert!(denied(Method::GET, "/dir/index.html", &tampered));
        let other_opaque = RFC_HEADER.replace("5ccc069c", "5ccc069d");
        assert!(denied(Method::GET, "/dir/index.html", &other_opaque));
        let no_qop = RFC_HEADER.replace("qop=auth,", "");
        assert!(denied(Method::GET, "/dir/index.html", &no_qop));
        let sha = RFC_HEADER.replace("qop=auth,", "qop=auth, algorithm=SHA-256,");
        assert!(denied(Method::GET, "/dir/index.html", &sha));
        let md5 = RFC_HEADER.replace("qop=auth,", "qop=auth, algorithm=md5,");
        assert!(matches!(
            check(&auth, Method::GET, "/dir/index.html", &md5),
            Check::Granted(_)
        ));
    }

    #[test]
    fn uri_must_be_the_request_target() {
        let origin: Uri = "/a?b=1".parse().unwrap();
        assert!(matches_target("/a?b=1", &origin));
        assert!(!matches_target("/a", &origin));
        assert!(!matches_target("/a?b=2", &origin));
        let absolute: Uri = "http://example.com/a?b=1".parse().unwrap();
        assert!(matches_target("/a?b=1", &absolute));
        assert!(matches_target("http://example.com/a?b=1", &absolute));
        assert!(!matches_target("http://other.com/a?b=1", &absolute));
    }

    #[test]
    fn challenge_has_fresh_nonces() {
        let auth =
            DigestAuth::new(["test:traefik:a2688e031edb4be6a3797f3882655c05"], None).unwrap();
        let a = auth.challenge(false).unwrap();
        let b = auth.challenge(true).unwrap();
        let a = a.to_str().unwrap();
        assert!(a.starts_with("Digest realm=\"traefik\", nonce=\""), "{a}");
        assert!(a.ends_with(", algorithm=MD5, qop=\"auth\""), "{a}");
        assert_ne!(a, b.to_str().unwrap());
        assert!(b.to_str().unwrap().ends_with(", stale=true"));
    }

    #[test]
    fn params() {
        let p = parse_params(r#"a=1, B="x, \"y\"" ,c="",,d = tok "#).unwrap();
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], r#"x, "y""#);
        assert_eq!(p["c"], "");
        assert_eq!(p["d"], "tok");
        assert_eq!(parse_params(r#"a="unterminated"#), None);
        assert_eq!(parse_params("a=1, a=2"), None);
        assert_eq!(parse_params(r#"a="x"y"#), None);
        assert_eq!(parse_params("novalue"), None);
    }

    #[test]
    fn bad_lines() {
        let err = DigestAuth::new(["test:traefik:nothex"], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"users[0]: user "test" has a malformed digest HA1 (32 hex digits) hash"#
        );
        let err = DigestAuth::new(["test:a2688e031edb4be6a3797f3882655c05"], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"users[0]: malformed entry for user "test": expected `user:realm:ha1`"#
        );
    }
}
