//! Session resumption for TLS entry points: a returning client skips the certificate and
//! the key exchange's signature (the costly part of a full handshake) by presenting what
//! an earlier handshake gave it.
//!
//! * **Tickets** (TLS 1.3 and 1.2): the session is sealed into the ticket itself with a
//!   key only this process knows (rustls' aws-lc-rs `Ticketer`: AES-256 + HMAC-SHA256,
//!   keys rotated every 6 hours, a ticket valid until the key after next). Nothing is
//!   stored per client, so no number of clients evicts anyone, and every worker thread
//!   reads the same keys without writing anything shared (a read lock on a handshake, not
//!   on a request). This is what nginx does by default (`ssl_session_tickets on`).
//! * **A bounded session cache** for TLS 1.2 clients that do not take tickets (session
//!   IDs). rustls' default is 256 entries; [`SESSION_CACHE`] keeps more returning clients
//!   while bounding memory (an entry is a few hundred bytes, so about 1–2 MB when full).
//!
//! The keys live in the entry point's `ServerConfig`, built once at start: a restart
//! forgets them, and the clients' next handshake is simply a full one.

use rustls::ServerConfig;
use rustls::server::ServerSessionMemoryCache;

/// Sessions kept by ID for TLS 1.2 clients without tickets, at most; the oldest go first.
pub const SESSION_CACHE: usize = 4096;

/// Turns resumption on in `config`. Fails only if the system's random source does.
pub fn enable(entry_point: &str, config: &mut ServerConfig) -> Result<(), String> {
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| {
        format!("entry point {entry_point:?}: tls: cannot make session ticket keys: {e}")
    })?;
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn enable_turns_tickets_on() {
        let mut config = ServerConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new()));
        assert!(!config.ticketer.enabled(), "rustls' default has no tickets");
        enable("https", &mut config).unwrap();
        assert!(config.ticketer.enabled());
    }
}
