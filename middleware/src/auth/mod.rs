//! Entry-point authentication with Traefik 1.x semantics (`[entryPoints.<name>.auth]`,
//! `middlewares/auth`, abbot/go-http-auth).
//!
//! [`AuthLayer`] passes on a request only with valid credentials; otherwise it answers
//! `401 Unauthorized` itself, with a `WWW-Authenticate` challenge and the body
//! `401 Unauthorized\n` (`text/plain; charset=utf-8`), without calling the inner service.
//!
//! | v1 | here |
//! |---|---|
//! | `basic.users`, `basic.usersFile` | [`BasicAuth::new`]: htpasswd lines `user:hash`, hashes bcrypt, apr1, MD5-crypt or `{SHA}` ([`htpasswd`]) |
//! | `digest.users`, `digest.usersFile` | [`DigestAuth::new`]: htdigest lines `user:realm:ha1`; RFC 2617 `qop=auth`, MD5 ([`digest`](DigestAuth)) |
//! | realm `traefik` (fixed in v1) | the default; [`BasicAuth::with_realm`], [`DigestAuth::with_realm`] |
//! | `headerField` | [`AuthLayer::header_field`] |
//! | `basic.removeHeader`, `digest.removeHeader` | [`AuthLayer::remove_header`] |
//! | `/ping` bypasses the API entry point's auth | [`AuthLayer::exempt_path`], [`AuthLayer::exempt_if`] |
//! | the whole table | [`AuthConfig`] and [`AuthLayer::from_config`] |
//!
//! In `users` and `usersFile` blank lines and `#` comments are skipped and file entries
//! win over list entries. Everything is checked at construction: an unreadable file, a
//! malformed line or an unknown or malformed hash is an [`AuthError`] naming the file or
//! list index, the line and the user (never the hash).
//!
//! **Forged identities.** With a `headerField`, that header is removed from *every*
//! request, exempt or not, before it is set to the authenticated user; so a backend can
//! trust it. An authenticated request also carries [`AuthUser`] in its extensions (v1 puts
//! the user in the request URL for its access log).
//!
//! **Digest nonces** are random, remembered for a bounded time and number, and each
//! response must raise the nonce count, so responses cannot be replayed; the details and
//! the trade-offs are in `nonce.rs`'s notes ([`DEFAULT_NONCE_LIFETIME`],
//! [`DEFAULT_MAX_NONCES`]).
//!
//! **bcrypt is slow by design** (tens of milliseconds at the usual costs). Inside a tokio
//! runtime the layer verifies it on the blocking pool ([`tokio::task::spawn_blocking`]) so
//! the async workers keep serving, a bounded number at a time with a bounded queue (past
//! it: `503`, without hashing), and remembers a success for a while so a legitimate
//! client pays once ([`BcryptLimit`], `slow.rs`); outside a runtime it verifies inline. The other schemes take
//! microseconds and are verified inline. Comparisons with stored hashes are
//! constant-time; an unknown user is refused without hashing, so, as in v1, timing can
//! tell whether a user exists.
//!
//! **Readiness.** [`Auth`] is ready when its inner service is. A bcrypt check moves the
//! ready inner service into the response future (keeping a clone), so the inner service
//! must be `Clone`.
//!
//! **Responses.** The service's answers need `ResBody: From<String>` (`String`,
//! `http_body_util::Full<Bytes>`, axum's `Body`…). Inner errors are passed on unchanged.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{HeaderName, Request, Response};
//! use tower::{Layer, service_fn};
//! use trafik_middleware::auth::{AuthLayer, BasicAuth};
//!
//! let users = BasicAuth::new(["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"], None)?;
//! let layer = AuthLayer::new(users)
//!     .header_field(HeaderName::from_static("x-webauth-user"))
//!     .remove_header(true)
//!     .exempt_path("/ping");
//! let _svc = layer.layer(service_fn(|_: Request<()>| async {
//!     Ok::<_, Infallible>(Response::new(String::new()))
//! }));
//! # Ok::<_, trafik_middleware::auth::AuthError>(())
//! ```

mod basic;
mod config;
mod digest;
mod error;
mod header;
pub mod htpasswd;
mod layer;
mod nonce;
mod slow;
mod users;

pub use basic::{BasicAuth, DEFAULT_REALM};
pub use config::{AuthConfig, UsersConfig};
pub use digest::DigestAuth;
pub use error::{AuthError, Location};
pub use layer::{Auth, AuthLayer, AuthUser, Authenticator, ResponseFuture};
pub use nonce::{DEFAULT_MAX_NONCES, DEFAULT_NONCE_LIFETIME};
pub use slow::{Admitted, BcryptLimit, DEFAULT_WAITING_PER_CORE, MAX_VERIFIED, VERIFIED_FOR};
