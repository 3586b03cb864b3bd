//! v1's auth annotations: `auth-type` `basic` or `digest` with the users of the Secret
//! `auth-secret` (htpasswd lines), or `forward` to `auth-url`, with a client certificate
//! from the Secret `auth-tls-secret`.

use k8s_openapi::api::core::v1::Secret;

use super::annotations::{Annotations, csv, go_bool};
use super::index::Index;
use super::tls::pem_pair;
use crate::model::{Auth, ClientTls, Forward, Users};

/// The annotations this file reads (short names).
pub const KNOWN: [&str; 10] = [
    "auth-type",
    "auth-secret",
    "auth-realm",
    "auth-header-field",
    "auth-remove-header",
    "auth-url",
    "auth-trust-headers",
    "auth-response-headers",
    "auth-tls-secret",
    "auth-tls-insecure",
];

/// v1 has no realm setting: only its own (or none) is accepted.
const REALM: &str = "traefik";

/// The auth the Ingress asks for; `Err((annotation, why))` when it cannot be had (the
/// Ingress is then left out: never served without the auth it asked for).
pub fn auth(
    cluster: &Index<'_>,
    ns: &str,
    a: &Annotations<'_>,
) -> Result<Option<Auth>, (String, String)> {
    if let Some((key, realm)) = a.value("auth-realm")
        && realm != REALM
    {
        return Err((
            key,
            format!("{realm:?}: no realm but {REALM:?} is supported (v1)"),
        ));
    }
    let Some((type_key, kind)) = a.value("auth-type") else {
        return Ok(None);
    };
    // (Other auth annotations without auth-type are warned about by the caller.)
    let mut auth = Auth {
        header_field: a
            .value("auth-header-field")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default(),
        ..Auth::default()
    };
    match kind.to_ascii_lowercase().as_str() {
        kind @ ("basic" | "digest") => {
            let users = Users {
                users: users(cluster, ns, a, &type_key)?,
                remove_header: flag(a, "auth-remove-header")?,
                ..Users::default()
            };
            if kind == "basic" {
                auth.basic = Some(users);
            } else {
                auth.digest = Some(users);
            }
        }
        "forward" => auth.forward = Some(forward(cluster, ns, a, &type_key)?),
        _ => {
            return Err((
                type_key,
                format!("{kind:?} is not basic, digest or forward"),
            ));
        }
    }
    Ok(Some(auth))
}

/// The htpasswd lines of the Secret `auth-secret`: its `auth` entry (the form
/// `htpasswd` and other controllers' docs create), else `users`, else its only entry (v1).
fn users(
    cluster: &Index<'_>,
    ns: &str,
    a: &Annotations<'_>,
    type_key: &str,
) -> Result<Vec<String>, (String, String)> {
    let Some((key, name)) = a.value("auth-secret") else {
        return Err((
            type_key.to_string(),
            "basic and digest need the annotation ingress.kubernetes.io/auth-secret".to_string(),
        ));
    };
    let secret = secret(cluster, ns, name).map_err(|why| (key.clone(), why))?;
    let data = secret.data.as_ref();
    let entry = data
        .and_then(|d| d.get("auth").or_else(|| d.get("users")))
        .or_else(|| {
            data.filter(|d| d.len() == 1)
                .and_then(|d| d.values().next())
        })
        .ok_or_else(|| {
            (
                key.clone(),
                format!("secret {ns}/{name} has no `auth` or `users` entry"),
            )
        })?;
    let text = std::str::from_utf8(&entry.0).map_err(|_| {
        (
            key.clone(),
            format!("secret {ns}/{name}: users are not text"),
        )
    })?;
    let mut users = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((user, hash)) = line.split_once(':') else {
            return Err((
                key,
                format!("secret {ns}/{name}: a line is not user:hash (htpasswd)"),
            ));
        };
        if user.is_empty() || hash.is_empty() {
            return Err((
                key,
                format!("secret {ns}/{name}: a line is not user:hash (htpasswd)"),
            ));
        }
        users.push(line.to_string());
    }
    if users.is_empty() {
        return Err((key, format!("secret {ns}/{name} holds no user")));
    }
    Ok(users)
}

fn forward(
    cluster: &Index<'_>,
    ns: &str,
    a: &Annotations<'_>,
    type_key: &str,
) -> Result<Forward, (String, String)> {
    let Some((url_key, address)) = a.value("auth-url") else {
        return Err((
            type_key.to_string(),
            "forward needs the annotation ingress.kubernetes.io/auth-url".to_string(),
        ));
    };
    if !(address.starts_with("http://") || address.starts_with("https://"))
        || address.contains(char::is_whitespace)
    {
        return Err((
            url_key,
            format!("{address:?} is not an http:// or https:// URL"),
        ));
    }
    let mut forward = Forward {
        address: address.to_string(),
        trust_forward_header: flag(a, "auth-trust-headers")?,
        auth_response_headers: a
            .value("auth-response-headers")
            .map(|(_, v)| csv(v))
            .unwrap_or_default(),
        ..Forward::default()
    };
    if let Some((key, name)) = a.value("auth-tls-secret") {
        let found = secret(cluster, ns, name).map_err(|why| (key.clone(), why))?;
        let pair =
            pem_pair(found).map_err(|why| (key.clone(), format!("secret {ns}/{name} {why}")))?;
        forward.tls = Some(ClientTls {
            cert: pair.cert_file,
            key: pair.key_file,
            insecure_skip_verify: flag(a, "auth-tls-insecure")?,
            ..ClientTls::default()
        });
    }
    Ok(forward)
}

fn secret<'a>(cluster: &Index<'a>, ns: &str, name: &str) -> Result<&'a Secret, String> {
    cluster
        .secret(ns, name)
        .ok_or_else(|| format!("secret {ns}/{name} does not exist"))
}

/// A boolean annotation, false when unset.
fn flag(a: &Annotations<'_>, short: &str) -> Result<bool, (String, String)> {
    match a.value(short) {
        None => Ok(false),
        Some((key, v)) => go_bool(v).ok_or((key, format!("{v:?} is not a boolean"))),
    }
}
