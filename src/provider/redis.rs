//! The `[redis]` provider: v1's key layout without a leading slash, one string per key
//! (`traefik/backends/b/servers/s/url` → `http://…`). The loop, the decoding and outages
//! are `provider::kv`'s; this is the client and its change detection.
//!
//! - `list`: `SCAN MATCH <prefix>/*`, then one `MGET` of every key found. SCAN guarantees
//!   every key present for the whole scan is returned; a key written or deleted during the
//!   scan may or may not be. The MGET reads every value at one instant. A write racing the
//!   read is therefore seen now or on the re-read its notification (or the next poll) causes.
//! - `changed`: keyspace notifications on a dedicated pub/sub connection
//!   (`PSUBSCRIBE __keyspace@<db>__:<prefix>/*`). The server sends none by default: trafik
//!   adds the classes it needs to `notify-keyspace-events` with `CONFIG SET`. When the
//!   server refuses CONFIG (renamed or disabled, an ACL without `+config`), trafik says so
//!   once and polls every `pollInterval`, still listening in case the operator set the
//!   flags in the server's configuration; when it refuses `PSUBSCRIBE`, trafik polls alone.
//!   A poll that finds nothing new costs nothing downstream (the loop's fingerprint).
//! - `put` (`trafik storeconfig`): one `MSET`, atomic.

mod connect;
mod keyspace;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use ::redis::aio::{MultiplexedConnection, PubSub};
use ::redis::{AsyncConnectionConfig, RedisError};
use futures_util::StreamExt;
use trafik_config::KvProvider;

use super::kv::{Pairs, Store, StoreError};

/// How long connecting may take before the store counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one command may take (a SCAN page, the MGET).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// A quiet pub/sub connection is checked with a PING this often (a server that vanished
/// without closing the connection).
const QUIET_PING: Duration = Duration::from_secs(30);
/// Keys per SCAN page (a hint to the server).
const SCAN_COUNT: usize = 1000;
/// v1 had no polling; trafik's default when notifications cannot be had.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

pub struct RedisStore {
    client: ::redis::Client,
    endpoint: String,
    db: i64,
    poll_interval: Duration,
    /// Commands; dropped after an error so the next `list` reconnects.
    conn: Option<MultiplexedConnection>,
    /// Notifications: `None` until the first `changed`, and again after the connection is lost.
    pubsub: Option<PubSub>,
    /// The channel patterns `pubsub` is subscribed to.
    subscribed: BTreeSet<String>,
    /// The prefixes listed since the last `changed`: what it must follow.
    listed: BTreeSet<String>,
    /// The server refused CONFIG: poll, and listen in case it sends notifications anyway.
    config_refused: bool,
    /// The server refused PSUBSCRIBE: poll alone. (Each refusal is logged once.)
    subscribe_refused: bool,
    /// Keys already warned about (not strings), so a poll does not repeat the warning.
    warned: BTreeSet<String>,
}

/// Refuses a table that cannot work (a bad endpoint, unreadable TLS files).
pub fn store(table: &KvProvider, base_dir: &Path) -> Result<RedisStore, String> {
    // The rustls client the redis crate builds uses the process's provider.
    crate::tls::install_crypto_provider();
    let target = connect::target(table, base_dir)?;
    let poll_interval = match table.poll_interval {
        Some(d) if d.0.is_zero() => return Err("pollInterval must be more than 0".to_string()),
        Some(d) => d.0,
        None => DEFAULT_POLL_INTERVAL,
    };
    Ok(RedisStore {
        client: target.client,
        endpoint: target.endpoint,
        db: target.db,
        poll_interval,
        conn: None,
        pubsub: None,
        subscribed: BTreeSet::new(),
        listed: BTreeSet::new(),
        config_refused: false,
        subscribe_refused: false,
        warned: BTreeSet::new(),
    })
}

impl RedisStore {
    fn error(&self, what: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::new(format!(
            "redis {} (db {}): {what}: {e}",
            self.endpoint, self.db
        ))
    }

    async fn connection(&mut self) -> Result<MultiplexedConnection, StoreError> {
        if let Some(c) = &self.conn {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.error("connect", e))?;
        self.conn = Some(c.clone());
        Ok(c)
    }

    /// Every key under `prefix` with its value (see the module's comment for consistency).
    async fn read(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
        let mut conn = self.connection().await?;
        let keys = self.scan(&mut conn, prefix).await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = query(&mut conn, ::redis::cmd("MGET").arg(&keys))
            .await
            .map_err(|e| self.error("MGET", e))?;
        if values.len() != keys.len() {
            return Err(self.error(
                "MGET",
                format!("{} values for {} keys", values.len(), keys.len()),
            ));
        }
        let mut pairs = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (key, value) in keys.into_iter().zip(values) {
            match value {
                Some(v) => pairs.push((key, v)),
                // Deleted since the scan, or not a string: TYPE tells them apart.
                None => missing.push(key),
            }
        }
        self.warn_non_strings(&mut conn, &missing).await?;
        Ok(pairs)
    }

