//! `[redis]` → a `redis::Client`: the endpoint (`host:port` or a `redis://` / `rediss://`
//! URL), the credentials, the database and `[redis.tls]`. No I/O but reading the TLS
//! files: a table that cannot work is refused at start with the key at fault.

use std::path::Path;

use ::redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use trafik_config::{ClientTls, KvProvider, KvStoreKind};

use crate::tls::certs;

/// The client, and the endpoint as error messages name it (no credentials).
pub struct Target {
    pub client: ::redis::Client,
    pub endpoint: String,
    pub db: i64,
}

pub fn target(table: &KvProvider, base_dir: &Path) -> Result<Target, String> {
    let endpoint = table.endpoint(KvStoreKind::Redis).trim().to_string();
    let url = if endpoint.contains("://") {
        endpoint.clone()
    } else {
        // `host:port` as v1 wrote it; TLS only when `[redis.tls]` asks for it.
        let scheme = if table.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://{endpoint}")
    };
    let info = url
        .as_str()
        .into_connection_info()
        .map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
    let (host, port, tls_in_url) = match info.addr() {
        ConnectionAddr::Tcp(host, port) => (host.clone(), *port, false),
        ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port, true),
        _ => {
            return Err(format!(
                "endpoint {endpoint:?}: only host:port, redis:// and rediss:// are supported"
            ));
        }
    };
    if table.tls.is_some() && !tls_in_url {
        return Err(format!(
            "endpoint {endpoint:?} is redis:// but [redis.tls] is set: use rediss:// (or host:port)"
        ));
    }

    // The table's keys win over the URL's; the URL's over the defaults.
    let mut redis = info.redis_settings().clone();
    if let Some(db) = table.db {
        if db < 0 {
            return Err(format!("db = {db}: a database number is 0 or more"));
        }
        redis = redis.set_db(db);
    }
    if let Some(user) = table.username.as_deref().filter(|u| !u.is_empty()) {
        redis = redis.set_username(user);
    }
    if let Some(password) = table.password.as_deref().filter(|p| !p.is_empty()) {
        redis = redis.set_password(password);
    }
    let db = redis.db();
    let shown = format!("{host}:{port}");

    let Some(tls) = &table.tls else {
        let addr = if tls_in_url {
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host, port)
        };
        let info = info.set_addr(addr).set_redis_settings(redis);
        let client = ::redis::Client::open(info).map_err(|e| format!("endpoint: {e}"))?;
        return Ok(Target {
            client,
            endpoint: shown,
            db,
        });
    };

    let addr = ConnectionAddr::TcpTls {
        host,
        port,
        insecure: tls.insecure_skip_verify,
        tls_params: None,
    };
    let info: ConnectionInfo = info.set_addr(addr).set_redis_settings(redis);
    let client = ::redis::Client::build_with_tls(info, certificates(tls, base_dir)?)
        .map_err(|e| format!("[redis.tls]: {e}"))?;
    Ok(Target {
        client,
        endpoint: shown,
        db,
    })
}

/// `[redis.tls]`'s files (or inline PEM): `ca` alone is trusted when given, else the
/// system's roots; `cert` with `key` is the client certificate.
fn certificates(tls: &ClientTls, base_dir: &Path) -> Result<::redis::TlsCertificates, String> {
    let read = |value: &str, what: &str| certs::pem_bytes(&resolve(value, base_dir), what);
    let root_cert = if tls.ca.trim().is_empty() {
        None
    } else {
        Some(read(&tls.ca, "[redis.tls] ca")?)
    };
    let client_tls = match (tls.cert.trim().is_empty(), tls.key.trim().is_empty()) {
        (true, true) => None,
        (false, false) => Some(::redis::ClientTlsConfig {
            client_cert: read(&tls.cert, "[redis.tls] cert")?,
            client_key: read(&tls.key, "[redis.tls] key")?,
        }),
        _ => return Err("[redis.tls]: cert and key go together".to_string()),
    };
    Ok(::redis::TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// A relative path is relative to the configuration file's directory; inline PEM is kept.
fn resolve(value: &str, base_dir: &Path) -> String {
    if value.contains("-----BEGIN") || Path::new(value).is_absolute() {
        value.to_string()
    } else {
        base_dir.join(value).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> KvProvider {
        let cfg = trafik_config::load_static("t.toml", text).unwrap().value;
        cfg.redis.unwrap()
    }

    fn addr(t: &Target) -> String {
        format!("{:?}", t.client.get_connection_info().addr())
    }

    #[test]
    fn defaults_are_v1s() {
        let t = target(&table("[redis]\n"), Path::new(".")).unwrap();
        assert_eq!(t.endpoint, "127.0.0.1:6379");
        assert_eq!(t.db, 0);
        assert!(addr(&t).starts_with("Tcp("), "{}", addr(&t));
    }

    #[test]
    fn table_keys_win_over_the_url() {
        let text =
            "[redis]\nendpoint = \"redis://u:urlpw@10.0.0.1:7000/2\"\ndb = 3\npassword = \"p\"\n";
        let t = target(&table(text), Path::new(".")).unwrap();
        assert_eq!(t.endpoint, "10.0.0.1:7000");
        assert_eq!(t.db, 3);
        let redis = t.client.get_connection_info().redis_settings();
        assert_eq!(redis.password(), Some("p"));
        assert_eq!(redis.username(), Some("u"));
    }

    #[test]
    fn url_db_applies_without_the_key() {
        let t = target(
            &table("[redis]\nendpoint = \"redis://h:1/5\"\n"),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(t.db, 5);
    }

    #[test]
    fn tls_table_makes_host_port_rediss() {
        let text = "[redis]\nendpoint = \"h:6380\"\n[redis.tls]\ninsecureSkipVerify = true\n";
        let t = target(&table(text), Path::new(".")).unwrap();
        assert!(addr(&t).starts_with("TcpTls"), "{}", addr(&t));
    }

    #[test]
    fn unusable_tables_are_refused_by_key() {
        let cases = [
            ("[redis]\ndb = -1\n", "db = -1"),
            ("[redis]\nendpoint = \"http://h:1\"\n", "endpoint"),
            (
                "[redis]\nendpoint = \"redis://h:1\"\n[redis.tls]\nca = \"x\"\n",
                "rediss://",
            ),
            ("[redis]\n[redis.tls]\nca = \"missing.pem\"\n", "ca"),
            ("[redis]\n[redis.tls]\ncert = \"c.pem\"\n", "cert and key"),
        ];
        for (text, expect) in cases {
            let e = target(&table(text), Path::new("/nonexistent"))
                .err()
                .unwrap_or_else(|| panic!("{text} was accepted"));
            assert!(e.contains(expect), "{text}: {e}");
        }
    }
}
