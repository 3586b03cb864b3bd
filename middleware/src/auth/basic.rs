//! Basic authentication (RFC 7617) against htpasswd users: v1's `[auth.basic]`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};

use super::error::AuthError;
use super::header::{check_realm, credentials, quote};
use super::htpasswd::{HashError, PasswordHash};
use super::users;

/// The default realm: v1's, fixed there.
pub const DEFAULT_REALM: &str = "traefik";

/// Users (`user:hash` lines) checked with Basic authentication.
#[derive(Clone)]
pub struct BasicAuth {
    realm: String,
    challenge: HeaderValue,
    users: HashMap<String, PasswordHash>,
}

impl BasicAuth {
    /// v1's `users` and `usersFile` (htpasswd format); file entries win over list entries
    /// for the same user. Fails on an unreadable file, a line that is not `user:hash`, or a
    /// hash of an unsupported or malformed [scheme](super::htpasswd). The realm is
    /// [`DEFAULT_REALM`].
    pub fn new<I, S>(users: I, users_file: Option<&Path>) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut map = HashMap::new();
        for line in users::load(users, users_file)? {
            let [user, hash] = line.fields::<2>("user:hash")?;
            let hash = hash.parse::<PasswordHash>().map_err(|e| match e {
                HashError::Unsupported => AuthError::UnsupportedHash {
                    at: line.at.clone(),
                    user: user.to_owned(),
                },
                HashError::Malformed(kind) => AuthError::MalformedHash {
                    at: line.at.clone(),
                    user: user.to_owned(),
                    kind,
                },
            })?;
            map.insert(user.to_owned(), hash);
        }
        BasicAuth {
            realm: String::new(),
            challenge: HeaderValue::from_static(""),
            users: map,
        }
        .with_realm(DEFAULT_REALM)
    }

    /// The realm named in the challenge (`Basic realm="…"`).
    pub fn with_realm(mut self, realm: &str) -> Result<Self, AuthError> {
        check_realm(realm)?;
        let challenge = format!("Basic realm={}", quote(realm));
        self.challenge =
            HeaderValue::from_str(&challenge).map_err(|_| AuthError::Realm(realm.to_owned()))?;
        self.realm = realm.to_owned();
        Ok(self)
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Whether `user` is known.
    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether `user` has `password`. May take tens of milliseconds (bcrypt).
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        self.users.get(user).is_some_and(|h| h.verify(password))
    }

    /// The `WWW-Authenticate` value of a `401`.
    pub(super) fn challenge(&self) -> HeaderValue {
        self.challenge.clone()
    }

    /// Checks the request's credentials; a bcrypt hash is left for the caller to verify
    /// where blocking is harmless.
    pub(super) fn check(&self, headers: &HeaderMap) -> Check {
        let Some((user, password)) = credentials(headers, "Basic").and_then(decode) else {
            return Check::Denied;
        };
        // An unknown user is refused at once: like v1, this does not hide which users
        // exist from someone timing the answers.
        let Some(hash) = self.users.get(&user) else {
            return Check::Denied;
        };
        if hash.is_slow() {
            return Check::Slow(SlowCheck {
                user,
                hash: hash.clone(),
                password,
            });
        }
        if hash.verify(&password) {
            Check::Granted(user)
        } else {
            Check::Denied
        }
    }
}

/// `base64(user:password)`; the user must be UTF-8 (it is looked up), the password is bytes.
fn decode(b64: &str) -> Option<(String, Vec<u8>)> {
    let raw = STANDARD.decode(b64).ok()?;
    let colon = raw.iter().position(|&b| b == b':')?;
    let user = std::str::from_utf8(&raw[..colon]).ok()?.to_owned();
    Some((user, raw[colon + 1..].to_vec()))
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&str> = self.users.keys().map(String::as_str).collect();
        users.sort_unstable();
        f.debug_struct("BasicAuth")
            .field("realm", &self.realm)
            .field("users", &users)
            .finish()
    }
}

pub(super) enum Check {
    Granted(String),
    Denied,
    Slow(SlowCheck),
}

/// A bcrypt verification still to run.
pub(super) struct SlowCheck {
    pub user: String,
    hash: PasswordHash,
    password: Vec<u8>,
}

impl SlowCheck {
    pub fn run(&self) -> bool {
        self.hash.verify(&self.password)
    }

    pub fn password(&self) -> &[u8] {
        &self.password
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::AUTHORIZATION;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    fn basic(user_pass: &str) -> HeaderMap {
        headers(&format!("Basic {}", STANDARD.encode(user_pass)))
    }

    #[test]
    fn checks_credentials() {
        let auth = BasicAuth::new(["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"], None).unwrap();
        assert!(matches!(auth.check(&basic("test:test")), Check::Granted(u) if u == "test"));
        assert!(matches!(auth.check(&basic("test:nope")), Check::Denied));
        assert!(matches!(auth.check(&basic("other:test")), Check::Denied));
        assert!(matches!(auth.check(&basic("test")), Check::Denied));
        assert!(matches!(auth.check(&headers("Basic !!!")), Check::Denied));
        assert!(matches!(auth.check(&HeaderMap::new()), Check::Denied));
        assert_eq!(auth.challenge(), "Basic realm=\"traefik\"");
    }

    #[test]
    fn password_may_contain_colons() {
        let hash = super::super::htpasswd::apr1(b"a:b", "salt");
        let auth = BasicAuth::new([format!("u:{hash}")], None).unwrap();
        assert!(matches!(auth.check(&basic("u:a:b")), Check::Granted(_)));
    }

    #[test]
    fn bcrypt_is_left_to_the_caller() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let auth = BasicAuth::new([format!("u:{hash}")], None).unwrap();
        let Check::Slow(job) = auth.check(&basic("u:pw")) else {
            panic!("bcrypt should be checked off-thread");
        };
        assert_eq!(job.user, "u");
        assert!(job.run());
        let Check::Slow(job) = auth.check(&basic("u:bad")) else {
            panic!()
        };
        assert!(!job.run());
    }

    #[test]
    fn debug_lists_users_not_hashes() {
        let auth = BasicAuth::new(
            [
                "b:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
                "a:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
            ],
            None,
        )
        .unwrap();
        let debug = format!("{auth:?}");
        assert_eq!(
            debug,
            r#"BasicAuth { realm: "traefik", users: ["a", "b"] }"#
        );
    }

    #[test]
    fn realm_is_quoted_and_checked() {
        let auth = BasicAuth::new(Vec::<String>::new(), None).unwrap();
        let auth = auth.with_realm(r#"my "realm""#).unwrap();
        assert_eq!(auth.challenge(), r#"Basic realm="my \"realm\"""#);
        assert!(matches!(auth.with_realm("a\nb"), Err(AuthError::Realm(_))));
    }
}
