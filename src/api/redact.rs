//! What the API shows of a configuration: everything as it was sent, but secrets. A
//! provider's configuration may carry a TLS private key given inline as PEM, password
//! hashes (`users` lists of `user:hash`), credentials in a server URL, or a health check's
//! `Authorization` header; none of these is served, whoever may read the API.
//!
//! Redaction works on the JSON the API serves, by field name, wherever the field sits, so
//! a secret field added to the model later is caught as long as it has one of these names:
//!
//! | field | shown as |
//! |---|---|
//! | `keyFile`, `key` (forward auth's client key), inline PEM | `"<redacted>"`; a file path is shown as is |
//! | `users`, `basicAuth` (`user:hash`, `user:realm:ha1`) | `"user:<redacted>"` |
//! | `password`, `secret`, `token`, `privateKey`, `dcosToken`, `httpBasicPassword` (any case) | `"<redacted>"` |
//! | `url`, `address` (forward auth's), `endpoint` (a store's: `redis://:pw@host`) with a password (`scheme://user:pw@host`) | `scheme://user:<redacted>@host` |
//! | `headers` entries `Authorization`, `Proxy-Authorization`, `Cookie` | `"<redacted>"` |

use serde_json::Value;

pub const REDACTED: &str = "<redacted>";

/// Fields whose string value is a secret wherever they appear (compared lowercased).
const SECRET_FIELDS: [&str; 6] = [
    "password",
    "secret",
    "token",
    "privatekey",
    // [marathon]'s `dcosToken` and `[marathon.basic]`'s `httpBasicPassword`.
    "dcostoken",
    "httpbasicpassword",
];

/// Request headers that carry credentials.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// A configuration as the API may show it.
pub fn configuration(config: &trafik_config::Configuration) -> Value {
    let mut value = serde_json::to_value(config).unwrap_or(Value::Null);
    redact(&mut value);
    value
}

