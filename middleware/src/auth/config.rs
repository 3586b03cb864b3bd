//! v1's `[entryPoints.<name>.auth]` (and a frontend's `[frontends.<name>.auth]`) as plain
//! data, for building an [`AuthLayer`] in one step from parsed configuration.

use std::path::PathBuf;

use http::header::HeaderName;

use super::basic::BasicAuth;
use super::digest::DigestAuth;
use super::error::AuthError;
use super::layer::{AuthLayer, Authenticator};

/// The auth table. When both `basic` and `digest` are set, `basic` is used and `digest`
/// ignored, as in v1.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub basic: Option<UsersConfig>,
    pub digest: Option<UsersConfig>,
    /// `headerField`; `None` or empty: none.
    pub header_field: Option<String>,
    /// Paths let through without credentials, e.g. `/ping` on the API entry point.
    pub exempt_paths: Vec<String>,
}

/// `[auth.basic]` or `[auth.digest]`.
#[derive(Debug, Clone, Default)]
pub struct UsersConfig {
    /// `user:hash` (basic) or `user:realm:ha1` (digest) lines.
    pub users: Vec<String>,
    /// `usersFile`; `None` or empty: none. Its entries win over `users`.
    pub users_file: Option<PathBuf>,
    /// `removeHeader`.
    pub remove_header: bool,
    /// `None`: `"traefik"`, v1's fixed realm.
    pub realm: Option<String>,
}

impl AuthLayer {
    /// Loads the users (reading `usersFile`) and checks every line, hash, realm and the
    /// header name now, so a bad configuration fails before serving.
    pub fn from_config(config: &AuthConfig) -> Result<Self, AuthError> {
        let (authenticator, users): (Authenticator, _) = match (&config.basic, &config.digest) {
            (Some(users), _) => {
                let mut auth = BasicAuth::new(&users.users, users.users_file.as_deref())?;
                if let Some(realm) = &users.realm {
                    auth = auth.with_realm(realm)?;
                }
                (auth.into(), users)
            }
            (None, Some(users)) => {
                let mut auth = DigestAuth::new(&users.users, users.users_file.as_deref())?;
                if let Some(realm) = &users.realm {
                    auth = auth.with_realm(realm)?;
                }
                (auth.into(), users)
            }
            (None, None) => return Err(AuthError::NoMethod),
        };
        let mut layer = AuthLayer::new(authenticator).remove_header(users.remove_header);
        if let Some(field) = config.header_field.as_deref().filter(|f| !f.is_empty()) {
            let name = HeaderName::try_from(field)
                .map_err(|_| AuthError::HeaderField(field.to_owned()))?;
            layer = layer.header_field(name);
        }
        for path in &config.exempt_paths {
            layer = layer.exempt_path(path.clone());
        }
        Ok(layer)
    }
}