    async fn scan(
        &self,
        conn: &mut MultiplexedConnection,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let pattern = keyspace::scan_pattern(prefix);
        // A key may come back on more than one page: the set keeps it once.
        let mut keys = BTreeSet::new();
        let mut cursor: u64 = 0;
        loop {
            let mut cmd = ::redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let (next, page): (u64, Vec<Vec<u8>>) =
                query(conn, &cmd).await.map_err(|e| self.error("SCAN", e))?;
            for key in page {
                match String::from_utf8(key) {
                    Ok(k) => {
                        keys.insert(k);
                    }
                    Err(e) => tracing::warn!(
                        provider = "redis",
                        "key {:?} is not UTF-8: skipped",
                        String::from_utf8_lossy(e.as_bytes())
                    ),
                }
            }
            cursor = next;
            if cursor == 0 {
                return Ok(keys.into_iter().collect());
            }
        }
    }

    /// Keys MGET had no string for: a warning for each that holds another type.
    async fn warn_non_strings(
        &mut self,
        conn: &mut MultiplexedConnection,
        keys: &[String],
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut pipe = ::redis::pipe();
        for key in keys {
            pipe.cmd("TYPE").arg(key);
        }
        let types: Vec<String> = pipe
            .query_async(conn)
            .await
            .map_err(|e| self.error("TYPE", e))?;
        for (key, kind) in keys.iter().zip(types) {
            if kind != "none" && self.warned.insert(key.clone()) {
                tracing::warn!(
                    provider = "redis",
                    "key {key} holds a {kind}, not a string: skipped"
                );
            }
        }
        Ok(())
    }

    /// The pub/sub connection, after asking the server for notifications; `Ok(None)` when
    /// subscribing is refused (polling alone).
    async fn notifications(&mut self) -> Result<Option<&mut PubSub>, StoreError> {
        if self.subscribe_refused {
            return Ok(None);
        }
        if self.pubsub.is_none() {
            let mut conn = self.connection().await?;
            if !self.config_refused
                && let Err(refused) = self.enable_notifications(&mut conn).await?
            {
                self.config_refused = true;
                tracing::error!(
                    provider = "redis",
                    "redis {}: trafik may not turn keyspace notifications on ({refused}); \
                     polling every {:?}, and listening for notifications in case the server \
                     sends them: set `{}` in the server's configuration for changes to be \
                     seen at once",
                    self.endpoint,
                    self.poll_interval,
                    keyspace::ADVICE,
                );
            }
            let pubsub = timed(self.client.get_async_pubsub())
                .await
                .map_err(|e| self.error("pub/sub connect", e))?;
            self.pubsub = Some(pubsub);
            self.subscribed.clear();
        }
        Ok(self.pubsub.as_mut())
    }

