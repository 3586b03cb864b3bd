//! The REST provider (`[rest]`): `PUT /api/providers/rest` with a JSON configuration.
//! A configuration is checked the way a reload would compile it before anything
//! changes; a bad one is refused with the problems named, and the running configuration
//! stays. What was accepted is kept in an embedded store (redb), so it is restored at
//! the next start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition};
use tokio::sync::{Mutex, mpsc};
use trafik_config::Configuration;

use super::{ProviderUpdate, Snapshot, SourceMap};

pub const NAME: &str = "rest";

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("rest_provider");
const KEY: &str = "configuration";

/// The checks a configuration must pass: what compiling it alone reports.
pub type Check = dyn Fn(&Snapshot) -> Vec<String> + Send + Sync;

pub struct RestProvider {
    store: Store,
    tx: mpsc::Sender<ProviderUpdate>,
    check: Box<Check>,
    /// One PUT at a time, so the store and the live configuration agree.
    serial: Mutex<()>,
}

/// Why a PUT was refused: a message for the 400 answer.
#[derive(Debug)]
pub struct Refused(pub String);

impl RestProvider {
    /// Opens (or creates) the store; a store that cannot be opened is a startup error.
    pub fn open(
        path: &Path,
        tx: mpsc::Sender<ProviderUpdate>,
        check: Box<Check>,
    ) -> Result<Self, String> {
        Ok(RestProvider {
            store: Store::open(path)?,
            tx,
            check,
            serial: Mutex::new(()),
        })
    }

    /// Sends the stored configuration, if any, as the provider's first.
    pub async fn restore(&self) -> Result<bool, String> {
        let Some(config) = self.store.load().await? else {
            return Ok(false);
        };
        self.send(config).await;
        Ok(true)
    }

    /// Checks, stores and applies a configuration given as JSON.
    pub async fn put(&self, body: &[u8]) -> Result<Configuration, Refused> {
        let config: Configuration = serde_json::from_slice(body)
            .map_err(|e| Refused(format!("invalid configuration JSON: {e}")))?;
        let problems = (self.check)(&snapshot(config.clone()));
        if !problems.is_empty() {
            return Err(Refused(format!(
                "configuration refused, nothing was changed:\n{}",
                problems.join("\n")
            )));
        }
        let _serial = self.serial.lock().await;
        self.store
            .save(&config)
            .await
            .map_err(|e| Refused(format!("cannot store the configuration: {e}")))?;
        self.send(config.clone()).await;
        Ok(config)
    }

    async fn send(&self, config: Configuration) {
        let _ = self
            .tx
            .send(ProviderUpdate {
                provider: NAME.to_string(),
                update: Ok(snapshot(config)),
            })
            .await;
    }
}

fn snapshot(config: Configuration) -> Snapshot {
    Snapshot {
        problems: Vec::new(),
        config: std::sync::Arc::new(config),
        sources: SourceMap::single(NAME.to_string(), Default::default()),
    }
}

/// The redb file: one table, one key, the configuration as JSON.
struct Store {
    db: Arc<Database>,
    path: PathBuf,
}

impl Store {
    fn open(path: &Path) -> Result<Self, String> {
        let db =
            Database::create(path).map_err(|e| format!("[rest] store {}: {e}", path.display()))?;
        Ok(Store {
            db: Arc::new(db),
            path: path.to_path_buf(),
        })
    }

    async fn load(&self) -> Result<Option<Configuration>, String> {
        let db = self.db.clone();
        let path = self.path.clone();
        let bytes = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, String> {
            let fail = |e: &dyn std::fmt::Display| format!("[rest] store {}: {e}", path.display());
            let txn = db.begin_read().map_err(|e| fail(&e))?;
            let table = match txn.open_table(TABLE) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(fail(&e)),
            };
            Ok(table
                .get(KEY)
                .map_err(|e| fail(&e))?
                .map(|v| v.value().to_vec()))
        })
        .await
        .map_err(|e| e.to_string())??;
        match bytes {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                format!(
                    "[rest] store {}: stored configuration unreadable: {e}",
                    self.path.display()
                )
            }),
        }
    }

    async fn save(&self, config: &Configuration) -> Result<(), String> {
        let bytes = serde_json::to_vec(config).map_err(|e| e.to_string())?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(TABLE)?;
                table.insert(KEY, bytes.as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }
}