/// Redacts secrets in `value`, recursively.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (field, v) in map.iter_mut() {
                redact_field(field, v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn redact_field(field: &str, value: &mut Value) {
    let lower = field.to_ascii_lowercase();
    match (lower.as_str(), &mut *value) {
        ("keyfile" | "key", Value::String(s)) if !is_path(s) => *s = REDACTED.into(),
        ("users" | "basicauth", Value::Array(items)) => {
            for item in items {
                if let Value::String(line) = item {
                    *line = redact_user_line(line);
                } else {
                    redact(item);
                }
            }
        }
        (f, Value::String(s)) if SECRET_FIELDS.contains(&f) => *s = REDACTED.into(),
        ("url" | "address" | "endpoint", Value::String(s)) => {
            if let Some(redacted) = redact_url(s) {
                *s = redacted;
            }
        }
        ("headers", Value::Object(headers)) => {
            for (name, v) in headers.iter_mut() {
                if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        _ => redact(value),
    }
}

/// What trafik reads as a file path (`tls::certs`: a value holding a PEM block is the key
/// itself) and is safe to show: one line, no PEM armour.
fn is_path(value: &str) -> bool {
    !value.contains("-----") && !value.contains('\n')
}

/// `user:anything` ⇒ `user:<redacted>`; without a `:` the whole line may be a secret.
fn redact_user_line(line: &str) -> String {
    match line.split_once(':') {
        Some((user, _)) => format!("{user}:{REDACTED}"),
        None => REDACTED.into(),
    }
}

/// `scheme://user:password@host…` ⇒ `scheme://user:<redacted>@host…`; `None` when the URL
/// carries no password.
fn redact_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host) = authority.rsplit_once('@')?;
    let (user, _) = userinfo.split_once(':')?;
    Some(format!("{scheme}://{user}:{REDACTED}@{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trafik_config::{Certificate, Configuration, TlsConfiguration};

    const PEM_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

    #[test]
    fn inline_keys_are_redacted_and_paths_shown() {
        let config = Configuration {
            tls: vec![
                TlsConfiguration {
                    entry_points: vec!["https".into()],
                    certificate: Certificate {
                        cert_file: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
                            .into(),
                        key_file: PEM_KEY.into(),
                    },
                },
                TlsConfiguration {
                    entry_points: vec![],
                    certificate: Certificate {
                        cert_file: "/etc/trafik/a.crt".into(),
                        key_file: "/etc/trafik/a.key".into(),
                    },
                },
            ],
            ..Configuration::default()
        };
        let v = configuration(&config);
        assert_eq!(v["tls"][0]["certificate"]["keyFile"], REDACTED);
        assert!(
            v["tls"][0]["certificate"]["certFile"]
                .as_str()
                .unwrap()
                .contains("BEGIN CERTIFICATE"),
            "certificates are public"
        );
        assert_eq!(v["tls"][1]["certificate"]["keyFile"], "/etc/trafik/a.key");
        assert!(!v.to_string().contains("PRIVATE KEY"));
    }

    #[test]
    fn users_keep_their_names_only() {
        let mut v = json!({"frontends": {"f": {"auth": {"basic": {
            "users": ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "d:realm:a2688e03", "nocolon"],
            "usersFile": "/etc/users"
        }}}}});
        redact(&mut v);
        assert_eq!(
            v["frontends"]["f"]["auth"]["basic"]["users"],
            json!(["test:<redacted>", "d:<redacted>", "<redacted>"])
        );
        assert_eq!(
            v["frontends"]["f"]["auth"]["basic"]["usersFile"],
            "/etc/users"
        );
    }

    #[test]
    fn frontend_auth_secrets() {
        let mut v = json!({"frontends": {"f": {
            "basicAuth": ["old:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"],
            "auth": {"forward": {"address": "https://auth:9000/check", "tls": {
                "ca": "/etc/ca.pem", "cert": "/etc/c.pem", "key": PEM_KEY
            }}}
        }, "g": {"auth": {"forward": {"tls": {"key": "/etc/k.pem"}}}}}});
        redact(&mut v);
        let f = &v["frontends"]["f"];
        assert_eq!(f["basicAuth"], json!(["old:<redacted>"]));
        assert_eq!(f["auth"]["forward"]["tls"]["key"], REDACTED);
        assert_eq!(f["auth"]["forward"]["tls"]["cert"], "/etc/c.pem");
        assert_eq!(f["auth"]["forward"]["address"], "https://auth:9000/check");
        let mut a = json!({"address": "http://u:pw@auth/x"});
        redact(&mut a);
        assert_eq!(a["address"], "http://u:<redacted>@auth/x");
        assert_eq!(
            v["frontends"]["g"]["auth"]["forward"]["tls"]["key"], "/etc/k.pem",
            "a path is shown"
        );
    }

    #[test]
    fn secret_fields_urls_and_headers() {
        let mut v = json!({
            "backends": {"b": {
                "servers": {"s": {"url": "http://bob:hunter2@10.0.0.1:80/x?y", "weight": 1},
                            "t": {"url": "http://10.0.0.2:80"}},
                "healthCheck": {"path": "/h", "headers": {
                    "Authorization": "Bearer abc", "cookie": "s=1", "X-Check": "1"
                }}
            }},
            "forwardAuth": {"tls": {"Password": "p", "token": "t", "privateKey": "k", "name": "n"}}
        });
        redact(&mut v);
        let s = &v["backends"]["b"]["servers"];
        assert_eq!(s["s"]["url"], "http://bob:<redacted>@10.0.0.1:80/x?y");
        assert_eq!(s["t"]["url"], "http://10.0.0.2:80");
        let h = &v["backends"]["b"]["healthCheck"]["headers"];
        assert_eq!(h["Authorization"], REDACTED);
        assert_eq!(h["cookie"], REDACTED);
        assert_eq!(h["X-Check"], "1");
        let t = &v["forwardAuth"]["tls"];
        assert_eq!(t["Password"], REDACTED);
        assert_eq!(t["token"], REDACTED);
        assert_eq!(t["privateKey"], REDACTED);
        assert_eq!(t["name"], "n");
    }

    #[test]
    fn urls_without_passwords_are_left_alone() {
        assert_eq!(redact_url("http://a.b:80/p"), None);
        assert_eq!(redact_url("http://user@a.b"), None);
        assert_eq!(redact_url("http://a.b/p@q"), None, "an @ in the path");
        assert_eq!(
            redact_url("https://u:p:q@h/").as_deref(),
            Some("https://u:<redacted>@h/")
        );
    }

    #[test]
    fn a_store_endpoint_url_hides_its_password() {
        let mut v =
            json!({"redis": {"endpoint": "redis://:s3cret@10.0.0.1:6379/2", "password": "p"}});
        redact(&mut v);
        assert_eq!(
            v["redis"]["endpoint"],
            "redis://:<redacted>@10.0.0.1:6379/2"
        );
        assert_eq!(v["redis"]["password"], REDACTED);
    }
}

/// `[marathon]`'s secrets, should a provider table ever be shown.
#[cfg(test)]
mod marathon_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marathon_credentials_are_redacted() {
        let table = trafik_config::Marathon {
            dcos_token: "t0k".into(),
            basic: Some(trafik_config::MarathonBasic {
                http_basic_auth_user: "u".into(),
                http_basic_password: "p".into(),
            }),
            ..Default::default()
        };
        let mut v = json!({ "marathon": serde_json::to_value(&table).unwrap() });
        redact(&mut v);
        assert_eq!(v["marathon"]["dcosToken"], REDACTED);
        assert_eq!(v["marathon"]["basic"]["httpBasicPassword"], REDACTED);
        assert_eq!(v["marathon"]["basic"]["httpBasicAuthUser"], "u");
    }
}