    /// Adds what trafik needs to `notify-keyspace-events`. `Ok(Err(why))`: the server said
    /// no (a command error); `Err`: the connection failed.
    async fn enable_notifications(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> Result<Result<(), String>, StoreError> {
        let mut get = ::redis::cmd("CONFIG");
        get.arg("GET").arg("notify-keyspace-events");
        let current: Vec<String> = match query(conn, &get).await {
            Ok(v) => v,
            Err(e) if is_refusal(&e) => return Ok(Err(format!("CONFIG GET: {e}"))),
            Err(e) => return Err(self.error("CONFIG GET", e)),
        };
        let current = current.get(1).map(String::as_str).unwrap_or("");
        let Some(flags) = keyspace::flags_to_set(current) else {
            return Ok(Ok(()));
        };
        let mut set = ::redis::cmd("CONFIG");
        set.arg("SET").arg("notify-keyspace-events").arg(&flags);
        match query::<()>(conn, &set).await {
            Ok(()) => {
                tracing::info!(
                    provider = "redis",
                    "notify-keyspace-events set to {flags:?} on {} (was {current:?})",
                    self.endpoint
                );
                Ok(Ok(()))
            }
            Err(e) if is_refusal(&e) => Ok(Err(format!("CONFIG SET: {e}"))),
            Err(e) => Err(self.error("CONFIG SET", e)),
        }
    }

    /// Subscribes to the prefixes listed since the last call and drops the others (after an
    /// alias switch). `Ok(true)` when a subscription is new: what changed between that
    /// prefix's list and now was not notified, so the caller reads again.
    async fn follow_listed(&mut self) -> Result<bool, StoreError> {
        let db = self.db;
        let wanted: BTreeSet<String> = self
            .listed
            .iter()
            .map(|p| keyspace::channel_pattern(db, p))
            .collect();
        let new: Vec<String> = wanted.difference(&self.subscribed).cloned().collect();
        let old: Vec<String> = self.subscribed.difference(&wanted).cloned().collect();
        let Some(pubsub) = self.notifications().await? else {
            return Ok(false);
        };
        let mut outcome = Ok(());
        for pattern in &new {
            outcome = timed(pubsub.psubscribe(pattern)).await;
            if outcome.is_err() {
                break;
            }
        }
        for pattern in &old {
            if outcome.is_err() {
                break;
            }
            outcome = timed(pubsub.punsubscribe(pattern)).await;
        }
        match outcome {
            Ok(()) => {
                self.subscribed = wanted;
                Ok(!new.is_empty())
            }
            Err(e) if is_refusal(&e) => {
                self.subscribe_refused = true;
                self.pubsub = None;
                tracing::error!(
                    provider = "redis",
                    "redis {}: no keyspace notifications (PSUBSCRIBE: {e}); polling every {:?} \
                     instead: allow trafik's user PSUBSCRIBE on __keyspace@{db}__:* for \
                     changes to be seen at once",
                    self.endpoint,
                    self.poll_interval,
                );
                Ok(false)
            }
            Err(e) => {
                self.pubsub = None;
                Err(self.error("PSUBSCRIBE", e))
            }
        }
    }

    /// Waits for a notification, then takes the ones already queued with it (a burst of
    /// writes is one re-read). The stream ending, or a PING unanswered after a quiet
    /// while, means the connection is lost.
    async fn next_notification(&mut self) -> Result<(), StoreError> {
        use futures_util::FutureExt;
        let Some(pubsub) = self.pubsub.as_mut() else {
            return Err(self.error("pub/sub", "not connected"));
        };
        let lost = loop {
            let next = {
                let mut messages = pubsub.on_message();
                match tokio::time::timeout(QUIET_PING, messages.next()).await {
                    Ok(Some(_)) => {
                        while let Some(Some(_)) = messages.next().now_or_never() {}
                        Ok(true)
                    }
                    Ok(None) => Ok(false),
                    Err(_quiet) => Err(()),
                }
            };
            match next {
                Ok(true) => break None,
                Ok(false) => break Some("connection lost".to_string()),
                Err(()) => {
                    if let Err(e) = timed(pubsub.ping::<::redis::Value>()).await {
                        break Some(format!("PING: {e}"));
                    }
                }
            }
        };
        match lost {
            None => Ok(()),
            Some(why) => {
                self.pubsub = None;
                self.conn = None;
                Err(self.error("pub/sub", why))
            }
        }
    }
}

impl Store for RedisStore {
    async fn list(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
        let read = self.read(prefix).await;
        match &read {
            Ok(_) => {
                self.listed.insert(prefix.to_string());
            }
            Err(_) => {
                // Reconnect next time; the pub/sub connection is likely gone too.
                self.conn = None;
                self.pubsub = None;
            }
        }
        read
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        let followed = self.follow_listed().await;
        self.listed.clear();
        let poll = self.poll_interval;
        match followed {
            Err(e) => {
                self.conn = None;
                Err(e)
            }
            // A new subscription: read again rather than miss what came before it.
            Ok(true) => Ok(()),
            Ok(false) if self.pubsub.is_none() => {
                tokio::time::sleep(poll).await;
                Ok(())
            }
            Ok(false) if self.config_refused => {
                tokio::select! {
                    notified = self.next_notification() => notified,
                    _ = tokio::time::sleep(poll) => Ok(()),
                }
            }
            Ok(false) => self.next_notification().await,
        }
    }

    async fn put(&mut self, pairs: &Pairs) -> Result<(), StoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut conn = self.connection().await?;
        let mut mset = ::redis::cmd("MSET");
        for (k, v) in pairs {
            mset.arg(k).arg(v);
        }
        if let Err(e) = query::<()>(&mut conn, &mset).await {
            self.conn = None;
            return Err(self.error("MSET", e));
        }
        Ok(())
    }
}

/// A pub/sub call, bounded like the commands (that connection has no timeout of its own).
async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, RedisError>>,
) -> Result<T, RedisError> {
    match tokio::time::timeout(RESPONSE_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {RESPONSE_TIMEOUT:?}"),
        ))),
    }
}

/// One command on the multiplexed connection.
async fn query<T: ::redis::FromRedisValue>(
    conn: &mut MultiplexedConnection,
    cmd: &::redis::Cmd,
) -> Result<T, RedisError> {
    cmd.query_async(conn).await
}

/// The server answered but said no (an unknown or renamed command, an ACL denial): not a
/// connection failure or a passing state (loading, busy), so asking again will not help.
fn is_refusal(e: &RedisError) -> bool {
    let passing = matches!(
        e.code(),
        Some("LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN")
    );
    e.code().is_some() && !passing && !e.is_io_error() && !e.is_timeout()
}
