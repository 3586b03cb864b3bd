//! A frontend's `auth` and deprecated `basicAuth`, compiled. A bad htpasswd line, an
//! unreadable usersFile, a bad forward address or TLS file skips the frontend, located at
//! the key, rather than serving it open. Entry points build their `auth` with the same
//! [`check`] (errors there stop trafik at start).

use std::path::Path;

use trafik_config::{Diagnostic, Frontend};
use trafik_middleware::auth::{AuthConfig, AuthError, AuthLayer, Location, UsersConfig};

use crate::forward_auth::ForwardAuth;
use crate::frontend::auth::{Check, FrontendAuth};
use crate::provider::SourceMap;

/// Why an auth table does not build: the key path under it, and the message.
#[derive(Debug)]
pub struct Invalid {
    pub key: Vec<String>,
    pub message: String,
}

/// `Ok(None)`: neither option. `Err(())`: reported in `problems`; skip the frontend.
pub(super) fn frontend(
    name: &str,
    frontend: &Frontend,
    sources: &SourceMap,
    problems: &mut Vec<Diagnostic>,
) -> Result<Option<Box<FrontendAuth>>, ()> {
    let mut report = |key: &[String], message: String| {
        let path: Vec<String> = ["frontends", name]
            .iter()
            .map(|s| s.to_string())
            .chain(key.iter().cloned())
            .collect();
        problems.push(sources.diagnostic(&path, format!("frontend {name:?} skipped: {message}")));
    };
    let deprecated = if frontend.basic_auth.is_empty() {
        None
    } else {
        let config = AuthConfig {
            basic: Some(UsersConfig {
                users: frontend.basic_auth.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        match AuthLayer::from_config(&config) {
            Ok(layer) => Some(layer),
            Err(e) => {
                // The list is `basicAuth` itself: its index, not `users`'.
                let mut key = vec!["basicAuth".to_string()];
                if let Some(Location::Users { index }) = location(&e) {
                    key.push(index.to_string());
                }
                report(&key, format!("basicAuth: {e}"));
                return Err(());
            }
        }
    };
    let auth = match &frontend.auth {
        None => None,
        // Relative usersFile paths are read from trafik's working directory, as v1 did
        // for a provider's files.
        Some(a) => match check(a, Path::new(""), &[]) {
            Ok(check) => Some(check),
            Err(e) => {
                let key: Vec<String> = std::iter::once("auth".to_string()).chain(e.key).collect();
                report(&key, format!("auth: {}", e.message));
                return Err(());
            }
        },
    };
    Ok((deprecated.is_some() || auth.is_some())
        .then(|| Box::new(FrontendAuth { deprecated, auth })))
}

/// One `auth` table as a [`Check`]: `basic`, else `digest`, else `forward` (v1's order).
/// `base_dir`: where a relative `usersFile` is; `exempt_paths`: paths let through
/// without credentials (the entry point's `/ping`).
pub fn check(
    auth: &trafik_config::Auth,
    base_dir: &Path,
    exempt_paths: &[String],
) -> Result<Check, Invalid> {
    let users = |u: &trafik_config::Users| UsersConfig {
        users: u.users.clone(),
        users_file: (!u.users_file.is_empty()).then(|| base_dir.join(&u.users_file)),
        remove_header: u.remove_header,
        realm: None,
    };
    if auth.basic.is_none()
        && auth.digest.is_none()
        && let Some(forward) = &auth.forward
    {
        return ForwardAuth::new(forward)
            .map(|f| Check::Forward(Box::new(f)))
            .map_err(|e| Invalid {
                key: std::iter::once("forward".to_string())
                    .chain(e.key)
                    .collect(),
                message: format!("forward: {}", e.message),
            });
    }
    let config = AuthConfig {
        basic: auth.basic.as_ref().map(users),
        digest: auth.digest.as_ref().map(users),
        header_field: (!auth.header_field.is_empty()).then(|| auth.header_field.clone()),
        exempt_paths: exempt_paths.to_vec(),
    };
    AuthLayer::from_config(&config)
        .map(Check::Users)
        .map_err(|e| {
            let method = if auth.basic.is_some() {
                "basic"
            } else {
                "digest"
            };
            let key: Vec<String> = match (&e, location(&e)) {
                (_, Some(Location::Users { index })) => {
                    vec![method.into(), "users".into(), index.to_string()]
                }
                (_, Some(Location::File { .. })) | (AuthError::UsersFile { .. }, _) => {
                    vec![method.into(), "usersFile".into()]
                }
                (AuthError::HeaderField(_), _) => vec!["headerField".into()],
                (AuthError::NoMethod, _) => Vec::new(),
                _ => vec![method.into()],
            };
            let message = match e {
                AuthError::NoMethod => "sets neither basic, digest nor forward".to_string(),
                e => e.to_string(),
            };
            Invalid { key, message }
        })
}

/// Where a users error's line came from, when it names one.
fn location(e: &AuthError) -> Option<&Location> {
    match e {
        AuthError::BadLine { at, .. }
        | AuthError::UnsupportedHash { at, .. }
        | AuthError::MalformedHash { at, .. } => Some(at),
        _ => None,
    }
}
