//! `[zookeeper.tls]`: TLS towards a ZooKeeper that listens on a `secureClientPort`. The
//! client verifies the server against `ca` (required: ZooKeeper's certificates are rarely
//! issued by a public CA) and presents `cert`/`key` when the server asks for a client
//! certificate (`ssl.clientAuth`). Each value is a path (relative to `trafik.toml`'s
//! directory) or the PEM itself, as everywhere else in trafik.

use std::path::Path;

use trafik_config::ClientTls;
use zookeeper_client as zk;

use crate::tls::certs::pem_bytes;

pub fn options(tls: &ClientTls, base_dir: &Path) -> Result<zk::TlsOptions, String> {
    if tls.insecure_skip_verify {
        return Err(
            "tls.insecureSkipVerify: the ZooKeeper client always verifies the \
                    server's certificate; give its CA as tls.ca"
                .to_string(),
        );
    }
    if tls.ca.trim().is_empty() {
        return Err("tls.ca: required (the CA that signed ZooKeeper's certificate)".to_string());
    }
    let ca = pem_text(&tls.ca, "tls.ca", base_dir)?;
    let mut options = zk::TlsOptions::new()
        .with_pem_ca(&ca)
        .map_err(|e| format!("tls.ca: {e}"))?;
    match (tls.cert.trim().is_empty(), tls.key.trim().is_empty()) {
        (true, true) => {}
        (false, false) => {
            let cert = pem_text(&tls.cert, "tls.cert", base_dir)?;
            let key = pem_text(&tls.key, "tls.key", base_dir)?;
            options = options
                .with_pem_identity(&cert, &key)
                .map_err(|e| format!("tls.cert, tls.key: {e}"))?;
        }
        _ => return Err("tls.cert and tls.key go together".to_string()),
    }
    Ok(options)
}

/// A path-or-PEM value as PEM text; a relative path is relative to `base_dir`.
fn pem_text(value: &str, what: &str, base_dir: &Path) -> Result<String, String> {
    let value = if value.contains("-----BEGIN") || Path::new(value).is_absolute() {
        value.to_string()
    } else {
        base_dir.join(value).to_string_lossy().into_owned()
    };
    let bytes = pem_bytes(&value, what)?;
    String::from_utf8(bytes).map_err(|_| format!("{what}: not PEM text"))
}
